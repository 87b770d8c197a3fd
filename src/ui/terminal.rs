//! The event loop: one channel fed by an input thread and the training worker; the UI thread
//! only draws and never waits for training.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEvent, KeyEventKind, MouseEvent,
};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;

use super::app::{Action, App};
use super::theme::ThemeSet;
use crate::model::DeviceChoice;
use crate::session::Session;
use crate::train::probe::{saved_probes, spawn_prober, ProbeEngine};
use crate::train::protocol::ProbeRequest;
use crate::train::{spawn, Command, Event, RunConfig, WorkerHandle};
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
    Worker(Event),
}

#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    pub theme: Option<String>,
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
}

fn require_terminal() -> Result<(), UiError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(UiError::NotATerminal)
    }
}

fn themes(opts: &UiOptions) -> (ThemeSet, Vec<String>) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dir = opts.themes_dir.clone().or_else(|| Some(PathBuf::from("themes")).filter(|p| p.is_dir()));
    ThemeSet::load(dir.as_deref(), opts.theme.as_deref(), no_color)
}

/// Trains `run` with the app on screen.
pub fn run_live(run: RunConfig, opts: &UiOptions) -> Result<(), UiError> {
    require_terminal()?;
    let (tx, rx) = mpsc::channel();
    let worker_tx = tx.clone();
    let (experiment, model, out_dir, device) =
        (run.experiment.clone(), run.model.clone(), run.out_dir.clone(), run.device);
    let worker = spawn(run, move |e| worker_tx.send(UiEvent::Worker(e)).is_ok())?;
    // The worker validates and opens the session before it starts; fail before taking over the
    // terminal if it cannot.
    let info = loop {
        match rx.recv() {
            Ok(UiEvent::Worker(Event::Started(info))) => break info,
            Ok(UiEvent::Worker(Event::Error(e))) => return Err(UiError::Worker(e)),
            Ok(_) => continue,
            Err(_) => return Err(UiError::Worker("the training worker stopped before starting".into())),
        }
    };
    let (themes, warnings) = themes(opts);
    let mut app = App::live(&info, themes);
    app.set_warnings(info.warnings.iter().chain(&warnings).cloned().collect());
    app.set_probe_support(experiment.clone(), model.context);
    let engine = ProbeEngine::new(experiment, model, &out_dir, device).map_err(UiError::Worker)?;
    let prober = start_prober(engine, &tx)?;
    let result = with_terminal(tx, rx, |terminal, rx| event_loop(terminal, &mut app, rx, Some(&worker), &prober, opts));
    drop(app);
    let _ = worker.thread.join();
    result
}

/// Shows a saved session: every checkpoint at once, no training.
pub fn run_replay(session: &Session, opts: &UiOptions) -> Result<(), UiError> {
    require_terminal()?;
    let (tx, rx) = mpsc::channel();
    let (themes, warnings) = themes(opts);
    let mut app = App::replay(session, themes);
    app.set_warnings(warnings);
    // Probing a replay needs only the stored spec and weights; a session whose spec no longer
    // validates still replays, without probes.
    if let Ok(experiment) = session.experiment() {
        let experiment = Arc::new(experiment);
        app.set_probe_support(experiment.clone(), session.manifest.model.context);
        app.add_saved_probes(saved_probes(&session.dir).into_iter().map(|p| p.text).collect());
        let engine = ProbeEngine::new(experiment, session.manifest.model.clone(), &session.dir, DeviceChoice::Cpu)
            .map_err(UiError::Worker)?;
        let prober = start_prober(engine, &tx)?;
        return with_terminal(tx, rx, |terminal, rx| event_loop(terminal, &mut app, rx, None, &prober, opts));
    }
    let (dead, _) = mpsc::channel();
    with_terminal(tx, rx, |terminal, rx| event_loop(terminal, &mut app, rx, None, &dead, opts))
}

fn start_prober(engine: ProbeEngine, tx: &Sender<UiEvent>) -> Result<Sender<ProbeRequest>, UiError> {
    let tx = tx.clone();
    Ok(spawn_prober(engine, move |e| tx.send(UiEvent::Worker(e)).is_ok())?)
}

/// Takes over the terminal, runs `body`, and gives the terminal back whatever happens (ratatui's
/// init also installs a panic hook that restores it).
fn with_terminal<F>(tx: Sender<UiEvent>, rx: Receiver<UiEvent>, body: F) -> Result<(), UiError>
where
    F: FnOnce(&mut DefaultTerminal, Receiver<UiEvent>) -> Result<(), UiError>,
{
    let mut terminal = ratatui::try_init()?;
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    spawn_input(tx);
    let result = body(&mut terminal, rx);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
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
    rx: Receiver<UiEvent>,
    worker: Option<&WorkerHandle>,
    prober: &Sender<ProbeRequest>,
    opts: &UiOptions,
) -> Result<(), UiError> {
    let mut latency =
        opts.latency_log.as_ref().and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
    let mut quitting: Option<Instant> = None;
    let mut worker_done = worker.is_none();
    // Probe requests in flight, for the latency log: (id, step) -> when sent.
    let mut probes_sent: HashMap<(u64, usize), Instant> = HashMap::new();
    terminal.draw(|f| f.render_widget(&*app, f.area()))?;
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
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
                        Some(Action::Quit) if worker_done => return Ok(()),
                        Some(Action::Quit) => {
                            quitting = Some(Instant::now());
                            app.set_status_message("stopping: saving the session…".into());
                            if let Some(w) = worker {
                                let _ = w.commands.send(Command::Stop);
                            }
                        }
                        Some(Action::Worker(Command::Probe(req))) => {
                            let _ = prober.send(req);
                        }
                        Some(Action::Worker(cmd)) => {
                            if let Some(w) = worker {
                                let _ = w.commands.send(cmd);
                            }
                        }
                        None => {}
                    }
                }
                UiEvent::Mouse(m) => app.on_mouse(m),
                UiEvent::Resize => {}
                UiEvent::Worker(e) => {
                    if let Event::Probe(r) = &e {
                        probes_back.extend(probes_sent.remove(&(r.id, r.step)));
                    }
                    let done = matches!(e, Event::Finished(_) | Event::Error(_));
                    app.on_worker(e);
                    if done {
                        worker_done = true;
                        if quitting.is_some() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        for req in app.take_probe_requests() {
            if latency.is_some() {
                probes_sent.insert((req.id, req.step), Instant::now());
            }
            let _ = prober.send(req);
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
