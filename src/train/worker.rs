//! The background training thread: owns the model and device, obeys commands between steps,
//! reports through one event sink, and never takes the app down with it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::protocol::{Command, Event, Progress, RunInfo, Snapshot, Summary};
use super::trainer::Trainer;
use crate::experiment::sampling::AnalysisSet;
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};

/// How often progress is reported: often enough for a smooth UI, rarely enough not to flood it.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub experiment: Arc<Experiment>,
    pub model: ModelConfig,
    pub device: DeviceChoice,
    pub steps: usize,
    pub out_dir: PathBuf,
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

/// Starts training on a new thread. `sink` receives every event and returns false once nobody
/// listens any more, which stops the worker.
pub fn spawn<F>(run: RunConfig, sink: F) -> std::io::Result<WorkerHandle>
where
    F: FnMut(Event) -> bool + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new().name("trainer".into()).spawn(move || {
        let mut sink = sink;
        let mut worker = Worker { run, commands: rx, sink: &mut sink };
        if let Err(e) = worker.run() {
            (worker.sink)(Event::Error(e));
        }
    })?;
    Ok(WorkerHandle { commands: tx, thread })
}

struct Worker<'a, F: FnMut(Event) -> bool> {
    run: RunConfig,
    commands: Receiver<Command>,
    sink: &'a mut F,
}

/// Why the loop ended.
enum Exit {
    Done,
    Stopped,
    /// The listener went away; nobody to report to.
    Abandoned,
}

impl<F: FnMut(Event) -> bool> Worker<'_, F> {
    fn run(&mut self) -> Result<(), String> {
        let exp = self.run.experiment.clone();
        let device = self.run.device.open().map_err(|e| e.to_string())?;
        let device_name = device.name.clone();
        std::fs::create_dir_all(checkpoint_dir(&self.run.out_dir))
            .map_err(|e| format!("cannot create {}: {e}", checkpoint_dir(&self.run.out_dir).display()))?;
        let info = RunInfo {
            device: device.name.clone(),
            device_note: device.note.clone(),
            total_steps: self.run.steps,
            parameters: self.run.model.num_parameters(),
            task_names: exp.task_names(),
            out_dir: self.run.out_dir.clone(),
            warnings: exp.warnings.clone(),
        };
        if !(self.sink)(Event::Started(Box::new(info))) {
            return Ok(());
        }
        let mut trainer = Trainer::new(exp.clone(), self.run.model.clone(), device, self.run.steps).map_err(|e| e.to_string())?;
        let analysis = exp.analysis_set();
        let started = Instant::now();
        let mut state = LoopState::default();
        let exit = self.train_loop(&mut trainer, &analysis, started, &mut state).map_err(|e| e.to_string())?;
        if let Exit::Abandoned = exit {
            return Ok(());
        }
        let last = match &state.last_snapshot {
            Some(s) if s.step == trainer.step() => s.clone(),
            _ => self.checkpoint(&trainer, &analysis, started, &mut state).map_err(|e| e.to_string())?,
        };
        (self.sink)(Event::Finished(Summary {
            steps: trainer.step(),
            seconds: started.elapsed().as_secs_f64(),
            loss: state.recent_loss(),
            seen_accuracy: last.seen_accuracy,
            unseen_accuracy: last.unseen_accuracy,
            device: device_name,
            stopped: matches!(exit, Exit::Stopped),
        }));
        Ok(())
    }

    fn train_loop(
        &mut self,
        trainer: &mut Trainer,
        analysis: &AnalysisSet,
        started: Instant,
        state: &mut LoopState,
    ) -> candle_core::Result<Exit> {
        let every = self.run.checkpoint_every();
        let mut paused = false;
        let mut window = (Instant::now(), trainer.step());
        self.checkpoint(trainer, analysis, started, state)?;
        while trainer.step() < self.run.steps {
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
                    if !(self.sink)(Event::Progress(p)) {
                        return Ok(Exit::Abandoned);
                    }
                    continue;
                }
                Some(Command::Stop) => return Ok(Exit::Stopped),
                Some(Command::CheckpointNow) => {
                    self.checkpoint(trainer, analysis, started, state)?;
                    continue;
                }
                None => {}
            }
            let loss = trainer.train_step()?;
            state.push_loss(trainer.step(), loss);
            let elapsed = window.0.elapsed();
            if elapsed >= PROGRESS_EVERY || trainer.step() == self.run.steps {
                let rate = (trainer.step() - window.1) as f64 / elapsed.as_secs_f64().max(1e-9);
                window = (Instant::now(), trainer.step());
                let p = self.progress(trainer, state, rate, false);
                if !(self.sink)(Event::Progress(p)) {
                    return Ok(Exit::Abandoned);
                }
            }
            if trainer.step() % every == 0 || trainer.step() == self.run.steps {
                self.checkpoint(trainer, analysis, started, state)?;
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

    fn checkpoint(
        &mut self,
        trainer: &Trainer,
        analysis: &AnalysisSet,
        started: Instant,
        state: &mut LoopState,
    ) -> candle_core::Result<Snapshot> {
        let seen = trainer.evaluate(&analysis.seen, false)?;
        let unseen = trainer.evaluate(&analysis.unseen, false)?;
        let weights = checkpoint_dir(&self.run.out_dir).join(format!("step-{:06}.safetensors", trainer.step()));
        trainer.save_weights(&weights)?;
        let snapshot = Snapshot {
            step: trainer.step(),
            loss: state.take_checkpoint_loss(),
            seen_accuracy: seen.accuracy,
            unseen_accuracy: unseen.accuracy,
            elapsed_s: started.elapsed().as_secs_f64(),
            weights,
        };
        state.last_snapshot = Some(snapshot.clone());
        (self.sink)(Event::Checkpoint(Box::new(snapshot.clone())));
        Ok(snapshot)
    }
}

pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

/// Running loss bookkeeping for progress events and checkpoints.
#[derive(Default)]
struct LoopState {
    window: (f64, usize),
    since_checkpoint: (f64, usize),
    recent: std::collections::VecDeque<f32>,
    rate: f64,
    last_snapshot: Option<Snapshot>,
}

impl LoopState {
    fn push_loss(&mut self, _step: usize, loss: f32) {
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
