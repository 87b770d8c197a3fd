//! Paper figures of a saved session: score curves over training, and every layer's 2-D scatter
//! at one checkpoint; each as PNG (slides, quick looks) and SVG (print).
//!
//! Text is drawn with an embedded DejaVu Sans through ab_glyph, so rendering needs no system
//! fonts, fontconfig or freetype.
//!
//! Long because the two figures share one drawing vocabulary (font, palette, axes, legend) that
//! would otherwise be passed between files for no gain.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use crate::analysis::{LayerAnalysis, LayerScores};
use crate::record::Snapshot;
use crate::session::Session;

/// The default theme's task palette (the TUI theme takes it from here): Okabe-Ito's hues, then
/// Paul Tol's muted wine, olive and indigo ahead of the faint-on-white yellow, then teal and
/// black. Colour-blind safe as far as 12 hues can be; more tasks than this cycle.
pub const TASK_PALETTE: [(u8, u8, u8); 12] = [
    (0x00, 0x72, 0xB2),
    (0xE6, 0x9F, 0x00),
    (0x00, 0x9E, 0x73),
    (0xD5, 0x5E, 0x00), // blue orange green vermillion
    (0xCC, 0x79, 0xA7),
    (0x56, 0xB4, 0xE9),
    (0x88, 0x22, 0x55),
    (0x99, 0x99, 0x33), // purple sky-blue wine olive
    (0x33, 0x22, 0x88),
    (0xF0, 0xE4, 0x42),
    (0x44, 0xAA, 0x99),
    (0x00, 0x00, 0x00), // indigo yellow teal black
];

pub(super) fn task_colour(task: usize) -> RGBColor {
    let (r, g, b) = TASK_PALETTE[task % TASK_PALETTE.len()];
    RGBColor(r, g, b)
}

pub const SCORES_SIZE: (u32, u32) = (2000, 1000);
pub(super) const PANEL: (u32, u32) = (620, 560);
const FONT: FontFamily<'static> = FontFamily::SansSerif;
static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MARKER: RGBColor = RGBColor(0x55, 0x55, 0x55);

pub(super) type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Writes `scores.{png,svg}` (all checkpoints, `checkpoint` marked) and `scatter.{png,svg}`
/// (every layer at `checkpoint`, an index into `session.snapshots`) into `out_dir`, creating it.
/// Returns the paths written.
pub fn render_figures(session: &Session, checkpoint: usize, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let count = session.snapshots.len();
    let Some(snap) = session.snapshots.get(checkpoint) else {
        let reason = match count {
            0 => "no checkpoints saved yet, nothing to plot".to_string(),
            n => format!("no checkpoint #{checkpoint} to plot (the session has {n}, #0 to #{})", n - 1),
        };
        return Err(ReportError::NotInSession { session: session.dir.clone(), what: reason });
    };
    fs::create_dir_all(out_dir).map_err(|e| ReportError::write(out_dir, e))?;
    register_embedded_font()?;

    let scatter = Scatter::new(session, snap);
    let mut written = save(&Scores::new(session, snap.step), SCORES_SIZE, out_dir, "scores")?;
    written.extend(save(&scatter, scatter.size, out_dir, "scatter")?);
    Ok(written)
}

pub(super) fn register_embedded_font() -> Result<(), ReportError> {
    // plotters keeps one global font table; registering twice is harmless but wasteful.
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FONT.as_str(), FontStyle::Normal, FONT_BYTES).is_ok()) {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}

/// A figure drawn the same way on any backend, so the PNG and the SVG cannot drift apart.
pub(super) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB>;
}

