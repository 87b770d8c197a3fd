//! The event loop: one channel fed by an input thread and the training worker (or, for a session
//! another process writes, [`follow`]'s reader); the UI thread only draws and never waits for
//! training. The sweep view's loop is [`sweep`]'s, on the same channel, so a session opened from
//! it reads the same keys.

pub mod compare;
mod follow;
mod pool;
mod sweep;
mod workers;

use workers::{start_analyzed, start_embedder, start_prober, ReplayApp, Workers};

pub use follow::{follow_session, open_session};
pub use pool::PoolEnd;
pub use sweep::{run_sweep_view, watch_sweep};

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEvent, KeyEventKind, MouseEvent,
};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;

use super::app::{Action, App, Followed};
use super::theme::ThemeSet;
use crate::error::{ErrorKind, Kind};
use crate::model::DeviceChoice;
use crate::record::{EmbeddingEvent, ProbeResult};
use crate::report::sweep_summary::SweepSummary;
use crate::session::{probes, Session, SessionError};
use crate::train::prober::ProbeEngine;
use crate::train::{
    spawn, AnalyserEvent, Failure, ProbeFault, RunConfig, RunHandle, StopCause, TrainerCommand, TrainerEvent,
};
use std::sync::Arc;

/// Redraw at least this often, so ETA and steps/s stay fresh while nothing else happens.
const TICK: Duration = Duration::from_millis(250);
/// How long quitting waits for the worker to save its last checkpoint.
const SAVE_TIMEOUT: Duration = Duration::from_secs(60);

pub enum UiEvent {
    /// A key, with the moment the input thread read it (for latency measurement).
    Key(KeyEvent, Instant),
    Mouse(MouseEvent),
    Resize,
    Trainer(TrainerEvent),
    Analyser(AnalyserEvent),
    Probe(ProbeResult),
    Embedding(EmbeddingEvent),
    /// SIGINT, SIGTERM or SIGHUP: stop as `q` does, so the terminal and the session are left whole.
    Signal,
    /// A new reading of the sweep directory, or why it could not be read.
    Sweep(Box<Result<SweepSummary, String>>),
    /// A reading of the followed session, with its follower's id.
    Followed(u64, Box<Followed>),
    /// A line the sweep's pool printed (`sweep ... --view`).
    Pool(String),
}

/// Set by a signal, so a screen opened from another (a session from the sweep view) ends them all.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// A theme's name, or the path of a theme file (`.toml`).
    pub theme: Option<String>,
    /// Read after the user's config directory and `./themes`, so its themes win.
    pub themes_dir: Option<PathBuf>,
    /// Append one line per key press: milliseconds from reading the key to the frame showing it;
    /// and `probe MS` per probe, from its request to the frame showing its result.
    pub latency_log: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(
        "stdout is not a terminal: the app needs one (for training without it, use `clusterscope train --headless`)"
    )]
    NotATerminal,
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
    #[error("{0}")]
    Worker(String),
    /// The run failed: shown after the terminal is restored, with the failure's kind.
    #[error("training failed: {message}")]
    Run { kind: ErrorKind, message: String },
    #[error(transparent)]
    Probe(#[from] ProbeFault),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl Kind for UiError {
    fn kind(&self) -> ErrorKind {
        match self {
            UiError::NotATerminal => ErrorKind::Usage,
            UiError::Terminal(_) | UiError::Worker(_) => ErrorKind::Internal,
            UiError::Run { kind, .. } => *kind,
            UiError::Probe(e) => e.kind(),
            UiError::Session(e) => e.kind(),
        }
    }
}

/// The app's screens need a terminal on both ends; checked before anything is written.
pub fn require_terminal() -> Result<(), UiError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(UiError::NotATerminal)
    }
}

/// Themes from, in order (later wins): the embedded ones, the user's config directory
/// (`$XDG_CONFIG_HOME/clusterscope/themes`, else `~/.config/clusterscope/themes`), `./themes`,
/// `themes_dir`, and a theme file given as `--theme PATH.toml`.
fn themes(opts: &UiOptions) -> (ThemeSet, Vec<String>) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (dirs, files, initial) = theme_sources(opts);
    ThemeSet::load_from(&dirs, &files, initial.as_deref(), no_color)
}

/// Where themes come from: directories, single files, and the theme to start with.
pub fn theme_sources(opts: &UiOptions) -> (Vec<PathBuf>, Vec<PathBuf>, Option<String>) {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("clusterscope").join("themes"));
    let mut dirs: Vec<PathBuf> =
        [config, Some(PathBuf::from("themes"))].into_iter().flatten().filter(|d| d.is_dir()).collect();
    dirs.extend(opts.themes_dir.clone());
    match opts.theme.as_deref() {
        Some(t) if t.ends_with(".toml") || t.contains(std::path::MAIN_SEPARATOR) => {
            let path = PathBuf::from(t);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            (dirs, vec![path], stem)
        }
        other => (dirs, Vec::new(), other.map(str::to_string)),
    }
}

