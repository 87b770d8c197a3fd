//! Curves over training steps: loss (log scale), seen/unseen accuracy, and ARI/AMI/F1 of the
//! selected layer with the other layers' ARI faint behind; the selected checkpoint is a vertical
//! line in every chart. The compare view overlays its sessions with the same [`Charter`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::parts::{fmt_num, fmt_step, panel, title_span};
use crate::ui::app::{App, MarkerKind, Panel};
use crate::ui::theme::{Metric, Theme};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (run, view) = (app.run(), app.view());
    let theme = view.themes.current();
    let block = panel(theme, Line::from(title_span("curves", theme)), view.focus == Panel::Curves);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 6 || inner.width < 12 {
        return;
    }
    let [loss_area, acc_area, score_area] =
        inner.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Fill(1), Constraint::Fill(1)]));
    let x_max = run.total_steps.max(run.snapshots.last().map_or(0, |s| s.step)).max(1) as f64;
    let sel_x = app.selected_snapshot().map(|s| s.step as f64);
    let marker = match view.marker {
        MarkerKind::Braille => Marker::Braille,
        MarkerKind::HalfBlock => Marker::HalfBlock,
        MarkerKind::Dot => Marker::Dot,
    };
    let boundaries: Vec<f64> = run.phase_boundaries().into_iter().map(|b| b as f64).collect();
    let chart = Charter { theme, x_max, sel_x, marker, boundaries: &boundaries };

    // Loss: log10 so the long tail after the first drop stays readable.
    let loss: Vec<(f64, f64)> = run.loss.iter().map(|&(s, l)| (s, l.log10())).collect();
    let (lo, hi) = span(loss.iter().map(|p| p.1), 0.05);
    let now = app.selected_snapshot().map(|s| s.loss).filter(|l| *l > 0.0);
    let title = Line::from(vec![
        Span::styled(" loss ", theme.loss()),
        Span::styled(now.map_or(String::new(), |l| format!("{l:.3} ")), theme.text()),
        Span::styled("(log)", theme.faint()),
    ]);
    let labels = [fmt_num(10f64.powf(lo)), fmt_num(10f64.powf(hi))];
    chart.draw(title, vec![Curve::new(&loss, theme.loss())], [lo, hi], labels, false, loss_area, buf);

    let seen: Vec<(f64, f64)> = run.snapshots.iter().map(|s| (s.step as f64, s.seen_accuracy)).collect();
    let unseen: Vec<(f64, f64)> = run.snapshots.iter().map(|s| (s.step as f64, s.unseen_accuracy)).collect();
    let mut title = vec![Span::styled(" accuracy ", theme.text())];
    if let Some(s) = app.selected_snapshot() {
        title.push(Span::styled(format!("seen {:.0}% ", s.seen_accuracy * 100.0), theme.seen()));
        title.push(Span::styled(format!("unseen {:.0}%", s.unseen_accuracy * 100.0), theme.unseen()));
    }
    let curves = vec![Curve::new(&seen, theme.seen()), Curve::new(&unseen, theme.unseen())];
    chart.draw(Line::from(title), curves, [0.0, 1.0], ["0".into(), "1".into()], false, acc_area, buf);

    let layers = run.layers();
    let others: Vec<Vec<(f64, f64)>> =
        (0..layers).filter(|&l| l != view.layer).map(|l| series(app, l, |s| s.seen.ari)).collect();
    let metrics = [
        (Metric::Ari, series(app, view.layer, |s| s.seen.ari)),
        (Metric::Ami, series(app, view.layer, |s| s.seen.ami)),
        (Metric::F1, series(app, view.layer, |s| s.seen.f1)),
    ];
    let mut curves: Vec<Curve> = others.iter().map(|d| Curve::new(d, theme.faint())).collect();
    curves.extend(metrics.iter().map(|(m, d)| Curve::new(d, theme.metric(*m))));
    let mut title = vec![Span::styled(format!(" L{} ", view.layer), theme.text())];
    for (m, name) in [(Metric::Ari, "ARI"), (Metric::Ami, "AMI"), (Metric::F1, "F1")] {
        let v = app.selected_snapshot().and_then(|s| s.layer(view.layer)).map(|l| match m {
            Metric::Ari => l.scores.seen.ari,
            Metric::Ami => l.scores.seen.ami,
            Metric::F1 => l.scores.seen.f1,
        });
        title.push(Span::styled(format!("{name} {} ", v.map_or("–".into(), |v| format!("{v:.2}"))), theme.metric(m)));
    }
    if layers > 1 {
        title.push(Span::styled("others", theme.faint()));
    }
    // ARI dips below 0 for worse-than-chance clusterings; show that when it is more than noise.
    let lo = metrics.iter().flat_map(|(_, d)| d.iter().map(|p| p.1)).fold(0.0f64, f64::min);
    let lo = if lo < -0.05 { lo } else { 0.0 };
    let labels = [fmt_num(lo), "1".into()];
    chart.draw(Line::from(title), curves, [lo, 1.0], labels, true, score_area, buf);
}

