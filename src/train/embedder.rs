//! The t-SNE thread: for a (checkpoint, layer) the UI asks about, the hidden states of the
//! analysis set recomputed from the checkpoint's saved weights (as `export` does), or read from
//! the checkpoint of an analysed session, then [`crate::analysis::tsne`] on them. A producer of its own, beside the prober, so a slow
//! layout never delays a probe and neither waits for training.

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use super::inference::LoadedModel;
use super::stored_hidden;
use super::weights::{SavedTensors, WeightsError};
use crate::analysis::{tsne, TsneConfig};
use crate::experiment::Experiment;
use crate::model::{DeviceChoice, ModelConfig};
use crate::record::{EmbeddingEvent, EmbeddingRequest};
use crate::session::format::WEIGHTS;
use crate::session::reader::read_manifest;
use crate::session::SessionDir;

/// Progress is reported every this many epochs: enough for a moving bar, few enough events.
const PROGRESS_EVERY: usize = 25;

pub struct EmbeddingEngine {
    /// None for an analysed session, whose checkpoints hold their hidden states.
    experiment: Option<Arc<Experiment>>,
    config: ModelConfig,
    session: SessionDir,
    device: DeviceChoice,
    tsne: TsneConfig,
    /// Every layer's hidden states at the checkpoint embedded last: the next request is
    /// usually another layer of it.
    hidden: Option<(usize, Vec<Vec<f32>>)>,
}

impl EmbeddingEngine {
    pub fn new(experiment: Option<Arc<Experiment>>, config: ModelConfig, session: &Path, tsne: TsneConfig) -> Self {
        EmbeddingEngine {
            experiment,
            config,
            session: SessionDir::new(session),
            device: DeviceChoice::Cpu,
            tsne,
            hidden: None,
        }
    }

    /// The layout of `req`, reporting progress through `progress(epoch, epochs)`.
    pub fn run(
        &mut self,
        req: EmbeddingRequest,
        progress: impl FnMut(usize, usize) + Send,
    ) -> Result<Vec<[f32; 2]>, String> {
        let d = self.config.d_model;
        let cfg = self.tsne.clone();
        let hidden = self.hidden_at(req.step)?;
        let layer = hidden.get(req.layer).ok_or_else(|| {
            format!(
                "no layer {} at step {}: the model has layers 0..={}",
                req.layer,
                req.step,
                hidden.len().saturating_sub(1)
            )
        })?;
        tsne(layer, d, &cfg, progress).map_err(|e| format!("t-SNE of layer {} at step {}: {e}", req.layer, req.step))
    }

    fn hidden_at(&mut self, step: usize) -> Result<&[Vec<f32>], String> {
        if self.hidden.as_ref().map(|(s, _)| *s) != Some(step) {
            self.hidden = None;
            let fail = |e: &dyn std::fmt::Display| format!("hidden states at step {step}: {e}");
            let device = self.device.open().map_err(|e| fail(&e))?.device;
            // Read afresh: a live run adds checkpoints as it goes.
            let root = self.session.root();
            let manifest = read_manifest(root).map_err(|e| fail(&WeightsError::from(e)))?;
            let Some(experiment) = self.experiment.as_ref() else {
                let hidden = stored_hidden::read(root, &manifest, step).map_err(|e| fail(&e))?;
                self.hidden = Some((step, hidden));
                return Ok(self.hidden.as_ref().map(|(_, h)| h.as_slice()).unwrap_or_default());
            };
            let weights = SavedTensors::read(root, &manifest, step, WEIGHTS, &device).map_err(|e| fail(&e))?;
            let model = LoadedModel::load(&self.config, &weights, &device).map_err(|e| fail(&e))?;
            let set = experiment.analysis_set();
            let examples: Vec<_> = set.seen.iter().chain(&set.unseen).cloned().collect();
            let eval = model.evaluate(experiment, &examples, true).map_err(|e| fail(&e))?;
            self.hidden = Some((step, eval.hidden));
        }
        Ok(self.hidden.as_ref().map(|(_, h)| h.as_slice()).unwrap_or_default())
    }
}

/// Starts the t-SNE thread. Only the newest request waiting when a layout finishes is served
/// (the user has moved on from the others); one being computed runs to its end, since the
/// optimiser cannot be interrupted. Ends when `sink` refuses an event or the sender is dropped.
pub fn spawn_embedder<F>(mut engine: EmbeddingEngine, mut sink: F) -> std::io::Result<Sender<EmbeddingRequest>>
where
    F: FnMut(EmbeddingEvent) -> bool + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<EmbeddingRequest>();
    // Its own pool (all cores: the user asked and waits for it), not rayon's global one, which
    // training keeps busy.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(0).thread_name(|_| "tsne-pool".into()).build().ok();
    std::thread::Builder::new().name("tsne".into()).spawn(move || loop {
        let Ok(first) = rx.recv() else { return };
        let request = rx.try_iter().last().unwrap_or(first);
        let mut open = true;
        let mut progress = |epoch: usize, epochs: usize| {
            if open && (epoch % PROGRESS_EVERY == 0 || epoch == epochs) {
                open = sink(EmbeddingEvent::Progress { request, epoch, epochs });
            }
        };
        let outcome = match &pool {
            Some(pool) => pool.install(|| engine.run(request, &mut progress)),
            None => engine.run(request, &mut progress),
        };
        if !open || !sink(EmbeddingEvent::Done { request, outcome }) {
            return;
        }
    })?;
    Ok(tx)
}
