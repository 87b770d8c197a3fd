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
    ToggleEmbedding,
    CycleCentroids,
    CycleMarker,
    NextTheme,
    Follow,
    ToggleHelp,
    CloseHelp,
    FocusNext,
    FocusPrev,
    OpenProbe,
    ToggleProbePanel,
    PrevProbe,
    NextProbe,
    ToggleTrail,
    ToggleAttributionValues,
    DeleteProbe,
}

/// What a key does while the probe line is open: it takes every key, so letters type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineIntent {
    Quit,
    Insert(char),
    Backspace,
    Delete,
    DeleteWord,
    Left,
    Right,
    Home,
    End,
    Submit,
    Close,
    Complete,
    CompletePrev,
    HistoryPrev,
    HistoryNext,
    FillUnseen,
    FillSeen,
    NextFillTask,
    PrevFillTask,
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
        KeyCode::Char('n') => Intent::ToggleEmbedding,
        KeyCode::Char('c') => Intent::CycleCentroids,
        KeyCode::Char('m') => Intent::CycleMarker,
        KeyCode::Char('t') => Intent::NextTheme,
        KeyCode::Char('f') => Intent::Follow,
        KeyCode::Char('?') => Intent::ToggleHelp,
        KeyCode::Esc => Intent::CloseHelp,
        KeyCode::Tab => Intent::FocusNext,
        KeyCode::BackTab => Intent::FocusPrev,
        KeyCode::Char('p') => Intent::OpenProbe,
        KeyCode::Char('P') => Intent::ToggleProbePanel,
        KeyCode::Char('[') => Intent::PrevProbe,
        KeyCode::Char(']') => Intent::NextProbe,
        KeyCode::Char('r') => Intent::ToggleTrail,
        KeyCode::Char('v') => Intent::ToggleAttributionValues,
        KeyCode::Char('x') => Intent::DeleteProbe,
        _ => return None,
    })
}

/// What a key asks of the sweep view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepIntent {
    Quit,
    Left,
    Right,
    Up,
    Down,
    First,
    Last,
    FocusNext,
    Open,
    NextMetric,
    PrevMetric,
    NextAxis,
    NextTheme,
    ToggleHelp,
    CloseHelp,
}

/// Maps a key in the sweep view: the app's movement keys, and its own letters for what it plots.
pub fn sweep_intent(key: KeyEvent) -> Option<SweepIntent> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => SweepIntent::Quit,
        _ if ctrl => return None,
        KeyCode::Char('q') => SweepIntent::Quit,
        KeyCode::Left | KeyCode::Char('h') => SweepIntent::Left,
        KeyCode::Right | KeyCode::Char('l') => SweepIntent::Right,
        KeyCode::Up | KeyCode::Char('k') => SweepIntent::Up,
        KeyCode::Down | KeyCode::Char('j') => SweepIntent::Down,
        KeyCode::Home | KeyCode::Char('g') => SweepIntent::First,
        KeyCode::End | KeyCode::Char('G') => SweepIntent::Last,
        KeyCode::Tab | KeyCode::BackTab => SweepIntent::FocusNext,
        KeyCode::Enter => SweepIntent::Open,
        KeyCode::Char('m') => SweepIntent::NextMetric,
        KeyCode::Char('M') => SweepIntent::PrevMetric,
        KeyCode::Char('a') => SweepIntent::NextAxis,
        KeyCode::Char('t') => SweepIntent::NextTheme,
        KeyCode::Char('?') => SweepIntent::ToggleHelp,
        KeyCode::Esc => SweepIntent::CloseHelp,
        _ => return None,
    })
}

/// The sweep view's keys for its help overlay, in display order.
pub const SWEEP_HELP: [(&str, &str); 10] = [
    ("Tab", "focus plot ↔ point list"),
    ("← → / h l", "plot: previous / next parameter value"),
    ("↑ ↓ / k j", "plot: other points at this value · list: previous / next"),
    ("Home End / g G", "first / last point"),
    ("Enter", "open the point's session (q there comes back)"),
    ("m / M", "next / previous metric"),
    ("a", "next grid parameter on the x axis"),
    ("t", "next theme"),
    ("? / Esc", "this help / close it"),
    ("q / Ctrl-C", "quit (a running sweep goes on)"),
];

/// What a key asks of the compare view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareIntent {
    Quit,
    Prev,
    Next,
    First,
    Last,
    PageUp,
    PageDown,
    Up,
    Down,
    FocusNext,
    FocusPrev,
    NextMetric,
    PrevMetric,
    ToggleUnseen,
    CycleCentroids,
    NextTheme,
    ToggleHelp,
    /// Closes the help, or quits when it is closed.
    Escape,
}

