//! Running a study's unfinished runs on this machine through the sweep's process pool, each as
//! `clusterscope study run-one DIR --index I` (training, then measuring).

use super::runner::{label, state, RunState};
use super::StudyError;
use crate::session::study::{StudyDir, StudyManifest};
use crate::sweep::pool::{run_jobs, PoolEvent, PoolJob, PoolOptions};

/// Runs every run that is not done; returns when all have ended.
pub fn run_all(
    dir: &StudyDir,
    manifest: &StudyManifest,
    opts: &PoolOptions,
    on_event: impl FnMut(PoolEvent),
) -> Result<(), StudyError> {
    let jobs: Vec<PoolJob> = manifest
        .runs
        .iter()
        .filter(|r| state(dir, r) != RunState::Done)
        .map(|r| PoolJob {
            index: r.index,
            label: label(r),
            log: dir.run_log(r),
            args: vec![
                "study".into(),
                "run-one".into(),
                dir.root().into(),
                "--index".into(),
                r.index.to_string().into(),
            ],
        })
        .collect();
    let skipped = manifest.runs.len() - jobs.len();
    let failed = run_jobs(jobs, skipped, opts, on_event)?;
    if failed.is_empty() {
        Ok(())
    } else {
        let failed = failed.iter().map(|j| format!("{}, see {}", j.label, j.log.display())).collect();
        Err(StudyError::Unfinished { failed, total: manifest.runs.len() })
    }
}
