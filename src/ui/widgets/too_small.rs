//! The notice shown instead of the screen when the terminal is too small to be useful.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::layout::{MIN_HEIGHT, MIN_WIDTH};
use super::scatter::centred;
use crate::ui::theme::Theme;

pub fn render(theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let text = format!("terminal too small ({}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT})", area.width, area.height);
    // On a single row there is no room to centre vertically or wrap: show what fits.
    if area.height < 3 {
        Line::styled(text, theme.warning()).render(area, buf);
        return;
    }
    centred(
        vec![Line::styled(text, theme.warning()), Line::styled("enlarge the window, or q to quit", theme.dim())],
        area,
        buf,
    );
}
