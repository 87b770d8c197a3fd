//! The inference path of pretrained models on the CPU in f32: the same blocks as the composed
//! candle ops in `ops`, written directly on flat (rows, width) buffers. Composed, a block is
//! some thirty tensor ops, most of them on one core, with the heads' transposes, the rotary
//! halves' concatenations and grouped-query attention's repeated keys as copies. Here the
//! projections are single gemm calls on all cores, queries and keys are rotated in place,
//! attention reads each head where it lies and skips what the causal mask hides, and norms and
//! activations are row-parallel loops.
//!
//! It serves reading hidden states and greedy continuation, which need no gradient. A
//! forward pass whose input is tracked by autograd (attribution) takes the composed ops, and
//! `tests/pretrained_fast.rs` checks that the two agree on every fixture.

pub mod attention;
pub mod kernels;

use candle_core::{CpuStorage, DType, Result, Storage, Tensor};
use rayon::prelude::*;

use super::config::Activation;
use super::ops::{LayerNorm, Linear, RmsNorm, RotaryTables};
use crate::model::elementwise::{layer_norm_rows, Affine};
use crate::model::matmul::{matmul_threads, Mat, MatMut};

pub use attention::{attend, Heads, Shape};

/// Rows per task of the row-parallel loops.
const ROWS: usize = 16;

/// What one forward pass's blocks share on the fast path.
pub struct FastStep {
    pub b: usize,
    pub t: usize,
    pub window: Option<usize>,
    /// cos and sin of each position, (t, dims) each, and the rotated dimensions per head.
    pub rotary: Option<(Vec<f32>, Vec<f32>, usize)>,
}

impl FastStep {
    pub fn new(b: usize, t: usize, window: Option<usize>, tables: Option<&RotaryTables>) -> Result<Self> {
        let rotary = match tables {
            Some(tables) => {
                let (cos, sin, dims) = tables.parts();
                Some((cos.flatten_all()?.to_vec1()?, sin.flatten_all()?.to_vec1()?, dims))
            }
            None => None,
        };
        Ok(FastStep { b, t, window, rotary })
    }

    pub fn rows(&self) -> usize {
        self.b * self.t
    }

    /// Rotates, in place, the first `dims` of each of `heads` heads laid out in `buf` as
    /// `layout` says, each row at its position in its sequence.
    pub fn rotate(&self, buf: &mut [f32], layout: Layout, heads: usize) {
        let Some((cos, sin, dims)) = &self.rotary else { return };
        let (dims, half, t) = (*dims, dims / 2, self.t);
        buf.par_chunks_mut(layout.row_stride * ROWS).enumerate().for_each(|(c, chunk)| {
            for (i, row) in chunk.chunks_exact_mut(layout.row_stride).enumerate() {
                let pos = (c * ROWS + i) % t;
                let (cos, sin) = (&cos[pos * dims..pos * dims + half], &sin[pos * dims..pos * dims + half]);
                for h in 0..heads {
                    let at = layout.base + h * layout.head_stride;
                    let (x1, x2) = row[at..at + dims].split_at_mut(half);
                    for j in 0..half {
                        let (a, b) = (x1[j], x2[j]);
                        x1[j] = a * cos[j] - b * sin[j];
                        x2[j] = b * cos[j] + a * sin[j];
                    }
                }
            }
        });
    }
}

/// Where heads lie in a buffer, without the buffer: see [`Heads`].
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub row_stride: usize,
    pub base: usize,
    pub head_stride: usize,
}

impl Layout {
    pub fn of(self, data: &[f32]) -> Heads<'_> {
        Heads { data, row_stride: self.row_stride, base: self.base, head_stride: self.head_stride }
    }
}

/// Runs `f` on `t`'s values as a strided (rows, cols) matrix: weights are CPU f32 tensors,
/// contiguous or a transposed view of contiguous storage.
fn with_matrix<R>(t: &Tensor, f: impl FnOnce(Mat) -> Result<R>) -> Result<R> {
    let (rows, cols) = t.dims2()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
        candle_core::bail!("fast path: weights must be f32 on the CPU, not {:?}", t.dtype());
    };
    let stride = layout.stride();
    f(Mat::new(&data[layout.start_offset()..], rows, cols, stride[0], stride[1])?)
}

