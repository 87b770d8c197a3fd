//! `clusterscope sweep`: make a sweep (or take up the one already in --out), then run its
//! unfinished points here a few at a time with a progress bar, or submit them as a Slurm job
//! array; `sweep show` (with figures) and `sweep run-point` (what each job runs). `sweep view`
//! is the app's (`ui::terminal::run_sweep_view`), dispatched by main, which also runs the view
//! for `sweep ... --view` with the pool [`start_viewed`] prepares.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::prepare::{read_spec, PrepareError};
use crate::error::{ErrorKind, Kind};
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};
use crate::report::sweep_figures::render_sweep_figures;
use crate::report::sweep_summary::{sweep_summary, sweep_text, SweepSummary};
use crate::report::ReportError;
use crate::session::sweep::{SweepDir, SweepManifest, SWEEP_FORMAT, SWEEP_VERSION};
use crate::session::SessionError;
use crate::sweep::builtin;
use crate::sweep::grid::{expand, parse_axis, point_experiment};
use crate::sweep::point::{run_point, state, PointState, Ran};
use crate::sweep::pool::{self, PoolEvent, PoolOptions};
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::SweepError;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The experiment spec (TOML) the grid's values are put into, or `builtin:NAME` for a sweep
    /// that ships with clusterscope (`builtin:diversity`), whose grid and seeds are its own
    /// unless --grid and --seeds say otherwise.
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// A spec path and its values, e.g. train.lr=1e-3,3e-3 (repeat for more axes).
    #[arg(long = "grid", value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Seeds per grid combination, from the spec's own seed up (default 1, or a built-in
    /// sweep's own).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// The sweep's directory: every point is a session under it.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Training steps per point (default: the spec's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Points run at a time here (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Device for every point: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Submit the points as a Slurm job array instead of running them here.
    #[arg(long)]
    pub slurm: bool,
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Slurm time limit per point (e.g. 01:00:00).
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    #[arg(long, requires = "slurm")]
    pub gpus: Option<usize>,
    /// Passed to sbatch as it is (repeatable).
    #[arg(long = "sbatch-arg", value_name = "ARG", requires = "slurm", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// With --slurm: print the job script and submit nothing.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
    /// Print the sweep's summary as one JSON object at the end.
    #[arg(long)]
    pub json: bool,
    /// Show the sweep in the app while its points run (q stops them; run again, they resume).
    #[arg(long, conflicts_with = "dry_run")]
    pub view: bool,
}

#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// A sweep's points: parameters, state, final metrics.
    Show {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Directory for figures (PNG and SVG): each metric against each grid parameter.
        #[arg(long, value_name = "OUT")]
        figures: Option<PathBuf>,
    },
    /// The sweep in the app: a metric against a parameter, every point, following it as it runs;
    /// Enter opens a point's session.
    View { dir: PathBuf },
    /// Run one point of a sweep here (what each Slurm array task runs).
    RunPoint {
        dir: PathBuf,
        #[arg(long)]
        index: usize,
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SweepCliError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot encode the summary: {0}")]
    Encode(#[from] serde_json::Error),
    /// Boxed: the figures' errors are large and rare.
    #[error(transparent)]
    Report(Box<ReportError>),
}

impl Kind for SweepCliError {
    fn kind(&self) -> ErrorKind {
        match self {
            SweepCliError::Sweep(e) => e.kind(),
            SweepCliError::Session(e) => e.kind(),
            SweepCliError::Prepare(e) => e.kind(),
            SweepCliError::Usage(_) => ErrorKind::Usage,
            SweepCliError::Encode(_) => ErrorKind::Internal,
            SweepCliError::Report(e) => e.kind(),
        }
    }
}

type Result<T> = std::result::Result<T, SweepCliError>;

/// Runs `sweep ...`; `threads` is the global `--threads`.
pub fn run(args: SweepArgs, threads: Option<usize>) -> Result<()> {
    match args.action {
        Some(SweepAction::Show { ref dir, json, ref figures }) => show(dir, json, figures.as_deref()),
        Some(SweepAction::View { .. }) => {
            Err(SweepCliError::Usage("sweep view is the app's: run it through the clusterscope binary".into()))
        }
        Some(SweepAction::RunPoint { ref dir, index, ref device }) => {
            let sweep = SweepDir::new(dir);
            let manifest = sweep.read()?;
            let ran = run_point(&sweep, &manifest, index, device_choice(device)?)?;
            let what = match ran {
                Ran::Trained => "trained",
                Ran::Resumed => "resumed and finished",
                Ran::Skipped => "had finished already",
            };
            eprintln!("point {index}: {what}");
            Ok(())
        }
        None => start(&args, threads),
    }
}

pub fn show(dir: &Path, json: bool, figures: Option<&Path>) -> Result<()> {
    let sweep = SweepDir::new(dir);
    let manifest = sweep.read()?;
    let summary = sweep_summary(&sweep, &manifest);
    if let Some(out) = figures {
        for path in render_sweep_figures(&summary, out).map_err(|e| SweepCliError::Report(Box::new(e)))? {
            println!("{}", path.display());
        }
        return Ok(());
    }
    print_summary(&summary, json)
}

fn print_summary(summary: &SweepSummary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        print!("{}", sweep_text(summary));
    }
    Ok(())
}

