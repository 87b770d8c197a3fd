//! Principal component analysis down to two components.
//!
//! Fit: mean and scatter matrix accumulated in f64 (the scatter through faer's
//! lower-triangular gemm, half the work of a full product), then the top two
//! eigenpairs (see `eigen.rs`). The explained-variance ratios are fractions of
//! the *total* variance (the trace), exactly what scikit-learn reports as
//! `explained_variance_ratio_`.
//!
//! Written in-house rather than taken from linfa because linfa-reduction's
//! PCA panics on real hidden states (degenerate spectra, NaN).

use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use serde::{Deserialize, Serialize};

use super::{check_finite, column_mean, eigen, rows_of, AnalysisError};

/// f64 elements per centring block (256 KiB: stays in L2).
const BLOCK_ELEMS: usize = 32 * 1024;

/// A fitted 2-component PCA basis.
///
/// `components` are unit vectors of length `d` (orthogonal to each other),
/// except in two degenerate cases where no second direction exists or none
/// carries variance:
/// * `d == 1`: the second component is the zero vector (ratio 0);
/// * zero total variance (one point, identical points): the components are
///   the first two coordinate axes and both ratios are 0, where
///   scikit-learn would report NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca2 {
    /// Per-dimension mean of the fitted points.
    pub mean: Vec<f32>,
    /// First and second principal axes.
    pub components: [Vec<f32>; 2],
    /// Variance along each component divided by the total variance, in [0, 1].
    pub explained_variance_ratio: [f64; 2],
}

impl Pca2 {
    /// Fits the basis to `n = data.len() / d` row-major points.
    ///
    /// Errors on `d == 0`, a ragged buffer, no points, or any NaN/infinite
    /// coordinate. Signs follow [`Pca2::canonicalise_signs`].
    pub fn fit(data: &[f32], d: usize) -> Result<Pca2, AnalysisError> {
        let n = rows_of(data, d)?;
        if n == 0 {
            return Err(AnalysisError::Empty);
        }
        check_finite(data, d)?;
        Self::fit_valid(data, d, &column_mean(data, d))
    }

    /// [`Pca2::fit`] for data already known to be finite, non-empty and of
    /// whole rows, with its column mean (callers that validate and average
    /// once for several analyses skip doing it again).
    pub(crate) fn fit_valid(data: &[f32], d: usize, mean: &[f64]) -> Result<Pca2, AnalysisError> {
        let n = rows_of(data, d)?;
        if n == 0 || mean.len() != d {
            return Err(AnalysisError::Empty);
        }
        // Centre before forming the scatter matrix: the alternative
        // X^T X - n mu mu^T cancels catastrophically when hidden states sit
        // far from the origin, as they usually do. Rows go through a small
        // reused f64 block rather than one n x d copy, whose fresh pages
        // would cost more than the arithmetic.
        let block_rows = (BLOCK_ELEMS / d).clamp(1, n);
        let mut block = vec![0.0f64; block_rows * d];
        let mut scatter = Mat::<f64>::zeros(d, d);
        for (b, rows) in data.chunks(block_rows * d).enumerate() {
            let m = rows.len() / d;
            for (dst, row) in block.chunks_exact_mut(d).zip(rows.chunks_exact(d)) {
                for ((o, &v), &mu) in dst.iter_mut().zip(row).zip(mean) {
                    *o = f64::from(v) - mu;
                }
            }
            let x = MatRef::from_row_major_slice(&block[..m * d], m, d);
            tri_matmul(
                scatter.as_mut(),
                BlockStructure::TriangularLower,
                if b == 0 { Accum::Replace } else { Accum::Add },
                x.transpose(),
                BlockStructure::Rectangular,
                x,
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        }
        let mut s = vec![0.0f64; d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = scatter[(i, j)];
                s[i * d + j] = v;
                s[j * d + i] = v;
            }
        }
        let total: f64 = (0..d).map(|i| s[i * d + i]).sum();
        let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();

        // Zero total variance leaves every direction equally (un)important;
        // the tiny threshold also catches variance lost to f32 rounding.
        if total <= f64::MIN_POSITIVE || !total.is_finite() {
            return Ok(Pca2 {
                mean: mean32,
                components: [axis(d, 0), axis(d, 1)],
                explained_variance_ratio: [0.0, 0.0],
            });
        }
        if d == 1 {
            return Ok(Pca2 { mean: mean32, components: [vec![1.0], vec![0.0]], explained_variance_ratio: [1.0, 0.0] });
        }
        let top = eigen::top2_symmetric(&s, d)?;
        let ratio = |v: f64| (v / total).clamp(0.0, 1.0);
        let unit = |v: &[f64]| -> Vec<f32> {
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter().map(|&x| (x / norm) as f32).collect()
        };
        let mut pca = Pca2 {
            mean: mean32,
            components: [unit(&top.vectors[0]), unit(&top.vectors[1])],
            explained_variance_ratio: [ratio(top.values[0]), ratio(top.values[1])],
        };
        pca.canonicalise_signs();
        Ok(pca)
    }

