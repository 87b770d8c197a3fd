//! Probes: the model at one checkpoint run on an instruction the user typed, with the hidden
//! state of every layer, the greedy answer and a gradient x input attribution to its words
//! (Wu et al., arXiv 2310.00492). Runs on its own thread, from the weights saved in the
//! session, so live training and replay probe the same way and training never waits.

use candle_core::{Tensor, Var, D};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use super::error::ProbeFault;
use super::inference::LoadedModel;
use super::weights::{SavedTensors, WeightsError};
use crate::experiment::probe::parse;
use crate::experiment::spec::HiddenPosition;
use crate::experiment::tokenizer::EOS;
use crate::experiment::Experiment;
use crate::model::gpt::readout_rows;
use crate::model::layers::softmax_last;
use crate::model::{DeviceChoice, ModelConfig};
use crate::record::{ProbeAnswer, ProbeCommand, ProbeRequest, ProbeResult};
use crate::session::format::WEIGHTS;
use crate::session::reader::read_manifest;
use crate::session::{probes, SavedProbe, SessionDir};

/// What the probe thread runs: a session's checkpoints of our GPT ([`ProbeEngine`]), or
/// pretrained models ([`super::pretrained_prober::PretrainedProber`]).
pub trait Prober: Send + 'static {
    /// The answer to `text` at checkpoint `step`.
    fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault>;

    /// The session whose probes file records the probes made (and forgets deleted ones); None
    /// keeps them in memory only.
    fn session(&self) -> Option<&SessionDir>;
}

/// So a caller can choose the engine at run time (`Box<dyn Prober>`).
impl<P: Prober + ?Sized> Prober for Box<P> {
    fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault> {
        (**self).run(text, step)
    }

    fn session(&self) -> Option<&SessionDir> {
        (**self).session()
    }
}

impl Prober for ProbeEngine {
    fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault> {
        ProbeEngine::run(self, text, step)
    }

    fn session(&self) -> Option<&SessionDir> {
        Some(&self.session)
    }
}

pub struct ProbeEngine {
    experiment: Arc<Experiment>,
    config: ModelConfig,
    session: SessionDir,
    device: candle_core::Device,
    /// The model of the checkpoint probed last: following probes usually stay on it.
    loaded: Option<(usize, LoadedModel)>,
}

impl ProbeEngine {
    /// Probes `session`'s checkpoints on `device` (opened here, so callers such as the UI need
    /// no candle types).
    pub fn new(
        experiment: Arc<Experiment>,
        config: ModelConfig,
        session: &Path,
        device: DeviceChoice,
    ) -> Result<Self, ProbeFault> {
        let device = device.open()?.device;
        Ok(ProbeEngine { experiment, config, session: SessionDir::new(session), device, loaded: None })
    }

    /// Runs `text` (`instruction words | X`, or `x -> y | z`) at checkpoint `step`: the greedy
    /// answer (one symbol, or a string up to `<eos>`), its probability, and the attribution of
    /// its logit to the instruction's words.
    pub fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault> {
        let exp = self.experiment.clone();
        let context = self.config.context;
        let probe = parse(&exp, text, context)?;
        let model = self.model_at(step)?;
        let enc = exp.tokenizer.encode(&probe.words, &probe.input, None, false).ok_or(ProbeFault::OutsideVocabulary)?;
        let hidden_pos = match exp.hidden_position() {
            HiddenPosition::Answer => enc.answer_pos,
            HiddenPosition::LastInstruction => enc.last_instruction_pos,
        };
        let dev = &model.device;
        let answer = greedy_answer(model, &exp, &enc.ids, context)?;
        // The last answer token is predicted, never read.
        let mut ids = enc.ids.clone();
        ids.extend(&answer[..answer.len() - 1]);
        let t = ids.len();
        let tokens = Tensor::from_vec(ids, (1, t), dev)?;
        // Differentiate with respect to the input embeddings, not the weights.
        let emb = Var::from_tensor(&model.model.embed(&tokens)?.detach())?;
        let rows: Vec<usize> = (0..answer.len()).map(|k| enc.answer_pos + k).collect();
        let rows = Tensor::from_vec(rows.iter().map(|&r| r as u32).collect::<Vec<_>>(), rows.len(), dev)?;
        let out = model.model.forward_embedded(
            emb.as_tensor(),
            1,
            t,
            Some(&rows),
            Some(&readout_rows(&[hidden_pos], t, dev)?),
        )?;
        let probs = softmax_last(&out.logits)?;
        // What is attributed is the answer's logit (summed over its tokens), not its probability
        // or log-probability: once the model is sure, both saturate (their gradient carries a
        // factor 1 - p) and what is left of it is noise.
        let picked = Tensor::from_vec(answer.clone(), (answer.len(), 1), dev)?;
        let probability = probs.gather(&picked, D::Minus1)?.log()?.sum_all()?.exp()?;
        let grads = out.logits.gather(&picked, D::Minus1)?.sum_all()?.backward()?;
        let g = grads
            .get(emb.as_tensor())
            .ok_or_else(|| candle_core::Error::Msg("no gradient reached the embeddings".into()))?;
        // Gradient x input, summed over the embedding: one number per instruction word
        // (positions 1..=n, after <bos>).
        let gxi: Vec<f32> = (g * emb.as_tensor())?.sum(D::Minus1)?.to_vec1()?;
        let attribution = gxi[1..=probe.words.len()].to_vec();
        let hidden =
            out.hidden.iter().map(|h| h.flatten_all()?.to_vec1::<f32>()).collect::<candle_core::Result<Vec<_>>>()?;
        let shown: Vec<u32> = answer.iter().copied().filter(|&id| id != EOS).collect();
        let answer = match exp.family.terminated() {
            true => shown.iter().map(|&id| exp.tokenizer.token(id).unwrap_or("?")).collect::<String>(),
            false => shown.iter().map(|&id| exp.tokenizer.token(id).unwrap_or("?")).collect::<Vec<_>>().join(" "),
        };
        Ok(ProbeAnswer {
            words: probe.words.clone(),
            input: exp.render(&probe.input),
            hidden,
            answer,
            answer_probability: probability.to_scalar::<f32>()?,
            attribution,
        })
    }

