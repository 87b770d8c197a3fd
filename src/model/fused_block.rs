//! A whole pre-LN Transformer block as one CPU custom op with a hand-written backward.
//!
//! Composed from candle ops, a block is some forty autograd nodes. Each one allocates, zeroes
//! and adds its gradient, most run on one thread, and attention's head transposes are strided
//! copies. Here the block's forward and backward are written directly as matrix products
//! (`gemm`, on strided views, so heads are never copied) and row-parallel loops. The forward
//! keeps what the backward needs in the op instance, which the autograd graph owns, so it is
//! freed with the graph.
//!
//! The composed block in `layers` stays the reference (a model built with
//! `Kernels::Composed` runs it), and `tests/fused_ops.rs` checks that the loss and every
//! parameter's gradient agree. Results do not depend on the number of threads: row chunks are
//! fixed in size and partial sums are added in a fixed order.

mod attention;
mod backward;
mod forward;
mod params;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::{Arc, Mutex};

use super::kernels::f32_slice;
use params::{BlockParams, Saved};

pub use params::BlockDims;

type Slot = Arc<Mutex<Option<Vec<Saved>>>>;

/// Runs a fused block: `x` (N, d) contiguous or not, `params` the packed parameters (see
/// [`BlockDims::param_sizes`]).
pub fn block(x: &Tensor, params: &Tensor, dims: BlockDims) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&params.contiguous()?, BlockOp { dims, saved: Arc::new(Mutex::new(None)) })
}

/// `x + attn(ln1(x))`, then `+ mlp(ln2(.))`, on (N, d) rows with all parameters packed into one
/// vector. Backward: [`BlockGradOp`].
pub struct BlockOp {
    dims: BlockDims,
    saved: Slot,
}

/// The block's gradients from (x, packed parameters, output gradient), packed as `[dx, dparams]`.
pub struct BlockGradOp {
    dims: BlockDims,
    saved: Slot,
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("fused block: saved activations lock poisoned".into())
}

impl CustomOp2 for BlockOp {
    fn name(&self) -> &'static str {
        "fused-block"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let p = f32_slice(s2, l2, self.name())?;
        self.dims.rows(x.len(), p.len(), self.name())?;
        let (out, saved) = forward::forward(&self.dims, &BlockParams::split(&self.dims, p)?, x)?;
        *self.saved.lock().map_err(|_| poisoned())? = Some(saved);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let op = BlockGradOp { dims: self.dims, saved: self.saved.clone() };
        let packed = x.apply_op3_no_bwd(params, &grad.contiguous()?, &op)?;
        let nx = x.elem_count();
        let dx = packed.narrow(0, 0, nx)?.reshape(x.shape())?;
        let dp = packed.narrow(0, nx, params.elem_count())?;
        Ok((Some(dx), Some(dp)))
    }
}

impl CustomOp3 for BlockGradOp {
    fn name(&self) -> &'static str {
        "fused-block-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let p = f32_slice(s2, l2, self.name())?;
        let dy = f32_slice(s3, l3, self.name())?;
        self.dims.rows(x.len(), p.len(), self.name())?;
        if dy.len() != x.len() {
            candle_core::bail!("{}: {} inputs but {} gradients", self.name(), x.len(), dy.len());
        }
        let guard = self.saved.lock().map_err(|_| poisoned())?;
        let Some(saved) = guard.as_ref() else {
            candle_core::bail!("{}: backward without a recorded forward pass", self.name());
        };
        let out = backward::backward(&self.dims, &BlockParams::split(&self.dims, p)?, x, dy, saved)?;
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}
