//! The background training thread: owns the model and device, obeys commands between steps,
//! reports through one event sink, saves the session as it goes, and never takes the app down
//! with it. Checkpoint analysis runs on a second thread so training does not wait for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::protocol::{Command, Event, Progress, RunInfo, Snapshot, Summary};
use super::trainer::Trainer;
use crate::analysis::{analyze_checkpoint, AnalysisInput, CheckpointAnalysis, LayerHidden};
use crate::experiment::sampling::AnalysisSet;
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};
use crate::session::format::{self, LogEntry, Manifest, PointInfo, ResumeState, RunStatus};
use crate::session::{SessionError, SessionWriter};

/// How often progress is reported: often enough for a smooth UI, rarely enough not to flood it.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// k-means restarts per layer and checkpoint.
const KMEANS_RESTARTS: usize = 4;

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub experiment: Arc<Experiment>,
    pub model: ModelConfig,
    pub device: DeviceChoice,
    pub steps: usize,
    pub out_dir: PathBuf,
    /// Continue the session in `out_dir` from its last checkpoint.
    pub resume: bool,
    /// Stop (saving a checkpoint, as on Ctrl-C) once this step is reached.
    pub stop_at: Option<usize>,
}

impl RunConfig {
    /// Steps between checkpoints: about `train.checkpoints` over the run.
    pub fn checkpoint_every(&self) -> usize {
        (self.steps / self.experiment.spec.train.checkpoints.max(1)).max(1)
    }
}

pub struct WorkerHandle {
    pub commands: Sender<Command>,
    pub thread: JoinHandle<()>,
}

type SharedSink = Arc<Mutex<dyn FnMut(Event) -> bool + Send>>;

fn emit(sink: &SharedSink, e: Event) -> bool {
    match sink.lock() {
        Ok(mut f) => f(e),
        Err(_) => false,
    }
}

/// Starts training on a new thread. `sink` receives every event and returns false once nobody
/// listens any more, which stops the worker.
pub fn spawn<F>(run: RunConfig, sink: F) -> std::io::Result<WorkerHandle>
where
    F: FnMut(Event) -> bool + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let sink: SharedSink = Arc::new(Mutex::new(sink));
    let thread = std::thread::Builder::new().name("trainer".into()).spawn(move || {
        crate::alloc::lower_thread_priority(5);
        let failed = Arc::new(AtomicBool::new(false));
        let mut worker = Worker { run, commands: rx, sink: sink.clone(), failed };
        if let Err(e) = worker.run() {
            emit(&sink, Event::Error(e));
        }
    })?;
    Ok(WorkerHandle { commands: tx, thread })
}

struct Worker {
    run: RunConfig,
    commands: Receiver<Command>,
    sink: SharedSink,
    /// Set by the analysis thread when it could not save a checkpoint.
    failed: Arc<AtomicBool>,
}

/// Why the loop ended.
enum Exit {
    Done,
    Stopped,
    /// The listener went away; nobody to report to.
    Abandoned,
    /// The analysis thread reported an error already.
    Failed,
}

/// A checkpoint on its way from the trainer to the analysis thread.
struct Job {
    snapshot: Snapshot,
    seen: Vec<Vec<f32>>,
    unseen: Vec<Vec<f32>>,
    resume: Option<ResumeState>,
}

impl Worker {
    fn emit(&self, e: Event) -> bool {
        emit(&self.sink, e)
    }

