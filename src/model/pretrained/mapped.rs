//! Memory-mapped weight files that give their pages back once read. Candle copies each tensor
//! out of the mapping (into f32, or onto the device); the mapped pages it read would otherwise
//! stay in the process's resident set until the model is dropped, so loading a model cost
//! twice its size in memory. After each copy the pages are released with `MADV_DONTNEED`: the
//! mapping is read-only and backed by the file, so a later read of them (nothing reads them
//! twice) faults the same bytes back in from the page cache.

use candle_core::safetensors::{Load, MmapedSafetensors};
use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::Init;

pub struct Released(pub MmapedSafetensors);

impl Released {
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        let view = self.0.get(name)?;
        let tensor = view.load(dev)?.to_dtype(dtype)?;
        release(view.data());
        Ok(tensor)
    }
}

/// Drops the whole pages inside `bytes` from the resident set.
fn release(bytes: &[u8]) {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as usize,
            _ => return,
        };
        let start = bytes.as_ptr() as usize;
        let first = start.div_ceil(page) * page;
        let end = (start + bytes.len()) / page * page;
        if end > first {
            // SAFETY: [first, end) lies inside `bytes`, part of a private read-only file mapping:
            // MADV_DONTNEED only drops its resident pages, and the next read of them faults in
            // the file's unchanged bytes. A failure leaves the pages resident, which is harmless.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_DONTNEED);
            }
        }
    }
}

impl SimpleBackend for Released {
    fn get(&self, s: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let tensor = self.load(name, dtype, dev)?;
        if tensor.shape() != &s {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: tensor.shape().clone(),
            });
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.load(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.get(name).is_ok()
    }
}
