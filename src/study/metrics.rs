//! What a study measures of each run: from its session (the checkpoints' accuracies and the
//! deepest layer's clustering) and, where the model itself is needed, from its weights (the
//! train room's knowledge consistency and attribution share).

use std::path::Path;

use super::StudyError;
use crate::model::DeviceChoice;
use crate::record::PhaseMark;
use crate::session::study::RunMetrics;
use crate::session::Session;
use crate::train::attribution_share::measure_share;
use crate::train::held_out::HeldOut;
use crate::train::knowledge::measure_consistency;
use crate::train::TrainError;

/// The unseen accuracy `steps_to_unseen_90` waits for.
pub const UNSEEN_THRESHOLD: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The key in `report.json` and `--json`.
    pub key: &'static str,
    /// What it is, in one line (the report lists these).
    pub about: &'static str,
    /// A score or accuracy on 0..1, shown with three decimals; otherwise a step count.
    pub unit: bool,
    /// Whether it runs the model (from the checkpoints' weights) rather than reading the session.
    pub model: bool,
}

pub const METRICS: [MetricDef; 10] = [
    MetricDef {
        key: "steps_to_unseen_90",
        about: "first checkpoint step at which unseen (held-out instruction) answer accuracy >= 0.9; a seed that never gets there is counted as not reached: the mean is over the seeds that did, and how many did is reported beside it",
        unit: false, model: false,
    },
    MetricDef {
        key: "instruction_steps_to_unseen_90",
        about: "the same, counted from the first step of the first phase that trains on instructions (the arms differ in when that is)",
        unit: false, model: false,
    },
    MetricDef {
        key: "final_unseen_accuracy",
        about: "unseen answer accuracy at the last checkpoint, against that phase's targets",
        unit: true, model: false,
    },
    MetricDef { key: "final_ari", about: "ARI of k-means (k = K) against the tasks, deepest layer, seen instructions, last checkpoint", unit: true, model: false },
    MetricDef {
        key: "heldout_accuracy",
        about: "answer accuracy on the held-out instructions at the last checkpoint, against the arm's phase-2 targets",
        unit: true, model: false,
    },
    MetricDef {
        key: "consistency",
        about: "per held-out probe, Pearson r between the softmax over the symbols' logits at the answer position at the phase-1/phase-2 boundary and at the last checkpoint, averaged over probes",
        unit: true, model: true,
    },
    MetricDef { key: "ari_before", about: "final_ari's ARI at the phase-1/phase-2 boundary checkpoint", unit: true, model: false },
    MetricDef { key: "ari_after", about: "final_ari's ARI at the last checkpoint", unit: true, model: false },
    MetricDef {
        key: "instruction_attribution_share_phase1",
        about: "per held-out probe, sum |gradient x input| of the greedy answer's logit over the instruction's words, over that of the words and the input symbol, averaged over probes, at phase 1's last checkpoint",
        unit: true, model: true,
    },
    MetricDef {
        key: "instruction_attribution_share_phase2",
        about: "the same at phase 2's last checkpoint (the end of the run)",
        unit: true, model: true,
    },
];

pub fn metric(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

/// One checkpoint's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub step: usize,
    pub unseen_accuracy: f64,
    /// ARI of the deepest layer, seen instructions; `None` where that layer was not analysed.
    pub ari: Option<f64>,
}

/// Every intact checkpoint of a session, by step.
pub fn curve(session: &Session) -> Vec<Point> {
    let mut points: Vec<Point> = session
        .snapshots
        .iter()
        .map(|s| {
            let deepest = s.analysis.layers.last().filter(|l| l.error.is_none());
            Point { step: s.step, unseen_accuracy: s.unseen_accuracy, ari: deepest.map(|l| l.scores.seen.ari) }
        })
        .collect();
    points.sort_by_key(|p| p.step);
    points
}

/// The session's phases as its manifest records them; one phase of instructions for a run
/// without `[[phases]]`.
pub fn phases(session: &Session) -> Vec<PhaseMark> {
    let m = &session.manifest;
    if !m.phases.is_empty() {
        return m.phases.clone();
    }
    vec![PhaseMark { name: "train".into(), start: 0, steps: m.total_steps, data: "instructions".into() }]
}

/// The first point whose unseen accuracy reaches `threshold` at or after step `from`.
pub fn first_reaching(curve: &[Point], threshold: f64, from: usize) -> Option<usize> {
    curve.iter().find(|p| p.step >= from && p.unseen_accuracy >= threshold).map(|p| p.step)
}

