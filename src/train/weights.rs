//! A checkpoint's saved tensors (weights, optimizer moments) read back: the file checked
//! against the checksum its manifest records, every value finite, every tensor the model needs
//! there with its shape. A flipped bit or a NaN is refused with the file and the tensor named
//! instead of being trained on or probed with.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, Kind};
use crate::session::reader::read_checkpoint_file;
use crate::session::{Manifest, SessionError};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// Not a regular file, unreadable, or not what was written (checksum).
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{}: not a safetensors file ({source}); the checkpoint is damaged", file.display())]
    Format { file: PathBuf, source: Box<candle_core::Error> },
    #[error("{}: tensor {name} has non-finite values ({what}); the checkpoint is damaged", file.display())]
    NonFinite { file: PathBuf, name: String, what: &'static str },
    #[error("{}: no tensor {name}, which the model needs; the checkpoint is damaged", file.display())]
    Missing { file: PathBuf, name: String },
    #[error("{}: tensor {name} has shape {found:?}, the model expects {expected:?}; the checkpoint is damaged", file.display())]
    Shape { file: PathBuf, name: String, found: Vec<usize>, expected: Vec<usize> },
    /// The model library failed on values that passed every check.
    #[error("{}: cannot load {name}: {source}", file.display())]
    Load { file: PathBuf, name: String, source: Box<candle_core::Error> },
}

impl Kind for WeightsError {
    fn kind(&self) -> ErrorKind {
        match self {
            WeightsError::Session(e) => e.kind(),
            WeightsError::Load { .. } => ErrorKind::Internal,
            _ => ErrorKind::BadData,
        }
    }
}

/// The tensors of one checkpoint file, checked.
#[derive(Debug)]
pub struct SavedTensors {
    pub file: PathBuf,
    pub tensors: HashMap<String, Tensor>,
}

impl SavedTensors {
    /// Checkpoint `step`'s file `name` in the session at `root`, onto `device`.
    pub fn read(
        root: &Path,
        manifest: &Manifest,
        step: usize,
        name: &str,
        device: &Device,
    ) -> Result<SavedTensors, WeightsError> {
        let (file, bytes) = read_checkpoint_file(root, manifest, step, name)?;
        SavedTensors::from_bytes(file, &bytes, device)
    }

    /// Tensors from the bytes of a safetensors `file`, each checked to be finite.
    pub fn from_bytes(file: PathBuf, bytes: &[u8], device: &Device) -> Result<SavedTensors, WeightsError> {
        let tensors = match candle_core::safetensors::load_buffer(bytes, device) {
            Ok(t) => t,
            Err(source) => return Err(WeightsError::Format { file, source: Box::new(source) }),
        };
        let mut names: Vec<&String> = tensors.keys().collect();
        // Sorted, so the tensor named is the same on every run.
        names.sort();
        for name in names {
            if let Some(what) = non_finite(&tensors[name])
                .map_err(|source| WeightsError::Format { file: file.clone(), source: Box::new(source) })?
            {
                return Err(WeightsError::NonFinite { file, name: name.clone(), what });
            }
        }
        Ok(SavedTensors { file, tensors })
    }

    /// The tensor `name` with the shape `expected`.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<&Tensor, WeightsError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::Missing { file: self.file.clone(), name: name.to_string() })?;
        if t.dims() != expected {
            return Err(WeightsError::Shape {
                file: self.file.clone(),
                name: name.to_string(),
                found: t.dims().to_vec(),
                expected: expected.to_vec(),
            });
        }
        Ok(t)
    }

    /// Sets every variable of `varmap` to its saved value. Saved tensors the model has no
    /// variable for are ignored, as `VarMap::load` does.
    pub fn load_into(&self, varmap: &VarMap) -> Result<(), WeightsError> {
        let vars = varmap.data().lock().map_err(|_| WeightsError::Load {
            file: self.file.clone(),
            name: "the model's variables".into(),
            source: Box::new(candle_core::Error::Msg("a thread panicked while holding them".into())),
        })?;
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let saved = self.get(name, var.dims())?;
            let load =
                |source| WeightsError::Load { file: self.file.clone(), name: name.clone(), source: Box::new(source) };
            var.set(&saved.to_dtype(var.dtype()).map_err(load)?).map_err(load)?;
        }
        Ok(())
    }
}

/// "NaN" or "infinite" when `t` holds such a value; integer tensors hold neither.
fn non_finite(t: &Tensor) -> candle_core::Result<Option<&'static str>> {
    if !t.dtype().is_float() {
        return Ok(None);
    }
    let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(if values.iter().any(|v| v.is_nan()) {
        Some("NaN")
    } else if values.iter().any(|v| v.is_infinite()) {
        Some("infinite")
    } else {
        None
    })
}
