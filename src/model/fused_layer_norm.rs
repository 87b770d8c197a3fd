//! LayerNorm over the last dimension as one CPU custom op with a hand-written backward: one
//! pass forward and one back, instead of some twenty composed ops and their autograd nodes.
//! The model's final LayerNorm runs it; the blocks' LayerNorms run inside the fused block.
//! Results do not depend on the number of threads: row chunks are fixed in size and partial
//! sums are added in a fixed order.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::elementwise::{layer_norm_backward_rows, layer_norm_rows, Affine, NormBackward};
use super::kernels::f32_slice;

/// Rows per parallel task: fixed, so that reductions do not depend on the thread count.
const ROWS: usize = 64;

/// `(x - mean) / sqrt(var + eps) * w + b` over the last dimension of `x`, fused.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(w, b, LayerNormOp { eps })
}

/// The forward op, on (x, gain, bias). Backward: [`LayerNormGradOp`].
pub struct LayerNormOp {
    pub eps: f32,
}

/// Gradients of [`LayerNormOp`] from (x, gain, dy), packed flat as `[dx, dw, db]`.
pub struct LayerNormGradOp {
    pub eps: f32,
}

fn ln_dims(l: &Layout, d: usize, op: &str) -> Result<()> {
    if l.shape().dims().last() != Some(&d) || d == 0 {
        candle_core::bail!("{op}: last dimension of {:?} must be {d}", l.shape().dims());
    }
    Ok(())
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
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
        let (x, w, b) =
            (f32_slice(s1, l1, self.name())?, f32_slice(s2, l2, self.name())?, f32_slice(s3, l3, self.name())?);
        let d = w.len();
        ln_dims(l1, d, self.name())?;
        if b.len() != d {
            candle_core::bail!("{}: gain has {d} entries, bias {}", self.name(), b.len());
        }
        let mut y = vec![0f32; x.len()];
        let ln = Affine { w, b };
        y.par_chunks_mut(ROWS * d).zip(x.par_chunks(ROWS * d)).for_each(|(y, x)| layer_norm_rows(x, ln, self.eps, y));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = w.elem_count();
        let n = x.elem_count();
        let packed = x.contiguous()?.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &LayerNormGradOp { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, n)?.reshape(x.shape())?;
        let dw = packed.narrow(0, n, d)?.reshape(w.shape())?;
        let db = packed.narrow(0, n + d, d)?.reshape(w.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

impl CustomOp3 for LayerNormGradOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm-grad"
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
        let (x, w, g) =
            (f32_slice(s1, l1, self.name())?, f32_slice(s2, l2, self.name())?, f32_slice(s3, l3, self.name())?);
        let d = w.len();
        ln_dims(l1, d, self.name())?;
        if g.len() != x.len() {
            candle_core::bail!("{}: {} inputs but {} gradients", self.name(), x.len(), g.len());
        }
        let n = x.len();
        let mut out = vec![0f32; n + 2 * d];
        let (dx, rest) = out.split_at_mut(n);
        let (dw, db) = rest.split_at_mut(d);
        // Each chunk's share of the gain's and bias's gradients, added in chunk order.
        let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(ROWS * d)
            .zip(g.par_chunks(ROWS * d).zip(x.par_chunks(ROWS * d)))
            .map(|(dx, (dy, x))| {
                let (mut pw, mut pb) = (vec![0f32; d], vec![0f32; d]);
                let rows = NormBackward { x, dy, w, eps: self.eps, residual: None };
                layer_norm_backward_rows(rows, dx, Affine { w: &mut pw, b: &mut pb });
                (pw, pb)
            })
            .collect();
        for (pw, pb) in partial {
            dw.iter_mut().zip(pw).for_each(|(o, v)| *o += v);
            db.iter_mut().zip(pb).for_each(|(o, v)| *o += v);
        }
        Ok((CpuStorage::F32(out), Shape::from(n + 2 * d)))
    }
}
