//! How big an experiment may be. Every size a spec sets, or implies through its expressions, is
//! checked against a stated cap before anything is sampled or allocated, so a short spec can
//! never ask for more memory or time than a run could give it.

use super::regex::WordRegex;
use super::spec::ExperimentSpec;
use super::{invalid, SpecError};

/// The longest instruction a distribution may produce, in words.
pub const MAX_INSTRUCTION_WORDS: usize = 256;
/// Distinct instruction words over all distributions: the vocabulary, less specials and symbols.
pub const MAX_WORDS: usize = 50_000;
/// One instruction expression's source text, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 1 << 20;
/// A spec file, in bytes.
pub const MAX_SPEC_BYTES: u64 = 16 << 20;
pub const MAX_SYMBOLS: usize = 10_000;
pub const MAX_TASKS: usize = 1_000;
pub const MAX_BATCH_SIZE: usize = 16_384;
pub const MAX_CHECKPOINTS: usize = 10_000;
/// Seen or unseen analysis points per task.
pub const MAX_PER_TASK: usize = 10_000;
/// Analysis points in all: each is a forward pass and a stored row per layer at every checkpoint.
pub const MAX_ANALYSIS_POINTS: usize = 100_000;

pub(super) fn validate_train(spec: &ExperimentSpec) -> Result<(), SpecError> {
    let t = &spec.train;
    let positive = |name: &str, v: usize| {
        if v == 0 {
            Err(invalid(format!("train.{name}"), v, "must be at least 1"))
        } else {
            Ok(())
        }
    };
    positive("steps", t.steps)?;
    positive("batch_size", t.batch_size)?;
    positive("checkpoints", t.checkpoints)?;
    positive("analysis_per_task", t.analysis_per_task)?;
    for (name, v, cap) in [
        ("batch_size", t.batch_size, MAX_BATCH_SIZE),
        ("checkpoints", t.checkpoints, MAX_CHECKPOINTS),
        ("analysis_per_task", t.analysis_per_task, MAX_PER_TASK),
        ("unseen_per_task", t.unseen_per_task, MAX_PER_TASK),
    ] {
        at_most(&format!("train.{name}"), v, cap)?;
    }
    let points = spec.tasks.len().saturating_mul(t.analysis_per_task.saturating_add(t.unseen_per_task));
    if points > MAX_ANALYSIS_POINTS {
        return Err(invalid(
            "train.analysis_per_task",
            t.analysis_per_task,
            format!(
                "{} tasks x ({} + {} unseen) = {points} analysis points; at most {MAX_ANALYSIS_POINTS}",
                spec.tasks.len(),
                t.analysis_per_task,
                t.unseen_per_task
            ),
        ));
    }
    if !(t.lr.is_finite() && t.lr > 0.0) {
        return Err(invalid("train.lr", t.lr, "must be a positive number"));
    }
    for (name, v) in [("beta1", t.beta1), ("beta2", t.beta2), ("min_lr_ratio", t.min_lr_ratio)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(invalid(format!("train.{name}"), v, "must be within [0, 1]"));
        }
    }
    for (name, v) in
        [("weight_decay", t.weight_decay), ("grad_clip", t.grad_clip), ("checkpoint_minutes", t.checkpoint_minutes)]
    {
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(format!("train.{name}"), v, "must be a non-negative number"));
        }
    }
    Ok(())
}

/// Counts that are checked before the expressions are even parsed.
pub(super) fn validate_counts(spec: &ExperimentSpec) -> Result<(), SpecError> {
    at_most("symbols", spec.symbols.len(), MAX_SYMBOLS)?;
    at_most("tasks", spec.tasks.len(), MAX_TASKS)?;
    for (ti, t) in spec.tasks.iter().enumerate() {
        for (di, src) in t.instructions.iter().enumerate() {
            if src.len() > MAX_EXPRESSION_BYTES {
                return Err(invalid(
                    format!("tasks[{ti}].instructions[{di}]"),
                    format!("{} bytes", src.len()),
                    format!("an expression may be at most {MAX_EXPRESSION_BYTES} bytes"),
                ));
            }
        }
    }
    Ok(())
}

/// A parsed expression's longest instruction, computed from the expression itself (never by
/// sampling it).
pub(super) fn check_expression(field: &str, re: &WordRegex) -> Result<(), SpecError> {
    let longest = re.max_len();
    if longest > MAX_INSTRUCTION_WORDS {
        let shown = if longest == usize::MAX { "too many to count".to_string() } else { longest.to_string() };
        return Err(invalid(
            field,
            format!("{:?}", abbreviated(re.source())),
            format!("its longest instruction has {shown} words; at most {MAX_INSTRUCTION_WORDS} are allowed"),
        ));
    }
    Ok(())
}

pub(super) fn check_vocabulary(words: usize) -> Result<(), SpecError> {
    at_most("tasks[].instructions", words, MAX_WORDS).map_err(|_| {
        invalid(
            "tasks[].instructions",
            format!("{words} distinct words"),
            format!("the instruction vocabulary may have at most {MAX_WORDS} words"),
        )
    })
}

fn at_most(field: &str, value: usize, cap: usize) -> Result<(), SpecError> {
    if value > cap {
        return Err(invalid(field, value, format!("at most {cap}")));
    }
    Ok(())
}

/// An expression as an error shows it: whole when short, else its start.
pub(super) fn abbreviated(src: &str) -> String {
    const SHOWN: usize = 60;
    if src.chars().count() <= SHOWN {
        src.to_string()
    } else {
        format!("{}...", src.chars().take(SHOWN).collect::<String>())
    }
}
