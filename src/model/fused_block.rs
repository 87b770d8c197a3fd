//! A whole pre-LN Transformer block as one CPU custom op with a hand-written backward (issue 7).
//!
//! Composed from candle ops, a block is some forty autograd nodes. Each one allocates, zeroes
//! and adds its gradient, most run on one thread, and attention's head transposes are strided
//! copies. Here the block's forward and backward are written directly as matrix products
//! (`gemm`, on strided views, so heads are never copied) and row-parallel loops. The forward
//! keeps what the backward needs in the op instance, which the autograd graph owns, so it is
//! freed with the graph.
//!
//! The composed ops in `layers` stay the reference (a model built with `Kernels::Composed` runs
//! them), and `tests/fused_ops.rs` checks that the loss and every parameter's gradient agree.
//! Results do not depend on the number of threads: row chunks are fixed in size and partial
//! sums are added in a fixed order.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

use super::fused::{dispatch, f32_slice, gelu_grad_slice, gelu_slice, lane_dot, lane_sum, row_stats};

/// Rows per parallel task: fixed, so that reductions do not depend on the thread count.
const ROWS: usize = 64;

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

/// Offsets of each parameter in the packed parameter vector, in the order of
/// [`BlockDims::param_sizes`].
struct Offsets {
    ln1_w: usize,
    ln1_b: usize,
    qkv_w: usize,
    qkv_b: usize,
    proj_w: usize,
    proj_b: usize,
    ln2_w: usize,
    ln2_b: usize,
    fc_w: usize,
    fc_b: usize,
    out_w: usize,
    out_b: usize,
    total: usize,
}

impl BlockDims {
    /// Element counts of the packed parameters, in packing order: ln1 (w, b), qkv (w, b),
    /// attention projection (w, b), ln2 (w, b), MLP in (w, b), MLP out (w, b). Weights are
    /// (out, in), row-major.
    pub fn param_sizes(&self) -> [usize; 12] {
        let (d, f) = (self.d, self.d_ff);
        [d, d, 3 * d * d, 3 * d, d * d, d, d, d, f * d, f, d * f, d]
    }

    fn offsets(&self) -> Offsets {
        let s = self.param_sizes();
        let mut at = [0usize; 13];
        for i in 0..12 {
            at[i + 1] = at[i] + s[i];
        }
        Offsets {
            ln1_w: at[0],
            ln1_b: at[1],
            qkv_w: at[2],
            qkv_b: at[3],
            proj_w: at[4],
            proj_b: at[5],
            ln2_w: at[6],
            ln2_b: at[7],
            fc_w: at[8],
            fc_b: at[9],
            out_w: at[10],
            out_b: at[11],
            total: at[12],
        }
    }

    fn head_dim(&self) -> usize {
        self.d / self.heads
    }

    /// Checks the input against the dimensions; returns the number of rows.
    fn rows(&self, x_len: usize, p_len: usize, op: &str) -> Result<usize> {
        let BlockDims { d, heads, t, .. } = *self;
        if d == 0 || heads == 0 || d % heads != 0 || t == 0 || self.d_ff == 0 {
            candle_core::bail!("{op}: bad block dimensions {self:?}");
        }
        if x_len % (d * t) != 0 {
            candle_core::bail!("{op}: {x_len} inputs are not whole sequences of {t} rows of {d}");
        }
        if p_len != self.offsets().total {
            candle_core::bail!("{op}: {p_len} packed parameters, expected {}", self.offsets().total);
        }
        Ok(x_len / d)
    }
}

/// What the forward pass keeps for the backward pass, for one chunk of rows.
struct Saved {
    /// ln1's output, the qkv projection's input.
    a1: Vec<f32>,
    /// (rows, 3d): queries, keys and values, heads side by side.
    qkv: Vec<f32>,
    /// (sequences, heads, T, T) attention probabilities; zero above the diagonal.
    probs: Vec<f32>,
    /// (rows, d): attention output before its projection.
    att: Vec<f32>,
    /// (rows, d): the residual stream after attention.
    x1: Vec<f32>,
    a2: Vec<f32>,
    /// (rows, d_ff): MLP pre-activation and activation.
    h: Vec<f32>,
    g: Vec<f32>,
}

type Slot = Arc<Mutex<Option<Vec<Saved>>>>;

