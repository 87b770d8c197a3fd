//! The `?` overlay: every key from the keymap's table, and how the scatter chooses colours; the
//! sweep and compare views show their own tables through the same overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::parts::{panel, title_span};
use crate::ui::keymap::{COMPARE_HELP, HELP, SWEEP_HELP};
use crate::ui::theme::Theme;

const KEY_W: usize = 16;

/// How the scatter decides a cell's colour (the issue asks the help to say so).
const COLOURS: &str = "Colours: a cell (half-block: each half) shows the task with the most \
points there, each point counted as 1/(its task's size), so small tasks are not drowned. \
Unseen (×) and centroids are drawn on top. Axes: ±1, 2 or 5 × 10ⁿ, stable while scrubbing.";

/// What the sweep view's plot shows, said once under its keys.
const SWEEP_NOTE: &str = "Plot: a dot per point (seed) with numbers, a line through the mean at each \
value; one colour per combination of the other parameters. The sweep directory is read again \
every second, so points appear as they finish.";

/// How the compare view picks what each session shows.
const COMPARE_NOTE: &str = "Each session's scatter is its checkpoint nearest the selected step and, \
if it has fewer layers, its deepest; its title says so. Curves: a colour per session (without \
colour, a marker shape); the session in front (Tab) is drawn last and marked in the table.";

/// `scroll`: rows scrolled down, for screens too short for the whole help (clamped here).
pub fn render(theme: &Theme, scroll: u16, area: Rect, buf: &mut Buffer) {
    render_table(theme, &HELP, COLOURS, scroll, area, buf);
}

/// The sweep view's help.
pub fn render_sweep(theme: &Theme, scroll: u16, area: Rect, buf: &mut Buffer) {
    render_table(theme, &SWEEP_HELP, SWEEP_NOTE, scroll, area, buf);
}

/// The compare view's help.
pub fn render_compare(theme: &Theme, scroll: u16, area: Rect, buf: &mut Buffer) {
    render_table(theme, &COMPARE_HELP, COMPARE_NOTE, scroll, area, buf);
}

fn render_table(theme: &Theme, keys: &[(&str, &str)], note: &str, scroll: u16, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(4).min(84);
    // Borders, keys, a blank line and about three lines of explanation.
    let h = area.height.min(u16::try_from(keys.len() + 7).unwrap_or(u16::MAX));
    let popup = area.centered(Constraint::Length(w), Constraint::Length(h));
    Clear.render(popup, buf);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    let inner_h = usize::from(h.saturating_sub(2));
    // Rows after wrapping: the key lines fit; the explanation wraps.
    let rows = keys.len() + 1 + (note.chars().count() + 1).div_ceil(inner_w);
    let max_scroll = rows.saturating_sub(inner_h);
    let scroll = usize::from(scroll).min(max_scroll);
    let more = if max_scroll > 0 { "↑↓ scroll · " } else { "" };
    let title =
        Line::from(vec![title_span("help", theme), Span::styled(format!("{more}Esc or ? closes "), theme.dim())]);
    let block = panel(theme, title, true);
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<KEY_W$} "), theme.help_key()),
                Span::styled(*what, theme.text()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(format!(" {note}"), theme.dim()));
    Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((u16::try_from(scroll).unwrap_or(0), 0))
        .render(popup, buf);
}
