//! The top principal directions of a point set by randomized subspace iteration (Halko,
//! Martinsson & Tropp 2011): two power passes make the span of a Gaussian sketch converge
//! on the leading principal subspace. The alternative, a full eigendecomposition of a
//! 4096 x 4096 covariance, costs seconds; this costs a handful of n x d x 50 products.
//!
//! Only the subspace matters here (t-SNE sees distances, which a rotation inside the
//! subspace does not change), so no final small SVD is taken.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::analysis::column_mean;

const POWER_PASSES: usize = 2;

/// Coordinates of the centred rows in (an approximation of) their top `dims` principal
/// directions, row-major `n x min(dims, d, n)`; the centred rows themselves when `d <=
/// dims`.
pub(super) fn principal_subspace(data: &[f32], d: usize, dims: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / d.max(1);
    let mean = column_mean(data, d);
    if d <= dims || n == 0 {
        return data
            .chunks_exact(d)
            .flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| (f64::from(v) - m) as f32))
            .collect();
    }
    let l = dims.min(n).max(1);
    let xc: Vec<f64> =
        data.chunks_exact(d).flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| f64::from(v) - m)).collect();
    let x = MatRef::from_row_major_slice(&xc, n, d);
    let par = Par::rayon(rayon::current_num_threads().max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let omega: Vec<f64> = (0..d * l).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut y = vec![0.0f64; n * l];
    let mut z = omega;
    let mul = |dst: &mut [f64], rows: usize, lhs: MatRef<'_, f64>, rhs: &[f64], inner: usize| {
        let out = MatMut::from_column_major_slice_mut(dst, rows, l);
        matmul(out, Accum::Replace, lhs, MatRef::from_column_major_slice(rhs, inner, l), 1.0, par);
    };
    mul(&mut y, n, x, &z, d);
    orthonormalise(&mut y, n, l);
    for _ in 0..POWER_PASSES {
        mul(&mut z, d, x.transpose(), &y, n);
        orthonormalise(&mut z, d, l);
        mul(&mut y, n, x, &z, d);
        orthonormalise(&mut y, n, l);
    }
    mul(&mut z, d, x.transpose(), &y, n);
    orthonormalise(&mut z, d, l);
    mul(&mut y, n, x, &z, d);
    // Column-major n x l to row-major.
    (0..n).flat_map(|i| (0..l).map(move |j| (i, j))).map(|(i, j)| y[j * n + i] as f32).collect()
}

/// Modified Gram-Schmidt, twice ("twice is enough", Giraud et al. 2005), on the columns
/// of a column-major `rows x cols` matrix. A column with nothing left after removing the
/// earlier ones (rank-deficient data) becomes zero rather than noise blown up.
fn orthonormalise(m: &mut [f64], rows: usize, cols: usize) {
    for j in 0..cols {
        let scale = m[j * rows..(j + 1) * rows].iter().map(|v| v * v).sum::<f64>().sqrt();
        for _ in 0..2 {
            for i in 0..j {
                let (done, rest) = m.split_at_mut(j * rows);
                let qi = &done[i * rows..(i + 1) * rows];
                let col = &mut rest[..rows];
                let dot: f64 = qi.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                col.iter_mut().zip(qi).for_each(|(c, q)| *c -= dot * q);
            }
        }
        let col = &mut m[j * rows..(j + 1) * rows];
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 1e-10 * scale && norm > f64::MIN_POSITIVE {
            col.iter_mut().for_each(|v| *v /= norm);
        } else {
            col.iter_mut().for_each(|v| *v = 0.0);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Points that vary along three orthogonal directions of R^40 with falling spread:
    /// a 3-dimensional subspace must keep every pairwise distance.
    #[test]
    fn keeps_distances_of_data_inside_the_subspace() {
        let d = 40;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dirs: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                (0..d)
                    .map(|j| if j % 3 == k { 1.0 / ((d / 3 + usize::from(k < d % 3)) as f64).sqrt() } else { 0.0 })
                    .collect()
            })
            .collect();
        let n = 60;
        let data: Vec<f32> = (0..n)
            .flat_map(|_| {
                let c: Vec<f64> = (0..3)
                    .map(|k| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        z * (3.0 - k as f64)
                    })
                    .collect();
                let dirs = &dirs;
                (0..d)
                    .map(move |j| 7.0 + (0..3).map(|k| c[k] * dirs[k][j]).sum::<f64>())
                    .map(|v| v as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let r = principal_subspace(&data, d, 3, 11);
        assert_eq!(r.len(), n * 3);
        let dist = |p: &[f32], a: usize, b: usize, w: usize| -> f32 {
            (0..w).map(|j| (p[a * w + j] - p[b * w + j]).powi(2)).sum::<f32>().sqrt()
        };
        for (a, b) in [(0, 1), (5, 17), (30, 59)] {
            assert!((dist(&data, a, b, d) - dist(&r, a, b, 3)).abs() < 1e-3);
        }
        assert_eq!(r, principal_subspace(&data, d, 3, 11), "same seed, same coordinates");
    }

    #[test]
    fn rank_deficient_data_stays_finite() {
        let data = vec![2.0f32; 10 * 80];
        let r = principal_subspace(&data, 80, 50, 0);
        assert_eq!(r.len(), 10 * 10);
        assert!(r.iter().all(|v| v.is_finite() && v.abs() < 1e-6));
    }
}
