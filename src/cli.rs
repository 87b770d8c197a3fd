//! Front ends without the terminal app: headless training with a progress bar on stderr and a
//! summary (or JSON) on stdout, the training benchmark, sweeps, comparisons' JSON and figures,
//! and the analysis of pretrained models.

pub mod analyze;
pub mod bench;
pub mod compare;
pub mod export;
pub mod headless;
pub mod prepare;
pub mod study;
pub mod sweep;

use crate::error::{ErrorKind, Kind};
use crate::train::Failure;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("training failed: {0}")]
    Run(Failure),
    #[error("training stopped without a summary")]
    NoSummary,
    /// `analyze` could not start or finish.
    #[error(transparent)]
    Analyze(#[from] crate::train::TrainError),
    #[error("cannot start training: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(#[from] ctrlc::Error),
    #[error("cannot encode the summary: {0}")]
    Encode(#[from] serde_json::Error),
    /// Boxed: a report's error is large, and training's errors travel the same type.
    #[error(transparent)]
    Report(Box<crate::report::ReportError>),
    /// `compare` without `--json` or `--figures` opens the app, which needs a terminal.
    #[error("stdout is not a terminal: the compare view needs one (without it, use --json or --figures OUT)")]
    CompareNeedsTerminal,
}

impl From<crate::report::ReportError> for CliError {
    fn from(e: crate::report::ReportError) -> Self {
        CliError::Report(Box::new(e))
    }
}

impl Kind for CliError {
    fn kind(&self) -> ErrorKind {
        match self {
            CliError::Run(f) => f.kind,
            CliError::Report(e) => e.kind(),
            CliError::Analyze(e) => e.kind(),
            CliError::CompareNeedsTerminal => ErrorKind::Usage,
            CliError::NoSummary | CliError::Spawn(_) | CliError::Signal(_) | CliError::Encode(_) => ErrorKind::Internal,
        }
    }
}
