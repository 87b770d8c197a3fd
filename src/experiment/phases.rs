//! The run's phases, validated: which steps each covers, what it trains on, towards which
//! answers, at which learning rate. A spec without `[[phases]]` is one phase of the instructions.

use std::collections::HashMap;

use super::spec::{ExperimentSpec, PhaseData, PhaseSpec, Schedule, Targets};
use super::{invalid, SpecError, Task};

/// Steps of all phases together; a cap like the spec's others.
pub const MAX_TOTAL_STEPS: usize = 100_000_000;

/// The token that stands for task `name` in a task-identity phase.
pub fn identity_token(name: &str) -> String {
    format!("<{name}>")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Align {
    pub weight: f64,
    pub temperature: f64,
    /// The hidden layer (0 = embeddings); `None` for the deepest block.
    pub layer: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub index: usize,
    pub name: String,
    /// First step (global) this phase trains; it ends where the next begins.
    pub start: usize,
    pub steps: usize,
    pub data: PhaseData,
    /// Task indices sampled (uniformly); for a tables phase, the one task whose table it is.
    pub tasks: Vec<usize>,
    /// Per task index, the distributions sampled (instructions); empty for tasks not trained.
    pub distributions: Vec<Vec<usize>>,
    pub schedule: Schedule,
    pub lr: f64,
    pub warmup: usize,
    pub targets: Targets,
    pub override_fraction: f64,
    pub align: Option<Align>,
}

impl Phase {
    pub fn end(&self) -> usize {
        self.start + self.steps
    }
}

/// The phases of a run, back to back from step 0.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlan {
    pub phases: Vec<Phase>,
    /// Whether the spec gave `[[phases]]`; otherwise the one phase is the whole run.
    pub explicit: bool,
}

impl PhasePlan {
    pub fn total_steps(&self) -> usize {
        self.phases.last().map_or(0, Phase::end)
    }

    /// The phase that trains step `step` (the last one past the end).
    pub fn at(&self, step: usize) -> &Phase {
        let i = self.phases.iter().position(|p| step < p.end()).unwrap_or(self.phases.len().saturating_sub(1));
        &self.phases[i]
    }

    /// The phase whose training made the weights at step `step`: a checkpoint at a boundary
    /// ends the phase before it.
    pub fn of_checkpoint(&self, step: usize) -> &Phase {
        self.at(step.saturating_sub(1))
    }

    /// Steps at which one phase ends and the next begins.
    pub fn boundaries(&self) -> Vec<usize> {
        self.phases.iter().skip(1).map(|p| p.start).collect()
    }

    pub fn is_boundary(&self, step: usize) -> bool {
        self.phases.iter().skip(1).any(|p| p.start == step)
    }
}

/// The one phase of a run without `[[phases]]`: every task, every trained distribution, the
/// run-wide schedule.
pub(super) fn implicit(tasks: &[Task], spec: &ExperimentSpec, steps: usize) -> Phase {
    Phase {
        index: 0,
        name: "train".into(),
        start: 0,
        steps,
        data: PhaseData::Instructions,
        tasks: (0..tasks.len()).collect(),
        distributions: tasks.iter().map(|t| t.seen.clone()).collect(),
        schedule: Schedule::Continue,
        lr: spec.train.lr,
        warmup: spec.train.warmup,
        targets: Targets::Spec,
        override_fraction: 0.0,
        align: None,
    }
}

