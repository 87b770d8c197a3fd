//! The fused block's sizes, how its parameters are packed into one vector, and what the forward
//! pass keeps for the backward pass.

use candle_core::Result;

use crate::model::elementwise::Affine;

/// The sizes a block op needs; the batch follows from the input's rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockDims {
    pub d: usize,
    pub d_ff: usize,
    pub heads: usize,
    /// Sequence length: rows come in sequences of `t` consecutive positions.
    pub t: usize,
    pub eps: f32,
}

impl BlockDims {
    /// Element counts of the packed parameters, in packing order: ln1 (w, b), qkv (w, b),
    /// attention projection (w, b), ln2 (w, b), MLP in (w, b), MLP out (w, b). Weights are
    /// (out, in), row-major.
    pub fn param_sizes(&self) -> [usize; 12] {
        let (d, f) = (self.d, self.d_ff);
        [d, d, 3 * d * d, 3 * d, d * d, d, d, d, f * d, f, d * f, d]
    }

    /// The length of the packed parameter vector.
    pub(super) fn total(&self) -> usize {
        self.param_sizes().iter().sum()
    }

    pub(super) fn head_dim(&self) -> usize {
        self.d / self.heads
    }

    /// Rows per chunk: whole sequences, about 256 rows, so that a chunk's activations stay in
    /// the core's cache from one op to the next. Fixed, so results do not depend on the thread
    /// count.
    pub(super) fn chunk_rows(&self) -> usize {
        (256 / self.t).max(1) * self.t
    }

    /// Checks the input against the dimensions; returns the number of rows.
    pub(super) fn rows(&self, x_len: usize, p_len: usize, op: &str) -> Result<usize> {
        let BlockDims { d, heads, t, .. } = *self;
        if d == 0 || heads == 0 || d % heads != 0 || t == 0 || self.d_ff == 0 {
            candle_core::bail!("{op}: bad block dimensions {self:?}");
        }
        if x_len % (d * t) != 0 {
            candle_core::bail!("{op}: {x_len} inputs are not whole sequences of {t} rows of {d}");
        }
        if p_len != self.total() {
            candle_core::bail!("{op}: {p_len} packed parameters, expected {}", self.total());
        }
        Ok(x_len / d)
    }
}

/// The block's parameters (`S = &[f32]`) or their gradients (`S = &mut [f32]`), split out of
/// the packed vector.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockParams<S> {
    pub ln1: Affine<S>,
    pub qkv: Affine<S>,
    /// The attention output's projection.
    pub proj: Affine<S>,
    pub ln2: Affine<S>,
    /// The MLP's input and output layers.
    pub fc: Affine<S>,
    pub out: Affine<S>,
}

fn split_error(len: usize, total: usize) -> candle_core::Error {
    candle_core::Error::Msg(format!("fused block: {len} packed parameters, expected {total}"))
}

impl<S> BlockParams<S> {
    /// Builds the struct from the twelve pieces in packing order.
    fn from_pieces(pieces: [S; 12]) -> Self {
        let [ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, out_w, out_b] = pieces;
        BlockParams {
            ln1: Affine { w: ln1_w, b: ln1_b },
            qkv: Affine { w: qkv_w, b: qkv_b },
            proj: Affine { w: proj_w, b: proj_b },
            ln2: Affine { w: ln2_w, b: ln2_b },
            fc: Affine { w: fc_w, b: fc_b },
            out: Affine { w: out_w, b: out_b },
        }
    }
}

impl<'a> BlockParams<&'a [f32]> {
    pub fn split(dims: &BlockDims, mut rest: &'a [f32]) -> Result<Self> {
        if rest.len() != dims.total() {
            return Err(split_error(rest.len(), dims.total()));
        }
        let pieces = dims.param_sizes().map(|size| {
            let (head, tail) = rest.split_at(size);
            rest = tail;
            head
        });
        Ok(Self::from_pieces(pieces))
    }
}

impl<'a> BlockParams<&'a mut [f32]> {
    pub fn split_mut(dims: &BlockDims, mut rest: &'a mut [f32]) -> Result<Self> {
        if rest.len() != dims.total() {
            return Err(split_error(rest.len(), dims.total()));
        }
        let pieces = dims.param_sizes().map(|size| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(size);
            rest = tail;
            head
        });
        Ok(Self::from_pieces(pieces))
    }
}

/// What the forward pass keeps for the backward pass, for one chunk of rows.
pub(super) struct Saved {
    /// ln1's output, the qkv projection's input.
    pub a1: Vec<f32>,
    /// (rows, 3d): queries, keys and values, heads side by side.
    pub qkv: Vec<f32>,
    /// (sequences, heads, T, T) attention probabilities; zero above the diagonal.
    pub probs: Vec<f32>,
    /// (rows, d): attention output before its projection.
    pub att: Vec<f32>,
    /// (rows, d): the residual stream after attention.
    pub x1: Vec<f32>,
    pub a2: Vec<f32>,
    /// (rows, d_ff): MLP pre-activation and activation.
    pub h: Vec<f32>,
    pub g: Vec<f32>,
}
