//! A study's figure (`report.png` and `.svg`): unseen accuracy and the deepest layer's ARI over
//! training, one colour per arm, each seed a thin line and the mean over seeds a thick one, with
//! each arm's phase boundaries dashed in its colour.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figures::{
    axes, legend_lower_right, register_embedded_font, save, shorten, task_colour, text, Drawn, Figure,
};
use super::study_data::StudyData;
use super::ReportError;
use crate::session::study::REPORT_STEM;
use crate::study::metrics::Point;

const SIZE: (u32, u32) = (2000, 900);

/// Writes `report.png` and `report.svg` into `out_dir`; returns their paths.
pub fn render_study_figure(data: &StudyData, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    register_embedded_font()?;
    save(&StudyFigure::new(data), SIZE, out_dir, REPORT_STEM)
}

/// One arm's lines in one panel.
struct ArmLines {
    name: String,
    seeds: Vec<Vec<(f64, f64)>>,
    mean: Vec<(f64, f64)>,
    /// Steps where one of its phases ends and the next begins, with the next one's name.
    boundaries: Vec<(f64, String)>,
}

struct Panel {
    title: &'static str,
    arms: Vec<ArmLines>,
}

struct StudyFigure {
    caption: String,
    panels: [Panel; 2],
    x_range: (f64, f64),
}

impl StudyFigure {
    fn new(data: &StudyData) -> Self {
        let unseen = |p: &Point| Some(p.unseen_accuracy);
        let ari = |p: &Point| p.ari;
        let panels = [
            Panel { title: "unseen accuracy (against each phase's targets)", arms: lines(data, &unseen) },
            Panel { title: "ARI · deepest layer, seen instructions", arms: lines(data, &ari) },
        ];
        let last = data.runs.iter().flat_map(|r| r.curve.iter().map(|p| p.step)).max().unwrap_or(1).max(1);
        let caption = format!(
            "study {} ({} seeds per arm, size {})",
            data.manifest.study, data.manifest.seeds, data.manifest.size
        );
        StudyFigure { caption, panels, x_range: (0.0, last as f64 * 1.02) }
    }
}

fn lines(data: &StudyData, value: &dyn Fn(&Point) -> Option<f64>) -> Vec<ArmLines> {
    data.manifest
        .arms
        .iter()
        .map(|arm| {
            let runs: Vec<_> = data.runs.iter().filter(|r| r.run.arm == arm.name && !r.curve.is_empty()).collect();
            let seeds: Vec<Vec<(f64, f64)>> = runs
                .iter()
                .map(|r| r.curve.iter().filter_map(|p| Some((p.step as f64, value(p)?))).collect())
                .collect();
            let mut by_step: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
            for p in runs.iter().flat_map(|r| &r.curve) {
                if let Some(v) = value(p) {
                    let e = by_step.entry(p.step).or_insert((0.0, 0));
                    e.0 += v;
                    e.1 += 1;
                }
            }
            let mean = by_step.iter().map(|(&s, &(sum, n))| (s as f64, sum / n as f64)).collect();
            let boundaries = runs
                .first()
                .map(|r| r.phases.iter().skip(1).map(|p| (p.start as f64, p.name.clone())).collect())
                .unwrap_or_default();
            ArmLines { name: arm.name.clone(), seeds, mean, boundaries }
        })
        .collect()
}

impl StudyFigure {
    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, panel: &Panel) -> Drawn<DB> {
        let lowest = panel.arms.iter().flat_map(|a| a.seeds.iter().flatten().map(|p| p.1)).fold(0.0, f64::min);
        let y = (lowest.min(0.0) - 0.02, 1.05);
        let ticks: [&dyn Fn(&f64) -> String; 2] = [&|v| format!("{v:.0}"), &|v| format!("{v:.1}")];
        let mut chart = axes(area, panel.title, (self.x_range, y), ["training step (all phases)", ""], ticks)?;
        let label = text(18).pos(Pos::new(HPos::Left, VPos::Top));
        let mut marked: Vec<(f64, &str)> = Vec::new();
        for (i, arm) in panel.arms.iter().enumerate() {
            let colour = task_colour(i);
            for (step, name) in &arm.boundaries {
                // A boundary several arms share is drawn once, in the first one's colour.
                if marked.contains(&(*step, name.as_str())) {
                    continue;
                }
                marked.push((*step, name.as_str()));
                let dashed = DashedLineSeries::new([(*step, y.0), (*step, y.1)], 10, 7, colour.stroke_width(2));
                chart.draw_series(dashed)?;
                // Just right of the line, below the top, one row per arm so two arms' names never overlap.
                let name = Text::new(shorten(name, 16), (4, 4 + 20 * i as i32), label.clone().color(&colour));
                chart.draw_series(std::iter::once(EmptyElement::at((*step, y.1)) + name))?;
            }
            for seed in &arm.seeds {
                chart.draw_series(LineSeries::new(seed.iter().copied(), colour.mix(0.3).stroke_width(1)))?;
            }
            let n = arm.seeds.len();
            chart
                .draw_series(LineSeries::new(arm.mean.iter().copied(), colour.stroke_width(4)))?
                .label(format!("{} (mean of {n})", shorten(&arm.name, 24)))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(4)));
        }
        legend_lower_right(&mut chart)
    }
}

impl Figure for StudyFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        let root = root.margin(14, 0, 0, 0).titled(&self.caption, text(30))?;
        let cells = root.margin(10, 10, 10, 20).split_evenly((1, 2));
        for (cell, panel) in cells.iter().zip(&self.panels) {
            self.draw_panel(cell, panel)?;
        }
        Ok(())
    }
}
