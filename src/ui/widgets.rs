//! Drawing: `impl Widget for &App` lays out the screen and hands each area to one widget module.
//! Every widget reads the App and the current theme; none keeps state between frames or writes
//! into the App. Where the bands go is [`layout`]'s, which mouse handling shares.

pub mod all_layers;
pub mod curves;
pub mod help;
pub mod layout;
pub mod probe_line;
pub mod probe_panel;
pub mod raster;
pub mod scatter;
pub mod status_bar;
pub mod timeline;
pub mod too_small;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::app::{App, View};
use super::theme::Theme;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Some(layout::Screen { body, timeline: timeline_area, status }) = layout::screen(area) else {
            too_small::render(self.themes().current(), area, buf);
            return;
        };
        let probe_panel = self.probes.panel && !self.probes.list.is_empty();
        match self.view {
            View::Scatter => {
                // Narrow screens keep the scatter whole rather than two unreadable halves.
                let curves_w = if body.width >= 70 { body.width * 2 / 5 } else { 0 };
                let [scatter_area, curves_area] =
                    body.layout(&Layout::horizontal([Constraint::Min(0), Constraint::Length(curves_w)]));
                scatter::render(self, scatter_area, buf);
                if curves_w > 0 && probe_panel {
                    // The probe shares the column with the curves where both fit, else takes it.
                    let want = probe_panel::height(self);
                    let panel_h = if curves_area.height >= want + 12 { want } else { curves_area.height };
                    let [curves_rest, panel_area] =
                        curves_area.layout(&Layout::vertical([Constraint::Min(0), Constraint::Length(panel_h)]));
                    if !curves_rest.is_empty() {
                        curves::render(self, curves_rest, buf);
                    }
                    probe_panel::render(self, panel_area, buf);
                } else if curves_w > 0 {
                    curves::render(self, curves_area, buf);
                }
            }
            View::AllLayers => {
                let panel_w = if probe_panel && body.width >= 100 { 40 } else { 0 };
                let [grid, panel_area] =
                    body.layout(&Layout::horizontal([Constraint::Min(0), Constraint::Length(panel_w)]));
                all_layers::render(self, grid, buf);
                if panel_w > 0 {
                    let h = probe_panel::height(self).min(panel_area.height);
                    probe_panel::render(self, Rect { height: h, ..panel_area }, buf);
                }
            }
        }
        timeline::render(self, timeline_area, buf);
        match &self.probes.line {
            Some(line) => probe_line::render(self, line, status, buf),
            None => status_bar::render(self, status, buf),
        }
        if self.help {
            help::render(self.themes().current(), self.help_scroll, area, buf);
        }
    }
}

/// A bordered panel; the focused one gets a thick, highlighted border.
pub(crate) fn panel<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(theme.border(focused))
        .title(title)
}

/// A title span with the padding spaces borders need.
pub(crate) fn title_span<'a>(text: impl Into<String>, theme: &Theme) -> Span<'a> {
    Span::styled(format!(" {} ", text.into()), theme.title())
}

/// Short, stable number text for axes and scores.
pub(crate) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{:.0}", v)
    } else if a >= 10.0 {
        format!("{:.1}", v).trim_end_matches(".0").to_string()
    } else if a >= 0.01 {
        let s = format!("{:.2}", v);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{:.0e}", v)
    }
}

/// Steps with thousands grouping ("12,500"): easier to compare at a glance.
pub(crate) fn fmt_step(step: usize) -> String {
    let s = step.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The label used for task `t` in the legend and on task centroids: 1-9, then A-Z.
pub(crate) fn task_label(t: usize) -> char {
    match t {
        0..=8 => char::from(b'1' + t as u8),
        9..=34 => char::from(b'A' + (t - 9) as u8),
        _ => '#',
    }
}

/// Truncates to `width` display columns (names are ASCII in practice; chars are the safe unit).
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else if width == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(20.0), "20");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_step(1234567), "1,234,567");
        assert_eq!(fmt_step(12), "12");
        assert_eq!(task_label(0), '1');
        assert_eq!(task_label(9), 'A');
    }
}
