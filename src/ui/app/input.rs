//! What keys and mouse clicks do to the App. Keys become intents in [`crate::ui::keymap`]; here
//! an intent gets its meaning in the current state (focus, live or replay, run phase).

use ratatui::crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::{Action, App, Centroids, MarkerKind, Panel, Phase, Source, View};
use crate::train::protocol::TrainerCommand;
use crate::ui::keymap::{intent, Intent};
use crate::ui::widgets::layout;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if self.probes.line.is_some() {
            return self.on_line_key(key);
        }
        let intent = intent(key)?;
        // While the help is open the arrows scroll it (short screens cannot show it whole).
        if self.help && matches!(intent, Intent::Up | Intent::Down) {
            self.help_scroll = if intent == Intent::Up {
                self.help_scroll.saturating_sub(1)
            } else {
                self.help_scroll.saturating_add(1).min(64)
            };
            return None;
        }
        let last = self.snapshots.len().saturating_sub(1);
        let jump = (self.snapshots.len() / 10).max(1);
        match intent {
            Intent::Quit => return Some(Action::Quit),
            Intent::Prev => self.select(self.selected.saturating_sub(1)),
            Intent::Next => self.select(self.selected + 1),
            Intent::First => self.select(0),
            Intent::Last => self.select(last),
            Intent::PageUp => self.select(self.selected.saturating_sub(jump)),
            Intent::PageDown => self.select(self.selected + jump),
            Intent::Up if self.focus == Panel::Timeline => self.select(self.selected.saturating_sub(jump)),
            Intent::Down if self.focus == Panel::Timeline => self.select(self.selected + jump),
            Intent::Up => {
                self.layer = self.layer.saturating_sub(1);
                self.layer_chosen = true;
            }
            Intent::Down => {
                self.layer += 1;
                self.layer_chosen = true;
            }
            Intent::TogglePause => return self.toggle_pause(),
            Intent::ToggleAllLayers => {
                self.view = match self.view {
                    View::Scatter => View::AllLayers,
                    View::AllLayers => View::Scatter,
                }
            }
            Intent::ToggleUnseen => self.show_unseen = !self.show_unseen,
            Intent::CycleCentroids => {
                self.centroids = match self.centroids {
                    Centroids::Off => Centroids::KMeans,
                    Centroids::KMeans => Centroids::Task,
                    Centroids::Task => Centroids::Off,
                }
            }
            Intent::CycleMarker => {
                self.marker = match self.marker {
                    MarkerKind::Braille => MarkerKind::HalfBlock,
                    MarkerKind::HalfBlock => MarkerKind::Dot,
                    MarkerKind::Dot => MarkerKind::Braille,
                }
            }
            Intent::NextTheme => {
                let name = self.themes.cycle().to_string();
                self.set_status_message(format!("theme: {name}"));
            }
            Intent::Follow => self.toggle_follow(),
            Intent::ToggleHelp => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
            Intent::CloseHelp => self.help = false,
            Intent::FocusNext | Intent::FocusPrev => {
                let order = [Panel::Scatter, Panel::Curves, Panel::Timeline];
                let i = order.iter().position(|&p| p == self.focus).unwrap_or(0);
                let step = if intent == Intent::FocusNext { 1 } else { order.len() - 1 };
                self.focus = order[(i + step) % order.len()];
            }
            Intent::OpenProbe => self.open_probe_line(),
            Intent::ToggleProbePanel => self.probes.panel = !self.probes.panel,
            Intent::PrevProbe => self.cycle_probe(false),
            Intent::NextProbe => self.cycle_probe(true),
            Intent::ToggleTrail => self.toggle_trail(),
            Intent::ToggleAttributionValues => self.probes.values = !self.probes.values,
            Intent::DeleteProbe => self.delete_probe(),
        }
        self.clamp();
        self.sync_probes();
        None
    }

    /// Moves the selection; in a live run, landing on the newest checkpoint resumes following
    /// and leaving it stops, so scrubbing back is never undone by the next checkpoint.
    fn select(&mut self, index: usize) {
        let last = self.snapshots.len().saturating_sub(1);
        self.selected = index.min(last);
        if self.source == Source::Live {
            self.follow = self.selected == last;
        }
    }

    fn toggle_follow(&mut self) {
        if self.source != Source::Live {
            self.set_status_message("replay: every checkpoint is already loaded, nothing to follow".into());
            return;
        }
        self.follow = !self.follow;
        if self.follow {
            self.selected = self.snapshots.len().saturating_sub(1);
        }
    }

    fn toggle_pause(&mut self) -> Option<Action> {
        match (self.source, self.phase) {
            (Source::Replay(_), _) => {
                self.set_status_message("replay: there is no training to pause".into());
                None
            }
            (Source::Live, Phase::Running) => {
                // Optimistic: the next Progress confirms it, and the key feels instant.
                self.phase = Phase::Paused;
                Some(Action::Trainer(TrainerCommand::Pause))
            }
            (Source::Live, Phase::Paused) => {
                self.phase = Phase::Running;
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
        if let Some(i) = layout::checkpoint_at(area, self.snapshots.len(), Position::new(m.column, m.row)) {
            self.focus = Panel::Timeline;
            self.select(i);
            self.sync_probes();
        }
    }
}