/// Trains `run` with the app on screen.
pub fn run_live(run: RunConfig, opts: &UiOptions) -> Result<(), UiError> {
    require_terminal()?;
    let (tx, rx) = mpsc::channel();
    let (trainer_tx, analyser_tx) = (tx.clone(), tx.clone());
    let (experiment, model, out_dir, device) =
        (run.experiment.clone(), run.model.clone(), run.out_dir.clone(), run.device);
    let worker = spawn(
        run,
        move |e| trainer_tx.send(UiEvent::Trainer(e)).is_ok(),
        move |e| analyser_tx.send(UiEvent::Analyser(e)).is_ok(),
    )?;
    // The run validates and opens the session before it starts; fail before taking over the
    // terminal if it cannot.
    let info = loop {
        match rx.recv() {
            Ok(UiEvent::Trainer(TrainerEvent::Started(info))) => break info,
            Ok(UiEvent::Trainer(TrainerEvent::Failed(e))) => {
                return Err(UiError::Run { kind: e.kind, message: e.message })
            }
            Ok(_) => continue,
            Err(_) => return Err(UiError::Worker("the training run stopped before starting".into())),
        }
    };
    let (themes, warnings) = themes(opts);
    let mut app = App::live(&info, themes);
    app.set_warnings(info.warnings.iter().chain(&warnings).cloned().collect());
    app.set_probe_support(experiment.clone(), model.context);
    let embedder = start_embedder(&mut app, Some(experiment.clone()), experiment.seed, model.clone(), &out_dir, &tx)?;
    let engine = ProbeEngine::new(experiment, model, &out_dir, device)?;
    let prober = start_prober(engine, &tx)?;
    let workers = Workers { prober: Some(&prober), embedder: Some(&embedder) };
    let result =
        with_terminal(tx, rx, |terminal, rx| event_loop(terminal, &mut app, &rx, Some(&worker), workers, None, opts));
    drop(app);
    let _ = worker.thread.join();
    // A failed run is said again once the terminal is back, and the exit status tells scripts.
    match result? {
        Some(failure) => Err(UiError::Run { kind: failure.kind, message: failure.message }),
        None => Ok(()),
    }
}

/// Shows a saved session: every checkpoint at once, no training; one that another process is
/// writing is followed until it ends.
pub fn run_replay(dir: &Path, opts: &UiOptions) -> Result<(), UiError> {
    let (session, writer) = open_session(dir)?;
    require_terminal()?;
    let (tx, rx) = mpsc::channel();
    let (themes, warnings) = themes(opts);
    let (mut app, prober, embedder) = replay_app(&session, themes, warnings, &tx)?;
    let follower = follow::start(&session, writer, &mut app, &tx)?;
    let following = follower.as_ref().map(|f| f.id);
    let workers = Workers { prober: prober.as_ref(), embedder: embedder.as_ref() };
    let result =
        with_terminal(tx, rx, |terminal, rx| event_loop(terminal, &mut app, &rx, None, workers, following, opts));
    result.map(drop)
}

/// The replay of `session` and, where its spec still validates, a probe thread answering on `tx`.
fn replay_app(
    session: &Session,
    themes: ThemeSet,
    mut warnings: Vec<String>,
    tx: &Sender<UiEvent>,
) -> Result<ReplayApp, UiError> {
    let mut app = App::replay(session, themes);
    warnings.extend(session.damaged.iter().map(|d| format!("checkpoint {} is damaged: {d}", d.step)));
    app.set_warnings(warnings);
    // Probing a replay needs only the stored spec and weights; a session whose spec no longer
    // validates still replays, without probes.
    if let Some(source) = &session.manifest.analyzed {
        let (prober, embedder) = start_analyzed(&mut app, session, source, tx)?;
        return Ok((app, prober, embedder));
    }
    let (seed, model) = (session.manifest.seed, session.manifest.model.clone());
    let (prober, embedder) = match session.experiment() {
        Ok(experiment) => {
            let experiment = Arc::new(experiment);
            let embedder = start_embedder(&mut app, Some(experiment.clone()), seed, model, &session.dir, tx)?;
            app.set_probe_support(experiment.clone(), session.manifest.model.context);
            app.add_saved_probes(probes::read(&session.layout()).into_iter().map(|p| p.text).collect());
            let engine = ProbeEngine::new(experiment, session.manifest.model.clone(), &session.dir, DeviceChoice::Cpu)?;
            (Some(start_prober(engine, tx)?), Some(embedder))
        }
        Err(_) => (None, None),
    };
    Ok((app, prober, embedder))
}

