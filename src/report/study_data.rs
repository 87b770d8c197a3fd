//! A study as read back from its directory: every run's state, metrics, checkpoints and phases,
//! what the report's table and figure are made from.

use std::path::PathBuf;

use super::ReportError;
use crate::record::PhaseMark;
use crate::session::study::{RunMetrics, StudyDir, StudyManifest, StudyRun};
use crate::session::Session;
use crate::study::metrics::{curve, phases, Point};
use crate::study::runner::{state, RunState};

/// One run as read back: its state, metrics and checkpoints.
#[derive(Debug, Clone)]
pub struct RunData {
    pub run: StudyRun,
    pub state: RunState,
    pub metrics: Option<RunMetrics>,
    pub curve: Vec<Point>,
    pub phases: Vec<PhaseMark>,
}

/// Everything the report is made from.
#[derive(Debug, Clone)]
pub struct StudyData {
    pub dir: PathBuf,
    pub manifest: StudyManifest,
    pub runs: Vec<RunData>,
}

/// Reads every run of the study at `dir` as it stands now.
pub fn gather(dir: &StudyDir, manifest: &StudyManifest) -> Result<StudyData, ReportError> {
    let mut runs = Vec::with_capacity(manifest.runs.len());
    for run in &manifest.runs {
        let session = Session::open(&dir.run(run)).ok();
        runs.push(RunData {
            run: run.clone(),
            state: state(dir, run),
            metrics: dir.read_metrics(run)?,
            curve: session.as_ref().map(curve).unwrap_or_default(),
            phases: session.as_ref().map(phases).unwrap_or_default(),
        });
    }
    Ok(StudyData { dir: dir.root().to_path_buf(), manifest: manifest.clone(), runs })
}
