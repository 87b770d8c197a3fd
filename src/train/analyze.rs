//! The producer behind `analyze`: its checkpoints are pretrained models read from disk, in the
//! order given, instead of steps of training. Each model's hidden states over a labelled prompt
//! set go to the same analysis thread a training run uses, and are stored in the checkpoint, so
//! everything that reads a session (show, replay, export, compare, t-SNE) works unchanged
//! without loading the model again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::analyser::{lock, spawn_analyser, Job, Labels};
use super::error::TrainError;
use super::extract::{hidden_states, ReadAt, Tokens};
use super::protocol::AnalyserEvent;
use super::stored_hidden;
use crate::experiment::prompts::{Prompt, PromptSet, Template};
use crate::model::pretrained::{HfConfig, HfTokenizer, LoadOptions, ModelFiles, Pretrained, WeightDType};
use crate::model::{DeviceChoice, ModelConfig};
use crate::record::{PointInfo, Snapshot};
use crate::session::format::{AnalyzedModel, AnalyzedSource, RunStatus};
use crate::session::{Manifest, SessionWriter};

/// What `analyze` is asked to do.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    /// Model directories, in checkpoint order.
    pub models: Vec<PathBuf>,
    /// A JSONL file, or `builtin`.
    pub data: PathBuf,
    pub out_dir: PathBuf,
    pub device: DeviceChoice,
    pub template: Template,
    pub position: ReadAt,
    pub dtype: Option<WeightDType>,
    /// Seeds k-means (and later t-SNE layouts of the session).
    pub seed: u64,
}

/// How far `analyze` has got, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalyzeProgress {
    /// Everything was checked and the session created: `models` models, `points` prompts.
    Started { models: usize, points: usize, device: String, out_dir: PathBuf },
    /// Model `index` is being loaded.
    Loading { index: usize, label: String },
    /// Model `index`'s hidden states are read and queued for analysis.
    Extracted { index: usize, label: String, tokens: usize, seconds: f64 },
}

/// How an analysis ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeSummary {
    /// What each model is called, in checkpoint order.
    pub labels: Vec<String>,
    pub seconds: f64,
    pub out_dir: PathBuf,
}

/// One model as checked before anything is written.
struct Checked {
    dir: PathBuf,
    label: String,
    config: HfConfig,
}

