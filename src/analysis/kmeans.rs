//! k-means in the full hidden dimension: greedy k-means++ seeding, several
//! seeded restarts, lowest inertia wins.
//!
//! The iterations are Lloyd's algorithm with Hamerly's distance bounds
//! (`kmeans/hamerly.rs`): each point keeps an upper bound on the distance to
//! its centroid and a lower bound on the distance to any other, so once the
//! clusters settle most points are skipped without computing a single
//! distance. Distances come from the blocked `||x||^2 - 2 x.c + ||c||^2`
//! kernel in `distance.rs`, 16 points at a time. Results are the ones plain
//! Lloyd iterations would give (the bounds only skip work whose outcome is
//! already known). Convergence as in scikit-learn: stop when no point changes
//! cluster, or when the centroids move less than `tol` (then one more
//! assignment pass makes the labels match the final centroids).
//!
//! Before clustering the data is centred and scaled by a power of two (exact
//! in floating point) so its largest coordinate is in [1, 2): this keeps the
//! norm expansion free of cancellation for hidden states far from the origin
//! and keeps squared distances of huge or tiny finite values representable in
//! f32. Centroids and inertia are mapped back to the original units.

mod hamerly;
mod seeding;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::distance::{sq_dist, Tiled};
use super::{check_finite, column_mean, rows_of, AnalysisError};

/// k-means settings; [`KMeansConfig::new`] gives scikit-learn-like defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters, at least 1.
    pub k: usize,
    /// Independent k-means++ runs; the lowest inertia is kept. 0 counts as 1.
    pub restarts: usize,
    /// Upper limit on Lloyd iterations per run.
    pub max_iter: usize,
    /// Stop when the summed squared centroid shift falls below
    /// `tol * mean per-dimension variance` (scikit-learn's `tol`).
    pub tol: f64,
    /// Seed for the ChaCha8 generator driving seeding; same seed, same result.
    pub seed: u64,
}

impl KMeansConfig {
    /// `k` clusters, 4 restarts, at most 300 iterations, tol 1e-4.
    pub fn new(k: usize, seed: u64) -> Self {
        KMeansConfig { k, restarts: 4, max_iter: 300, tol: 1e-4, seed }
    }
}

/// Outcome of the best restart.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansResult {
    /// `k x d` row-major centroids in the units of the input.
    pub centroids: Vec<f32>,
    /// Number of clusters.
    pub k: usize,
    /// Dimension of the points.
    pub d: usize,
    /// Cluster of every input point, each `< k`.
    pub assignments: Vec<usize>,
    /// Sum of squared distances of points to their centroid.
    pub inertia: f64,
    /// Lloyd iterations the best restart ran.
    pub iterations: usize,
}

/// The data in the centred, power-of-two-scaled frame the iterations use.
pub(crate) struct Prepared<'a> {
    /// The points in the kernel's tile layout, centred and scaled.
    pub tiled: Tiled,
    /// The caller's row-major points: cluster sums are accumulated from
    /// these (contiguous rows vectorise; single points of the tile layout
    /// are one cache line per coordinate) and mapped to the scaled frame
    /// with `mean` and `scale` when needed.
    pub raw: &'a [f32],
    pub mean: Vec<f64>,
    pub scale: f64,
    pub n: usize,
    pub d: usize,
    /// Absolute shift tolerance in the scaled frame.
    pub tol: f64,
}

/// One restart's result in the scaled frame.
pub(crate) struct Run {
    pub centroids: Vec<f32>,
    pub assignments: Vec<u32>,
    pub inertia: f64,
    pub iterations: usize,
}

/// Clusters the `n = data.len() / d` row-major points into `config.k` clusters.
///
/// Errors: `d == 0` or ragged data, no points, `k == 0`, fewer points than
/// `k`, or any NaN/infinite coordinate. Identical points (or fewer distinct
/// points than `k`) are fine: surplus centroids duplicate occupied ones and
/// stay empty, and the inertia is 0.
pub fn kmeans(data: &[f32], d: usize, config: &KMeansConfig) -> Result<KMeansResult, AnalysisError> {
    rows_of(data, d)?;
    check_finite(data, d)?;
    kmeans_valid(data, d, config, column_mean(data, d))
}

