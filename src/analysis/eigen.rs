//! The two largest eigenpairs of a symmetric matrix, the way LAPACK's
//! `dsyevx` gets a few of them: Householder tridiagonalisation (faer), the
//! wanted eigenvalues of the tridiagonal matrix by Sturm-sequence bisection,
//! their eigenvectors by inverse iteration, and the back-transformation of
//! just those two vectors.
//!
//! Why not faer's `self_adjoint_eigen`: it computes all 128 eigenvectors of a
//! 128 x 128 covariance in ~1.5 ms; this takes ~0.25 ms (the
//! tridiagonalisation) for the same accuracy. Iterative alternatives (block
//! Lanczos) were tried: they need close to `d` steps on the nearly isotropic
//! spectra of poorly clustered layers, where the top eigenvalues are within a
//! few percent of each other, so they were not faster where it mattered.
//!
//! Every result is checked (`||C v - lambda v||` against `||C||`); should
//! the check ever fail, the dense solver is used instead.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::evd::tridiag::{tridiag_in_place, tridiag_in_place_scratch};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::recommended_block_size;
use faer::{Conj, Mat, Par, Side};

use super::AnalysisError;

/// Eigenvalues (descending, `values[0] >= values[1]`) and unit eigenvectors.
pub(crate) struct Top2 {
    pub values: [f64; 2],
    pub vectors: [Vec<f64>; 2],
}

/// Top two eigenpairs of the symmetric `d x d` row-major matrix `c` (`d >= 2`).
pub(crate) fn top2_symmetric(c: &[f64], d: usize) -> Result<Top2, AnalysisError> {
    if d < 2 || c.len() < d * d {
        return Err(AnalysisError::ShapeMismatch { len: c.len(), d });
    }
    let norm = c.iter().fold(0.0f64, |m, v| m.max(v.abs())) * d as f64;
    match tridiagonal_top2(c, d) {
        Some(t) if residual_ok(c, d, &t, norm) => Ok(t),
        _ => dense(c, d),
    }
}

fn tridiagonal_top2(c: &[f64], d: usize) -> Option<Top2> {
    let mut trid = Mat::<f64>::from_fn(d, d, |i, j| c[i * d + j]);
    let bs = recommended_block_size::<f64>(d, d);
    let mut householder = Mat::<f64>::zeros(bs, d - 1);
    let mut mem = MemBuffer::new(StackReq::any_of(&[
        tridiag_in_place_scratch::<f64>(d, Par::Seq, Default::default()),
        apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(d - 1, bs, 2),
    ]));
    tridiag_in_place(trid.as_mut(), householder.as_mut(), Par::Seq, MemStack::new(&mut mem), Default::default());
    let diag: Vec<f64> = (0..d).map(|i| trid[(i, i)]).collect();
    let off: Vec<f64> = (0..d - 1).map(|i| trid[(i + 1, i)]).collect();

    let values = [kth_smallest(&diag, &off, d - 1), kth_smallest(&diag, &off, d - 2)];
    let v1 = inverse_iteration(&diag, &off, values[0], None)?;
    let v2 = inverse_iteration(&diag, &off, values[1], Some(&v1))?;

    // Back to the original basis: v = Q y with Q the Householder sequence.
    let mut u = Mat::<f64>::from_fn(d, 2, |i, j| if j == 0 { v1[i] } else { v2[i] });
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        trid.as_ref().submatrix(1, 0, d - 1, d - 1),
        householder.as_ref(),
        Conj::No,
        u.as_mut().subrows_mut(1, d - 1),
        Par::Seq,
        MemStack::new(&mut mem),
    );
    let col = |j: usize| unit((0..d).map(|i| u[(i, j)]).collect());
    Some(Top2 { values, vectors: [col(0)?, col(1)?] })
}

fn unit(mut v: Vec<f64>) -> Option<Vec<f64>> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if !(n > 0.0 && n.is_finite()) {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= n);
    Some(v)
}

