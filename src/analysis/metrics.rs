//! Scores of a predicted clustering against the true task labels.
//!
//! ARI and AMI reproduce scikit-learn 1.9 (`adjusted_rand_score`,
//! `adjusted_mutual_info_score` with arithmetic normalisation), including its
//! special cases, and agree with it to 1e-9 (see
//! `tests/analysis_reference.rs`). F1 matches clusters to classes one-to-one
//! with the Hungarian algorithm. None of them returns NaN.
//!
//! Everything that depends only on the true labels (dense class ids, class
//! sizes, entropy) lives in [`TrueLabels`] so a checkpoint computes it once
//! for all layers.

mod ami;
mod contingency;

use serde::{Deserialize, Serialize};

use super::{check_finite, kmeans::nearest_centroid, rows_of, AnalysisError};
use contingency::{densify, Contingency};

/// ARI, AMI and Hungarian-matched macro F1 of one predicted labelling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterScores {
    pub ari: f64,
    pub ami: f64,
    pub f1: f64,
}

/// The true labelling, pre-digested for scoring many predictions against it.
#[derive(Debug, Clone)]
pub struct TrueLabels {
    dense: Vec<u32>,
    counts: Vec<u64>,
    entropy: f64,
}

impl TrueLabels {
    /// Any `usize` values work as labels; only equality matters.
    pub fn new(labels: &[usize]) -> Self {
        let (dense, r) = densify(labels);
        let mut counts = vec![0u64; r];
        for &c in &dense {
            counts[c as usize] += 1;
        }
        let entropy = ami::entropy(&counts);
        TrueLabels { dense, counts, entropy }
    }

    /// Number of labelled points.
    pub fn len(&self) -> usize {
        self.dense.len()
    }

    /// True when there are no labelled points.
    pub fn is_empty(&self) -> bool {
        self.dense.is_empty()
    }

    /// Number of distinct labels.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// Scores `pred` (one cluster id per point, any `usize` values).
    pub fn scores(&self, pred: &[usize]) -> Result<ClusterScores, AnalysisError> {
        let table = self.table(pred)?;
        Ok(ClusterScores { ari: table.ari(), ami: ami::ami(&table, self.entropy), f1: table.hungarian_f1() })
    }

    fn table(&self, pred: &[usize]) -> Result<Contingency<'_>, AnalysisError> {
        if pred.len() != self.dense.len() {
            return Err(AnalysisError::LengthMismatch {
                what: "predicted labels",
                got: pred.len(),
                expected: self.dense.len(),
            });
        }
        Ok(Contingency::new(&self.dense, &self.counts, pred))
    }
}

