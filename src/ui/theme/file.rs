//! Theme files: the role colours, and parsing a TOML file over a base theme with every problem
//! named by file and field.

use std::fmt;
use std::str::FromStr;

use ratatui::style::Color;

/// Every theme has at least this many task colours; more tasks wrap around.
pub const MIN_PALETTE: usize = 12;
/// And a colour for each session `compare` shows at once.
pub const MIN_SESSIONS: usize = 6;

pub(super) const EMBEDDED: [(&str, &str); 3] = [
    ("themes/dark.toml", include_str!("../../../themes/dark.toml")),
    ("themes/light.toml", include_str!("../../../themes/light.toml")),
    ("themes/high-contrast.toml", include_str!("../../../themes/high-contrast.toml")),
];

/// The role colours of one theme. One field per TOML key (see [`Colors::slot`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Colors {
    pub(super) text: Color,
    pub(super) dim: Color,
    pub(super) faint: Color,
    pub(super) border: Color,
    pub(super) border_focus: Color,
    pub(super) title: Color,
    pub(super) selected_fg: Color,
    pub(super) selected_bg: Color,
    pub(super) accent: Color,
    pub(super) ok: Color,
    pub(super) paused: Color,
    pub(super) warning: Color,
    pub(super) error: Color,
    pub(super) axis: Color,
    pub(super) loss: Color,
    pub(super) seen: Color,
    pub(super) unseen: Color,
    pub(super) ari: Color,
    pub(super) ami: Color,
    pub(super) f1: Color,
    pub(super) centroid: Color,
    pub(super) status_fg: Color,
    pub(super) status_bg: Color,
    pub(super) help_key: Color,
    pub(super) probe: Color,
    pub(super) attr_pos: Color,
    pub(super) attr_neg: Color,
    pub(super) attr_base: Color,
    pub(super) palette: Vec<Color>,
    /// One per session the compare view shows.
    pub(super) sessions: Vec<Color>,
}

/// The TOML keys that hold a single colour, in the order of [`Colors`].
pub const COLOR_FIELDS: [&str; 28] = [
    "text",
    "dim",
    "faint",
    "border",
    "border_focus",
    "title",
    "selected_fg",
    "selected_bg",
    "accent",
    "ok",
    "paused",
    "warning",
    "error",
    "axis",
    "loss",
    "seen",
    "unseen",
    "ari",
    "ami",
    "f1",
    "centroid",
    "status_fg",
    "status_bg",
    "help_key",
    "probe",
    "attr_pos",
    "attr_neg",
    "attr_base",
];

impl Colors {
    /// Only the bootstrap for parsing the embedded dark theme, which sets every field.
    pub(super) fn terminal_default() -> Colors {
        let r = Color::Reset;
        Colors {
            text: r,
            dim: r,
            faint: r,
            border: r,
            border_focus: r,
            title: r,
            selected_fg: r,
            selected_bg: r,
            accent: r,
            ok: r,
            paused: r,
            warning: r,
            error: r,
            axis: r,
            loss: r,
            seen: r,
            unseen: r,
            ari: r,
            ami: r,
            f1: r,
            centroid: r,
            status_fg: r,
            status_bg: r,
            help_key: r,
            probe: r,
            attr_pos: r,
            attr_neg: r,
            attr_base: r,
            palette: vec![Color::Reset; MIN_PALETTE],
            sessions: vec![Color::Reset; MIN_SESSIONS],
        }
    }

    fn slot(&mut self, key: &str) -> Option<&mut Color> {
        Some(match key {
            "text" => &mut self.text,
            "dim" => &mut self.dim,
            "faint" => &mut self.faint,
            "border" => &mut self.border,
            "border_focus" => &mut self.border_focus,
            "title" => &mut self.title,
            "selected_fg" => &mut self.selected_fg,
            "selected_bg" => &mut self.selected_bg,
            "accent" => &mut self.accent,
            "ok" => &mut self.ok,
            "paused" => &mut self.paused,
            "warning" => &mut self.warning,
            "error" => &mut self.error,
            "axis" => &mut self.axis,
            "loss" => &mut self.loss,
            "seen" => &mut self.seen,
            "unseen" => &mut self.unseen,
            "ari" => &mut self.ari,
            "ami" => &mut self.ami,
            "f1" => &mut self.f1,
            "centroid" => &mut self.centroid,
            "status_fg" => &mut self.status_fg,
            "status_bg" => &mut self.status_bg,
            "help_key" => &mut self.help_key,
            "probe" => &mut self.probe,
            "attr_pos" => &mut self.attr_pos,
            "attr_neg" => &mut self.attr_neg,
            "attr_base" => &mut self.attr_base,
            _ => return None,
        })
    }