/// One score of one layer over all checkpoints (layers that failed analysis are skipped).
fn series(app: &App, layer: usize, f: impl Fn(&crate::analysis::LayerScores) -> f64) -> Vec<(f64, f64)> {
    let run = app.run();
    run.snapshots
        .iter()
        .filter_map(|s| s.layer(layer).filter(|l| l.error.is_none()).map(|l| (s.step as f64, f(&l.scores))))
        .collect()
}

/// Min and max of `values`, padded; a flat or empty series gets a unit-wide range.
pub(crate) fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        let p = (hi - lo) * pad;
        (lo - p, hi + p)
    }
}

pub(crate) struct Curve<'a> {
    data: &'a [(f64, f64)],
    style: Style,
    /// Instead of the chart's marker: without colour, the shape is what tells curves apart.
    marker: Option<Marker>,
}

impl<'a> Curve<'a> {
    pub(crate) fn new(data: &'a [(f64, f64)], style: Style) -> Self {
        Curve { data, style, marker: None }
    }

    pub(crate) fn with_marker(self, marker: Marker) -> Self {
        Curve { marker: Some(marker), ..self }
    }
}

/// Charts over training steps `0..x_max`, with the selected step `sel_x` as a vertical line.
pub(crate) struct Charter<'t> {
    pub(crate) theme: &'t Theme,
    pub(crate) x_max: f64,
    pub(crate) sel_x: Option<f64>,
    pub(crate) marker: Marker,
    /// Steps where one phase ends and the next begins: faint vertical lines.
    pub(crate) boundaries: &'t [f64],
}

impl Charter<'_> {
    /// `title` on the first row of `area`, the chart of `curves` in `y` below it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draw(
        &self,
        title: Line<'_>,
        curves: Vec<Curve<'_>>,
        y: [f64; 2],
        y_labels: [String; 2],
        x_labels: bool,
        area: Rect,
        buf: &mut Buffer,
    ) {
        let [title_area, chart_area] = area.layout(&Layout::vertical([Constraint::Length(1), Constraint::Min(0)]));
        title.render(title_area, buf);
        if chart_area.height < 2 {
            return;
        }
        let sel: Vec<(f64, f64)> = self.sel_x.map(|x| vec![(x, y[0]), (x, y[1])]).unwrap_or_default();
        let walls: Vec<[(f64, f64); 2]> = self.boundaries.iter().map(|&b| [(b, y[0]), (b, y[1])]).collect();
        // Boundaries and the selection go first so the curves are drawn over them.
        let mut datasets: Vec<Dataset> = walls
            .iter()
            .map(|w| {
                Dataset::default().data(w).graph_type(GraphType::Line).marker(self.marker).style(self.theme.faint())
            })
            .collect();
        datasets.push(
            Dataset::default()
                .data(&sel)
                .graph_type(GraphType::Line)
                .marker(self.marker)
                .style(self.theme.marker_selected()),
        );
        datasets.extend(curves.into_iter().map(|c| {
            let marker = c.marker.unwrap_or(self.marker);
            Dataset::default().data(c.data).graph_type(GraphType::Line).marker(marker).style(c.style)
        }));
        let mut x_axis = Axis::default().bounds([0.0, self.x_max]).style(self.theme.axis());
        // Axis labels cost two rows; a short chart keeps them for its curve.
        if x_labels && chart_area.height >= 6 {
            x_axis = x_axis.labels(vec!["0".to_string(), fmt_step(self.x_max as usize)]);
        }
        let y_axis = Axis::default().bounds(y).style(self.theme.axis()).labels(y_labels.to_vec());
        Chart::new(datasets).x_axis(x_axis).y_axis(y_axis).legend_position(None).render(chart_area, buf);
    }
}
