//! Causal attention of the inference path, on (rows, width) buffers where each head's queries,
//! keys and values lie at a fixed column offset: Llama's separate q, k, v projections, GPT-2's
//! `[q | k | v]` and GPT-NeoX's head-by-head `[q k v]` are three layouts of the same views.
//! Work is split into blocks of query rows of one head of one sequence; a block reads only
//! the keys it may see (causal, and within a sliding window), so the upper triangle is never
//! computed.

use candle_core::Result;
use rayon::prelude::*;

use super::kernels::softmax_row;
use crate::model::matmul::{matmul, Mat, MatMut};

/// Query rows per unit of work: small enough to spread a short batch over the cores, large
/// enough that each product is worth a gemm call.
const BLOCK: usize = 64;

/// Where head `h`'s vectors lie in a (rows, `row_stride`) buffer: columns
/// `base + h * head_stride ..` for `head_dim` columns.
#[derive(Debug, Clone, Copy)]
pub struct Heads<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub base: usize,
    pub head_stride: usize,
}

impl<'a> Heads<'a> {
    /// A (rows, head_dim) view of head `h` of rows `start..start + rows`.
    fn view(&self, h: usize, start: usize, rows: usize, head_dim: usize) -> Result<Mat<'a>> {
        let at = start * self.row_stride + self.base + h * self.head_stride;
        Mat::new(&self.data[at.min(self.data.len())..], rows, head_dim, self.row_stride, 1)
    }
}

/// The shape of one attention: `heads` query heads over `kv_heads` key-value heads (each
/// serving heads/kv_heads query heads), sequences of `t` tokens.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub batch: usize,
    pub t: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub window: Option<usize>,
    pub scale: f32,
}

/// softmax(scale q kᵀ + causal mask) v for every head of every sequence: (batch·t,
/// heads·head_dim) rows, heads side by side.
pub fn attend(shape: Shape, q: Heads, k: Heads, v: Heads) -> Result<Vec<f32>> {
    let Shape { batch, t, heads, kv_heads, head_dim: hd, .. } = shape;
    if kv_heads == 0 || heads % kv_heads != 0 {
        candle_core::bail!("attention: {heads} query heads do not share {kv_heads} key-value heads evenly");
    }
    let blocks = t.div_ceil(BLOCK);
    let units: Vec<(usize, usize, usize)> =
        (0..batch).flat_map(|b| (0..heads).flat_map(move |h| (0..blocks).map(move |blk| (b, h, blk)))).collect();
    let parts =
        units.par_iter().map(|&(b, h, blk)| unit(shape, q, k, v, b, h, blk)).collect::<Result<Vec<Vec<f32>>>>()?;
    let width = heads * hd;
    let mut out = vec![0f32; batch * t * width];
    for (&(b, h, blk), part) in units.iter().zip(&parts) {
        let r0 = blk * BLOCK;
        for (i, row) in part.chunks_exact(hd).enumerate() {
            let at = (b * t + r0 + i) * width + h * hd;
            out[at..at + hd].copy_from_slice(row);
        }
    }
    Ok(out)
}

/// Query rows `blk·BLOCK..` of head `h` of sequence `b`: (rows, head_dim).
fn unit(shape: Shape, q: Heads, k: Heads, v: Heads, b: usize, h: usize, blk: usize) -> Result<Vec<f32>> {
    let Shape { t, heads, kv_heads, head_dim: hd, window, scale, .. } = shape;
    let kvh = h / (heads / kv_heads);
    let r0 = blk * BLOCK;
    let r1 = (r0 + BLOCK).min(t);
    let rows = r1 - r0;
    // Keys visible to some row of the block: up to its last row, back to the window of its first.
    let k0 = window.map_or(0, |w| (r0 + 1).saturating_sub(w));
    let keys = r1 - k0;
    let seq = b * t;
    let mut scores = vec![0f32; rows * keys];
    matmul(
        MatMut::rows(&mut scores, rows, keys)?,
        q.view(h, seq + r0, rows, hd)?,
        k.view(kvh, seq + k0, keys, hd)?.t(),
        false,
        scale,
    )?;
    for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
        let pos = r0 + i;
        let first = window.map_or(0, |w| (pos + 1).saturating_sub(w)) - k0;
        let last = pos - k0; // inclusive
        row[..first].fill(0.0);
        softmax_row(&mut row[first..=last]);
        row[last + 1..].fill(0.0);
    }
    let mut out = vec![0f32; rows * hd];
    matmul(
        MatMut::rows(&mut out, rows, hd)?,
        Mat::rows(&scores, rows, keys)?,
        v.view(kvh, seq + k0, keys, hd)?,
        false,
        1.0,
    )?;
    Ok(out)
}
