//! The main scatter: PCA (or t-SNE) projection of one layer at one checkpoint, legend, axis
//! titles.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::parts::{checkpoint_name, fmt_num, fmt_step, panel, task_label, title_span, truncate};
use super::raster::{task_weights, Raster, UNSEEN_MARK};
use crate::analysis::LayerAnalysis;
use crate::ui::app::{App, Centroids, EmbeddingState, MarkerKind, Panel, Source, View};
use crate::ui::theme::Theme;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (run, view) = (app.run(), app.view());
    let theme = view.themes.current();
    let snap = app.selected_snapshot();
    let layer = snap.and_then(|s| s.layer(view.layer));
    let name = if run.layers() == 0 { "scatter".to_string() } else { layer_name(view.layer, run.layers()) };
    let mut title = vec![title_span(name, theme)];
    if let Some(s) = snap {
        title.push(Span::styled(
            format!("{} ({}/{}) ", checkpoint_name(run, s.step), view.selected + 1, run.snapshots.len()),
            theme.dim(),
        ));
    }
    let tsne = tsne_shown(app);
    if tsne {
        title.push(Span::styled("t-SNE ", theme.axis()));
    }
    let mut block = panel(theme, Line::from(title), view.focus == Panel::Scatter);
    if let Some(l) = layer.filter(|l| l.error.is_none()) {
        let sc = &l.scores;
        let mut spans = vec![
            Span::styled(format!(" ARI {:.2}", sc.seen.ari), theme.metric(crate::ui::theme::Metric::Ari)),
            Span::styled(format!(" AMI {:.2}", sc.seen.ami), theme.metric(crate::ui::theme::Metric::Ami)),
            Span::styled(format!(" F1 {:.2} ", sc.seen.f1), theme.metric(crate::ui::theme::Metric::F1)),
        ];
        if !run.unseen_tasks.is_empty() {
            spans.push(Span::styled(
                format!("unseen→task {:.0}% ", sc.unseen_centroid_accuracy * 100.0),
                theme.unseen(),
            ));
        }
        block = block.title_bottom(Line::from(spans).right_aligned());
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(snap) = snap else {
        placeholder(app, theme, inner, buf);
        return;
    };
    let Some(layer) = snap.layer(view.layer) else {
        centred(vec![Line::styled("no analysis for this layer", theme.dim())], inner, buf);
        return;
    };
    if let Some(e) = &layer.error {
        centred(vec![Line::styled(e.clone(), theme.error())], inner, buf);
        return;
    }
    let embedded = match tsne.then(|| app.embeddings().state(snap.step, view.layer)) {
        None => None,
        Some(EmbeddingState::Ready(e)) => Some(e),
        Some(other) => {
            centred(super::embedding::waiting(&other, snap.step, view.layer, theme), inner, buf);
            return;
        }
    };
    let legend_w = if inner.width >= 56 { legend_width(app).min(inner.width / 3) } else { 0 };
    let [plot_col, legend] = inner.layout(&Layout::horizontal([Constraint::Min(0), Constraint::Length(legend_w)]));
    // Too narrow for a legend column: one compact row instead, never no legend at all.
    let legend_row_h = u16::from(legend_w == 0 && inner.height >= 8);
    let [y_title, plot_area, x_title, legend_row] = plot_col.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(legend_row_h),
    ]));
    let half = run.ranges.get(view.selected).and_then(|r| r.get(view.layer)).copied().unwrap_or([1.0, 1.0]);
    if let Some(e) = embedded {
        let off = plot(app, theme, &e.layer, e.half, plot_area, buf);
        super::embedding::axis_titles(theme, app.probes().list.len(), off, [y_title, x_title], buf);
    } else {
        let off = plot(app, theme, layer, half, plot_area, buf);
        axis_titles(theme, layer, half, off, [y_title, x_title], buf);
    }
    if legend_w > 0 {
        render_legend(app, theme, legend, buf);
    } else {
        compact_legend(app, theme, legend_row.width).render(legend_row, buf);
    }
}

/// Whether the single-layer scatter shows t-SNE rather than PCA.
fn tsne_shown(app: &App) -> bool {
    app.embeddings().shown && app.view().mode == View::Scatter
}

