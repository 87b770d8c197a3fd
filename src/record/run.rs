//! A run as a whole: what it is, how far it has got, how it ended.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One point of the analysis set, in words: what it is for export and display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointInfo {
    pub task: usize,
    pub seen: bool,
    pub instruction: String,
    pub input: String,
    pub output: String,
}

/// What a run is, known before its first step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub device: String,
    /// Set when `auto` fell back from a GPU to the CPU, with the reason.
    pub device_note: Option<String>,
    pub total_steps: usize,
    /// Step of the first checkpoint this run will report.
    pub first_checkpoint: usize,
    pub parameters: usize,
    pub task_names: Vec<String>,
    pub out_dir: PathBuf,
    pub warnings: Vec<String>,
    /// The analysis set, in the order of every Snapshot's points (seen first, then unseen).
    pub points: Vec<PointInfo>,
    /// The run's phases; one for a run without `[[phases]]`.
    #[serde(default)]
    pub phases: Vec<PhaseMark>,
}

/// Where a phase of the run lies, for marking its boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseMark {
    pub name: String,
    /// First step it trains.
    pub start: usize,
    pub steps: usize,
    /// What it trains on: `instructions`, `task_identity` or `tables`.
    pub data: String,
}

impl PhaseMark {
    pub fn end(&self) -> usize {
        self.start + self.steps
    }
}

/// The steps at which one phase ends and the next begins.
pub fn phase_boundaries(phases: &[PhaseMark]) -> Vec<usize> {
    phases.iter().skip(1).map(|p| p.start).collect()
}

/// The phase whose training made the checkpoint at `step`, with its index: a checkpoint at a
/// boundary ends the phase before it (the last phase past the end); `None` without phases.
pub fn phase_of_checkpoint(phases: &[PhaseMark], step: usize) -> Option<(usize, &PhaseMark)> {
    let step = step.saturating_sub(1);
    let i = phases.iter().position(|p| step < p.end()).unwrap_or(phases.len().checked_sub(1)?);
    phases.get(i).map(|p| (i, p))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    /// Mean training loss over the steps since the previous progress report.
    pub loss: f32,
    pub lr: f64,
    pub steps_per_s: f64,
    pub paused: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub steps: usize,
    pub seconds: f64,
    pub loss: f32,
    pub seen_accuracy: f64,
    pub unseen_accuracy: f64,
    pub device: String,
    /// True when the run stopped early at the user's request.
    pub stopped: bool,
}
