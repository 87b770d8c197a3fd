//! Two lines at the bottom: what the run is doing, then the latest notice and the keys that
//! matter in the current state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::parts::{fmt_step, notice_style};
use crate::session::RunStatus;
use crate::ui::app::{App, Phase, Source, View};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let (run, view) = (app.run(), app.view());
    let theme = view.themes.current();
    buf.set_style(area, theme.status_bar());
    let (badge, badge_style) = match (run.source, run.phase) {
        (Source::Replay(status), _) => (
            match status {
                RunStatus::Finished => " REPLAY · finished ",
                RunStatus::Stopped => " REPLAY · stopped ",
                RunStatus::Running => " REPLAY · incomplete ",
                RunStatus::Failed => " REPLAY · failed ",
            }
            .to_string(),
            theme.accent(),
        ),
        // Next to the badge, where a narrow terminal still shows it: the run is not this one's.
        (Source::Follow, _) => {
            (format!(" ● FOLLOWING {} ", run.writer.as_deref().unwrap_or("another process")), theme.ok())
        }
        (Source::Live, Phase::Running) => (" ● RUNNING ".to_string(), theme.ok()),
        (Source::Live, Phase::Paused) => (" ⏸ PAUSED ".to_string(), theme.paused()),
        (Source::Live, Phase::Finished) => (" ✔ FINISHED ".to_string(), theme.ok()),
        (Source::Live, Phase::Stopped) => (" ■ STOPPED ".to_string(), theme.paused()),
        (Source::Live, Phase::Failed) => (" ✖ FAILED ".to_string(), theme.error()),
    };
    let pct = (run.step * 100).checked_div(run.total_steps).unwrap_or(0);
    let mut info = vec![Span::styled(badge, badge_style)];
    // Next to the badge, where a narrow terminal still shows it.
    if let Some(mark) = damaged_mark(&run.damaged) {
        info.push(Span::styled(mark, theme.status_bar().patch(theme.warning())));
    }
    info.push(Span::raw(format!(
        " {} · step {}/{} ({pct}%)",
        run.device,
        fmt_step(run.step),
        fmt_step(run.total_steps)
    )));
    let training = matches!(run.source, Source::Live | Source::Follow) && run.phase == Phase::Running;
    if training && run.steps_per_s > 0.0 {
        let left = run.total_steps.saturating_sub(run.step) as f64 / run.steps_per_s;
        info.push(Span::raw(format!(" · {:.1} steps/s · ETA {}", run.steps_per_s, fmt_duration(left))));
    }
    info.push(Span::raw(format!(" · {} · theme {}", run.session_dir.display(), theme.name())));
    let [top, bottom] = [
        Rect { height: 1, ..area },
        Rect { y: area.y.saturating_add(1), height: area.height.saturating_sub(1).min(1), ..area },
    ];
    Line::from(info).style(theme.status_bar()).render(top, buf);

    let mut used = 0;
    if let Some(n) = &view.notice {
        let style = notice_style(theme, n.level);
        let line = Line::from(Span::styled(format!(" {} ", n.text), style));
        used = line.width();
        line.render(bottom, buf);
    }
    // The notice wins over the hints: it is news, hints are not. Hints that do not fit are
    // dropped whole, least important last in the list first.
    let room = usize::from(bottom.width).saturating_sub(used);
    let mut shown = String::new();
    for h in hints(app) {
        let next = if shown.is_empty() { format!("{h} ") } else { format!("{shown}· {h} ") };
        if next.chars().count() > room {
            break;
        }
        shown = next;
    }
    Line::styled(shown, theme.status_bar()).right_aligned().render(bottom, buf);
}

/// " ⚠ step 10 damaged ", the steps named while they are few.
fn damaged_mark(steps: &[usize]) -> Option<String> {
    match steps {
        [] => None,
        [one] => Some(format!(" ⚠ step {} damaged ", fmt_step(*one))),
        few @ [_, _] | few @ [_, _, _] => {
            Some(format!(" ⚠ steps {} damaged ", few.iter().map(|s| fmt_step(*s)).collect::<Vec<_>>().join(", ")))
        }
        many => Some(format!(" ⚠ {} checkpoints damaged ", many.len())),
    }
}

/// Key hints for the current state, most useful first.
fn hints(app: &App) -> Vec<&'static str> {
    let (run, view, probes) = (app.run(), app.view(), app.probes());
    let mut h = vec!["? help", "q quit", "←→ checkpoint", "↑↓ layer"];
    // Live, pausing and following matter more than the view toggles that follow.
    if matches!(run.source, Source::Live | Source::Follow) {
        match (run.source, run.phase) {
            (Source::Live, Phase::Running) => h.push("space pause"),
            (Source::Live, Phase::Paused) => h.push("space resume"),
            _ => {}
        }
        if !view.follow {
            h.push("f follow");
        }
    }
    h.push(match view.mode {
        View::Scatter => "a all layers",
        View::AllLayers => "a one layer",
    });
    h.push("tab focus");
    h.push("p probe");
    if probes.list.len() > 1 {
        h.push("[ ] probes");
    }
    h
}

/// "1h02m", "3m05s", "12s".
fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "–".into();
    }
    let s = secs.round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}
