//! Where a probe's hidden state lands relative to one layer's clusters.

use serde::{Deserialize, Serialize};

use super::LayerAnalysis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Projected with the layer's PCA basis, like every analysed point.
    pub point: [f32; 2],
    /// Task whose seen-point centroid is nearest in the full hidden space.
    pub nearest_task: usize,
    /// Euclidean distance to each task's centroid (full dimension).
    pub distances: Vec<f32>,
}

/// `None` when the layer was not analysed or the hidden state has the wrong size.
pub fn place(layer: &LayerAnalysis, hidden: &[f32]) -> Option<Placement> {
    let d = layer.pca.mean.len();
    if layer.error.is_some() || d == 0 || hidden.len() != d || hidden.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let k = layer.task_centroids.len() / d;
    let distances: Vec<f32> = (0..k)
        .map(|t| {
            let c = &layer.task_centroids[t * d..(t + 1) * d];
            c.iter().zip(hidden).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt()
        })
        .collect();
    // Tasks without seen points have a zero centroid that means nothing; skip them.
    let nearest_task = (0..k)
        .filter(|&t| layer.task_counts.get(t).copied().unwrap_or(0) > 0)
        .min_by(|&a, &b| distances[a].total_cmp(&distances[b]))?;
    Some(Placement { point: layer.pca.project(hidden), nearest_task, distances })
}
