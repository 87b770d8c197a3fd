//! The experiment spec: the TOML file that fixes every choice the paper leaves open.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The embedded default experiment (8 tasks, 16 symbols, 4 instruction distributions per task).
pub const DEFAULT_SPEC: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// The shared input alphabet; outputs are drawn from it too.
    pub symbols: Vec<String>,
    /// Index of the distribution held out for every task that does not say otherwise.
    #[serde(default = "default_held_out")]
    pub held_out: Vec<usize>,
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub train: TrainSpec,
}

fn default_held_out() -> Vec<usize> {
    vec![3]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    /// The task's instruction distributions, each a word regex.
    pub instructions: Vec<String>,
    /// Overrides the experiment-wide `held_out` for this task.
    #[serde(default)]
    pub held_out: Option<Vec<usize>>,
    /// An explicit lookup table input -> output; generated from the seed when absent.
    #[serde(default)]
    pub table: Option<BTreeMap<String, String>>,
}

/// Which position's hidden state is clustered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenPosition {
    /// The `<ans>` token, whose output predicts the answer. Its residual stream is dominated by
    /// the input symbol read just before, so it clusters weakly by task.
    Answer,
    /// The last word of the instruction: the model has read the whole instruction and nothing
    /// else, so this is where the task representation forms (the default).
    #[default]
    LastInstruction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    #[serde(default = "default_preset")]
    pub preset: String,
    pub d_model: Option<usize>,
    pub layers: Option<usize>,
    pub heads: Option<usize>,
    pub d_ff: Option<usize>,
    /// Position-embedding length; defaults to what the longest sequence needs, at least 32.
    pub context: Option<usize>,
    #[serde(default)]
    pub hidden_position: HiddenPosition,
}

fn default_preset() -> String {
    "default".into()
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            preset: default_preset(),
            d_model: None,
            layers: None,
            heads: None,
            d_ff: None,
            context: None,
            hidden_position: HiddenPosition::LastInstruction,
        }
    }
}

/// Which tokens the loss is taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossOn {
    #[default]
    Answer,
    Sequence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup: usize,
    /// Final learning rate as a fraction of `lr` after cosine decay.
    pub min_lr_ratio: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Global gradient-norm clip; 0 turns it off.
    pub grad_clip: f64,
    /// About how many checkpoints a run makes (plus step 0 and the final step).
    pub checkpoints: usize,
    /// A checkpoint is also made once this many minutes have passed since the last one, so a
    /// long run always has recent progress on disk; 0 turns the clock off.
    pub checkpoint_minutes: f64,
    pub loss: LossOn,
    /// Seen (instruction, input) pairs per task in the fixed analysis set.
    pub analysis_per_task: usize,
    /// Unseen (held-out instruction, input) pairs per task in the analysis set.
    pub unseen_per_task: usize,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            steps: 1000,
            batch_size: 64,
            lr: 1e-3,
            warmup: 100,
            min_lr_ratio: 0.1,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.98,
            grad_clip: 1.0,
            checkpoints: 20,
            checkpoint_minutes: 10.0,
            loss: LossOn::Answer,
            analysis_per_task: 256,
            unseen_per_task: 64,
        }
    }
}

impl ExperimentSpec {
    pub fn default_spec() -> Result<Self, toml::de::Error> {
        Self::from_toml(DEFAULT_SPEC)
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}
