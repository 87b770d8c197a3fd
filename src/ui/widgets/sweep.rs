//! The sweep view's screen: a title line, the plot of the chosen metric against the chosen
//! parameter, the list of points, and a status line; `?` lays the help over it.

mod plot;
mod points;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::layout::{MIN_HEIGHT, MIN_WIDTH};
use super::parts::notice_style;
use super::{help, too_small};
use crate::ui::sweep_view::SweepView;

impl Widget for &SweepView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.themes.current();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small::render(theme, area, buf);
            return;
        }
        // The list takes what the plot leaves, but never more than its rows need.
        let rows = self.summary.as_ref().map_or(1, |s| s.points.len()) as u16;
        let list_h = (rows + 3).min(area.height.saturating_sub(2) * 2 / 5).max(4);
        let [title, plot_area, list_area, status] = area.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(list_h),
            Constraint::Length(1),
        ]));
        title_line(self, title, buf);
        plot::render(self, plot_area, buf);
        points::render(self, list_area, buf);
        status_line(self, status, buf);
        if self.help {
            help::render_sweep(theme, self.help_scroll, area, buf);
        }
    }
}

fn title_line(view: &SweepView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    // The directory's own name: the whole path is in the user's shell already.
    let name = view.dir.file_name().map_or_else(|| view.dir.display().to_string(), |n| n.to_string_lossy().into());
    let mut spans = vec![Span::styled(format!(" sweep {name} "), theme.title())];
    match &view.summary {
        Some(s) => {
            spans.push(Span::styled(format!("{} points: ", s.points.len()), theme.text()));
            for (state, style) in [
                ("finished", theme.ok()),
                ("running", theme.accent()),
                ("unfinished", theme.warning()),
                ("pending", theme.dim()),
            ] {
                spans.push(Span::styled(format!("{} {state}  ", s.count(state)), style));
            }
            if view.running_here {
                spans.push(Span::styled("running here  ", theme.accent()));
            }
            if let Some(job) = s.slurm_jobs.last() {
                spans.push(Span::styled(format!("slurm job {job}"), theme.dim()));
            }
        }
        None => spans.push(Span::styled("reading…", theme.dim())),
    }
    Line::from(spans).render(area, buf);
}

fn status_line(view: &SweepView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    buf.set_style(area, theme.status_bar());
    let (text, style) = match (&view.read_error, &view.notice) {
        (Some(e), _) => (format!(" cannot read the sweep: {e}"), theme.status_bar().patch(theme.error())),
        (None, Some(n)) => {
            let style = notice_style(theme, n.level);
            (format!(" {}", n.text), style)
        }
        (None, None) => {
            (" Enter open · Tab plot/list · m metric · a parameter · ? help · q quit".to_string(), theme.status_bar())
        }
    };
    Line::styled(text, style).render(area, buf);
}