/// The axes' names, explained variance and half-ranges above (`rows[0]`) and below (`rows[1]`)
/// a plot of `layer`, with how many points fell `off` the scale.
pub fn axis_titles(
    theme: &Theme,
    layer: &LayerAnalysis,
    half: [f32; 2],
    off: usize,
    rows: [Rect; 2],
    buf: &mut Buffer,
) {
    let [y_title, x_title] = rows;
    let ev = layer.pca.explained_variance_ratio;
    let mut y =
        vec![Span::styled(format!("▲ PC2 {:.1}% var  ±{}", ev[1] * 100.0, fmt_num(f64::from(half[1]))), theme.axis())];
    if off > 0 {
        y.push(Span::styled(format!("  {off} off-scale"), theme.dim()));
    }
    Line::from(y).render(y_title, buf);
    let x_mid = format!("PC1 {:.1}% var ▶", ev[0] * 100.0);
    Line::styled(format!("-{}", fmt_num(f64::from(half[0]))), theme.axis()).render(x_title, buf);
    Line::styled(x_mid, theme.axis()).centered().render(x_title, buf);
    Line::styled(format!("+{}", fmt_num(f64::from(half[0]))), theme.axis()).right_aligned().render(x_title, buf);
}

/// "●1 copy ●2 reverse …" in one row, names shortened to share the width.
pub fn compact_legend<'a>(app: &App, theme: &Theme, width: u16) -> Line<'a> {
    let (run, view) = (app.run(), app.view());
    task_legend_row(&run.task_names, view.show_unseen && !run.unseen_tasks.is_empty(), theme, width)
}

/// [`compact_legend`] of `task_names`, with the unseen mark's entry when `unseen`.
pub fn task_legend_row<'a>(task_names: &[String], unseen: bool, theme: &Theme, width: u16) -> Line<'a> {
    let k = task_names.len().max(1);
    // Each entry costs "●1 " + name + " "; the unseen mark takes 9 columns when shown.
    let room = usize::from(width).saturating_sub(if unseen { 9 } else { 0 });
    let budget = (room / k).saturating_sub(4);
    let mut spans = Vec::new();
    for (t, name) in task_names.iter().enumerate() {
        spans.push(Span::styled(format!("●{}", task_label(t)), theme.task(t)));
        let name = if budget >= 2 { format!(" {} ", truncate(name, budget)) } else { " ".into() };
        spans.push(Span::styled(name, theme.text()));
    }
    if unseen {
        spans.push(Span::styled(format!("{UNSEEN_MARK} unseen"), theme.dim()));
    }
    Line::from(spans)
}

/// Whose points a plot shows and how: the tasks of the seen and unseen points (in Snapshot
/// order), how many tasks there are, and the user's drawing choices.
#[derive(Debug, Clone, Copy)]
pub struct Points<'a> {
    pub seen_tasks: &'a [usize],
    pub unseen_tasks: &'a [usize],
    pub tasks: usize,
    pub marker: MarkerKind,
    pub show_unseen: bool,
    pub centroids: Centroids,
}

/// Draws one layer's points (with faint zero axes, unseen marks and centroids) into `area`;
/// returns how many points fell off-scale. Shared with the all-layers grid.
pub fn plot(app: &App, theme: &Theme, layer: &LayerAnalysis, half: [f32; 2], area: Rect, buf: &mut Buffer) -> usize {
    let (run, view) = (app.run(), app.view());
    let points = Points {
        seen_tasks: &run.seen_tasks,
        unseen_tasks: &run.unseen_tasks,
        tasks: run.task_names.len(),
        marker: view.marker,
        show_unseen: view.show_unseen,
        centroids: view.centroids,
    };
    let Some(raster) = plot_points(theme, layer, &points, half, area, buf) else { return 0 };
    probe_marks(app, theme, layer.layer, &raster, area, buf);
    raster.off_scale()
}

