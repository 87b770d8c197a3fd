//! Built-in studies: arms (specs that differ in one thing) times seeds, each run an ordinary
//! session, run a few at a time on this machine through the sweep's process pool, each run
//! measured by its own process once it has trained, then summarised by `report`. The study's
//! own file says what the runs are; each run's session and metrics file say how far it got, so
//! a study run again picks up where it stopped.
//!
//! A floor above `sweep` (the house map puts them side by side): a study's runs are trained and
//! pooled exactly as a sweep's points are, by the same code.

pub mod builtin;
pub mod definition;
pub mod launch;
pub mod metrics;
pub mod plan;
pub mod runner;

use std::path::PathBuf;

use crate::error::{ErrorKind, Kind};
use crate::experiment::SpecError;
use crate::model::config::ConfigError;
use crate::session::SessionError;
use crate::sweep::SweepError;
use crate::train::TrainError;

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("no built-in study {name:?}: there are {known} (see `clusterscope study list`)")]
    UnknownStudy { name: String, known: String },
    #[error("--seeds {0}: {1}")]
    Seeds(usize, &'static str),
    #[error("{}: holds a different study (another study, size or seeds); choose another --out", .0.display())]
    Different(PathBuf),
    #[error("{}: not empty and not a clusterscope study; choose another --out (nothing was written)", .0.display())]
    Occupied(PathBuf),
    #[error("{}: not a clusterscope study (no study.json)", .0.display())]
    NotAStudy(PathBuf),
    #[error("{}: no run {index} (the study has {count})", dir.display())]
    NoRun { dir: PathBuf, index: usize, count: usize },
    /// An embedded definition that cannot be used: a defect of this program.
    #[error("built-in study {study:?} is malformed: {reason}")]
    Definition { study: String, reason: String },
    #[error("built-in study metric {0:?} is not one this program measures")]
    UnknownMetric(String),
    #[error("arm {arm}: {source}")]
    Arm { arm: String, source: SpecError },
    #[error("arm {arm}: {source}")]
    Model { arm: String, source: ConfigError },
    #[error("{run}: {source}")]
    Run { run: String, source: Box<SweepError> },
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("{} of {} runs did not finish: {}", failed.len(), total, failed.join("; "))]
    Unfinished { failed: Vec<String>, total: usize },
}

impl Kind for StudyError {
    fn kind(&self) -> ErrorKind {
        match self {
            StudyError::UnknownStudy { .. }
            | StudyError::Seeds(..)
            | StudyError::Different(_)
            | StudyError::Occupied(_)
            | StudyError::NotAStudy(_)
            | StudyError::NoRun { .. } => ErrorKind::Usage,
            StudyError::Arm { source, .. } => source.kind(),
            StudyError::Model { .. } => ErrorKind::BadData,
            StudyError::Run { source, .. } => source.kind(),
            StudyError::Session(e) => e.kind(),
            StudyError::Sweep(e) => e.kind(),
            StudyError::Train(e) => e.kind(),
            StudyError::Definition { .. } | StudyError::UnknownMetric(_) | StudyError::Unfinished { .. } => {
                ErrorKind::Internal
            }
        }
    }
}