/// Takes over the terminal, runs `body`, and gives the terminal back whatever happens (ratatui's
/// init also installs a panic hook that restores it).
fn with_terminal<F, T>(tx: Sender<UiEvent>, rx: Receiver<UiEvent>, body: F) -> Result<T, UiError>
where
    F: FnOnce(&mut DefaultTerminal, Receiver<UiEvent>) -> Result<T, UiError>,
{
    let signals = tx.clone();
    // Only fails when a handler is already set, and then that one stops the run.
    let _ = ctrlc::set_handler(move || {
        SIGNALLED.store(true, Ordering::SeqCst);
        let _ = signals.send(UiEvent::Signal);
    });
    let mut terminal = ratatui::try_init()?;
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    spawn_input(tx);
    let result = body(&mut terminal, rx);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// Asks the run to stop after a checkpoint; returns when it was asked.
fn stop_run(app: &mut App, worker: Option<&RunHandle>, cause: StopCause) -> Instant {
    app.set_status_message("stopping: saving the session…".into());
    if let Some(w) = worker {
        let _ = w.commands.send(TrainerCommand::Stop(cause));
    }
    Instant::now()
}

/// Reads terminal input on its own thread; ends when the UI stops listening.
fn spawn_input(tx: Sender<UiEvent>) {
    let _ = std::thread::Builder::new().name("input".into()).spawn(move || loop {
        let ev = match event::read() {
            Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => UiEvent::Key(k, Instant::now()),
            Ok(TermEvent::Mouse(m)) => UiEvent::Mouse(m),
            Ok(TermEvent::Resize(..)) => UiEvent::Resize,
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(ev).is_err() {
            return;
        }
    });
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    rx: &Receiver<UiEvent>,
    worker: Option<&RunHandle>,
    workers: Workers<'_>,
    following: Option<u64>,
    opts: &UiOptions,
) -> Result<Option<Failure>, UiError> {
    let mut latency =
        opts.latency_log.as_ref().and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
    let mut quitting: Option<Instant> = None;
    let mut worker_done = worker.is_none();
    // What made the run fail, for the exit status once the user has read it on screen.
    let mut failure: Option<Failure> = None;
    // Probe requests in flight, for the latency log: (id, step) -> when sent.
    let mut probes_sent: HashMap<(u64, usize), Instant> = HashMap::new();
    terminal.draw(|f| f.render_widget(&*app, f.area()))?;
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(failure),
        };
        // Handle everything already queued before drawing again: a burst of progress events
        // costs one frame, not one each.
        let mut keys_read_at = Vec::new();
        let mut probes_back = Vec::new();
        for ev in first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match ev {
                UiEvent::Key(k, at) => {
                    keys_read_at.push(at);
                    if quitting.is_some() {
                        continue;
                    }
                    match app.on_key(k) {
                        Some(Action::Quit) if worker_done => return Ok(failure),
                        Some(Action::Quit) => quitting = Some(stop_run(app, worker, StopCause::User)),
                        Some(Action::Trainer(cmd)) => {
                            if let Some(w) = worker {
                                let _ = w.commands.send(cmd);
                            }
                        }
                        None => {}
                    }
                }
                UiEvent::Signal if quitting.is_none() => {
                    if worker_done {
                        return Ok(failure);
                    }
                    quitting = Some(stop_run(app, worker, StopCause::Signal));
                }
                UiEvent::Signal => {}
                UiEvent::Mouse(m) => app.on_mouse(m, terminal.get_frame().area()),
                UiEvent::Followed(id, f) if following == Some(id) => app.on_followed(*f),
                UiEvent::Resize | UiEvent::Sweep(_) | UiEvent::Followed(..) | UiEvent::Pool(_) => {}
                UiEvent::Embedding(e) => app.on_embedding(e),
                UiEvent::Probe(r) => {
                    probes_back.extend(probes_sent.remove(&(r.id, r.step)));
                    app.on_probe_result(r);
                }
                UiEvent::Analyser(e) => {
                    let failed = matches!(e, AnalyserEvent::Failed(_));
                    if let AnalyserEvent::Failed(f) = &e {
                        failure = Some(f.clone());
                    }
                    app.on_analyser(e);
                    if failed {
                        worker_done = true;
                        if quitting.is_some() {
                            return Ok(failure);
                        }
                    }
                }
                UiEvent::Trainer(e) => {
                    let done = matches!(e, TrainerEvent::Finished(_) | TrainerEvent::Failed(_));
                    if let TrainerEvent::Failed(f) = &e {
                        failure = Some(f.clone());
                    }
                    app.on_trainer(e);
                    if done {
                        worker_done = true;
                        if quitting.is_some() {
                            return Ok(failure);
                        }
                    }
                }
            }
        }
        for (id, step) in workers.send_requests(app) {
            if latency.is_some() {
                probes_sent.insert((id, step), Instant::now());
            }
        }
        if quitting.is_some_and(|t| t.elapsed() > SAVE_TIMEOUT) {
            return Err(UiError::Worker(
                "the worker did not finish saving in time; the last complete checkpoint is on disk".into(),
            ));
        }
        terminal.draw(|f| f.render_widget(&*app, f.area()))?;
        if let Some(log) = latency.as_mut() {
            let now = Instant::now();
            for at in keys_read_at {
                let _ = writeln!(log, "{:.3}", now.duration_since(at).as_secs_f64() * 1e3);
            }
            // A probe: from sending the request to the frame that shows its result.
            for at in probes_back {
                let _ = writeln!(log, "probe {:.3}", now.duration_since(at).as_secs_f64() * 1e3);
            }
        }
    }
}