    fn run(&mut self) -> Result<(), String> {
        let exp = self.run.experiment.clone();
        let device = self.run.device.open().map_err(|e| e.to_string())?;
        let device_name = device.name.clone();
        let analysis = exp.analysis_set();
        let mut trainer =
            Trainer::new(exp.clone(), self.run.model.clone(), device, self.run.steps).map_err(|e| e.to_string())?;
        let (writer, prev_seconds) = if self.run.resume {
            self.open_for_resume(&mut trainer)?
        } else {
            let manifest = new_manifest(&self.run, &device_name).map_err(|e| e.to_string())?;
            (
                SessionWriter::create(&self.run.out_dir, manifest, &points(&exp, &analysis))
                    .map_err(|e| e.to_string())?,
                0.0,
            )
        };
        let writer = Arc::new(Mutex::new(writer));
        let info = RunInfo {
            device: device_name.clone(),
            device_note: trainer.device.note.clone(),
            total_steps: self.run.steps,
            parameters: self.run.model.num_parameters(),
            task_names: exp.task_names(),
            out_dir: self.run.out_dir.clone(),
            warnings: exp.warnings.clone(),
            points: points(&exp, &analysis),
        };
        if !self.emit(Event::Started(Box::new(info))) {
            return Ok(());
        }
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let analyser =
            spawn_analyser(exp.clone(), &analysis, writer.clone(), self.sink.clone(), self.failed.clone(), job_rx)
                .map_err(|e| format!("cannot start the analysis thread: {e}"))?;
        let started = Instant::now();
        let mut state = LoopState::default();
        let result = self.train_loop(&mut trainer, &analysis, &writer, &jobs, started, &mut state);
        let exit = match result {
            Ok(exit) => exit,
            Err(e) => {
                drop(jobs);
                let _ = analyser.join();
                return Err(e.to_string());
            }
        };
        if matches!(exit, Exit::Done | Exit::Stopped) && state.last_checkpoint != Some(trainer.step()) {
            self.checkpoint(&trainer, &analysis, &writer, &jobs, started, &mut state).map_err(|e| e.to_string())?;
        }
        drop(jobs);
        let _ = analyser.join();
        if matches!(exit, Exit::Abandoned | Exit::Failed) || self.failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let seconds = started.elapsed().as_secs_f64();
        let status = if matches!(exit, Exit::Stopped) { RunStatus::Stopped } else { RunStatus::Finished };
        if let Ok(mut w) = writer.lock() {
            w.finish(status, prev_seconds + seconds).map_err(|e| e.to_string())?;
        }
        self.emit(Event::Finished(Summary {
            steps: trainer.step(),
            seconds,
            loss: state.recent_loss(),
            seen_accuracy: state.accuracy.0,
            unseen_accuracy: state.accuracy.1,
            device: device_name,
            stopped: matches!(exit, Exit::Stopped),
        }));
        Ok(())
    }

    fn open_for_resume(&self, trainer: &mut Trainer) -> Result<(SessionWriter, f64), String> {
        let dir = &self.run.out_dir;
        let manifest = crate::session::reader::read_manifest(dir).map_err(|e| e.to_string())?;
        let resume = manifest
            .resume
            .ok_or_else(|| format!("{}: the session has no checkpoint to resume from", dir.display()))?;
        let ckpt = dir.join(format::CHECKPOINTS).join(format::checkpoint_dir_name(resume.step));
        trainer
            .resume_from(&ckpt.join(format::WEIGHTS), &ckpt.join(format::OPTIMIZER), resume.step, resume.sampler)
            .map_err(|e| format!("{}: cannot resume: {e}", ckpt.display()))?;
        let seconds = manifest.train_seconds;
        let writer = SessionWriter::resume(dir, manifest).map_err(|e| e.to_string())?;
        Ok((writer, seconds))
    }

