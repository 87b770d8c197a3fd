//! The sweep view's state as plain data: the latest reading of the sweep directory, which metric
//! against which parameter, which point is selected and where the focus is. Keys change it here;
//! `widgets::sweep` draws it; `terminal::sweep` feeds it readings and opens sessions.

use std::path::PathBuf;

use ratatui::crossterm::event::KeyEvent;

use super::app::{Level, Notice};
use super::keymap::{sweep_intent, SweepIntent};
use super::theme::ThemeSet;
use crate::report::sweep_series::{self, SweepPlot};
use crate::report::sweep_summary::{PointSummary, SweepSummary, METRICS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepFocus {
    Plot,
    List,
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepAction {
    Quit,
    /// Open this session (a point's directory) in the app.
    Open(PathBuf),
}

#[derive(Debug, Clone)]
pub struct SweepView {
    /// The sweep directory as the user gave it.
    pub dir: PathBuf,
    /// The latest good reading; kept while a later one fails, so a hiccup does not blank it.
    pub summary: Option<SweepSummary>,
    /// Why the latest reading failed, if it did.
    pub read_error: Option<String>,
    /// Index into `METRICS`.
    pub metric: usize,
    /// Index into `sweep_series::axes`.
    pub axis: usize,
    /// Index into the summary's points.
    pub selected: usize,
    pub focus: SweepFocus,
    pub help: bool,
    pub help_scroll: u16,
    pub themes: ThemeSet,
    pub notice: Option<Notice>,
    /// The sweep's points run from this view (`sweep ... --view`) and have not all ended.
    pub running_here: bool,
}

impl SweepView {
    pub fn new(dir: PathBuf, themes: ThemeSet) -> SweepView {
        SweepView {
            dir,
            summary: None,
            read_error: None,
            // Unseen accuracy: whether unseen instructions are answered is what sweeps ask.
            metric: METRICS.iter().position(|m| m.key == "unseen_accuracy").unwrap_or(0),
            axis: 0,
            selected: 0,
            focus: SweepFocus::Plot,
            help: false,
            help_scroll: 0,
            themes,
            notice: None,
            running_here: false,
        }
    }

    /// A new reading of the sweep directory (or why there is none).
    pub fn on_read(&mut self, read: Result<SweepSummary, String>) {
        match read {
            Ok(s) => {
                self.selected = self.selected.min(s.points.len().saturating_sub(1));
                self.summary = Some(s);
                self.read_error = None;
            }
            Err(e) => self.read_error = Some(e),
        }
    }

    /// What the plot shows now, once the sweep has been read.
    pub fn plot(&self) -> Option<SweepPlot> {
        self.summary.as_ref().map(|s| sweep_series::plot(s, self.metric, self.axis))
    }

    pub fn selected_point(&self) -> Option<&PointSummary> {
        self.summary.as_ref()?.points.get(self.selected)
    }

    pub fn set_notice(&mut self, level: Level, text: &str) {
        self.notice = Some(Notice::new(level, text));
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<SweepAction> {
        let intent = sweep_intent(key)?;
        if self.help && matches!(intent, SweepIntent::Up | SweepIntent::Down) {
            self.help_scroll = match intent {
                SweepIntent::Up => self.help_scroll.saturating_sub(1),
                _ => self.help_scroll.saturating_add(1).min(64),
            };
            return None;
        }
        let count = self.summary.as_ref().map_or(0, |s| s.points.len());
        let axes = self.summary.as_ref().map_or(1, |s| sweep_series::axes(s).len());
        match intent {
            SweepIntent::Quit => return Some(SweepAction::Quit),
            SweepIntent::ToggleHelp => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
            SweepIntent::CloseHelp => self.help = false,
            SweepIntent::NextTheme => {
                let name = self.themes.cycle().to_string();
                self.set_notice(Level::Info, &format!("theme: {name}"));
            }
            SweepIntent::FocusNext => {
                self.focus = match self.focus {
                    SweepFocus::Plot => SweepFocus::List,
                    SweepFocus::List => SweepFocus::Plot,
                }
            }
            SweepIntent::NextMetric => self.metric = (self.metric + 1) % METRICS.len(),
            SweepIntent::PrevMetric => self.metric = (self.metric + METRICS.len() - 1) % METRICS.len(),
            SweepIntent::NextAxis => self.axis = (self.axis + 1) % axes.max(1),
            SweepIntent::First => self.selected = 0,
            SweepIntent::Last => self.selected = count.saturating_sub(1),
            SweepIntent::Up | SweepIntent::Down if self.focus == SweepFocus::List => {
                self.selected = match intent {
                    SweepIntent::Up => self.selected.saturating_sub(1),
                    _ => (self.selected + 1).min(count.saturating_sub(1)),
                }
            }
            SweepIntent::Up | SweepIntent::Down => self.step_within_value(intent == SweepIntent::Down),
            SweepIntent::Left | SweepIntent::Right => self.step_value(intent == SweepIntent::Right),
            SweepIntent::Open => return self.open(),
        }
        None
    }

    fn open(&mut self) -> Option<SweepAction> {
        let (summary, point) = (self.summary.as_ref()?, self.selected_point()?);
        if point.state == "pending" {
            let text = format!("point {} ({}) has not started: nothing to show yet", point.index, point.label);
            self.set_notice(Level::Info, &text);
            return None;
        }
        Some(SweepAction::Open(summary.session_dir(point)))
    }

    /// The x-axis value of point `i` (its seed for a sweep of seeds alone).
    fn value_of(&self, summary: &SweepSummary, i: usize) -> Option<String> {
        let p = summary.points.get(i)?;
        let axes = sweep_series::axes(summary);
        let key = &axes[self.axis % axes.len()];
        if summary.axes.is_empty() {
            Some(p.seed.to_string())
        } else {
            p.params.get(key).cloned()
        }
    }

    /// The next or previous parameter value: the point with the same seed and other
    /// parameters there, else the first point there.
    fn step_value(&mut self, forward: bool) {
        let Some(summary) = self.summary.as_ref() else { return };
        let Some(plot) = self.plot() else { return };
        let Some(now) = self.value_of(summary, self.selected) else { return };
        let Some(at) = plot.ticks.iter().position(|(_, v)| *v == now) else { return };
        let to = if forward { at + 1 } else { at.wrapping_sub(1) };
        let Some((_, target)) = plot.ticks.get(to) else { return };
        let here = &summary.points[self.selected];
        let there: Vec<usize> = (0..summary.points.len())
            .filter(|&i| self.value_of(summary, i).as_deref() == Some(target.as_str()))
            .collect();
        let same = |i: &&usize| {
            let p = &summary.points[**i];
            let others = |q: &PointSummary| {
                q.params
                    .iter()
                    .filter(|(k, _)| **k != plot.axis)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            (summary.axes.is_empty() || p.seed == here.seed) && others(p) == others(here)
        };
        if let Some(&i) = there.iter().find(same).or(there.first()) {
            self.selected = i;
        }
    }

    /// Another point at the same parameter value, in list order, wrapping.
    fn step_within_value(&mut self, forward: bool) {
        let Some(summary) = self.summary.as_ref() else { return };
        let now = self.value_of(summary, self.selected);
        let peers: Vec<usize> = (0..summary.points.len()).filter(|&i| self.value_of(summary, i) == now).collect();
        let Some(at) = peers.iter().position(|&i| i == self.selected) else { return };
        let n = peers.len();
        self.selected = peers[if forward { (at + 1) % n } else { (at + n - 1) % n }];
    }
}
