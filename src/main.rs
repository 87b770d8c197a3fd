//! The `clusterscope` command line: the app, headless training, benchmarks.
//! Long because clap's derive keeps every command's flags and their help text here, beside the
//! one match that dispatches them.
// Errors end the process right after they are made, so their size costs nothing here.
#![allow(clippy::result_large_err)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clusterscope::cli::analyze::AnalyzeArgs;
use clusterscope::cli::bench::{bench_train, BenchArgs, BenchConfig};
use clusterscope::cli::compare::CompareArgs;
use clusterscope::cli::export::ProjectionArgs;
use clusterscope::cli::prepare::{load_experiment, merge_run_args, model_for, prepare, PrepareError, RunArgs};
use clusterscope::cli::study::{StudyArgs, StudyCliError};
use clusterscope::cli::sweep::{SweepAction, SweepArgs, SweepCliError};
use clusterscope::cli::{headless, CliError};
use clusterscope::error::{ErrorKind, Kind};
use clusterscope::experiment::prompts::Template;
use clusterscope::model::config::ModelConfig;
use clusterscope::model::device::DeviceError;
use clusterscope::model::DeviceChoice;
use clusterscope::report::{check, export, figures, probe_report, summary, ReportError};
use clusterscope::session::format::AnalyzedSource;
use clusterscope::session::{Session, SessionError};
use clusterscope::train::extract::ReadAt;
use clusterscope::train::pretrained_prober::PretrainedProber;
use clusterscope::train::prober::ProbeEngine;
use clusterscope::train::ProbeFault;
use clusterscope::ui::terminal::{self, PoolEnd, UiError, UiOptions};

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
    /// A grid of spec values times seeds, each point a session: run here or on Slurm.
    Sweep(SweepArgs),
    /// Built-in studies: arms x seeds of sessions, measured and summarised in a report.
    Study(StudyArgs),
    /// Analyse pretrained Hugging Face models from disk into a session (replay, export and
    /// compare it like a trained one).
    Analyze(AnalyzeArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Open a saved session in the app: every checkpoint at once, no training.
    Replay { dir: PathBuf },
    /// Compare 2 to 6 saved sessions in the app: curves overlaid, scatters side by side, final scores.
    Compare(CompareArgs),
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
        /// npy (.npy, CSV, JSON for Python) or tensorboard (the Embedding Projector's files).
        #[arg(long, default_value = "npy")]
        format: String,
        #[command(flatten)]
        projection: ProjectionArgs,
    },
    /// Probe a saved checkpoint with an instruction: where it lands, what the model answers,
    /// which words the answer rests on.
    Probe {
        dir: PathBuf,
        /// Instruction words (quote them).
        instruction: String,
        /// Input symbol (a session made by `analyze` takes the instruction as free text alone).
        #[arg(long)]
        input: Option<String>,
        /// Checkpoint step, or `last`.
        #[arg(long, default_value = "last")]
        checkpoint: String,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Verify every file of a saved session: manifest, points, each checkpoint's snapshot, weights
    /// and optimizer state.
    ///
    /// Each must be a readable regular file with the checksum the manifest records (if any), the
    /// weights finite and shaped as the model expects. Prints a line per problem naming the file,
    /// then a summary line. Exit status 0 when everything is intact, 2 otherwise.
    Check { dir: PathBuf },
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

/// Everything that can end a command, each with the kind that picks the exit code.
#[derive(Debug, thiserror::Error)]
enum AppError {
    /// A flag or value the user gave that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Sweep(#[from] SweepCliError),
    #[error(transparent)]
    Study(#[from] StudyCliError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Probe(#[from] ProbeFault),
    #[error(transparent)]
    Ui(#[from] UiError),
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error("benchmark failed: {0}")]
    Bench(candle_core::Error),
    #[error("cannot print the result: {0}")]
    Print(String),
    /// `check` found problems, already printed.
    #[error("")]
    Damaged,
}

impl Kind for AppError {
    fn kind(&self) -> ErrorKind {
        match self {
            AppError::Usage(_) => ErrorKind::Usage,
            AppError::Damaged => ErrorKind::BadData,
            AppError::Prepare(e) => e.kind(),
            AppError::Sweep(e) => e.kind(),
            AppError::Study(e) => e.kind(),
            AppError::Device(e) => e.kind(),
            AppError::Session(e) => e.kind(),
            AppError::Report(e) => e.kind(),
            AppError::Probe(e) => e.kind(),
            AppError::Ui(e) => e.kind(),
            AppError::Cli(e) => e.kind(),
            AppError::Bench(_) | AppError::Print(_) => ErrorKind::Internal,
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Print(e.to_string())
    }
}

type Result<T> = std::result::Result<T, AppError>;

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(AppError::Usage(msg.into()))
}

fn main() -> ExitCode {
    clusterscope::alloc::keep_freed_memory();
    // The model library attaches a backtrace to its errors when RUST_BACKTRACE is set, which
    // many users have set for other reasons; an error here is one line unless asked otherwise.
    if std::env::var_os("CLUSTERSCOPE_BACKTRACE").is_none() {
        std::env::remove_var("RUST_BACKTRACE");
        std::env::remove_var("RUST_LIB_BACKTRACE");
    }
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        // Read by candle's CPU kernels and rayon's pool; set before either starts.
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(AppError::Damaged) => ExitCode::from(ErrorKind::BadData.exit_code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.kind().exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let ui = UiOptions { theme: cli.theme.clone(), themes_dir: None, latency_log: cli.latency_log.clone() };
    let top = cli.run;
    if let (Some(cmd), Some(flag)) = (&cli.command, top.first_given()) {
        if !matches!(cmd, Cmd::Train { .. }) {
            return usage(format!(
                "{flag} is a training option: give it after `train` (it does nothing for `{}`)",
                cmd.name()
            ));
        }
    }
    match cli.command {
        None => Ok(terminal::run_live(prepare(&top)?, &ui)?),
        Some(Cmd::Train { headless, json, run }) => {
            let run = merge_run_args(top, run)?;
            match (headless, json) {
                (true, _) => Ok(headless::train(&prepare(&run)?, json)?),
                (false, true) => usage("--json needs --headless: the app draws on the terminal, it prints no JSON"),
                (false, false) => Ok(terminal::run_live(prepare(&run)?, &ui)?),
            }
        }
        Some(Cmd::Replay { dir }) => Ok(terminal::run_replay(&dir, &ui)?),
        Some(Cmd::Bench { what: BenchCmd::Train(args) }) => bench(&args),
        Some(Cmd::Sweep(SweepArgs { action: Some(SweepAction::View { dir }), .. })) => {
            Ok(terminal::run_sweep_view(&dir, &ui, None).map(drop)?)
        }
        // The view on the main thread, the pool in a process of its own that the view stops.
        Some(Cmd::Sweep(args)) if args.view && args.action.is_none() => {
            terminal::require_terminal()?;
            let (dir, pool) = clusterscope::cli::sweep::start_viewed(&args, cli.threads)?;
            let ended = terminal::run_sweep_view(&dir, &ui, pool)?;
            clusterscope::cli::sweep::show(&dir, args.json, None)?;
            Ok(ended.map_or(Ok(()), PoolEnd::report)?)
        }
        Some(Cmd::Sweep(args)) => Ok(clusterscope::cli::sweep::run(args, cli.threads)?),
        Some(Cmd::Study(args)) => Ok(clusterscope::cli::study::run(args, cli.threads)?),
        Some(Cmd::Analyze(args)) => Ok(clusterscope::cli::analyze::run(&args)?),
        Some(Cmd::Compare(args)) => match clusterscope::cli::compare::run(&args)? {
            Some(comparison) => Ok(terminal::compare::run_compare(comparison, &ui)?),
            None => Ok(()),
        },
        Some(Cmd::Show { dir, json }) => {
            let session = Session::open(&dir)?;
            if json {
                println!("{}", serde_json::to_string(&summary::summary_json(&session))?);
            } else {
                print!("{}", summary::summary_text(&session));
            }
            Ok(())
        }
        Some(Cmd::Export { dir, checkpoint, layer, out, figures: fig_dir, device, format, projection }) => {
            let format = format.parse::<export::ExportFormat>().map_err(AppError::Usage)?;
            let session = Session::open(&dir)?;
            let checkpoint = pick_checkpoint(&session, &checkpoint)?;
            let step = session.snapshots[checkpoint].step;
            if let Some(fig_dir) = fig_dir {
                let files = figures::render_figures(&session, checkpoint, &fig_dir)?;
                eprintln!("wrote {} figures to {} (checkpoint step {step})", files.len(), fig_dir.display());
            }
            let Some(out) = out else { return Ok(()) };
            let layer = match layer.as_str() {
                "all" => None,
                l => match l.parse::<usize>() {
                    Ok(n) => Some(n),
                    Err(_) => return usage(format!("--layer {l:?}: expected a layer number or `all`")),
                },
            };
            let device = parse_device(&device)?.open()?;
            let opts = projection.options(checkpoint, layer, out.clone(), format);
            let files = export::export(&session, &opts, &device)?;
            eprintln!("wrote {} files to {} (checkpoint step {step})", files.len(), out.display());
            Ok(())
        }
        Some(Cmd::Probe { dir, instruction, input, checkpoint, json, device }) => {
            let session = Session::open(&dir)?;
            let index = pick_checkpoint(&session, &checkpoint)?;
            let device = parse_device(&device)?;
            let snap = &session.snapshots[index];
            let names = &session.manifest.task_names;
            let report = match (&session.manifest.analyzed, input) {
                (Some(source), _) => {
                    let answer = probe_analyzed(source, device, &instruction, snap.step)?;
                    probe_report::report(None, names, snap, &instruction, &answer)
                }
                (None, None) => return usage("--input X is needed: the input the instruction is applied to"),
                (None, Some(input)) => {
                    let exp = Arc::new(session.experiment()?);
                    let text = format!("{instruction} | {input}");
                    let mut engine = ProbeEngine::new(exp.clone(), session.manifest.model.clone(), &dir, device)?;
                    let answer = engine.run(&text, snap.step)?;
                    probe_report::report(Some(&exp), names, snap, &text, &answer)
                }
            };
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
        Some(Cmd::Check { dir }) => {
            let report = check::check(&dir);
            print!("{report}");
            report.intact().then_some(()).ok_or(AppError::Damaged)
        }
        Some(Cmd::Spec { experiment }) => {
            let exp = load_experiment(experiment.as_deref(), None)?;
            model_for(&exp)?;
            for w in &exp.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", exp.spec.to_toml().map_err(|e| AppError::Print(format!("cannot print the spec: {e}")))?);
            Ok(())
        }
    }
}

impl Cmd {
    fn name(&self) -> &'static str {
        match self {
            Cmd::Train { .. } => "train",
            Cmd::Bench { .. } => "bench",
            Cmd::Sweep(_) => "sweep",
            Cmd::Study(_) => "study",
            Cmd::Analyze(_) => "analyze",
            Cmd::Replay { .. } => "replay",
            Cmd::Compare(_) => "compare",
            Cmd::Show { .. } => "show",
            Cmd::Export { .. } => "export",
            Cmd::Probe { .. } => "probe",
            Cmd::Check { .. } => "check",
            Cmd::Spec { .. } => "spec",
        }
    }
}

/// A free-text probe of an analysed session's model at `step`.
fn probe_analyzed(
    source: &AnalyzedSource,
    device: DeviceChoice,
    text: &str,
    step: usize,
) -> Result<clusterscope::record::ProbeAnswer> {
    let template = Template::new(&source.template).map_err(|e| AppError::Usage(e.to_string()))?;
    let position = if source.position == "mean" { ReadAt::Mean } else { ReadAt::Last };
    let models = source.models.iter().map(|m| m.dir.clone()).collect();
    let mut engine = PretrainedProber::new(models, template, position, device)?;
    Ok(engine.run(text, step)?)
}

fn parse_device(s: &str) -> Result<DeviceChoice> {
    Ok(s.parse::<DeviceChoice>()?)
}

/// A checkpoint given as a step number or `last`, as an index into the session's snapshots: a
/// damaged one is refused, and `last` is the last intact one (with a warning if a later one is
/// damaged).
fn pick_checkpoint(session: &Session, which: &str) -> Result<usize> {
    let step = match which {
        "last" => None,
        s => match s.parse::<usize>() {
            Ok(step) => Some(step),
            Err(_) => return usage(format!("--checkpoint {s:?}: expected a step number or `last`")),
        },
    };
    let index = session.usable_checkpoint(step)?;
    let chosen = session.snapshots[index].step;
    if let (None, Some(later)) = (step, session.damaged_after(chosen)) {
        eprintln!("warning: checkpoint {} is damaged ({later}); using step {chosen}", later.step);
    }
    Ok(index)
}

fn bench(args: &BenchArgs) -> Result<()> {
    let model = ModelConfig::preset(&args.preset, args.vocab, args.ctx)
        .and_then(|m| m.with_overrides(args.d_model, args.layers, args.heads, None))
        .map_err(|e| AppError::Usage(e.to_string()))?;
    if args.steps == 0 || args.batch == 0 {
        return usage("--steps and --batch must be at least 1");
    }
    let device = parse_device(&args.device)?.open()?;
    let cfg = BenchConfig {
        model,
        batch: args.batch,
        steps: args.steps,
        warmup: args.warmup,
        seed: args.seed,
        export: args.export.clone(),
    };
    let result = bench_train(&cfg, &device).map_err(AppError::Bench)?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!("{result}");
    }
    Ok(())
}
