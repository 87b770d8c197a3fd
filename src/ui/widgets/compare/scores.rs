//! The table of final scores: a row per session at its last checkpoint (experiment, steps, loss,
//! accuracies, and ARI/AMI/F1 of the layer asked for, seen and unseen). Columns that do not fit
//! are left out, the least telling first, so a narrow terminal keeps the scores that compare.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use crate::report::compare::{ComparedRun, Score};
use crate::ui::compare_view::CompareView;
use crate::ui::widgets::parts::{fmt_step, panel, title_span, truncate};

/// One column: its header, and its cell for a session.
struct Column {
    header: &'static str,
    /// Lower is kept longer when the width runs short.
    priority: u8,
    cell: fn(&ComparedRun, usize) -> String,
}

/// A score of the session's shown layer at its last checkpoint.
fn score(run: &ComparedRun, layer: usize, unseen: bool, which: Score) -> String {
    let value = run.last().and_then(|s| s.layer(run.shown_layer(layer))).filter(|l| l.error.is_none()).map(|l| {
        let sc = if unseen { &l.scores.unseen } else { &l.scores.seen };
        which.of(sc)
    });
    value.map_or("–".to_string(), |v| format!("{v:.2}"))
}

fn percent(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{:.0}%", v * 100.0))
}

const COLUMNS: [Column; 14] = [
    Column { header: "session", priority: 0, cell: |r, _| r.label.clone() },
    Column { header: "experiment", priority: 7, cell: |r, _| r.experiment.clone() },
    Column { header: "status", priority: 12, cell: |r, _| r.status().to_string() },
    Column {
        header: "step",
        priority: 1,
        cell: |r, _| {
            let last = r.last().map_or(0, |s| s.step);
            format!("{}/{}", fmt_step(last), fmt_step(r.session.manifest.total_steps))
        },
    },
    Column {
        header: "loss", priority: 6, cell: |r, _| r.last().map_or("–".to_string(), |s| format!("{:.3}", s.loss))
    },
    Column { header: "seen", priority: 2, cell: |r, _| percent(r.last().map(|s| s.seen_accuracy)) },
    Column { header: "unseen", priority: 3, cell: |r, _| percent(r.last().map(|s| s.unseen_accuracy)) },
    Column { header: "L", priority: 13, cell: |r, l| r.shown_layer(l).to_string() },
    Column { header: "ARI", priority: 4, cell: |r, l| score(r, l, false, Score::Ari) },
    Column { header: "AMI", priority: 10, cell: |r, l| score(r, l, false, Score::Ami) },
    Column { header: "F1", priority: 8, cell: |r, l| score(r, l, false, Score::F1) },
    Column { header: "ARI×", priority: 5, cell: |r, l| score(r, l, true, Score::Ari) },
    Column { header: "AMI×", priority: 11, cell: |r, l| score(r, l, true, Score::Ami) },
    Column { header: "F1×", priority: 9, cell: |r, l| score(r, l, true, Score::F1) },
];

/// Widest a name column gets: longer labels and experiment names are cut.
const NAME_W: usize = 20;

pub fn render(view: &CompareView, area: Rect, buf: &mut Buffer) {
    let theme = view.themes.current();
    let title = Line::from(vec![
        title_span(format!("final scores · layer {}", view.layer), theme),
        Span::styled("× unseen instructions ", theme.dim()),
    ]);
    let block = panel(theme, title, false);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    let runs = &view.comparison.runs;
    let cells: Vec<Vec<String>> =
        COLUMNS.iter().map(|c| runs.iter().map(|r| truncate(&(c.cell)(r, view.layer), NAME_W)).collect()).collect();
    let widths: Vec<usize> = COLUMNS
        .iter()
        .zip(&cells)
        .map(|(c, col)| col.iter().map(|s| s.chars().count()).chain([c.header.chars().count()]).max().unwrap_or(1))
        .collect();
    // The front marker's column, then each kept column and the space after it.
    let mut room = usize::from(inner.width).saturating_sub(2);
    let mut by_priority: Vec<usize> = (0..COLUMNS.len()).collect();
    by_priority.sort_by_key(|&i| COLUMNS[i].priority);
    let mut keep = vec![false; COLUMNS.len()];
    for i in by_priority {
        if widths[i] < room {
            room -= widths[i] + 1;
            keep[i] = true;
        }
    }
    let kept: Vec<usize> = (0..COLUMNS.len()).filter(|&i| keep[i]).collect();
    let header = Row::new(std::iter::once(Cell::from(" ")).chain(kept.iter().map(|&i| Cell::from(COLUMNS[i].header))))
        .style(theme.dim());
    let rows = runs.iter().enumerate().map(|(s, _)| {
        let front = if s == view.front { "▸" } else { " " };
        let row = std::iter::once(Cell::from(front)).chain(kept.iter().map(|&i| Cell::from(cells[i][s].clone())));
        let style = if s == view.front { theme.session(s).patch(theme.selected()) } else { theme.text() };
        // The session's colour marks its name, as on the curves and the panels.
        let row: Vec<Cell> = row
            .enumerate()
            .map(|(j, c)| if j == 1 && s != view.front { c.style(theme.session(s)) } else { c })
            .collect();
        Row::new(row).style(style)
    });
    let constraints = std::iter::once(Constraint::Length(1))
        .chain(kept.iter().map(|&i| Constraint::Length(u16::try_from(widths[i]).unwrap_or(u16::MAX))));
    Table::new(rows, constraints).header(header).column_spacing(1).render(inner, buf);
}
