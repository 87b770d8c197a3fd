//! All UI state as plain data, and what keys and worker events do to it. Drawing lives in
//! [`super::widgets`] (`impl Widget for &App`); the event loop lives in `super::terminal`.

mod input;
mod probe;
mod probe_line;
mod ranges;

pub(crate) use probe::{verdict, Probes};
pub use probe::{Probe, ProbeLine};
pub use probe_line::Completion;

use std::path::PathBuf;

use super::theme::ThemeSet;
use crate::record::{RunInfo, Snapshot};
use crate::session::{RunStatus, Session};
use crate::train::protocol::{AnalyserEvent, TrainerCommand, TrainerEvent};

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Trainer(TrainerCommand),
}

/// Where the snapshots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Live,
    /// A saved session; the status is what its manifest says.
    Replay(RunStatus),
}

/// State of the training run, as far as the UI knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    Finished,
    /// Stopped early at the user's request (Ctrl-C / q).
    Stopped,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Scatter,
    AllLayers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Centroids {
    Off,
    KMeans,
    Task,
}

/// How scatter points are drawn; braille has the finest grid, the others survive fonts and
/// multiplexers without braille glyphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Braille,
    HalfBlock,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Scatter,
    Curves,
    Timeline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub level: Level,
}

/// Loss points kept for the curve; beyond this, neighbours are averaged pairwise so a long run
/// costs constant memory and drawing time.
const MAX_LOSS_POINTS: usize = 1024;

#[derive(Debug, Clone)]
pub struct App {
    pub(crate) source: Source,
    pub(crate) phase: Phase,
    pub(crate) device: String,
    pub(crate) session_dir: PathBuf,
    pub(crate) total_steps: usize,
    pub(crate) step: usize,
    pub(crate) steps_per_s: f64,
    pub(crate) first_checkpoint: usize,
    pub(crate) task_names: Vec<String>,
    /// Task of each seen point, then of each unseen point, in Snapshot order.
    pub(crate) seen_tasks: Vec<usize>,
    pub(crate) unseen_tasks: Vec<usize>,
    pub(crate) snapshots: Vec<Snapshot>,
    /// Per snapshot, per layer: the scatter's half-ranges (see [`ranges::fit_half_range`]).
    pub(crate) ranges: Vec<Vec<[f32; 2]>>,
    /// (step, training loss), ascending.
    pub(crate) loss: Vec<(f64, f64)>,
    pub(crate) selected: usize,
    pub(crate) layer: usize,
    /// Until the user picks a layer, the deepest one is shown: that is where clusters form.
    pub(crate) layer_chosen: bool,
    pub(crate) follow: bool,
    pub(crate) view: View,
    pub(crate) show_unseen: bool,
    pub(crate) centroids: Centroids,
    pub(crate) marker: MarkerKind,
    pub(crate) focus: Panel,
    pub(crate) help: bool,
    /// Rows the help overlay is scrolled (short screens).
    pub(crate) help_scroll: u16,
    pub(crate) themes: ThemeSet,
    pub(crate) notice: Option<Notice>,
    pub(crate) probes: Probes,
}

impl App {
    fn blank(themes: ThemeSet, source: Source) -> App {
        App {
            source,
            phase: Phase::Running,
            device: String::new(),
            session_dir: PathBuf::new(),
            total_steps: 0,
            step: 0,
            steps_per_s: 0.0,
            first_checkpoint: 0,
            task_names: Vec::new(),
            seen_tasks: Vec::new(),
            unseen_tasks: Vec::new(),
            snapshots: Vec::new(),
            ranges: Vec::new(),
            loss: Vec::new(),
            selected: 0,
            layer: 0,
            layer_chosen: false,
            follow: true,
            view: View::Scatter,
            show_unseen: true,
            centroids: Centroids::Off,
            marker: MarkerKind::Braille,
            focus: Panel::Scatter,
            help: false,
            help_scroll: 0,
            themes,
            notice: None,
            probes: Probes::new(),
        }
    }

    /// Live: a run has started (the trainer's `TrainerEvent::Started`).
    pub fn live(info: &RunInfo, themes: ThemeSet) -> App {
        let mut app = App::blank(themes, Source::Live);
        app.device = match &info.device_note {
            Some(note) => format!("{} ({note})", info.device),
            None => info.device.clone(),
        };
        app.session_dir = info.out_dir.clone();
        app.total_steps = info.total_steps;
        app.first_checkpoint = info.first_checkpoint;
        app.task_names = info.task_names.clone();
        app.set_points(info.points.iter().map(|p| (p.task, p.seen)));
        if !info.warnings.is_empty() {
            app.set_warnings(info.warnings.clone());
        }
        app
    }

    /// Replay: every checkpoint at once from a saved session, no training.
    pub fn replay(session: &Session, themes: ThemeSet) -> App {
        let m = &session.manifest;
        let mut app = App::blank(themes, Source::Replay(m.status));
        app.phase = match m.status {
            RunStatus::Running => Phase::Paused,
            RunStatus::Finished => Phase::Finished,
            RunStatus::Stopped => Phase::Stopped,
        };
        app.device = m.device.clone();
        app.session_dir = session.dir.clone();
        app.total_steps = m.total_steps;
        app.task_names = m.task_names.clone();
        app.set_points(session.points.iter().map(|p| (p.task, p.seen)));
        for s in &session.snapshots {
            app.add_snapshot(s.clone());
        }
        app.step = app.snapshots.last().map_or(0, |s| s.step);
        for e in &session.log {
            app.push_loss(e.step, e.loss);
        }
        // Replay opens on the last checkpoint: the finished picture is what one comes back for.
        app.selected = app.snapshots.len().saturating_sub(1);
        app.follow = false;
        app
    }

