//! The `clusterscope` command line: the app, headless training, benchmarks.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clusterscope::experiment::{Experiment, SpecError};
use clusterscope::model::config::ModelConfig;
use clusterscope::model::DeviceChoice;
use clusterscope::train::bench::{bench_train, BenchConfig};

use clusterscope::session::reader::read_manifest;
use clusterscope::session::{export, figures, probe_report, summary, Session, SessionError};
use clusterscope::train::headless;
use clusterscope::train::probe::ProbeEngine;
use clusterscope::train::RunConfig;
use clusterscope::ui::terminal::{self, UiError, UiOptions};

#[derive(Parser, Debug)]
#[command(
    name = "clusterscope",
    version,
    about = "Watch a Transformer learn to follow instructions: hidden states clustering by task"
)]
struct Cli {
    /// CPU threads for the model (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Colour theme for the app (dark, light, high-contrast, or a themes/NAME.toml).
    #[arg(long, global = true)]
    theme: Option<String>,
    /// Append each key press's key-to-frame latency (ms) to FILE.
    #[arg(long, global = true, hide = true, value_name = "FILE")]
    latency_log: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Train a model on an experiment.
    Train {
        /// Train without the terminal app: progress on stderr, summary on stdout.
        #[arg(long)]
        headless: bool,
        /// Print the final summary as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Open a saved session in the app: every checkpoint at once, no training.
    Replay { dir: PathBuf },
    /// Summarise a saved session: manifest and per-checkpoint scores.
    Show {
        dir: PathBuf,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Export a checkpoint for Python: .npy arrays, CSV and JSON.
    Export {
        dir: PathBuf,
        /// Checkpoint step, or `last`.
        #[arg(long, default_value = "last")]
        checkpoint: String,
        /// Layer number, or `all`.
        #[arg(long, default_value = "all")]
        layer: String,
        /// Directory for the data files (.npy, CSV, JSON).
        #[arg(long, value_name = "DIR", required_unless_present = "figures")]
        out: Option<PathBuf>,
        /// Directory for figures (PNG and SVG): score curves and every layer's scatter.
        #[arg(long, value_name = "DIR")]
        figures: Option<PathBuf>,
        /// Device for recomputing hidden states from the weights.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Probe a saved checkpoint with an instruction: where it lands, what the model answers,
    /// which words the answer rests on.
    Probe {
        dir: PathBuf,
        /// Instruction words (quote them).
        instruction: String,
        /// Input symbol.
        #[arg(long)]
        input: String,
        /// Checkpoint step, or `last`.
        #[arg(long, default_value = "last")]
        checkpoint: String,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Print an experiment spec (the embedded default unless --experiment is given), validated.
    Spec {
        #[arg(long, value_name = "FILE")]
        experiment: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Training steps per second on random tokens.
    Train(BenchArgs),
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Experiment spec (TOML); the embedded default when absent.
    #[arg(long, value_name = "FILE")]
    experiment: Option<PathBuf>,
    /// Overrides the spec's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Overrides the spec's train.steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Session directory (default: sessions/<name>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Session name under sessions/ (default: date and time).
    #[arg(long)]
    name: Option<String>,
    /// Continue the session in DIR from its last checkpoint (same experiment, optimizer state
    /// and data stream).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["experiment", "seed", "out", "name"])]
    resume: Option<PathBuf>,
    /// Stop after this step, saving a checkpoint, as Ctrl-C does.
    #[arg(long, hide = true)]
    stop_at: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct BenchArgs {
    /// Model preset (tiny, small, default); the flags below override it.
    #[arg(long, default_value = "default")]
    preset: String,
    #[arg(long)]
    d_model: Option<usize>,
    #[arg(long)]
    layers: Option<usize>,
    #[arg(long)]
    heads: Option<usize>,
    #[arg(long, default_value_t = 64)]
    vocab: usize,
    #[arg(long, default_value_t = 64)]
    ctx: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, default_value = "cpu")]
    device: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON line on stdout.
    #[arg(long)]
    json: bool,
    /// Also write initial weights, tokens and losses to DIR (numerics check against PyTorch).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

/// Errors in what the user gave us (exit code 2), as opposed to failures while running (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

fn main() -> ExitCode {
    clusterscope::alloc::keep_freed_memory();
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        // Read by candle's CPU kernels and rayon's pool; set before either starts.
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            eprintln!("error: {msg}");
            if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<SpecError>().is_some()
                || e.downcast_ref::<SessionError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let ui = UiOptions { theme: cli.theme.clone(), themes_dir: None, latency_log: cli.latency_log.clone() };
    match cli.command {
        None => app(terminal::run_live(prepare(&cli.run)?, &ui)),
        Some(Cmd::Train { headless: false, json: _, run }) => app(terminal::run_live(prepare(&run)?, &ui)),
        Some(Cmd::Train { headless: true, json, run }) => headless::train(&prepare(&run)?, json),
        Some(Cmd::Replay { dir }) => {
            let session = Session::open(&dir).map_err(|e| UsageError(e.to_string()))?;
            app(terminal::run_replay(&session, &ui))
        }
        Some(Cmd::Bench { what: BenchCmd::Train(args) }) => bench(&args),
        Some(Cmd::Show { dir, json }) => {
            let session = Session::open(&dir).map_err(|e| UsageError(e.to_string()))?;
            if json {
                println!("{}", serde_json::to_string(&summary::summary_json(&session))?);
            } else {
                print!("{}", summary::summary_text(&session));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Export { dir, checkpoint, layer, out, figures: fig_dir, device }) => {
            let session = Session::open(&dir).map_err(|e| UsageError(e.to_string()))?;
            let checkpoint = pick_checkpoint(&session, &checkpoint)?;
            let step = session.snapshots[checkpoint].step;
            if let Some(fig_dir) = fig_dir {
                let files = figures::render_figures(&session, checkpoint, &fig_dir)?;
                eprintln!("wrote {} figures to {} (checkpoint step {step})", files.len(), fig_dir.display());
            }
            let Some(out) = out else { return Ok(ExitCode::SUCCESS) };
            let layer = match layer.as_str() {
                "all" => None,
                l => Some(
                    l.parse::<usize>()
                        .map_err(|_| UsageError(format!("--layer {l:?}: expected a layer number or `all`")))?,
                ),
            };
            let device = parse_device(&device)?;
            let device = device.open().map_err(|e| UsageError(e.to_string()))?;
            let files =
                export::export(&session, &export::ExportOptions { checkpoint, layer, out: out.clone() }, &device)?;
            eprintln!("wrote {} files to {} (checkpoint step {step})", files.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Probe { dir, instruction, input, checkpoint, json, device }) => {
            let session = Session::open(&dir).map_err(|e| UsageError(e.to_string()))?;
            let index = pick_checkpoint(&session, &checkpoint)?;
            let exp = Arc::new(session.experiment()?);
            let device = parse_device(&device)?;
            let snap = &session.snapshots[index];
            let text = format!("{instruction} | {input}");
            let mut engine =
                ProbeEngine::new(exp.clone(), session.manifest.model.clone(), &dir, device).map_err(UsageError)?;
            let answer = engine.run(&text, snap.step).map_err(UsageError)?;
            let report = probe_report::report(&exp, snap, &text, &answer);
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Spec { experiment }) => {
            let exp = load_experiment(experiment.as_deref(), None)?;
            for w in &exp.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", exp.spec.to_toml().context("cannot print the spec")?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_device(s: &str) -> Result<DeviceChoice> {
    s.parse().map_err(|e: clusterscope::model::device::DeviceError| UsageError(e.to_string()).into())
}

/// Validates everything a training run needs up front, so bad input fails before any work.
fn prepare(args: &RunArgs) -> Result<RunConfig> {
    if let Some(dir) = &args.resume {
        return prepare_resume(args, dir);
    }
    let experiment = load_experiment(args.experiment.as_deref(), args.seed)?;
    let device = parse_device(&args.device)?;
    let model = ModelConfig::from_spec(&experiment.spec.model, experiment.tokenizer.len(), experiment.max_sequence_len)
        .map_err(|e| UsageError(e.to_string()))?;
    let steps = args.steps.unwrap_or(experiment.spec.train.steps);
    if steps == 0 {
        bail!(UsageError("--steps 0: need at least 1 step".into()));
    }
    let out_dir = match (&args.out, &args.name) {
        (Some(dir), _) => dir.clone(),
        (None, Some(name)) => Path::new("sessions").join(name),
        (None, None) => Path::new("sessions").join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()),
    };
    // Checked here so every way of training refuses alike; the writer refuses again at creation.
    if out_dir.join(clusterscope::session::format::MANIFEST).exists() {
        bail!(UsageError(SessionError::Exists(out_dir).to_string()));
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
    let manifest = read_manifest(dir).map_err(|e| UsageError(e.to_string()))?;
    let experiment = Experiment::from_toml(&manifest.experiment, None)
        .map_err(|e| UsageError(format!("{}: stored experiment is invalid: {e}", dir.display())))?;
    let device = parse_device(&args.device)?;
    let steps = args.steps.unwrap_or(manifest.total_steps);
    let done = manifest.resume.map_or(0, |r| r.step);
    if steps <= done {
        bail!(UsageError(format!(
            "{}: already trained {done} of {steps} steps (pass --steps to train further)",
            dir.display()
        )));
    }
    Ok(RunConfig {
        experiment: Arc::new(experiment),
        model: manifest.model,
        device,
        steps,
        out_dir: dir.to_path_buf(),
        resume: true,
        stop_at: args.stop_at,
    })
}

/// The app's result as an exit code: no terminal is the user's mistake (2), the rest failures.
fn app(result: Result<(), UiError>) -> Result<ExitCode> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ UiError::NotATerminal) => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// A checkpoint given as a step number or `last`, as an index into the session's snapshots.
fn pick_checkpoint(session: &Session, which: &str) -> Result<usize> {
    let found = match which {
        "last" => session.checkpoint_index(None),
        s => {
            let step: usize =
                s.parse().map_err(|_| UsageError(format!("--checkpoint {s:?}: expected a step number or `last`")))?;
            session.checkpoint_index(Some(step))
        }
    };
    found.ok_or_else(|| {
        let steps: Vec<String> = session.snapshots.iter().map(|s| s.step.to_string()).collect();
        let have = if steps.is_empty() { "none".to_string() } else { steps.join(", ") };
        UsageError(format!("{}: no checkpoint {which:?} (checkpoints at steps: {have})", session.dir.display())).into()
    })
}

fn load_experiment(path: Option<&Path>, seed: Option<u64>) -> Result<Experiment> {
    match path {
        None => Ok(Experiment::default_experiment(seed)?),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| UsageError(format!("cannot read experiment {}: {e}", p.display())))?;
            Experiment::from_toml(&text, seed).map_err(|e| UsageError(format!("{}: {e}", p.display())).into())
        }
    }
}

fn bench(args: &BenchArgs) -> Result<ExitCode> {
    let model = ModelConfig::preset(&args.preset, args.vocab, args.ctx)
        .and_then(|m| m.with_overrides(args.d_model, args.layers, args.heads, None))
        .map_err(|e| UsageError(e.to_string()))?;
    if args.steps == 0 || args.batch == 0 {
        bail!(UsageError("--steps and --batch must be at least 1".into()));
    }
    let device = parse_device(&args.device)?;
    let device = device.open().map_err(|e| UsageError(e.to_string()))?;
    let cfg = BenchConfig {
        model,
        batch: args.batch,
        steps: args.steps,
        warmup: args.warmup,
        seed: args.seed,
        export: args.export.clone(),
    };
    let result = bench_train(&cfg, &device).context("benchmark failed")?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "{:.2} steps/s, {:.0} tokens/s ({:.1} ms/step) on {}: d_model {}, {} layers, {} heads, vocab {}, ctx {}, batch {}",
            result.steps_per_s, result.tokens_per_s, result.step_ms, result.device, result.d_model, result.layers,
            result.heads, result.vocab, result.ctx, result.batch
        );
    }
    Ok(ExitCode::SUCCESS)
}
