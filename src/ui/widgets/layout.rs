//! Where the screen's parts go, as pure functions of the frame area and the checkpoint count.
//! Drawing and mouse hit-testing both call these, so a click lands on what was drawn there;
//! nothing here knows the App, so the App can use it without depending on the widgets.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::widgets::Block;

/// Below this the screen cannot show a useful scatter, so a notice replaces it.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// Rows of the status bar, and of the probe line that takes its place.
pub const STATUS_HEIGHT: u16 = 2;

/// Widest slot per checkpoint: a few checkpoints should not stretch across the screen.
const MAX_SLOT: u16 = 6;

/// The screen's three bands, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// The plots (and the curves and probe panel beside them).
    pub body: Rect,
    pub timeline: Rect,
    pub status: Rect,
}

/// `None` when the area is too small to be useful.
pub fn screen(area: Rect) -> Option<Screen> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    // Short screens give the rows to the plots: the timeline loses its label row.
    let timeline_h = if area.height >= 20 { 4 } else { 3 };
    let [body, timeline, status] = area.layout(&Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(timeline_h),
        Constraint::Length(STATUS_HEIGHT),
    ]));
    Some(Screen { body, timeline, status })
}

/// Inside the timeline panel's border.
pub fn timeline_inner(timeline: Rect) -> Rect {
    Block::bordered().inner(timeline)
}

/// Columns per checkpoint (0 when checkpoints outnumber columns).
pub fn slot(n: usize, width: u16) -> u16 {
    match u16::try_from(n) {
        Ok(n) if n > 0 && n <= width => (width / n).clamp(1, MAX_SLOT),
        _ => 0,
    }
}

/// The row of bars, `n` checkpoints in the timeline panel `timeline`: the inner row's first
/// columns, as many as the bars use. Empty when there is nothing to draw.
pub fn timeline_strip(timeline: Rect, n: usize) -> Rect {
    let inner = timeline_inner(timeline);
    if inner.is_empty() || n == 0 {
        return Rect::ZERO;
    }
    let s = slot(n, inner.width);
    let used = if s == 0 { inner.width } else { s * u16::try_from(n).unwrap_or(0) };
    Rect { width: used, ..inner }
}

/// The checkpoint under `pos` on a screen of `area` with `n` checkpoints, if any.
pub fn checkpoint_at(area: Rect, n: usize, pos: Position) -> Option<usize> {
    let timeline = screen(area)?.timeline;
    let strip = timeline_strip(timeline, n);
    if !strip.contains(pos) {
        return None;
    }
    index_at(n, timeline_inner(timeline).width, pos.x - strip.x)
}

/// The checkpoint drawn at column `col` of a strip `width` wide.
pub fn index_at(n: usize, width: u16, col: u16) -> Option<usize> {
    if n == 0 || col >= width {
        return None;
    }
    let i = match slot(n, width) {
        0 => usize::from(col) * n / usize::from(width),
        s => usize::from(col / s),
    };
    (i < n).then_some(i)
}

/// The column where checkpoint `i` starts.
pub fn column_of(n: usize, width: u16, i: usize) -> u16 {
    match slot(n, width) {
        0 if n > 0 => u16::try_from(i * usize::from(width) / n).unwrap_or(0),
        0 => 0,
        s => u16::try_from(i).unwrap_or(0).saturating_mul(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_indices_agree() {
        for (n, w) in [(1, 10), (5, 10), (10, 10), (11, 10), (100, 7), (3, 1)] {
            for i in 0..n {
                let c = column_of(n, w, i);
                let back = index_at(n, w, c).unwrap();
                assert!(back <= i, "n={n} w={w} i={i} c={c} back={back}");
            }
            assert_eq!(index_at(n, w, w), None);
        }
    }

    #[test]
    fn every_strip_column_is_a_checkpoint_and_nothing_else_is() {
        let area = Rect::new(0, 0, 80, 24);
        for n in [0, 1, 6, 25, 78, 200] {
            let strip = screen(area).map_or(Rect::ZERO, |s| timeline_strip(s.timeline, n));
            for y in 0..area.height {
                for x in 0..area.width {
                    let hit = checkpoint_at(area, n, Position::new(x, y));
                    assert_eq!(hit.is_some(), strip.contains(Position::new(x, y)), "n={n} ({x},{y})");
                }
            }
        }
        assert_eq!(checkpoint_at(Rect::new(0, 0, 39, 24), 6, Position::new(1, 19)), None, "too small");
    }
}
