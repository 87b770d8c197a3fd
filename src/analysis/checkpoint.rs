//! Everything the UI and the logs show for one checkpoint, one call.
//!
//! [`analyze_checkpoint`] runs, for every layer: PCA on the seen points
//! (signs aligned to the previous checkpoint's same layer), k-means with
//! `k = num_tasks` on the seen points in full dimension, nearest-centroid
//! assignment of the unseen points, per-task centroids, and the scores.
//! Work on the labels alone (dense ids, class sizes, entropies) is done once
//! for all layers. Layers are independent and can run on several threads
//! ([`AnalysisOptions::threads`]).
//!
//! A layer that cannot be analysed (NaN in its hidden states, wrong buffer
//! size, fewer seen points than tasks, ...) does not fail the checkpoint: it
//! gets an `error` message, zero scores and empty geometry. No number in the
//! result is ever NaN or infinite.

mod table;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::kmeans::{assign_nearest, kmeans_valid, KMeansConfig};
use super::metrics::{nearest_centroid_accuracy, task_centroids_valid, TrueLabels};
use super::{check_finite, column_mean, rows_of, AnalysisError, Pca2};

pub use super::metrics::ClusterScores;
pub use table::score_table;

/// Hidden states of one layer: `n_seen x d` and `n_unseen x d`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct LayerHidden<'a> {
    pub seen: &'a [f32],
    pub unseen: &'a [f32],
}

/// One checkpoint's hidden states and labels.
#[derive(Debug, Clone)]
pub struct AnalysisInput<'a> {
    /// One entry per layer 0..=L.
    pub layers: Vec<LayerHidden<'a>>,
    /// Hidden dimension.
    pub d: usize,
    /// Task of each seen point, each `< num_tasks`.
    pub seen_labels: &'a [usize],
    /// Task of each unseen point, each `< num_tasks`.
    pub unseen_labels: &'a [usize],
    /// Number of tasks K; k-means uses k = K.
    pub num_tasks: usize,
    /// k-means seed; each layer derives its own stream from it.
    pub seed: u64,
    /// k-means restarts (0 counts as 1).
    pub restarts: usize,
}

/// How to run [`analyze_checkpoint_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Threads to spread the layers over (1 = the calling thread only).
    pub threads: usize,
}

impl Default for AnalysisOptions {
    /// One thread. The app analyses on a background thread while the trainer
    /// keeps both cores busy; measured that way (`benches/analysis.rs` next
    /// to a running trainer), two analysis threads were within +-3% of one,
    /// so the second thread only takes CPU from training.
    fn default() -> Self {
        AnalysisOptions { threads: 1 }
    }
}

/// Scores of one layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerScores {
    /// k-means clusters of the seen points vs their tasks.
    pub seen: ClusterScores,
    /// Unseen points assigned to the nearest k-means centroid vs their tasks.
    /// All zero when there are no unseen points (rather than scikit-learn's
    /// vacuous 1.0 for empty labellings).
    pub unseen: ClusterScores,
    /// Fraction of unseen points whose nearest seen-task centroid is their
    /// own task (0 without unseen points).
    pub unseen_centroid_accuracy: f64,
}

/// Analysis of one layer at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAnalysis {
    /// Layer index (0 = embeddings).
    pub layer: usize,
    /// PCA fitted on the seen points; empty when `error` is set.
    pub pca: Pca2,
    /// 2-D coordinates of the seen points.
    pub seen_proj: Vec<[f32; 2]>,
    /// 2-D coordinates of the unseen points (same basis).
    pub unseen_proj: Vec<[f32; 2]>,
    /// k-means cluster of each seen point.
    pub seen_assignments: Vec<usize>,
    /// Nearest k-means centroid of each unseen point.
    pub unseen_assignments: Vec<usize>,
    /// `k x d` k-means centroids.
    pub kmeans_centroids: Vec<f32>,
    /// Their 2-D coordinates.
    pub kmeans_centroids_proj: Vec<[f32; 2]>,
    /// k-means inertia of the seen points.
    pub kmeans_inertia: f64,
    /// `K x d` mean seen hidden state per task (zero for a task without
    /// seen points, see `task_counts`).
    pub task_centroids: Vec<f32>,
    /// Their 2-D coordinates.
    pub task_centroids_proj: Vec<[f32; 2]>,
    /// Seen points per task.
    pub task_counts: Vec<usize>,
    pub scores: LayerScores,
    /// Why this layer could not be analysed, e.g.
    /// `"layer 3: seen hidden states contain NaN (12 of 2048 points)"`.
    pub error: Option<String>,
}

