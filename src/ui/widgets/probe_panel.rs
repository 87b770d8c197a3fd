//! The probe panel: the selected probe at the selected checkpoint and layer. Its words shaded by
//! how much each drove the answer (gradient x input; `v` shows the numbers), the model's answer
//! and whether the nearest task's table agrees, and the distance to every task's centroid. A
//! free-text probe of a pretrained model shows its tokens, its continuation and the first
//! token's probability instead: there is no table to check it against.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::parts::{fmt_num, fmt_step, panel, task_label, title_span, truncate};
use crate::record::ProbeAnswer;
use crate::ui::app::{verdict, App, Probe};
use crate::ui::theme::Theme;

/// Rows the panel wants: borders, two rows of words, the answer, the nearest task, one bar per
/// task.
pub fn height(app: &App) -> u16 {
    let run = app.run();
    u16::try_from(6 + run.task_names.len()).unwrap_or(u16::MAX)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (view, probes) = (app.view(), app.probes());
    let theme = view.themes.current();
    let Some(p) = probes.selected_probe() else { return };
    let n = probes.list.len();
    let mut title = vec![title_span(format!("probe ◆{}", p.id()), theme)];
    if n > 1 {
        title.push(Span::styled(format!("{}/{n} [ ] ", probes.selected + 1), theme.dim()));
    }
    let hints = if probes.values { " v hide values " } else { " v values " };
    let block = panel(theme, Line::from(title), false).title_bottom(Line::styled(hints, theme.dim()).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    let w = usize::from(inner.width);
    let snap = app.selected_snapshot();
    let result = snap.and_then(|s| p.result(s.step));
    let mut lines = Vec::new();
    match (snap, result) {
        (Some(_), Some(Ok(a))) => {
            lines.extend(wrap(shaded_words(app, theme, a), w));
            lines.extend(answer_lines(app, theme, p, a, w));
        }
        (snap, other) => {
            lines.extend(wrap(vec![Span::styled(p.text().to_string(), theme.text())], w));
            let note = match (snap, other) {
                (_, Some(Err(e))) => Line::styled(e.to_string(), theme.error()),
                (None, _) => Line::styled("runs at the first checkpoint", theme.dim()),
                (Some(s), _) if probes.running(p.id(), s.step) => {
                    Line::styled(format!("running at step {}…", fmt_step(s.step)), theme.dim())
                }
                (Some(s), _) => Line::styled(format!("no result at step {} yet", fmt_step(s.step)), theme.dim()),
            };
            lines.push(note);
        }
    }
    Paragraph::new(lines).wrap(Wrap { trim: false }).render(inner, buf);
}

/// The instruction words, each shaded by its attribution relative to the strongest, then the
/// input; with values on, each word carries its number.
fn shaded_words<'a>(app: &App, theme: &Theme, a: &ProbeAnswer) -> Vec<Span<'a>> {
    let probes = app.probes();
    let max = a.attribution.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()));
    let mut spans = Vec::new();
    for (i, word) in a.words.iter().enumerate() {
        let v = a.attribution.get(i).copied().unwrap_or(0.0);
        let rel = if max > 0.0 && v.is_finite() { v / max } else { 0.0 };
        let word = if probes.free_text() { shown_token(word) } else { word.clone() };
        let text = if probes.values { format!("{word}{}", signed(v)) } else { word };
        spans.push(Span::styled(text, theme.attribution(rel)));
    }
    if !probes.free_text() {
        spans.push(Span::styled(format!("| {}", a.input), theme.dim()));
    }
    spans
}

/// A token as its own word: the spaces it carries are the gaps between words, and a token of
/// whitespace alone shows as a mark so it keeps its shade.
fn shown_token(token: &str) -> String {
    match token.trim() {
        "" if token.contains('\n') => "⏎".into(),
        "" => "␣".into(),
        t => visible(t),
    }
}

/// Text from a model on one row: line breaks as ⏎, other control characters dropped (an escape
/// sequence could repaint the terminal).
fn visible(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('⏎'),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

fn signed(v: f32) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    let s = fmt_num(f64::from(v.abs()));
    if v < 0.0 {
        format!("−{s}")
    } else {
        format!("+{s}")
    }
}