/// The points of [`plot`] without the App's probes, for any screen that has a layer to show;
/// the raster it drew, to place more marks with, unless `area` is empty.
pub fn plot_points(
    theme: &Theme,
    layer: &LayerAnalysis,
    points: &Points<'_>,
    half: [f32; 2],
    area: Rect,
    buf: &mut Buffer,
) -> Option<Raster> {
    if area.is_empty() {
        return None;
    }
    let k = points.tasks.max(1);
    let mut raster = Raster::new(area.width, area.height, points.marker, k, half);
    zero_axes(&raster, theme, area, buf);
    raster.plot_seen(&layer.seen_proj, points.seen_tasks);
    let unseen_w = if points.show_unseen {
        raster.plot_unseen(&layer.unseen_proj, points.unseen_tasks);
        task_weights(points.unseen_tasks, k)
    } else {
        Vec::new()
    };
    raster.draw(area, buf, theme, &task_weights(points.seen_tasks, k), &unseen_w);
    let mut mark = |p: [f32; 2], ch: char, style: Style| {
        if let Some((x, y)) = raster.cell_of(p) {
            if let Some(c) = buf.cell_mut((area.x + x, area.y + y)) {
                c.reset();
                c.set_char(ch).set_style(style);
            }
        }
    };
    match points.centroids {
        Centroids::Off => {}
        Centroids::KMeans => layer.kmeans_centroids_proj.iter().for_each(|&p| mark(p, '+', theme.centroid())),
        Centroids::Task => layer
            .task_centroids_proj
            .iter()
            .enumerate()
            // A task without seen points has a zero centroid that means nothing.
            .filter(|(t, _)| layer.task_counts.get(*t).is_none_or(|&n| n > 0))
            .for_each(|(t, &p)| mark(p, task_label(t), theme.task_badge(t))),
    }
    Some(raster)
}

/// Probes on top of everything: with the trail on, where each earlier checkpoint put them (small
/// dots), then a labelled diamond per probe (`◆1`; the label goes left near the right edge).
fn probe_marks(app: &App, theme: &Theme, layer: usize, raster: &Raster, area: Rect, buf: &mut Buffer) {
    // Probe placements are PCA coordinates; t-SNE has no map for new points.
    if tsne_shown(app) {
        return;
    }
    let (view, probes) = (app.view(), app.probes());
    let mut put = |x: u16, y: u16, ch: char, style: Style| {
        if x < area.width && y < area.height {
            if let Some(c) = buf.cell_mut((area.x + x, area.y + y)) {
                c.reset();
                c.set_char(ch).set_style(style);
            }
        }
    };
    if probes.trail {
        for i in 0..probes.list.len() {
            for s in 0..view.selected {
                if let Some((x, y)) = app.probe_placement(i, s, layer).and_then(|pl| raster.cell_of(pl.point)) {
                    put(x, y, '•', theme.probe_trail());
                }
            }
        }
    }
    for (i, p) in probes.list.iter().enumerate() {
        let Some((x, y)) = app.probe_placement(i, view.selected, layer).and_then(|pl| raster.cell_of(pl.point)) else {
            continue;
        };
        let style = theme.probe_marker(i == probes.selected);
        let digits = p.id.to_string();
        let n = u16::try_from(digits.len()).unwrap_or(u16::MAX);
        put(x, y, '◆', style);
        let start = if x.saturating_add(n) < area.width { x + 1 } else { x.saturating_sub(n) };
        for (j, ch) in digits.chars().enumerate() {
            put(start + j as u16, y, ch, style);
        }
    }
}

/// Faint lines through the origin: a fixed reference that shows how the cloud moves.
fn zero_axes(raster: &Raster, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some((ox, oy)) = raster.cell_of([0.0, 0.0]) else { return };
    let style = theme.faint();
    for x in 0..area.width {
        if let Some(c) = buf.cell_mut((area.x + x, area.y + oy)) {
            c.set_char('─').set_style(style);
        }
    }
    for y in 0..area.height {
        if let Some(c) = buf.cell_mut((area.x + ox, area.y + y)) {
            c.set_char(if y == oy { '┼' } else { '│' }).set_style(style);
        }
    }
}