    /// Dimension of the space the basis lives in.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Coordinates of one point in the basis. Coordinates beyond `self.dim()`
    /// are ignored and missing ones count as the mean, so a wrong-length
    /// slice cannot panic; a non-finite input gives a non-finite output.
    pub fn project(&self, x: &[f32]) -> [f32; 2] {
        project_impl::<false>(self, x)
    }

    /// Projects every row of a row-major buffer of `self.dim()`-wide points
    /// (a trailing partial row is ignored).
    pub fn project_all(&self, data: &[f32]) -> Vec<[f32; 2]> {
        #[cfg(target_arch = "x86_64")]
        if super::distance::has_avx2_fma() {
            // SAFETY: AVX2 and FMA are available (checked just above), the
            // only requirement of `project_all_avx2` beyond a safe fn's.
            return unsafe { project_all_avx2(self, data) };
        }
        project_all_impl::<false>(self, data)
    }

    /// Makes the largest-magnitude coordinate of each component positive
    /// (first such coordinate on ties), so a fit without a previous
    /// checkpoint to align to is still deterministic.
    pub fn canonicalise_signs(&mut self) {
        for comp in &mut self.components {
            let mut best = 0.0f32;
            for &v in comp.iter() {
                if v.abs() > best.abs() {
                    best = v;
                }
            }
            if best < 0.0 {
                comp.iter_mut().for_each(|v| *v = -*v);
            }
        }
    }

    /// Flips each component whose dot product with the same component of
    /// `prev` is negative, so the 2-D picture does not mirror between
    /// checkpoints. Does nothing if the dimensions differ.
    pub fn align_signs(&mut self, prev: &Pca2) {
        if prev.dim() != self.dim() {
            return;
        }
        for (comp, old) in self.components.iter_mut().zip(&prev.components) {
            let dot: f64 = comp.iter().zip(old).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
            if dot < 0.0 {
                comp.iter_mut().for_each(|v| *v = -*v);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn project_all_avx2(pca: &Pca2, data: &[f32]) -> Vec<[f32; 2]> {
    project_all_impl::<true>(pca, data)
}

#[inline(always)]
fn project_all_impl<const FMA: bool>(pca: &Pca2, data: &[f32]) -> Vec<[f32; 2]> {
    let d = pca.dim();
    if d == 0 {
        return Vec::new();
    }
    // A plain loop, not `map(..).collect()`: iterator adapters are separate
    // generic functions that need not inherit the caller's target features,
    // and `mul_add` compiled without FMA becomes a slow libm call.
    let mut out = Vec::with_capacity(data.len() / d);
    for row in data.chunks_exact(d) {
        out.push(project_impl::<FMA>(pca, row));
    }
    out
}

#[inline(always)]
fn project_impl<const FMA: bool>(pca: &Pca2, x: &[f32]) -> [f32; 2] {
    // Eight partial sums per component: a single running f32 sum is a
    // serial dependency chain that runs ~8x slower on 128-wide states.
    const L: usize = 8;
    let [c0, c1] = &pca.components;
    // Lengths can only disagree for a hand-built or deserialised basis.
    let len = x.len().min(pca.mean.len()).min(c0.len()).min(c1.len());
    let (x, m, c0, c1) = (&x[..len], &pca.mean[..len], &c0[..len], &c1[..len]);
    let mut a0 = [0.0f32; L];
    let mut a1 = [0.0f32; L];
    let chunks = x.chunks_exact(L).zip(m.chunks_exact(L)).zip(c0.chunks_exact(L).zip(c1.chunks_exact(L)));
    for ((xs, ms), (p, q)) in chunks {
        for l in 0..L {
            let v = xs[l] - ms[l];
            if FMA {
                a0[l] = v.mul_add(p[l], a0[l]);
                a1[l] = v.mul_add(q[l], a1[l]);
            } else {
                a0[l] += v * p[l];
                a1[l] += v * q[l];
            }
        }
    }
    let tail = len - len % L;
    let mut out = [a0.iter().sum::<f32>(), a1.iter().sum::<f32>()];
    for i in tail..len {
        let v = x[i] - m[i];
        out[0] += v * c0[i];
        out[1] += v * c1[i];
    }
    out
}

fn axis(d: usize, i: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; d];
    if let Some(x) = v.get_mut(i) {
        *x = 1.0;
    }
    v
}