/// The last checkpoint at or before `step`: a phase's last checkpoint when `step` is its end.
pub fn at_or_before(curve: &[Point], step: usize) -> Option<&Point> {
    curve.iter().rev().find(|p| p.step <= step)
}

/// A metric computed from one checkpoint's model.
type ModelMetric<'a> = &'a dyn Fn(&HeldOut, usize) -> Result<Option<f64>, TrainError>;

/// Measures `keys` of the finished session at `dir`, running its models on `device` where a
/// metric needs them.
pub fn measure(keys: &[String], dir: &Path, device: DeviceChoice) -> Result<RunMetrics, StudyError> {
    let session = Session::open(dir)?;
    let points = curve(&session);
    let spans = phases(&session);
    let last = points.last().copied();
    // The end of phase 1 (its last checkpoint): the boundary every two-phase metric reads.
    let boundary = spans.get(1).map(|p| p.start).and_then(|s| at_or_before(&points, s)).copied();
    // Loaded once, and only for the metrics that run the model.
    let needs_model = keys.iter().any(|k| metric(k).is_some_and(|m| m.model));
    let held = if needs_model { Some(HeldOut::open(dir, device)?) } else { None };
    let model = |step: usize, f: ModelMetric| match &held {
        Some(h) => Ok::<_, StudyError>(f(h, step)?),
        None => Ok(None),
    };
    let mut out = RunMetrics::new();
    for key in keys {
        let value = match key.as_str() {
            "steps_to_unseen_90" => first_reaching(&points, UNSEEN_THRESHOLD, 0).map(|s| s as f64),
            "instruction_steps_to_unseen_90" => {
                let start = spans.iter().find(|p| p.data == "instructions").map(|p| p.start);
                start.and_then(|s| first_reaching(&points, UNSEEN_THRESHOLD, s).map(|r| (r - s) as f64))
            }
            "final_unseen_accuracy" | "heldout_accuracy" => last.map(|p| p.unseen_accuracy),
            "final_ari" | "ari_after" => last.and_then(|p| p.ari),
            "ari_before" => boundary.and_then(|p| p.ari),
            "consistency" => match (boundary, last) {
                (Some(b), Some(l)) if b.step < l.step => model(b.step, &|h, s| measure_consistency(h, s, l.step))?,
                _ => None,
            },
            "instruction_attribution_share_phase1" => match boundary {
                Some(b) => model(b.step, &measure_share)?,
                None => None,
            },
            "instruction_attribution_share_phase2" => match last {
                Some(l) => model(l.step, &measure_share)?,
                None => None,
            },
            other => return Err(StudyError::UnknownMetric(other.to_string())),
        };
        out.insert(key.clone(), value.filter(|v| v.is_finite()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(accuracies: &[(usize, f64)]) -> Vec<Point> {
        accuracies.iter().map(|&(step, unseen_accuracy)| Point { step, unseen_accuracy, ari: Some(0.5) }).collect()
    }

    #[test]
    fn steps_to_unseen_90_on_a_made_up_run() {
        let run = points(&[(0, 0.05), (50, 0.4), (100, 0.89), (150, 0.9), (200, 0.85), (250, 0.97)]);
        assert_eq!(first_reaching(&run, UNSEEN_THRESHOLD, 0), Some(150));
        // Counted from phase 2's start at 200: its first checkpoint there is below, the next above.
        assert_eq!(first_reaching(&run, UNSEEN_THRESHOLD, 200), Some(250));
        let never = points(&[(0, 0.1), (100, 0.899_999)]);
        assert_eq!(first_reaching(&never, UNSEEN_THRESHOLD, 0), None);
        assert_eq!(first_reaching(&[], UNSEEN_THRESHOLD, 0), None);
    }

    #[test]
    fn a_phase_ends_at_its_last_checkpoint() {
        let run = points(&[(0, 0.0), (40, 0.1), (75, 0.2), (100, 0.3)]);
        assert_eq!(at_or_before(&run, 75).map(|p| p.step), Some(75));
        assert_eq!(at_or_before(&run, 80).map(|p| p.step), Some(75));
        assert_eq!(at_or_before(&run[1..], 10), None);
    }

    #[test]
    fn every_metric_is_described() {
        for m in METRICS {
            assert!(!m.about.is_empty() && metric(m.key) == Some(&m), "{}", m.key);
        }
    }
}
