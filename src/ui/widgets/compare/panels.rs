//! Each session's scatter side by side (two rows when one would make them too narrow): the layer
//! asked for or the session's deepest, at the session's checkpoint nearest the chosen step, each
//! title saying which where it is not what was asked.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::record::Snapshot;
use crate::ui::compare_view::CompareView;
use crate::ui::theme::Metric;
use crate::ui::widgets::parts::{fmt_step, panel};
use crate::ui::widgets::scatter::{axis_titles, centred, layer_name, plot_points, task_legend_row, Points};

/// Below this a scatter panel is too narrow to read; the panels wrap into a second row.
const MIN_PANEL_W: u16 = 30;

pub fn render(view: &CompareView, area: Rect, buf: &mut Buffer) {
    let n = view.comparison.runs.len();
    if n == 0 || area.is_empty() {
        return;
    }
    let fits = |cols: usize| area.width / u16::try_from(cols).unwrap_or(u16::MAX).max(1) >= MIN_PANEL_W;
    let cols = if fits(n) { n } else { n.div_ceil(2) };
    let rows = n.div_ceil(cols);
    let row_areas = area.layout_vec(&Layout::vertical(vec![Constraint::Fill(1); rows]));
    for (r, row) in row_areas.iter().enumerate() {
        let cells = row.layout_vec(&Layout::horizontal(vec![Constraint::Fill(1); cols]));
        for (c, cell) in cells.iter().enumerate() {
            if r * cols + c < n {
                render_one(view, r * cols + c, *cell, buf);
            }
        }
    }
}

/// The step shown (and whether it is the nearest to the one chosen) and the layer's scores there,
/// shortened until both fit in `width` columns.
fn bottom_titles(view: &CompareView, snap: &Snapshot, layer: usize, width: u16) -> [Line<'static>; 2] {
    let theme = view.themes.current();
    let nearest = view.step().is_some_and(|s| s != snap.step);
    let scores = snap.layer(layer).filter(|l| l.error.is_none()).map(|l| l.scores.seen);
    let step = |long: bool| {
        let mut spans = vec![Span::styled(format!(" step {} ", fmt_step(snap.step)), theme.dim())];
        if nearest {
            spans.push(Span::styled(if long { "(nearest) " } else { "≈ " }, theme.faint()));
        }
        Line::from(spans)
    };
    let score = |all: bool| {
        let Some(sc) = scores else { return Line::default() };
        let mut spans = vec![Span::styled(format!(" ARI {:.2}", sc.ari), theme.metric(Metric::Ari))];
        if all {
            spans.push(Span::styled(format!(" AMI {:.2}", sc.ami), theme.metric(Metric::Ami)));
        }
        spans.push(Span::styled(format!(" F1 {:.2} ", sc.f1), theme.metric(Metric::F1)));
        Line::from(spans)
    };
    let fits = |a: &Line, b: &Line| a.width() + b.width() < usize::from(width);
    for (long, all) in [(true, true), (false, true), (false, false)] {
        let (a, b) = (step(long), score(all));
        if fits(&a, &b) {
            return [a, b];
        }
    }
    [step(false), Line::default()]
}

fn render_one(view: &CompareView, i: usize, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let run = &view.comparison.runs[i];
    let layer = run.shown_layer(view.layer);
    let which = if layer == view.layer {
        layer_name(layer, run.layers())
    } else {
        format!("layer {} (of {}: showing {layer})", view.layer, run.layers().saturating_sub(1))
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} ", run.label), theme.session(i)),
        Span::styled(format!("{which} "), theme.title()),
    ]);
    let mut block = panel(theme, title, i == view.front);
    let shown = view.shown(i);
    if let Some((_, snap)) = shown {
        let [step, scores] = bottom_titles(view, snap, layer, area.width.saturating_sub(2));
        block = block.title_bottom(step).title_bottom(scores.right_aligned());
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let Some((index, snap)) = shown else {
        centred(vec![Line::styled("no checkpoint yet", theme.dim())], inner, buf);
        return;
    };
    let Some(analysis) = snap.layer(layer) else {
        centred(vec![Line::styled("no analysis for this layer", theme.dim())], inner, buf);
        return;
    };
    if let Some(e) = &analysis.error {
        centred(vec![Line::styled(e.clone(), theme.error())], inner, buf);
        return;
    }
    let legend_h = u16::from(inner.height >= 8);
    let [y_title, plot_area, x_title, legend] = inner.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(legend_h),
    ]));
    let points = Points {
        seen_tasks: &run.seen_tasks,
        unseen_tasks: &run.unseen_tasks,
        tasks: run.session.manifest.task_names.len(),
        marker: crate::ui::app::MarkerKind::Braille,
        show_unseen: view.show_unseen,
        centroids: view.centroids,
    };
    let half = view.half_range(i, index, layer);
    let off = plot_points(theme, analysis, &points, half, plot_area, buf).map_or(0, |r| r.off_scale());
    axis_titles(theme, analysis, half, off, [y_title, x_title], buf);
    let unseen = view.show_unseen && !run.unseen_tasks.is_empty();
    task_legend_row(&run.session.manifest.task_names, unseen, theme, legend.width).render(legend, buf);
}
