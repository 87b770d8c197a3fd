//! The messages between a training run and whoever watches it (headless CLI, terminal app):
//! one command type into the trainer, and one event type per producer out of it. Plain data
//! only: no tensors cross this boundary. The prober, the third producer, answers
//! [`ProbeRequest`](crate::record::ProbeRequest)s with [`ProbeResult`](crate::record::ProbeResult)s.

use crate::error::ErrorKind;
use crate::record::{Progress, RunInfo, Snapshot, Summary};

/// Commands into the trainer, checked between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainerCommand {
    Pause,
    Resume,
    /// Save a checkpoint at the current step, then finish.
    Stop(StopCause),
}

/// Who asked a run to stop, for the session's record of why it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// `q` in the app.
    User,
    /// SIGINT, SIGTERM or SIGHUP (the handler cannot tell which).
    Signal,
}

impl StopCause {
    pub fn describe(self) -> &'static str {
        match self {
            StopCause::User => "stopped by the user",
            StopCause::Signal => "stopped by a signal (SIGINT, SIGTERM or SIGHUP)",
        }
    }
}

/// What the training loop reports.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainerEvent {
    Started(Box<RunInfo>),
    Progress(Progress),
    Finished(Summary),
    /// The run cannot go on; it stops after sending this.
    Failed(Failure),
}

/// What the analysis thread reports: each checkpoint once it is analysed and saved.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalyserEvent {
    Checkpoint(Box<Snapshot>),
    /// A checkpoint could not be saved; the run stops.
    Failed(Failure),
}

/// Why a run failed, as a watcher needs it: the message to show and the kind of failure (for
/// the exit code). The error itself stays on the thread that met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }

    /// A failure of the run itself (not of anything the user gave).
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + crate::error::Kind> From<&E> for Failure {
    fn from(e: &E) -> Self {
        Failure::new(e.kind(), e.to_string())
    }
}
