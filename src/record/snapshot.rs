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
    /// Whether the model answered each analysis point right (seen points, then unseen), so
    /// accuracy can be broken down by rule or task afterwards. Empty in sessions made before
    /// it was kept.
    #[serde(default, with = "bits", skip_serializing_if = "Vec::is_empty")]
    pub correct: Vec<bool>,
    /// Per layer: PCA basis and projections, clusters, centroids, scores.
    pub analysis: CheckpointAnalysis,
}

impl Snapshot {
    /// Scores of one layer, if it was analysed.
    pub fn layer(&self, layer: usize) -> Option<&LayerAnalysis> {
        self.analysis.layers.get(layer)
    }
}

/// A `Vec<bool>` as a string of `0` and `1`: a fifth of the size of a JSON list of booleans.
mod bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[bool], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(|&b| if b { '1' } else { '0' }).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<bool>, D::Error> {
        let text = String::deserialize(d)?;
        text.chars()
            .map(|c| match c {
                '0' => Ok(false),
                '1' => Ok(true),
                other => Err(serde::de::Error::custom(format!("{other:?} in a list of answers right (0/1)"))),
            })
            .collect()
    }
}
