//! The analysis thread: takes each checkpoint's hidden states from the training loop, analyses
//! every layer (PCA, k-means, scores), completes the checkpoint on disk, and reports it. It runs
//! beside training so the trainer does not wait for the analysis.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use super::error::TrainError;
use super::protocol::{AnalyserEvent, Failure};
use crate::analysis::{analyze_checkpoint, AnalysisInput, CheckpointAnalysis, LayerHidden};
use crate::experiment::sampling::AnalysisSet;
use crate::experiment::Experiment;
use crate::record::Snapshot;
use crate::session::format::ResumeState;
use crate::session::SessionWriter;

/// k-means restarts per layer and checkpoint.
const KMEANS_RESTARTS: usize = 4;

/// A checkpoint on its way from the trainer to the analysis thread: weights already in its
/// pending directory, the snapshot still without its analysis.
pub struct Job {
    pub snapshot: Snapshot,
    /// Per layer 0..=L, row-major (points x d_model).
    pub seen: Vec<Vec<f32>>,
    pub unseen: Vec<Vec<f32>>,
    pub resume: Option<ResumeState>,
}

/// What the analysis thread scores every checkpoint against: the task of each seen and unseen
/// point, and the seed k-means starts from.
#[derive(Debug, Clone)]
pub struct Labels {
    pub seen: Vec<usize>,
    pub unseen: Vec<usize>,
    pub num_tasks: usize,
    pub seed: u64,
}

impl Labels {
    /// The labels of a training run of `exp` on its analysis set.
    pub fn of(exp: &Experiment, set: &AnalysisSet) -> Labels {
        Labels { seen: set.seen_labels(), unseen: set.unseen_labels(), num_tasks: exp.num_tasks(), seed: exp.seed }
    }
}

/// The analysis thread's side of a run.
pub struct Analyser {
    pub jobs: Sender<Job>,
    pub thread: JoinHandle<()>,
    /// Why a checkpoint could not be saved, once it could not (the thread has reported it and
    /// stopped).
    failure: Arc<OnceLock<String>>,
}

impl Analyser {
    pub fn failed(&self) -> bool {
        self.failure.get().is_some()
    }

    /// Waits for every queued checkpoint to be analysed and saved; says why not, if one was not.
    pub fn finish(self) -> Option<String> {
        drop(self.jobs);
        let _ = self.thread.join();
        self.failure.get().cloned()
    }
}

/// The session writer, shared by the trainer (log lines, pending checkpoints) and the analyser
/// (committing them).
pub type SharedWriter = Arc<Mutex<SessionWriter>>;

/// Locks the writer. A panic while it was held leaves a writer whose state is still consistent
/// on disk (every write is atomic), so the lock is taken over rather than failing the run.
pub fn lock(writer: &SharedWriter) -> std::sync::MutexGuard<'_, SessionWriter> {
    writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the analysis thread; `previous` is the analysis of the checkpoint before the first job
/// (a resumed run's), if any.
pub fn spawn_analyser<F>(
    labels: Labels,
    writer: SharedWriter,
    previous: Option<CheckpointAnalysis>,
    mut sink: F,
) -> Result<Analyser, TrainError>
where
    F: FnMut(AnalyserEvent) -> bool + Send + 'static,
{
    let (jobs, rx): (Sender<Job>, Receiver<Job>) = std::sync::mpsc::channel();
    let Labels { seen: seen_labels, unseen: unseen_labels, num_tasks, seed } = labels;
    let failure = Arc::new(OnceLock::new());
    let failure_slot = failure.clone();
    let thread = std::thread::Builder::new()
        .name("analysis".into())
        .spawn(move || {
            // PCA signs follow the previous checkpoint's, also across a resume.
            let mut prev = previous;
            for job in rx {
                let Job { mut snapshot, seen, unseen, resume } = job;
                let d =
                    if seen_labels.is_empty() { 0 } else { seen.first().map_or(0, |h| h.len() / seen_labels.len()) };
                let input = AnalysisInput {
                    layers: seen.iter().zip(&unseen).map(|(s, u)| LayerHidden { seen: s, unseen: u }).collect(),
                    d,
                    seen_labels: &seen_labels,
                    unseen_labels: &unseen_labels,
                    num_tasks,
                    seed: seed ^ snapshot.step as u64,
                    restarts: KMEANS_RESTARTS,
                };
                snapshot.analysis = analyze_checkpoint(&input, prev.as_ref());
                let committed = lock(&writer).commit_checkpoint(&snapshot, resume);
                if let Err(e) = committed {
                    lock(&writer).abandon_checkpoint(snapshot.step);
                    let failure = Failure::from(&e);
                    let message = format!("cannot save checkpoint {}: {}", snapshot.step, failure.message);
                    let _ = failure_slot.set(message.clone());
                    sink(AnalyserEvent::Failed(Failure { message, ..failure }));
                    return;
                }
                prev = Some(snapshot.analysis.clone());
                if !sink(AnalyserEvent::Checkpoint(Box::new(snapshot))) {
                    return;
                }
            }
        })
        .map_err(|source| TrainError::Thread { thread: "analysis", source })?;
    Ok(Analyser { jobs, thread, failure })
}