/// Runs the analysis on this thread (the analysis of one model overlaps the extraction of the
/// next). `progress` hears this thread's steps, `on_analyser` each checkpoint once saved.
pub fn analyze<P, F>(config: &AnalyzeConfig, mut progress: P, on_analyser: F) -> Result<AnalyzeSummary, TrainError>
where
    P: FnMut(AnalyzeProgress),
    F: FnMut(AnalyserEvent) -> bool + Send + 'static,
{
    let start = Instant::now();
    let set = PromptSet::load(&config.data)?;
    let models = check_models(&config.models)?;
    let device = config.device.open()?;
    // Points are stored seen first, then unseen, like a training run's analysis set.
    let prompts: Vec<&Prompt> =
        set.prompts.iter().filter(|p| p.seen).chain(set.prompts.iter().filter(|p| !p.seen)).collect();
    let task_of = |p: &Prompt| set.tasks.iter().position(|t| *t == p.task).unwrap_or(0);
    let labels: Vec<usize> = prompts.iter().map(|p| task_of(p)).collect();
    let seen = prompts.iter().filter(|p| p.seen).count();
    let points: Vec<PointInfo> = prompts
        .iter()
        .zip(&labels)
        .map(|(p, &task)| PointInfo {
            task,
            seen: p.seen,
            instruction: p.instruction.clone(),
            input: p.input.clone().unwrap_or_default(),
            output: String::new(),
        })
        .collect();
    let first = &models[0].config;
    let shape = ModelConfig {
        vocab: first.vocab_size,
        context: first.context,
        d_model: first.hidden_size,
        layers: first.layers,
        heads: first.heads,
        d_ff: first.intermediate,
    };
    let source = AnalyzedSource {
        models: models
            .iter()
            .map(|c| AnalyzedModel {
                label: c.label.clone(),
                dir: c.dir.clone(),
                architecture: c.config.arch.hf_name().to_string(),
                parameters: 0,
            })
            .collect(),
        data: set.origin.clone(),
        template: config.template.text().to_string(),
        position: match config.position {
            ReadAt::Last => "last",
            ReadAt::Mean => "mean",
        }
        .into(),
        dtype: String::new(),
    };
    let manifest = Manifest::analyzed(&config.out_dir, source, &shape, set.tasks.clone(), &device.name, config.seed);
    let writer = Arc::new(Mutex::new(SessionWriter::create(&config.out_dir, manifest, &points)?));
    let labels = Labels {
        seen: labels[..seen].to_vec(),
        unseen: labels[seen..].to_vec(),
        num_tasks: set.tasks.len(),
        seed: config.seed,
    };
    let analyser = spawn_analyser(labels, writer.clone(), None, on_analyser)?;
    progress(AnalyzeProgress::Started {
        models: models.len(),
        points: points.len(),
        device: device.name.clone(),
        out_dir: config.out_dir.clone(),
    });
    let options = LoadOptions { device: device.device.clone(), dtype: config.dtype };
    let mut outcome = Ok(());
    for (index, checked) in models.iter().enumerate() {
        if analyser.failed() {
            break;
        }
        progress(AnalyzeProgress::Loading { index, label: checked.label.clone() });
        let extracted = Instant::now();
        let job = extract_one(checked, index, &options, &prompts, seen, config, &writer, start);
        match job {
            Ok((job, tokens, (parameters, dtype))) => {
                lock(&writer).update_analyzed(|a| {
                    a.dtype = dtype;
                    if let Some(m) = a.models.get_mut(index) {
                        m.parameters = parameters;
                    }
                });
                let seconds = extracted.elapsed().as_secs_f64();
                progress(AnalyzeProgress::Extracted { index, label: checked.label.clone(), tokens, seconds });
                if analyser.jobs.send(job).is_err() {
                    break;
                }
            }
            Err(e) => {
                lock(&writer).abandon_checkpoint(index);
                outcome = Err(e);
                break;
            }
        }
    }
    let failure = analyser.finish();
    let seconds = start.elapsed().as_secs_f64();
    let (status, reason) = match (&outcome, &failure) {
        (Err(e), _) => (RunStatus::Failed, Some(e.to_string())),
        (_, Some(f)) => (RunStatus::Failed, Some(f.clone())),
        _ => (RunStatus::Finished, None),
    };
    lock(&writer).finish(status, reason, seconds)?;
    outcome?;
    if let Some(message) = failure {
        return Err(TrainError::Analysis(message));
    }
    Ok(AnalyzeSummary {
        labels: models.iter().map(|m| m.label.clone()).collect(),
        seconds,
        out_dir: config.out_dir.clone(),
    })
}

/// Every model's files located and its config read, before anything is written: a missing
/// tokenizer in the last model is found before the first is analysed. One session holds models
/// of one shape, as its layers are compared checkpoint to checkpoint.
fn check_models(dirs: &[PathBuf]) -> Result<Vec<Checked>, TrainError> {
    if dirs.is_empty() {
        return Err(TrainError::Models("give at least one --model DIR".into()));
    }
    let mut checked: Vec<Checked> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let files = ModelFiles::locate(dir)?;
        let config = HfConfig::load(&files.config)?;
        for shard in &files.weights {
            crate::model::pretrained::files::check_safetensors(shard)?;
        }
        HfTokenizer::load(&files.tokenizer, config.vocab_size)?;
        if let Some(first) = checked.first() {
            let (a, b) = (&first.config, &config);
            if (a.layers, a.hidden_size) != (b.layers, b.hidden_size) {
                return Err(TrainError::Models(format!(
                    "{} has {} layers of width {}, {} has {} of width {}; one session compares models of one shape",
                    first.dir.display(),
                    a.layers,
                    a.hidden_size,
                    dir.display(),
                    b.layers,
                    b.hidden_size
                )));
            }
        }
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        checked.push(Checked { label: label(&dir, &checked), dir, config });
    }
    Ok(checked)
}

