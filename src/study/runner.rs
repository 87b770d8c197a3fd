//! One run of a study, here, in this process (`clusterscope study run-one`, what each of the
//! pool's processes runs): train its session to the end (or resume it), then measure it and
//! write its metrics beside it. A run is done once its metrics are on disk.

use super::metrics::measure;
use super::StudyError;
use crate::experiment::Experiment;
use crate::model::DeviceChoice;
use crate::session::study::{StudyDir, StudyManifest, StudyRun};
use crate::sweep::point::{session_state, train_session, PointState, Ran};

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Trained and measured.
    Done,
    /// Its session has finished; its metrics are still to be measured.
    Trained,
    /// Not started, running, or stopped part-way (what its session says).
    Training(PointState),
}

impl RunState {
    pub fn name(&self) -> &'static str {
        match self {
            RunState::Done => "done",
            RunState::Trained => "trained",
            RunState::Training(p) => p.name(),
        }
    }
}

pub fn state(dir: &StudyDir, run: &StudyRun) -> RunState {
    match session_state(&dir.run(run)) {
        PointState::Finished if dir.run_metrics(run).exists() => RunState::Done,
        PointState::Finished => RunState::Trained,
        other => RunState::Training(other),
    }
}

/// `ARM/seed-N`, as runs are named in progress lines and errors.
pub fn label(run: &StudyRun) -> String {
    run.dir.clone()
}

/// Trains run `index` of the study in `dir` (unless its session has finished) and measures it
/// (unless it has been), on `device`.
pub fn run_one(
    dir: &StudyDir,
    manifest: &StudyManifest,
    index: usize,
    device: DeviceChoice,
) -> Result<Ran, StudyError> {
    let run = manifest.runs.get(index).ok_or_else(|| StudyError::NoRun {
        dir: dir.root().to_path_buf(),
        index,
        count: manifest.runs.len(),
    })?;
    let in_run = |source| StudyError::Run { run: label(run), source: Box::new(source) };
    let experiment =
        Experiment::from_toml(&run.spec, None).map_err(|source| StudyError::Arm { arm: run.arm.clone(), source })?;
    let ran = train_session(experiment, None, dir.run(run), device, index).map_err(in_run)?;
    if !dir.run_metrics(run).exists() {
        let metrics = measure(&manifest.metrics, &dir.run(run), device)?;
        dir.write_metrics(run, &metrics)?;
    }
    Ok(ran)
}
