//! Figures of a comparison (`compare ... --figures OUT`), PNG and SVG through the session figures'
//! font, axes and palette: `curves` overlays every session on each curve (loss, accuracies, and
//! the clustering scores of the deepest layer all sessions have), and `scatter` puts that layer
//! of each session's last checkpoint side by side. A session's colour is the palette's colour of
//! its position, and its marker shape changes too, so a grey print still tells them apart.

use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::compare::{ComparedRun, Comparison, Curve, CurveDef, CURVES};
use super::figures::{
    axes, draw_error_panel, padded, panel_grid, register_embedded_font, save, scatter_panel, shorten, task_colour,
    text, Chart, Drawn, Figure, LEGEND_ENTRY, LEGEND_ROW, PANEL,
};
use super::ReportError;

/// One curve's panel.
const CELL: (u32, u32) = (640, 470);

/// Writes `curves.{png,svg}` and `scatter.{png,svg}` into `out_dir` (created); returns the paths.
pub fn render_compare_figures(comparison: &Comparison, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(out_dir).map_err(|e| ReportError::write(out_dir, e))?;
    register_embedded_font()?;
    let layer = comparison.common_layer();
    let curves = CurvesFigure { runs: &comparison.runs, layer };
    let mut written = save(&curves, curves.size(), out_dir, "curves")?;
    let scatter = ScatterFigure::new(&comparison.runs, layer);
    written.extend(save(&scatter, scatter.size, out_dir, "scatter")?);
    Ok(written)
}

/// The session's label with its experiment, as legends and captions name it.
fn name(run: &ComparedRun) -> String {
    format!("{} ({})", shorten(&run.label, 28), shorten(&run.experiment, 20))
}

/// Session `i`'s marks: dots, triangles, crosses, then the same again (the colours differ).
fn marks<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, i: usize, points: &[(f64, f64)]) -> Drawn<DB> {
    let colour = task_colour(i);
    let at = points.iter().copied();
    match i % 3 {
        0 => chart.draw_series(at.map(|p| Circle::new(p, 6, colour.filled())))?,
        1 => chart.draw_series(at.map(|p| TriangleMarker::new(p, 7, colour.filled())))?,
        _ => chart.draw_series(at.map(|p| Cross::new(p, 6, colour.stroke_width(3))))?,
    };
    Ok(())
}

struct CurvesFigure<'a> {
    runs: &'a [ComparedRun],
    layer: usize,
}

impl CurvesFigure<'_> {
    const COLS: u32 = 3;

    fn legend_height(&self) -> u32 {
        let per_row = (Self::COLS * CELL.0 / LEGEND_ENTRY / 2).max(1) as usize;
        self.runs.len().div_ceil(per_row) as u32 * LEGEND_ROW + 20
    }

    fn size(&self) -> (u32, u32) {
        let rows = (CURVES.len() as u32).div_ceil(Self::COLS);
        (Self::COLS * CELL.0, rows * CELL.1 + self.legend_height())
    }

    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, def: &CurveDef) -> Drawn<DB> {
        let log = def.curve == Curve::Loss;
        let curves: Vec<Vec<(f64, f64)>> = self.runs.iter().map(|r| r.plotted(def, self.layer)).collect();
        let x_max = self.runs.iter().map(|r| r.session.manifest.total_steps).max().unwrap_or(1).max(1) as f64;
        let ys = curves.iter().flatten().map(|p| p.1);
        let y = if log {
            let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            padded(lo, hi, 0.05)
        } else {
            // ARI and AMI dip below 0 for worse-than-chance clusterings; accuracy and F1 cannot.
            (ys.fold(0.0f64, f64::min).min(0.0) - 0.02, 1.02)
        };
        let caption = match def.per_layer() {
            true => format!("{} · layer {}", def.label, self.layer),
            false => def.label.to_string(),
        };
        let y_tick = |v: &f64| if log { format!("{:.2}", 10f64.powf(*v)) } else { format!("{v:.1}") };
        let ticks: [&dyn Fn(&f64) -> String; 2] = [&|v| format!("{v:.0}"), &y_tick];
        let y_desc = if log { "loss (log scale)" } else { "" };
        let mut chart = axes(area, &caption, (padded(0.0, x_max, 0.02), y), ["training step", y_desc], ticks)?;
        for (i, curve) in curves.iter().enumerate() {
            chart.draw_series(LineSeries::new(curve.iter().copied(), task_colour(i).stroke_width(3)))?;
            // The loss is logged every step: marks would hide the line.
            if !log {
                marks(&mut chart, i, curve)?;
            }
        }
        Ok(())
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (w, _) = area.dim_in_pixel();
        let entry = 2 * LEGEND_ENTRY;
        let per_row = (w / entry).max(1) as usize;
        let style = text(24).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, run) in self.runs.iter().enumerate() {
            let (col, row) = ((i % per_row) as i32, (i / per_row) as i32);
            let (x, y) = (30 + col * entry as i32, 24 + row * LEGEND_ROW as i32);
            let colour = task_colour(i);
            area.draw(&PathElement::new([(x, y), (x + 50, y)], colour.stroke_width(4)))?;
            match i % 3 {
                0 => area.draw(&Circle::new((x + 25, y), 6, colour.filled()))?,
                1 => area.draw(&TriangleMarker::new((x + 25, y), 7, colour.filled()))?,
                _ => area.draw(&Cross::new((x + 25, y), 6, colour.stroke_width(3)))?,
            }
            area.draw(&Text::new(name(run), (x + 64, y), style.clone()))?;
        }
        Ok(())
    }
}

