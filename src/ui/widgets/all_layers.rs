//! Every layer of the selected checkpoint at once, one small scatter each, so the deepening of
//! the clusters with depth shows in one glance.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::parts::{fmt_step, panel, title_span};
use super::scatter::{centred, compact_legend, plot};
use crate::ui::app::{App, Panel};

/// Columns for `n` plots in `area`: the grid whose cells come closest to square on screen
/// (a terminal cell is about twice as tall as wide).
fn columns(n: usize, area: Rect) -> usize {
    (1..=n.max(1))
        .max_by_key(|&c| {
            let rows = n.div_ceil(c).max(1);
            let w = usize::from(area.width) / c;
            let h = usize::from(area.height) / rows;
            (w / 2).min(h)
        })
        .unwrap_or(1)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (run, view) = (app.run(), app.view());
    let theme = view.themes.current();
    let [grid, legend] = area.layout(&Layout::vertical([Constraint::Min(0), Constraint::Length(1)]));
    let Some(snap) = app.selected_snapshot() else {
        let block = panel(theme, Line::from(title_span("all layers", theme)), view.focus == Panel::Scatter);
        let inner = block.inner(grid);
        block.render(grid, buf);
        centred(vec![Line::styled("waiting for the first checkpoint…", theme.dim())], inner, buf);
        return;
    };
    let n = snap.analysis.layers.len();
    let cols = columns(n, grid);
    let rows = n.div_ceil(cols).max(1);
    for (i, layer) in snap.analysis.layers.iter().enumerate() {
        let (c, r) = (i % cols, i / cols);
        // Integer split so the cells tile the grid exactly, with no gap at the right edge.
        let x0 = grid.x + (usize::from(grid.width) * c / cols) as u16;
        let x1 = grid.x + (usize::from(grid.width) * (c + 1) / cols) as u16;
        let y0 = grid.y + (usize::from(grid.height) * r / rows) as u16;
        let y1 = grid.y + (usize::from(grid.height) * (r + 1) / rows) as u16;
        let cell = Rect::new(x0, y0, x1 - x0, y1 - y0);
        let selected = i == view.layer;
        let mut title = vec![Span::styled(format!(" L{i} "), if selected { theme.selected() } else { theme.title() })];
        title.push(match &layer.error {
            Some(_) => Span::styled(" failed ", theme.error()),
            None => Span::styled(format!(" ARI {:.2} ", layer.scores.seen.ari), theme.text()),
        });
        let block = panel(theme, Line::from(title), selected && view.focus == Panel::Scatter);
        let inner = block.inner(cell);
        block.render(cell, buf);
        match &layer.error {
            Some(e) => centred(vec![Line::styled(e.clone(), theme.error())], inner, buf),
            None => {
                let half = run.ranges.get(view.selected).and_then(|r| r.get(i)).copied().unwrap_or([1.0, 1.0]);
                plot(app, theme, layer, half, inner, buf);
            }
        }
    }
    let step = Span::styled(format!(" step {} ", fmt_step(snap.step)), theme.dim());
    let step_w = u16::try_from(step.width()).unwrap_or(0);
    let mut line = compact_legend(app, theme, legend.width.saturating_sub(step_w));
    line.spans.insert(0, step);
    line.render(legend, buf);
}
