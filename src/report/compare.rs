//! Several saved sessions side by side (`clusterscope compare`): each read as `show` reads it and
//! labelled by its directory, its checkpoints in step order. Sessions may differ in layers,
//! checkpoint steps and experiment, so a step is shown at each session's nearest checkpoint and a
//! layer at each session's nearest layer. The compare view, its figures and `compare --json` all
//! read this one [`Comparison`]; `compare --json` is [`super::compare_json`]'s.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::analysis::ClusterScores;
use crate::experiment::spec::ExperimentSpec;
use crate::record::Snapshot;
use crate::session::lock::holder;
use crate::session::{RunStatus, Session};

/// How many sessions one comparison holds: fewer is no comparison, more is unreadable side by
/// side (and the themes have six session colours).
pub const MIN_SESSIONS: usize = 2;
pub const MAX_SESSIONS: usize = 6;

/// Training-loss points kept per session: neighbouring steps are averaged down to this, so six
/// long runs cost a bounded number of points to draw and to print.
pub const MAX_LOSS_POINTS: usize = 1024;

/// One clustering score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    Ari,
    Ami,
    F1,
}

impl Score {
    pub fn of(self, s: &ClusterScores) -> f64 {
        match self {
            Score::Ari => s.ari,
            Score::Ami => s.ami,
            Score::F1 => s.f1,
        }
    }
}

/// What a curve shows: one value per checkpoint, the loss per logged step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// Training loss from the log (log scale).
    Loss,
    Accuracy {
        unseen: bool,
    },
    /// A clustering score of one layer, of the seen or the unseen instructions' points.
    Score {
        unseen: bool,
        score: Score,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurveDef {
    pub key: &'static str,
    pub label: &'static str,
    pub curve: Curve,
}

/// Every curve the compare view overlays and the figures draw, in the order `m` cycles them.
pub const CURVES: [CurveDef; 9] = [
    CurveDef { key: "loss", label: "training loss", curve: Curve::Loss },
    CurveDef { key: "seen_accuracy", label: "seen accuracy", curve: Curve::Accuracy { unseen: false } },
    CurveDef { key: "unseen_accuracy", label: "unseen accuracy", curve: Curve::Accuracy { unseen: true } },
    CurveDef { key: "seen_ari", label: "ARI · seen", curve: Curve::Score { unseen: false, score: Score::Ari } },
    CurveDef { key: "seen_ami", label: "AMI · seen", curve: Curve::Score { unseen: false, score: Score::Ami } },
    CurveDef { key: "seen_f1", label: "F1 · seen", curve: Curve::Score { unseen: false, score: Score::F1 } },
    CurveDef { key: "unseen_ari", label: "ARI · unseen", curve: Curve::Score { unseen: true, score: Score::Ari } },
    CurveDef { key: "unseen_ami", label: "AMI · unseen", curve: Curve::Score { unseen: true, score: Score::Ami } },
    CurveDef { key: "unseen_f1", label: "F1 · unseen", curve: Curve::Score { unseen: true, score: Score::F1 } },
];

impl CurveDef {
    /// Whether the curve's value depends on the layer.
    pub fn per_layer(&self) -> bool {
        matches!(self.curve, Curve::Score { .. })
    }

    /// The curve's value at one checkpoint, `layer` already clamped to the session (a layer
    /// whose analysis failed there has none; the loss is the checkpoint's mean loss).
    pub fn value(&self, snap: &Snapshot, layer: usize) -> Option<f64> {
        match self.curve {
            Curve::Loss => Some(f64::from(snap.loss)).filter(|l| *l > 0.0),
            Curve::Accuracy { unseen } => Some(if unseen { snap.unseen_accuracy } else { snap.seen_accuracy }),
            Curve::Score { unseen, score } => snap
                .layer(layer)
                .filter(|l| l.error.is_none())
                .map(|l| score.of(if unseen { &l.scores.unseen } else { &l.scores.seen })),
        }
    }
}

/// One session of a comparison.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    /// Short and unique within the comparison: the directory's name, with its parent's where two
    /// names are equal.
    pub label: String,
    /// The experiment spec's name (`?` when the stored spec cannot be read).
    pub experiment: String,
    /// Who writes the session now, if anyone.
    pub writer: Option<String>,
    /// Checkpoints sorted by step.
    pub session: Session,
    /// Task of each seen point, then of each unseen point, in Snapshot order.
    pub seen_tasks: Vec<usize>,
    pub unseen_tasks: Vec<usize>,
    /// (step, training loss), ascending, at most [`MAX_LOSS_POINTS`].
    pub loss: Vec<(f64, f64)>,
}

