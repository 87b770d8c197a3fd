//! The threads that answer the user's requests in the app (the prober, the t-SNE thread), as
//! the event loop holds them.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use super::{UiError, UiEvent};
use crate::analysis::TsneConfig;
use crate::experiment::prompts::Template;
use crate::experiment::Experiment;
use crate::model::DeviceChoice;
use crate::model::ModelConfig;
use crate::record::{EmbeddingRequest, ProbeCommand};
use crate::session::format::AnalyzedSource;
use crate::session::{probes, Session};
use crate::train::embedder::{spawn_embedder, EmbeddingEngine};
use crate::train::extract::ReadAt;
use crate::train::pretrained_prober::PretrainedProber;
use crate::train::prober::{spawn_prober, Prober};
use crate::ui::app::App;

pub(super) type ReplayApp = (App, Option<Sender<ProbeCommand>>, Option<Sender<EmbeddingRequest>>);

/// The prober and the t-SNE thread of a replay, each where the session allows it.
type ReplayWorkers = (Option<Sender<ProbeCommand>>, Option<Sender<EmbeddingRequest>>);

/// The threads the event loop sends the user's requests to.
#[derive(Clone, Copy)]
pub(super) struct Workers<'a> {
    pub prober: Option<&'a Sender<ProbeCommand>>,
    pub embedder: Option<&'a Sender<EmbeddingRequest>>,
}

/// Starts the t-SNE thread, seeded with the run's `seed`, and enables the app's t-SNE view.
/// `experiment` rebuilds hidden states from weights; without it (an analysed session) they are
/// read from the checkpoints.
pub(super) fn start_embedder(
    app: &mut App,
    experiment: Option<Arc<Experiment>>,
    seed: u64,
    model: ModelConfig,
    session: &Path,
    tx: &Sender<UiEvent>,
) -> Result<Sender<EmbeddingRequest>, UiError> {
    let tsne = TsneConfig { seed, ..TsneConfig::default() };
    let engine = EmbeddingEngine::new(experiment, model, session, tsne);
    let tx = tx.clone();
    let sender = spawn_embedder(engine, move |e| tx.send(UiEvent::Embedding(e)).is_ok())?;
    app.set_embedding_support();
    Ok(sender)
}

impl Workers<'_> {
    /// Sends what the app asks for after an event: layouts, probes and forgotten probes.
    /// Returns the (id, step) of each probe sent, for the latency log.
    pub(super) fn send_requests(&self, app: &mut App) -> Vec<(u64, usize)> {
        for req in app.take_embedding_requests() {
            if let Some(e) = self.embedder {
                let _ = e.send(req);
            }
        }
        let mut sent = Vec::new();
        for req in app.take_probe_requests() {
            sent.push((req.id, req.step));
            if let Some(p) = self.prober {
                let _ = p.send(ProbeCommand::Run(req));
            }
        }
        for (id, text) in app.take_forgotten_probes() {
            if let Some(p) = self.prober {
                let _ = p.send(ProbeCommand::Forget { id, text });
            }
        }
        sent
    }
}

pub(super) fn start_prober(engine: impl Prober, tx: &Sender<UiEvent>) -> Result<Sender<ProbeCommand>, UiError> {
    let tx = tx.clone();
    Ok(spawn_prober(engine, move |r| tx.send(UiEvent::Probe(r)).is_ok())?)
}

/// The workers of a replay of an analysed session: free-text probes of its models, where its
/// template still reads, and t-SNE layouts of its stored hidden states.
pub(super) fn start_analyzed(
    app: &mut App,
    session: &Session,
    source: &AnalyzedSource,
    tx: &Sender<UiEvent>,
) -> Result<ReplayWorkers, UiError> {
    let (seed, model) = (session.manifest.seed, session.manifest.model.clone());
    let embedder = start_embedder(app, None, seed, model, &session.dir, tx)?;
    let Ok(template) = Template::new(&source.template) else { return Ok((None, Some(embedder))) };
    let position = if source.position == "mean" { ReadAt::Mean } else { ReadAt::Last };
    let dirs = source.models.iter().map(|m| m.dir.clone()).collect();
    let engine = PretrainedProber::new(dirs, template, position, DeviceChoice::Cpu)?.saving_to(&session.dir);
    app.set_free_text_probes(&session.points);
    app.add_saved_probes(probes::read(&session.layout()).into_iter().map(|p| p.text).collect());
    Ok((Some(start_prober(engine, tx)?), Some(embedder)))
}
