//! All UI state as plain data, and what keys and worker events do to it. Drawing lives in
//! [`super::widgets`] (`impl Widget for &App`); the event loop lives in `super::terminal`.
//!
//! The App is three parts, each read through its getter: [`RunData`] (what the run is and has
//! reported), [`ViewState`] (what the user chose) and [`Probes`] (the user's probes and what
//! came back for them). Events and keys change them here and in `input`; widgets and tests only
//! read them.

mod embedding;
mod follow;
mod input;
mod notice;
mod probe;
mod probe_line;
mod probe_support;
mod ranges;
mod run;
mod view;

pub use embedding::{EmbeddedLayer, EmbeddingState, Embeddings};
pub use follow::Followed;
pub use notice::{Level, Notice};
pub(crate) use probe::verdict;
pub use probe::{Probe, Probes};
pub use probe_line::ProbeLine;
pub(crate) use ranges::fit_half_range;
pub use run::{Phase, RunData, Source};
pub use view::{Centroids, MarkerKind, Panel, View, ViewState};

use std::sync::Arc;

use probe::Received;
use run::Added;

use crate::analysis::probe::Placement;
use crate::experiment::Experiment;
use crate::record::{EmbeddingEvent, EmbeddingRequest, PointInfo, ProbeRequest, ProbeResult, RunInfo, Snapshot};
use crate::session::{RunStatus, Session};
use crate::train::protocol::{AnalyserEvent, TrainerCommand, TrainerEvent};
use crate::ui::theme::ThemeSet;

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Trainer(TrainerCommand),
}

#[derive(Debug, Clone)]
pub struct App {
    run: RunData,
    view: ViewState,
    probes: Probes,
    embeddings: Embeddings,
}

impl App {
    fn blank(themes: ThemeSet, source: Source) -> App {
        App {
            run: RunData::new(source),
            view: ViewState::new(themes),
            probes: Probes::new(),
            embeddings: Embeddings::default(),
        }
    }

    /// Live: a run has started (the trainer's `TrainerEvent::Started`).
    pub fn live(info: &RunInfo, themes: ThemeSet) -> App {
        let mut app = App::blank(themes, Source::Live);
        let run = &mut app.run;
        run.device = match &info.device_note {
            Some(note) => format!("{} ({note})", info.device),
            None => info.device.clone(),
        };
        run.session_dir = info.out_dir.clone();
        run.total_steps = info.total_steps;
        run.first_checkpoint = info.first_checkpoint;
        run.task_names = info.task_names.clone();
        run.phase_marks = info.phases.clone();
        run.set_points(info.points.iter().map(|p| (p.task, p.seen)));
        if !info.warnings.is_empty() {
            app.set_warnings(info.warnings.clone());
        }
        app
    }

    /// Replay: every checkpoint at once from a saved session, no training.
    pub fn replay(session: &Session, themes: ThemeSet) -> App {
        let m = &session.manifest;
        let mut app = App::blank(themes, Source::Replay(m.status));
        app.run.phase = Phase::of(m.status);
        if let Some(reason) = &m.reason {
            let level = if m.status == RunStatus::Failed { Level::Error } else { Level::Info };
            app.view.notice = Some(Notice::new(level, reason));
        }
        app.run.device = m.device.clone();
        app.run.session_dir = session.dir.clone();
        app.run.total_steps = m.total_steps;
        app.run.task_names = m.task_names.clone();
        app.run.phase_marks = m.phases.clone();
        app.run.checkpoint_labels =
            m.analyzed.iter().flat_map(|a| a.models.iter().map(|model| model.label.clone())).collect();
        app.run.set_points(session.points.iter().map(|p| (p.task, p.seen)));
        for s in &session.snapshots {
            app.add_snapshot(s.clone());
        }
        app.run.damaged = session.damaged.iter().map(|d| d.step).collect();
        app.run.damaged.sort_unstable();
        app.run.step = app.run.snapshots.last().map_or(0, |s| s.step);
        for e in &session.log {
            app.run.push_loss(e.step, e.loss);
        }
        // Replay opens on the last checkpoint: the finished picture is what one comes back for.
        app.view.selected = app.run.snapshots.len().saturating_sub(1);
        app.view.follow = false;
        app
    }