impl ComparedRun {
    fn open(dir: &Path, label: String) -> Result<ComparedRun, ReportError> {
        // The lock before the files, as replay does: a writer that ends meanwhile still shows.
        let writer = holder(&crate::session::SessionDir::new(dir));
        let mut session = Session::open(dir)?;
        session.require_intact()?;
        session.snapshots.sort_by_key(|s| s.step);
        let experiment =
            ExperimentSpec::from_toml(&session.manifest.experiment).map_or_else(|_| "?".to_string(), |s| s.name);
        let tasks = |seen: bool| session.points.iter().filter(|p| p.seen == seen).map(|p| p.task).collect();
        let (seen_tasks, unseen_tasks) = (tasks(true), tasks(false));
        let log: Vec<(f64, f64)> = session
            .log
            .iter()
            .filter(|e| e.loss.is_finite() && e.loss > 0.0)
            .map(|e| (e.step as f64, f64::from(e.loss)))
            .collect();
        let loss = thin(&log, MAX_LOSS_POINTS);
        Ok(ComparedRun { label, experiment, writer, session, seen_tasks, unseen_tasks, loss })
    }

    pub fn dir(&self) -> &Path {
        &self.session.dir
    }

    /// Layers analysed, the embeddings included.
    pub fn layers(&self) -> usize {
        self.session.manifest.model.layers + 1
    }

    /// The layer shown when `want` is asked for: the deepest this session has, if it has fewer.
    pub fn shown_layer(&self, want: usize) -> usize {
        want.min(self.layers().saturating_sub(1))
    }

    /// The checkpoints' steps, ascending.
    pub fn steps(&self) -> Vec<usize> {
        self.session.snapshots.iter().map(|s| s.step).collect()
    }

    /// The index of the checkpoint nearest `step` (the earlier of two as near), if any.
    pub fn nearest(&self, step: usize) -> Option<usize> {
        let snaps = &self.session.snapshots;
        let after = snaps.partition_point(|s| s.step < step);
        let before = after.checked_sub(1);
        match (before, snaps.get(after)) {
            (Some(b), Some(a)) if a.step - step < step - snaps[b].step => Some(after),
            (Some(b), _) => Some(b),
            (None, Some(_)) => Some(after),
            (None, None) => None,
        }
    }

    /// The last checkpoint, where the final scores come from.
    pub fn last(&self) -> Option<&Snapshot> {
        self.session.snapshots.last()
    }

    /// How the run stands: finished, stopped, failed, running (another process writes it now) or
    /// interrupted (it says running but nobody writes it).
    pub fn status(&self) -> &'static str {
        match (self.session.manifest.status, &self.writer) {
            (RunStatus::Running, Some(_)) => "running",
            (RunStatus::Running, None) => "interrupted",
            (RunStatus::Finished, _) => "finished",
            (RunStatus::Stopped, _) => "stopped",
            (RunStatus::Failed, _) => "failed",
        }
    }

    /// `def` over training at layer `want` (clamped to this session): the loss from the log, the
    /// others per checkpoint, skipping checkpoints without a value.
    pub fn curve(&self, def: &CurveDef, want: usize) -> Vec<(f64, f64)> {
        if def.curve == Curve::Loss {
            return self.loss.clone();
        }
        let layer = self.shown_layer(want);
        self.session.snapshots.iter().filter_map(|s| Some((s.step as f64, def.value(s, layer)?))).collect()
    }

    /// [`ComparedRun::curve`] as drawn: the loss, which spans orders of magnitude, as its log10
    /// (its long tail after the first drop stays readable).
    pub fn plotted(&self, def: &CurveDef, want: usize) -> Vec<(f64, f64)> {
        let c = self.curve(def, want);
        match def.curve {
            Curve::Loss => c.into_iter().filter(|p| p.1 > 0.0).map(|(x, y)| (x, y.log10())).collect(),
            _ => c,
        }
    }
}