pub(super) fn save(
    figure: &impl Figure,
    size: (u32, u32),
    out_dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, ReportError> {
    let (png, svg) = (out_dir.join(format!("{stem}.png")), out_dir.join(format!("{stem}.svg")));
    let failed =
        |path: &Path, e: &dyn std::fmt::Display| ReportError::Draw { file: path.to_path_buf(), reason: e.to_string() };
    // Created here first: the backends report a file they cannot create as a debug dump of
    // nested errors, which names the OS error twice.
    for path in [&png, &svg] {
        fs::File::create(path).map_err(|e| ReportError::write(path, e))?;
    }
    // Each backend borrows its path until dropped, hence the blocks.
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        figure.draw(&root).and_then(|()| root.present()).map_err(|e| failed(&png, &e))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        figure.draw(&root).and_then(|()| root.present()).map_err(|e| failed(&svg, &e))?;
    }
    Ok(vec![png, svg])
}

pub(super) fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

/// One panel of the scores figure: a score of every layer over training.
struct Metric {
    title: &'static str,
    /// ARI and AMI dip below 0 for worse-than-chance clusterings; F1 and accuracy cannot.
    floor: f64,
    value: fn(&LayerScores) -> f64,
}

/// Grid order: seen on the top row, unseen below; the top row's fourth cell holds the legend.
const METRICS: [Metric; 7] = [
    Metric { title: "ARI · seen instructions", floor: -0.1, value: |s| s.seen.ari },
    Metric { title: "AMI · seen instructions", floor: -0.1, value: |s| s.seen.ami },
    Metric { title: "F1 · seen instructions", floor: 0.0, value: |s| s.seen.f1 },
    Metric { title: "ARI · unseen instructions", floor: -0.1, value: |s| s.unseen.ari },
    Metric { title: "AMI · unseen instructions", floor: -0.1, value: |s| s.unseen.ami },
    Metric { title: "F1 · unseen instructions", floor: 0.0, value: |s| s.unseen.f1 },
    Metric { title: "task-centroid acc. · unseen", floor: 0.0, value: |s| s.unseen_centroid_accuracy },
];

struct Scores<'a> {
    snapshots: &'a [Snapshot],
    layers: usize,
    marked_step: usize,
    x_range: (f64, f64),
    /// Steps where one phase of the run ends and the next begins.
    boundaries: Vec<usize>,
}

impl<'a> Scores<'a> {
    fn new(session: &'a Session, marked_step: usize) -> Self {
        let snapshots = &session.snapshots[..];
        let layers = snapshots.iter().map(|s| s.analysis.layers.len()).max().unwrap_or(0);
        let steps = snapshots.iter().map(|s| s.step as f64);
        let lo = steps.clone().fold(f64::INFINITY, f64::min).min(marked_step as f64);
        let hi = steps.fold(f64::NEG_INFINITY, f64::max).max(marked_step as f64);
        let boundaries = crate::record::phase_boundaries(&session.manifest.phases);
        Scores { snapshots, layers, marked_step, x_range: padded(lo, hi, 0.02), boundaries }
    }

    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, metric: &Metric) -> Drawn<DB> {
        // A layer that could not be analysed at a checkpoint has no score there (its zeros would
        // read as a collapse), so its line breaks.
        let score = |s: &Snapshot, l: usize| match s.layer(l) {
            Some(a) if a.error.is_none() => Some((s.step as f64, (metric.value)(&a.scores))),
            _ => None,
        };
        let curves: Vec<Vec<_>> =
            (0..self.layers).map(|l| self.snapshots.iter().map(|s| score(s, l)).collect()).collect();
        let lowest = curves.iter().flatten().flatten().map(|p| p.1).fold(metric.floor, f64::min);
        let range = (self.x_range, (lowest, 1.02));
        let ticks: [&dyn Fn(&f64) -> String; 2] = [&|v| format!("{v:.0}"), &|v| format!("{v:.1}")];
        let mut chart = axes(area, metric.title, range, ["training step", ""], ticks)?;
        let marker = self.marked_step as f64;
        let marker = DashedLineSeries::new([(marker, lowest), (marker, 1.02)], 10, 7, MARKER.stroke_width(2));
        chart.draw_series(marker)?;
        for &b in &self.boundaries {
            let b = b as f64;
            chart.draw_series(DashedLineSeries::new(
                [(b, lowest), (b, 1.02)],
                4,
                4,
                BLACK.mix(0.45).stroke_width(1),
            ))?;
        }
        for (layer, curve) in curves.iter().enumerate() {
            let colour = layer_colour(layer, self.layers);
            for run in curve.split(Option::is_none).filter(|r| !r.is_empty()) {
                let run = run.iter().flatten().copied();
                chart.draw_series(LineSeries::new(run.clone(), colour.stroke_width(3)))?;
                chart.draw_series(run.map(|p| Circle::new(p, 4, colour.filled())))?;
            }
        }
        Ok(())
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (_, h) = area.dim_in_pixel();
        let rows = self.layers as i32 + 1;
        let row = ((h as i32 - 80) / rows.max(1)).clamp(14, 44);
        let style = text((row as u32 * 6 / 10).clamp(12, 26)).pos(Pos::new(HPos::Left, VPos::Center));
        let left = 40;
        let mid = |r: i32| 60 + r * row;
        area.draw(&Text::new("hidden state of", (left, 10), text(26)))?;
        for layer in 0..self.layers {
            let y = mid(layer as i32);
            let colour = layer_colour(layer, self.layers);
            area.draw(&PathElement::new([(left, y), (left + 50, y)], colour.stroke_width(4)))?;
            area.draw(&Circle::new((left + 25, y), 5, colour.filled()))?;
            area.draw(&Text::new(layer_name(layer), (left + 64, y), style.clone()))?;
        }
        let y = mid(self.layers as i32);
        area.draw(&DashedPathElement::new([(left, y), (left + 50, y)], 10, 7, MARKER.stroke_width(2)))?;
        let label = format!("step {} (scatter)", self.marked_step);
        area.draw(&Text::new(label, (left + 64, y), style))
    }
}

