//! What the run is and has reported, as far as the UI knows: where it comes from, how far it
//! has got, the task of every analysis point, the checkpoints with their fitted axes, and the
//! loss curve. Filled by the worker's events (or a saved session); a key touches it only to
//! show a pause before the worker confirms it.

use std::path::PathBuf;

use super::ranges::fit_half_range;
use crate::record::{PhaseMark, Snapshot};
use crate::session::RunStatus;

/// Where the snapshots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Live,
    /// A saved session; the status is what its manifest says.
    Replay(RunStatus),
    /// A session another process writes now: its checkpoints arrive as they are committed, and
    /// once the writer lets go it is a replay.
    Follow,
}

/// State of the training run, as far as the UI knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    Finished,
    /// Stopped early at the user's request (Ctrl-C / q).
    Stopped,
    Failed,
}

impl Phase {
    /// A saved session's phase from its manifest: one still running is, to its reader, paused.
    pub(crate) fn of(status: RunStatus) -> Phase {
        match status {
            RunStatus::Running => Phase::Paused,
            RunStatus::Finished => Phase::Finished,
            RunStatus::Stopped => Phase::Stopped,
            RunStatus::Failed => Phase::Failed,
        }
    }
}

/// Loss points kept for the curve; beyond this, neighbours are averaged pairwise so a long run
/// costs constant memory and drawing time.
const MAX_LOSS_POINTS: usize = 1024;

#[derive(Debug, Clone)]
pub struct RunData {
    pub source: Source,
    pub phase: Phase,
    pub device: String,
    pub session_dir: PathBuf,
    /// Who writes the session, while it is followed ("process 1234").
    pub writer: Option<String>,
    pub total_steps: usize,
    pub step: usize,
    pub steps_per_s: f64,
    /// Where a live run's first checkpoint will be (the placeholder says so until it comes).
    pub first_checkpoint: usize,
    pub task_names: Vec<String>,
    /// Task of each seen point, then of each unseen point, in Snapshot order.
    pub seen_tasks: Vec<usize>,
    pub unseen_tasks: Vec<usize>,
    /// One per step, in step order.
    pub snapshots: Vec<Snapshot>,
    /// Per snapshot, per layer: the scatter's half-ranges, fitted once as the snapshot arrives.
    pub ranges: Vec<Vec<[f32; 2]>>,
    /// (step, training loss), ascending.
    pub loss: Vec<(f64, f64)>,
    /// Steps of the saved checkpoints that could not be read, ascending: left out of
    /// `snapshots`, and marked so that a gap in the timeline is not taken for the run's own.
    pub damaged: Vec<usize>,
    /// The run's phases; empty for a run in one phase.
    pub phase_marks: Vec<PhaseMark>,
    /// What each checkpoint is called, by step, where it is not a step of training: the models
    /// of an analysed session. Empty for a training run.
    pub checkpoint_labels: Vec<String>,
}

/// Where [`RunData::add_snapshot`] put a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// A step already there: its snapshot is replaced.
    Replaced,
    /// A new step, at this index.
    Inserted(usize),
}

impl RunData {
    pub(crate) fn new(source: Source) -> RunData {
        RunData {
            source,
            phase: Phase::Running,
            device: String::new(),
            session_dir: PathBuf::new(),
            writer: None,
            total_steps: 0,
            step: 0,
            steps_per_s: 0.0,
            first_checkpoint: 0,
            task_names: Vec::new(),
            seen_tasks: Vec::new(),
            unseen_tasks: Vec::new(),
            snapshots: Vec::new(),
            ranges: Vec::new(),
            loss: Vec::new(),
            damaged: Vec::new(),
            phase_marks: Vec::new(),
            checkpoint_labels: Vec::new(),
        }
    }

    /// The name of checkpoint `step` where it is not a training step (an analysed model's).
    pub fn checkpoint_label(&self, step: usize) -> Option<&str> {
        self.checkpoint_labels.get(step).map(String::as_str)
    }

    /// The phase whose training made the checkpoint at `step` (one at a boundary ends the
    /// phase before it), if the run has phases.
    pub fn phase_of_checkpoint(&self, step: usize) -> Option<(usize, &PhaseMark)> {
        crate::record::phase_of_checkpoint(&self.phase_marks, step)
    }

    /// Steps at which one phase ends and the next begins.
    pub fn phase_boundaries(&self) -> Vec<usize> {
        crate::record::phase_boundaries(&self.phase_marks)
    }

    pub(crate) fn set_points(&mut self, points: impl Iterator<Item = (usize, bool)>) {
        for (task, seen) in points {
            if seen {
                self.seen_tasks.push(task);
            } else {
                self.unseen_tasks.push(task);
            }
        }
    }

    /// Layers in the current snapshots (embeddings included).
    pub fn layers(&self) -> usize {
        self.snapshots.iter().map(|s| s.analysis.layers.len()).max().unwrap_or(0)
    }

    pub(crate) fn add_snapshot(&mut self, s: Snapshot) -> Added {
        let ranges = s.analysis.layers.iter().map(|l| fit_half_range(&l.seen_proj, &l.unseen_proj)).collect();
        if s.loss.is_finite() && s.step > 0 {
            self.push_loss(s.step, s.loss);
        }
        // A resumed run may resend a step; keep one snapshot per step, in step order.
        match self.snapshots.binary_search_by_key(&s.step, |x| x.step) {
            Ok(i) => {
                self.snapshots[i] = s;
                self.ranges[i] = ranges;
                Added::Replaced
            }
            Err(i) => {
                self.snapshots.insert(i, s);
                self.ranges.insert(i, ranges);
                Added::Inserted(i)
            }
        }
    }

    pub(crate) fn push_loss(&mut self, step: usize, loss: f32) {
        if !loss.is_finite() || loss <= 0.0 {
            return;
        }
        let p = (step as f64, f64::from(loss));
        match self.loss.last() {
            Some(&(s, _)) if s >= p.0 => {
                let i = self.loss.partition_point(|&(s, _)| s < p.0);
                if self.loss.get(i).is_some_and(|&(s, _)| s == p.0) {
                    self.loss[i] = p;
                } else {
                    self.loss.insert(i, p);
                }
            }
            _ => self.loss.push(p),
        }
        if self.loss.len() > MAX_LOSS_POINTS {
            self.loss = self
                .loss
                .chunks(2)
                .map(|c| {
                    let n = c.len() as f64;
                    (c.iter().map(|p| p.0).sum::<f64>() / n, c.iter().map(|p| p.1).sum::<f64>() / n)
                })
                .collect();
        }
    }
}
