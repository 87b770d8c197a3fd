//! The one message protocol between the training worker and whoever watches it (headless CLI,
//! terminal app). Plain data only: no tensors cross this boundary.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::analysis::{CheckpointAnalysis, LayerAnalysis};
use crate::session::format::PointInfo;

/// Commands into the worker, checked between steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a probe (answered with [`Event::Probe`]); handled by the probe thread, never the
    /// trainer, so training does not wait for it.
    Probe(ProbeRequest),
    Pause,
    Resume,
    /// Save a checkpoint at the current step, then finish.
    Stop,
    CheckpointNow,
}

/// Events out of the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started(Box<RunInfo>),
    Progress(Progress),
    Checkpoint(Box<Snapshot>),
    /// Something went wrong in the worker; it stops after sending this.
    Error(String),
    Finished(Summary),
    Probe(Box<ProbeResult>),
}

/// Run the model on a typed instruction at one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// Chosen by the UI; results carry it back. Requests for the same id supersede each other.
    pub id: u64,
    /// `instruction words | X`.
    pub text: String,
    /// Checkpoint step whose weights answer.
    pub step: usize,
    /// Record the probe in the session (the first time it is made, not when it follows the user
    /// to other checkpoints).
    pub save: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub id: u64,
    pub step: usize,
    pub text: String,
    /// The answer, or a one-line reason the probe could not run (unknown word, ...).
    pub outcome: Result<ProbeAnswer, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    pub words: Vec<String>,
    pub input: String,
    /// Hidden state per layer 0..=L at the analysed position (d_model each).
    pub hidden: Vec<Vec<f32>>,
    /// The model's greedy answer token and its probability.
    pub answer: String,
    pub answer_probability: f32,
    /// Gradient x input of the answer's probability, per instruction word.
    pub attribution: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub device: String,
    /// Set when `auto` fell back from a GPU to the CPU, with the reason.
    pub device_note: Option<String>,
    pub total_steps: usize,
    pub parameters: usize,
    pub task_names: Vec<String>,
    pub out_dir: PathBuf,
    pub warnings: Vec<String>,
    /// The analysis set, in the order of every Snapshot's points (seen first, then unseen).
    pub points: Vec<PointInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    /// Mean training loss over the steps since the previous progress event.
    pub loss: f32,
    pub lr: f64,
    pub steps_per_s: f64,
    pub paused: bool,
}

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
    /// Checks that the snapshot fits a model with `layers` hidden layers (embeddings included)
    /// and an analysis set of `seen` + `unseen` points; says what does not.
    pub fn check_shape(&self, layers: usize, seen: usize, unseen: usize) -> Result<(), String> {
        if self.analysis.layers.len() != layers {
            return Err(format!("{} analysed layers, the model has {layers}", self.analysis.layers.len()));
        }
        for (i, l) in self.analysis.layers.iter().enumerate() {
            if l.layer != i {
                return Err(format!("layer {i} is labelled {}", l.layer));
            }
            if l.error.is_none() && (l.seen_proj.len() != seen || l.unseen_proj.len() != unseen) {
                return Err(format!(
                    "layer {i}: {} seen and {} unseen points, the session has {seen} and {unseen}",
                    l.seen_proj.len(),
                    l.unseen_proj.len()
                ));
            }
        }
        Ok(())
    }

    /// Scores of one layer, if it was analysed.
    pub fn layer(&self, layer: usize) -> Option<&LayerAnalysis> {
        self.analysis.layers.get(layer)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub steps: usize,
    pub seconds: f64,
    pub loss: f32,
    pub seen_accuracy: f64,
    pub unseen_accuracy: f64,
    pub device: String,
    /// True when the run stopped early at the user's request.
    pub stopped: bool,
}
