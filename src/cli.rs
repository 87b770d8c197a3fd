//! Front ends without the terminal app: headless training with a progress bar on stderr and a
//! summary (or JSON) on stdout, and the training benchmark.

pub mod bench;
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
    #[error("cannot start training: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(#[from] ctrlc::Error),
    #[error("cannot encode the summary: {0}")]
    Encode(#[from] serde_json::Error),
}

impl Kind for CliError {
    fn kind(&self) -> ErrorKind {
        match self {
            CliError::Run(f) => f.kind,
            CliError::NoSummary | CliError::Spawn(_) | CliError::Signal(_) | CliError::Encode(_) => ErrorKind::Internal,
        }
    }
}
