//! The experiment spec: the TOML file that fixes every choice the paper leaves open.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod phase;
pub use phase::{AlignSpec, PhaseData, PhaseSpec, Schedule, Targets};

/// The embedded default experiment (8 tasks, 16 symbols, 4 instruction distributions per task).
pub const DEFAULT_SPEC: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// The shared input alphabet; outputs are drawn from it too (lookup tables only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<String>,
    /// Index of the distribution held out for every task that does not say otherwise.
    #[serde(default = "default_held_out")]
    pub held_out: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskSpec>,
    /// The string-rewrite family, in place of `symbols` and `tasks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<RewriteSpec>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub train: TrainSpec,
    /// The run in parts; without any, one part of `train.steps` steps on the instructions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseSpec>,
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

/// `[rewrite]` in an experiment spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteSpec {
    /// The characters rules and strings are made of; each is one token.
    pub alphabet: String,
    /// Shortest and longest x, inclusive.
    #[serde(default = "default_x_len")]
    pub x_len: [usize; 2],
    /// Shortest and longest y (0 allows deletions).
    #[serde(default = "default_x_len")]
    pub y_len: [usize; 2],
    /// Shortest and longest input z.
    #[serde(default = "default_z_len")]
    pub z_len: [usize; 2],
    /// Distinct rules trained on.
    pub rules: usize,
    /// Training examples of each rule; give this or `budget`.
    #[serde(default)]
    pub examples_per_rule: Option<usize>,
    /// Training examples in all, split evenly across the rules (at least one each).
    #[serde(default)]
    pub budget: Option<usize>,
    /// Fraction of examples whose z does not contain x (their answer is z).
    #[serde(default = "default_noop")]
    pub noop_fraction: f64,
    /// Rules never trained on, whose accuracy is the unseen-rule accuracy. They are drawn before
    /// the training rules, so runs that differ only in `rules` test the same held-out rules.
    #[serde(default = "default_held_out_rules")]
    pub held_out_rules: usize,
    /// What the hidden states are coloured and scored by.
    #[serde(default)]
    pub label: RewriteLabel,
    /// Training rules in the analysis set (all of them when fewer).
    #[serde(default = "default_analysis_rules")]
    pub analysis_rules: usize,
    /// Fresh examples per rule in the analysis set, for seen and held-out rules alike.
    #[serde(default = "default_analysis_per_rule")]
    pub analysis_per_rule: usize,
}

fn default_x_len() -> [usize; 2] {
    [1, 2]
}
fn default_z_len() -> [usize; 2] {
    [4, 8]
}
fn default_noop() -> f64 {
    0.2
}
fn default_held_out_rules() -> usize {
    32
}
fn default_analysis_rules() -> usize {
    64
}
fn default_analysis_per_rule() -> usize {
    8
}

/// The classes hidden states are coloured and scored by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewriteLabel {
    /// The first character of x: known once the rule is read.
    #[default]
    FirstX,
    /// Whether x occurs in z: known only after z is read (pair with `hidden_position = "answer"`).
    Noop,
}
