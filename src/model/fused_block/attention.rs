//! Causal multi-head attention and its backward pass, one (sequence, head) unit at a time, on
//! strided views of the (rows, 3d) query-key-value buffer.

use candle_core::Result;

use super::params::{BlockDims, Saved};
use crate::model::matmul::{matmul, Mat, MatMut};

/// Offsets of one (sequence, head) unit's queries, keys and values inside `qkv` (N, 3d), and of
/// its rows inside an (N, d) buffer.
struct Unit {
    q: usize,
    k: usize,
    v: usize,
    o: usize,
}

fn unit(dims: &BlockDims, u: usize) -> Unit {
    let (d, t, hd) = (dims.d, dims.t, dims.head_dim());
    let (b, h) = (u / dims.heads, u % dims.heads);
    let q = b * t * 3 * d + h * hd;
    Unit { q, k: q + d, v: q + 2 * d, o: b * t * d + h * hd }
}

/// Causal multi-head attention of `qkv` (n, 3d), whole sequences, into `out` (n, d); returns
/// the probabilities.
pub(super) fn attention(dims: &BlockDims, n: usize, qkv: &[f32], out: &mut [f32]) -> Result<Vec<f32>> {
    let (d, t, hd) = (dims.d, dims.t, dims.head_dim());
    let units = n / t * dims.heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut probs = vec![0f32; units * t * t];
    for (u, p) in probs.chunks_exact_mut(t * t).enumerate() {
        let at = unit(dims, u);
        // S = scale * Q K^T, then a causal softmax of each row in place.
        matmul(
            MatMut::rows(p, t, t)?,
            Mat::new(&qkv[at.q..], t, hd, 3 * d, 1)?,
            Mat::new(&qkv[at.k..], hd, t, 1, 3 * d)?,
            false,
            scale,
        )?;
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let (seen, hidden) = row.split_at_mut(i + 1);
            let max = seen.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0f32;
            for v in seen.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            let inv = 1.0 / sum;
            seen.iter_mut().for_each(|v| *v *= inv);
            hidden.fill(0.0);
        }
        let dst = MatMut::new(out, at.o, t, hd, d)?;
        matmul(dst, Mat::rows(p, t, t)?, Mat::new(&qkv[at.v..], t, hd, 3 * d, 1)?, false, 1.0)?;
    }
    Ok(probs)
}

/// Backward of [`attention`] for `n` rows given `datt` (n, d), from the queries, keys, values
/// and probabilities the forward pass saved: writes `dqkv` (n, 3d).
pub(super) fn attention_backward(
    dims: &BlockDims,
    n: usize,
    saved: &Saved,
    datt: &[f32],
    dqkv: &mut [f32],
) -> Result<()> {
    let (qkv, probs) = (&saved.qkv, &saved.probs);
    let (d, t, hd) = (dims.d, dims.t, dims.head_dim());
    let scale = 1.0 / (hd as f32).sqrt();
    let units = n / t * dims.heads;
    let mut ds = vec![0f32; t * t];
    for u in 0..units {
        let at = unit(dims, u);
        let p = &probs[u * t * t..(u + 1) * t * t];
        let dout = Mat::new(&datt[at.o..], t, hd, d, 1)?;
        // dP = dOut V^T, then dS = scale * P * (dP - rowsum(dP * P)) in place.
        matmul(MatMut::rows(&mut ds, t, t)?, dout, Mat::new(&qkv[at.v..], hd, t, 1, 3 * d)?, false, 1.0)?;
        for (dr, pr) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
            let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
            dr.iter_mut().zip(pr).for_each(|(g, &pv)| *g = scale * pv * (*g - dot));
        }
        let dsm = Mat::rows(&ds, t, t)?;
        matmul(MatMut::new(dqkv, at.q, t, hd, 3 * d)?, dsm, Mat::new(&qkv[at.k..], t, hd, 3 * d, 1)?, false, 1.0)?;
        matmul(MatMut::new(dqkv, at.k, t, hd, 3 * d)?, dsm.t(), Mat::new(&qkv[at.q..], t, hd, 3 * d, 1)?, false, 1.0)?;
        matmul(MatMut::new(dqkv, at.v, t, hd, 3 * d)?, Mat::rows(p, t, t)?.t(), dout, false, 1.0)?;
    }
    Ok(())
}
