//! The on-disk session format.
//!
//! ```text
//! <session>/
//!   manifest.json                 written last, atomically: the list of complete checkpoints
//!   .lock                         flock'd by the one process writing the session (its pid inside)
//!   points.json                   the analysis set: task, seen/unseen, instruction, input
//!   log.jsonl                     training log, one JSON object per logging interval
//!   probes.jsonl                  probes made, one JSON object per line
//!   checkpoints/step-000100/
//!     weights.safetensors         model weights at that step
//!     snapshot.json               the Snapshot: scores, PCA bases, projections, clusters
//!     optimizer.safetensors       AdamW moments (latest checkpoint only, for --resume)
//!     hidden.safetensors          a session made by `analyze`: every layer's hidden states,
//!                                 in place of weights (the model stays in its own directory)
//! ```
//! A checkpoint directory is written as `step-N.tmp/` and renamed when complete; the manifest
//! names only renamed directories, so a crash at any moment leaves a readable session. The
//! manifest also records a checksum of each of a checkpoint's files, so damage done later is
//! found when they are read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::experiment::sampling::SamplerState;
use crate::model::ModelConfig;
use crate::record::PhaseMark;

pub const FORMAT_NAME: &str = "clusterscope-session";
/// Bump when the layout or a file's meaning changes; readers refuse newer versions.
pub const FORMAT_VERSION: u32 = 2;
/// What a training run writes: version 2 only added analysed sessions, so a trained session stays
/// readable by clusterscopes that know version 1, and those refuse an analysed one.
pub const TRAINED_FORMAT_VERSION: u32 = 1;

pub const MANIFEST: &str = "manifest.json";
pub const POINTS: &str = "points.json";
pub const LOG: &str = "log.jsonl";
pub const PROBES: &str = "probes.jsonl";
pub const CHECKPOINTS: &str = "checkpoints";
pub const WEIGHTS: &str = "weights.safetensors";
pub const SNAPSHOT: &str = "snapshot.json";
pub const OPTIMIZER: &str = "optimizer.safetensors";
/// Per layer `layer.{l}`: (points, d) f32, the analysis points in `points.json`'s order.
pub const HIDDEN: &str = "hidden.safetensors";
/// Held (flock) by the process writing the session.
pub const LOCK: &str = ".lock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still training, or killed before it could say otherwise.
    Running,
    Finished,
    /// Stopped before the end (the user, a signal, `--stop-at`); resumable.
    Stopped,
    /// Could not go on (divergence, a full disk); `reason` says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub app_version: String,
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The experiment spec as TOML, seed included: enough to rebuild the run.
    pub experiment: String,
    pub seed: u64,
    pub model: ModelConfig,
    pub device: String,
    pub total_steps: usize,
    pub task_names: Vec<String>,
    pub status: RunStatus,
    /// Why the run stopped or failed, in words; absent while it runs and once it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checkpoints: Vec<CheckpointEntry>,
    /// Wall-clock seconds spent training, summed over resumes.
    pub train_seconds: f64,
    /// Where to pick up with `train --resume`.
    pub resume: Option<ResumeState>,
    /// The run's phases (absent in sessions made before phases: one phase then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseMark>,
    /// Targets made from the model's own answers on entering a phase, by phase index:
    /// `[task][input]` symbol indices, an empty row for a task the phase does not train.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phase_targets: BTreeMap<String, Vec<Vec<usize>>>,
    /// Set for a session made by `analyze`: its checkpoints are pretrained models, not steps of
    /// training, and `model` gives only their common shape (layers, width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzed: Option<AnalyzedSource>,
}

/// What `analyze` read to make a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedSource {
    /// In checkpoint order: the checkpoint at step `i` is `models[i]`.
    pub models: Vec<AnalyzedModel>,
    /// `builtin` or the data file as given.
    pub data: String,
    /// With `{instruction}` and `{input}` where the prompt's parts go.
    pub template: String,
    /// `last` or `mean`: where in the instruction each hidden state was read.
    pub position: String,
    /// What the forward pass computed in: `f32`, `bf16` or `f16`.
    pub dtype: String,
}

/// One model an analysed session read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedModel {
    /// The model directory's name: what the checkpoint is called wherever it is shown.
    pub label: String,
    /// Absolute, so probes find the model wherever the session is opened from.
    pub dir: std::path::PathBuf,
    /// As `config.json` names it (`LlamaForCausalLM`, ...).
    pub architecture: String,
    pub parameters: usize,
}

impl Manifest {
    /// How checkpoint `step` is named for the user: its model's label in an analysed session,
    /// `step N` otherwise.
    pub fn checkpoint_label(&self, step: usize) -> String {
        match self.analyzed.as_ref().and_then(|a| a.models.get(step)) {
            Some(m) => m.label.clone(),
            None => format!("step {step}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    pub step: usize,
    /// Directory name under `checkpoints/`.
    pub dir: String,
    pub seen_accuracy: f64,
    pub unseen_accuracy: f64,
    /// Checksum of each file written with the checkpoint, by file name (see `checksum`).
    /// Sessions written before checksums have none, and their files are read unverified.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

impl CheckpointEntry {
    /// The recorded checksum of the checkpoint's file `name`, if any.
    pub fn checksum(&self, name: &str) -> Option<&str> {
        self.checksums.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    pub step: usize,
    pub sampler: SamplerState,
}

/// One line of `log.jsonl`: one per training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub step: usize,
    pub loss: f32,
    pub lr: f64,
    pub elapsed_s: f64,
}
