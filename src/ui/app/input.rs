//! What keys and mouse clicks do to the App. Keys become intents in [`crate::ui::keymap`]; here
//! an intent gets its meaning in the current state (focus, live or replay, run phase).

use ratatui::crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::probe::LineOutcome;
use super::{Action, App, Centroids, MarkerKind, Panel, Phase, Source, View};
use crate::train::protocol::TrainerCommand;
use crate::ui::keymap::{intent, Intent};
use crate::ui::widgets::layout;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if self.probes.line.is_some() {
            return match self.probes.on_line_key(key) {
                LineOutcome::Nothing => None,
                LineOutcome::Quit => Some(Action::Quit),
                LineOutcome::Submit(text) => {
                    self.submit_probe(text);
                    None
                }
            };
        }
        let intent = intent(key)?;
        let view = &mut self.view;
        // While the help is open the arrows scroll it (short screens cannot show it whole).
        if view.help && matches!(intent, Intent::Up | Intent::Down) {
            view.help_scroll = if intent == Intent::Up {
                view.help_scroll.saturating_sub(1)
            } else {
                view.help_scroll.saturating_add(1).min(64)
            };
            return None;
        }
        let n = self.run.snapshots.len();
        let (selected, last, jump) = (self.view.selected, n.saturating_sub(1), (n / 10).max(1));
        match intent {
            Intent::Quit => return Some(Action::Quit),
            Intent::Prev => self.select(selected.saturating_sub(1)),
            Intent::Next => self.select(selected + 1),
            Intent::First => self.select(0),
            Intent::Last => self.select(last),
            Intent::PageUp => self.select(selected.saturating_sub(jump)),
            Intent::PageDown => self.select(selected + jump),
            Intent::Up if self.view.focus == Panel::Timeline => self.select(selected.saturating_sub(jump)),
            Intent::Down if self.view.focus == Panel::Timeline => self.select(selected + jump),
            Intent::Up => {
                self.view.layer = self.view.layer.saturating_sub(1);
                self.view.layer_chosen = true;
            }
            Intent::Down => {
                self.view.layer += 1;
                self.view.layer_chosen = true;
            }
            Intent::TogglePause => return self.toggle_pause(),
            Intent::ToggleAllLayers => {
                self.view.mode = match self.view.mode {
                    View::Scatter => View::AllLayers,
                    View::AllLayers => View::Scatter,
                }
            }
            Intent::ToggleUnseen => self.view.show_unseen = !self.view.show_unseen,
            Intent::ToggleEmbedding => self.toggle_embedding(),
            Intent::CycleCentroids => {
                self.view.centroids = match self.view.centroids {
                    Centroids::Off => Centroids::KMeans,
                    Centroids::KMeans => Centroids::Task,
                    Centroids::Task => Centroids::Off,
                }
            }
            Intent::CycleMarker => {
                self.view.marker = match self.view.marker {
                    MarkerKind::Braille => MarkerKind::HalfBlock,
                    MarkerKind::HalfBlock => MarkerKind::Dot,
                    MarkerKind::Dot => MarkerKind::Braille,
                }
            }
            Intent::NextTheme => {
                let name = self.view.themes.cycle().to_string();
                self.set_status_message(format!("theme: {name}"));
            }
            Intent::Follow => self.toggle_follow(),
            Intent::ToggleHelp => {
                self.view.help = !self.view.help;
                self.view.help_scroll = 0;
            }
            Intent::CloseHelp => self.view.help = false,
            Intent::FocusNext | Intent::FocusPrev => {
                let order = [Panel::Scatter, Panel::Curves, Panel::Timeline];
                let i = order.iter().position(|&p| p == self.view.focus).unwrap_or(0);
                let step = if intent == Intent::FocusNext { 1 } else { order.len() - 1 };
                self.view.focus = order[(i + step) % order.len()];
            }
            Intent::OpenProbe => {
                if self.probes.open_line() {
                    self.view.help = false;
                } else {
                    self.set_status_error("probes need the experiment (not available here)".into());
                }
            }
            Intent::ToggleProbePanel => self.probes.panel = !self.probes.panel,
            Intent::PrevProbe | Intent::NextProbe => {
                if !self.probes.cycle(intent == Intent::NextProbe) {
                    self.set_status_message("no probes yet: p opens the probe line".into());
                }
            }
            Intent::ToggleTrail => {
                let msg = self.probes.toggle_trail();
                self.set_status_message(msg.into());
            }
            Intent::ToggleAttributionValues => self.probes.values = !self.probes.values,
            Intent::DeleteProbe => {
                if let Some(id) = self.probes.delete_selected() {
                    self.set_status_message(format!("probe ◆{id} deleted"));
                }
            }
        }
        self.clamp();
        self.sync_probes();
        None
    }

    /// Moves the selection; in a live or followed run, landing on the newest checkpoint resumes
    /// following and leaving it stops, so scrubbing back is never undone by the next checkpoint.
    fn select(&mut self, index: usize) {
        let last = self.run.snapshots.len().saturating_sub(1);
        self.view.selected = index.min(last);
        if matches!(self.run.source, Source::Live | Source::Follow) {
            self.view.follow = self.view.selected == last;
        }
    }

    fn toggle_follow(&mut self) {
        if !matches!(self.run.source, Source::Live | Source::Follow) {
            self.set_status_message("replay: every checkpoint is already loaded, nothing to follow".into());
            return;
        }
        self.view.follow = !self.view.follow;
        if self.view.follow {
            self.view.selected = self.run.snapshots.len().saturating_sub(1);
        }
    }

    fn toggle_pause(&mut self) -> Option<Action> {
        match (self.run.source, self.run.phase) {
            (Source::Replay(_), _) => {
                self.set_status_message("replay: there is no training to pause".into());
                None
            }
            (Source::Follow, _) => {
                self.set_status_message("another process trains this run: pause it there".into());
                None
            }
            (Source::Live, Phase::Running) => {
                // Optimistic: the next Progress confirms it, and the key feels instant.
                self.run.phase = Phase::Paused;
                Some(Action::Trainer(TrainerCommand::Pause))
            }
            (Source::Live, Phase::Paused) => {
                self.run.phase = Phase::Running;
                Some(Action::Trainer(TrainerCommand::Resume))
            }
            (Source::Live, _) => {
                self.set_status_message("training is over; nothing to pause".into());
                None
            }
        }
    }

    /// A click on the timeline selects the checkpoint under the pointer. `area` is the frame's
    /// (what the App is drawn into): the click is placed with the layout drawing uses.
    pub fn on_mouse(&mut self, m: MouseEvent, area: Rect) {
        if !matches!(m.kind, MouseEventKind::Down(MouseButton::Left) | MouseEventKind::Drag(MouseButton::Left)) {
            return;
        }
        if let Some(i) = layout::checkpoint_at(area, self.run.snapshots.len(), Position::new(m.column, m.row)) {
            self.view.focus = Panel::Timeline;
            self.select(i);
            self.sync_probes();
        }
    }
}
