//! The status bar's one notice: news from the run, the keys and the probes, in one of three
//! levels.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub level: Level,
}

impl Notice {
    /// A notice of `text` on one line: the status bar gives it one row.
    pub fn new(level: Level, text: &str) -> Notice {
        Notice { text: one_line(text), level }
    }
}

/// Whitespace runs, newlines included, as single spaces; other control characters (an escape
/// sequence from a file could repaint the terminal) dropped.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().map(|w| w.replace(char::is_control, "")).collect::<Vec<_>>().join(" ")
}
