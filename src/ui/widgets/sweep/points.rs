//! The sweep's points as a table: parameters, seed, state (and Slurm's, where known), and the
//! last checkpoint's numbers; the selected row is highlighted and kept in sight.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, HighlightSpacing, Row, StatefulWidget, Table, TableState, Widget};

use crate::report::sweep_summary::PointSummary;
use crate::ui::sweep_view::{SweepFocus, SweepView};
use crate::ui::theme::Theme;
use crate::ui::widgets::parts::{fmt_num, panel, title_span};

pub fn render(view: &SweepView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let block = panel(theme, Line::from(title_span("points", theme)), view.focus == SweepFocus::List);
    let Some(summary) = &view.summary else {
        block.render(area, buf);
        return;
    };
    let slurm = summary.points.iter().any(|p| p.slurm_state.is_some());
    let mut head = vec!["#", "params", "seed", "state"];
    if slurm {
        head.push("slurm");
    }
    head.extend(["step", "seen", "unseen", "ARI"]);
    let rows = summary.points.iter().map(|p| row(p, slurm, theme));
    let mut widths = vec![Constraint::Length(4), Constraint::Fill(1), Constraint::Length(5), Constraint::Length(10)];
    if slurm {
        widths.push(Constraint::Length(10));
    }
    widths.extend([Constraint::Length(6), Constraint::Length(6), Constraint::Length(6), Constraint::Length(6)]);
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(theme.dim()))
        .block(block)
        .row_highlight_style(theme.selected())
        // Seen without colour too (NO_COLOR, the high-contrast theme's reverse aside).
        .highlight_symbol("▸")
        .highlight_spacing(HighlightSpacing::Always);
    // A fresh state each frame: the selection is the view's, the scroll follows from it.
    let mut state = TableState::default().with_selected(Some(view.selected));
    StatefulWidget::render(table, area, buf, &mut state);
}

fn row<'a>(p: &'a PointSummary, slurm: bool, theme: &Theme) -> Row<'a> {
    let state_style = match p.state {
        "finished" => theme.ok(),
        "running" => theme.accent(),
        "unfinished" => theme.warning(),
        _ => theme.dim(),
    };
    let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut cells = vec![
        Cell::from(p.index.to_string()),
        Cell::from(params.join(" ")),
        Cell::from(p.seed.to_string()),
        Cell::from(p.state).style(state_style),
    ];
    if slurm {
        cells.push(Cell::from(p.slurm_state.clone().unwrap_or_else(|| "-".into())));
    }
    let num = |v: Option<f64>| v.map_or("-".to_string(), fmt_num);
    let m = p.metrics.as_ref();
    cells.extend([
        Cell::from(m.map_or("-".to_string(), |m| m.step.to_string())),
        Cell::from(num(m.map(|m| m.seen_accuracy))),
        Cell::from(num(m.map(|m| m.unseen_accuracy))),
        Cell::from(num(m.map(|m| m.final_ari))),
    ]);
    Row::new(cells).style(theme.text())
}