impl Figure for Scores<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        let cells = root.margin(10, 10, 10, 20).split_evenly((2, 4));
        let mut metrics = METRICS.iter();
        for (i, cell) in cells.iter().enumerate() {
            if i == 3 {
                self.draw_legend(cell)?;
            } else if let Some(metric) = metrics.next() {
                self.draw_panel(cell, metric)?;
            }
        }
        Ok(())
    }
}

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The one look of every panel: light major grid only, no minor lines, dark text. An empty
/// `desc` leaves that axis unlabelled.
pub(super) fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    (x, y): ((f64, f64), (f64, f64)),
    desc: [&str; 2],
    ticks: [&dyn Fn(&f64) -> String; 2],
) -> Result<Chart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, text(28))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(if desc[1].is_empty() { 64 } else { 72 })
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0).bold_line_style(BLACK.mix(0.1)).axis_style(INK).label_style(text(21));
    mesh.x_labels(5).y_labels(6).x_label_formatter(ticks[0]).y_label_formatter(ticks[1]);
    mesh.axis_desc_style(text(24)).x_desc(desc[0]).y_desc(desc[1]).draw()?;
    Ok(chart)
}

/// The legend of a chart's labelled series, in its lower right corner over a pale ground.
pub(super) fn legend_lower_right<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>) -> Drawn<DB> {
    chart
        .configure_series_labels()
        .label_font(text(20))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
}

pub(super) fn layer_name(layer: usize) -> String {
    if layer == 0 {
        "layer 0 (embeddings)".to_string()
    } else {
        format!("layer {layer}")
    }
}

/// Depth as a sequential colour (viridis, cut before its yellow end, which vanishes on white):
/// the figure's point is that deeper layers cluster better, so the order should be visible.
fn layer_colour(layer: usize, layers: usize) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if layers > 1 { 0.85 * layer as f64 / (layers - 1) as f64 } else { 0.0 };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// `lo..hi` widened by `frac` of its span on each side, or by 1 when it is (nearly) a point, so
/// a chart never gets an empty range.
pub(super) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-9 * lo.abs().max(hi.abs()).max(1.0) {
        return (lo - 1.0, hi + 1.0);
    }
    (lo - frac * span, hi + frac * span)
}

