//! Running a sweep's points on this machine, `jobs` at a time, each in a process of its own
//! (`clusterscope sweep run-point`), so each has its own thread pool and a crash takes one point
//! down, not the sweep.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::grid::describe;
use super::point::{state, PointState};
use super::SweepError;
use crate::session::sweep::{SweepDir, SweepManifest};

/// How each point is started.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The clusterscope executable.
    pub exe: std::path::PathBuf,
    pub jobs: usize,
    /// CPU threads per point.
    pub threads: usize,
    /// `--device` for every point.
    pub device: String,
}

/// What the pool reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    /// Points already finished, skipped.
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
}

/// Runs every point that has not finished; returns when all have ended.
pub fn run(
    dir: &SweepDir,
    manifest: &SweepManifest,
    opts: &PoolOptions,
    mut on_event: impl FnMut(PoolEvent),
) -> Result<(), SweepError> {
    let mut todo: Vec<usize> = Vec::new();
    for p in &manifest.points {
        if state(dir, p) != PointState::Finished {
            todo.push(p.index);
        }
    }
    on_event(PoolEvent::Skipped(manifest.points.len() - todo.len()));
    todo.reverse();
    let mut running: Vec<(usize, Child)> = Vec::new();
    let mut failed = Vec::new();
    while !todo.is_empty() || !running.is_empty() {
        while running.len() < opts.jobs.max(1) {
            let Some(index) = todo.pop() else { break };
            let point = &manifest.points[index];
            let child = start(dir, index, &dir.point_log(point), opts)?;
            on_event(PoolEvent::Started { index, params: describe(point) });
            running.push((index, child));
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut still = Vec::with_capacity(running.len());
        for (index, mut child) in running {
            match child.try_wait() {
                Ok(None) => still.push((index, child)),
                done => {
                    let ok = matches!(done, Ok(Some(status)) if status.success());
                    let point = &manifest.points[index];
                    if !ok {
                        failed.push(format!(
                            "point {index} ({}), see {}",
                            describe(point),
                            dir.point_log(point).display()
                        ));
                    }
                    on_event(PoolEvent::Ended { index, params: describe(point), ok });
                }
            }
        }
        running = still;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(SweepError::Unfinished { failed, total: manifest.points.len() })
    }
}

fn start(dir: &SweepDir, index: usize, log: &Path, opts: &PoolOptions) -> Result<Child, SweepError> {
    let spawn_error = |source| SweepError::Spawn { what: format!("point {index}"), source };
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(spawn_error)?;
    let err = out.try_clone().map_err(spawn_error)?;
    Command::new(&opts.exe)
        .arg("--threads")
        .arg(opts.threads.max(1).to_string())
        .args(["sweep", "run-point"])
        .arg(dir.root())
        .arg("--index")
        .arg(index.to_string())
        .arg("--device")
        .arg(&opts.device)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(spawn_error)
}
