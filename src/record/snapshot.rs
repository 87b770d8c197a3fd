//! One checkpoint as the UI, the session files and the reports see it.

use serde::{Deserialize, Serialize};

use crate::analysis::{CheckpointAnalysis, LayerAnalysis};

/// Everything known at one checkpoint; live training and replay both feed these to the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub step: usize,
    /// Mean training loss over the steps since the previous checkpoint; 0 at step 0, before any
    /// training step (never NaN).
    pub loss: f32,
    pub seen_accuracy: f64,
    pub unseen_accuracy: f64,
    pub elapsed_s: f64,
    /// Per layer: PCA basis and projections, clusters, centroids, scores.
    pub analysis: CheckpointAnalysis,
}

impl Snapshot {
    /// Scores of one layer, if it was analysed.
    pub fn layer(&self, layer: usize) -> Option<&LayerAnalysis> {
        self.analysis.layers.get(layer)
    }
}