/// Maps a key in the compare view: the app's own keys through [`intent`], so the two cannot
/// drift apart, and `m`/`M` (the app's marker key) for the curve the view overlays.
pub fn compare_intent(key: KeyEvent) -> Option<CompareIntent> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if !key.modifiers.contains(KeyModifiers::CONTROL) {
        match key.code {
            KeyCode::Char('m') => return Some(CompareIntent::NextMetric),
            KeyCode::Char('M') => return Some(CompareIntent::PrevMetric),
            _ => {}
        }
    }
    Some(match intent(key)? {
        Intent::Quit => CompareIntent::Quit,
        Intent::Prev => CompareIntent::Prev,
        Intent::Next => CompareIntent::Next,
        Intent::First => CompareIntent::First,
        Intent::Last => CompareIntent::Last,
        Intent::PageUp => CompareIntent::PageUp,
        Intent::PageDown => CompareIntent::PageDown,
        Intent::Up => CompareIntent::Up,
        Intent::Down => CompareIntent::Down,
        Intent::FocusNext => CompareIntent::FocusNext,
        Intent::FocusPrev => CompareIntent::FocusPrev,
        Intent::ToggleUnseen => CompareIntent::ToggleUnseen,
        Intent::CycleCentroids => CompareIntent::CycleCentroids,
        Intent::NextTheme => CompareIntent::NextTheme,
        Intent::ToggleHelp => CompareIntent::ToggleHelp,
        Intent::CloseHelp => CompareIntent::Escape,
        _ => return None,
    })
}

/// The compare view's keys for its help overlay, in display order.
pub const COMPARE_HELP: [(&str, &str); 10] = [
    ("← → / h l", "previous / next step (a checkpoint of any session)"),
    ("Home End / g G", "first / last step"),
    ("PgUp PgDn", "jump 10% of the steps"),
    ("↑ ↓ / k j", "layer up / down (a session with fewer shows its deepest)"),
    ("m / M", "next / previous curve: loss, accuracies, ARI, AMI, F1"),
    ("Tab / Shift-Tab", "next / previous session in front"),
    ("u  c", "unseen points (×) on / off · centroids off → k-means → task"),
    ("t", "next theme"),
    ("? / Esc", "this help / close it (Esc without the help quits)"),
    ("q / Ctrl-C", "quit"),
];

/// Maps a key for the probe line. Control keys carry the line's own commands (quick fills and
/// their task), so no printable character is taken from typing.
pub fn line_intent(key: KeyEvent) -> Option<LineIntent> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => LineIntent::Quit,
        KeyCode::Char('u') if ctrl => LineIntent::FillUnseen,
        KeyCode::Char('s') if ctrl => LineIntent::FillSeen,
        KeyCode::Char('n') if ctrl => LineIntent::NextFillTask,
        KeyCode::Char('p') if ctrl => LineIntent::PrevFillTask,
        KeyCode::Char('w') if ctrl => LineIntent::DeleteWord,
        KeyCode::Char('a') if ctrl => LineIntent::Home,
        KeyCode::Char('e') if ctrl => LineIntent::End,
        _ if ctrl => return None,
        KeyCode::Char(c) => LineIntent::Insert(c),
        KeyCode::Backspace => LineIntent::Backspace,
        KeyCode::Delete => LineIntent::Delete,
        KeyCode::Left => LineIntent::Left,
        KeyCode::Right => LineIntent::Right,
        KeyCode::Home => LineIntent::Home,
        KeyCode::End => LineIntent::End,
        KeyCode::Enter => LineIntent::Submit,
        KeyCode::Esc => LineIntent::Close,
        KeyCode::Tab => LineIntent::Complete,
        KeyCode::BackTab => LineIntent::CompletePrev,
        KeyCode::Up => LineIntent::HistoryPrev,
        KeyCode::Down => LineIntent::HistoryNext,
        _ => return None,
    })
}

/// (keys, what they do) for the help overlay, in display order.
pub const HELP: [(&str, &str); 21] = [
    ("← → / h l", "previous / next checkpoint"),
    ("Home End / g G", "first / last checkpoint"),
    ("↑ ↓ / k j", "layer up / down (timeline focus: jump 10%)"),
    ("PgUp PgDn", "jump 10% of the checkpoints"),
    ("Tab / Shift-Tab", "focus scatter → curves → timeline"),
    ("Space", "pause / resume training (live only)"),
    ("f", "follow live: jump to and track the newest checkpoint"),
    ("a", "all layers at once / single layer"),
    ("u", "show / hide unseen-instruction points (×)"),
    ("n", "scatter: PCA ↔ t-SNE (probes stay PCA-only)"),
    ("c", "centroids: off → k-means (+) → task (number)"),
    ("m", "marker: braille → half-block → dot"),
    ("t", "next theme"),
    ("p", "probe `instruction words | X` at this checkpoint"),
    ("  Tab ↑↓ Enter", "complete · history · run (Esc closes the line)"),
    ("  Ctrl-U Ctrl-S", "fill a held-out / seen instruction (Ctrl-N/P: task)"),
    ("P  [ ]  x", "probe panel · previous / next probe · delete probe"),
    ("r  v", "probe trail across checkpoints · attribution values"),
    ("? / Esc", "this help / close it"),
    ("q / Ctrl-C", "quit (training stops, session saved)"),
    ("mouse", "click the timeline to select a checkpoint"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_line_types_letters_that_are_keys_elsewhere() {
        let plain = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(line_intent(plain('q')), Some(LineIntent::Insert('q')));
        assert_eq!(line_intent(plain('|')), Some(LineIntent::Insert('|')));
        assert_eq!(line_intent(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)), Some(LineIntent::FillUnseen));
        assert_eq!(intent(plain('p')), Some(Intent::OpenProbe));
    }

    #[test]
    fn ctrl_c_quits_but_plain_c_cycles_centroids() {
        assert_eq!(intent(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Intent::Quit));
        assert_eq!(intent(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)), Some(Intent::CycleCentroids));
    }
}
