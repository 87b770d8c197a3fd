//! A study made concrete: every arm times every seed as a run with its whole spec, each
//! validated (spec and model) before anything is written.

use super::definition::{Size, StudyDef};
use super::StudyError;
use crate::experiment::Experiment;
use crate::model::ModelConfig;
use crate::session::study::{StudyArm, StudyDir, StudyManifest, StudyRun, STUDY_FORMAT, STUDY_VERSION};

/// At most this many seeds per arm: each is a session on disk and minutes of training.
pub const MAX_SEEDS: usize = 100;

/// The study `def` at `size` with `seeds` seeds per arm (the definition's own when `None`).
pub fn plan(def: &StudyDef, size: Size, seeds: Option<usize>) -> Result<StudyManifest, StudyError> {
    let seeds = seeds.unwrap_or(def.seeds);
    if seeds == 0 {
        return Err(StudyError::Seeds(seeds, "need at least 1 seed"));
    }
    if seeds > MAX_SEEDS {
        return Err(StudyError::Seeds(seeds, "at most 100 seeds per arm"));
    }
    let base = def.base_seed();
    let mut runs = Vec::with_capacity(def.arms.len() * seeds);
    for arm in &def.arms {
        for s in 0..seeds {
            let seed = base.wrapping_add(s as u64);
            let spec = def.arm_spec(arm, size, seed)?;
            let exp = Experiment::from_toml(&spec, None)
                .map_err(|source| StudyError::Arm { arm: arm.name.clone(), source })?;
            ModelConfig::from_spec(&exp.spec.model, exp.tokenizer.len(), exp.max_sequence_len)
                .map_err(|source| StudyError::Model { arm: arm.name.clone(), source })?;
            runs.push(StudyRun {
                index: runs.len(),
                arm: arm.name.clone(),
                seed,
                dir: StudyDir::run_dir_name(&arm.name, seed),
                spec,
            });
        }
    }
    Ok(StudyManifest {
        format: STUDY_FORMAT.into(),
        format_version: STUDY_VERSION,
        created: chrono::Local::now().to_rfc3339(),
        study: def.name.clone(),
        size: size.name().into(),
        seeds,
        metrics: def.metrics.clone(),
        arms: def.arms.iter().map(|a| StudyArm { name: a.name.clone(), about: a.about.clone() }).collect(),
        runs,
    })
}

/// Whether `found` (on disk) is the study `wanted` describes: the same runs of the same specs.
pub fn same_study(found: &StudyManifest, wanted: &StudyManifest) -> bool {
    let key = |m: &StudyManifest| {
        (
            m.study.clone(),
            m.size.clone(),
            m.seeds,
            m.runs.iter().map(|r| (r.dir.clone(), r.spec.clone())).collect::<Vec<_>>(),
        )
    };
    key(found) == key(wanted)
}