/// [`kmeans`] for data already known to be finite, with its column mean.
pub(crate) fn kmeans_valid(
    data: &[f32],
    d: usize,
    config: &KMeansConfig,
    mean: Vec<f64>,
) -> Result<KMeansResult, AnalysisError> {
    let n = rows_of(data, d)?;
    let k = config.k;
    if n == 0 {
        return Err(AnalysisError::Empty);
    }
    if k == 0 {
        return Err(AnalysisError::ZeroClusters);
    }
    if n < k {
        return Err(AnalysisError::TooFewPoints { n, k });
    }
    // Cluster ids are stored as u32 to halve memory traffic.
    if n > u32::MAX as usize {
        return Err(AnalysisError::TooManyPoints { n });
    }
    if mean.len() != d {
        return Err(AnalysisError::ShapeMismatch { len: mean.len(), d });
    }
    // The tiles are centred in f32, so everything else uses the same f32
    // mean: points and centroids then live in exactly the same frame.
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let mean: Vec<f64> = mean32.iter().map(|&m| f64::from(m)).collect();
    // f64: a difference of two large f32 values of opposite sign overflows.
    let mut max_abs = 0.0f64;
    for row in data.chunks_exact(d) {
        for (&v, &m) in row.iter().zip(&mean) {
            max_abs = max_abs.max((f64::from(v) - m).abs());
        }
    }
    if max_abs == 0.0 {
        // All points coincide: any assignment is optimal with inertia 0.
        let centroids = (0..k).flat_map(|_| mean.iter().map(|&m| m as f32)).collect();
        return Ok(KMeansResult { centroids, k, d, assignments: vec![0; n], inertia: 0.0, iterations: 0 });
    }
    // Centred coordinates then lie in [1, 2) at most; the clamp keeps the
    // factor a finite f32 for subnormal spreads (which then land >= 2^-23).
    let scale = (-max_abs.log2().floor()).exp2().clamp(f64::from(2f32.powi(-126)), f64::from(2f32.powi(126)));
    let tiled = Tiled::new(data, n, d, &mean32, scale as f32);
    // The data is centred, so the mean squared norm over d is the mean
    // per-dimension variance that scikit-learn scales `tol` by.
    let mean_var = tiled.norms.iter().map(|&v| f64::from(v)).sum::<f64>() / (n * d) as f64;
    let prepared = Prepared { tol: config.tol.max(0.0) * mean_var, tiled, raw: data, mean, scale, n, d };

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut best: Option<Run> = None;
    for _ in 0..config.restarts.max(1) {
        let seeds = seeding::kmeans_plus_plus(&prepared, k, &mut rng);
        let run = hamerly::lloyd(&prepared, k, seeds, config.max_iter);
        // Strict `<` keeps the earliest restart on ties, for determinism.
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    // `restarts.max(1)` guarantees at least one run; fall back to an error
    // rather than unwrap so the no-panic promise does not rest on it.
    let best = best.ok_or(AnalysisError::Empty)?;
    let centroids = best
        .centroids
        .chunks_exact(d)
        .flat_map(|c| c.iter().zip(&prepared.mean).map(|(&v, &m)| (f64::from(v) / scale + m) as f32))
        .collect();
    Ok(KMeansResult {
        centroids,
        k,
        d,
        assignments: best.assignments.iter().map(|&a| a as usize).collect(),
        inertia: best.inertia / (scale * scale),
        iterations: best.iterations,
    })
}

/// Index of the centroid (of `k` row-major `d`-wide ones) closest to `x` in
/// Euclidean distance; the first on ties. Returns 0 when `k == 0` or when no
/// distance is comparable (NaN in `x`). Missing centroid rows are skipped.
pub fn nearest_centroid(centroids: &[f32], k: usize, d: usize, x: &[f32]) -> usize {
    if d == 0 || x.len() < d {
        return 0;
    }
    let mut best = (0usize, f32::INFINITY);
    for (c, row) in centroids.chunks_exact(d).take(k).enumerate() {
        let dist = sq_dist(&x[..d], row);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best.0
}

/// [`nearest_centroid`] for every row of `data` (a trailing partial row is
/// ignored).
pub fn assign_nearest(centroids: &[f32], k: usize, d: usize, data: &[f32]) -> Vec<usize> {
    if d == 0 {
        return Vec::new();
    }
    data.chunks_exact(d).map(|row| nearest_centroid(centroids, k, d, row)).collect()
}
