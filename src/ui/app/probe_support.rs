//! What the probe line checks and fills probes from: the experiment of a session we trained,
//! or, for a session of pretrained models, nothing but the session's own prompts.

use std::sync::Arc;

use rand::Rng;

use super::probe_line::ProbeLine;
use crate::experiment::Experiment;
use crate::record::PointInfo;

#[derive(Debug, Clone)]
pub(crate) enum ProbeSupport {
    /// Our own model: probes are `words | X` in the experiment's vocabulary (validated,
    /// completed and quick-filled from it) within the model's context length.
    Experiment { experiment: Arc<Experiment>, context: usize },
    /// A pretrained model: any text is an instruction, which the worker tokenizes and checks;
    /// quick fills draw from the session's own prompts, as (task, seen, instruction).
    FreeText { prompts: Vec<(usize, bool, String)> },
}

impl ProbeSupport {
    pub(crate) fn free_text(points: &[PointInfo]) -> ProbeSupport {
        ProbeSupport::FreeText { prompts: points.iter().map(|p| (p.task, p.seen, p.instruction.clone())).collect() }
    }

    pub(crate) fn experiment(&self) -> Option<&Experiment> {
        match self {
            ProbeSupport::Experiment { experiment, .. } => Some(experiment),
            ProbeSupport::FreeText { .. } => None,
        }
    }

    /// Tasks the quick fills cycle through.
    pub(crate) fn tasks(&self) -> usize {
        match self {
            ProbeSupport::Experiment { experiment, .. } => experiment.tasks.len().max(1),
            ProbeSupport::FreeText { prompts } => prompts.iter().map(|p| p.0 + 1).max().unwrap_or(1),
        }
    }

    /// The probe's text as the worker takes it, or `None` with the reason in the line's error.
    pub(crate) fn validate(&self, line: &mut ProbeLine) -> Option<String> {
        match self {
            ProbeSupport::Experiment { experiment, context } => line.validate(experiment, *context),
            ProbeSupport::FreeText { .. } => line.validate_free(),
        }
    }

    /// Tab: free text has no vocabulary to complete from.
    pub(crate) fn complete(&self, line: &mut ProbeLine, forward: bool) {
        if let ProbeSupport::Experiment { experiment, .. } = self {
            line.complete(experiment, forward);
        }
    }

    /// A random instruction of task `t` (of the seen or the held-out kind) in the line.
    pub(crate) fn fill(&self, line: &mut ProbeLine, t: usize, seen: bool, rng: &mut impl Rng) {
        let t = t % self.tasks();
        match self {
            ProbeSupport::Experiment { experiment, .. } => line.quick_fill(experiment, t, seen, rng),
            ProbeSupport::FreeText { prompts } => line.fill_from_prompts(prompts, t, seen, rng),
        }
    }
}
