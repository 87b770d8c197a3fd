//! The compare view's state as plain data: the sessions compared, the step and layer chosen, the
//! curve overlaid and the session in front. Keys change it here; `widgets::compare` draws it and
//! `terminal::compare` runs its loop. Each session shows its own checkpoint nearest the chosen
//! step and its own layer nearest the chosen layer (see [`ComparedRun::nearest`] and
//! [`ComparedRun::shown_layer`]).

use ratatui::crossterm::event::KeyEvent;

use super::app::{fit_half_range, Centroids, Level, Notice};
use super::keymap::{compare_intent, CompareIntent};
use super::theme::ThemeSet;
use crate::record::Snapshot;
use crate::report::compare::{ComparedRun, Comparison, CurveDef, CURVES};

/// What the event loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareAction {
    Quit,
}

#[derive(Debug, Clone)]
pub struct CompareView {
    pub comparison: Comparison,
    /// Per session, checkpoint and layer: the scatter's half-ranges, fitted once here so that
    /// drawing a frame sorts nothing (as the app's are).
    ranges: Vec<Vec<Vec<[f32; 2]>>>,
    /// Index into the comparison's steps (the union of every session's).
    pub selected: usize,
    /// The layer asked for; each session shows the nearest it has.
    pub layer: usize,
    /// Index into [`CURVES`].
    pub curve: usize,
    /// The session drawn on top of the others and marked in the table.
    pub front: usize,
    pub show_unseen: bool,
    pub centroids: Centroids,
    pub help: bool,
    pub help_scroll: u16,
    pub themes: ThemeSet,
    pub notice: Option<Notice>,
}

impl CompareView {
    /// Opens on the last step and the deepest layer every session has, where training's outcome
    /// shows; the curve is seen-instruction ARI, the paper's measure of clustering by task.
    pub fn new(comparison: Comparison, themes: ThemeSet) -> CompareView {
        let ranges = comparison
            .runs
            .iter()
            .map(|r| {
                let snaps = &r.session.snapshots;
                snaps
                    .iter()
                    .map(|s| s.analysis.layers.iter().map(|l| fit_half_range(&l.seen_proj, &l.unseen_proj)).collect())
                    .collect()
            })
            .collect();
        let notice = notice_of(&comparison.runs);
        CompareView {
            selected: comparison.steps.len().saturating_sub(1),
            layer: comparison.common_layer(),
            curve: CURVES.iter().position(|c| c.key == "seen_ari").unwrap_or(0),
            front: 0,
            show_unseen: true,
            centroids: Centroids::Off,
            help: false,
            help_scroll: 0,
            themes,
            notice,
            ranges,
            comparison,
        }
    }

    /// The step chosen, if any session has a checkpoint.
    pub fn step(&self) -> Option<usize> {
        self.comparison.steps.get(self.selected).copied()
    }

    pub fn curve_def(&self) -> &'static CurveDef {
        &CURVES[self.curve % CURVES.len()]
    }

    /// Session `run`'s checkpoint shown now (its nearest to the chosen step) and its index.
    pub fn shown(&self, run: usize) -> Option<(usize, &Snapshot)> {
        let r = self.comparison.runs.get(run)?;
        let i = r.nearest(self.step()?)?;
        Some((i, r.session.snapshots.get(i)?))
    }

    /// The scatter's half-ranges of session `run` at its checkpoint `index`, layer `layer`.
    pub fn half_range(&self, run: usize, index: usize, layer: usize) -> [f32; 2] {
        self.ranges.get(run).and_then(|r| r.get(index)).and_then(|c| c.get(layer)).copied().unwrap_or([1.0, 1.0])
    }

    pub fn set_notice(&mut self, level: Level, text: &str) {
        self.notice = Some(Notice::new(level, text));
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<CompareAction> {
        let intent = compare_intent(key)?;
        if self.help && matches!(intent, CompareIntent::Up | CompareIntent::Down) {
            self.help_scroll = match intent {
                CompareIntent::Up => self.help_scroll.saturating_sub(1),
                _ => self.help_scroll.saturating_add(1).min(64),
            };
            return None;
        }
        let last = self.comparison.steps.len().saturating_sub(1);
        let jump = (self.comparison.steps.len() / 10).max(1);
        let sessions = self.comparison.runs.len().max(1);
        match intent {
            CompareIntent::Quit => return Some(CompareAction::Quit),
            CompareIntent::Escape if !self.help => return Some(CompareAction::Quit),
            CompareIntent::Escape => self.help = false,
            CompareIntent::Prev => self.selected = self.selected.saturating_sub(1),
            CompareIntent::Next => self.selected = (self.selected + 1).min(last),
            CompareIntent::First => self.selected = 0,
            CompareIntent::Last => self.selected = last,
            CompareIntent::PageUp => self.selected = self.selected.saturating_sub(jump),
            CompareIntent::PageDown => self.selected = (self.selected + jump).min(last),
            CompareIntent::Up => self.layer = self.layer.saturating_sub(1),
            CompareIntent::Down => {
                self.layer = (self.layer + 1).min(self.comparison.max_layers().saturating_sub(1));
            }
            CompareIntent::FocusNext => self.front = (self.front + 1) % sessions,
            CompareIntent::FocusPrev => self.front = (self.front + sessions - 1) % sessions,
            CompareIntent::NextMetric => self.curve = (self.curve + 1) % CURVES.len(),
            CompareIntent::PrevMetric => self.curve = (self.curve + CURVES.len() - 1) % CURVES.len(),
            CompareIntent::ToggleUnseen => self.show_unseen = !self.show_unseen,
            CompareIntent::CycleCentroids => {
                self.centroids = match self.centroids {
                    Centroids::Off => Centroids::KMeans,
                    Centroids::KMeans => Centroids::Task,
                    Centroids::Task => Centroids::Off,
                }
            }
            CompareIntent::NextTheme => {
                let name = self.themes.cycle().to_string();
                self.set_notice(Level::Info, &format!("theme: {name}"));
            }
            CompareIntent::ToggleHelp => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
        }
        None
    }
}

/// What the user should know from the start: a session another process writes (shown as it was
/// when read), damaged checkpoints left out, a session with no checkpoint yet.
fn notice_of(runs: &[ComparedRun]) -> Option<Notice> {
    let mut news: Vec<String> = Vec::new();
    for r in runs {
        if let Some(w) = &r.writer {
            news.push(format!("{} is being written by {w}: shown as it was when read", r.label));
        }
        if let Some(d) = r.session.damaged.first() {
            let more = r.session.damaged.len() - 1;
            let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
            news.push(format!("{}: checkpoint {} is damaged{more}, left out: {d}", r.label, d.step));
        }
        if r.session.snapshots.is_empty() {
            news.push(format!("{} has no checkpoint yet", r.label));
        }
    }
    let first = news.first()?;
    let level = if runs.iter().any(|r| !r.session.damaged.is_empty()) { Level::Warning } else { Level::Info };
    let more = if news.len() > 1 { format!(" (+{} more)", news.len() - 1) } else { String::new() };
    Some(Notice::new(level, &format!("{first}{more}")))
}