    fn train_loop(
        &mut self,
        trainer: &mut Trainer,
        analysis: &AnalysisSet,
        writer: &Mutex<SessionWriter>,
        jobs: &Sender<Job>,
        started: Instant,
        state: &mut LoopState,
    ) -> Result<Exit, String> {
        let every = self.run.checkpoint_every();
        let mut paused = false;
        let mut window = (Instant::now(), trainer.step());
        if self.run.resume {
            state.last_checkpoint = Some(trainer.step());
        } else {
            self.checkpoint(trainer, analysis, writer, jobs, started, state)?;
        }
        while trainer.step() < self.run.steps {
            if self.failed.load(Ordering::SeqCst) {
                return Ok(Exit::Failed);
            }
            if self.run.stop_at.is_some_and(|s| trainer.step() >= s) {
                return Ok(Exit::Stopped);
            }
            // Paused: block until told otherwise, so a paused run costs no CPU.
            let next = if paused {
                match self.commands.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return Ok(Exit::Abandoned),
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return Ok(Exit::Abandoned),
                }
            };
            match next {
                Some(Command::Pause) | Some(Command::Resume) => {
                    paused = next == Some(Command::Pause);
                    window = (Instant::now(), trainer.step());
                    let p = self.progress(trainer, state, 0.0, paused);
                    if !self.emit(Event::Progress(p)) {
                        return Ok(Exit::Abandoned);
                    }
                    continue;
                }
                Some(Command::Stop) => return Ok(Exit::Stopped),
                Some(Command::CheckpointNow) => {
                    self.checkpoint(trainer, analysis, writer, jobs, started, state)?;
                    continue;
                }
                // Probes are routed to the probe thread; one reaching the trainer is dropped.
                Some(Command::Probe(_)) => continue,
                None => {}
            }
            let loss = trainer.train_step().map_err(|e| e.to_string())?;
            state.push_loss(loss);
            let entry =
                LogEntry { step: trainer.step(), loss, lr: trainer.lr(), elapsed_s: started.elapsed().as_secs_f64() };
            if let Ok(mut w) = writer.lock() {
                w.log(&entry).map_err(|e| e.to_string())?;
            }
            let elapsed = window.0.elapsed();
            if elapsed >= PROGRESS_EVERY || trainer.step() == self.run.steps {
                let rate = (trainer.step() - window.1) as f64 / elapsed.as_secs_f64().max(1e-9);
                window = (Instant::now(), trainer.step());
                let p = self.progress(trainer, state, rate, false);
                if !self.emit(Event::Progress(p)) {
                    return Ok(Exit::Abandoned);
                }
            }
            if trainer.step() % every == 0 || trainer.step() == self.run.steps {
                self.checkpoint(trainer, analysis, writer, jobs, started, state)?;
            }
        }
        Ok(Exit::Done)
    }

    fn progress(&self, trainer: &Trainer, state: &mut LoopState, steps_per_s: f64, paused: bool) -> Progress {
        if steps_per_s > 0.0 {
            state.rate = steps_per_s;
        }
        Progress {
            step: trainer.step(),
            total_steps: self.run.steps,
            loss: state.take_window_loss(),
            lr: trainer.lr(),
            steps_per_s: state.rate,
            paused,
        }
    }

    /// Evaluates the analysis set, writes weights and optimizer state into a new checkpoint
    /// directory, and hands the hidden states to the analysis thread, which completes it.
    fn checkpoint(
        &mut self,
        trainer: &Trainer,
        analysis: &AnalysisSet,
        writer: &Mutex<SessionWriter>,
        jobs: &Sender<Job>,
        started: Instant,
        state: &mut LoopState,
    ) -> Result<(), String> {
        let seen = trainer.evaluate(&analysis.seen, true).map_err(|e| e.to_string())?;
        let unseen = trainer.evaluate(&analysis.unseen, true).map_err(|e| e.to_string())?;
        let dir =
            writer.lock().map_err(|_| "session writer lock poisoned".to_string())?.begin_checkpoint(trainer.step());
        let dir = dir.map_err(|e| e.to_string())?;
        trainer.save_weights(&dir.join(format::WEIGHTS)).map_err(|e| format!("{}: {e}", dir.display()))?;
        trainer.save_optimizer(&dir.join(format::OPTIMIZER)).map_err(|e| format!("{}: {e}", dir.display()))?;
        let snapshot = Snapshot {
            step: trainer.step(),
            loss: state.take_checkpoint_loss(),
            seen_accuracy: seen.accuracy,
            unseen_accuracy: unseen.accuracy,
            elapsed_s: started.elapsed().as_secs_f64(),
            analysis: CheckpointAnalysis::default(),
        };
        state.accuracy = (seen.accuracy, unseen.accuracy);
        state.last_checkpoint = Some(trainer.step());
        let resume = Some(ResumeState { step: trainer.step(), sampler: trainer.sampler_state() });
        jobs.send(Job { snapshot, seen: seen.hidden, unseen: unseen.hidden, resume })
            .map_err(|_| "the analysis thread stopped".to_string())
    }
}