/// `x + attn(ln1(x))`, then `+ mlp(ln2(.))`, on (N, d) rows with all parameters packed into one
/// vector (see [`BlockDims::param_sizes`]). Backward: [`BlockGrad`].
pub struct Block {
    dims: BlockDims,
    saved: Slot,
}

/// The block's gradients from (x, packed parameters, output gradient), packed as `[dx, dparams]`.
pub struct BlockGrad {
    dims: BlockDims,
    saved: Slot,
}

/// Runs a fused block: `x` (N, d) contiguous or not, `params` the packed parameters.
pub fn block(x: &Tensor, params: &Tensor, dims: BlockDims) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&params.contiguous()?, Block { dims, saved: Arc::new(Mutex::new(None)) })
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("fused block: saved activations lock poisoned".into())
}

impl CustomOp2 for Block {
    fn name(&self) -> &'static str {
        "fused-block"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let p = f32_slice(s2, l2, self.name())?;
        let n = self.dims.rows(x.len(), p.len(), self.name())?;
        let (out, saved) = forward(&self.dims, n, x, p)?;
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
        let packed =
            x.apply_op3_no_bwd(params, &grad.contiguous()?, &BlockGrad { dims: self.dims, saved: self.saved.clone() })?;
        let nx = x.elem_count();
        let dx = packed.narrow(0, 0, nx)?.reshape(x.shape())?;
        let dp = packed.narrow(0, nx, params.elem_count())?;
        Ok((Some(dx), Some(dp)))
    }
}