    fn set_points(&mut self, points: impl Iterator<Item = (usize, bool)>) {
        for (task, seen) in points {
            if seen {
                self.seen_tasks.push(task);
            } else {
                self.unseen_tasks.push(task);
            }
        }
    }

    pub fn on_trainer(&mut self, event: TrainerEvent) {
        match event {
            TrainerEvent::Started(info) => {
                self.total_steps = info.total_steps;
                self.first_checkpoint = info.first_checkpoint;
                self.device = info.device.clone();
            }
            TrainerEvent::Progress(p) => {
                self.step = p.step;
                self.total_steps = p.total_steps;
                self.steps_per_s = p.steps_per_s;
                if matches!(self.phase, Phase::Running | Phase::Paused) {
                    self.phase = if p.paused { Phase::Paused } else { Phase::Running };
                }
                self.push_loss(p.step, p.loss);
            }
            TrainerEvent::Failed(e) => self.on_failure(&e.message),
            TrainerEvent::Finished(summary) => {
                self.step = summary.steps;
                self.phase = if summary.stopped { Phase::Stopped } else { Phase::Finished };
                let how = if summary.stopped { "stopped" } else { "finished" };
                self.set_status_message(format!(
                    "training {how} at step {} in {:.0}s: loss {:.3}, seen acc {:.0}%, unseen acc {:.0}%",
                    summary.steps,
                    summary.seconds,
                    summary.loss,
                    summary.seen_accuracy * 100.0,
                    summary.unseen_accuracy * 100.0
                ));
            }
        }
    }

    pub fn on_analyser(&mut self, event: AnalyserEvent) {
        match event {
            AnalyserEvent::Checkpoint(s) => {
                self.step = self.step.max(s.step);
                self.add_snapshot(*s);
                // Following, the selection moved: probes follow it.
                self.sync_probes();
            }
            AnalyserEvent::Failed(e) => self.on_failure(&e.message),
        }
    }

    fn on_failure(&mut self, message: &str) {
        self.phase = Phase::Failed;
        self.notice = Some(Notice { text: format!("training failed: {message}"), level: Level::Error });
    }

    fn add_snapshot(&mut self, s: Snapshot) {
        let ranges = s.analysis.layers.iter().map(|l| ranges::fit_half_range(&l.seen_proj, &l.unseen_proj)).collect();
        if s.loss.is_finite() && s.step > 0 {
            self.push_loss(s.step, s.loss);
        }
        // A resumed run may resend a step; keep one snapshot per step, in step order.
        match self.snapshots.binary_search_by_key(&s.step, |x| x.step) {
            Ok(i) => {
                self.snapshots[i] = s;
                self.ranges[i] = ranges;
            }
            Err(i) => {
                self.snapshots.insert(i, s);
                self.ranges.insert(i, ranges);
                // Keep the user's checkpoint selected when an older one lands before it.
                if i <= self.selected && self.snapshots.len() > 1 && !self.follow {
                    self.selected += 1;
                }
            }
        }
        if self.follow {
            self.selected = self.snapshots.len() - 1;
        }
        self.clamp();
    }

    fn push_loss(&mut self, step: usize, loss: f32) {
        if !loss.is_finite() || loss <= 0.0 {
            return;
        }
        let p = (step as f64, f64::from(loss));
        match self.loss.last() {
            Some(&(s, _)) if s >= p.0 => {
                let i = self.loss.partition_point(|&(s, _)| s < p.0);
                if self.loss.get(i).is_some_and(|&(s, _)| s == p.0) {
                    self.loss[i] = p;
                } else {
                    self.loss.insert(i, p);
                }
            }
            _ => self.loss.push(p),
        }
        if self.loss.len() > MAX_LOSS_POINTS {
            self.loss = self
                .loss
                .chunks(2)
                .map(|c| {
                    let n = c.len() as f64;
                    (c.iter().map(|p| p.0).sum::<f64>() / n, c.iter().map(|p| p.1).sum::<f64>() / n)
                })
                .collect();
        }
    }

    /// Layers in the current snapshots (embeddings included).
    pub fn layers(&self) -> usize {
        self.snapshots.iter().map(|s| s.analysis.layers.len()).max().unwrap_or(0)
    }

    pub fn selected_snapshot(&self) -> Option<&Snapshot> {
        self.snapshots.get(self.selected)
    }

    pub(crate) fn clamp(&mut self) {
        self.selected = self.selected.min(self.snapshots.len().saturating_sub(1));
        let deepest = self.layers().saturating_sub(1);
        self.layer = if self.layer_chosen { self.layer.min(deepest) } else { deepest };
    }

    /// A one-line notice in the status bar (replaces the previous one).
    pub fn set_status_message(&mut self, msg: String) {
        self.notice = Some(Notice { text: one_line(&msg), level: Level::Info });
    }

    /// Like [`App::set_status_message`], in the theme's error style.
    pub fn set_status_error(&mut self, msg: String) {
        self.notice = Some(Notice { text: one_line(&msg), level: Level::Error });
    }

    /// Warnings (e.g. from `ThemeSet::load`): the first is shown, with a count of the rest.
    pub fn set_warnings(&mut self, warnings: Vec<String>) {
        let Some(first) = warnings.first() else { return };
        let more = match warnings.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        self.notice = Some(Notice { text: format!("{}{more}", one_line(first)), level: Level::Warning });
    }

    pub fn themes(&self) -> &ThemeSet {
        &self.themes
    }

    /// Index of the selected checkpoint in [`App::snapshots`].
    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn layer(&self) -> usize {
        self.layer
    }

    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }

    /// Whether a live app tracks the newest checkpoint.
    pub fn following(&self) -> bool {
        self.follow
    }

    pub fn focus(&self) -> Panel {
        self.focus
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
