//! The fused block's backward pass, chunk by chunk in parallel: each chunk returns its input
//! gradient rows and its share of the parameter gradients, and the shares are then added in
//! chunk order, so the result does not depend on the thread count.

use candle_core::Result;
use rayon::prelude::*;

use super::attention::attention_backward;
use super::params::{BlockDims, BlockParams, Saved};
use crate::model::elementwise::{gelu_grad_slice, layer_norm_backward_rows, Affine, NormBackward};
use crate::model::matmul::{matmul, Mat, MatMut};

/// One chunk of rows as the backward pass reads it.
#[derive(Clone, Copy)]
struct Chunk<'a> {
    /// The block's input rows.
    x: &'a [f32],
    /// The gradient of the block's output rows.
    dy: &'a [f32],
    saved: &'a Saved,
}

/// The gradients packed as `[dx, dparams]`, for the rows of `x` given `dy` and what the forward
/// pass saved for each chunk.
pub(super) fn backward(
    dims: &BlockDims,
    p: &BlockParams<&[f32]>,
    x: &[f32],
    dy: &[f32],
    saved: &[Saved],
) -> Result<Vec<f32>> {
    let d = dims.d;
    let n = x.len() / d;
    let total = dims.total();
    let rows = dims.chunk_rows();
    if saved.len() != n.div_ceil(rows) {
        candle_core::bail!("fused block: {} saved chunks for {n} rows", saved.len());
    }
    let mut out = vec![0f32; n * d + total];
    let (dx, dp) = out.split_at_mut(n * d);
    let shares = dx
        .par_chunks_mut(rows * d)
        .zip(x.par_chunks(rows * d).zip(dy.par_chunks(rows * d)))
        .zip(saved.par_iter())
        .map(|((dx, (x, dy)), saved)| backward_chunk(dims, p, Chunk { x, dy, saved }, dx))
        .collect::<Result<Vec<_>>>()?;
    dp.par_chunks_mut(1 << 12).enumerate().for_each(|(i, dst)| {
        let (at, len) = (i << 12, dst.len());
        for share in &shares {
            dst.iter_mut().zip(&share[at..at + len]).for_each(|(o, &v)| *o += v);
        }
    });
    Ok(out)
}

/// Writes the chunk's input gradient into `dx`; returns its share of the packed parameter
/// gradients.
fn backward_chunk(dims: &BlockDims, p: &BlockParams<&[f32]>, c: Chunk, dx: &mut [f32]) -> Result<Vec<f32>> {
    let BlockDims { d, d_ff: f, eps, .. } = *dims;
    let Chunk { x, dy, saved: s } = c;
    let n = x.len() / d;

    let mut share = vec![0f32; dims.total()];
    let g = BlockParams::split_mut(dims, &mut share)?;

    // MLP out: y = x1 + g W_out^T + b_out.
    let mut dg = vec![0f32; n * f];
    linear_backward(dy, Mat::rows(&s.g, n, f)?, p.out.w, g.out, &mut dg)?;
    gelu_grad_slice(&mut dg, &s.h);
    // MLP in: h = a2 W_fc^T + b_fc.
    let mut da2 = vec![0f32; n * d];
    linear_backward(&dg, Mat::rows(&s.a2, n, d)?, p.fc.w, g.fc, &mut da2)?;
    // ln2, plus the residual path: dx1 = dy + ln2'(da2).
    let mut dx1 = vec![0f32; n * d];
    let ln2 = NormBackward { x: &s.x1, dy: &da2, w: p.ln2.w, eps, residual: Some(dy) };
    layer_norm_backward_rows(ln2, &mut dx1, g.ln2);

    // Attention projection: x1 = x + att W_proj^T + b_proj.
    let mut datt = da2; // reuse: same shape
    linear_backward(&dx1, Mat::rows(&s.att, n, d)?, p.proj.w, g.proj, &mut datt)?;
    let mut dqkv = vec![0f32; n * 3 * d];
    attention_backward(dims, n, s, &datt, &mut dqkv)?;
    // qkv = a1 W_qkv^T + b_qkv.
    let mut da1 = datt; // reuse: same shape
    linear_backward(&dqkv, Mat::rows(&s.a1, n, d)?, p.qkv.w, g.qkv, &mut da1)?;
    // ln1, plus the residual path: dx = dx1 + ln1'(da1).
    let ln1 = NormBackward { x, dy: &da1, w: p.ln1.w, eps, residual: Some(&dx1) };
    layer_norm_backward_rows(ln1, dx, g.ln1);
    Ok(share)
}

/// Backward of a linear layer `y = x W^T + b` given `dy` (n, d_out) and its input `x`
/// (n, d_in): writes dW = dy^T x and adds db = colsum(dy) into `grads`, and writes dx = dy W.
fn linear_backward(dy: &[f32], x: Mat, w: &[f32], grads: Affine<&mut [f32]>, dx: &mut [f32]) -> Result<()> {
    let (n, d_out, d_in) = (x.rows, grads.b.len(), x.cols);
    matmul(MatMut::rows(grads.w, d_out, d_in)?, Mat::rows(dy, n, d_out)?.t(), x, false, 1.0)?;
    add_column_sums(grads.b, dy);
    matmul(MatMut::rows(dx, n, d_in)?, Mat::rows(dy, n, d_out)?, Mat::rows(w, d_out, d_in)?, false, 1.0)
}

/// `db += colsum(dy)` for `dy` (n, db.len()). A function of its own so that `db` is a reference
/// argument: LLVM then knows it does not overlap `dy` (a struct field would not say so).
fn add_column_sums(db: &mut [f32], dy: &[f32]) {
    for row in dy.chunks_exact(db.len()) {
        db.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
}