fn device_choice(s: &str) -> Result<DeviceChoice> {
    s.parse::<DeviceChoice>().map_err(|e| SweepCliError::Usage(e.to_string()))
}

/// The sweep the command describes, every point validated before anything runs.
fn describe(args: &SweepArgs, spec_path: &Path) -> Result<SweepManifest> {
    let builtin = builtin::find(&spec_path.to_string_lossy())?;
    let seeds = args.seeds.or(builtin.map(|b| b.seeds)).unwrap_or(1);
    if seeds == 0 {
        return Err(SweepCliError::Usage("--seeds 0: need at least 1 seed".into()));
    }
    if args.steps == Some(0) {
        return Err(SweepCliError::Usage("--steps 0: need at least 1 step".into()));
    }
    let spec = match builtin {
        Some(b) => b.spec.to_string(),
        None => read_spec(spec_path)?,
    };
    let base = Experiment::from_toml(&spec, None)
        .map_err(|source| PrepareError::SpecFile { file: spec_path.to_path_buf(), source })?;
    let typed: Vec<String> = match builtin {
        Some(b) if args.grid.is_empty() => b.grid.iter().map(|g| g.to_string()).collect(),
        _ => args.grid.clone(),
    };
    let grid = typed.iter().map(|g| parse_axis(g)).collect::<std::result::Result<Vec<_>, _>>()?;
    let points = expand(&grid, seeds, base.seed)?;
    for p in &points {
        let exp = point_experiment(&spec, p)?;
        ModelConfig::from_spec(&exp.spec.model, exp.tokenizer.len(), exp.max_sequence_len)
            .map_err(|source| SweepError::Model { index: p.index, source })?;
    }
    Ok(SweepManifest {
        format: SWEEP_FORMAT.into(),
        format_version: SWEEP_VERSION,
        created: chrono::Local::now().to_rfc3339(),
        spec,
        grid,
        seeds,
        steps: args.steps,
        points,
        slurm_jobs: Vec::new(),
    })
}

/// For `sweep ... --view`: the sweep made (or taken up) as `sweep` makes it, and the command that
/// runs its points for the view to start; `None` when they went to Slurm (submitted here).
pub fn start_viewed(args: &SweepArgs, threads: Option<usize>) -> Result<(PathBuf, Option<std::process::Command>)> {
    let out = args.out.clone().ok_or_else(|| SweepCliError::Usage("sweep needs SPEC and --out DIR".into()))?;
    if args.slurm {
        start(args, threads)?;
        return Ok((out, None));
    }
    // Checked here, so a bad spec or grid is said before the view takes the terminal.
    open_sweep(args)?;
    let mut pool = std::process::Command::new(this_program()?);
    // This very command without the view, so the pool runs exactly the sweep just checked.
    pool.args(std::env::args_os().skip(1).filter(|a| a != "--view"));
    Ok((out, Some(pool)))
}

