//! A training run on its own thread: owns the trainer, the session writer, the analysis
//! thread's job queue, the clock and the loss tally; obeys commands between steps, reports
//! through its sinks, saves the session as it goes, and never takes the app down with it.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::analyser::{lock, spawn_analyser, Analyser, Job, Labels, SharedWriter};
use super::error::TrainError;
use super::protocol::{AnalyserEvent, Failure, TrainerCommand, TrainerEvent};
use super::tally::{LossTally, RateWindow};
use super::trainer::{PhaseEntered, Trainer};
use super::weights::SavedTensors;
use crate::analysis::CheckpointAnalysis;
use crate::experiment::sampling::AnalysisSet;
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};
use crate::record::{Progress, RunInfo, Snapshot, Summary};
use crate::session::format::{LogEntry, ResumeState, RunStatus, OPTIMIZER, WEIGHTS};
use crate::session::manifest::{analysis_points, phase_marks};
use crate::session::reader::{read_manifest, read_snapshot};
use crate::session::{Manifest, Session, SessionDir, SessionLock, SessionWriter};

/// How often progress is reported: often enough for a smooth UI, rarely enough not to flood it.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

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

/// A running training thread.
pub struct RunHandle {
    pub commands: Sender<TrainerCommand>,
    pub thread: JoinHandle<()>,
}

/// Starts training on a new thread. Each sink returns false once nobody listens any more,
/// which stops the run.
pub fn spawn<T, A>(config: RunConfig, mut on_trainer: T, on_analyser: A) -> std::io::Result<RunHandle>
where
    T: FnMut(TrainerEvent) -> bool + Send + 'static,
    A: FnMut(AnalyserEvent) -> bool + Send + 'static,
{
    let (tx, commands) = mpsc::channel();
    let thread = std::thread::Builder::new().name("trainer".into()).spawn(move || {
        crate::alloc::lower_thread_priority(5);
        let result = Run::start(config, commands, on_analyser).and_then(|run| run.train(&mut on_trainer));
        if let Err(e) = result {
            on_trainer(TrainerEvent::Failed(Failure::from(&e)));
        }
    })?;
    Ok(RunHandle { commands: tx, thread })
}

/// Why the loop ended.
enum Exit {
    Done,
    /// Stopped early; why, in words.
    Stopped(String),
    /// The listener went away; nobody to report to.
    Abandoned,
    /// The analysis thread reported an error already.
    Failed,
}

/// Accuracy on the analysis set at the latest checkpoint.
#[derive(Debug, Default, Clone, Copy)]
struct Accuracy {
    seen: f64,
    unseen: f64,
}

struct Run {
    config: RunConfig,
    commands: Receiver<TrainerCommand>,
    trainer: Trainer,
    info: RunInfo,
    analysis: AnalysisSet,
    writer: SharedWriter,
    analyser: Analyser,
    /// When this process started training.
    started: Instant,
    /// Training seconds of earlier processes (a resumed run).
    earlier_seconds: f64,
    losses: LossTally,
    accuracy: Accuracy,
    last_checkpoint: Option<usize>,
    /// When the last checkpoint was made (or the run started), for `train.checkpoint_minutes`.
    last_checkpoint_at: Instant,
}

impl Run {
    /// Opens the device, builds the trainer, creates (or reopens, to resume) the session and
    /// starts the analysis thread.
    fn start<A>(config: RunConfig, commands: Receiver<TrainerCommand>, on_analyser: A) -> Result<Run, TrainError>
    where
        A: FnMut(AnalyserEvent) -> bool + Send + 'static,
    {
        let exp = config.experiment.clone();
        let device = config.device.open()?;
        let analysis = exp.analysis_set();
        let points = analysis_points(&exp, &analysis);
        let mut info = RunInfo {
            device: device.name.clone(),
            device_note: device.note.clone(),
            total_steps: config.steps,
            // A new run checkpoints step 0; a resumed one is known once the trainer has resumed.
            first_checkpoint: 0,
            parameters: config.model.num_parameters(),
            task_names: exp.task_names(),
            out_dir: config.out_dir.clone(),
            warnings: exp.warnings.clone(),
            points,
            phases: phase_marks(&exp, config.steps),
        };
        let mut trainer = Trainer::new(exp.clone(), config.model.clone(), device, config.steps)
            .map_err(TrainError::model("cannot build the model"))?;
        let (writer, earlier_seconds, previous) = if config.resume {
            let r = open_for_resume(&config, &mut trainer)?;
            (r.writer, r.seconds, Some(r.previous))
        } else {
            let manifest = Manifest::new(&config.out_dir, &exp, &config.model, &info.device, config.steps)?;
            (SessionWriter::create(&config.out_dir, manifest, &info.points)?, 0.0, None)
        };
        let writer = Arc::new(Mutex::new(writer));
        let analyser = spawn_analyser(Labels::of(&exp, &analysis), writer.clone(), previous, on_analyser)?;
        let last_checkpoint = config.resume.then(|| trainer.step());
        if config.resume {
            // The resume step's checkpoint is on disk already; the next one is the first reported.
            let every = config.checkpoint_every();
            let boundary = trainer.plan.boundaries().into_iter().find(|&b| b > trainer.step());
            info.first_checkpoint =
                ((trainer.step() / every + 1) * every).min(config.steps).min(boundary.unwrap_or(usize::MAX));
        }
        Ok(Run {
            config,
            commands,
            trainer,
            info,
            analysis,
            writer,
            analyser,
            started: Instant::now(),
            earlier_seconds,
            losses: LossTally::default(),
            accuracy: Accuracy::default(),
            last_checkpoint,
            last_checkpoint_at: Instant::now(),
        })
    }

