//! The chosen metric against the chosen parameter: a dot per point, a line through the means,
//! one colour per series; the selected point stands out, and the parameter's own values label
//! the x axis where they fall (a log scale's 1e-3 and 3e-3 are not evenly spaced).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment};
use ratatui::widgets::{Paragraph, Widget};

use crate::report::sweep_series::{Scale, SweepPlot};
use crate::ui::sweep_view::{SweepFocus, SweepView};
use crate::ui::theme::Theme;
use crate::ui::widgets::parts::{fmt_num, panel, title_span, truncate};

/// Width of the y labels' gutter.
const GUTTER: u16 = 6;

pub fn render(view: &SweepView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let plot = view.plot();
    let title = match &plot {
        Some(p) => {
            let scale = if p.scale == Scale::Log10 { " (log)" } else { "" };
            Line::from(vec![
                title_span(format!("{} vs {}{scale}", p.metric.label, p.axis), theme),
                Span::styled("m metric · a parameter ", theme.dim()),
            ])
        }
        None => Line::from(title_span("plot", theme)),
    };
    let block = panel(theme, title, view.focus == SweepFocus::Plot);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(plot) = plot else { return };
    let several = plot.series.len() > 1;
    let legend_h = u16::from(several);
    if inner.height < 4 + legend_h || inner.width < GUTTER + 8 {
        return;
    }
    let [chart_rows, x_row, legend_row] =
        inner.layout(&Layout::vertical([Constraint::Min(0), Constraint::Length(1), Constraint::Length(legend_h)]));
    let [gutter, canvas_area] =
        chart_rows.layout(&Layout::horizontal([Constraint::Length(GUTTER), Constraint::Min(0)]));
    y_labels(&plot, theme, gutter, buf);
    x_labels(&plot, theme, Rect { x: canvas_area.x, width: canvas_area.width, ..x_row }, buf);
    if several {
        legend(&plot, theme, legend_row, buf);
    }
    let (x0, x1) = plot.x_range;
    let (y0, y1) = plot.y_range;
    // Labels on the canvas's right or bottom edge fall outside it; keep marks just inside.
    let (dx, dy) = ((x1 - x0) * 1e-6, (y1 - y0) * 1e-6);
    let inside = |x: f64, y: f64| (x.clamp(x0, x1 - dx), y.clamp(y0 + dy, y1));
    let selected = view.selected;
    Canvas::default()
        .x_bounds([x0, x1])
        .y_bounds([y0, y1])
        .marker(Marker::Braille)
        .paint(|ctx| {
            for (i, s) in plot.series.iter().enumerate() {
                let colour = colour_of(theme.task(i));
                for w in s.mean.windows(2) {
                    ctx.draw(&Segment::new(w[0].0, w[0].1, w[1].0, w[1].1, colour));
                }
            }
            for (i, s) in plot.series.iter().enumerate() {
                for m in &s.marks {
                    let (x, y) = inside(m.x, m.y);
                    if m.point != selected {
                        ctx.print(x, y, Span::styled("•", theme.task(i)));
                    }
                }
            }
            // Last, so it is on top of the others at the same place.
            for m in plot.series.iter().flat_map(|s| &s.marks).filter(|m| m.point == selected) {
                let (x, y) = inside(m.x, m.y);
                ctx.print(x, y, Span::styled("◆", theme.marker_selected()));
            }
        })
        .render(canvas_area, buf);
}

/// A style's colour for canvas shapes, which take a colour, not a style.
fn colour_of(style: Style) -> Color {
    style.fg.unwrap_or(Color::Reset)
}

fn y_labels(plot: &SweepPlot, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (lo, hi) = plot.y_range;
    let w = usize::from(GUTTER - 1);
    let label = |v: f64| Line::styled(format!("{:>w$}", truncate(&fmt_num(v), w)), theme.axis());
    let h = usize::from(area.height);
    let mut lines = vec![Line::raw(""); h];
    if h >= 7 {
        lines[h / 2] = label((lo + hi) / 2.0);
    }
    if h >= 2 {
        lines[0] = label(hi);
        lines[h - 1] = label(lo);
    }
    Paragraph::new(lines).render(area, buf);
}

/// Each value centred under where it falls; a label that would overlap the one before is left out.
fn x_labels(plot: &SweepPlot, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (x0, x1) = plot.x_range;
    let cols = f64::from(area.width);
    let mut free_from = area.x;
    for (x, text) in &plot.ticks {
        let col = ((x - x0) / (x1 - x0) * cols).floor().clamp(0.0, cols - 1.0) as u16 + area.x;
        let text = truncate(text, 12);
        let w = text.chars().count() as u16;
        let start = col.saturating_sub(w / 2).max(area.x).min(area.right().saturating_sub(w));
        if start < free_from {
            continue;
        }
        buf.set_string(start, area.y, &text, theme.axis());
        free_from = start + w + 1;
    }
}

fn legend(plot: &SweepPlot, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for (i, s) in plot.series.iter().enumerate() {
        spans.push(Span::styled("• ", theme.task(i)));
        spans.push(Span::styled(format!("{}  ", truncate(&s.label, 30)), theme.text()));
    }
    Line::from(spans).render(area, buf);
}