    /// What the run is and has reported.
    pub fn run(&self) -> &RunData {
        &self.run
    }

    /// What the user chose.
    pub fn view(&self) -> &ViewState {
        &self.view
    }

    /// The probes, their results and the probe line.
    pub fn probes(&self) -> &Probes {
        &self.probes
    }

    /// The t-SNE view: whether it is on, and the layouts that came back.
    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// Enables the t-SNE view (a t-SNE thread answers requests); without it, the view says why
    /// there is nothing to show.
    pub fn set_embedding_support(&mut self) {
        self.embeddings.set_supported();
    }

    /// The layout the t-SNE view needs and does not have; the event loop drains this after
    /// every event and sends it to the t-SNE thread.
    pub fn take_embedding_requests(&mut self) -> Vec<EmbeddingRequest> {
        if self.view.mode == View::Scatter {
            if let Some(step) = self.selected_snapshot().map(|s| s.step) {
                self.embeddings.want(step, self.view.layer);
            }
        }
        self.embeddings.take_requests()
    }

    /// Progress or a layout from the t-SNE thread.
    pub fn on_embedding(&mut self, event: EmbeddingEvent) {
        let request = match &event {
            EmbeddingEvent::Progress { request, .. } | EmbeddingEvent::Done { request, .. } => *request,
        };
        if let EmbeddingEvent::Done { outcome: Err(e), .. } = &event {
            self.view.notice = Some(Notice::new(Level::Error, e));
        }
        let analysis = self.run.snapshots.iter().find(|s| s.step == request.step).and_then(|s| s.layer(request.layer));
        self.embeddings.receive(event, analysis, &self.run.seen_tasks);
    }

    /// The `n` key: the scatter switches between PCA and t-SNE.
    fn toggle_embedding(&mut self) {
        self.embeddings.shown = !self.embeddings.shown;
        let msg = match (self.embeddings.shown, self.view.mode) {
            (false, _) => "scatter: PCA".to_string(),
            (true, View::AllLayers) => "t-SNE shows in the single-layer scatter (a); the grid stays PCA".into(),
            (true, View::Scatter) => {
                "scatter: t-SNE (computed on request, aligned to the previous checkpoint; probes are PCA-only)".into()
            }
        };
        self.set_status_message(msg);
    }

    pub fn selected_snapshot(&self) -> Option<&Snapshot> {
        self.run.snapshots.get(self.view.selected)
    }

    /// Where probe `index` lands in `layer` at snapshot `snapshot` (an index into
    /// [`RunData::snapshots`]); `None` without a result, on an error, or when it does not fit.
    pub fn probe_placement(&self, index: usize, snapshot: usize, layer: usize) -> Option<Placement> {
        self.probes.placement(&self.run.snapshots, index, snapshot, layer)
    }

    pub fn on_trainer(&mut self, event: TrainerEvent) {
        match event {
            TrainerEvent::Started(info) => {
                self.run.total_steps = info.total_steps;
                self.run.first_checkpoint = info.first_checkpoint;
                self.run.device = info.device.clone();
            }
            TrainerEvent::Progress(p) => {
                self.run.step = p.step;
                self.run.total_steps = p.total_steps;
                self.run.steps_per_s = p.steps_per_s;
                if matches!(self.run.phase, Phase::Running | Phase::Paused) {
                    self.run.phase = if p.paused { Phase::Paused } else { Phase::Running };
                }
                self.run.push_loss(p.step, p.loss);
            }
            TrainerEvent::Failed(e) => self.on_failure(&e.message),
            TrainerEvent::Finished(summary) => {
                self.run.step = summary.steps;
                self.run.phase = if summary.stopped { Phase::Stopped } else { Phase::Finished };
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
                self.run.step = self.run.step.max(s.step);
                self.add_snapshot(*s);
                // Following, the selection moved: probes follow it.
                self.sync_probes();
            }
            AnalyserEvent::Failed(e) => self.on_failure(&e.message),
        }
    }

