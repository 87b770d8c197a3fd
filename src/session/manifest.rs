//! What a new session records about its run: the manifest and the analysis points.

use std::path::Path;

use super::format::{AnalyzedSource, Manifest, RunStatus, FORMAT_NAME, FORMAT_VERSION, TRAINED_FORMAT_VERSION};
use super::SessionError;
use crate::experiment::sampling::AnalysisSet;
use crate::experiment::Experiment;
use crate::model::ModelConfig;
use crate::record::{PhaseMark, PointInfo};

impl Manifest {
    /// No checkpoint was ever recorded (the run died before its first): nothing in the session is
    /// worth keeping and a resume has nothing to go on from, so it may start again in place.
    pub fn is_unstarted(&self) -> bool {
        self.checkpoints.is_empty() && self.resume.is_none()
    }

    /// The manifest of a run of `experiment` with `model` on `device` for `total_steps`, to be
    /// saved in `dir` (whose last component names the session).
    pub fn new(
        dir: &Path,
        experiment: &Experiment,
        model: &ModelConfig,
        device: &str,
        total_steps: usize,
    ) -> Result<Manifest, SessionError> {
        Ok(Manifest {
            format: FORMAT_NAME.into(),
            format_version: TRAINED_FORMAT_VERSION,
            app_version: env!("CARGO_PKG_VERSION").into(),
            name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            created: chrono::Local::now().to_rfc3339(),
            experiment: experiment.spec.to_toml()?,
            seed: experiment.seed,
            model: model.clone(),
            device: device.to_string(),
            total_steps,
            task_names: experiment.task_names(),
            status: RunStatus::Running,
            reason: None,
            checkpoints: Vec::new(),
            train_seconds: 0.0,
            resume: None,
            phases: phase_marks(experiment, total_steps),
            phase_targets: std::collections::BTreeMap::new(),
            analyzed: None,
        })
    }

    /// The manifest of an analysis of `source`'s models, whose common shape is `shape`, on
    /// `device`, to be saved in `dir`. `seed` seeds k-means and t-SNE.
    pub fn analyzed(
        dir: &Path,
        source: AnalyzedSource,
        shape: &ModelConfig,
        task_names: Vec<String>,
        device: &str,
        seed: u64,
    ) -> Manifest {
        let total_steps = source.models.len().saturating_sub(1);
        Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            app_version: env!("CARGO_PKG_VERSION").into(),
            name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            created: chrono::Local::now().to_rfc3339(),
            experiment: String::new(),
            seed,
            model: shape.clone(),
            device: device.to_string(),
            total_steps,
            task_names,
            status: RunStatus::Running,
            reason: None,
            checkpoints: Vec::new(),
            train_seconds: 0.0,
            resume: None,
            phases: Vec::new(),
            phase_targets: std::collections::BTreeMap::new(),
            analyzed: Some(source),
        }
    }

    /// The made targets as the trainer takes them, by phase index.
    pub fn made_targets(&self) -> std::collections::BTreeMap<usize, Vec<Vec<usize>>> {
        self.phase_targets.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v.clone()))).collect()
    }
}

/// The phases of a run of `experiment` for `total_steps`, as the session records them.
/// Empty for a run without `[[phases]]`, which is one phase.
pub fn phase_marks(experiment: &Experiment, total_steps: usize) -> Vec<PhaseMark> {
    let plan = experiment.plan(total_steps);
    if !plan.explicit {
        return Vec::new();
    }
    plan.phases
        .iter()
        .map(|p| PhaseMark { name: p.name.clone(), start: p.start, steps: p.steps, data: p.data.name().into() })
        .collect()
}

/// The analysis set as stored in the session (`points.json`): what each point is, in words.
pub fn analysis_points(exp: &Experiment, set: &AnalysisSet) -> Vec<PointInfo> {
    set.seen
        .iter()
        .chain(&set.unseen)
        .map(|e| PointInfo {
            task: e.task,
            seen: e.seen,
            instruction: e.instruction.join(" "),
            input: exp.render(&e.input),
            output: exp.render(&e.output),
        })
        .collect()
}
