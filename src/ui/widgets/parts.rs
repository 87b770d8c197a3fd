//! Small pieces every widget uses: the bordered panel, title spans, notice styles, number and step
//! text, task labels. A leaf, so the widgets share them without depending on the module that
//! draws them.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use crate::ui::app::Level;
use crate::ui::theme::Theme;

/// A bordered panel; the focused one gets a thick, highlighted border.
pub(crate) fn panel<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(theme.border(focused))
        .title(title)
}

/// A notice of `level` on the status bar's background.
pub(crate) fn notice_style(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Info => theme.status_bar(),
        Level::Warning => theme.status_bar().patch(theme.warning()),
        Level::Error => theme.status_bar().patch(theme.error()),
    }
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
/// How checkpoint `step` is named: `step 1,200`, or an analysed model's label.
pub(crate) fn checkpoint_name(run: &crate::ui::app::RunData, step: usize) -> String {
    match run.checkpoint_label(step) {
        Some(label) => label.to_string(),
        None => format!("step {}", fmt_step(step)),
    }
}

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
