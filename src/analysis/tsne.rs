//! t-SNE of a point set down to two dimensions, the nonlinear companion of [`super::pca`].
//!
//! Pipeline, as openTSNE and the t-SNE literature practise it: centre, reduce to (about)
//! the top 50 principal directions, find exact k nearest neighbours (k = 3 x perplexity),
//! perplexity-calibrated affinities, then Barnes-Hut gradient descent from a PCA
//! initialisation scaled to a standard deviation of 1e-4 (openTSNE's), 250 epochs of early
//! exaggeration 12 then 500 more (openTSNE's schedule), momentum 0.5 then 0.8 and bhtsne's
//! automatic learning rate (van der Maaten's reference implementation, which bhtsne follows).
//!
//! Why the `bhtsne` crate: of the Rust crates surveyed it is the maintained one (0.7.13,
//! edition 2024, Barnes-Hut, FIt-SNE and exact gradients, a CI), its dependencies are
//! small (rayon, rustfft, num-traits, rand_distr) and it takes precomputed neighbours and
//! an initial embedding, so the parts that decide reproducibility stay here. `annembed`
//! (UMAP-like) pulls in hnsw_rs, ndarray-linalg and a LAPACK; the `umap-rs` crates are
//! young single-author ports without a stable API. bhtsne draws its own random
//! initialisation from an unseeded generator and asserts (panics) on bad input, so this
//! module never lets it do either: the embedding is seeded from here and every input is
//! checked first.
//!
//! Reproducibility: the seed drives the randomized PCA sketch, the only random draw (so for
//! points of at most `pca_dims` dimensions the layout is a function of the points alone);
//! neighbours are exact with ties broken by index. With [`TsneConfig::one_thread`] a seed
//! gives the same layout bit for bit, run after run. On more threads it does not: bhtsne
//! adds up some sums with rayon's parallel reductions, whose order rayon picks at run time,
//! and the optimisation amplifies those last-bit differences (from 1e-3 to 14% of the
//! layout's spread between two runs, as measured on this machine): the same clusters, not the
//! same numbers.

mod knn;
mod reduce;

use bhtsne::{tSNE, Neighbor};

use super::{check_finite, rows_of, AnalysisError, Pca2};

/// Parameters of a t-SNE run. The defaults are openTSNE's (perplexity, schedule, theta).
#[derive(Debug, Clone, PartialEq)]
pub struct TsneConfig {
    /// Effective number of neighbours; lowered to `(n - 1) / 3` for small sets.
    pub perplexity: f32,
    /// Total gradient-descent epochs, early exaggeration included.
    pub epochs: usize,
    /// Epochs of early exaggeration (factor 12) at the start.
    pub exaggeration_epochs: usize,
    /// Barnes-Hut accuracy: 0.5 is the usual trade-off; smaller is slower and closer.
    pub theta: f32,
    /// Principal directions kept before the neighbour search (all of them when fewer).
    pub pca_dims: usize,
    pub seed: u64,
    /// Run on one thread, for a bit-for-bit repeatable layout (exports); otherwise on the
    /// caller's rayon pool.
    pub one_thread: bool,
}

impl Default for TsneConfig {
    fn default() -> Self {
        TsneConfig {
            perplexity: 30.0,
            epochs: 750,
            exaggeration_epochs: 250,
            theta: 0.5,
            pca_dims: 50,
            seed: 0,
            one_thread: false,
        }
    }
}

/// Fewest points t-SNE is run on: perplexity must stay at least 1 with 3 x perplexity
/// neighbours per point.
pub const MIN_POINTS: usize = 4;

/// Embeds the `n = data.len() / d` row-major points in the plane; `progress(epoch,
/// epochs)` is called after every epoch. The result is centred on the origin.
pub fn tsne(
    data: &[f32],
    d: usize,
    cfg: &TsneConfig,
    progress: impl FnMut(usize, usize) + Send,
) -> Result<Vec<[f32; 2]>, AnalysisError> {
    // A pool that cannot be built (no threads left) leaves the caller's: the same clusters,
    // though then a seed need not repeat bit for bit.
    match cfg.one_thread.then(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().ok()).flatten() {
        Some(pool) => pool.install(|| run(data, d, cfg, progress)),
        None => run(data, d, cfg, progress),
    }
}

