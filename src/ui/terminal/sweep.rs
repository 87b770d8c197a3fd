//! The sweep view's loop: a reader thread re-reads the sweep directory every second (so points
//! finishing in another process, or on Slurm, appear), keys move the selection, and Enter opens
//! the point's session on the same terminal and channel (followed while its point runs);
//! quitting it comes back. With `sweep ... --view` the view also runs the sweep's [`pool`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::DefaultTerminal;

use super::follow::{self, open_session};
use super::pool::{Pool, PoolEnd};
use super::workers::Workers;
use super::{event_loop, replay_app, require_terminal, themes, with_terminal, UiError, UiEvent, UiOptions};
use super::{SIGNALLED, TICK};
use crate::report::sweep_summary::{summarise, SweepSummary};
use crate::session::sweep::SweepDir;
use crate::session::SessionError;
use crate::sweep::slurm;
use crate::ui::app::Level;
use crate::ui::sweep_view::{SweepAction, SweepView};

/// How often the sweep directory is read again.
const READ_EVERY: Duration = Duration::from_secs(1);
/// How often Slurm is asked: each ask is a process and a message to its controller.
const SLURM_EVERY: Duration = Duration::from_secs(5);

/// Shows the sweep in `dir` until `q`, following it as its points run. With `pool` (the command
/// that runs the sweep's points), runs it meanwhile and says how it ended; quitting first stops it.
pub fn run_sweep_view(dir: &Path, opts: &UiOptions, pool: Option<Command>) -> Result<Option<PoolEnd>, UiError> {
    require_terminal()?;
    // No sweep there: say so before taking the terminal.
    SweepDir::new(dir).read()?;
    let (tx, rx) = mpsc::channel();
    let (themes, warnings) = themes(opts);
    let mut view = SweepView::new(dir.to_path_buf(), themes);
    let mut pool = pool.map(|command| Pool::start(command, &tx)).transpose()?;
    if pool.is_some() {
        view.running_here = true;
        view.set_notice(Level::Info, "running the sweep's points here: q stops them, the same command resumes them");
    }
    if let Some(w) = warnings.first() {
        view.set_notice(Level::Warning, w);
    }
    let reader = tx.clone();
    watch_sweep(dir.to_path_buf(), READ_EVERY, move |r| reader.send(UiEvent::Sweep(Box::new(r))).is_ok())?;
    let own = tx.clone();
    let result = with_terminal(tx, rx, |terminal, rx| sweep_loop(terminal, &mut view, &rx, &own, pool.as_mut()));
    // However the view ended, the points it started do not run on unannounced.
    let ended = pool.map(Pool::finish);
    result.map(|()| ended)
}

/// Reads the sweep in `dir` now and then every `every`, handing each reading to `on_read` until
/// it returns false. Finished points are not read again (they cannot change).
pub fn watch_sweep(
    dir: PathBuf,
    every: Duration,
    mut on_read: impl FnMut(Result<SweepSummary, String>) -> bool + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("sweep-reader".into()).spawn(move || {
        let sweep = SweepDir::new(&dir);
        let mut known = BTreeMap::new();
        let mut slurm_states = BTreeMap::new();
        let mut asked: Option<Instant> = None;
        loop {
            let read = sweep.read().map_err(|e| e.to_string()).map(|m| {
                if !m.slurm_jobs.is_empty() && asked.is_none_or(|t| t.elapsed() >= SLURM_EVERY) {
                    slurm_states = slurm::task_states(&m.slurm_jobs);
                    asked = Some(Instant::now());
                }
                let summary = summarise(&sweep, &m, &known, &slurm_states);
                known = summary.points.iter().filter(|p| p.state == "finished").map(|p| (p.index, p.clone())).collect();
                summary
            });
            if !on_read(read) {
                return;
            }
            std::thread::sleep(every);
        }
    })
}

fn sweep_loop(
    terminal: &mut DefaultTerminal,
    view: &mut SweepView,
    rx: &Receiver<UiEvent>,
    tx: &Sender<UiEvent>,
    mut pool: Option<&mut Pool>,
) -> Result<(), UiError> {
    terminal.draw(|f| f.render_widget(&*view, f.area()))?;
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        for ev in first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match ev {
                UiEvent::Key(k, _) => match view.on_key(k) {
                    Some(SweepAction::Quit) => return Ok(()),
                    Some(SweepAction::Open(dir)) => {
                        open_point(terminal, view, &dir, rx, tx)?;
                        if SIGNALLED.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                    }
                    None => {}
                },
                UiEvent::Signal => return Ok(()),
                UiEvent::Sweep(read) => view.on_read(*read),
                UiEvent::Pool(line) => {
                    let level = match line.as_str() {
                        l if l.starts_with("error:") => Level::Error,
                        l if l.contains("FAILED") => Level::Warning,
                        _ => Level::Info,
                    };
                    view.set_notice(level, &line);
                    if let Some(p) = pool.as_deref_mut() {
                        p.heard(&line);
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = pool.as_deref_mut().filter(|_| view.running_here).and_then(|p| p.poll()) {
            view.running_here = false;
            match end {
                PoolEnd::Failed(why) => view.set_notice(Level::Error, &format!("the sweep ended: {why}")),
                _ => view.set_notice(Level::Info, "the sweep ran all its points: q quits"),
            }
        }
        terminal.draw(|f| f.render_widget(&*view, f.area()))?;
    }
}

/// Shows the session in `dir` until the user quits it: a replay, followed while its point runs.
/// A session that cannot be shown is a notice in the sweep view, not the end of it.
fn open_point(
    terminal: &mut DefaultTerminal,
    view: &mut SweepView,
    dir: &Path,
    rx: &Receiver<UiEvent>,
    tx: &Sender<UiEvent>,
) -> Result<(), UiError> {
    let (session, writer) = match open_session(dir) {
        Ok(opened) => opened,
        // Its process has the lock but has not written the manifest yet.
        Err(SessionError::NoManifest(_)) if view.selected_point().is_some_and(|p| p.state == "running") => {
            view.set_notice(Level::Info, "the point is starting: nothing to show yet, Enter again in a moment");
            return Ok(());
        }
        Err(e) => {
            view.set_notice(Level::Error, &e.to_string());
            return Ok(());
        }
    };
    let (mut app, prober, embedder) = replay_app(&session, view.themes.clone(), Vec::new(), tx)?;
    let workers = Workers { prober: prober.as_ref(), embedder: embedder.as_ref() };
    let follower = follow::start(&session, writer, &mut app, tx)?;
    // The replay's own latency log and theme files are the sweep view's: none beyond its themes.
    event_loop(terminal, &mut app, rx, None, workers, follower.as_ref().map(|f| f.id), &UiOptions::default())?;
    drop(follower);
    let name = dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    view.set_notice(Level::Info, &format!("closed {name}: Enter opens the selected point again"));
    Ok(())
}
