//! Element-wise and per-row kernels of the inference path: RMSNorm, the activations (gated or
//! not) and the softmax of one attention row. Each runs on the calling thread and is compiled
//! for AVX2+FMA where the CPU has them, as the training kernels are.

use crate::model::elementwise::{dispatch, gelu, lane_dot};
use crate::model::pretrained::config::Activation;

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 in two parts, so that n·ln2 is subtracted without rounding away r's low bits.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// e^x, branch-free so that loops over it vectorise (libm's expf is a call per element):
/// x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7 (relative error below
/// 2e-7 there), and 2^n put into the exponent bits. Arguments are clamped to where e^x is a
/// normal float: below -87 it gives about 1e-38 rather than 0, which no caller can tell apart.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + candle_core::cpu::erf::erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `act(x)` element-wise, in place.
pub fn activate(act: Activation, x: &mut [f32]) {
    match act {
        Activation::Silu => silu_slice(x),
        Activation::GeluTanh => gelu_tanh_slice(x),
        Activation::GeluErf => x.iter_mut().for_each(|v| *v = gelu_erf(*v)),
        Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
    }
}

/// `gate = act(gate) * up` element-wise: a gated MLP's hidden layer.
pub fn activate_gated(act: Activation, gate: &mut [f32], up: &[f32]) {
    match act {
        Activation::Silu => silu_mul_slice(gate, up),
        _ => {
            activate(act, gate);
            gate.iter_mut().zip(up).for_each(|(g, &u)| *g *= u);
        }
    }
}

#[inline(always)]
fn silu_kernel(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = silu(*v));
}

#[inline(always)]
fn gelu_tanh_kernel(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = gelu(*v));
}

#[inline(always)]
fn silu_mul_kernel(gate: &mut [f32], up: &[f32]) {
    gate.iter_mut().zip(up).for_each(|(g, &u)| *g = silu(*g) * u);
}

dispatch! {
    fn silu_slice(x: &mut [f32]) => silu_kernel
}

dispatch! {
    fn gelu_tanh_slice(x: &mut [f32]) => gelu_tanh_kernel
}

dispatch! {
    fn silu_mul_slice(gate: &mut [f32], up: &[f32]) => silu_mul_kernel
}

/// RMSNorm of the rows of `x` into `y`: `x / sqrt(mean(x²) + eps) * w`.
pub fn rms_norm_rows(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) {
    rms_norm_rows_dispatch(x, w, eps, y)
}

dispatch! {
    fn rms_norm_rows_dispatch(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) => rms_norm_rows_kernel
}

#[inline(always)]
fn rms_norm_rows_kernel(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) {
    let d = w.len();
    for (yr, xr) in y.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
        let inv = 1.0 / (lane_dot(xr, xr) / d as f32 + eps).sqrt();
        for ((o, &v), &wv) in yr.iter_mut().zip(xr).zip(w) {
            *o = v * inv * wv;
        }
    }
}

/// Softmax of one row in place.
pub fn softmax_row(row: &mut [f32]) {
    softmax_row_dispatch(row)
}

dispatch! {
    fn softmax_row_dispatch(row: &mut [f32]) => softmax_row_kernel
}

#[inline(always)]
fn softmax_row_kernel(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        for i in 0..8 {
            c[i] = exp(c[i] - max);
            acc[i] += c[i];
        }
    }
    let mut sum: f32 = 0.0;
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / (acc.iter().sum::<f32>() + sum);
    row.iter_mut().for_each(|v| *v *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_libm_over_the_range_that_matters() {
        let mut worst = 0f32;
        for i in -87_000..88_000 {
            let x = i as f32 / 1000.0;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!(exp(-1e4) < 1e-37 && exp(-1e4) >= 0.0);
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = (-400..400).map(|i| i as f32 / 40.0).collect();
        for act in [Activation::Silu, Activation::GeluTanh, Activation::GeluErf, Activation::Relu] {
            let mut got = xs.clone();
            activate(act, &mut got);
            for (&x, &g) in xs.iter().zip(&got) {
                let x64 = x as f64;
                let want = match act {
                    Activation::Silu => x64 / (1.0 + (-x64).exp()),
                    Activation::GeluTanh => {
                        0.5 * x64
                            * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x64 + 0.044715 * x64.powi(3))).tanh())
                    }
                    Activation::GeluErf => 0.5 * x64 * (1.0 + candle_core::cpu::erf::erf_f64(x64 / 2f64.sqrt())),
                    Activation::Relu => x64.max(0.0),
                };
                assert!((g as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()), "{act:?}({x}) = {g}, want {want}");
            }
        }
        let (mut gate, up) = (xs.clone(), vec![2.0; xs.len()]);
        activate_gated(Activation::Silu, &mut gate, &up);
        assert!((gate[500] - 2.0 * silu(xs[500])).abs() < 1e-7);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut row: Vec<f32> = (0..19).map(|i| (i as f32 * 0.37).sin() * 30.0).collect();
        let before = row.clone();
        softmax_row(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let max = before.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = before.iter().map(|&v| ((v - max) as f64).exp()).sum();
        for (&p, &v) in row.iter().zip(&before) {
            assert!((p as f64 - ((v - max) as f64).exp() / z).abs() < 1e-6);
        }
    }

    #[test]
    fn rms_norm_divides_by_the_root_mean_square() {
        let x: Vec<f32> = (0..20).map(|i| i as f32 - 7.0).collect();
        let w: Vec<f32> = (0..10).map(|i| 1.0 + i as f32 / 10.0).collect();
        let mut y = vec![0f32; 20];
        rms_norm_rows(&x, &w, 1e-6, &mut y);
        for r in 0..2 {
            let row = &x[r * 10..(r + 1) * 10];
            let rms = (row.iter().map(|v| v * v).sum::<f32>() / 10.0 + 1e-6).sqrt();
            for j in 0..10 {
                assert!((y[r * 10 + j] - row[j] / rms * w[j]).abs() < 1e-5);
            }
        }
    }
}