impl Figure for CurvesFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        let (legend, grid) = root.split_vertically(self.legend_height());
        self.draw_legend(&legend)?;
        let rows = (CURVES.len() as u32).div_ceil(Self::COLS) as usize;
        let cells = grid.margin(0, 10, 10, 20).split_evenly((rows, Self::COLS as usize));
        for (def, cell) in CURVES.iter().zip(&cells) {
            self.draw_panel(cell, def)?;
        }
        Ok(())
    }
}

struct ScatterFigure<'a> {
    runs: &'a [ComparedRun],
    layer: usize,
    grid: (usize, usize),
    size: (u32, u32),
}

impl<'a> ScatterFigure<'a> {
    fn new(runs: &'a [ComparedRun], layer: usize) -> Self {
        let n = runs.len().max(1);
        let cols = n.min(3);
        let rows = n.div_ceil(cols);
        let width = cols as u32 * PANEL.0;
        let legend_rows: usize = runs.iter().map(|r| Self::legend_rows(r, width)).sum::<usize>() + 1;
        let height = rows as u32 * PANEL.1 + legend_rows as u32 * LEGEND_ROW + 30;
        ScatterFigure { runs, layer, grid: (rows, cols), size: (width, height) }
    }

    /// Rows of one session's legend line (its name, then its tasks) in a figure `width` wide.
    fn legend_rows(run: &ComparedRun, width: u32) -> usize {
        let per_row = (width / LEGEND_ENTRY).max(1) as usize;
        (run.session.manifest.task_names.len() + 1).div_ceil(per_row)
    }

    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, run: &ComparedRun) -> Drawn<DB> {
        let layer = run.shown_layer(self.layer);
        let Some(snap) = run.last() else {
            let style = text(26).pos(Pos::new(HPos::Center, VPos::Center));
            let (w, h) = area.dim_in_pixel();
            let msg = format!("{}: no checkpoints yet", shorten(&run.label, 28));
            return area.draw(&Text::new(msg, (w as i32 / 2, h as i32 / 2), style));
        };
        match snap.layer(layer) {
            Some(l) if l.error.is_none() => {
                let caption = format!("{} · step {} · layer {layer}", shorten(&run.label, 24), snap.step);
                scatter_panel(area, &caption, l, (&run.seen_tasks, &run.unseen_tasks))
            }
            Some(l) => draw_error_panel(area, layer, l.error.as_deref().unwrap_or("")),
            None => draw_error_panel(area, layer, "this checkpoint has no analysis of the layer"),
        }
    }

    /// A row per session (more if its tasks do not fit): its name, then its tasks' colours;
    /// then what the two marks mean.
    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (w, _) = area.dim_in_pixel();
        let per_row = (w / LEGEND_ENTRY).max(1) as usize;
        let style = text(22).pos(Pos::new(HPos::Left, VPos::Center));
        let mut row = 0i32;
        let at = |i: usize, row: i32| {
            let (col, r) = ((i % per_row) as i32, (i / per_row) as i32);
            (20 + col * LEGEND_ENTRY as i32, 20 + (row + r) * LEGEND_ROW as i32)
        };
        for run in self.runs {
            let (x, y) = at(0, row);
            area.draw(&Text::new(format!("{}:", shorten(&run.label, 20)), (x, y), style.clone()))?;
            for (t, task) in run.session.manifest.task_names.iter().enumerate() {
                let (x, y) = at(t + 1, row);
                area.draw(&Circle::new((x + 10, y - 3), 9, task_colour(t).filled()))?;
                area.draw(&Text::new(shorten(task, 18), (x + 28, y), style.clone()))?;
            }
            row += Self::legend_rows(run, w) as i32;
        }
        let grey = RGBColor(0x55, 0x55, 0x55);
        let (x, y) = at(0, row);
        area.draw(&Circle::new((x + 10, y - 3), 6, grey.mix(0.6).filled()))?;
        area.draw(&Text::new("seen instruction", (x + 28, y), style.clone()))?;
        let (x, y) = at(1, row);
        area.draw(&Cross::new((x + 10, y - 3), 7, grey.stroke_width(2)))?;
        area.draw(&Text::new("unseen instruction", (x + 28, y), style))
    }
}

impl Figure for ScatterFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (cells, legend) = panel_grid(root, self.grid)?;
        for (run, cell) in self.runs.iter().zip(&cells) {
            self.draw_panel(cell, run)?;
        }
        self.draw_legend(&legend)
    }
}
