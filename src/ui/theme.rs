//! Themes: semantic styles for every widget, loaded from TOML.
//!
//! Widgets never name a colour; they ask the [`Theme`] for a role (`text`, `error`, `task(i)`,
//! ...). Three themes are embedded (`themes/*.toml`); a user's `*.toml` files are overrides on
//! top of the default dark theme, so a file naming two fields is a complete theme. A file with
//! any bad field is reported and skipped as a whole (gitui's rule: the default is kept rather
//! than a half-applied theme).

mod file;

use std::fs;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};

use file::{parse_theme, Colors, EMBEDDED};
pub use file::{COLOR_FIELDS, MIN_PALETTE, MIN_SESSIONS};

/// One clustering score, for its curve colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Ari,
    Ami,
    F1,
}

/// A named theme with semantic style getters.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    name: String,
    colors: Colors,
    /// NO_COLOR: every getter returns modifiers only.
    no_color: bool,
}

impl Theme {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn fg(&self, c: Color) -> Style {
        if self.no_color {
            Style::new()
        } else {
            Style::new().fg(c)
        }
    }

    pub fn text(&self) -> Style {
        self.fg(self.colors.text)
    }
    pub fn dim(&self) -> Style {
        self.fg(self.colors.dim)
    }
    /// Context drawn behind the subject, e.g. the other layers' curves.
    pub fn faint(&self) -> Style {
        self.fg(self.colors.faint)
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(self.colors.border_focus).add_modifier(Modifier::BOLD)
        } else {
            self.fg(self.colors.border)
        }
    }
    pub fn title(&self) -> Style {
        self.fg(self.colors.title).add_modifier(Modifier::BOLD)
    }
    /// The selected checkpoint / layer / item.
    pub fn selected(&self) -> Style {
        if self.no_color {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new().fg(self.colors.selected_fg).bg(self.colors.selected_bg).add_modifier(Modifier::BOLD)
        }
    }
    /// The selection colour as a foreground, for marks drawn on the plot background.
    pub fn marker_selected(&self) -> Style {
        self.fg(self.colors.selected_bg).add_modifier(Modifier::BOLD)
    }
    pub fn accent(&self) -> Style {
        self.fg(self.colors.accent).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(self.colors.ok).add_modifier(Modifier::BOLD)
    }
    pub fn paused(&self) -> Style {
        self.fg(self.colors.paused).add_modifier(Modifier::BOLD)
    }
    pub fn warning(&self) -> Style {
        self.fg(self.colors.warning)
    }
    pub fn error(&self) -> Style {
        self.fg(self.colors.error).add_modifier(Modifier::BOLD)
    }
    pub fn axis(&self) -> Style {
        self.fg(self.colors.axis)
    }
    pub fn loss(&self) -> Style {
        self.fg(self.colors.loss)
    }
    pub fn seen(&self) -> Style {
        self.fg(self.colors.seen)
    }
    pub fn unseen(&self) -> Style {
        self.fg(self.colors.unseen)
    }
    pub fn metric(&self, m: Metric) -> Style {
        self.fg(match m {
            Metric::Ari => self.colors.ari,
            Metric::Ami => self.colors.ami,
            Metric::F1 => self.colors.f1,
        })
    }
    pub fn centroid(&self) -> Style {
        self.fg(self.colors.centroid).add_modifier(Modifier::BOLD)
    }
    pub fn status_bar(&self) -> Style {
        if self.no_color {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(self.colors.status_fg).bg(self.colors.status_bg)
        }
    }
    pub fn help_key(&self) -> Style {
        self.fg(self.colors.help_key).add_modifier(Modifier::BOLD)
    }
    /// A probe's marker on the plots; the selected probe's is reversed so it stands out.
    pub fn probe_marker(&self, selected: bool) -> Style {
        let s = self.fg(self.colors.probe).add_modifier(Modifier::BOLD);
        if selected {
            s.add_modifier(Modifier::REVERSED)
        } else {
            s
        }
    }
    /// The small marks of a probe's trail across checkpoints.
    pub fn probe_trail(&self) -> Style {
        self.fg(self.colors.probe)
    }
    /// Shading of an instruction word by its attribution, `strength` in -1..=1 (relative to the
    /// strongest word): the hue gives the sign, the depth of the shade its size.
    pub fn attribution(&self, strength: f32) -> Style {
        let a = if strength.is_finite() { strength.abs().min(1.0) } else { 0.0 };
        if self.no_color {
            return match a {
                a if a < 0.34 => Style::new(),
                a if a < 0.67 => Style::new().add_modifier(Modifier::UNDERLINED),
                _ => Style::new().add_modifier(Modifier::REVERSED),
            };
        }
        let hue = if strength < 0.0 { self.colors.attr_neg } else { self.colors.attr_pos };
        let fg = if a > 0.6 { self.colors.selected_fg } else { self.colors.text };
        match (hue, self.colors.attr_base) {
            (Color::Rgb(hr, hg, hb), Color::Rgb(br, bg, bb)) => {
                // Even a weak word gets a hint of colour, so shaded and unshaded read apart.
                let t = if a < 0.02 { 0.0 } else { 0.2 + 0.8 * a };
                let mix = |h: u8, b: u8| (f32::from(b) + (f32::from(h) - f32::from(b)) * t).round() as u8;
                Style::new().fg(fg).bg(Color::Rgb(mix(hr, br), mix(hg, bg), mix(hb, bb)))
            }
            _ if a < 0.34 => Style::new().fg(hue),
            _ if a < 0.67 => Style::new().fg(self.colors.selected_fg).bg(hue),
            _ => Style::new().fg(self.colors.selected_fg).bg(hue).add_modifier(Modifier::BOLD),
        }
    }
    /// Number of distinct task colours.
    pub fn palette_len(&self) -> usize {
        self.colors.palette.len().max(1)
    }
    /// Points of task `i` (wrapping past the palette).
    pub fn task(&self, i: usize) -> Style {
        match self.colors.palette.get(i % self.palette_len()) {
            Some(&c) => self.fg(c),
            None => Style::new(),
        }
    }
    /// Task `i` as a background, with a readable foreground (task centroid labels).
    pub fn task_badge(&self, i: usize) -> Style {
        match self.colors.palette.get(i % self.palette_len()) {
            Some(&c) if !self.no_color => Style::new().bg(c).fg(self.colors.selected_fg).add_modifier(Modifier::BOLD),
            _ => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }
    /// Half-block pixels: the upper half in `upper`'s colour, the lower in `lower`'s.
    pub fn task_pair(&self, upper: usize, lower: usize) -> Style {
        let fg = self.task(upper);
        match (self.no_color, self.colors.palette.get(lower % self.palette_len())) {
            (false, Some(&c)) => fg.bg(c),
            _ => fg,
        }
    }
    /// Session `i` of a comparison: its curve, label and table row (wrapping past six).
    pub fn session(&self, i: usize) -> Style {
        match self.colors.sessions.get(i % self.colors.sessions.len().max(1)) {
            Some(&c) => self.fg(c).add_modifier(Modifier::BOLD),
            None => Style::new().add_modifier(Modifier::BOLD),
        }
    }
    /// Whether colour is off (NO_COLOR), so shapes must carry the meaning alone.
    pub fn is_colorless(&self) -> bool {
        self.no_color
    }
    /// Every colour the theme uses, palette included (tests check the 16-colour theme).
    pub fn colors(&self) -> Vec<Color> {
        self.colors.all().collect()
    }
}

