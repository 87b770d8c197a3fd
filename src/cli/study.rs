//! `clusterscope study`: the built-in studies (`study list`), running one into a directory with
//! a progress bar and its report at the end (`study run`), reading that report again
//! (`study show`), and `study run-one`, what each of the pool's processes runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{ErrorKind, Kind};
use crate::model::DeviceChoice;
use crate::report::study_data::gather;
use crate::report::study_report::{compare_command, report, table, write_report, StudyReport};
use crate::report::ReportError;
use crate::session::reader::read_manifest;
use crate::session::study::{StudyDir, StudyManifest};
use crate::session::SessionError;
use crate::study::definition::Size;
use crate::study::launch::run_all;
use crate::study::plan::{plan, same_study};
use crate::study::runner::{run_one, state, RunState};
use crate::study::{builtin, StudyError};
use crate::sweep::pool::{PoolEvent, PoolOptions};

#[derive(Args, Debug)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub action: StudyAction,
}

#[derive(Subcommand, Debug)]
pub enum StudyAction {
    /// The built-in studies: what each asks, its arms and its metrics.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a built-in study: every arm times every seed, each an ordinary session under
    /// DIR/ARM/seed-N, then its report (report.md, report.json, report.png, report.svg) in DIR.
    /// Run again into the same DIR, it skips the runs that are done.
    Run {
        /// The study's name (`clusterscope study list`).
        name: String,
        /// The study's directory.
        #[arg(long)]
        out: PathBuf,
        /// Seeds per arm (default: the study's own, 3).
        #[arg(long)]
        seeds: Option<usize>,
        /// default: the size the README's numbers come from; tiny: seconds a run, for tests and
        /// a look at the machinery, never for a finding.
        #[arg(long, value_enum, default_value = "default")]
        size: Size,
        /// Runs trained at a time here (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Device for every run: auto, cpu, cuda or cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Print the report as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A study's report, read again from DIR: the arms x metrics table, or the JSON object.
    Show {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Train and measure one run of a study here (what each of `study run`'s processes runs).
    #[command(hide = true)]
    RunOne {
        dir: PathBuf,
        #[arg(long)]
        index: usize,
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StudyCliError {
    /// Boxed, as the report's: the study's errors carry specs and sessions.
    #[error(transparent)]
    Study(Box<StudyError>),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Boxed: the report's errors are large and rare.
    #[error(transparent)]
    Report(Box<ReportError>),
    #[error("{0}")]
    Usage(String),
    #[error("cannot encode the report: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<StudyError> for StudyCliError {
    fn from(e: StudyError) -> Self {
        StudyCliError::Study(Box::new(e))
    }
}

impl From<ReportError> for StudyCliError {
    fn from(e: ReportError) -> Self {
        StudyCliError::Report(Box::new(e))
    }
}

impl Kind for StudyCliError {
    fn kind(&self) -> ErrorKind {
        match self {
            StudyCliError::Study(e) => e.kind(),
            StudyCliError::Session(e) => e.kind(),
            StudyCliError::Report(e) => e.kind(),
            StudyCliError::Usage(_) => ErrorKind::Usage,
            StudyCliError::Encode(_) => ErrorKind::Internal,
        }
    }
}

type Result<T> = std::result::Result<T, StudyCliError>;

/// Runs `study ...`; `threads` is the global `--threads` (each run's, in the pool).
pub fn run(args: StudyArgs, threads: Option<usize>) -> Result<()> {
    match args.action {
        StudyAction::List { json } => list(json),
        StudyAction::Run { name, out, seeds, size, jobs, device, json } => {
            let opts = RunOptions { seeds, size, jobs, device, json, threads };
            start(&name, &out, &opts)
        }
        StudyAction::Show { dir, json } => show(&dir, json),
        StudyAction::RunOne { dir, index, device } => {
            let manifest = read_study(&dir)?;
            let study = StudyDir::new(&dir);
            run_one(&study, &manifest, index, device_choice(&device)?)?;
            eprintln!("run {index}: trained and measured");
            Ok(())
        }
    }
}

/// The study in `dir`, or why it is not one.
fn read_study(dir: &Path) -> Result<StudyManifest> {
    let study = StudyDir::new(dir);
    if dir.is_dir() && !study.manifest().exists() {
        return Err(StudyError::NotAStudy(dir.to_path_buf()).into());
    }
    Ok(study.read()?)
}

fn device_choice(s: &str) -> Result<DeviceChoice> {
    s.parse::<DeviceChoice>().map_err(|e| StudyCliError::Usage(e.to_string()))
}

fn list(json: bool) -> Result<()> {
    let defs = builtin::all()?;
    if json {
        let all: Vec<serde_json::Value> = defs
            .iter()
            .map(|d| {
                let arms: Vec<_> = d.arms.iter().map(|a| serde_json::json!({"name": a.name, "about": a.about})).collect();
                serde_json::json!({"name": d.name, "about": d.about, "arms": arms, "metrics": d.metrics, "seeds": d.seeds})
            })
            .collect();
        println!("{}", serde_json::to_string(&all)?);
        return Ok(());
    }
    for d in defs {
        println!("{}: {}", d.name, d.about);
        println!("  arms:    {}", d.arms.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "));
        println!("  metrics: {}", d.metrics.join(", "));
        println!("  seeds:   {} (study run {} --out DIR)", d.seeds, d.name);
    }
    Ok(())
}

pub fn show(dir: &Path, json: bool) -> Result<()> {
    let manifest = read_study(dir)?;
    let study = StudyDir::new(dir);
    let data = gather(&study, &manifest)?;
    print_report(&report(&data), &manifest, json)
}

fn print_report(report: &StudyReport, manifest: &StudyManifest, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("study {} (size {}, {} seeds per arm)\n", manifest.study, manifest.size, manifest.seeds);
        print!("{}", table(report, &manifest.metrics));
    }
    Ok(())
}

struct RunOptions {
    seeds: Option<usize>,
    size: Size,
    jobs: Option<usize>,
    device: String,
    json: bool,
    threads: Option<usize>,
}

/// The study the command describes: made in `out`, or the one found there if it is the same.
fn open_study(name: &str, out: &Path, opts: &RunOptions) -> Result<(StudyDir, StudyManifest)> {
    let def = builtin::find(name)?;
    // A bad --device is refused before anything is written.
    device_choice(&opts.device)?;
    let wanted = plan(&def, opts.size, opts.seeds)?;
    let study = StudyDir::new(out);
    if study.manifest().exists() {
        let found = study.read()?;
        if !same_study(&found, &wanted) {
            return Err(StudyError::Different(out.to_path_buf()).into());
        }
        return Ok((study, found));
    }
    let occupied = out.exists() && std::fs::read_dir(out).map_or(true, |mut d| d.next().is_some());
    if occupied {
        return Err(StudyError::Occupied(out.to_path_buf()).into());
    }
    study.write(&wanted)?;
    Ok((study, wanted))
}

fn start(name: &str, out: &Path, opts: &RunOptions) -> Result<()> {
    let (study, manifest) = open_study(name, out, opts)?;
    let exe = std::env::current_exe()
        .map_err(|source| crate::sweep::SweepError::Spawn {
            what: "the study (no path to this program)".into(),
            source,
        })
        .map_err(StudyError::from)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = opts.jobs.unwrap_or(cores).max(1);
    let pool =
        PoolOptions { exe, jobs, threads: opts.threads.unwrap_or((cores / jobs).max(1)), device: opts.device.clone() };
    let steps: Vec<u64> = manifest.runs.iter().map(|r| run_steps(&r.spec)).collect();
    let bar = ProgressBar::new(steps.iter().sum());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {percent:>3}% of {len} steps, {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // The spinner and clock move between checkpoints too, so a slow run never looks frozen.
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut running: Vec<String> = Vec::new();
    let mut last_read = Instant::now() - Duration::from_secs(1);
    let result = run_all(&study, &manifest, &pool, |e| match e {
        PoolEvent::Skipped(n) if n > 0 => {
            let runs = if n == 1 { "run" } else { "runs" };
            bar.suspend(|| eprintln!("{n} {runs} done earlier: skipped"));
        }
        PoolEvent::Skipped(_) => {}
        PoolEvent::Started { params, .. } => {
            running.push(params);
            bar.set_message(format!("running {}", running.join(", ")));
        }
        PoolEvent::Ended { params, ok, .. } => {
            running.retain(|r| *r != params);
            bar.set_message(format!("running {}", running.join(", ")));
            let how = if ok { "trained and measured" } else { "FAILED" };
            bar.suspend(|| eprintln!("{params}: {how}"));
        }
        PoolEvent::Tick if last_read.elapsed() >= Duration::from_secs(1) => {
            last_read = Instant::now();
            bar.set_position(progress(&study, &manifest, &steps));
        }
        PoolEvent::Tick => {}
    });
    bar.finish_and_clear();
    let data = gather(&study, &manifest)?;
    let (report, written) = write_report(&study, &data)?;
    print_report(&report, &manifest, opts.json)?;
    let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    eprintln!("report: {}", files.join(", "));
    eprintln!("compare the arms' first seeds: {}", compare_command(&data));
    Ok(result?)
}

/// Steps of a run, from its spec (the pool's progress is in steps).
fn run_steps(spec: &str) -> u64 {
    let doc: toml::Table = spec.parse().unwrap_or_default();
    doc.get("train").and_then(|t| t.get("steps")).and_then(toml::Value::as_integer).map_or(1, |s| s.max(1) as u64)
}

/// Steps done over all runs: a run's last checkpoint while it trains, all of them once trained.
fn progress(study: &StudyDir, manifest: &StudyManifest, steps: &[u64]) -> u64 {
    manifest
        .runs
        .iter()
        .zip(steps)
        .map(|(r, &n)| match state(study, r) {
            RunState::Done | RunState::Trained => n,
            RunState::Training(_) => read_manifest(&study.run(r))
                .ok()
                .and_then(|m| m.checkpoints.iter().map(|c| c.step as u64).max())
                .map_or(0, |s| s.min(n)),
        })
        .sum()
}
