//! A probe: the model at one checkpoint run on an instruction the user typed.

use serde::{Deserialize, Serialize};

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

/// What the UI asks of the probe thread, in the order it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeCommand {
    Run(ProbeRequest),
    /// Probe `id` (made as `text`) was deleted: it is forgotten by the session too, so replay
    /// does not bring it back.
    Forget {
        id: u64,
        text: String,
    },
}

impl From<ProbeRequest> for ProbeCommand {
    fn from(r: ProbeRequest) -> Self {
        ProbeCommand::Run(r)
    }
}

/// The answer to a [`ProbeRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub id: u64,
    pub step: usize,
    pub text: String,
    pub outcome: ProbeOutcome,
}

/// The answer, or why the probe could not run.
pub type ProbeOutcome = Result<ProbeAnswer, ProbeFailure>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    pub words: Vec<String>,
    pub input: String,
    /// Hidden state per layer 0..=L at the analysed position (d_model each).
    pub hidden: Vec<Vec<f32>>,
    /// The model's greedy answer token and its probability.
    pub answer: String,
    pub answer_probability: f32,
    /// Gradient x input of the answer's logit (summed over its tokens), per instruction word.
    pub attribution: Vec<f32>,
}

/// Why a probe could not run, as the one line the user reads (unknown word, missing weights,
/// ...). It crosses threads and is shown, never matched on, so it is kept as its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProbeFailure(pub String);

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ProbeFailure {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for ProbeFailure {
    fn from(s: String) -> Self {
        ProbeFailure(s)
    }
}

impl From<&str> for ProbeFailure {
    fn from(s: &str) -> Self {
        ProbeFailure(s.to_string())
    }
}