/// The themes to cycle through with `t`, and which one is on.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeSet {
    themes: Vec<Theme>,
    current: usize,
}

impl Default for ThemeSet {
    /// The embedded themes, dark first, colours on.
    fn default() -> Self {
        ThemeSet::load(None, None, false).0
    }
}

impl ThemeSet {
    /// Embedded themes (dark default, light, 16-colour high-contrast) plus any `*.toml` in `dir`
    /// (a file named like an embedded theme replaces it); `initial` selects by name. Bad files
    /// and fields come back as warnings naming file and field, and the file is skipped; an
    /// unknown `initial` is a warning and the default is kept. `no_color` (NO_COLOR) makes every
    /// style colourless.
    pub fn load(dir: Option<&Path>, initial: Option<&str>, no_color: bool) -> (ThemeSet, Vec<String>) {
        let dirs: Vec<PathBuf> = dir.map(Path::to_path_buf).into_iter().collect();
        ThemeSet::load_from(&dirs, &[], initial, no_color)
    }

    /// Like [`ThemeSet::load`], with the `*.toml` of several directories (a later one's theme
    /// replaces an earlier one's of the same name) and then single theme files.
    pub fn load_from(
        dirs: &[PathBuf],
        files: &[PathBuf],
        initial: Option<&str>,
        no_color: bool,
    ) -> (ThemeSet, Vec<String>) {
        let mut warnings = Vec::new();
        let mut themes: Vec<Theme> = Vec::new();
        let add = |themes: &mut Vec<Theme>, name: String, colors: Colors| {
            let theme = Theme { name, colors, no_color };
            match themes.iter_mut().find(|t| t.name == theme.name) {
                Some(t) => *t = theme,
                None => themes.push(theme),
            }
        };
        let bootstrap = Colors::terminal_default();
        let mut base = bootstrap.clone();
        for (i, (file, text)) in EMBEDDED.iter().enumerate() {
            let stem = file.trim_start_matches("themes/").trim_end_matches(".toml");
            // Embedded themes are complete, so each is parsed on its own; the first (dark) is
            // the base that user files override.
            match parse_theme(file, text, &bootstrap, stem) {
                Ok((name, colors)) => {
                    if i == 0 {
                        base = colors.clone();
                    }
                    add(&mut themes, name, colors);
                }
                Err(e) => warnings.push(e.to_string()),
            }
        }
        if themes.is_empty() {
            add(&mut themes, "terminal".to_string(), bootstrap);
        }
        let mut paths: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            let mut found: Vec<_> = match fs::read_dir(dir) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect(),
                Err(e) => {
                    warnings.push(format!("themes directory {}: {e}", dir.display()));
                    Vec::new()
                }
            };
            // Directory order is arbitrary; sorted, `t` cycles the same way every run.
            found.sort();
            paths.extend(found);
        }
        paths.extend(files.iter().cloned());
        for path in paths {
            let shown = path.display().to_string();
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match fs::read_to_string(&path) {
                Ok(text) => match parse_theme(&shown, &text, &base, &stem) {
                    Ok((name, colors)) => add(&mut themes, name, colors),
                    Err(e) => warnings.push(e.to_string()),
                },
                Err(e) => warnings.push(format!("theme {shown}: cannot read: {e}")),
            }
        }
        let mut current = 0;
        if let Some(want) = initial {
            match themes.iter().position(|t| t.name.eq_ignore_ascii_case(want)) {
                Some(i) => current = i,
                None => warnings.push(format!(
                    "unknown theme {want:?} (have: {}); using {}",
                    themes.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
                    themes[0].name
                )),
            }
        }
        (ThemeSet { themes, current }, warnings)
    }

    pub fn names(&self) -> Vec<String> {
        self.themes.iter().map(|t| t.name.clone()).collect()
    }

    pub fn current(&self) -> &Theme {
        // `load` always leaves at least one theme and `current` in range.
        &self.themes[self.current.min(self.themes.len().saturating_sub(1))]
    }

    /// Switches to the next theme (wrapping) and returns its name.
    pub fn cycle(&mut self) -> &str {
        self.current = (self.current + 1) % self.themes.len().max(1);
        self.current().name()
    }

    /// Selects a theme by name; false (and no change) when there is none.
    pub fn select(&mut self, name: &str) -> bool {
        match self.themes.iter().position(|t| t.name.eq_ignore_ascii_case(name)) {
            Some(i) => {
                self.current = i;
                true
            }
            None => false,
        }
    }
}
