//! The checkpoints as a strip: one bar per checkpoint, its height the selected layer's seen ARI,
//! so the strip doubles as a sparkline of clustering; the selected checkpoint is highlighted.
//! When there are more checkpoints than columns, each column stands for a run of neighbours.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::layout::{column_of, index_at, slot, timeline_inner, timeline_strip};
use super::parts::{checkpoint_name, fmt_step, panel, title_span};
use crate::ui::app::{App, Panel, Source};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (run, view) = (app.run(), app.view());
    let theme = view.themes.current();
    let n = run.snapshots.len();
    let mut title = vec![
        title_span("timeline", theme),
        Span::styled(format!("{n} checkpoints · bars: ARI of L{} ", view.layer), theme.dim()),
    ];
    let selected_step = run.snapshots.get(view.selected).map(|s| s.step);
    if let Some((i, p)) = selected_step.and_then(|s| run.phase_of_checkpoint(s)) {
        let k = run.phase_marks.len();
        title.push(Span::styled(format!("· phase {}/{k} {} ", i + 1, p.name), theme.text()));
    }
    let boundaries = run.phase_boundaries();
    match run.source {
        Source::Live if view.follow => title.push(Span::styled(" ● following live ", theme.accent())),
        Source::Follow if view.follow => {
            let writer = run.writer.as_deref().unwrap_or("another process");
            title.push(Span::styled(format!(" ● following {writer} "), theme.accent()));
        }
        Source::Live | Source::Follow => title.push(Span::styled(" ◼ not following (f) ", theme.warning())),
        Source::Replay(_) => title.push(Span::styled(" replay ", theme.dim())),
    }
    panel(theme, Line::from(title), view.focus == Panel::Timeline).render(area, buf);
    // The layout's geometry, not the block's: mouse clicks are hit-tested against the same.
    let inner = timeline_inner(area);
    if inner.is_empty() || n == 0 {
        if !inner.is_empty() {
            Line::styled(" no checkpoint yet", theme.dim()).render(inner, buf);
        }
        return;
    }
    let s = slot(n, inner.width);
    let used = timeline_strip(area, n).width;
    let sel_col = column_of(n, inner.width, view.selected);
    for col in 0..used {
        let Some(mut i) = index_at(n, inner.width, col) else { continue };
        let selected = if s == 0 { col == sel_col } else { i == view.selected };
        if selected {
            i = view.selected;
        }
        // A gap between wide slots makes single checkpoints countable.
        let gap = s >= 3 && col % s == s - 1;
        let layer = run.snapshots[i].layer(view.layer).filter(|l| l.error.is_none());
        let (ch, style) = match layer {
            _ if gap => (' ', theme.text()),
            Some(l) => {
                let level = (l.scores.seen.ari.clamp(0.0, 1.0) * 7.0).round() as usize;
                // A phase's last checkpoint stands out, so the phases can be told apart.
                let style = if selected {
                    theme.selected()
                } else if boundaries.contains(&run.snapshots[i].step) {
                    theme.accent()
                } else {
                    theme.metric(crate::ui::theme::Metric::Ari)
                };
                (BARS[level.min(7)], style)
            }
            None => ('·', if selected { theme.selected() } else { theme.faint() }),
        };
        if let Some(c) = buf.cell_mut((inner.x + col, inner.y)) {
            c.set_char(ch).set_style(style);
        }
    }
    if inner.height >= 2 {
        let row = Rect { y: inner.y + 1, height: 1, ..inner };
        let label = format!("▲ {}", checkpoint_name(run, run.snapshots[view.selected.min(n - 1)].step));
        let w = u16::try_from(label.chars().count()).unwrap_or(u16::MAX);
        let x = sel_col.min(inner.width.saturating_sub(w));
        // The first and last steps frame the strip, unless the selection's label covers them.
        let first = fmt_step(run.snapshots.first().map_or(0, |s| s.step));
        if x > u16::try_from(first.len()).unwrap_or(u16::MAX) {
            Line::styled(first, theme.dim()).render(row, buf);
        }
        let end = fmt_step(run.snapshots.last().map_or(0, |s| s.step));
        let end_x = used.saturating_sub(u16::try_from(end.len()).unwrap_or(0));
        if end_x > x.saturating_add(w) {
            Line::styled(end, theme.dim()).render(Rect { x: row.x + end_x, width: row.width - end_x, ..row }, buf);
        }
        Line::styled(label, theme.accent()).render(Rect { x: row.x + x, width: row.width - x, ..row }, buf);
    }
}
