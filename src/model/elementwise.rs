//! The element-wise and per-row kernels that the fused block and the fused LayerNorm share:
//! GELU (tanh approximation) and its derivative, and LayerNorm forward and backward over rows.
//! Each runs on the calling thread (callers split the work) and is compiled for AVX2+FMA where
//! the CPU has them.

const C: f32 = 0.797_884_6; // sqrt(2 / pi)
const K: f32 = 0.044_715;

/// A gain and a bias (of a LayerNorm or a linear layer), or their gradients.
#[derive(Debug, Clone, Copy)]
pub struct Affine<S> {
    pub w: S,
    pub b: S,
}

/// What LayerNorm's backward pass reads for some rows.
#[derive(Debug, Clone, Copy)]
pub struct NormBackward<'a> {
    /// The LayerNorm's input. Row statistics are recomputed from it: cheaper than keeping them.
    pub x: &'a [f32],
    /// The gradient of its output.
    pub dy: &'a [f32],
    pub w: &'a [f32],
    pub eps: f32,
    /// The gradient that reaches the input around the LayerNorm (a residual path): added to dx.
    pub residual: Option<&'a [f32]>,
}

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

/// GELU (tanh approximation) of one value: the element of [`gelu_slice`] and of the
/// inference path's in-place activation.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(C * (x + K * x * x * x)))
}

#[inline(always)]
fn gelu_kernel(y: &mut [f32], x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = gelu(x));
}

#[inline(always)]
fn gelu_grad_kernel(g: &mut [f32], x: &[f32]) {
    g.iter_mut().zip(x).for_each(|(g, &x)| {
        let t = tanh(C * (x + K * x * x * x));
        *g *= 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C * (1.0 + 3.0 * K * x * x);
    });
}

pub(crate) fn has_avx2() -> bool {
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
                if $crate::model::elementwise::has_avx2() {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { fast($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
}
pub(crate) use dispatch;

dispatch! {
    /// `y = gelu(x)` (tanh approximation), element-wise.
    pub fn gelu_slice(y: &mut [f32], x: &[f32]) => gelu_kernel
}

dispatch! {
    /// `g *= gelu'(x)`, element-wise.
    pub fn gelu_grad_slice(g: &mut [f32], x: &[f32]) => gelu_grad_kernel
}

/// Sum in eight lanes, so that the loop vectorises (a plain float sum is a serial chain).
#[inline(always)]
fn lane_sum(xs: &[f32]) -> f32 {
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
pub(crate) fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
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

/// Mean and reciprocal standard deviation of one row.
#[inline(always)]
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
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

/// LayerNorm of the rows of `x` into `y`: `(x - mean) / sqrt(var + eps) * w + b`.
pub fn layer_norm_rows(x: &[f32], ln: Affine<&[f32]>, eps: f32, y: &mut [f32]) {
    layer_norm_rows_dispatch(x, ln.w, ln.b, eps, y)
}

/// Backward of LayerNorm on some rows: `dx = [residual +] LN'(dy)`; adds the gain's and
/// bias's gradients into `grads`.
pub fn layer_norm_backward_rows(rows: NormBackward<'_>, dx: &mut [f32], grads: Affine<&mut [f32]>) {
    let NormBackward { x, dy, w, eps, residual } = rows;
    layer_norm_backward_rows_dispatch(dy, x, w, eps, residual, dx, grads.w, grads.b)
}

// The kernels below take every slice as an argument of its own, not inside a struct: only
// reference arguments tell LLVM that the slices do not overlap. Passed in structs, the loops
// that write `dx`, `dw` and `db` compiled to different, larger code that must allow for overlap.

dispatch! {
    fn layer_norm_rows_dispatch(x: &[f32], w: &[f32], b: &[f32], eps: f32, y: &mut [f32]) => layer_norm_rows_kernel
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

dispatch! {
    fn layer_norm_backward_rows_dispatch(
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
