//! One point of a sweep (or run of a study): its state, read from its session, and running it (a
//! new run, a resume of an interrupted one, or nothing when it has finished).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::grid::point_experiment;
use super::SweepError;
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};
use crate::session::lock::holder;
use crate::session::reader::read_manifest;
use crate::session::sweep::{SweepDir, SweepManifest, SweepPoint};
use crate::session::{RunStatus, SessionDir};
use crate::train::{spawn, AnalyserEvent, RunConfig, TrainerEvent};

/// Where a point stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointState {
    /// Not started, or killed before its first checkpoint.
    Pending,
    /// A process writes its session now.
    Running,
    Finished,
    /// Stopped, failed or interrupted: a run again resumes it.
    Unfinished(String),
}

impl PointState {
    pub fn name(&self) -> &'static str {
        match self {
            PointState::Pending => "pending",
            PointState::Running => "running",
            PointState::Finished => "finished",
            PointState::Unfinished(_) => "unfinished",
        }
    }
}

pub fn state(dir: &SweepDir, point: &SweepPoint) -> PointState {
    session_state(&dir.point(point))
}

/// Where the run whose session is (or will be) at `session` stands.
pub fn session_state(session: &Path) -> PointState {
    if holder(&SessionDir::new(session)).is_some() {
        return PointState::Running;
    }
    if !SessionDir::new(session).manifest().exists() {
        return PointState::Pending;
    }
    match read_manifest(session) {
        // Killed before its first checkpoint: it starts again.
        Ok(m) if m.is_unstarted() => PointState::Pending,
        Ok(m) if m.status == RunStatus::Finished => PointState::Finished,
        Ok(m) => {
            let why = match (m.status, m.reason) {
                (_, Some(reason)) => reason,
                (RunStatus::Running, None) => "interrupted".to_string(),
                (status, None) => format!("{status:?}").to_lowercase(),
            };
            PointState::Unfinished(why)
        }
        Err(e) => PointState::Unfinished(e.to_string()),
    }
}

/// What running a point did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    Trained,
    Resumed,
    /// It had finished already.
    Skipped,
}

/// Runs point `index` of the sweep in `dir` to its end on `device`, here, in this process.
pub fn run_point(
    dir: &SweepDir,
    manifest: &SweepManifest,
    index: usize,
    device: DeviceChoice,
) -> Result<Ran, SweepError> {
    let point = manifest.points.get(index).ok_or_else(|| SweepError::NoPoint {
        dir: dir.root().to_path_buf(),
        index,
        count: manifest.points.len(),
    })?;
    let experiment = point_experiment(&manifest.spec, point)?;
    train_session(experiment, manifest.steps, dir.point(point), device, index)
}

/// Trains `experiment` into `session` to its end on `device`, here, in this process: a new run,
/// a resume of an interrupted one, or nothing when it has finished. `index` names the run in
/// errors; `steps` overrides the spec's.
pub fn train_session(
    experiment: Experiment,
    steps: Option<usize>,
    session: PathBuf,
    device: DeviceChoice,
    index: usize,
) -> Result<Ran, SweepError> {
    let model = ModelConfig::from_spec(&experiment.spec.model, experiment.tokenizer.len(), experiment.max_sequence_len)
        .map_err(|source| SweepError::Model { index, source })?;
    let steps = steps.unwrap_or(experiment.default_steps());
    let resume = match session_state(&session) {
        PointState::Finished => return Ok(Ran::Skipped),
        PointState::Pending => false,
        // A running one is refused by its lock, with who holds it.
        PointState::Running | PointState::Unfinished(_) => true,
    };
    let config =
        RunConfig { experiment: Arc::new(experiment), model, device, steps, out_dir: session, resume, stop_at: None };
    let (tx, rx) = std::sync::mpsc::channel();
    let failures = tx.clone();
    let handle = spawn(
        config,
        move |e| tx.send(e).is_ok(),
        move |e| match e {
            AnalyserEvent::Failed(f) => failures.send(TrainerEvent::Failed(f)).is_ok(),
            AnalyserEvent::Checkpoint(_) => true,
        },
    )
    .map_err(|source| SweepError::Spawn { what: "the training thread".into(), source })?;
    let mut failure = None;
    for event in rx {
        if let TrainerEvent::Failed(f) = event {
            failure.get_or_insert(f);
        }
    }
    let _ = handle.thread.join();
    match failure {
        Some(f) => Err(SweepError::Run { index, kind: f.kind, message: f.message }),
        None if resume => Ok(Ran::Resumed),
        None => Ok(Ran::Trained),
    }
}
