//! From the flags of a training command to a validated [`RunConfig`]: everything a run needs is
//! checked here, before any work, so the app and headless training refuse bad input alike.

use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ErrorKind, Kind};
use crate::experiment::{Experiment, SpecError};
use crate::model::config::{ConfigError, ModelConfig};
use crate::model::device::DeviceError;
use crate::model::DeviceChoice;
use crate::session::reader::{read_manifest, restartable};
use crate::session::{SessionDir, SessionError};
use crate::train::RunConfig;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A flag or value that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    /// An experiment spec file that is invalid.
    #[error("{}: {source}", file.display())]
    SpecFile { file: PathBuf, source: SpecError },
    #[error("cannot read experiment {}: {source}", file.display())]
    SpecRead { file: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Model(#[from] ConfigError),
    /// A configuration that validates field by field but cannot fit this machine.
    #[error("{0}")]
    TooBig(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl Kind for PrepareError {
    fn kind(&self) -> ErrorKind {
        match self {
            PrepareError::Usage(_) | PrepareError::SpecRead { .. } => ErrorKind::Usage,
            PrepareError::SpecFile { .. }
            | PrepareError::Spec(_)
            | PrepareError::Model(_)
            | PrepareError::TooBig(_) => ErrorKind::BadData,
            PrepareError::Device(e) => e.kind(),
            PrepareError::Session(e) => e.kind(),
        }
    }
}

type Result<T> = std::result::Result<T, PrepareError>;

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(PrepareError::Usage(msg.into()))
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Experiment spec (TOML); the embedded default when absent.
    #[arg(long, value_name = "FILE")]
    pub experiment: Option<PathBuf>,
    /// Overrides the spec's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// auto, cpu, cuda or cuda:N [default: auto].
    #[arg(long)]
    pub device: Option<String>,
    /// Overrides the spec's train.steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Session directory (default: sessions/<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Session name under sessions/ (default: date and time).
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the session in DIR from its last checkpoint (same experiment, optimizer state
    /// and data stream).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["experiment", "seed", "out", "name"])]
    pub resume: Option<PathBuf>,
    /// Stop after this step, saving a checkpoint, as Ctrl-C does.
    #[arg(long, hide = true)]
    pub stop_at: Option<usize>,
}

impl RunArgs {
    /// The first training flag given, as the user typed it.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (self.experiment.is_some(), "--experiment"),
            (self.seed.is_some(), "--seed"),
            (self.device.is_some(), "--device"),
            (self.steps.is_some(), "--steps"),
            (self.out.is_some(), "--out"),
            (self.name.is_some(), "--name"),
            (self.resume.is_some(), "--resume"),
            (self.stop_at.is_some(), "--stop-at"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

/// Training flags may come before `train` or after it (`clusterscope --steps 10 train`): both
/// count. The same flag given twice with different values is refused rather than one winning.
pub fn merge_run_args(top: RunArgs, sub: RunArgs) -> Result<RunArgs> {
    fn pick<T: PartialEq + std::fmt::Debug>(flag: &str, a: Option<T>, b: Option<T>) -> Result<Option<T>> {
        match (a, b) {
            (Some(a), Some(b)) if a != b => {
                usage(format!("{flag} given twice, as {a:?} before `train` and {b:?} after it"))
            }
            (a, b) => Ok(b.or(a)),
        }
    }
    let merged = RunArgs {
        experiment: pick("--experiment", top.experiment, sub.experiment)?,
        seed: pick("--seed", top.seed, sub.seed)?,
        device: pick("--device", top.device, sub.device)?,
        steps: pick("--steps", top.steps, sub.steps)?,
        out: pick("--out", top.out, sub.out)?,
        name: pick("--name", top.name, sub.name)?,
        resume: pick("--resume", top.resume, sub.resume)?,
        stop_at: pick("--stop-at", top.stop_at, sub.stop_at)?,
    };
    // clap checks these conflicts within one level only.
    if merged.resume.is_some() {
        let others = [
            (merged.experiment.is_some(), "--experiment"),
            (merged.seed.is_some(), "--seed"),
            (merged.out.is_some(), "--out"),
            (merged.name.is_some(), "--name"),
        ];
        if let Some((_, flag)) = others.iter().find(|(given, _)| *given) {
            return usage(format!("--resume cannot be used with {flag}: a resumed run keeps its session's settings"));
        }
    }
    Ok(merged)
}

fn parse_device(s: &str) -> Result<DeviceChoice> {
    Ok(s.parse::<DeviceChoice>()?)
}

/// A `--name` is one plain directory name under `sessions/`: never empty, never a path.
fn session_name(name: &str) -> Result<&str> {
    let plain = !name.trim().is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if plain {
        Ok(name)
    } else {
        usage(format!("--name {name:?}: a session name is one directory name under sessions/ (no `/`, not `..`)"))
    }
}

/// Validates everything a training run needs up front, so bad input fails before any work.
pub fn prepare(args: &RunArgs) -> Result<RunConfig> {
    if let Some(dir) = &args.resume {
        return prepare_resume(args, dir);
    }
    let experiment = load_experiment(args.experiment.as_deref(), args.seed)?;
    let device = parse_device(args.device.as_deref().unwrap_or("auto"))?;
    let model = model_for(&experiment)?;
    let steps = args.steps.unwrap_or(experiment.default_steps());
    if steps == 0 {
        return usage("--steps 0: need at least 1 step");
    }
    phased_steps(&experiment, steps)?;
    let out_dir = match (&args.out, &args.name) {
        (Some(dir), _) => dir.clone(),
        (None, Some(name)) => Path::new("sessions").join(session_name(name)?),
        (None, None) => Path::new("sessions").join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()),
    };
    // Checked here so every way of training refuses alike; the writer refuses again at creation.
    // A session that died before its first checkpoint holds nothing to keep: it starts again.
    if SessionDir::new(&out_dir).manifest().exists() {
        if !restartable(&out_dir) {
            return Err(SessionError::Exists(out_dir).into());
        }
    } else {
        SessionDir::new(&out_dir).check_free()?;
    }
    Ok(RunConfig {
        experiment: Arc::new(experiment),
        model,
        device,
        steps,
        out_dir,
        resume: false,
        stop_at: args.stop_at,
    })
}

fn prepare_resume(args: &RunArgs, dir: &Path) -> Result<RunConfig> {
    let manifest = read_manifest(dir)?;
    if manifest.analyzed.is_some() {
        return usage(format!(
            "{}: made by `analyze` from pretrained models; it has no training to resume",
            dir.display()
        ));
    }
    let experiment = Experiment::from_toml(&manifest.experiment, None).map_err(|e| {
        SessionError::corrupt(&SessionDir::new(dir).manifest(), format!("stored experiment is invalid: {e}"))
    })?;
    let device = parse_device(args.device.as_deref().unwrap_or("auto"))?;
    let steps = args.steps.unwrap_or(manifest.total_steps);
    // Killed before its first checkpoint: nothing to go on from, so the run starts again in place
    // with the spec it was started with.
    let fresh = restartable(dir);
    phased_steps(&experiment, steps)?;
    let done = manifest.resume.map_or(0, |r| r.step);
    if steps <= done {
        return usage(format!(
            "{}: already trained {done} of {steps} steps (pass --steps to train further)",
            dir.display()
        ));
    }
    Ok(RunConfig {
        experiment: Arc::new(experiment),
        model: manifest.model,
        device,
        steps,
        out_dir: dir.to_path_buf(),
        resume: !fresh,
        stop_at: args.stop_at,
    })
}

/// A run in phases is as long as its phases together: `--steps` may not say otherwise.
fn phased_steps(experiment: &Experiment, steps: usize) -> Result<()> {
    let fixed = experiment.default_steps();
    if experiment.phases.is_empty() || steps == fixed {
        return Ok(());
    }
    usage(format!(
        "--steps {steps}: this experiment's phases fix the run at {fixed} steps (change their `steps`, or use --stop-at)"
    ))
}

/// The model an experiment's `[model]` section asks for, checked as training would check it and
/// against the memory this machine has, so `spec` and `train` refuse alike.
pub fn model_for(experiment: &Experiment) -> Result<ModelConfig> {
    let model = ModelConfig::from_spec(&experiment.spec.model, experiment.tokenizer.len(), experiment.max_sequence_len)
        .map_err(PrepareError::Model)?;
    for p in &experiment.phases {
        if let Some(layer) = p.align.as_ref().and_then(|a| a.layer).filter(|&l| l > model.layers) {
            return Err(SpecError::Invalid {
                field: format!("phases[{}].align.layer", p.index),
                value: layer.to_string(),
                reason: format!("the model has layers 0..={} (0 = embeddings)", model.layers),
            }
            .into());
        }
    }
    let train = &experiment.spec.train;
    let points = experiment.num_tasks() * (train.analysis_per_task + train.unseen_per_task);
    let stored = 4 * points as u128 * (model.layers as u128 + 1) * model.d_model as u128;
    let needed = model.training_bytes(train.batch_size, experiment.max_sequence_len) + stored;
    if let Some(total) = host_memory_bytes() {
        if needed > u128::from(total) {
            return Err(PrepareError::TooBig(format!(
                "train.batch_size = {}, model.d_model = {}, model.layers = {}: training would need about {} of memory, this machine has {}",
                train.batch_size,
                model.d_model,
                model.layers,
                gib(needed),
                gib(u128::from(total))
            )));
        }
    }
    Ok(model)
}

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Physical memory, from /proc/meminfo; `None` where it cannot be read (then nothing is refused
/// for size alone).
fn host_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

pub fn load_experiment(path: Option<&Path>, seed: Option<u64>) -> Result<Experiment> {
    match path {
        None => Ok(Experiment::default_experiment(seed)?),
        Some(p) => {
            let text = read_spec(p)?;
            Experiment::from_toml(&text, seed)
                .map_err(|source| PrepareError::SpecFile { file: p.to_path_buf(), source })
        }
    }
}

/// A spec file, read only up to the size a spec may have: a huge or endless file (a device, a
/// FIFO fed forever) is refused rather than read into memory.
pub fn read_spec(p: &Path) -> Result<String> {
    use crate::experiment::limits::MAX_SPEC_BYTES;
    use std::io::Read;
    let err = |source| PrepareError::SpecRead { file: p.to_path_buf(), source };
    let file = std::fs::File::open(p).map_err(err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes).map_err(err)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return usage(format!("{}: a spec file may be at most {} MiB", p.display(), MAX_SPEC_BYTES >> 20));
    }
    String::from_utf8(bytes).map_err(|_| err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")))
}