pub fn layer_name(layer: usize, layers: usize) -> String {
    match (layer, layers) {
        (0, _) => "layer 0 (embeddings)".to_string(),
        (l, 0) => format!("layer {l}"),
        (l, n) => format!("layer {l}/{}", n - 1),
    }
}

fn legend_width(app: &App) -> u16 {
    let run = app.run();
    let longest = run.task_names.iter().map(|n| n.chars().count()).max().unwrap_or(4);
    // "▐ 1 name" plus a margin; 16 is enough for the marker/centroid lines.
    u16::try_from(longest + 6).unwrap_or(u16::MAX).max(16)
}

fn marker_name(m: MarkerKind) -> &'static str {
    match m {
        MarkerKind::Braille => "braille",
        MarkerKind::HalfBlock => "half-block",
        MarkerKind::Dot => "dot",
    }
}

fn render_legend(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (run, view, probes) = (app.run(), app.view(), app.probes());
    let name_w = usize::from(area.width).saturating_sub(5);
    let mut lines = vec![Line::styled(" tasks", theme.dim())];
    let mut extra = vec![];
    if view.show_unseen && !run.unseen_tasks.is_empty() {
        extra.push(Line::from(vec![
            Span::styled(format!(" {UNSEEN_MARK} "), theme.text()),
            Span::styled("unseen", theme.dim()),
        ]));
    }
    match view.centroids {
        Centroids::Off => {}
        Centroids::KMeans => {
            extra.push(Line::from(vec![Span::styled(" + ", theme.centroid()), Span::styled("k-means", theme.dim())]))
        }
        Centroids::Task => extra
            .push(Line::from(vec![Span::styled(" 1 ", theme.task_badge(0)), Span::styled(" task mean", theme.dim())])),
    }
    if !probes.list.is_empty() {
        extra
            .push(Line::from(vec![Span::styled(" ◆ ", theme.probe_marker(false)), Span::styled("probe", theme.dim())]));
    }
    extra.push(Line::styled(format!(" {}", marker_name(view.marker)), theme.faint()));
    let room = usize::from(area.height).saturating_sub(1 + extra.len());
    let n = run.task_names.len();
    for (t, name) in run.task_names.iter().enumerate() {
        if lines.len() > room || (lines.len() == room && t + 1 < n) {
            lines.push(Line::styled(format!(" +{} more", n - t), theme.dim()));
            break;
        }
        lines.push(Line::from(vec![
            Span::styled(" ● ", theme.task(t)),
            Span::styled(format!("{} ", task_label(t)), theme.task(t)),
            Span::styled(truncate(name, name_w), theme.text()),
        ]));
    }
    lines.truncate(room + 1);
    lines.extend(extra);
    Paragraph::new(lines).render(area, buf);
}

/// Before the first checkpoint: say what is happening rather than show an empty plot.
fn placeholder(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let run = app.run();
    let lines = match run.source {
        Source::Live => vec![
            Line::styled("training…", theme.title()),
            Line::styled(format!("first checkpoint at step {}", fmt_step(run.first_checkpoint)), theme.text()),
            Line::styled(format!("now at step {} of {}", fmt_step(run.step), fmt_step(run.total_steps)), theme.dim()),
        ],
        Source::Follow => vec![
            Line::styled("following a run another process writes…", theme.title()),
            Line::styled("its first checkpoint is not saved yet", theme.text()),
            Line::styled(format!("now at step {} of {}", fmt_step(run.step), fmt_step(run.total_steps)), theme.dim()),
        ],
        Source::Replay(_) => vec![Line::styled("this session has no checkpoints", theme.dim())],
    };
    centred(lines, area, buf);
}

/// Lines centred both ways, wrapped if the area is narrow.
pub fn centred(lines: Vec<Line<'_>>, area: Rect, buf: &mut Buffer) {
    // Rows after wrapping, estimated per line (Paragraph::line_count is unstable in 0.30).
    let w = usize::from(area.width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(w).max(1)).sum();
    let h = u16::try_from(rows).unwrap_or(u16::MAX).min(area.height);
    let p = Paragraph::new(lines).centered().wrap(Wrap { trim: true });
    let [_, mid, _] = area.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Length(h), Constraint::Fill(1)]));
    p.render(mid, buf);
}
