//! A sweep in words (`clusterscope sweep show`): each point's parameters, state and final
//! metrics, read from its session, and Slurm's own state of its array task where Slurm is there.
//! The sweep view and the sweep figures read the same [`SweepSummary`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::session::sweep::{GridAxis, SweepDir, SweepManifest, SweepPoint};
use crate::session::Session;
use crate::sweep::grid::describe;
use crate::sweep::point::{state, PointState};
use crate::sweep::slurm;

/// The numbers of a point's last intact checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointMetrics {
    pub step: usize,
    pub loss: f32,
    pub seen_accuracy: f64,
    pub unseen_accuracy: f64,
    /// ARI of the deepest layer, seen instructions.
    pub final_ari: f64,
    pub final_unseen_ari: f64,
}

/// A metric one can plot against a grid parameter.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// The key in `sweep show --json`'s metrics.
    pub key: &'static str,
    pub label: &'static str,
    pub value: fn(&PointMetrics) -> f64,
    /// A score or accuracy, drawn on its 0..1 frame.
    pub unit_range: bool,
}

impl PartialEq for MetricDef {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

/// Every outcome `sweep show --json` reports per point (its step is where it stopped, not an
/// outcome, so it is left out).
pub const METRICS: [MetricDef; 5] = [
    MetricDef { key: "seen_accuracy", label: "seen accuracy", value: |m| m.seen_accuracy, unit_range: true },
    MetricDef { key: "unseen_accuracy", label: "unseen accuracy", value: |m| m.unseen_accuracy, unit_range: true },
    MetricDef { key: "final_ari", label: "ARI (deepest layer, seen)", value: |m| m.final_ari, unit_range: true },
    MetricDef {
        key: "final_unseen_ari",
        label: "ARI (deepest layer, unseen)",
        value: |m| m.final_unseen_ari,
        unit_range: true,
    },
    MetricDef { key: "loss", label: "loss", value: |m| f64::from(m.loss), unit_range: false },
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSummary {
    pub index: usize,
    /// `key=value ... seed=S`.
    #[serde(skip)]
    pub label: String,
    pub params: BTreeMap<String, String>,
    pub seed: u64,
    /// Relative to the sweep.
    pub dir: String,
    /// pending, running, finished or unfinished.
    pub state: &'static str,
    /// Why an unfinished point stopped.
    pub reason: Option<String>,
    pub metrics: Option<PointMetrics>,
    /// Slurm's state of this point's array task, where Slurm knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slurm_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepSummary {
    pub dir: PathBuf,
    /// The axes in the order given (JSON has them as `grid`, an object).
    #[serde(skip)]
    pub axes: Vec<GridAxis>,
    pub grid: BTreeMap<String, Vec<String>>,
    pub seeds: usize,
    pub steps: Option<usize>,
    pub slurm_jobs: Vec<String>,
    pub points: Vec<PointSummary>,
}

impl SweepSummary {
    /// How many points are in `state`.
    pub fn count(&self, state: &str) -> usize {
        self.points.iter().filter(|p| p.state == state).count()
    }

    pub fn session_dir(&self, point: &PointSummary) -> PathBuf {
        self.dir.join(&point.dir)
    }
}

/// Every point as it stands now, with Slurm's `slurm_states` (by point index). `known` holds
/// earlier summaries of points that had finished, which cannot change, so a view re-reading
/// every second does not reopen their sessions.
pub fn summarise(
    dir: &SweepDir,
    m: &SweepManifest,
    known: &BTreeMap<usize, PointSummary>,
    slurm_states: &BTreeMap<usize, String>,
) -> SweepSummary {
    let points = m
        .points
        .iter()
        .map(|p| {
            let mut summary = match known.get(&p.index) {
                Some(k) if k.state == PointState::Finished.name() && k.params == p.params && k.seed == p.seed => {
                    k.clone()
                }
                _ => point_summary(dir, p),
            };
            summary.slurm_state = slurm_states.get(&p.index).cloned();
            summary
        })
        .collect();
    SweepSummary {
        dir: dir.root().to_path_buf(),
        axes: m.grid.clone(),
        grid: m.grid.iter().map(|a| (a.key.clone(), a.values.clone())).collect(),
        seeds: m.seeds,
        steps: m.steps,
        slurm_jobs: m.slurm_jobs.clone(),
        points,
    }
}

fn point_summary(dir: &SweepDir, p: &SweepPoint) -> PointSummary {
    let st = state(dir, p);
    let reason = match &st {
        PointState::Unfinished(why) => Some(why.clone()),
        _ => None,
    };
    PointSummary {
        index: p.index,
        label: describe(p),
        params: p.params.clone(),
        seed: p.seed,
        dir: p.dir.clone(),
        state: st.name(),
        reason,
        metrics: metrics(dir, p),
        slurm_state: None,
    }
}

/// The last intact checkpoint's numbers of a point, if it has one.
fn metrics(dir: &SweepDir, point: &SweepPoint) -> Option<PointMetrics> {
    let session = Session::open(&dir.point(point)).ok()?;
    let snap = session.checkpoint_index(None).and_then(|i| session.snapshots.get(i))?;
    let deepest = snap.analysis.layers.last()?;
    Some(PointMetrics {
        step: snap.step,
        loss: snap.loss,
        seen_accuracy: snap.seen_accuracy,
        unseen_accuracy: snap.unseen_accuracy,
        final_ari: deepest.scores.seen.ari,
        final_unseen_ari: deepest.scores.unseen.ari,
    })
}

/// `sweep show`'s summary, Slurm's states included.
pub fn sweep_summary(dir: &SweepDir, m: &SweepManifest) -> SweepSummary {
    summarise(dir, m, &BTreeMap::new(), &slurm::task_states(&m.slurm_jobs))
}

pub fn sweep_text(s: &SweepSummary) -> String {
    let mut out = format!(
        "sweep {}: {} points ({} finished, {} running, {} unfinished, {} pending)",
        s.dir.display(),
        s.points.len(),
        s.count("finished"),
        s.count("running"),
        s.count("unfinished"),
        s.count("pending")
    );
    if let Some(job) = s.slurm_jobs.last() {
        out.push_str(&format!(", slurm job {job}"));
    }
    // Slurm's column only where Slurm said something.
    let slurm = s.points.iter().any(|p| p.slurm_state.is_some());
    let slurm_head = if slurm { format!(" {:<11}", "slurm") } else { String::new() };
    out.push_str(&format!(
        "\n{:>5}  {:<40} {:<10}{slurm_head} {:>7} {:>7} {:>8} {:>6}\n",
        "point", "params", "state", "step", "seen%", "unseen%", "ARI"
    ));
    for p in &s.points {
        let num = |f: fn(&PointMetrics) -> f64, scale: f64, digits: usize| {
            p.metrics.as_ref().map_or("-".to_string(), |m| format!("{:.*}", digits, f(m) * scale))
        };
        let slurm_col = if slurm { format!(" {:<11}", p.slurm_state.as_deref().unwrap_or("-")) } else { String::new() };
        out.push_str(&format!(
            "{:>5}  {:<40} {:<10}{slurm_col} {:>7} {:>7} {:>8} {:>6}\n",
            p.index,
            p.label,
            p.state,
            p.metrics.as_ref().map_or("-".to_string(), |m| m.step.to_string()),
            num(|m| m.seen_accuracy, 100.0, 1),
            num(|m| m.unseen_accuracy, 100.0, 1),
            num(|m| m.final_ari, 1.0, 3),
        ));
    }
    out
}
