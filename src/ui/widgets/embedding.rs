//! What the scatter says in the t-SNE view: progress while a layout is computed, why there is
//! none, and the axes of one (which, unlike PCA's, have no units or explained variance).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::parts::fmt_step;
use crate::ui::app::EmbeddingState;
use crate::ui::theme::Theme;

/// The scatter's body while the t-SNE layout of `step`/`layer` is not there to draw.
pub fn waiting<'a>(state: &EmbeddingState<'_>, step: usize, layer: usize, theme: &Theme) -> Vec<Line<'a>> {
    let what = format!("t-SNE of layer {layer} at step {}", fmt_step(step));
    match state {
        EmbeddingState::Unsupported => vec![
            Line::styled(what, theme.dim()),
            Line::styled("needs the session's experiment, which could not be rebuilt", theme.error()),
        ],
        EmbeddingState::Failed(e) => vec![Line::styled(what, theme.dim()), Line::styled(e.to_string(), theme.error())],
        EmbeddingState::Computing { progress } => {
            let progress = match progress {
                Some((epoch, epochs)) => format!("epoch {epoch}/{epochs}"),
                None => "hidden states from the checkpoint's weights".into(),
            };
            vec![
                Line::styled(format!("{what}: computing…"), theme.text()),
                Line::styled(progress, theme.dim()),
                Line::styled("n: back to PCA", theme.dim()),
            ]
        }
        EmbeddingState::Ready(_) => Vec::new(),
    }
}

/// Axis titles of a t-SNE plot, with a plain word on where the `probes` are.
pub fn axis_titles(theme: &Theme, probes: usize, off: usize, rows: [Rect; 2], buf: &mut Buffer) {
    let [y_title, x_title] = rows;
    let mut y = vec![Span::styled("▲ t-SNE 2", theme.axis())];
    if probes > 0 {
        y.push(Span::styled(format!("  {probes} probe(s): PCA view only (n)"), theme.dim()));
    }
    if off > 0 {
        y.push(Span::styled(format!("  {off} off-scale"), theme.dim()));
    }
    Line::from(y).render(y_title, buf);
    // No scale: t-SNE distances have no unit, only the neighbourhoods mean something.
    Line::styled("t-SNE 1 ▶", theme.axis()).centered().render(x_title, buf);
}