/// Adjusted Rand index (Hubert & Arabie), as scikit-learn computes it: 1.0
/// when no pair of points is split differently by the two labellings (this
/// covers empty input, identical partitions, and both all-singletons).
pub fn adjusted_rand_score(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64, AnalysisError> {
    Ok(TrueLabels::new(labels_true).table(labels_pred)?.ari())
}

/// Adjusted mutual information with the expected mutual information under
/// the hypergeometric model and arithmetic-mean normalisation, as
/// scikit-learn's default. Special cases as in scikit-learn 1.9: 1.0 when
/// both labellings have a single label (or are empty), 0.0 when exactly one
/// does. Two labellings that are the same partition score exactly 1.0.
pub fn adjusted_mutual_info_score(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64, AnalysisError> {
    let t = TrueLabels::new(labels_true);
    Ok(ami::ami(&t.table(labels_pred)?, t.entropy))
}

/// Macro-averaged F1 over the true classes after matching clusters to
/// classes one-to-one.
///
/// The matching maximises the total number of points shared by matched
/// (class, cluster) pairs (Hungarian algorithm, pathfinding's
/// `kuhn_munkres` on integer counts). Class `c` matched to cluster `j` then
/// scores `F1 = 2 n_cj / (|c| + |j|)` (harmonic mean of precision `n_cj/|j|`
/// and recall `n_cj/|c|`).
///
/// Non-square case: with fewer clusters than classes, the classes left
/// without a cluster score F1 = 0 and still count in the average; with more
/// clusters than classes, the surplus clusters are simply unmatched (their
/// points already lower the recall of their true classes). Empty input has
/// no classes to average over and scores 0.0. Among several matchings with
/// the same total count, the one `kuhn_munkres` finds is used.
pub fn hungarian_f1(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64, AnalysisError> {
    Ok(TrueLabels::new(labels_true).table(labels_pred)?.hungarian_f1())
}

/// ARI, AMI and F1 together; with many predictions against the same truth,
/// build a [`TrueLabels`] once and call [`TrueLabels::scores`] instead.
pub fn cluster_scores(labels_true: &[usize], labels_pred: &[usize]) -> Result<ClusterScores, AnalysisError> {
    TrueLabels::new(labels_true).scores(labels_pred)
}

/// Per-task mean hidden state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCentroids {
    /// `k x d` row-major means. A task without points gets the zero vector,
    /// which [`nearest_centroid_accuracy`] never predicts.
    pub centroids: Vec<f32>,
    /// Points per task.
    pub counts: Vec<usize>,
    pub k: usize,
    pub d: usize,
}

/// Mean of the points of each task `0..k` (`data` is `labels.len() x d`).
///
/// Errors on a shape mismatch, a label `>= k`, or non-finite data.
pub fn task_centroids(data: &[f32], d: usize, labels: &[usize], k: usize) -> Result<TaskCentroids, AnalysisError> {
    let n = rows_of(data, d)?;
    if n != labels.len() {
        return Err(AnalysisError::LengthMismatch { what: "labels", got: labels.len(), expected: n });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= k) {
        return Err(AnalysisError::LabelOutOfRange { label, k });
    }
    check_finite(data, d)?;
    Ok(task_centroids_valid(data, d, labels, k))
}

/// [`task_centroids`] for inputs already checked (finite data, matching
/// lengths, labels `< k`); labels out of range are skipped, not a panic.
pub(crate) fn task_centroids_valid(data: &[f32], d: usize, labels: &[usize], k: usize) -> TaskCentroids {
    let mut sums = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    for (row, &l) in data.chunks_exact(d.max(1)).zip(labels) {
        if l >= k {
            continue;
        }
        counts[l] += 1;
        for (s, &v) in sums[l * d..(l + 1) * d].iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    let centroids = sums
        .chunks_exact(d.max(1))
        .zip(&counts)
        .flat_map(|(s, &c)| s.iter().map(move |&v| if c > 0 { (v / c as f64) as f32 } else { 0.0 }))
        .collect();
    TaskCentroids { centroids, counts, k, d }
}

/// Fraction of points whose nearest task centroid (among tasks that have
/// points) is their own task. Empty `data` scores 0.0: nothing was
/// classified correctly. Errors on shape mismatches.
pub fn nearest_centroid_accuracy(tc: &TaskCentroids, data: &[f32], labels: &[usize]) -> Result<f64, AnalysisError> {
    let n = rows_of(data, tc.d)?;
    if n != labels.len() {
        return Err(AnalysisError::LengthMismatch { what: "labels", got: labels.len(), expected: n });
    }
    if n == 0 {
        return Ok(0.0);
    }
    // Only occupied tasks are candidates; map compacted indices back.
    let occupied: Vec<usize> = (0..tc.k).filter(|&t| tc.counts[t] > 0).collect();
    let cents: Vec<f32> =
        occupied.iter().flat_map(|&t| tc.centroids[t * tc.d..(t + 1) * tc.d].iter().copied()).collect();
    if occupied.is_empty() {
        return Ok(0.0);
    }
    let correct = data
        .chunks_exact(tc.d)
        .zip(labels)
        .filter(|(row, &l)| occupied[nearest_centroid(&cents, occupied.len(), tc.d, row)] == l)
        .count();
    Ok(correct as f64 / n as f64)
}