/// The directory's name, made unique among `before` by the names of its parents
/// (`pythia/step1000` beside `other/step1000`).
fn label(dir: &Path, before: &[Checked]) -> String {
    let parts: Vec<String> =
        dir.components().rev().map(|c| c.as_os_str().to_string_lossy().into_owned()).filter(|c| c != "/").collect();
    for depth in 1..=parts.len().max(1) {
        let name = parts.iter().take(depth).rev().cloned().collect::<Vec<_>>().join("/");
        if !before.iter().any(|c| c.label == name) {
            return name;
        }
    }
    format!("{} ({})", dir.display(), before.len() + 1)
}

/// Loads model `index`, reads its hidden states over `prompts` and stores them in the pending
/// checkpoint: the job for the analysis thread, the tokens read, and the model's record.
#[allow(clippy::too_many_arguments)]
fn extract_one(
    checked: &Checked,
    index: usize,
    options: &LoadOptions,
    prompts: &[&Prompt],
    seen: usize,
    config: &AnalyzeConfig,
    writer: &Arc<Mutex<SessionWriter>>,
    start: Instant,
) -> Result<(Job, usize, (usize, String)), TrainError> {
    let model = Pretrained::load(&checked.dir, options)?;
    let tokens = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| tokenize(&model, &config.template, p, i))
        .collect::<Result<Vec<Tokens>, TrainError>>()?;
    let n_tokens = tokens.iter().map(|t| t.ids.len()).sum();
    let what = format!("reading the hidden states of {}", checked.dir.display());
    let layers =
        hidden_states(&model, &tokens, config.position, 0, &options.device).map_err(TrainError::model(&what))?;
    let d = model.config().hidden_size;
    let layers: Vec<Vec<f32>> = layers
        .iter()
        .map(|t| t.flatten_all()?.to_vec1::<f32>())
        .collect::<candle_core::Result<_>>()
        .map_err(TrainError::model(&what))?;
    let pending = lock(writer).begin_checkpoint(index)?;
    stored_hidden::write(&pending.hidden(), &layers, prompts.len(), d)
        .map_err(TrainError::model(format!("writing {}", pending.hidden().display())))?;
    let (seen_rows, unseen_rows): (Vec<Vec<f32>>, Vec<Vec<f32>>) = layers
        .into_iter()
        .map(|mut l| {
            let u = l.split_off(seen * d);
            (l, u)
        })
        .unzip();
    let snapshot = Snapshot {
        step: index,
        loss: 0.0,
        seen_accuracy: 0.0,
        unseen_accuracy: 0.0,
        elapsed_s: start.elapsed().as_secs_f64(),
        correct: Vec::new(),
        analysis: Default::default(),
    };
    let record = (model.parameters(), model.dtype().as_str().to_string());
    Ok((Job { snapshot, seen: seen_rows, unseen: unseen_rows, resume: None }, n_tokens, record))
}

/// Prompt `i` in `template`, tokenised by `model`'s tokenizer, with the tokens of its
/// instruction found from the tokenizer's byte offsets.
fn tokenize(model: &Pretrained, template: &Template, p: &Prompt, i: usize) -> Result<Tokens, TrainError> {
    let rendered = template.render(p);
    let (ids, instruction) = model.tokenizer().encode_span(&rendered.text, rendered.instruction.clone())?;
    let Some(instruction) = instruction else {
        return Err(TrainError::Prompt {
            index: i,
            instruction: p.instruction.clone(),
            reason: format!("{} gives its instruction no tokens", model.tokenizer().path().display()),
        });
    };
    if ids.len() > model.config().context {
        return Err(TrainError::Prompt {
            index: i,
            instruction: p.instruction.clone(),
            reason: format!("{} tokens, more than the model's context of {}", ids.len(), model.config().context),
        });
    }
    Ok(Tokens { ids, instruction })
}