/// This program, which runs the points (and, for the view, the pool).
fn this_program() -> Result<PathBuf> {
    let exe = std::env::current_exe();
    Ok(exe.map_err(|source| SweepError::Spawn { what: "the sweep (no path to this program)".into(), source })?)
}

/// The sweep the command describes: made in --out, or the one found there if it is the same.
fn open_sweep(args: &SweepArgs) -> Result<(SweepDir, SweepManifest)> {
    let (Some(spec_path), Some(out)) = (&args.spec, &args.out) else {
        return Err(SweepCliError::Usage("sweep needs SPEC and --out DIR".into()));
    };
    // A bad --device is refused before anything is written.
    device_choice(&args.device)?;
    let wanted = describe(args, spec_path)?;
    let sweep = SweepDir::new(out);
    let manifest = if sweep.manifest().exists() {
        let found = sweep.read()?;
        let same = found.spec == wanted.spec
            && found.grid == wanted.grid
            && found.seeds == wanted.seeds
            && found.steps == wanted.steps;
        if !same {
            return Err(SweepError::Different(out.clone()).into());
        }
        found
    } else {
        let occupied = std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false);
        if occupied {
            return Err(SessionError::Occupied(out.clone()).into());
        }
        if !(args.slurm && args.dry_run) {
            sweep.write(&wanted)?;
        }
        wanted
    };
    Ok((sweep, manifest))
}

fn start(args: &SweepArgs, threads: Option<usize>) -> Result<()> {
    let (sweep, mut manifest) = open_sweep(args)?;
    let out = &sweep.root().to_path_buf();
    let exe = this_program()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.slurm {
        let todo: Vec<usize> =
            manifest.points.iter().filter(|p| state(&sweep, p) != PointState::Finished).map(|p| p.index).collect();
        if todo.is_empty() {
            eprintln!("all {} points have finished", manifest.points.len());
            return show(out, args.json, None);
        }
        let root = std::fs::canonicalize(out).unwrap_or_else(|_| out.clone());
        let opts = SlurmOptions {
            partition: args.partition.clone(),
            time: args.time.clone(),
            gpus: args.gpus,
            sbatch_args: args.sbatch_args.clone(),
            threads: threads.unwrap_or(1),
            device: args.device.clone(),
        };
        let text = slurm::script(&SweepDir::new(&root), &todo, &exe, &opts);
        if args.dry_run {
            print!("{text}");
            return Ok(());
        }
        let path = sweep.script();
        std::fs::write(&path, &text).map_err(|e| SessionError::write(&path, e))?;
        let job = slurm::submit(&path)?;
        manifest.slurm_jobs.push(job.clone());
        sweep.write(&manifest)?;
        eprintln!(
            "submitted slurm job {job}: {} array tasks; follow with `clusterscope sweep show {}`",
            todo.len(),
            out.display()
        );
        return Ok(());
    }
    let jobs = args.jobs.unwrap_or(cores).max(1);
    let opts =
        PoolOptions { exe, jobs, threads: threads.unwrap_or((cores / jobs).max(1)), device: args.device.clone() };
    let bar = ProgressBar::new(manifest.points.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} points {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let result = pool::run(&sweep, &manifest, &opts, |e| match e {
        PoolEvent::Skipped(n) => {
            bar.inc(n as u64);
            if n > 0 {
                bar.suspend(|| eprintln!("{n} points finished earlier: skipped"));
            }
        }
        PoolEvent::Started { index, params } => bar.set_message(format!("running point {index} ({params})")),
        PoolEvent::Ended { index, params, ok } => {
            bar.inc(1);
            let how = if ok { "finished" } else { "FAILED" };
            bar.suspend(|| eprintln!("point {index} ({params}): {how}"));
        }
        PoolEvent::Tick => {}
    });
    bar.finish_and_clear();
    print_summary(&sweep_summary(&sweep, &manifest), args.json)?;
    Ok(result?)
}
