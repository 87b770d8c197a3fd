//! Figures of a sweep (`sweep show DIR --figures OUT`): each metric against each grid
//! parameter, a mark per seed and the mean line, one colour per combination of the other
//! parameters; PNG and SVG, drawn with the session figures' font, axes and palette.

use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figures::{
    axes, legend_lower_right, register_embedded_font, save, shorten, task_colour, text, Drawn, Figure,
};
use super::sweep_series::{self, Scale, SweepPlot};
use super::sweep_summary::{SweepSummary, METRICS};
use super::ReportError;

const SIZE: (u32, u32) = (1400, 900);

/// Writes `METRIC_vs_PARAM.{png,svg}` for every metric and parameter into `out_dir` (created);
/// returns the paths written.
pub fn render_sweep_figures(summary: &SweepSummary, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(out_dir).map_err(|e| ReportError::write(out_dir, e))?;
    register_embedded_font()?;
    let mut written = Vec::new();
    for axis in 0..sweep_series::axes(summary).len() {
        for metric in 0..METRICS.len() {
            let plot = sweep_series::plot(summary, metric, axis);
            let stem = format!("{}_vs_{}", plot.metric.key, file_word(&plot.axis));
            written.extend(save(&SweepFigure { plot: &plot, points: summary.points.len() }, SIZE, out_dir, &stem)?);
        }
    }
    Ok(written)
}

/// A grid key as part of a file name: `train.lr` stays, anything unusual becomes `_`.
fn file_word(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

struct SweepFigure<'a> {
    plot: &'a SweepPlot,
    points: usize,
}

impl Figure for SweepFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        let p = self.plot;
        let drawn: usize = p.series.iter().map(|s| s.marks.len()).sum();
        let caption = format!("{} vs {} ({drawn} of {} points)", p.metric.label, p.axis, self.points);
        let x_desc = match p.scale {
            Scale::Log10 => format!("{} (log scale)", p.axis),
            _ => p.axis.clone(),
        };
        // The x labels are the parameter values themselves, drawn below; the mesh's own would
        // sit at round numbers that are not values of the grid.
        let ticks: [&dyn Fn(&f64) -> String; 2] = [&|_| String::new(), &|v| format!("{v:.2}")];
        let mut chart = axes(root, &caption, (p.x_range, p.y_range), [&x_desc, p.metric.label], ticks)?;
        let below = text(21).pos(Pos::new(HPos::Center, VPos::Top));
        for (x, label) in &p.ticks {
            let (px, py) = chart.backend_coord(&(*x, p.y_range.0));
            root.draw(&PathElement::new([(px, py), (px, py + 6)], BLACK))?;
            root.draw(&Text::new(shorten(label, 14), (px, py + 10), below.clone()))?;
        }
        let several = p.series.len() > 1;
        for (i, s) in p.series.iter().enumerate() {
            let colour = task_colour(i);
            let marks = s.marks.iter().map(|m| Circle::new((m.x, m.y), 7, colour.mix(0.55).filled()));
            let drawn = chart.draw_series(marks)?;
            if !several {
                drawn.label("one seed").legend(move |(x, y)| Circle::new((x + 10, y), 6, colour.mix(0.55).filled()));
            }
            let mean = chart.draw_series(LineSeries::new(s.mean.iter().copied(), colour.stroke_width(3)))?;
            let name = if several { shorten(&s.label, 40) } else { "mean over seeds".to_string() };
            mean.label(name).legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3)));
            chart.draw_series(s.mean.iter().map(|&(x, y)| Cross::new((x, y), 6, colour.stroke_width(2))))?;
        }
        legend_lower_right(&mut chart)
    }
}
