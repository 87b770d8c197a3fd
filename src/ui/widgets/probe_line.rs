//! The probe line, in place of the status bar while it is open: the text being typed with its
//! cursor, then one row for the error, the completion candidates or the keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::parts::truncate;
use crate::ui::app::{App, ProbeLine};

const PROMPT: &str = " probe› ";

pub fn render(app: &App, line: &ProbeLine, area: Rect, buf: &mut Buffer) {
    let (view, probes) = (app.view(), app.probes());
    let theme = view.themes.current();
    buf.set_style(area, theme.status_bar());
    let top = Rect { height: area.height.min(1), ..area };
    let bottom = Rect { y: area.y.saturating_add(1), height: area.height.saturating_sub(1).min(1), ..area };

    // Keep the cursor in view: show the tail of a line too long for the row.
    let room = usize::from(area.width).saturating_sub(PROMPT.chars().count() + 1).max(1);
    let chars: Vec<char> = line.text().chars().collect();
    let cursor = line.cursor.min(chars.len());
    let start = (cursor + 1).saturating_sub(room);
    let before: String = chars[start..cursor].iter().collect();
    let at = chars.get(cursor).map_or(' ', |&c| c);
    let after: String = chars.iter().skip(cursor + 1).take(room.saturating_sub(cursor - start + 1)).collect();
    let text_style = theme.status_bar().patch(theme.text());
    Line::from(vec![
        Span::styled(PROMPT, theme.status_bar().patch(theme.accent())),
        Span::styled(before, text_style),
        Span::styled(at.to_string(), text_style.add_modifier(Modifier::REVERSED)),
        Span::styled(after, text_style),
    ])
    .style(theme.status_bar())
    .render(top, buf);

    let w = usize::from(area.width);
    let second = if let Some(e) = line.error() {
        Line::from(Span::styled(
            format!(" ✖ {}", truncate(e, w.saturating_sub(4))),
            theme.status_bar().patch(theme.error()),
        ))
    } else if let Some((candidates, current)) = line.candidates().filter(|(c, _)| !c.is_empty()) {
        let current = current.min(candidates.len() - 1);
        let mut spans = vec![Span::styled(" Tab: ", theme.status_bar().patch(theme.dim()))];
        let mut used = 6;
        // Start late enough that the current candidate is in view.
        let avail = w.saturating_sub(used + 4);
        let width_from = |skip: usize| candidates[skip..=current].iter().map(|c| c.chars().count() + 1).sum::<usize>();
        let mut skip = 0;
        while skip < current && width_from(skip) > avail {
            skip += 1;
        }
        if skip > 0 {
            spans.push(Span::styled("… ", theme.status_bar().patch(theme.dim())));
            used += 2;
        }
        for (i, c) in candidates.iter().enumerate().skip(skip) {
            if used + c.chars().count() + 2 > w {
                spans.push(Span::styled("…", theme.status_bar().patch(theme.dim())));
                break;
            }
            used += c.chars().count() + 1;
            let style = if i == current { theme.selected() } else { theme.status_bar() };
            spans.push(Span::styled(c.clone(), style));
            spans.push(Span::raw(" "));
        }
        Line::from(spans)
    } else if probes.free_text() {
        let names = &app.run().task_names;
        let task = names.get(probes.fill_task % names.len().max(1)).map_or("", String::as_str);
        let hint = format!(
            " any text: the instruction · Enter run · ↑↓ history · ^U held-out ^S seen prompt of {task} (^N/^P task) · Esc close"
        );
        Line::styled(truncate(&hint, w), theme.status_bar().patch(theme.dim()))
    } else {
        let task = probes
            .experiment()
            .and_then(|e| e.tasks.get(probes.fill_task % e.tasks.len().max(1)))
            .map_or(String::new(), |t| t.name.clone());
        let hint = format!(
            " `words | X` · Enter run · Tab complete · ↑↓ history · ^U held-out ^S seen instruction of {task} (^N/^P task) · Esc close"
        );
        Line::styled(truncate(&hint, w), theme.status_bar().patch(theme.dim()))
    };
    second.style(theme.status_bar()).render(bottom, buf);
}