/// Runs `f` on a contiguous CPU f32 vector's values.
fn with_vector<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(data)), Some((a, b))) => Ok(f(&data[a..b])),
        _ => candle_core::bail!("fast path: a parameter vector must be contiguous f32 on the CPU"),
    }
}

fn threads() -> usize {
    rayon::current_num_threads()
}

impl Linear {
    /// `x` (n, in) Wᵀ + b as a new (n, out) buffer.
    pub fn fast(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let out = self.weight_t.dim(1)?;
        let mut y = vec![0f32; n * out];
        self.fast_into(x, n, &mut y, false)?;
        Ok(y)
    }

    /// `y (n, out) [+]= x Wᵀ + b`: with `accumulate`, a residual stream gains the layer's output.
    pub fn fast_into(&self, x: &[f32], n: usize, y: &mut [f32], accumulate: bool) -> Result<()> {
        self.fast_strided_into(x, n, self.weight_t.dim(0)?, y, accumulate)
    }

    /// [`fast_into`](Self::fast_into) reading each row of `x` `row_stride` values after the last.
    pub fn fast_strided_into(
        &self,
        x: &[f32],
        n: usize,
        row_stride: usize,
        y: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let (d_in, d_out) = self.weight_t.dims2()?;
        with_matrix(&self.weight_t, |w| {
            let x = Mat::new(x, n, d_in, row_stride, 1)?;
            matmul_threads(MatMut::rows(y, n, d_out)?, x, w, accumulate, threads())
        })?;
        if let Some(bias) = &self.bias {
            with_vector(bias, |b| {
                y.par_chunks_mut(d_out * ROWS).for_each(|rows| {
                    rows.chunks_exact_mut(d_out).for_each(|r| r.iter_mut().zip(b).for_each(|(o, &b)| *o += b))
                })
            })?;
        }
        Ok(())
    }
}

impl RmsNorm {
    pub fn fast(&self, x: &[f32]) -> Result<Vec<f32>> {
        let eps = self.eps as f32;
        with_vector(&self.weight, |w| {
            let mut y = vec![0f32; x.len()];
            let d = w.len();
            y.par_chunks_mut(d * ROWS)
                .zip(x.par_chunks(d * ROWS))
                .for_each(|(y, x)| kernels::rms_norm_rows(x, w, eps, y));
            y
        })
    }
}

impl LayerNorm {
    pub fn fast(&self, x: &[f32]) -> Result<Vec<f32>> {
        let eps = self.eps as f32;
        with_vector(&self.weight, |w| {
            with_vector(&self.bias, |b| {
                let mut y = vec![0f32; x.len()];
                let d = w.len();
                y.par_chunks_mut(d * ROWS)
                    .zip(x.par_chunks(d * ROWS))
                    .for_each(|(y, x)| layer_norm_rows(x, Affine { w, b }, eps, y));
                y
            })
        })?
    }
}

/// `act(x)` in place, on all cores.
pub fn activate(act: Activation, x: &mut [f32]) {
    x.par_chunks_mut(4096).for_each(|c| kernels::activate(act, c));
}

/// Each (gate | up) row of `rows` (width 2·`i`) becomes (act(gate)·up | up), on all cores.
pub fn activate_gated_rows(act: Activation, rows: &mut [f32], i: usize) {
    rows.par_chunks_mut(2 * i * ROWS).for_each(|chunk| {
        for row in chunk.chunks_exact_mut(2 * i) {
            let (gate, up) = row.split_at_mut(i);
            kernels::activate_gated(act, gate, up);
        }
    });
}

/// `x += y`, on all cores.
pub fn add(x: &mut [f32], y: &[f32]) {
    x.par_chunks_mut(4096).zip(y.par_chunks(4096)).for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(a, &b)| *a += b));
}

/// Whether the fast path serves a forward pass from `tok`: f32 on the CPU, and no gradient
/// asked for.
pub fn serves(tok: &Tensor) -> bool {
    tok.device().is_cpu() && tok.dtype() == DType::F32 && !tok.track_op()
}