    pub(super) fn all(&self) -> impl Iterator<Item = Color> + '_ {
        let single = [
            self.text,
            self.dim,
            self.faint,
            self.border,
            self.border_focus,
            self.title,
            self.selected_fg,
            self.selected_bg,
            self.accent,
            self.ok,
            self.paused,
            self.warning,
            self.error,
            self.axis,
            self.loss,
            self.seen,
            self.unseen,
            self.ari,
            self.ami,
            self.f1,
            self.centroid,
            self.status_fg,
            self.status_bg,
            self.help_key,
            self.probe,
            self.attr_pos,
            self.attr_neg,
            self.attr_base,
        ];
        single.into_iter().chain(self.palette.iter().copied()).chain(self.sessions.iter().copied())
    }
}

/// Why one theme file was refused.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ThemeError {
    file: String,
    problems: Vec<String>,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "theme {}: {} (theme skipped)", self.file, self.problems.join("; "))
    }
}

/// Parses one theme file over `base`; `fallback_name` names it when it has no `name`.
pub(super) fn parse_theme(
    file: &str,
    text: &str,
    base: &Colors,
    fallback_name: &str,
) -> Result<(String, Colors), ThemeError> {
    let fail = |problems: Vec<String>| ThemeError { file: file.to_string(), problems };
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        // toml's message spans several lines (with a caret); the status bar has one.
        let msg = e.to_string().lines().next().unwrap_or("").to_string();
        fail(vec![format!("invalid TOML: {msg}")])
    })?;
    let mut colors = base.clone();
    let mut name = fallback_name.to_string();
    let mut problems = Vec::new();
    for (key, value) in &table {
        match key.as_str() {
            "name" => match value.as_str() {
                Some(n) if !n.trim().is_empty() => name = n.trim().to_string(),
                _ => problems.push("field `name`: expected a non-empty string".to_string()),
            },
            "palette" => match parse_palette(value, MIN_PALETTE) {
                Ok(p) => colors.palette = p,
                Err(e) => problems.push(format!("field `palette`: {e}")),
            },
            "sessions" => match parse_palette(value, MIN_SESSIONS) {
                Ok(p) => colors.sessions = p,
                Err(e) => problems.push(format!("field `sessions`: {e}")),
            },
            _ => match colors.slot(key) {
                None => problems.push(format!("unknown field `{key}`")),
                Some(slot) => match value.as_str().map(parse_color) {
                    Some(Ok(c)) => *slot = c,
                    Some(Err(e)) => problems.push(format!("field `{key}`: {e}")),
                    None => problems.push(format!("field `{key}`: expected a colour string, found {value}")),
                },
            },
        }
    }
    if problems.is_empty() {
        Ok((name, colors))
    } else {
        Err(fail(problems))
    }
}

/// What is wrong with one colour field; the message follows the field's name.
#[derive(Debug, thiserror::Error)]
enum ColorError {
    #[error("{0:?} is not a colour (a name, \"#rrggbb\" or 0-255)")]
    NotAColor(String),
    #[error("expected an array of colour strings")]
    NotAnArray,
    #[error("{0} colours, at least {1} needed")]
    TooFew(usize, usize),
    #[error("entry {0}: {1}")]
    Entry(usize, Box<ColorError>),
    #[error("expected a string")]
    NotAString,
}

fn parse_color(s: &str) -> Result<Color, ColorError> {
    Color::from_str(s.trim()).map_err(|_| ColorError::NotAColor(s.to_string()))
}

/// A list of at least `min` colours.
fn parse_palette(value: &toml::Value, min: usize) -> Result<Vec<Color>, ColorError> {
    let items = value.as_array().ok_or(ColorError::NotAnArray)?;
    if items.len() < min {
        return Err(ColorError::TooFew(items.len(), min));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_str() {
            Some(s) => parse_color(s).map_err(|e| ColorError::Entry(i + 1, Box::new(e))),
            None => Err(ColorError::Entry(i + 1, Box::new(ColorError::NotAString))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_themes_set_every_field() {
        for (file, text) in EMBEDDED {
            let table: toml::Table = toml::from_str(text).unwrap();
            for key in COLOR_FIELDS.iter().chain(["name", "palette", "sessions"].iter()) {
                assert!(table.contains_key(*key), "{file} lacks {key}");
            }
        }
    }
}
