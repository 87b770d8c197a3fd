//! Pure-math analysis of hidden states: how well do they cluster by task?
//!
//! This follows the measurements of Wu & Varshney (arXiv 2402.12151): at every
//! checkpoint and for every layer we
//!
//! * project the hidden states onto their first two principal components
//!   ([`pca`]), with signs kept stable from one checkpoint to the next so the
//!   picture does not flip while scrubbing through training;
//! * cluster them with k-means (k = number of tasks, k-means++ with restarts,
//!   [`mod@kmeans`]) in the full hidden dimension;
//! * score the clustering against the true task labels with ARI, AMI and a
//!   Hungarian-matched macro F1 ([`metrics`]), and classify held-out
//!   ("unseen") points by their nearest task centroid;
//! * bundle all of it per checkpoint ([`checkpoint`]) as plain serialisable
//!   data for the UI, the JSON logs and the headless score table.
//!
//! Data layout everywhere: points are rows of a row-major `&[f32]` of length
//! `n * d`; labels are `&[usize]`.
//!
//! Nothing in here panics on bad data (NaN, infinity, empty sets, identical
//! points, fewer points than clusters): functions either return a defined
//! value, documented where it is chosen by us rather than by the mathematics,
//! or an [`AnalysisError`]. No score or coordinate produced by
//! [`checkpoint::analyze_checkpoint`] is ever NaN, because NaN breaks both the
//! UI and JSON.

pub mod checkpoint;
pub mod correlation;
pub mod kmeans;
pub mod metrics;
pub mod pca;
pub mod probe;
pub mod procrustes;
pub mod tsne;

mod distance;
mod eigen;

pub use checkpoint::{
    analyze_checkpoint, analyze_checkpoint_with, score_table, AnalysisInput, AnalysisOptions, CheckpointAnalysis,
    ClusterScores, LayerAnalysis, LayerHidden, LayerScores,
};
pub use kmeans::{assign_nearest, kmeans, nearest_centroid, KMeansConfig, KMeansResult};
pub use metrics::{
    adjusted_mutual_info_score, adjusted_rand_score, cluster_scores, hungarian_f1, nearest_centroid_accuracy,
    task_centroids, TaskCentroids, TrueLabels,
};
pub use pca::Pca2;
pub use procrustes::{procrustes, ProcrustesOptions, Similarity2};
pub use tsne::{tsne, TsneConfig};

/// Why an analysis step could not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// There were no points at all.
    #[error("no points to analyse")]
    Empty,
    /// A dimension of zero cannot hold points.
    #[error("dimension d must be at least 1")]
    ZeroDimension,
    /// The flat buffer does not hold a whole number of `d`-dimensional rows.
    #[error("data length {len} is not a multiple of the dimension {d}")]
    ShapeMismatch { len: usize, d: usize },
    /// Some coordinates are NaN or infinite; counts are of points (rows).
    #[error("{}", non_finite_message(*nan_points, *inf_points, *bad_points, *n))]
    NonFinite { nan_points: usize, inf_points: usize, bad_points: usize, n: usize },
    /// k-means needs at least one cluster.
    #[error("the number of clusters must be at least 1")]
    ZeroClusters,
    /// k-means cannot place k distinct seeds among fewer than k points.
    #[error("fewer points ({n}) than clusters ({k})")]
    TooFewPoints { n: usize, k: usize },
    /// A method that needs a minimum number of points got fewer.
    #[error("{what} needs at least {min} points, got {n}")]
    TooFewPointsFor { what: &'static str, n: usize, min: usize },
    /// More points than the u32 row indices of k-means can address.
    #[error("too many points ({n}) for k-means")]
    TooManyPoints { n: usize },
    /// Two label vectors (or labels and data) that must pair up do not.
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    /// A task label is not below the number of tasks.
    #[error("label {label} is out of range for {k} tasks")]
    LabelOutOfRange { label: usize, k: usize },
    /// The symmetric eigensolver gave up (has never been observed).
    #[error("eigensolver did not converge")]
    NoConvergence,
}

fn non_finite_message(nan: usize, inf: usize, bad: usize, n: usize) -> String {
    let what = match (nan > 0, inf > 0) {
        (true, false) => "NaN",
        (false, true) => "infinity",
        _ => "NaN or infinity",
    };
    format!("hidden states contain {what} ({bad} of {n} points)")
}

/// Checks the shape of a flat row-major buffer and returns the number of rows.
pub(crate) fn rows_of(data: &[f32], d: usize) -> Result<usize, AnalysisError> {
    if d == 0 {
        return Err(AnalysisError::ZeroDimension);
    }
    if data.len() % d != 0 {
        return Err(AnalysisError::ShapeMismatch { len: data.len(), d });
    }
    Ok(data.len() / d)
}

/// Fails with [`AnalysisError::NonFinite`] if any coordinate is NaN or infinite.
pub(crate) fn check_finite(data: &[f32], d: usize) -> Result<(), AnalysisError> {
    let n = rows_of(data, d)?;
    // Fast path: a branch-free fold per chunk vectorises; the per-row census
    // below only runs on failure.
    if data.chunks(4096).all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite())) {
        return Ok(());
    }
    let (mut nan_points, mut inf_points, mut bad_points) = (0, 0, 0);
    for row in data.chunks_exact(d) {
        let nan = row.iter().any(|v| v.is_nan());
        let inf = row.iter().any(|v| v.is_infinite());
        nan_points += usize::from(nan);
        inf_points += usize::from(inf);
        bad_points += usize::from(nan || inf);
    }
    Err(AnalysisError::NonFinite { nan_points, inf_points, bad_points, n })
}

/// Per-dimension mean of the rows, accumulated in f64.
pub(crate) fn column_mean(data: &[f32], d: usize) -> Vec<f64> {
    let mut mean = vec![0.0f64; d];
    if d == 0 {
        return mean;
    }
    let mut n = 0usize;
    for row in data.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
        n += 1;
    }
    if n > 0 {
        mean.iter_mut().for_each(|m| *m /= n as f64);
    }
    mean
}