/// Greedy word wrap of tokens (joined by single spaces) into lines of `width` columns.
fn wrap(tokens: Vec<Span<'_>>, width: usize) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut used = 0;
    for t in tokens {
        let tw = t.width();
        if !cur.is_empty() && used + 1 + tw > width {
            lines.push(Line::from(std::mem::take(&mut cur)));
            used = 0;
        }
        if !cur.is_empty() {
            cur.push(Span::raw(" "));
            used += 1;
        }
        used += tw;
        cur.push(t);
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

fn answer_lines<'a>(app: &App, theme: &Theme, p: &Probe, a: &ProbeAnswer, w: usize) -> Vec<Line<'a>> {
    let (run, view, probes) = (app.run(), app.view(), app.probes());
    let mut answer = if probes.free_text() {
        vec![
            Span::styled("continues ", theme.dim()),
            Span::styled(visible(a.answer.trim_start()), theme.text().add_modifier(Modifier::BOLD)),
            Span::styled(format!(" {:.0}%", a.answer_probability * 100.0), theme.text()),
            Span::styled(" first token", theme.dim()),
        ]
    } else {
        vec![
            Span::styled("answer ", theme.dim()),
            Span::styled(a.answer.clone(), theme.text().add_modifier(Modifier::BOLD)),
            Span::styled(format!(" {:.0}%", a.answer_probability * 100.0), theme.text()),
        ]
    };
    let index = probes.list.iter().position(|q| q.id() == p.id()).unwrap_or(0);
    let Some(pl) = app.probe_placement(index, view.selected, view.layer) else {
        let d = app.selected_snapshot().and_then(|s| s.layer(view.layer)).map_or(0, |l| l.pca.mean.len());
        let got = a.hidden.get(view.layer).map_or(0, Vec::len);
        return vec![
            Line::from(answer),
            Line::styled(
                format!("not placed on layer {}: {got} hidden values, its analysis has {d}", view.layer),
                theme.warning(),
            ),
        ];
    };
    let name = |t: usize| run.task_names.get(t).cloned().unwrap_or_else(|| format!("task {t}"));
    let exp = probes.experiment();
    match exp.and_then(|e| verdict(e, a, pl.nearest_task)) {
        Some((expected, true)) => {
            answer.push(Span::styled(format!("  ✓ {}({})={expected}", name(pl.nearest_task), a.input), theme.ok()))
        }
        Some((expected, false)) => {
            answer.push(Span::styled(format!("  ✗ {}({})={expected}", name(pl.nearest_task), a.input), theme.error()))
        }
        None => {}
    }
    let mut lines = vec![
        Line::from(answer),
        Line::from(vec![
            Span::styled(format!("nearest (layer {}) ", view.layer), theme.dim()),
            Span::styled(format!("●{} ", task_label(pl.nearest_task)), theme.task(pl.nearest_task)),
            Span::styled(name(pl.nearest_task), theme.text().add_modifier(Modifier::BOLD)),
        ]),
    ];
    let counts =
        app.selected_snapshot().and_then(|s| s.layer(view.layer)).map(|l| l.task_counts.clone()).unwrap_or_default();
    let max = pl.distances.iter().filter(|d| d.is_finite()).fold(0.0f32, |m, &d| m.max(d));
    let name_w = run.task_names.iter().map(|n| n.chars().count()).max().unwrap_or(4).min(w / 3).max(1);
    let bar_w = w.saturating_sub(name_w + 4 + 7);
    for (t, &d) in pl.distances.iter().enumerate() {
        let closest = t == pl.nearest_task;
        let label_style = if closest { theme.selected() } else { theme.text() };
        let mut row = vec![
            Span::styled(format!("{} ", task_label(t)), theme.task(t)),
            Span::styled(format!("{:<name_w$}", truncate(&name(t), name_w)), label_style),
            Span::raw(" "),
        ];
        if counts.get(t).is_some_and(|&c| c == 0) {
            row.push(Span::styled("no seen points", theme.dim()));
        } else {
            let frac = if max > 0.0 && d.is_finite() { d / max } else { 0.0 };
            let bar = bar(frac, bar_w);
            let pad = bar_w.saturating_sub(bar.chars().count());
            let style: Style = if closest { theme.task(t).add_modifier(Modifier::BOLD) } else { theme.task(t) };
            row.push(Span::styled(bar, style));
            row.push(Span::raw(" ".repeat(pad)));
            row.push(Span::styled(
                format!(" {}", fmt_num(f64::from(d))),
                if closest { theme.text() } else { theme.dim() },
            ));
        }
        lines.push(Line::from(row));
    }
    lines
}

/// A horizontal bar of `frac` (0..=1) of `width` columns, in eighths.
fn bar(frac: f32, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (frac.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(EIGHTHS[eighths % 8]);
    }
    // A non-zero distance always shows.
    if s.is_empty() && frac > 0.0 && width > 0 {
        s.push('▏');
    }
    s
}
