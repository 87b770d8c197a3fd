//! `[[phases]]` in an experiment spec: a run in parts, each with its own steps, learning rate,
//! data and extra losses.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    pub name: String,
    pub steps: usize,
    #[serde(default)]
    pub data: PhaseData,
    /// Task names this phase trains on (instructions, task identity); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<String>>,
    /// Which of every task's trained distributions this phase samples; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributions: Option<Vec<usize>>,
    /// `data = "tables"`: the task whose table is learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default)]
    pub schedule: Schedule,
    /// Peak learning rate of a restarted schedule; `train.lr` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Warm-up steps of a restarted schedule; `train.warmup` (at most a tenth of the phase) when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<usize>,
    #[serde(default)]
    pub targets: Targets,
    /// `targets = "override"`: the fraction of each trained task's entries given a new answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub align: Option<AlignSpec>,
}

/// What a phase trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseData {
    /// Instructions sampled from the tasks' distributions, as a run without phases.
    #[default]
    Instructions,
    /// The instruction replaced by one token per task, `<NAME>`.
    TaskIdentity,
    /// One task's table with no instruction at all: `<bos> <sep> input <ans> output`.
    Tables,
}

impl PhaseData {
    pub fn name(self) -> &'static str {
        match self {
            PhaseData::Instructions => "instructions",
            PhaseData::TaskIdentity => "task_identity",
            PhaseData::Tables => "tables",
        }
    }
}

/// How a phase's learning rate moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Warm-up then cosine decay over this phase alone, from the phase's `lr`.
    #[default]
    Restart,
    /// The run-wide schedule (warm-up then cosine over all phases' steps) goes on.
    Continue,
}

/// The answers a phase trains towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// The tasks' tables as the spec (or its seed) gives them.
    #[default]
    Spec,
    /// The tables with `override_fraction` of each trained task's entries changed (seeded).
    Override,
    /// The model's own greedy answers at the end of the previous phase, to this phase's
    /// instructions.
    #[serde(rename = "self")]
    SelfAnswers,
}

/// An auxiliary loss on the hidden state at the clustered position: a cross-entropy over cosine
/// similarities to the batch's task centroids (see the README, "Alignment loss").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignSpec {
    #[serde(default = "default_align_weight")]
    pub weight: f64,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// The hidden layer it acts on (0 = embeddings); the deepest block when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
}

fn default_align_weight() -> f64 {
    0.1
}

fn default_temperature() -> f64 {
    0.1
}