impl CustomOp3 for BlockGrad {
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
        let n = self.dims.rows(x.len(), p.len(), self.name())?;
        if dy.len() != x.len() {
            candle_core::bail!("{}: {} inputs but {} gradients", self.name(), x.len(), dy.len());
        }
        let guard = self.saved.lock().map_err(|_| poisoned())?;
        let Some(saved) = guard.as_ref() else {
            candle_core::bail!("{}: backward without a recorded forward pass", self.name());
        };
        let out = backward(&self.dims, n, x, p, dy, saved)?;
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// Rows per chunk: whole sequences, about 256 rows, so that a chunk's activations stay in the
/// core's cache from one op to the next. Fixed, so results do not depend on the thread count.
fn chunk_rows(t: usize) -> usize {
    (256 / t).max(1) * t
}

/// The forward pass, chunk by chunk in parallel; each chunk runs the whole block on one core.
fn forward(dims: &BlockDims, n: usize, x: &[f32], p: &[f32]) -> Result<(Vec<f32>, Vec<Saved>)> {
    let d = dims.d;
    let rows = chunk_rows(dims.t);
    let mut out = vec![0f32; n * d];
    let saved = out
        .par_chunks_mut(rows * d)
        .zip(x.par_chunks(rows * d))
        .map(|(out, x)| forward_chunk(dims, x.len() / d, x, p, out))
        .collect::<Result<Vec<_>>>()?;
    Ok((out, saved))
}

fn forward_chunk(dims: &BlockDims, n: usize, x: &[f32], p: &[f32], out: &mut [f32]) -> Result<Saved> {
    let BlockDims { d, d_ff: f, eps, .. } = *dims;
    let o = dims.offsets();
    let w = |at: usize, len: usize| &p[at..at + len];

    let mut a1 = vec![0f32; n * d];
    layer_norm_rows(x, w(o.ln1_w, d), w(o.ln1_b, d), eps, &mut a1);
    let mut qkv = vec![0f32; n * 3 * d];
    linear(&mut qkv, &a1, n, d, w(o.qkv_w, 3 * d * d), w(o.qkv_b, 3 * d), None)?;
    let mut att = vec![0f32; n * d];
    let probs = attention(dims, n, &qkv, &mut att)?;
    let mut x1 = vec![0f32; n * d];
    linear(&mut x1, &att, n, d, w(o.proj_w, d * d), w(o.proj_b, d), Some(x))?;

    let mut a2 = vec![0f32; n * d];
    layer_norm_rows(&x1, w(o.ln2_w, d), w(o.ln2_b, d), eps, &mut a2);
    let mut h = vec![0f32; n * f];
    linear(&mut h, &a2, n, d, w(o.fc_w, f * d), w(o.fc_b, f), None)?;
    let mut g = vec![0f32; n * f];
    gelu_slice(&mut g, &h);
    linear(out, &g, n, f, w(o.out_w, d * f), w(o.out_b, d), Some(&x1))?;
    Ok(Saved { a1, qkv, probs, att, x1, a2, h, g })
}

/// The backward pass, chunk by chunk in parallel. Each chunk returns its input gradient rows
/// and its share of the parameter gradients; the shares are then added in chunk order.
fn backward(dims: &BlockDims, n: usize, x: &[f32], p: &[f32], dy: &[f32], saved: &[Saved]) -> Result<Vec<f32>> {
    let d = dims.d;
    let total = dims.offsets().total;
    let rows = chunk_rows(dims.t);
    if saved.len() != n.div_ceil(rows) {
        candle_core::bail!("fused block: {} saved chunks for {n} rows", saved.len());
    }
    let mut out = vec![0f32; n * d + total];
    let (dx, dp) = out.split_at_mut(n * d);
    let shares = dx
        .par_chunks_mut(rows * d)
        .zip(x.par_chunks(rows * d).zip(dy.par_chunks(rows * d)))
        .zip(saved.par_iter())
        .map(|((dx, (x, dy)), s)| backward_chunk(dims, x.len() / d, x, p, dy, s, dx))
        .collect::<Result<Vec<_>>>()?;
    dp.par_chunks_mut(1 << 12).enumerate().for_each(|(i, dst)| {
        let (at, len) = (i << 12, dst.len());
        for share in &shares {
            dst.iter_mut().zip(&share[at..at + len]).for_each(|(o, &v)| *o += v);
        }
    });
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn backward_chunk(
    dims: &BlockDims,
    n: usize,
    x: &[f32],
    p: &[f32],
    dy: &[f32],
    s: &Saved,
    dx: &mut [f32],
) -> Result<Vec<f32>> {
    let BlockDims { d, d_ff: f, eps, .. } = *dims;
    let o = dims.offsets();
    let w = |at: usize, len: usize| &p[at..at + len];

    let mut share = vec![0f32; o.total];
    // Each parameter's gradient, split off the packed share in packing order.
    let mut grads: Vec<&mut [f32]> = Vec::with_capacity(12);
    let mut rest = share.as_mut_slice();
    for size in dims.param_sizes() {
        let (head, tail) = rest.split_at_mut(size);
        grads.push(head);
        rest = tail;
    }
    let [d_ln1_w, d_ln1_b, d_qkv_w, d_qkv_b, d_proj_w, d_proj_b, d_ln2_w, d_ln2_b, d_fc_w, d_fc_b, d_out_w, d_out_b] =
        <[&mut [f32]; 12]>::try_from(grads)
            .map_err(|_| candle_core::Error::Msg("fused block: parameter split".into()))?;

    // MLP out: y = x1 + g W_out^T + b_out.
    let mut dg = vec![0f32; n * f];
    linear_backward(dy, n, d, &s.g, f, w(o.out_w, d * f), d_out_w, d_out_b, &mut dg)?;
    gelu_grad_slice(&mut dg, &s.h);
    // MLP in: h = a2 W_fc^T + b_fc.
    let mut da2 = vec![0f32; n * d];
    linear_backward(&dg, n, f, &s.a2, d, w(o.fc_w, f * d), d_fc_w, d_fc_b, &mut da2)?;
    // ln2, plus the residual path: dx1 = dy + ln2'(da2).
    let mut dx1 = vec![0f32; n * d];
    layer_norm_backward_rows(&da2, &s.x1, w(o.ln2_w, d), eps, Some(dy), &mut dx1, d_ln2_w, d_ln2_b);

    // Attention projection: x1 = x + att W_proj^T + b_proj.
    let mut datt = da2; // reuse: same shape
    linear_backward(&dx1, n, d, &s.att, d, w(o.proj_w, d * d), d_proj_w, d_proj_b, &mut datt)?;
    let mut dqkv = vec![0f32; n * 3 * d];
    attention_backward(dims, n, &s.qkv, &s.probs, &datt, &mut dqkv)?;
    // qkv = a1 W_qkv^T + b_qkv.
    let mut da1 = datt; // reuse: same shape
    linear_backward(&dqkv, n, 3 * d, &s.a1, d, w(o.qkv_w, 3 * d * d), d_qkv_w, d_qkv_b, &mut da1)?;
    // ln1, plus the residual path: dx = dx1 + ln1'(da1).
    layer_norm_backward_rows(&da1, x, w(o.ln1_w, d), eps, Some(&dx1), dx, d_ln1_w, d_ln1_b);
    Ok(share)
}

/// `dst` (n, d_out) = `x` (n, d_in) W^T + b [+ residual], W (d_out, d_in) row-major.
fn linear(
    dst: &mut [f32],
    x: &[f32],
    n: usize,
    d_in: usize,
    w: &[f32],
    b: &[f32],
    residual: Option<&[f32]>,
) -> Result<()> {
    let d_out = b.len();
    for (r, row) in dst.chunks_exact_mut(d_out).enumerate() {
        match residual {
            Some(res) => {
                row.iter_mut().zip(&res[r * d_out..(r + 1) * d_out]).zip(b).for_each(|((o, &r), &b)| *o = r + b)
            }
            None => row.copy_from_slice(b),
        }
    }
    matmul(MatMut::rows(dst, n, d_out)?, Mat::rows(x, n, d_in)?, Mat::rows(w, d_out, d_in)?.t(), true, 1.0)
}

/// Backward of [`linear`] given `dy` (n, d_out): dW = dy^T x and db = colsum(dy) into the
/// parameter gradients, and dx = dy W.
#[allow(clippy::too_many_arguments)]
fn linear_backward(
    dy: &[f32],
    n: usize,
    d_out: usize,
    x: &[f32],
    d_in: usize,
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: &mut [f32],
) -> Result<()> {
    matmul(MatMut::rows(dw, d_out, d_in)?, Mat::rows(dy, n, d_out)?.t(), Mat::rows(x, n, d_in)?, false, 1.0)?;
    for row in dy.chunks_exact(d_out) {
        db.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
    matmul(MatMut::rows(dx, n, d_in)?, Mat::rows(dy, n, d_out)?, Mat::rows(w, d_out, d_in)?, false, 1.0)
}

/// LayerNorm of the rows of `x` into `y`, `(x - mean) / sqrt(var + eps) * w + b`, in parallel.
pub(super) fn layer_norm(x: &[f32], w: &[f32], b: &[f32], eps: f32, y: &mut [f32]) {
    let d = w.len();
    y.par_chunks_mut(ROWS * d).zip(x.par_chunks(ROWS * d)).for_each(|(y, x)| layer_norm_rows(x, w, b, eps, y));
}

dispatch! {
    fn layer_norm_rows(x: &[f32], w: &[f32], b: &[f32], eps: f32, y: &mut [f32]) => layer_norm_rows_kernel
}

#[inline(always)]
fn layer_norm_rows_kernel(x: &[f32], w: &[f32], b: &[f32], eps: f32, y: &mut [f32]) {
    let d = w.len();
    for (yr, xr) in y.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
        let (mu, rs) = row_stats(xr, eps);
        for (((o, &v), &wv), &bv) in yr.iter_mut().zip(xr).zip(w).zip(b) {
            *o = (v - mu) * rs * wv + bv;
        }
    }
}

/// Backward of [`layer_norm`] given `dy`, in parallel: `dx = LN'(dy)` and the gain's and
/// bias's gradients.
pub(super) fn layer_norm_backward(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    eps: f32,
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let d = w.len();
    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(ROWS * d)
        .zip(dy.par_chunks(ROWS * d).zip(x.par_chunks(ROWS * d)))
        .map(|(dx, (dy, x))| {
            let (mut pw, mut pb) = (vec![0f32; d], vec![0f32; d]);
            layer_norm_backward_rows(dy, x, w, eps, None, dx, &mut pw, &mut pb);
            (pw, pb)
        })
        .collect();
    dw.fill(0.0);
    db.fill(0.0);
    for (pw, pb) in partial {
        dw.iter_mut().zip(pw).for_each(|(o, v)| *o += v);
        db.iter_mut().zip(pb).for_each(|(o, v)| *o += v);
    }
}

dispatch! {
    /// Backward of LayerNorm on some rows: `dx = [residual +] LN'(dy)`; adds the gain's and
    /// bias's gradients into `dw` and `db`. Row statistics are recomputed from `x`: cheaper
    /// than keeping them.
    fn layer_norm_backward_rows(
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        eps: f32,
        residual: Option<&[f32]>,
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
    ) => layer_norm_backward_rows_kernel
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn layer_norm_backward_rows_kernel(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    eps: f32,
    residual: Option<&[f32]>,
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let d = w.len();
    let (mut xhat, mut gw) = (vec![0f32; d], vec![0f32; d]);
    for (i, ((dxr, dyr), xr)) in dx.chunks_exact_mut(d).zip(dy.chunks_exact(d)).zip(x.chunks_exact(d)).enumerate() {
        let (mu, rs) = row_stats(xr, eps);
        for j in 0..d {
            xhat[j] = (xr[j] - mu) * rs;
            gw[j] = dyr[j] * w[j];
            dw[j] += dyr[j] * xhat[j];
            db[j] += dyr[j];
        }
        let m_gw = lane_sum(&gw) / d as f32;
        let m_gwx = lane_dot(&gw, &xhat) / d as f32;
        match residual {
            Some(res) => {
                let rr = &res[i * d..(i + 1) * d];
                for j in 0..d {
                    dxr[j] = rr[j] + rs * (gw[j] - m_gw - xhat[j] * m_gwx);
                }
            }
            None => {
                for j in 0..d {
                    dxr[j] = rs * (gw[j] - m_gw - xhat[j] * m_gwx);
                }
            }
        }
    }
}

/// Views of one (batch, head) unit's queries, keys and values inside `qkv` (N, 3d), of its
/// rows inside an (N, d) buffer, and of its (T, T) probabilities.
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
fn attention(dims: &BlockDims, n: usize, qkv: &[f32], out: &mut [f32]) -> Result<Vec<f32>> {
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

/// Backward of [`attention`] given `datt` (n, d): writes `dqkv` (n, 3d).
fn attention_backward(
    dims: &BlockDims,
    n: usize,
    qkv: &[f32],
    probs: &[f32],
    datt: &[f32],
    dqkv: &mut [f32],
) -> Result<()> {
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

/// A read-only strided matrix view, checked to lie inside its slice.
#[derive(Clone, Copy)]
struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

fn view_error(rows: usize, cols: usize, len: usize) -> candle_core::Error {
    candle_core::Error::Msg(format!("fused block: a {rows}x{cols} view does not fit in {len} elements"))
}

impl<'a> Mat<'a> {
    fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        if extent(rows, cols, rs, cs) > data.len() {
            return Err(view_error(rows, cols, data.len()));
        }
        Ok(Mat { data, rows, cols, rs, cs })
    }

    /// A dense row-major (rows, cols) matrix.
    fn rows(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    fn t(self) -> Self {
        Mat { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
}

/// A writable strided matrix view.
struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: usize,
    _life: std::marker::PhantomData<&'a mut [f32]>,
}

impl<'a> MatMut<'a> {
    fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        if rows * cols > data.len() {
            return Err(view_error(rows, cols, data.len()));
        }
        Ok(MatMut { ptr: data.as_mut_ptr(), rows, cols, rs: cols, _life: std::marker::PhantomData })
    }

    /// A (rows, cols) view with row stride `rs`, `offset` elements into `data`.
    fn new(data: &'a mut [f32], offset: usize, rows: usize, cols: usize, rs: usize) -> Result<Self> {
        if offset + extent(rows, cols, rs, 1) > data.len() {
            return Err(view_error(rows, cols, data.len().saturating_sub(offset)));
        }
        Ok(MatMut { ptr: data[offset..].as_mut_ptr(), rows, cols, rs, _life: std::marker::PhantomData })
    }
}

/// `dst = [dst +] scale * lhs rhs`, on the calling thread: callers parallelise over chunks.
fn matmul(dst: MatMut, lhs: Mat, rhs: Mat, accumulate: bool, scale: f32) -> Result<()> {
    if lhs.rows != dst.rows || rhs.cols != dst.cols || lhs.cols != rhs.rows {
        candle_core::bail!(
            "fused block: ({}x{}) = ({}x{}) ({}x{}) does not multiply",
            dst.rows,
            dst.cols,
            lhs.rows,
            lhs.cols,
            rhs.rows,
            rhs.cols
        );
    }
    // SAFETY: every view was checked to lie inside its buffer; `dst` comes from a `&mut`
    // borrow, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.ptr,
            1,
            dst.rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
    Ok(())
}