/// Validates `[[phases]]` against the tasks; `lookup` says whether the family has tables (and
/// instruction distributions) that phases can choose from and override.
pub(super) fn validate(spec: &ExperimentSpec, tasks: &[Task], lookup: bool) -> Result<Vec<Phase>, SpecError> {
    let by_name: HashMap<&str, usize> = tasks.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let mut names = std::collections::HashSet::new();
    let mut start = 0usize;
    let mut phases = Vec::with_capacity(spec.phases.len());
    for (i, ps) in spec.phases.iter().enumerate() {
        let field = |f: &str| format!("phases[{i}].{f}");
        if ps.name.trim().is_empty() {
            return Err(invalid(field("name"), format!("{:?}", ps.name), "a phase needs a name"));
        }
        if !names.insert(ps.name.as_str()) {
            return Err(invalid(field("name"), format!("{:?}", ps.name), "duplicate phase name"));
        }
        if ps.steps == 0 {
            return Err(invalid(field("steps"), 0, "must be at least 1"));
        }
        if start.checked_add(ps.steps).is_none_or(|end| end > MAX_TOTAL_STEPS) {
            return Err(invalid(
                field("steps"),
                ps.steps,
                format!("all phases together at most {MAX_TOTAL_STEPS} steps"),
            ));
        }
        if !lookup {
            check_rewrite_phase(ps, &field)?;
        }
        let chosen = phase_tasks(ps, &by_name, tasks.len(), &field)?;
        let distributions = phase_distributions(ps, tasks, &chosen, &field)?;
        let (lr, warmup) = schedule(spec, ps, &field)?;
        let override_fraction = match (ps.targets, ps.override_fraction) {
            (Targets::Override, f) => {
                let f = f.unwrap_or(0.5);
                if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                    return Err(invalid(field("override_fraction"), f, "must be in (0, 1]"));
                }
                f
            }
            (_, Some(f)) => {
                return Err(invalid(field("override_fraction"), f, "applies only with targets = \"override\""))
            }
            (_, None) => 0.0,
        };
        if ps.targets == Targets::SelfAnswers && i == 0 {
            return Err(invalid(field("targets"), "\"self\"", "the first phase has no previous phase to answer"));
        }
        let align = match &ps.align {
            None => None,
            Some(a) => {
                if ps.data != PhaseData::Instructions {
                    return Err(invalid(field("align"), "given", "the alignment loss needs data = \"instructions\""));
                }
                if !(a.weight.is_finite() && a.weight >= 0.0) {
                    return Err(invalid(field("align.weight"), a.weight, "must be a finite number >= 0"));
                }
                if !(a.temperature.is_finite() && a.temperature > 0.0) {
                    return Err(invalid(field("align.temperature"), a.temperature, "must be a finite number > 0"));
                }
                Some(Align { weight: a.weight, temperature: a.temperature, layer: a.layer })
            }
        };
        phases.push(Phase {
            index: i,
            name: ps.name.clone(),
            start,
            steps: ps.steps,
            data: ps.data,
            tasks: chosen,
            distributions,
            schedule: ps.schedule,
            lr,
            warmup,
            targets: ps.targets,
            override_fraction,
            align,
        });
        start += ps.steps;
    }
    Ok(phases)
}

/// Rewrite rules have neither tables nor named distributions: a phase may only train on them,
/// with its own steps, schedule and losses.
fn check_rewrite_phase(ps: &PhaseSpec, field: &dyn Fn(&str) -> String) -> Result<(), SpecError> {
    let why = "a [rewrite] experiment's phases train on its rules";
    if ps.data != PhaseData::Instructions {
        return Err(invalid(field("data"), format!("{:?}", ps.data.name()), why));
    }
    if ps.tasks.is_some() || ps.distributions.is_some() || ps.table.is_some() {
        let f = if ps.tasks.is_some() {
            "tasks"
        } else if ps.distributions.is_some() {
            "distributions"
        } else {
            "table"
        };
        return Err(invalid(field(f), "given", why));
    }
    if ps.targets != Targets::Spec {
        return Err(invalid(field("targets"), format!("{:?}", ps.targets), "a rewrite's answers follow from its rule"));
    }
    Ok(())
}