/// All layers of one checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointAnalysis {
    pub layers: Vec<LayerAnalysis>,
}

/// [`analyze_checkpoint_with`] with default options.
pub fn analyze_checkpoint(input: &AnalysisInput, prev: Option<&CheckpointAnalysis>) -> CheckpointAnalysis {
    analyze_checkpoint_with(input, prev, &AnalysisOptions::default())
}

/// Analyses every layer of `input`; `prev` (the previous checkpoint's
/// result) only steers PCA signs so the picture does not flip.
pub fn analyze_checkpoint_with(
    input: &AnalysisInput,
    prev: Option<&CheckpointAnalysis>,
    options: &AnalysisOptions,
) -> CheckpointAnalysis {
    let shared = Shared::new(input);
    let prev_layer = |l: usize| prev.and_then(|p| p.layers.iter().find(|a| a.layer == l && a.error.is_none()));
    let run = |l: usize| analyze_layer(input, &shared, l, prev_layer(l));
    let count = input.layers.len();
    let threads = options.threads.clamp(1, count.max(1));
    let layers = if threads == 1 {
        (0..count).map(run).collect()
    } else {
        // Layers are handed out one at a time so a slow layer does not leave
        // the other thread idle.
        let next = AtomicUsize::new(0);
        let done = Mutex::new(Vec::with_capacity(count));
        let work = || loop {
            let l = next.fetch_add(1, Ordering::Relaxed);
            if l >= count {
                break;
            }
            let a = run(l);
            if let Ok(mut v) = done.lock() {
                v.push(a);
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        let mut v = done.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort_by_key(|a| a.layer);
        v
    };
    CheckpointAnalysis { layers }
}

/// Why one layer could not be analysed; stored in [`LayerAnalysis::error`] as its message.
#[derive(Debug, Clone, thiserror::Error)]
enum LayerError {
    #[error("no tasks (num_tasks = 0)")]
    NoTasks,
    /// A label problem (`set` is "seen" or "unseen"), or non-finite hidden states.
    #[error("{set} {source}")]
    Data { set: &'static str, source: AnalysisError },
    #[error("{set} hidden states: {source}")]
    Shape { set: &'static str, source: AnalysisError },
    #[error("{set} hidden states have {points} points but {labels} labels")]
    Count { set: &'static str, points: usize, labels: usize },
    /// A step of the analysis itself failed on the `set` points.
    #[error("{set} points: {source}")]
    Points { set: &'static str, source: AnalysisError },
    #[error("values overflow f32")]
    Overflow,
}

/// Label work shared by all layers.
struct Shared {
    seen_truth: TrueLabels,
    unseen_truth: TrueLabels,
    label_error: Option<LayerError>,
}

impl Shared {
    fn new(input: &AnalysisInput) -> Self {
        let k = input.num_tasks;
        let bad = |labels: &[usize], set: &'static str| {
            labels
                .iter()
                .find(|&&l| l >= k)
                .map(|&label| LayerError::Data { set, source: AnalysisError::LabelOutOfRange { label, k } })
        };
        let label_error = if k == 0 {
            Some(LayerError::NoTasks)
        } else {
            bad(input.seen_labels, "seen").or_else(|| bad(input.unseen_labels, "unseen"))
        };
        Shared {
            seen_truth: TrueLabels::new(input.seen_labels),
            unseen_truth: TrueLabels::new(input.unseen_labels),
            label_error,
        }
    }
}

fn analyze_layer(input: &AnalysisInput, shared: &Shared, layer: usize, prev: Option<&LayerAnalysis>) -> LayerAnalysis {
    let result = match &shared.label_error {
        Some(e) => Err(e.clone()),
        None => try_layer(input, shared, layer, prev),
    };
    match result.and_then(|a| if a.is_finite() { Ok(a) } else { Err(LayerError::Overflow) }) {
        Ok(a) => a,
        Err(e) => failed(layer, format!("layer {layer}: {e}")),
    }
}

fn try_layer(
    input: &AnalysisInput,
    shared: &Shared,
    layer: usize,
    prev: Option<&LayerAnalysis>,
) -> Result<LayerAnalysis, LayerError> {
    let (d, k) = (input.d, input.num_tasks);
    let h = input.layers[layer];
    let check = |data: &[f32], labels: &[usize], set: &'static str| -> Result<(), LayerError> {
        let n = rows_of(data, d).map_err(|source| LayerError::Shape { set, source })?;
        if n != labels.len() {
            return Err(LayerError::Count { set, points: n, labels: labels.len() });
        }
        check_finite(data, d).map_err(|source| LayerError::Data { set, source })
    };
    check(h.seen, input.seen_labels, "seen")?;
    check(h.unseen, input.unseen_labels, "unseen")?;
    let seen_err = |source: AnalysisError| LayerError::Points { set: "seen", source };

    // Validated above; the mean is shared by PCA and k-means.
    let mean = column_mean(h.seen, d);
    let mut pca = Pca2::fit_valid(h.seen, d, &mean).map_err(seen_err)?;
    if let Some(p) = prev {
        pca.align_signs(&p.pca);
    }
    let mut config = KMeansConfig::new(k, layer_seed(input.seed, layer));
    config.restarts = input.restarts.max(1);
    let km = kmeans_valid(h.seen, d, &config, mean).map_err(seen_err)?;
    let unseen_assignments = assign_nearest(&km.centroids, k, d, h.unseen);
    let tc = task_centroids_valid(h.seen, d, input.seen_labels, k);

    let seen_scores = shared.seen_truth.scores(&km.assignments).map_err(seen_err)?;
    let (unseen_scores, accuracy) = if shared.unseen_truth.is_empty() {
        (ClusterScores::default(), 0.0)
    } else {
        let unseen_err = |source: AnalysisError| LayerError::Points { set: "unseen", source };
        (
            shared.unseen_truth.scores(&unseen_assignments).map_err(unseen_err)?,
            nearest_centroid_accuracy(&tc, h.unseen, input.unseen_labels).map_err(unseen_err)?,
        )
    };
    Ok(LayerAnalysis {
        layer,
        seen_proj: pca.project_all(h.seen),
        unseen_proj: pca.project_all(h.unseen),
        kmeans_centroids_proj: pca.project_all(&km.centroids),
        task_centroids_proj: pca.project_all(&tc.centroids),
        pca,
        seen_assignments: km.assignments,
        unseen_assignments,
        kmeans_centroids: km.centroids,
        kmeans_inertia: km.inertia,
        task_centroids: tc.centroids,
        task_counts: tc.counts,
        scores: LayerScores { seen: seen_scores, unseen: unseen_scores, unseen_centroid_accuracy: accuracy },
        error: None,
    })
}

/// Independent k-means streams per layer from one checkpoint seed.
fn layer_seed(seed: u64, layer: usize) -> u64 {
    seed ^ (layer as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn failed(layer: usize, error: String) -> LayerAnalysis {
    LayerAnalysis {
        layer,
        pca: Pca2 { mean: Vec::new(), components: [Vec::new(), Vec::new()], explained_variance_ratio: [0.0; 2] },
        seen_proj: Vec::new(),
        unseen_proj: Vec::new(),
        seen_assignments: Vec::new(),
        unseen_assignments: Vec::new(),
        kmeans_centroids: Vec::new(),
        kmeans_centroids_proj: Vec::new(),
        kmeans_inertia: 0.0,
        task_centroids: Vec::new(),
        task_centroids_proj: Vec::new(),
        task_counts: Vec::new(),
        scores: LayerScores::default(),
        error: Some(error),
    }
}

impl LayerAnalysis {
    /// Whether every score, projection and vector is finite. Finite inputs can still overflow
    /// f32 in a projection (values near `f32::MAX`); such a layer is reported rather than
    /// shipped with infinities.
    pub fn is_finite(&self) -> bool {
        let s = &self.scores;
        let scores = [
            s.seen.ari,
            s.seen.ami,
            s.seen.f1,
            s.unseen.ari,
            s.unseen.ami,
            s.unseen.f1,
            s.unseen_centroid_accuracy,
            self.kmeans_inertia,
            self.pca.explained_variance_ratio[0],
            self.pca.explained_variance_ratio[1],
        ];
        let points = [&self.seen_proj, &self.unseen_proj, &self.kmeans_centroids_proj, &self.task_centroids_proj];
        let vectors = [
            &self.pca.mean,
            &self.pca.components[0],
            &self.pca.components[1],
            &self.kmeans_centroids,
            &self.task_centroids,
        ];
        scores.iter().all(|v| v.is_finite())
            && points.iter().all(|p| p.iter().flatten().all(|v| v.is_finite()))
            && vectors.iter().all(|v| v.iter().all(|x| x.is_finite()))
    }
}
