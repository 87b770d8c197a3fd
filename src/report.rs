//! What a session shows outside the program: `show`'s summary, a probe's report, paper figures
//! (PNG/SVG) and exports for Python (`.npy`, CSV, JSON) and for TensorBoard's projector; several
//! sessions compared.

pub mod analyzed;
pub mod check;
pub mod compare;
pub mod compare_figures;
pub mod compare_json;
pub mod depth;
pub mod export;
pub mod figures;
pub mod npy;
pub mod probe_report;
pub mod projector;
pub mod session_header;
pub mod study_data;
pub mod study_figures;
pub mod study_report;
pub mod summary;
pub mod sweep_figures;
pub mod sweep_series;
pub mod sweep_summary;

use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, Kind};
use crate::session::SessionError;
use crate::train::WeightsError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A checkpoint or layer that the session does not have.
    #[error("{}: {what}", session.display())]
    NotInSession { session: PathBuf, what: String },
    /// The session's files do not give what the report needs.
    #[error("{}: {reason}", file.display())]
    Inconsistent { file: PathBuf, reason: String },
    #[error("{}: cannot {what}: {source}", file.display())]
    Model { file: PathBuf, what: &'static str, source: candle_core::Error },
    #[error("{}: {source}", file.display())]
    Write { file: PathBuf, source: std::io::Error },
    #[error("{}: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    #[error("{}: cannot draw figure ({reason})", file.display())]
    Draw { file: PathBuf, reason: String },
    #[error("the embedded figure font cannot be read")]
    Font,
    /// `compare` takes 2 to 6 sessions.
    #[error("compare takes {min} to {max} session directories, {0} given", min = compare::MIN_SESSIONS, max = compare::MAX_SESSIONS)]
    SessionCount(usize),
    #[error("cannot encode the report: {0}")]
    Encode(#[from] serde_json::Error),
}

impl ReportError {
    pub fn write(file: &Path, source: std::io::Error) -> Self {
        ReportError::Write { file: file.to_path_buf(), source }
    }
}

impl Kind for ReportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReportError::Session(e) => e.kind(),
            ReportError::Weights(e) => e.kind(),
            ReportError::NotInSession { .. } | ReportError::SessionCount(_) => ErrorKind::Usage,
            ReportError::Inconsistent { .. } | ReportError::Model { .. } | ReportError::Read { .. } => {
                ErrorKind::BadData
            }
            ReportError::Write { .. } | ReportError::Draw { .. } | ReportError::Font | ReportError::Encode(_) => {
                ErrorKind::Internal
            }
        }
    }
}