fn run(
    data: &[f32],
    d: usize,
    cfg: &TsneConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<[f32; 2]>, AnalysisError> {
    let n = rows_of(data, d)?;
    if n == 0 {
        return Err(AnalysisError::Empty);
    }
    if n < MIN_POINTS {
        return Err(AnalysisError::TooFewPointsFor { what: "t-SNE", n, min: MIN_POINTS });
    }
    check_finite(data, d)?;
    let epochs = cfg.epochs.max(1);
    let reduced = reduce::principal_subspace(data, d, cfg.pca_dims.max(2), cfg.seed);
    let k_dims = reduced.len() / n;
    let perplexity = cfg.perplexity.clamp(1.0, ((n - 1) / 3) as f32).floor();
    // bhtsne's own check floors the perplexity; 3 x that many neighbours exist.
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    let neighbours: Vec<Vec<Neighbor<f32>>> = knn::exact(&reduced, k_dims, k)
        .into_iter()
        .map(|row| row.into_iter().map(|(index, distance)| Neighbor { index, distance }).collect())
        .collect();
    let init = pca_init(&reduced, k_dims, n)?;
    let samples: Vec<&[f32]> = reduced.chunks_exact(k_dims).collect();
    let mut runner: tSNE<f32, &[f32], 2> = tSNE::new(&samples);
    runner
        .perplexity(perplexity)
        .epochs(epochs)
        .stop_lying_epoch(cfg.exaggeration_epochs.min(epochs))
        .momentum_switch_epoch(cfg.exaggeration_epochs.min(epochs))
        .early_exaggeration(12.0)
        .initial_embedding(init)
        .epoch_callback(|epoch, _| progress(epoch + 1, epochs))
        .barnes_hut_with_neighbors(cfg.theta.max(1e-3), &neighbours);
    let flat = runner.embedding();
    drop(runner);
    if flat.len() != n * 2 || !flat.iter().all(|v| v.is_finite()) {
        return Err(AnalysisError::NonFinite { nan_points: n, inf_points: 0, bad_points: n, n });
    }
    let mut out: Vec<[f32; 2]> = flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    let c = out.iter().fold([0.0f64; 2], |a, p| [a[0] + f64::from(p[0]), a[1] + f64::from(p[1])]);
    let c = [(c[0] / n as f64) as f32, (c[1] / n as f64) as f32];
    out.iter_mut().for_each(|p| *p = [p[0] - c[0], p[1] - c[1]]);
    Ok(out)
}

/// The first two principal coordinates, scaled so the first has standard deviation 1e-4:
/// openTSNE's initialisation, which keeps the global arrangement PCA sees.
fn pca_init(reduced: &[f32], k_dims: usize, n: usize) -> Result<Vec<f32>, AnalysisError> {
    let pca = Pca2::fit(reduced, k_dims)?;
    let proj = pca.project_all(reduced);
    let var = proj.iter().map(|p| f64::from(p[0]).powi(2)).sum::<f64>() / n as f64;
    let scale = if var > 0.0 { 1e-4 / var.sqrt() } else { 1.0 };
    // Identical points would all start at one spot, where the Barnes-Hut tree cannot split
    // them; a tiny deterministic spiral separates them.
    Ok(proj
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let jitter = 1e-7 * (i as f64 + 1.0).sqrt();
            let a = i as f64 * 2.399_963;
            [(f64::from(p[0]) * scale + jitter * a.cos()) as f32, (f64::from(p[1]) * scale + jitter * a.sin()) as f32]
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_input_instead_of_panicking() {
        let cfg = TsneConfig { epochs: 10, ..TsneConfig::default() };
        assert_eq!(tsne(&[], 3, &cfg, |_, _| {}), Err(AnalysisError::Empty));
        assert!(matches!(tsne(&[0.0; 9], 3, &cfg, |_, _| {}), Err(AnalysisError::TooFewPointsFor { n: 3, .. })));
        let mut nan = vec![0.5f32; 30];
        nan[4] = f32::NAN;
        assert!(matches!(tsne(&nan, 3, &cfg, |_, _| {}), Err(AnalysisError::NonFinite { .. })));
    }

    #[test]
    fn identical_points_give_finite_coordinates() {
        let cfg = TsneConfig { epochs: 50, exaggeration_epochs: 10, ..TsneConfig::default() };
        let mut calls = 0;
        let out = tsne(&[1.0f32; 8 * 4], 4, &cfg, |_, _| calls += 1).unwrap();
        assert_eq!(out.len(), 8);
        assert!(out.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        assert_eq!(calls, 50);
    }
}
