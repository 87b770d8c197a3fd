//! The fused block's forward pass: `x + attn(ln1(x))`, then `+ mlp(ln2(.))`, chunk by chunk in
//! parallel, each chunk through the whole block on one core.

use candle_core::Result;
use rayon::prelude::*;

use super::attention::attention;
use super::params::{BlockDims, BlockParams, Saved};
use crate::model::elementwise::{gelu_slice, layer_norm_rows, Affine};
use crate::model::matmul::{matmul, Mat, MatMut};

/// The block's output for the rows of `x`, and what each chunk keeps for the backward pass.
pub(super) fn forward(dims: &BlockDims, p: &BlockParams<&[f32]>, x: &[f32]) -> Result<(Vec<f32>, Vec<Saved>)> {
    let d = dims.d;
    let rows = dims.chunk_rows();
    let mut out = vec![0f32; x.len()];
    let saved = out
        .par_chunks_mut(rows * d)
        .zip(x.par_chunks(rows * d))
        .map(|(out, x)| forward_chunk(dims, p, x, out))
        .collect::<Result<Vec<_>>>()?;
    Ok((out, saved))
}

fn forward_chunk(dims: &BlockDims, p: &BlockParams<&[f32]>, x: &[f32], out: &mut [f32]) -> Result<Saved> {
    let BlockDims { d, d_ff: f, eps, .. } = *dims;
    let n = x.len() / d;

    let mut a1 = vec![0f32; n * d];
    layer_norm_rows(x, p.ln1, eps, &mut a1);
    let mut qkv = vec![0f32; n * 3 * d];
    linear(&mut qkv, Mat::rows(&a1, n, d)?, p.qkv, None)?;
    let mut att = vec![0f32; n * d];
    let probs = attention(dims, n, &qkv, &mut att)?;
    let mut x1 = vec![0f32; n * d];
    linear(&mut x1, Mat::rows(&att, n, d)?, p.proj, Some(x))?;

    let mut a2 = vec![0f32; n * d];
    layer_norm_rows(&x1, p.ln2, eps, &mut a2);
    let mut h = vec![0f32; n * f];
    linear(&mut h, Mat::rows(&a2, n, d)?, p.fc, None)?;
    let mut g = vec![0f32; n * f];
    gelu_slice(&mut g, &h);
    linear(out, Mat::rows(&g, n, f)?, p.out, Some(&x1))?;
    Ok(Saved { a1, qkv, probs, att, x1, a2, h, g })
}

/// `dst` (n, d_out) = `x` (n, d_in) W^T + b [+ residual], W (d_out, d_in) row-major.
fn linear(dst: &mut [f32], x: Mat, layer: Affine<&[f32]>, residual: Option<&[f32]>) -> Result<()> {
    let d_out = layer.b.len();
    for (r, row) in dst.chunks_exact_mut(d_out).enumerate() {
        match residual {
            Some(res) => {
                row.iter_mut().zip(&res[r * d_out..(r + 1) * d_out]).zip(layer.b).for_each(|((o, &r), &b)| *o = r + b)
            }
            None => row.copy_from_slice(layer.b),
        }
    }
    matmul(MatMut::rows(dst, x.rows, d_out)?, x, Mat::rows(layer.w, d_out, x.cols)?.t(), true, 1.0)
}
