//! One curve of every session overlaid: the chosen metric (`m`), a colour per session (without
//! colour, a marker shape per session), the session in front drawn last; above the chart each
//! session's value at the checkpoint it shows; the chosen step a vertical line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::report::compare::{Curve, CurveDef};
use crate::ui::compare_view::CompareView;
use crate::ui::widgets::curves::{span, Charter, Curve as Drawn};
use crate::ui::widgets::parts::{fmt_num, panel, title_span};

/// Markers by session when colour is off, each with the glyph the legend shows for it.
const SHAPES: [(Marker, char); 6] = [
    (Marker::Braille, '⣿'),
    (Marker::Dot, '•'),
    (Marker::Block, '█'),
    (Marker::Bar, '▄'),
    (Marker::HalfBlock, '▀'),
    (Marker::Quadrant, '▚'),
];

pub fn render(view: &CompareView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let def = view.curve_def();
    let name = if def.per_layer() { format!("{} · layer {}", def.label, view.layer) } else { def.label.to_string() };
    let title = Line::from(vec![title_span(name, theme), Span::styled("m / M curve ", theme.dim())]);
    let block = panel(theme, title, false);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 3 || inner.width < 12 {
        return;
    }
    let runs = &view.comparison.runs;
    let log = def.curve == Curve::Loss;
    let data: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| r.plotted(def, view.layer)).collect();
    let (y, labels) = if log {
        let (lo, hi) = span(data.iter().flatten().map(|p| p.1), 0.05);
        ([lo, hi], [fmt_num(10f64.powf(lo)), fmt_num(10f64.powf(hi))])
    } else {
        // ARI dips below 0 for worse-than-chance clusterings; show that when it is more than noise.
        let lo = data.iter().flatten().map(|p| p.1).fold(0.0f64, f64::min);
        let lo = if lo < -0.05 { lo } else { 0.0 };
        ([lo, 1.0], [fmt_num(lo), "1".to_string()])
    };
    let colourless = theme.is_colorless();
    // The session in front last, so it is drawn over the others.
    let order: Vec<usize> = (0..runs.len()).filter(|&i| i != view.front).chain([view.front]).collect();
    let curves: Vec<Drawn> = order
        .iter()
        .filter_map(|&i| {
            let curve = Drawn::new(data.get(i)?, theme.session(i));
            Some(if colourless { curve.with_marker(SHAPES[i % SHAPES.len()].0) } else { curve })
        })
        .collect();
    let x_max = runs.iter().map(|r| r.session.manifest.total_steps.max(r.last().map_or(0, |s| s.step))).max();
    // The session in front's phases, if it has any: every session's would clutter the chart.
    let boundaries: Vec<f64> = runs
        .get(view.front)
        .map(|r| crate::record::phase_boundaries(&r.session.manifest.phases))
        .unwrap_or_default()
        .into_iter()
        .map(|b| b as f64)
        .collect();
    let chart = Charter {
        theme,
        x_max: x_max.unwrap_or(1).max(1) as f64,
        sel_x: view.step().map(|s| s as f64),
        marker: Marker::Braille,
        boundaries: &boundaries,
    };
    chart.draw(legend(view, def), curves, y, labels, true, inner, buf);
}

/// Each session's mark and label with its value at the checkpoint it shows.
fn legend(view: &CompareView, def: &CurveDef) -> Line<'static> {
    let theme = view.themes.current();
    let mut spans = Vec::new();
    for (i, r) in view.comparison.runs.iter().enumerate() {
        let mark = if theme.is_colorless() { SHAPES[i % SHAPES.len()].1 } else { '━' };
        let value = view.shown(i).and_then(|(_, s)| def.value(s, r.shown_layer(view.layer)));
        let value = match (value, def.curve) {
            (None, _) => "–".to_string(),
            (Some(v), Curve::Loss) => format!("{v:.3}"),
            (Some(v), Curve::Accuracy { .. }) => format!("{:.0}%", v * 100.0),
            (Some(v), Curve::Score { .. }) => format!("{v:.2}"),
        };
        let front = if i == view.front { "▸" } else { " " };
        spans.push(Span::styled(format!("{front}{mark} {} ", r.label), theme.session(i)));
        spans.push(Span::styled(format!("{value}  "), theme.text()));
    }
    Line::from(spans)
}