    fn model_at(&mut self, step: usize) -> Result<&LoadedModel, ProbeFault> {
        let missing = || ProbeFault::NoCheckpoint { step, session: self.session.root().to_path_buf() };
        if self.loaded.as_ref().map(|(s, _)| *s) != Some(step) {
            // Read afresh: a live run adds checkpoints (and their checksums) as it goes.
            let root = self.session.root();
            let manifest = read_manifest(root).map_err(WeightsError::from)?;
            if !manifest.checkpoints.iter().any(|c| c.step == step) {
                return Err(missing());
            }
            let weights = SavedTensors::read(root, &manifest, step, WEIGHTS, &self.device)?;
            let m = LoadedModel::load(&self.config, &weights, &self.device)?;
            self.loaded = Some((step, m));
        }
        self.loaded.as_ref().map(|(_, m)| m).ok_or_else(missing)
    }
}

/// The model's greedy answer to a prompt that ends in `<ans>`: one token for a lookup, tokens up
/// to and with `<eos>` for a rewrite (cut at the model's context).
fn greedy_answer(
    model: &LoadedModel,
    exp: &Experiment,
    prompt: &[u32],
    context: usize,
) -> candle_core::Result<Vec<u32>> {
    let mut ids = prompt.to_vec();
    let mut answer = Vec::new();
    loop {
        let t = ids.len();
        let tokens = Tensor::from_vec(ids.clone(), (1, t), &model.device)?;
        let out = model.model.forward(&tokens, Some(&readout_rows(&[t - 1], t, &model.device)?), None)?;
        let next = out.logits.argmax(D::Minus1)?.squeeze(0)?.to_scalar::<u32>()?;
        answer.push(next);
        ids.push(next);
        if !exp.family.terminated() || next == EOS || ids.len() >= context {
            return Ok(answer);
        }
    }
}

/// Starts the probe thread. Requests queued while one runs are answered newest first, so the
/// probe the user looks at now comes back first; exact repeats are answered once. A deletion is
/// taken in the order it was sent: a probe saved before it is forgotten after.
pub fn spawn_prober<E, F>(mut engine: E, mut sink: F) -> std::io::Result<Sender<ProbeCommand>>
where
    E: Prober,
    F: FnMut(ProbeResult) -> bool + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<ProbeCommand>();
    // candle's CPU kernels run on rayon's global pool, which training keeps busy; a pool of our
    // own keeps a probe from queueing behind training's work.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(|_| "prober-pool".into()).build().ok();
    std::thread::Builder::new().name("prober".into()).spawn(move || {
        let mut queue: VecDeque<ProbeRequest> = VecDeque::new();
        // Whether each probe asked to be saved here was (a probe restored from the session
        // asked elsewhere, and is on file).
        let mut saved: HashMap<u64, bool> = HashMap::new();
        loop {
            let mut incoming: Vec<ProbeCommand> = Vec::new();
            if queue.is_empty() {
                match rx.recv() {
                    Ok(c) => incoming.push(c),
                    Err(_) => return,
                }
            }
            incoming.extend(rx.try_iter());
            for command in incoming {
                match command {
                    ProbeCommand::Run(r) => queue.push_back(r),
                    ProbeCommand::Forget { id, text } => {
                        // A save still queued never happens; one already made is undone.
                        let queued = queue.iter().any(|r| r.id == id && r.save);
                        queue.retain(|r| r.id != id);
                        if let (false, true, Some(session)) =
                            (queued, saved.get(&id).copied().unwrap_or(true), engine.session())
                        {
                            probes::forget(session, &text);
                        }
                    }
                }
            }
            let Some(mut req) = queue.pop_back() else { continue };
            // An older copy of the same request may be the one asking to be saved.
            req.save |= queue.iter().any(|r| r.id == req.id && r.step == req.step && r.save);
            queue.retain(|r| !(r.id == req.id && r.step == req.step));
            let outcome = match &pool {
                Some(pool) => pool.install(|| engine.run(&req.text, req.step)),
                None => engine.run(&req.text, req.step),
            };
            if req.save {
                saved.insert(req.id, outcome.is_ok());
            }
            if let (true, Ok(_), Some(session)) = (req.save, &outcome, engine.session()) {
                probes::append(session, &SavedProbe { text: req.text.clone(), step: req.step, deleted: false });
            }
            let outcome = outcome.map_err(|e| e.to_string().into());
            let result = ProbeResult { id: req.id, step: req.step, text: req.text, outcome };
            if !sink(result) {
                return;
            }
        }
    })?;
    Ok(tx)
}