    fn on_failure(&mut self, message: &str) {
        self.run.phase = Phase::Failed;
        self.view.notice = Some(Notice { text: format!("training failed: {message}"), level: Level::Error });
    }

    fn add_snapshot(&mut self, s: Snapshot) {
        if let Added::Inserted(i) = self.run.add_snapshot(s) {
            // Keep the user's checkpoint selected when an older one lands before it.
            if i <= self.view.selected && self.run.snapshots.len() > 1 && !self.view.follow {
                self.view.selected += 1;
            }
        }
        if self.view.follow {
            self.view.selected = self.run.snapshots.len() - 1;
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        self.view.clamp(self.run.snapshots.len(), self.run.layers());
    }

    /// A one-line notice in the status bar (replaces the previous one).
    pub fn set_status_message(&mut self, msg: String) {
        self.view.notice = Some(Notice::new(Level::Info, &msg));
    }

    /// Like [`App::set_status_message`], in the theme's error style.
    pub fn set_status_error(&mut self, msg: String) {
        self.view.notice = Some(Notice::new(Level::Error, &msg));
    }

    /// Warnings (e.g. from `ThemeSet::load`): the first is shown, with a count of the rest.
    pub fn set_warnings(&mut self, warnings: Vec<String>) {
        let Some(first) = warnings.first() else { return };
        let more = match warnings.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        self.view.notice = Some(Notice { text: format!("{}{more}", notice::one_line(first)), level: Level::Warning });
    }

    /// Enables probing: the experiment (completion, quick fills, validation, answer checking)
    /// and the model's context length. Without it, `p` shows "probes need the experiment".
    pub fn set_probe_support(&mut self, experiment: Arc<Experiment>, context: usize) {
        self.probes.set_support(experiment, context);
        self.sync_probes();
    }

    /// Enables free-text probing, for a session of pretrained models (which has no
    /// experiment): the probe line takes any text as an instruction, nothing is completed, and
    /// quick fills draw from `points`, the session's prompts.
    pub fn set_free_text_probes(&mut self, points: &[PointInfo]) {
        self.probes.set_free_text(points);
        self.sync_probes();
    }

    /// Probes loaded from a saved session (replay), shown as if just made; text only.
    pub fn add_saved_probes(&mut self, texts: Vec<String>) {
        self.probes.add_saved(texts);
        self.sync_probes();
    }

    /// Probe requests the app wants run (new probes, and probes following the user to another
    /// checkpoint); the event loop drains this after every event.
    pub fn take_probe_requests(&mut self) -> Vec<ProbeRequest> {
        self.sync_probes();
        self.probes.take_requests()
    }

    /// Probes the user deleted that the session has on file, as (id, text); the event loop
    /// drains this and tells the probe thread, which keeps the session's record.
    pub fn take_forgotten_probes(&mut self) -> Vec<(u64, String)> {
        self.probes.take_forgotten()
    }

    /// A probe came back: its outcome is kept for its checkpoint.
    pub fn on_probe_result(&mut self, r: ProbeResult) {
        match self.probes.receive(r) {
            Received::Unknown => return,
            Received::Kept => {}
            Received::Announce { index, step } => {
                if let Some(n) = self.probes.announcement(index, step, &self.run, self.view.layer) {
                    self.view.notice = Some(n);
                }
            }
        }
        self.sync_probes();
    }

    fn sync_probes(&mut self) {
        self.probes.sync(&self.run.snapshots, self.view.selected);
    }

    fn submit_probe(&mut self, text: String) {
        let msg = self.probes.submit(text, &self.run.snapshots, self.view.selected);
        self.set_status_message(msg);
    }
}