fn spawn_analyser(
    exp: Arc<Experiment>,
    set: &AnalysisSet,
    writer: Arc<Mutex<SessionWriter>>,
    sink: SharedSink,
    failed: Arc<AtomicBool>,
    jobs: Receiver<Job>,
) -> std::io::Result<JoinHandle<()>> {
    let seen_labels = set.seen_labels();
    let unseen_labels = set.unseen_labels();
    std::thread::Builder::new().name("analysis".into()).spawn(move || {
        let mut prev: Option<CheckpointAnalysis> = None;
        for job in jobs {
            let Job { mut snapshot, seen, unseen, resume } = job;
            let d = if seen_labels.is_empty() { 0 } else { seen.first().map_or(0, |h| h.len() / seen_labels.len()) };
            let input = AnalysisInput {
                layers: seen.iter().zip(&unseen).map(|(s, u)| LayerHidden { seen: s, unseen: u }).collect(),
                d,
                seen_labels: &seen_labels,
                unseen_labels: &unseen_labels,
                num_tasks: exp.num_tasks(),
                seed: exp.seed ^ snapshot.step as u64,
                restarts: KMEANS_RESTARTS,
            };
            snapshot.analysis = analyze_checkpoint(&input, prev.as_ref());
            let saved = match writer.lock() {
                Ok(mut w) => w.commit_checkpoint(&snapshot, resume),
                Err(_) => Err(SessionError::Encode("session writer lock poisoned".into())),
            };
            if let Err(e) = saved {
                failed.store(true, Ordering::SeqCst);
                emit(&sink, Event::Error(format!("cannot save checkpoint {}: {e}", snapshot.step)));
                return;
            }
            prev = Some(snapshot.analysis.clone());
            if !emit(&sink, Event::Checkpoint(Box::new(snapshot))) {
                return;
            }
        }
    })
}

fn new_manifest(run: &RunConfig, device: &str) -> Result<Manifest, toml::ser::Error> {
    let exp = &run.experiment;
    Ok(Manifest {
        format: format::FORMAT_NAME.into(),
        format_version: format::FORMAT_VERSION,
        app_version: env!("CARGO_PKG_VERSION").into(),
        name: run.out_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        created: chrono::Local::now().to_rfc3339(),
        experiment: exp.spec.to_toml()?,
        seed: exp.seed,
        model: run.model.clone(),
        device: device.to_string(),
        total_steps: run.steps,
        task_names: exp.task_names(),
        status: RunStatus::Running,
        checkpoints: Vec::new(),
        train_seconds: 0.0,
        resume: None,
    })
}

/// The analysis set as stored in the session: what each point is, in words.
pub fn points(exp: &Experiment, set: &AnalysisSet) -> Vec<PointInfo> {
    set.seen
        .iter()
        .chain(&set.unseen)
        .map(|e| PointInfo {
            task: e.task,
            seen: e.seen,
            instruction: e.instruction.join(" "),
            input: exp.symbols[e.input].clone(),
            output: exp.symbols[e.output].clone(),
        })
        .collect()
}

/// Running loss bookkeeping for progress events and checkpoints.
#[derive(Default)]
struct LoopState {
    window: (f64, usize),
    since_checkpoint: (f64, usize),
    recent: std::collections::VecDeque<f32>,
    rate: f64,
    accuracy: (f64, f64),
    last_checkpoint: Option<usize>,
}

impl LoopState {
    fn push_loss(&mut self, loss: f32) {
        self.window.0 += f64::from(loss);
        self.window.1 += 1;
        self.since_checkpoint.0 += f64::from(loss);
        self.since_checkpoint.1 += 1;
        self.recent.push_back(loss);
        if self.recent.len() > 50 {
            self.recent.pop_front();
        }
    }

    fn take_window_loss(&mut self) -> f32 {
        let (sum, n) = std::mem::take(&mut self.window);
        if n == 0 {
            self.recent_loss()
        } else {
            (sum / n as f64) as f32
        }
    }

    fn take_checkpoint_loss(&mut self) -> f32 {
        let (sum, n) = std::mem::take(&mut self.since_checkpoint);
        if n == 0 {
            self.recent_loss()
        } else {
            (sum / n as f64) as f32
        }
    }

    /// Mean of the last 50 step losses (0 before any step).
    fn recent_loss(&self) -> f32 {
        if self.recent.is_empty() {
            0.0
        } else {
            self.recent.iter().sum::<f32>() / self.recent.len() as f32
        }
    }
}