/// Number of eigenvalues of the tridiagonal matrix below `x` (Sturm count
/// via the signs of the LDL^T pivots of `T - x I`).
fn count_below(diag: &[f64], off: &[f64], x: f64, pivmin: f64) -> usize {
    let mut count = 0;
    let mut q = 1.0f64;
    for (i, &a) in diag.iter().enumerate() {
        let b2 = if i == 0 { 0.0 } else { off[i - 1] * off[i - 1] };
        q = a - x - b2 / q;
        // A zero pivot is perturbed as LAPACK's dstebz does.
        if q.abs() < pivmin {
            q = -pivmin;
        }
        count += usize::from(q < 0.0);
    }
    count
}

/// The `k`-th smallest eigenvalue (0-based) by bisection to full precision.
fn kth_smallest(diag: &[f64], off: &[f64], k: usize) -> f64 {
    // Gershgorin bounds enclose the spectrum.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (i, &a) in diag.iter().enumerate() {
        let r = off.get(i).map_or(0.0, |b| b.abs()) + if i > 0 { off[i - 1].abs() } else { 0.0 };
        lo = lo.min(a - r);
        hi = hi.max(a + r);
    }
    let scale = lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
    let pivmin = f64::MIN_POSITIVE.max(scale * f64::EPSILON * f64::EPSILON);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 2.0 * f64::EPSILON * scale {
            break;
        }
        if count_below(diag, off, mid, pivmin) > k {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Eigenvector of the tridiagonal matrix for the (accurate) eigenvalue
/// `lambda`, orthogonal to `against` if given (which matters only when the
/// two eigenvalues are (nearly) equal).
fn inverse_iteration(diag: &[f64], off: &[f64], lambda: f64, against: Option<&[f64]>) -> Option<Vec<f64>> {
    let n = diag.len();
    let scale = diag.iter().chain(off).fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    // Deterministic start with no special alignment to any eigenvector.
    let mut x: Vec<f64> = (0..n).map(|i| 1.0 + ((i * 7919) % 101) as f64 / 101.0).collect();
    for _ in 0..3 {
        let y = solve_shifted(diag, off, lambda, scale * f64::EPSILON, &x)?;
        x = y;
        if let Some(v) = against {
            let dot: f64 = x.iter().zip(v).map(|(a, b)| a * b).sum();
            x.iter_mut().zip(v).for_each(|(a, b)| *a -= dot * b);
        }
        x = unit(x)?;
    }
    Some(x)
}

/// Solves `(T - sigma I) y = rhs` by Gaussian elimination with partial
/// pivoting (rows `i`, `i+1` swap when the subdiagonal entry is larger),
/// replacing exactly singular pivots by `tiny` as inverse iteration wants.
fn solve_shifted(diag: &[f64], off: &[f64], sigma: f64, tiny: f64, rhs: &[f64]) -> Option<Vec<f64>> {
    let n = diag.len();
    let mut y = rhs.to_vec();
    // Upper factor: row i has entries at columns i, i+1, i+2.
    let mut u = vec![[0.0f64; 3]; n];
    let entry = |i: usize| off.get(i).copied().unwrap_or(0.0);
    let mut cur = [diag[0] - sigma, entry(0), 0.0];
    for i in 0..n - 1 {
        let mut next = [off[i], diag[i + 1] - sigma, entry(i + 1)];
        if next[0].abs() > cur[0].abs() {
            std::mem::swap(&mut cur, &mut next);
            y.swap(i, i + 1);
        }
        if cur[0].abs() < tiny {
            cur[0] = tiny.copysign(cur[0]);
        }
        let m = next[0] / cur[0];
        y[i + 1] -= m * y[i];
        u[i] = cur;
        cur = [next[1] - m * cur[1], next[2] - m * cur[2], 0.0];
    }
    if cur[0].abs() < tiny {
        cur[0] = tiny.copysign(cur[0]);
    }
    u[n - 1] = cur;
    for i in (0..n).rev() {
        let mut s = y[i];
        if i + 1 < n {
            s -= u[i][1] * y[i + 1];
        }
        if i + 2 < n {
            s -= u[i][2] * y[i + 2];
        }
        y[i] = s / u[i][0];
    }
    y.iter().all(|v| v.is_finite()).then_some(y)
}

fn residual_ok(c: &[f64], d: usize, t: &Top2, norm: f64) -> bool {
    t.vectors.iter().zip(t.values).all(|(v, lambda)| {
        let r2: f64 = c
            .chunks_exact(d)
            .zip(v)
            .map(|(row, &vi)| {
                let cv: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
                (cv - lambda * vi).powi(2)
            })
            .sum();
        r2.sqrt() <= 1e-10 * norm.max(f64::MIN_POSITIVE)
    })
}

fn dense(c: &[f64], d: usize) -> Result<Top2, AnalysisError> {
    let m = Mat::<f64>::from_fn(d, d, |i, j| c[i * d + j]);
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|_| AnalysisError::NoConvergence)?;
    let (s, u) = (evd.S(), evd.U());
    // faer sorts eigenvalues in nondecreasing order.
    let pick = |idx: usize| (s[idx], (0..d).map(|i| u[(i, idx)]).collect::<Vec<f64>>());
    let (v0, x0) = pick(d - 1);
    let (v1, x1) = pick(d - 2);
    Ok(Top2 { values: [v0, v1], vectors: [x0, x1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_against_dense(c: &[f64], d: usize) {
        let fast = tridiagonal_top2(c, d).expect("tridiagonal path");
        let norm = c.iter().fold(0.0f64, |m, v| m.max(v.abs())) * d as f64;
        assert!(residual_ok(c, d, &fast, norm));
        let slow = dense(c, d).unwrap();
        for i in 0..2 {
            assert!((fast.values[i] - slow.values[i]).abs() <= 1e-12 * norm, "value {i}");
        }
    }

    #[test]
    fn matches_dense_solver() {
        // A random symmetric matrix, a diagonal one with a repeated top
        // eigenvalue (tridiagonal already, splits into blocks), and a
        // rank-one one (all but one eigenvalue zero).
        let d = 40;
        let mut s = 12345u64;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let a: Vec<f64> = (0..d * d).map(|_| rnd()).collect();
        let sym: Vec<f64> = (0..d * d).map(|k| a[k] + a[(k % d) * d + k / d]).collect();
        check_against_dense(&sym, d);
        let diag: Vec<f64> =
            (0..d * d).map(|k| if k % (d + 1) == 0 { [3.0, 1.0, 3.0, 2.0][(k / (d + 1)) % 4] } else { 0.0 }).collect();
        check_against_dense(&diag, d);
        let t = tridiagonal_top2(&diag, d).unwrap();
        assert!(t.values.iter().all(|v| (v - 3.0).abs() < 1e-13), "{:?}", t.values);
        let dot: f64 = t.vectors[0].iter().zip(&t.vectors[1]).map(|(x, y)| x * y).sum();
        assert!(dot.abs() < 1e-12, "repeated eigenvalue: vectors must be orthogonal");
        let v: Vec<f64> = (0..d).map(|i| (i as f64 + 1.0).sin()).collect();
        let rank1: Vec<f64> = (0..d * d).map(|k| v[k / d] * v[k % d]).collect();
        let t = top2_symmetric(&rank1, d).unwrap();
        assert!(t.values[1].abs() < 1e-12 * t.values[0]);
    }

    #[test]
    fn nearly_isotropic_covariance_matches_dense() {
        // A Wishart matrix (512 samples, 128 dims): the top eigenvalues are
        // only a few percent apart, the hard case for iterative solvers.
        let (n, d) = (512, 128);
        let mut s = 99u64;
        let x: Vec<f64> = (0..n * d)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect();
        let c: Vec<f64> = (0..d * d).map(|k| (0..n).map(|r| x[r * d + k / d] * x[r * d + k % d]).sum()).collect();
        let fast = tridiagonal_top2(&c, d).unwrap();
        let slow = dense(&c, d).unwrap();
        for i in 0..2 {
            assert!((fast.values[i] - slow.values[i]).abs() <= 1e-12 * slow.values[0]);
            let dot: f64 = fast.vectors[i].iter().zip(&slow.vectors[i]).map(|(a, b)| a * b).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-9, "vector {i}: |dot| = {}", dot.abs());
        }
    }
}
