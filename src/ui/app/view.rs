//! What the user chose: the checkpoint and layer, how they are drawn, where the focus is, the
//! help and the theme, and the latest notice. Keys and clicks change it; the run only posts
//! notices, moves the selection while followed and keeps the layer within what it has.

use super::notice::Notice;
use crate::ui::theme::ThemeSet;

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

#[derive(Debug, Clone)]
pub struct ViewState {
    /// Index of the selected checkpoint in [`super::RunData::snapshots`].
    pub selected: usize,
    pub layer: usize,
    /// Until the user picks a layer, the deepest one is shown: that is where clusters form.
    pub layer_chosen: bool,
    /// Whether a live app tracks the newest checkpoint.
    pub follow: bool,
    pub mode: View,
    pub show_unseen: bool,
    pub centroids: Centroids,
    pub marker: MarkerKind,
    pub focus: Panel,
    pub help: bool,
    /// Rows the help overlay is scrolled (short screens).
    pub help_scroll: u16,
    pub themes: ThemeSet,
    pub notice: Option<Notice>,
}

impl ViewState {
    pub(crate) fn new(themes: ThemeSet) -> ViewState {
        ViewState {
            selected: 0,
            layer: 0,
            layer_chosen: false,
            follow: true,
            mode: View::Scatter,
            show_unseen: true,
            centroids: Centroids::Off,
            marker: MarkerKind::Braille,
            focus: Panel::Scatter,
            help: false,
            help_scroll: 0,
            themes,
            notice: None,
        }
    }

    /// Keeps the selection and the layer within `snapshots` checkpoints of `layers` layers.
    pub(crate) fn clamp(&mut self, snapshots: usize, layers: usize) {
        self.selected = self.selected.min(snapshots.saturating_sub(1));
        let deepest = layers.saturating_sub(1);
        self.layer = if self.layer_chosen { self.layer.min(deepest) } else { deepest };
    }
}
