//! The compare view's screen: a title line, the overlaid curves, each session's scatter side by
//! side, the table of final scores and a status line; `?` lays the help over it.

mod overlay;
mod panels;
mod scores;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::layout::{MIN_HEIGHT, MIN_WIDTH};
use super::parts::{fmt_step, notice_style};
use super::{help, too_small};
use crate::ui::compare_view::CompareView;

impl Widget for &CompareView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.themes.current();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small::render(theme, area, buf);
            return;
        }
        // The table's rows are few and all wanted while the plots keep a dozen rows between them;
        // the plots share what is left.
        let rows = u16::try_from(self.comparison.runs.len()).unwrap_or(u16::MAX);
        let table_h = (rows + 3).min((area.height / 3).max(area.height.saturating_sub(14)));
        let [title, curves, scatters, table, status] = area.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Length(table_h),
            Constraint::Length(1),
        ]));
        title_line(self, title, buf);
        overlay::render(self, curves, buf);
        panels::render(self, scatters, buf);
        scores::render(self, table, buf);
        status_line(self, status, buf);
        if self.help {
            help::render_compare(theme, self.help_scroll, area, buf);
        }
    }
}

fn title_line(view: &CompareView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let c = &view.comparison;
    let mut spans = vec![Span::styled(format!(" compare {} sessions · ", c.runs.len()), theme.title())];
    match view.step() {
        Some(step) => spans.push(Span::styled(
            format!("step {} ({}/{}) · ", fmt_step(step), view.selected + 1, c.steps.len()),
            theme.text(),
        )),
        None => spans.push(Span::styled("no checkpoints yet · ", theme.dim())),
    }
    spans.push(Span::styled(format!("layer {} · ", view.layer), theme.text()));
    for (i, r) in c.runs.iter().enumerate() {
        spans.push(Span::styled(format!("{} ", r.label), theme.session(i)));
    }
    Line::from(spans).render(area, buf);
}

fn status_line(view: &CompareView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    buf.set_style(area, theme.status_bar());
    let (text, style) = match &view.notice {
        Some(n) => {
            let style = notice_style(theme, n.level);
            (format!(" {}", n.text), style)
        }
        None => {
            (" ←→ step · ↑↓ layer · m curve · Tab session · t theme · ? help · q quit".to_string(), theme.status_bar())
        }
    };
    Line::styled(text, style).render(area, buf);
}