    /// Trains to the end (or a stop), then waits for the last checkpoint to be saved, records how
    /// the run ended in the manifest (failed, with the reason, too) and reports the summary.
    fn train<T: FnMut(TrainerEvent) -> bool>(mut self, on_trainer: &mut T) -> Result<(), TrainError> {
        if !on_trainer(TrainerEvent::Started(Box::new(self.info.clone()))) {
            return Ok(());
        }
        let mut result = self.train_loop(on_trainer);
        if matches!(result, Ok(Exit::Done | Exit::Stopped(_))) && self.last_checkpoint != Some(self.trainer.step()) {
            if let Err(e) = self.checkpoint() {
                result = Err(e);
            }
        }
        let Run { analyser, writer, trainer, losses, accuracy, started, earlier_seconds, info, .. } = self;
        let analysis_failure = analyser.finish();
        let seconds = started.elapsed().as_secs_f64();
        let record =
            |status: RunStatus, reason: Option<String>| lock(&writer).finish(status, reason, earlier_seconds + seconds);
        let exit = match result {
            Ok(exit) => exit,
            Err(e) => {
                // Best effort: on a full disk the manifest may not take the news either, and then
                // the session reads as interrupted, which is true as well.
                let _ = record(RunStatus::Failed, Some(e.to_string()));
                return Err(e);
            }
        };
        if let Some(reason) = analysis_failure {
            // The analysis thread has reported it to the watcher already.
            let _ = record(RunStatus::Failed, Some(reason));
            return Ok(());
        }
        let stopped = match exit {
            Exit::Done => None,
            Exit::Stopped(why) => Some(why),
            Exit::Abandoned | Exit::Failed => {
                let why = format!("stopped at step {}: the app watching the run went away", trainer.step());
                let _ = record(RunStatus::Stopped, Some(why));
                return Ok(());
            }
        };
        let status = if stopped.is_some() { RunStatus::Stopped } else { RunStatus::Finished };
        let is_stopped = stopped.is_some();
        record(status, stopped)?;
        on_trainer(TrainerEvent::Finished(Summary {
            steps: trainer.step(),
            seconds,
            loss: losses.recent_loss(),
            seen_accuracy: accuracy.seen,
            unseen_accuracy: accuracy.unseen,
            device: info.device,
            stopped: is_stopped,
        }));
        Ok(())
    }

    fn train_loop<T: FnMut(TrainerEvent) -> bool>(&mut self, on_trainer: &mut T) -> Result<Exit, TrainError> {
        let every = self.config.checkpoint_every();
        let mut paused = false;
        let mut window = RateWindow::new(self.trainer.step());
        if !self.config.resume {
            self.checkpoint()?;
        }
        while self.trainer.step() < self.config.steps {
            if self.analyser.failed() {
                return Ok(Exit::Failed);
            }
            if let Some(at) = self.config.stop_at.filter(|&s| self.trainer.step() >= s) {
                return Ok(Exit::Stopped(format!("stopped at step {at} (--stop-at)")));
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
                Some(c @ (TrainerCommand::Pause | TrainerCommand::Resume)) => {
                    paused = c == TrainerCommand::Pause;
                    window.restart(self.trainer.step());
                    if !on_trainer(TrainerEvent::Progress(self.progress(window.rate(), paused))) {
                        return Ok(Exit::Abandoned);
                    }
                    continue;
                }
                Some(TrainerCommand::Stop(cause)) => {
                    return Ok(Exit::Stopped(format!("{} at step {}", cause.describe(), self.trainer.step())))
                }
                None => {}
            }
            let entered = self.trainer.enter_phase().map_err(TrainError::model("cannot start the next phase"))?;
            if let Some(PhaseEntered { index, made_targets: Some(targets) }) = entered {
                lock(&self.writer).set_phase_targets(index, targets)?;
            }
            let lr = self.trainer.lr();
            let loss = self.trainer.train_step().map_err(TrainError::model("training step failed"))?;
            self.losses.push(loss);
            let step = self.trainer.step();
            let entry = LogEntry { step, loss, lr, elapsed_s: self.started.elapsed().as_secs_f64() };
            lock(&self.writer).log(&entry)?;
            if window.elapsed() >= PROGRESS_EVERY || step == self.config.steps {
                let rate = window.measure(step);
                if !on_trainer(TrainerEvent::Progress(self.progress(rate, false))) {
                    return Ok(Exit::Abandoned);
                }
            }
            // Every phase ends with a checkpoint, so each phase's final state can be read and
            // a resume can start the next phase from it.
            let boundary = self.trainer.plan.is_boundary(step);
            if step % every == 0 || step == self.config.steps || boundary || self.checkpoint_due() {
                self.checkpoint()?;
            }
        }
        Ok(Exit::Done)
    }

