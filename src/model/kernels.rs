//! Which kernels a model runs: the fused CPU kernels, or the composed candle ops. The choice is a
//! value fixed when a layer is built (as candle's `layer_norm` and `layer_norm_slow` are two
//! functions, not a mode), so two models with different choices can live side by side.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, DType, Device, Layout, Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// Hand-written CPU kernels with their own backward passes: much faster on the CPU.
    Fused,
    /// Candle's primitive ops, differentiated by its autograd: the reference the fused kernels
    /// are tested against, and the only path on other devices.
    Composed,
}

impl Kernels {
    /// Fused on the CPU, composed elsewhere (the fused kernels have CPU code only).
    pub fn for_device(device: &Device) -> Self {
        if device.is_cpu() {
            Kernels::Fused
        } else {
            Kernels::Composed
        }
    }

    /// Whether a fused kernel runs on `x`: fused kernels were chosen and they can serve it.
    /// Anything else (an f64 model, say) takes the composed ops.
    pub fn fuse(self, x: &Tensor) -> bool {
        self == Kernels::Fused && fusable(x)
    }
}

/// Whether a fused kernel can serve `x`: the kernels are written for f32 on the CPU.
pub fn fusable(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// A custom op's input as a flat f32 slice: the fused kernels read contiguous f32 storage only.
pub fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &'static str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        (CpuStorage::F32(_), None) => candle_core::bail!("{op}: input must be contiguous"),
        _ => Err(candle_core::Error::UnsupportedDTypeForOp(s.dtype(), op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_kernels_serve_cpu_f32_only() {
        assert_eq!(Kernels::for_device(&Device::Cpu), Kernels::Fused);
        let x = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        assert!(Kernels::Fused.fuse(&x));
        assert!(!Kernels::Composed.fuse(&x));
        assert!(!Kernels::Fused.fuse(&x.to_dtype(DType::F64).unwrap()));
    }
}
