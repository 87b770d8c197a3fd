//! `clusterscope check`: every file of a session verified, each problem on one line naming its
//! file. Opening a session reads only what showing it needs (the snapshots); this also reads
//! every checkpoint's weights and optimizer state, which a probe, an export or a resume would
//! otherwise be the first to find damaged.

use std::path::Path;

use crate::session::file::open_regular;
use crate::session::format::{HIDDEN, OPTIMIZER, SNAPSHOT, WEIGHTS};
use crate::session::Session;
use crate::train::inference::LoadedModel;
use crate::train::{stored_hidden, SavedTensors, WeightsError};

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// One line each, naming the file.
    pub problems: Vec<String>,
    /// The last line: intact or not, and what was looked at.
    pub summary: String,
}

impl CheckReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The problems, a line each, then the summary.
impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problems.iter().try_for_each(|p| writeln!(f, "{p}"))?;
        writeln!(f, "{}", self.summary)
    }
}

/// Checks the session in `dir`.
pub fn check(dir: &Path) -> CheckReport {
    let session = match Session::open(dir) {
        Ok(s) => s,
        Err(e) => {
            return CheckReport {
                problems: vec![e.to_string()],
                summary: format!("{}: damaged: the session cannot be opened", dir.display()),
            }
        }
    };
    let layout = session.layout();
    let mut problems: Vec<String> = Vec::new();
    let (mut files, mut unverified) = (2, 0);
    for path in [layout.log(), layout.probes()] {
        // Advisory files: only one that is there but cannot be read is a problem.
        if path.symlink_metadata().is_ok() {
            if let Err(e) = open_regular(&path) {
                problems.push(e.to_string());
            }
        }
    }
    let mut damaged_steps = Vec::new();
    for entry in &session.manifest.checkpoints {
        let before = problems.len();
        let damage = session.damage(entry.step);
        if let Some(d) = damage {
            problems.push(d.to_string());
        }
        // A checkpoint directory that is missing or outside the session holds nothing to read.
        let dir_level = damage.is_some_and(|d| d.file == layout.checkpoints().join(&entry.dir));
        if !dir_level {
            let ckpt = layout.checkpoints().join(&entry.dir);
            if session.manifest.analyzed.is_some() {
                // An analysed model's weights stay in its own directory; the checkpoint holds
                // what was read from it.
                files += 2;
                unverified += [SNAPSHOT, HIDDEN].iter().filter(|n| entry.checksum(n).is_none()).count();
                let hidden = stored_hidden::read(&session.dir, &session.manifest, entry.step);
                let width = session.points.len() * session.manifest.model.d_model;
                match hidden {
                    Err(e) => problems.push(e.to_string()),
                    Ok(h) if h.iter().any(|l| l.len() != width) => problems.push(format!(
                        "{}: does not hold {} points of width {}",
                        ckpt.join(HIDDEN).display(),
                        session.points.len(),
                        session.manifest.model.d_model
                    )),
                    Ok(_) => {}
                }
                if problems.len() > before {
                    damaged_steps.push(entry.step);
                }
                continue;
            }
            let mut names = vec![SNAPSHOT, WEIGHTS];
            if entry.checksum(OPTIMIZER).is_some() || ckpt.join(OPTIMIZER).symlink_metadata().is_ok() {
                names.push(OPTIMIZER);
            }
            files += names.len();
            unverified += names.iter().filter(|n| entry.checksum(n).is_none()).count();
            problems.extend(check_tensors(&session, entry.step, names.contains(&OPTIMIZER)));
        }
        if problems.len() > before {
            damaged_steps.push(entry.step);
        }
    }
    if let Some(resume) = session.manifest.resume {
        let optimizer = layout.optimizer(resume.step);
        let entry = session.manifest.checkpoints.iter().find(|c| c.step == resume.step);
        match entry {
            None => problems.push(format!(
                "{}: resumes from step {}, which is not a listed checkpoint",
                layout.manifest().display(),
                resume.step
            )),
            // One that is listed or there was checked above.
            Some(e) if e.checksum(OPTIMIZER).is_none() && optimizer.symlink_metadata().is_err() => problems
                .push(format!("{}: missing, and `train --resume` continues from this checkpoint", optimizer.display())),
            Some(_) => {}
        }
    }
    let checkpoints = session.manifest.checkpoints.len();
    let unverified = match unverified {
        0 => String::new(),
        n => format!("; {n} without a recorded checksum, written before checksums"),
    };
    let summary = if problems.is_empty() {
        format!("{}: intact ({checkpoints} checkpoints, {files} files verified{unverified})", dir.display())
    } else {
        let steps: Vec<String> = damaged_steps.iter().map(|s| s.to_string()).collect();
        let which = if steps.is_empty() { String::new() } else { format!(" (steps {})", steps.join(", ")) };
        format!(
            "{}: damaged: {} problem(s), {} of {checkpoints} checkpoints damaged{which}",
            dir.display(),
            problems.len(),
            damaged_steps.len()
        )
    };
    CheckReport { problems, summary }
}

/// The problems of checkpoint `step`'s weights, read into the session's model (checksum, finite
/// values, every tensor with its shape), and of its optimizer moments when `optimizer`.
fn check_tensors(session: &Session, step: usize, optimizer: bool) -> Vec<String> {
    let (root, manifest, cpu) = (&session.dir, &session.manifest, &candle_core::Device::Cpu);
    let model = SavedTensors::read(root, manifest, step, WEIGHTS, cpu)
        .and_then(|weights| LoadedModel::load(&manifest.model, &weights, cpu).map(|m| (weights.file, m)));
    let moments = optimizer.then(|| SavedTensors::read(root, manifest, step, OPTIMIZER, cpu));
    let mut problems = Vec::new();
    let model = model.map_err(|e| problems.push(e.to_string())).ok();
    match (moments, model) {
        (Some(Err(e)), _) => problems.push(e.to_string()),
        // The moments' shapes are the parameters'; without a model there is nothing to hold them to.
        (Some(Ok(moments)), Some((file, model))) => {
            if let Err(e) = moment_shapes(&moments, &file, &model) {
                problems.push(e.to_string());
            }
        }
        _ => {}
    }
    problems
}

/// Checks that `moments` hold both AdamW moments of each of `model`'s parameters.
fn moment_shapes(moments: &SavedTensors, weights: &Path, model: &LoadedModel) -> Result<(), WeightsError> {
    let shapes = model.parameter_shapes().map_err(|source| WeightsError::Load {
        file: weights.to_path_buf(),
        name: "the model's parameters".into(),
        source: Box::new(source),
    })?;
    for (name, shape) in shapes {
        moments.get(&format!("{name}.m"), &shape)?;
        moments.get(&format!("{name}.v"), &shape)?;
    }
    Ok(())
}
