//! Sweeps: a grid of spec values times seeds, each point an ordinary session, run a few at a time
//! on this machine or as a Slurm job array. The sweep's own file says what the points are; each
//! point's session says how far it got, so a sweep run again picks up where it stopped.

pub mod builtin;
pub mod grid;
pub mod point;
pub mod pool;
pub mod slurm;

use std::path::PathBuf;

use crate::error::{ErrorKind, Kind};
use crate::experiment::SpecError;
use crate::model::config::ConfigError;
use crate::session::SessionError;
use crate::train::TrainError;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A `--grid` that cannot be read.
    #[error("--grid {given:?}: {reason}")]
    Grid { given: String, reason: String },
    /// A point whose spec does not validate.
    #[error("point {index} ({params}): {source}")]
    Point { index: usize, params: String, source: SpecError },
    #[error("{}: holds a different sweep (another spec, grid or seeds); choose another --out", .0.display())]
    Different(PathBuf),
    #[error("{}: no point {index} (the sweep has {count})", dir.display())]
    NoPoint { dir: PathBuf, index: usize, count: usize },
    #[error("no built-in sweep {name:?}: there are {known}")]
    UnknownBuiltin { name: String, known: String },
    #[error("point {index}: {source}")]
    Model { index: usize, source: ConfigError },
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("point {index}: {message}")]
    Run { index: usize, kind: ErrorKind, message: String },
    #[error("cannot start {what}: {source}")]
    Spawn { what: String, source: std::io::Error },
    /// Slurm refused or is not there.
    #[error("slurm: {0}")]
    Slurm(String),
    #[error("{} of {} points did not finish: {}", failed.len(), total, failed.join("; "))]
    Unfinished { failed: Vec<String>, total: usize },
}

impl Kind for SweepError {
    fn kind(&self) -> ErrorKind {
        match self {
            SweepError::Grid { .. }
            | SweepError::Different(_)
            | SweepError::NoPoint { .. }
            | SweepError::UnknownBuiltin { .. } => ErrorKind::Usage,
            SweepError::Point { source, .. } => source.kind(),
            SweepError::Model { .. } => ErrorKind::BadData,
            SweepError::Session(e) => e.kind(),
            SweepError::Train(e) => e.kind(),
            SweepError::Run { kind, .. } => *kind,
            SweepError::Spawn { .. } | SweepError::Slurm(_) | SweepError::Unfinished { .. } => ErrorKind::Internal,
        }
    }
}
