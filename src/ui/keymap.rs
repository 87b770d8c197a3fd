//! Keys to intents. One table ([`HELP`]) feeds both the mapping's documentation and the help
//! overlay, so the overlay cannot drift from what the keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for, before the app decides what it means in the current state
/// (e.g. Left on the timeline vs. in the scatter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Quit,
    Prev,
    Next,
    First,
    Last,
    Up,
    Down,
    PageUp,
    PageDown,
    TogglePause,
    ToggleAllLayers,
    ToggleUnseen,
    CycleCentroids,
    CycleMarker,
    NextTheme,
    Follow,
    ToggleHelp,
    CloseHelp,
    FocusNext,
    FocusPrev,
}

/// Maps a key event; releases (sent by some terminals with keyboard enhancement) are ignored so
/// one press acts once.
pub fn intent(key: KeyEvent) -> Option<Intent> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Intent::Quit,
        _ if ctrl => return None,
        KeyCode::Char('q') => Intent::Quit,
        KeyCode::Left | KeyCode::Char('h') => Intent::Prev,
        KeyCode::Right | KeyCode::Char('l') => Intent::Next,
        KeyCode::Home | KeyCode::Char('g') => Intent::First,
        KeyCode::End | KeyCode::Char('G') => Intent::Last,
        KeyCode::Up | KeyCode::Char('k') => Intent::Up,
        KeyCode::Down | KeyCode::Char('j') => Intent::Down,
        KeyCode::PageUp => Intent::PageUp,
        KeyCode::PageDown => Intent::PageDown,
        KeyCode::Char(' ') => Intent::TogglePause,
        KeyCode::Char('a') => Intent::ToggleAllLayers,
        KeyCode::Char('u') => Intent::ToggleUnseen,
        KeyCode::Char('c') => Intent::CycleCentroids,
        KeyCode::Char('m') => Intent::CycleMarker,
        KeyCode::Char('t') => Intent::NextTheme,
        KeyCode::Char('f') => Intent::Follow,
        KeyCode::Char('?') => Intent::ToggleHelp,
        KeyCode::Esc => Intent::CloseHelp,
        KeyCode::Tab => Intent::FocusNext,
        KeyCode::BackTab => Intent::FocusPrev,
        _ => return None,
    })
}

/// (keys, what they do) for the help overlay, in display order.
pub const HELP: [(&str, &str); 16] = [
    ("← → / h l", "previous / next checkpoint"),
    ("Home End / g G", "first / last checkpoint"),
    ("↑ ↓ / k j", "layer up / down (timeline focus: jump 10%)"),
    ("PgUp PgDn", "jump 10% of the checkpoints"),
    ("Tab / Shift-Tab", "focus scatter → curves → timeline"),
    ("Space", "pause / resume training (live only)"),
    ("f", "follow live: jump to and track the newest checkpoint"),
    ("a", "all layers at once / single layer"),
    ("u", "show / hide unseen-instruction points (×)"),
    ("c", "centroids: off → k-means (+) → task (number)"),
    ("m", "marker: braille → half-block → dot"),
    ("t", "next theme"),
    ("?", "this help"),
    ("Esc", "close help"),
    ("q / Ctrl-C", "quit (training stops, session saved)"),
    ("mouse", "click the timeline to select a checkpoint"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_quits_but_plain_c_cycles_centroids() {
        assert_eq!(intent(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Intent::Quit));
        assert_eq!(intent(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)), Some(Intent::CycleCentroids));
    }
}
