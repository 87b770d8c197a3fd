//! Choosing where the model runs.

use candle_core::Device;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when compiled in and a GPU answers, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device {0:?}: expected auto, cpu, cuda or cuda:N")]
    Unknown(String),
    #[error("device {0:?} asked for, but this build has no CUDA support (rebuild with `cargo build --release --features cuda`)")]
    NoCudaSupport(String),
    #[error("cannot open CUDA device {ordinal}: {reason}")]
    Cuda { ordinal: usize, reason: String },
}

impl crate::error::Kind for DeviceError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            // A device that is not there is the user's to change, like a bad flag.
            DeviceError::Unknown(_) | DeviceError::NoCudaSupport(_) | DeviceError::Cuda { .. } => {
                crate::error::ErrorKind::Usage
            }
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| DeviceError::Unknown(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => write!(f, "auto"),
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// An opened device and how to describe it to the user.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    pub device: Device,
    pub name: String,
    /// Why `auto` fell back to the CPU, if it did.
    pub note: Option<String>,
}

impl DeviceChoice {
    pub fn open(self) -> Result<SelectedDevice, DeviceError> {
        match self {
            DeviceChoice::Cpu => Ok(cpu(None)),
            DeviceChoice::Cuda(n) => open_cuda(n).map_err(|reason| match reason {
                CudaOpen::NotCompiled => DeviceError::NoCudaSupport(self.to_string()),
                CudaOpen::Failed(reason) => DeviceError::Cuda { ordinal: n, reason },
            }),
            DeviceChoice::Auto => Ok(match open_cuda(0) {
                Ok(d) => d,
                Err(CudaOpen::NotCompiled) => cpu(None),
                Err(CudaOpen::Failed(reason)) => cpu(Some(format!("no usable GPU ({reason}); training on the CPU"))),
            }),
        }
    }
}

fn cpu(note: Option<String>) -> SelectedDevice {
    let threads = candle_core::utils::get_num_threads();
    SelectedDevice { device: Device::Cpu, name: format!("cpu ({threads} threads)"), note }
}

enum CudaOpen {
    // Only a build without CUDA lacks it.
    #[cfg_attr(feature = "cuda", allow(dead_code))]
    NotCompiled,
    // Only a CUDA build can fail to open a device.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    Failed(String),
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<SelectedDevice, CudaOpen> {
    // A driver-less machine can make the CUDA runtime panic rather than return an error.
    let opened = std::panic::catch_unwind(|| Device::new_cuda(ordinal));
    match opened {
        Ok(Ok(device)) => Ok(SelectedDevice { device, name: format!("cuda:{ordinal}"), note: None }),
        Ok(Err(e)) => Err(CudaOpen::Failed(e.to_string())),
        Err(_) => Err(CudaOpen::Failed("the CUDA runtime failed to initialise".into())),
    }
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> Result<SelectedDevice, CudaOpen> {
    Err(CudaOpen::NotCompiled)
}
