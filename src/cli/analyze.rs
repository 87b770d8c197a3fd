//! `clusterscope analyze`: pretrained models from disk analysed into an ordinary session, with a
//! progress bar on stderr and the scores of the deepest layers on stdout.

use std::path::PathBuf;
use std::sync::mpsc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::analysis::score_table;
use crate::experiment::prompts::Template;
use crate::model::DeviceChoice;
use crate::record::Snapshot;
use crate::train::analyze::{analyze, AnalyzeConfig, AnalyzeProgress};
use crate::train::extract::ReadAt;
use crate::train::{AnalyserEvent, TrainError};

#[derive(Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// A local Hugging Face checkout (config.json, *.safetensors, tokenizer.json); give several
    /// to compare them: each becomes a checkpoint, in the order given.
    #[arg(long = "model", value_name = "DIR", required = true)]
    pub models: Vec<PathBuf>,
    /// Labelled prompts, JSONL: {"instruction", "task", "split": "seen"|"unseen", "input"}; or
    /// `builtin` (8 everyday tasks, 34 phrasings each, 6 held out).
    #[arg(long, value_name = "FILE", default_value = "builtin")]
    pub data: PathBuf,
    /// The session directory to write.
    #[arg(long, value_name = "SESSION")]
    pub out: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Where the prompt's parts go: {instruction} once, {input} at most once; `\n` is a newline.
    #[arg(long, default_value = "{instruction}")]
    pub template: String,
    /// Read each hidden state at the instruction's last token, or average over its tokens.
    #[arg(long, default_value = "last", value_parser = ["last", "mean"])]
    pub position: String,
    /// Compute in f32, bf16 or f16 (default: f32 on the CPU, the weights' own dtype on a GPU).
    #[arg(long)]
    pub dtype: Option<crate::model::pretrained::WeightDType>,
    /// Seeds k-means and t-SNE layouts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl AnalyzeArgs {
    fn config(&self) -> Result<AnalyzeConfig, TrainError> {
        Ok(AnalyzeConfig {
            models: self.models.clone(),
            data: self.data.clone(),
            out_dir: self.out.clone(),
            device: self.device,
            template: Template::new(&self.template)?,
            position: if self.position == "mean" { ReadAt::Mean } else { ReadAt::Last },
            dtype: self.dtype,
            seed: self.seed,
        })
    }
}

/// Runs the analysis, showing its progress, and prints each model's scores as it is saved.
pub fn run(args: &AnalyzeArgs) -> Result<(), CliError> {
    let config = args.config()?;
    let bar = ProgressBar::new(config.models.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} models {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let (tx, rx) = mpsc::channel::<AnalyserEvent>();
    let printer_bar = bar.clone();
    // Saved checkpoints are printed from their own thread, as the analysis thread sends them.
    let printer = std::thread::spawn(move || {
        let mut saved: Vec<Snapshot> = Vec::new();
        let mut failed = None;
        for event in rx {
            match event {
                AnalyserEvent::Checkpoint(s) => {
                    printer_bar.inc(1);
                    saved.push(*s);
                }
                AnalyserEvent::Failed(f) => failed = Some(f),
            }
        }
        (saved, failed)
    });
    let summary = analyze(
        &config,
        |p| match p {
            AnalyzeProgress::Started { models, points, device, out_dir } => bar.suspend(|| {
                eprintln!("analysing {models} model(s) on {device} over {points} prompts -> {}", out_dir.display());
            }),
            AnalyzeProgress::Loading { label, .. } => bar.set_message(format!("loading {label}")),
            AnalyzeProgress::Extracted { label, tokens, seconds, .. } => {
                let rate = tokens as f64 / seconds.max(1e-9);
                bar.set_message(format!("{label}: {tokens} tokens in {seconds:.1} s ({rate:.0} tokens/s); analysing"));
            }
        },
        move |e| tx.send(e).is_ok(),
    );
    let (saved, failed) = printer.join().unwrap_or_default();
    bar.finish_and_clear();
    let summary = summary?;
    if let Some(f) = failed {
        return Err(CliError::Run(f));
    }
    for s in &saved {
        println!("{}", summary.labels.get(s.step).map_or("?", String::as_str));
        println!("{}", score_table(&s.analysis));
    }
    println!(
        "analysed {} model(s) in {:.1} s -> {} (open it with: clusterscope replay {})",
        summary.labels.len(),
        summary.seconds,
        summary.out_dir.display(),
        summary.out_dir.display()
    );
    Ok(())
}
