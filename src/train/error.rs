//! What can go wrong while training, analysing or probing.

use std::path::PathBuf;

use crate::error::{ErrorKind, Kind};
use crate::experiment::probe::ProbeError;
use crate::experiment::prompts::PromptError;
use crate::model::device::DeviceError;
use crate::model::pretrained::PretrainedError;
use crate::session::SessionError;
use crate::train::weights::WeightsError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The model library failed while doing `what`.
    #[error("{what}: {source}")]
    Model { what: String, source: candle_core::Error },
    #[error("{}: the session has no checkpoint to resume from", .0.display())]
    NothingToResume(PathBuf),
    #[error("{}: made by `analyze` from pretrained models; it has no training to resume", .0.display())]
    NotTrained(PathBuf),
    /// A checkpoint's saved state could not be loaded.
    #[error("{}: cannot resume: {source}", file.display())]
    Resume { file: PathBuf, source: candle_core::Error },
    /// A checkpoint's saved weights or optimizer state are damaged.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("cannot start the {thread} thread: {source}")]
    Thread { thread: &'static str, source: std::io::Error },
    #[error("the analysis thread stopped")]
    AnalyserGone,
    /// A model directory `analyze` cannot read.
    #[error(transparent)]
    Pretrained(#[from] PretrainedError),
    /// A prompt set `analyze` cannot read.
    #[error(transparent)]
    Prompts(#[from] PromptError),
    /// Models that cannot be analysed together.
    #[error("{0}")]
    Models(String),
    /// A prompt the model cannot read as asked.
    #[error("prompt {index} ({instruction:?}): {reason}")]
    Prompt { index: usize, instruction: String, reason: String },
    /// A checkpoint could not be analysed or saved (the message says which and why).
    #[error("{0}")]
    Analysis(String),
}

impl TrainError {
    /// Wraps a model-library error with what was being done.
    pub fn model(what: impl Into<String>) -> impl FnOnce(candle_core::Error) -> TrainError {
        let what = what.into();
        move |source| TrainError::Model { what, source }
    }
}

impl Kind for TrainError {
    fn kind(&self) -> ErrorKind {
        match self {
            TrainError::Device(e) => e.kind(),
            TrainError::Session(e) => e.kind(),
            TrainError::NothingToResume(_) | TrainError::NotTrained(_) => ErrorKind::Usage,
            TrainError::Resume { .. } => ErrorKind::BadData,
            TrainError::Weights(e) => e.kind(),
            TrainError::Pretrained(e) => e.kind(),
            TrainError::Prompts(e) => e.kind(),
            TrainError::Models(_) | TrainError::Prompt { .. } => ErrorKind::BadData,
            TrainError::Model { .. }
            | TrainError::Thread { .. }
            | TrainError::AnalyserGone
            | TrainError::Analysis(_) => ErrorKind::Internal,
        }
    }
}

/// Why a probe could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFault {
    #[error(transparent)]
    Input(#[from] ProbeError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("probe outside the vocabulary")]
    OutsideVocabulary,
    #[error("no checkpoint at step {step} in {}", session.display())]
    NoCheckpoint { step: usize, session: PathBuf },
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A pretrained model's files could not be loaded.
    #[error(transparent)]
    Pretrained(#[from] PretrainedError),
    #[error("no model at step {step}: the session analyses {count} models (steps 0 to {})", .count.saturating_sub(1))]
    NoModel { step: usize, count: usize },
    #[error("a probe needs some text")]
    Empty,
    #[error("{text:?} has no tokens of its own once placed in the template")]
    NoInstructionTokens { text: String },
    #[error("the prompt is {tokens} tokens; the model reads at most {context} and needs room for an answer")]
    TooLong { tokens: usize, context: usize },
    #[error("probe failed: {0}")]
    Model(#[from] candle_core::Error),
}

impl Kind for ProbeFault {
    fn kind(&self) -> ErrorKind {
        match self {
            ProbeFault::Input(e) => e.kind(),
            ProbeFault::Device(e) => e.kind(),
            ProbeFault::OutsideVocabulary
            | ProbeFault::NoCheckpoint { .. }
            | ProbeFault::NoModel { .. }
            | ProbeFault::Empty
            | ProbeFault::NoInstructionTokens { .. }
            | ProbeFault::TooLong { .. } => ErrorKind::Usage,
            ProbeFault::Weights(e) => e.kind(),
            ProbeFault::Pretrained(e) => e.kind(),
            ProbeFault::Model(_) => ErrorKind::Internal,
        }
    }
}