/// The sessions of one comparison, and the steps any of them has a checkpoint at.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub runs: Vec<ComparedRun>,
    /// The union of every session's checkpoint steps, ascending: where the view's step cursor
    /// can stand.
    pub steps: Vec<usize>,
}

impl Comparison {
    /// Reads the sessions in `dirs` (2 to 6; one that cannot be read fails the comparison with
    /// its own error, which names the file).
    pub fn open(dirs: &[PathBuf]) -> Result<Comparison, ReportError> {
        if !(MIN_SESSIONS..=MAX_SESSIONS).contains(&dirs.len()) {
            return Err(ReportError::SessionCount(dirs.len()));
        }
        let runs = dirs
            .iter()
            .zip(labels(dirs))
            .map(|(dir, label)| ComparedRun::open(dir, label))
            .collect::<Result<Vec<_>, _>>()?;
        let steps: BTreeSet<usize> = runs.iter().flat_map(ComparedRun::steps).collect();
        Ok(Comparison { runs, steps: steps.into_iter().collect() })
    }

    /// The most layers any session has.
    pub fn max_layers(&self) -> usize {
        self.runs.iter().map(ComparedRun::layers).max().unwrap_or(0)
    }

    /// The deepest layer every session has: the one the view opens on and the figures show.
    pub fn common_layer(&self) -> usize {
        self.runs.iter().map(ComparedRun::layers).min().unwrap_or(1).saturating_sub(1)
    }
}

/// A label per directory: its last component, shown without control characters; where two are
/// equal, with as many parent components as tell them apart, and a number where nothing does
/// (the same directory given twice).
pub fn labels(dirs: &[PathBuf]) -> Vec<String> {
    // `.` and `..` have no name of their own; the absolute path has.
    let parts: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            let full = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            let mut names: Vec<String> =
                full.components().rev().map(|c| printable(&c.as_os_str().to_string_lossy())).collect();
            names.retain(|n| !n.is_empty() && n != "/");
            names
        })
        .collect();
    let tail = |i: usize, n: usize| {
        let p = &parts[i];
        let mut t: Vec<&str> = p.iter().take(n).map(String::as_str).collect();
        t.reverse();
        if t.is_empty() {
            dirs[i].display().to_string()
        } else {
            t.join("/")
        }
    };
    let mut depth = vec![1usize; dirs.len()];
    // Each round lengthens the labels that still collide; paths are finite, so it ends.
    loop {
        let now: Vec<String> = (0..dirs.len()).map(|i| tail(i, depth[i])).collect();
        let mut grew = false;
        for i in 0..dirs.len() {
            // The same directory given twice is told apart by a number, not by its whole path.
            let clash = (0..dirs.len()).any(|j| now[j] == now[i] && parts[j] != parts[i]);
            if clash && depth[i] < parts[i].len() {
                depth[i] += 1;
                grew = true;
            }
        }
        if !grew {
            return number_repeats(now);
        }
    }
}

/// `x`, `x (2)`, `x (3)` for labels that are still equal.
fn number_repeats(labels: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for (i, l) in labels.iter().enumerate() {
        let before = labels[..i].iter().filter(|x| *x == l).count();
        out.push(if before == 0 { l.clone() } else { format!("{l} ({})", before + 1) });
    }
    out
}

/// Control characters from a directory name could repaint the terminal; they are shown escaped.
fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// `points` (ascending x) averaged over runs of neighbours down to at most `max` points.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            (c.iter().map(|p| p.0).sum::<f64>() / n, c.iter().map(|p| p.1).sum::<f64>() / n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_take_their_parents() {
        let dirs: Vec<PathBuf> =
            ["/x/a/run", "/x/b/run", "/x/c/other", "/x/c/other"].iter().map(PathBuf::from).collect();
        assert_eq!(labels(&dirs), ["a/run", "b/run", "other", "other (2)"]);
    }

    #[test]
    fn thinning_keeps_the_ends_in_range() {
        let pts: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64, 1.0)).collect();
        let t = thin(&pts, 1024);
        assert!(t.len() <= 1024 && t[0].0 < 5.0 && t[t.len() - 1].0 > 4990.0);
    }
}