struct Scatter<'a> {
    snap: &'a Snapshot,
    seen_tasks: Vec<usize>,
    unseen_tasks: Vec<usize>,
    task_names: &'a [String],
    grid: (usize, usize),
    size: (u32, u32),
}

pub(super) const LEGEND_ROW: u32 = 44;
pub(super) const LEGEND_ENTRY: u32 = 300;

impl<'a> Scatter<'a> {
    fn new(session: &'a Session, snap: &'a Snapshot) -> Self {
        // The seen points come first in `points`, but filtering does not depend on that.
        let tasks = |seen: bool| session.points.iter().filter(|p| p.seen == seen).map(|p| p.task).collect();
        let n = snap.analysis.layers.len().max(1);
        let rows = n.div_ceil(4);
        let cols = n.div_ceil(rows);
        let width = (cols as u32 * PANEL.0).max(2 * LEGEND_ENTRY);
        let entries = session.manifest.task_names.len() + 3;
        let per_row = (width / LEGEND_ENTRY).max(1) as usize;
        let legend_rows = entries.div_ceil(per_row);
        let height = rows as u32 * PANEL.1 + legend_rows as u32 * LEGEND_ROW + 30;
        let (seen_tasks, unseen_tasks, task_names) = (tasks(true), tasks(false), &session.manifest.task_names);
        Scatter { snap, seen_tasks, unseen_tasks, task_names, grid: (rows, cols), size: (width, height) }
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (w, _) = area.dim_in_pixel();
        let per_row = (w / LEGEND_ENTRY).max(1) as usize;
        let left = (w as i32 - (per_row as i32) * LEGEND_ENTRY as i32).max(0) / 2;
        let style = text(24).pos(Pos::new(HPos::Left, VPos::Center));
        let at = |i: usize| {
            let (col, row) = ((i % per_row) as i32, (i / per_row) as i32);
            (left + col * LEGEND_ENTRY as i32 + 20, 20 + row * LEGEND_ROW as i32)
        };
        let tasks = self.task_names.len();
        let labels = std::iter::once(format!("step {}", self.snap.step))
            .chain(self.task_names.iter().map(|n| shorten(n, 18)))
            .chain(["seen instruction".to_string(), "unseen instruction".to_string()]);
        for (i, label) in labels.enumerate() {
            let (x, y) = at(i);
            // Glyphs sit a little low of VPos::Center, so markers are raised to meet them.
            let c = (x + 10, y - 3);
            match i {
                0 => {}
                i if i <= tasks => area.draw(&Circle::new(c, 9, task_colour(i - 1).filled()))?,
                i if i == tasks + 1 => area.draw(&Circle::new(c, 6, MARKER.mix(0.6).filled()))?,
                _ => area.draw(&Cross::new(c, 7, MARKER.stroke_width(2)))?,
            }
            area.draw(&Text::new(label, (x + 28, y), style.clone()))?;
        }
        Ok(())
    }
}

impl Figure for Scatter<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (cells, legend) = panel_grid(root, self.grid)?;
        for (layer, cell) in self.snap.analysis.layers.iter().zip(&cells) {
            match &layer.error {
                Some(msg) => draw_error_panel(cell, layer.layer, msg)?,
                None => {
                    let tasks = (&self.seen_tasks[..], &self.unseen_tasks[..]);
                    scatter_panel(cell, &layer_name(layer.layer), layer, tasks)?
                }
            }
        }
        self.draw_legend(&legend)
    }
}

/// `root` filled white and cut into `rows x cols` scatter panels (each with its margin) above
/// the area left for the legend.
pub(super) type Grid<DB> = (Vec<DrawingArea<DB, Shift>>, DrawingArea<DB, Shift>);
pub(super) fn panel_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (rows, cols): (usize, usize),
) -> Result<Grid<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (panels, legend) = root.split_vertically(rows as u32 * PANEL.1);
    let breaks = |n: usize, step: u32| (1..n).map(|i| i as u32 * step).collect::<Vec<_>>();
    let cells = panels.split_by_breakpoints(breaks(cols, PANEL.0), breaks(rows, PANEL.1));
    Ok((cells.iter().map(|c| c.margin(6, 6, 6, 10)).collect(), legend))
}

