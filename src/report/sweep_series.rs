//! One metric of a sweep against one grid parameter: a mark per point that has numbers, the
//! mean per parameter value, and one series per combination of the other parameters, so a
//! two-axis grid reads as a family of curves rather than a cloud. The sweep view and the sweep
//! figures draw the same [`SweepPlot`].

use std::collections::BTreeMap;

use super::sweep_summary::{MetricDef, SweepSummary, METRICS};

/// How parameter values become positions on the x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Positive numbers spanning a factor of 20 or more (learning rates, counts): log10.
    Log10,
    /// Values that are not all numbers: evenly spaced, in the order given.
    Categorical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    /// Index into the summary's points.
    pub point: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The other parameters' values (`key=value ...`), empty with a single axis.
    pub label: String,
    pub marks: Vec<Mark>,
    /// Mean over seeds at each x, by x.
    pub mean: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlot {
    pub metric: MetricDef,
    /// The parameter on the x axis (`seed` for a sweep of seeds alone).
    pub axis: String,
    pub scale: Scale,
    /// Each parameter value at its position, in the order given.
    pub ticks: Vec<(f64, String)>,
    pub series: Vec<Series>,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
}

/// The parameters one can plot against: the grid's axes, or `seed` when there are none.
pub fn axes(summary: &SweepSummary) -> Vec<String> {
    if summary.axes.is_empty() {
        vec!["seed".to_string()]
    } else {
        summary.axes.iter().map(|a| a.key.clone()).collect()
    }
}

/// `METRICS[metric]` against `axes(summary)[axis]` (both taken modulo their counts).
pub fn plot(summary: &SweepSummary, metric: usize, axis: usize) -> SweepPlot {
    let metric = METRICS[metric % METRICS.len()];
    let names = axes(summary);
    let key = names[axis % names.len()].clone();
    let values: Vec<String> = match summary.axes.iter().find(|a| a.key == key) {
        Some(a) => a.values.clone(),
        None => {
            let mut seeds: Vec<u64> = summary.points.iter().map(|p| p.seed).collect();
            seeds.sort_unstable();
            seeds.dedup();
            seeds.iter().map(u64::to_string).collect()
        }
    };
    let scale = scale_of(&values);
    let position = |i: usize, v: &str| match scale {
        Scale::Categorical => i as f64,
        Scale::Linear => v.parse().unwrap_or(i as f64),
        Scale::Log10 => v.parse::<f64>().map_or(i as f64, f64::log10),
    };
    let ticks: Vec<(f64, String)> = values.iter().enumerate().map(|(i, v)| (position(i, v), v.clone())).collect();
    let x_of: BTreeMap<&str, f64> = ticks.iter().map(|(x, v)| (v.as_str(), *x)).collect();

    let mut series: Vec<Series> = Vec::new();
    for (i, p) in summary.points.iter().enumerate() {
        let value =
            if summary.axes.is_empty() { p.seed.to_string() } else { p.params.get(&key).cloned().unwrap_or_default() };
        let label: Vec<String> = p.params.iter().filter(|(k, _)| **k != key).map(|(k, v)| format!("{k}={v}")).collect();
        let label = label.join(" ");
        let at = match series.iter().position(|s| s.label == label) {
            Some(at) => at,
            None => {
                series.push(Series { label, marks: Vec::new(), mean: Vec::new() });
                series.len() - 1
            }
        };
        let (Some(&x), Some(m)) = (x_of.get(value.as_str()), &p.metrics) else { continue };
        let y = (metric.value)(m);
        if y.is_finite() {
            series[at].marks.push(Mark { x, y, point: i });
        }
    }
    for s in &mut series {
        let mut by_x: BTreeMap<u64, (f64, f64, usize)> = BTreeMap::new();
        for m in &s.marks {
            // Positions are finite; their bit patterns order positive and negative alike once
            // mapped through total ordering, and equal values share a key.
            let e = by_x.entry(total_key(m.x)).or_insert((m.x, 0.0, 0));
            e.1 += m.y;
            e.2 += 1;
        }
        s.mean = by_x.values().map(|&(x, sum, n)| (x, sum / n as f64)).collect();
    }
    let xs = ticks.iter().map(|t| t.0);
    let x_range = padded(xs.clone().fold(f64::INFINITY, f64::min), xs.fold(f64::NEG_INFINITY, f64::max), 0.06);
    let ys = series.iter().flat_map(|s| s.marks.iter().map(|m| m.y));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    let y_range = if metric.unit_range {
        // Scores and accuracies keep their 0..1 frame so two sweeps read alike; ARI can dip below.
        (if lo.is_finite() { lo.min(0.0) } else { 0.0 }, if hi.is_finite() { hi.max(1.0) } else { 1.0 })
    } else {
        padded(lo, hi, 0.06)
    };
    SweepPlot { metric, axis: key, scale, ticks, series, x_range, y_range }
}

fn scale_of(values: &[String]) -> Scale {
    let nums: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite())).collect();
    match nums {
        None => Scale::Categorical,
        Some(n) => {
            let (lo, hi) = n.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            if lo > 0.0 && hi / lo >= 20.0 {
                Scale::Log10
            } else {
                Scale::Linear
            }
        }
    }
}

/// A key that sorts like the float it came from.
fn total_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// `lo..hi` widened by `frac` of its span on each side, or by 0.5 when it is a point, so a
/// chart never gets an empty range.
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - frac * span, hi + frac * span)
}
