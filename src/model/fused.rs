//! The element-wise kernels the fused block runs (GELU, LayerNorm row statistics, compiled for
//! AVX2+FMA where the CPU has them), and the fused LayerNorm op for the final LayerNorm. The
//! composed-op versions in `layers` stay as the reference (and the path on other devices); a
//! model built with `Kernels::Composed` runs them, for the equivalence test.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout, Result, Shape, Tensor};

const C: f32 = 0.797_884_6; // sqrt(2 / pi)
const K: f32 = 0.044_715;

/// tanh as a rational function (Eigen's float approximation: a few ulp on [-7.9, 7.9]), and
/// exactly +-1 past 9 so that GELU's negative tail reaches 0. Branch-free, so loops over it
/// vectorise: libm's tanhf, then a scalar exp, were each a tenth of a training step.
#[inline(always)]
fn tanh(u: f32) -> f32 {
    let x = u.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p + -8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    let t = p / q;
    if u.abs() >= 9.0 {
        1f32.copysign(u)
    } else {
        t
    }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(C * (x + K * x * x * x)))
}

#[inline(always)]
fn gelu_grad(x: f32) -> f32 {
    let t = tanh(C * (x + K * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C * (1.0 + 3.0 * K * x * x)
}

#[inline(always)]
fn gelu_kernel(y: &mut [f32], x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = gelu(x));
}

#[inline(always)]
fn gelu_grad_kernel(g: &mut [f32], x: &[f32]) {
    g.iter_mut().zip(x).for_each(|(g, &x)| *g *= gelu_grad(x));
}

pub(super) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines a function that runs `$kernel` (an `#[inline(always)]` function) compiled for AVX2
/// and FMA where the CPU has them: the default x86-64 target has neither, and the kernels'
/// loops are written to vectorise. Elsewhere the same kernel runs as compiled.
macro_rules! dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $kernel:path) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn fast($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                if $crate::model::fused::has_avx2() {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { fast($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
}
pub(super) use dispatch;

dispatch! {
    /// `y = gelu(x)` (tanh approximation), element-wise, on one thread (callers split the work).
    pub fn gelu_slice(y: &mut [f32], x: &[f32]) => gelu_kernel
}

dispatch! {
    /// `g *= gelu'(x)`, element-wise, on one thread.
    pub fn gelu_grad_slice(g: &mut [f32], x: &[f32]) => gelu_grad_kernel
}

/// Sum in eight lanes, so that the loop vectorises (a plain float sum is a serial chain).
#[inline(always)]
pub(super) fn lane_sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Dot product in eight lanes, like [`lane_sum`].
#[inline(always)]
pub(super) fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

pub(super) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &'static str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        (CpuStorage::F32(_), None) => candle_core::bail!("{op}: input must be contiguous"),
        _ => Err(candle_core::Error::UnsupportedDTypeForOp(s.dtype(), op)),
    }
}

/// LayerNorm over the last dimension with gain and bias, `(x - mean) / sqrt(var + eps) * w + b`,
/// in one pass; backward in one more ([`LayerNormGrad`]) instead of some twenty composed ops.
pub struct LayerNorm {
    pub eps: f32,
}

/// Mean and reciprocal standard deviation of one row.
#[inline(always)]
pub(super) fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row) / n;
    let mut acc = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + rest) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

fn ln_dims(l: &Layout, d: usize, op: &str) -> Result<()> {
    if l.shape().dims().last() != Some(&d) || d == 0 {
        candle_core::bail!("{op}: last dimension of {:?} must be {d}", l.shape().dims());
    }
    Ok(())
}

impl candle_core::CustomOp3 for LayerNorm {
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
        super::fused_block::layer_norm(x, w, b, self.eps, &mut y);
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
            &LayerNormGrad { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, n)?.reshape(x.shape())?;
        let dw = packed.narrow(0, n, d)?.reshape(w.shape())?;
        let db = packed.narrow(0, n + d, d)?.reshape(w.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// Gradients of [`LayerNorm`] from (x, w, dy), packed flat as `[dx, dw, db]`.
pub struct LayerNormGrad {
    pub eps: f32,
}

impl candle_core::CustomOp3 for LayerNormGrad {
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
        super::fused_block::layer_norm_backward(g, x, w, self.eps, dx, dw, db);
        Ok((CpuStorage::F32(out), Shape::from(n + 2 * d)))
    }
}

pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(w, b, LayerNorm { eps })
}