/// One layer's points in PCA space, seen as dots and unseen as crosses in their task's colour,
/// with `caption` above; the compare figures draw each session's panel with it.
pub(super) fn scatter_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    layer: &LayerAnalysis,
    (seen_tasks, unseen_tasks): (&[usize], &[usize]),
) -> Drawn<DB> {
    let bounds = |axis: usize| {
        let (lo, hi) =
            layer.seen_proj.iter().chain(&layer.unseen_proj).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(f64::from(p[axis])), hi.max(f64::from(p[axis])))
            });
        padded(lo, hi, 0.05)
    };
    let ((x0, x1), (y0, y1)) = (bounds(0), bounds(1));
    let [v1, v2] = layer.pca.explained_variance_ratio;
    let (x_desc, y_desc) = (format!("PC1 ({})", percent(v1)), format!("PC2 ({})", percent(v2)));
    let ticks: [&dyn Fn(&f64) -> String; 2] = [&|v| tick_label(*v, x1 - x0), &|v| tick_label(*v, y1 - y0)];
    let mut chart = axes(area, caption, ((x0, x1), (y0, y1)), [&x_desc, &y_desc], ticks)?;
    let seen = tagged(&layer.seen_proj, seen_tasks);
    chart.draw_series(seen.map(|(p, t)| Circle::new(p, 4, task_colour(t).mix(0.6).filled())))?;
    let unseen = tagged(&layer.unseen_proj, unseen_tasks);
    chart.draw_series(unseen.map(|(p, t)| Cross::new(p, 5, task_colour(t).stroke_width(2))))?;
    Ok(())
}

pub(super) fn draw_error_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layer: usize,
    msg: &str,
) -> Drawn<DB> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new([(0, 0), (w as i32 - 1, h as i32 - 1)], BLACK.mix(0.3)))?;
    let title = text(28).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(layer_name(layer), (w as i32 / 2, 20), title))?;
    area.draw(&Text::new("not analysed:", (24, 90), text(22)))?;
    let width = ((w as usize).saturating_sub(48) / 12).max(10);
    for (i, line) in wrap(msg, width).iter().take(12).enumerate() {
        area.draw(&Text::new(line.clone(), (24, 126 + 30 * i as i32), text(22)))?;
    }
    Ok(())
}

/// A tick of an axis spanning `span`, with just enough decimals to tell ticks apart.
fn tick_label(v: f64, span: f64) -> String {
    let decimals = if span > 0.0 { (1.0 - span.log10().floor()).clamp(0.0, 6.0) as usize } else { 1 };
    // Rounding a tiny negative gives "-0.0".
    let v = if v.abs() < 0.5 * 10f64.powi(-(decimals as i32)) { 0.0 } else { v };
    format!("{v:.decimals$}")
}

fn percent(ratio: f64) -> String {
    let p = 100.0 * ratio;
    if p < 9.95 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Each point with its task.
fn tagged<'p>(proj: &'p [[f32; 2]], tasks: &'p [usize]) -> impl Iterator<Item = ((f64, f64), usize)> + 'p {
    // Points arrive grouped by task; drawing them in a scrambled order keeps the last task from
    // hiding the others where clusters overlap.
    scrambled(proj.len()).filter_map(|i| {
        let [x, y] = proj.get(i)?;
        Some(((f64::from(*x), f64::from(*y)), *tasks.get(i)?))
    })
}

/// 0..n in a fixed pseudo-random order (a multiplicative hash; deterministic figures).
fn scrambled(n: usize) -> impl Iterator<Item = usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29));
    order.into_iter()
}

pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// Greedy word wrap at `width` characters; a word longer than that gets its own line.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}