fn phase_tasks(
    ps: &PhaseSpec,
    by_name: &HashMap<&str, usize>,
    n: usize,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<usize>, SpecError> {
    let lookup = |f: &str, name: &str| {
        by_name
            .get(name)
            .copied()
            .ok_or_else(|| invalid(field(f), format!("{name:?}"), "is not one of the tasks' names"))
    };
    match ps.data {
        PhaseData::Tables => {
            if ps.tasks.is_some() {
                return Err(invalid(field("tasks"), "given", "a tables phase learns one table: name it with `table`"));
            }
            let Some(name) = &ps.table else {
                return Err(invalid(
                    field("table"),
                    "missing",
                    "data = \"tables\" needs the task whose table it learns",
                ));
            };
            Ok(vec![lookup("table", name)?])
        }
        _ => {
            if let Some(t) = &ps.table {
                return Err(invalid(field("table"), format!("{t:?}"), "applies only with data = \"tables\""));
            }
            match &ps.tasks {
                None => Ok((0..n).collect()),
                Some(names) if names.is_empty() => Err(invalid(field("tasks"), "[]", "name at least one task")),
                Some(names) => {
                    let mut chosen = Vec::with_capacity(names.len());
                    for name in names {
                        let t = lookup("tasks", name)?;
                        if chosen.contains(&t) {
                            return Err(invalid(field("tasks"), format!("{name:?}"), "is named twice"));
                        }
                        chosen.push(t);
                    }
                    Ok(chosen)
                }
            }
        }
    }
}

/// Per task, the distributions an instructions phase samples: the chosen ones, which every task
/// of the phase must have and must not hold out.
fn phase_distributions(
    ps: &PhaseSpec,
    tasks: &[Task],
    chosen: &[usize],
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<Vec<usize>>, SpecError> {
    let mut out = vec![Vec::new(); tasks.len()];
    let Some(wanted) = &ps.distributions else {
        for &t in chosen {
            out[t] = tasks[t].seen.clone();
        }
        return Ok(out);
    };
    if ps.data != PhaseData::Instructions {
        return Err(invalid(
            field("distributions"),
            format!("{wanted:?}"),
            "applies only with data = \"instructions\"",
        ));
    }
    if wanted.is_empty() {
        return Err(invalid(field("distributions"), "[]", "name at least one distribution"));
    }
    for &t in chosen {
        let task = &tasks[t];
        for &d in wanted {
            if d >= task.distributions.len() {
                return Err(invalid(
                    field("distributions"),
                    d,
                    format!("task {:?} has only {} distributions (0-based index)", task.name, task.distributions.len()),
                ));
            }
            if task.unseen.contains(&d) {
                return Err(invalid(
                    field("distributions"),
                    d,
                    format!("is held out for task {:?}: held-out distributions are never trained", task.name),
                ));
            }
        }
        let mut ds = wanted.clone();
        ds.sort_unstable();
        ds.dedup();
        out[t] = ds;
    }
    Ok(out)
}

fn schedule(spec: &ExperimentSpec, ps: &PhaseSpec, field: &dyn Fn(&str) -> String) -> Result<(f64, usize), SpecError> {
    if ps.schedule == Schedule::Continue {
        if let Some(lr) = ps.lr {
            return Err(invalid(
                field("lr"),
                lr,
                "applies only with schedule = \"restart\" (continue keeps train.lr's schedule)",
            ));
        }
        if let Some(w) = ps.warmup {
            return Err(invalid(field("warmup"), w, "applies only with schedule = \"restart\""));
        }
        return Ok((spec.train.lr, spec.train.warmup));
    }
    let lr = ps.lr.unwrap_or(spec.train.lr);
    if !(lr.is_finite() && lr > 0.0) {
        return Err(invalid(field("lr"), lr, "must be a finite number > 0"));
    }
    let warmup = ps.warmup.unwrap_or_else(|| spec.train.warmup.min(ps.steps / 10));
    if warmup > ps.steps {
        return Err(invalid(field("warmup"), warmup, format!("longer than the phase's {} steps", ps.steps)));
    }
    Ok((lr, warmup))
}