    /// Whether `train.checkpoint_minutes` have passed since the last checkpoint.
    fn checkpoint_due(&self) -> bool {
        let minutes = self.config.experiment.spec.train.checkpoint_minutes;
        minutes > 0.0 && self.last_checkpoint_at.elapsed().as_secs_f64() >= 60.0 * minutes
    }

    fn progress(&mut self, steps_per_s: f64, paused: bool) -> Progress {
        Progress {
            step: self.trainer.step(),
            total_steps: self.config.steps,
            loss: self.losses.take_progress_loss(),
            lr: self.trainer.lr(),
            steps_per_s,
            paused,
        }
    }

    /// Evaluates the analysis set, writes weights and optimizer state into a new checkpoint
    /// directory, and hands the hidden states to the analysis thread, which completes it.
    fn checkpoint(&mut self) -> Result<(), TrainError> {
        let step = self.trainer.step();
        let seen = self.trainer.evaluate(&self.analysis.seen, true).map_err(TrainError::model("evaluation failed"))?;
        let unseen =
            self.trainer.evaluate(&self.analysis.unseen, true).map_err(TrainError::model("evaluation failed"))?;
        let pending = lock(&self.writer).begin_checkpoint(step)?;
        let saved = self
            .trainer
            .save_weights(&pending.weights())
            .and_then(|()| self.trainer.save_optimizer(&pending.optimizer()));
        if let Err(e) = saved {
            lock(&self.writer).abandon_checkpoint(step);
            return Err(TrainError::model(format!("{}: cannot save the checkpoint", pending.dir().display()))(e));
        }
        let snapshot = Snapshot {
            step,
            loss: self.losses.take_checkpoint_loss(),
            seen_accuracy: seen.accuracy,
            unseen_accuracy: unseen.accuracy,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            correct: seen.correct.iter().chain(&unseen.correct).copied().collect(),
            analysis: CheckpointAnalysis::default(),
        };
        self.accuracy = Accuracy { seen: seen.accuracy, unseen: unseen.accuracy };
        self.last_checkpoint = Some(step);
        self.last_checkpoint_at = Instant::now();
        let resume = Some(ResumeState { step, sampler: self.trainer.sampler_state() });
        self.analyser
            .jobs
            .send(Job { snapshot, seen: seen.hidden, unseen: unseen.hidden, resume })
            .map_err(|_| TrainError::AnalyserGone)
    }
}

/// Loads the last checkpoint's weights, optimizer moments and data stream into `trainer`, and
/// reopens the session; returns the writer and the training seconds already spent.
fn open_for_resume(config: &RunConfig, trainer: &mut Trainer) -> Result<Resumed, TrainError> {
    let dir = &config.out_dir;
    let layout = SessionDir::new(dir);
    let lock = SessionLock::acquire(&layout)?;
    let mut manifest = read_manifest(dir)?;
    // A session that show and replay cannot open (its points file gone, say) would train on
    // to an end nobody can read: refuse it as they do.
    Session::open(dir)?;
    if manifest.analyzed.is_some() {
        return Err(TrainError::NotTrained(dir.clone()));
    }
    let resume = manifest.resume.ok_or_else(|| TrainError::NothingToResume(dir.clone()))?;
    trainer.set_made_targets(manifest.made_targets());
    let device = &trainer.device.device;
    let weights = SavedTensors::read(dir, &manifest, resume.step, WEIGHTS, device)?;
    let optimizer = SavedTensors::read(dir, &manifest, resume.step, OPTIMIZER, device)?;
    trainer.resume_from(&weights, &optimizer, resume.step, resume.sampler)?;
    // The analysis goes on from the resumed checkpoint's, so PCA signs stay as they were.
    let previous = read_snapshot(dir, &manifest, resume.step)?.analysis;
    let seconds = manifest.train_seconds;
    // This process decides how far the run goes and where it runs.
    manifest.total_steps = config.steps;
    manifest.device = trainer.device.name.clone();
    Ok(Resumed { writer: SessionWriter::resume(lock, dir, manifest)?, seconds, previous })
}

/// A session reopened to go on training.
struct Resumed {
    writer: SessionWriter,
    /// Training seconds of the earlier processes.
    seconds: f64,
    /// The analysis of the checkpoint resumed from.
    previous: CheckpointAnalysis,
}
