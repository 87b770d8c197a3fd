//! Sessions on disk, and nothing else: the format, the layout of a session directory, reading,
//! writing (atomically, as training goes), the manifest and the probes file. What is shown or
//! exported from a session lives in `report`.

pub mod checksum;
pub mod file;
pub mod format;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod probes;
pub mod reader;
pub mod study;
pub mod sweep;
pub mod writer;

use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, Kind};

pub use format::{Manifest, RunStatus};
pub use layout::SessionDir;
pub use lock::SessionLock;
pub use probes::SavedProbe;
pub use reader::{Damage, Session};
pub use writer::SessionWriter;

/// What can be wrong with a session; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}: no such session directory")]
    Missing(PathBuf),
    #[error("{0}: not a clusterscope session (no manifest.json)")]
    NoManifest(PathBuf),
    #[error("{}: a session already exists here (resume it with --resume, or choose another --name/--out)", .0.display())]
    Exists(PathBuf),
    /// Another process writes this session now.
    #[error("session {} is being written by {holder}; wait for it or choose another --out", dir.display())]
    Busy { dir: PathBuf, holder: String },
    /// A directory that holds other files: a session is never written among them.
    #[error("{}: not empty and not a clusterscope session; choose another --out (nothing was written)", .0.display())]
    Occupied(PathBuf),
    #[error("{file}: {reason}")]
    Corrupt { file: PathBuf, reason: String },
    /// A checkpoint asked for by step that the session holds but cannot use.
    #[error("{file}: {reason}; checkpoint {step} is damaged")]
    Damaged { step: usize, file: PathBuf, reason: String },
    /// A checkpoint asked for (a step, or `last`) that the session does not list.
    #[error("{}: no checkpoint {which:?} (checkpoints at steps: {have})", dir.display())]
    NoCheckpoint { dir: PathBuf, which: String, have: String },
    /// Checkpoints are listed, none of them can be used.
    #[error("{}: no intact checkpoint ({count} damaged, the first {first})", dir.display())]
    NoIntactCheckpoint { dir: PathBuf, count: usize, first: String },
    #[error(
        "{file}: session format version {found}, this clusterscope reads up to {supported} (upgrade clusterscope)"
    )]
    NewerVersion { file: PathBuf, found: u32, supported: u32 },
    #[error("{file}: not a clusterscope session file (format {found:?})")]
    Foreign { file: PathBuf, found: String },
    /// A session file that should be there could not be read.
    #[error("{file}: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    /// Writing the session failed (a full disk, permissions).
    #[error("{file}: {source}")]
    Write { file: PathBuf, source: std::io::Error },
    #[error("cannot encode session data: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cannot encode the experiment spec: {0}")]
    Spec(#[from] toml::ser::Error),
}

impl SessionError {
    pub fn read(file: &Path, source: std::io::Error) -> Self {
        SessionError::Read { file: file.to_path_buf(), source }
    }

    pub fn write(file: &Path, source: std::io::Error) -> Self {
        SessionError::Write { file: file.to_path_buf(), source }
    }

    pub fn corrupt(file: &Path, reason: impl Into<String>) -> Self {
        SessionError::Corrupt { file: file.to_path_buf(), reason: reason.into() }
    }
}

impl Kind for SessionError {
    fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Missing(_)
            | SessionError::NoManifest(_)
            | SessionError::Exists(_)
            | SessionError::Occupied(_)
            | SessionError::NoCheckpoint { .. }
            | SessionError::Busy { .. } => ErrorKind::Usage,
            SessionError::Corrupt { .. }
            | SessionError::Damaged { .. }
            | SessionError::NoIntactCheckpoint { .. }
            | SessionError::NewerVersion { .. }
            | SessionError::Foreign { .. }
            | SessionError::Read { .. } => ErrorKind::BadData,
            SessionError::Write { .. } | SessionError::Encode(_) | SessionError::Spec(_) => ErrorKind::Internal,
        }
    }
}
