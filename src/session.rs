//! Sessions on disk: every run saved as it goes, replayable, resumable, exportable.

pub mod export;
pub mod figures;
pub mod format;
pub mod npy;
pub mod probe_report;
pub mod reader;
pub mod summary;
pub mod writer;

use std::path::{Path, PathBuf};

pub use format::{Manifest, PointInfo, RunStatus};
pub use reader::Session;
pub use writer::SessionWriter;

/// What can be wrong with a session; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}: no such session directory")]
    Missing(PathBuf),
    #[error("{0}: not a clusterscope session (no manifest.json)")]
    NoManifest(PathBuf),
    #[error("{0}: a session already exists here (resume it with --resume, or choose another --name/--out)")]
    Exists(PathBuf),
    #[error("{file}: {reason}")]
    Corrupt { file: PathBuf, reason: String },
    #[error(
        "{file}: session format version {found}, this clusterscope reads up to {supported} (upgrade clusterscope)"
    )]
    NewerVersion { file: PathBuf, found: u32, supported: u32 },
    #[error("{file}: not a clusterscope session file (format {found:?})")]
    Foreign { file: PathBuf, found: String },
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error("cannot encode session data: {0}")]
    Encode(String),
}

impl SessionError {
    pub fn io(file: &Path, source: std::io::Error) -> Self {
        SessionError::Io { file: file.to_path_buf(), source }
    }

    pub fn corrupt(file: &Path, reason: impl Into<String>) -> Self {
        SessionError::Corrupt { file: file.to_path_buf(), reason: reason.into() }
    }
}
