//! Running many training runs on this machine, `jobs` at a time, each in a process of its own
//! (a sweep's `clusterscope sweep run-point`, a study's `clusterscope study run-one`), so each
//! has its own thread pool and a crash takes one run down, not the batch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::grid::describe;
use super::point::{state, PointState};
use super::SweepError;
use crate::session::sweep::{SweepDir, SweepManifest};

/// How each run is started.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The clusterscope executable.
    pub exe: std::path::PathBuf,
    pub jobs: usize,
    /// CPU threads per run.
    pub threads: usize,
    /// `--device` for every run.
    pub device: String,
}

/// One child process to run: `exe --threads T ARGS... --device D`, its output appended to `log`.
#[derive(Debug, Clone)]
pub struct PoolJob {
    pub index: usize,
    /// What the run is, in words, for progress lines and failures.
    pub label: String,
    pub log: PathBuf,
    pub args: Vec<OsString>,
}

/// What the pool reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    /// Runs already finished, skipped.
    Skipped(usize),
    Started {
        index: usize,
        params: String,
    },
    Ended {
        index: usize,
        params: String,
        ok: bool,
    },
    /// Nothing started or ended: about every 50 ms while runs go on, so a front end can redraw.
    Tick,
}

/// Runs every point of the sweep that has not finished; returns when all have ended.
pub fn run(
    dir: &SweepDir,
    manifest: &SweepManifest,
    opts: &PoolOptions,
    on_event: impl FnMut(PoolEvent),
) -> Result<(), SweepError> {
    let jobs: Vec<PoolJob> = manifest
        .points
        .iter()
        .filter(|p| state(dir, p) != PointState::Finished)
        .map(|p| PoolJob {
            index: p.index,
            label: describe(p),
            log: dir.point_log(p),
            args: vec![
                "sweep".into(),
                "run-point".into(),
                dir.root().into(),
                "--index".into(),
                p.index.to_string().into(),
            ],
        })
        .collect();
    let skipped = manifest.points.len() - jobs.len();
    let failed = run_jobs(jobs, skipped, opts, on_event)?;
    if failed.is_empty() {
        Ok(())
    } else {
        let failed =
            failed.iter().map(|j| format!("point {} ({}), see {}", j.index, j.label, j.log.display())).collect();
        Err(SweepError::Unfinished { failed, total: manifest.points.len() })
    }
}

/// Runs `jobs` in order, `opts.jobs` at a time (`skipped` is only reported); returns when all
/// have ended, with the jobs that failed. An error is a job that could not even be started.
pub fn run_jobs(
    jobs: Vec<PoolJob>,
    skipped: usize,
    opts: &PoolOptions,
    mut on_event: impl FnMut(PoolEvent),
) -> Result<Vec<PoolJob>, SweepError> {
    on_event(PoolEvent::Skipped(skipped));
    let mut todo = jobs;
    todo.reverse();
    let mut running: Vec<(PoolJob, Child)> = Vec::new();
    let mut failed = Vec::new();
    while !todo.is_empty() || !running.is_empty() {
        while running.len() < opts.jobs.max(1) {
            let Some(job) = todo.pop() else { break };
            let child = start(&job, opts)?;
            on_event(PoolEvent::Started { index: job.index, params: job.label.clone() });
            running.push((job, child));
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut still = Vec::with_capacity(running.len());
        for (job, mut child) in running {
            match child.try_wait() {
                Ok(None) => still.push((job, child)),
                done => {
                    let ok = matches!(done, Ok(Some(status)) if status.success());
                    on_event(PoolEvent::Ended { index: job.index, params: job.label.clone(), ok });
                    if !ok {
                        failed.push(job);
                    }
                }
            }
        }
        running = still;
        on_event(PoolEvent::Tick);
    }
    Ok(failed)
}

fn start(job: &PoolJob, opts: &PoolOptions) -> Result<Child, SweepError> {
    let spawn_error = |source| SweepError::Spawn { what: format!("run {} ({})", job.index, job.label), source };
    let out = open_log(&job.log).map_err(spawn_error)?;
    let err = out.try_clone().map_err(spawn_error)?;
    Command::new(&opts.exe)
        .arg("--threads")
        .arg(opts.threads.max(1).to_string())
        .args(&job.args)
        .arg("--device")
        .arg(&opts.device)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(spawn_error)
}

fn open_log(log: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(log)
}
