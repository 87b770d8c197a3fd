//! Probes of pretrained models: any text the user types is an instruction, placed in the
//! session's prompt template and run through the model of the selected checkpoint (the i-th
//! model directory of an analysed session). What comes back is what a probe of our own model
//! gives: the hidden state of every layer where the analysis reads it, a short greedy
//! continuation, and the gradient x input attribution of its first token to the instruction's
//! tokens.

use std::ops::Range;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor, Var, D};

use super::error::ProbeFault;
use super::extract::{hidden_states, ReadAt, Tokens};
use super::prober::Prober;
use crate::experiment::prompts::{Prompt, Template};
use crate::model::pretrained::{LoadOptions, Pretrained};
use crate::model::{CausalLm, DeviceChoice};
use crate::record::ProbeAnswer;
use crate::session::SessionDir;

/// New tokens a continuation runs to at most: enough to read what the model would say, few
/// enough that a probe without a KV cache stays quick.
pub const MAX_NEW_TOKENS: usize = 8;

pub struct PretrainedProber {
    models: Vec<PathBuf>,
    template: Template,
    position: ReadAt,
    device: Device,
    session: Option<SessionDir>,
    /// The model of the step probed last: following probes usually stay on it, and loading
    /// one is the slow part.
    loaded: Option<(usize, Loaded)>,
}

struct Loaded {
    model: Pretrained,
    /// Tokens that end a continuation, as transformers' `generate` takes them.
    eos: Vec<u32>,
}

impl PretrainedProber {
    /// Probes `models` (checkpoint step i is `models[i]`) on `device`, reading hidden states at
    /// `position` of the instruction as placed in `template`. Models load when first probed.
    pub fn new(
        models: Vec<PathBuf>,
        template: Template,
        position: ReadAt,
        device: DeviceChoice,
    ) -> Result<Self, ProbeFault> {
        let device = device.open()?.device;
        Ok(PretrainedProber { models, template, position, device, session: None, loaded: None })
    }

    /// Records the probes made in `session`'s probes file, as trained sessions do.
    pub fn saving_to(mut self, session: &Path) -> Self {
        self.session = Some(SessionDir::new(session));
        self
    }

    /// Runs `text` as the instruction (the input left empty) with the model of step `step`.
    pub fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ProbeFault::Empty);
        }
        let rendered = self.template.render(&Prompt {
            instruction: text.to_string(),
            task: String::new(),
            seen: true,
            input: None,
        });
        let (position, device) = (self.position, self.device.clone());
        let Loaded { model, eos } = self.model_at(step)?;
        let tok = model.tokenizer();
        let (ids, instruction) = tok.encode_span(&rendered.text, rendered.instruction.clone())?;
        let instruction = instruction.ok_or_else(|| ProbeFault::NoInstructionTokens { text: text.to_string() })?;
        let context = model.context();
        if ids.len() >= context {
            return Err(ProbeFault::TooLong { tokens: ids.len(), context });
        }
        let hidden = hidden_states(
            model,
            &[Tokens { ids: ids.clone(), instruction: instruction.clone() }],
            position,
            0,
            &device,
        )?
        .iter()
        .map(|h| h.flatten_all()?.to_vec1::<f32>())
        .collect::<candle_core::Result<Vec<_>>>()?;
        let generated = greedy_continuation(model, &ids, MAX_NEW_TOKENS, eos, &device)?;
        let first = *generated.first().ok_or_else(|| candle_core::Error::Msg("no token was generated".into()))?;
        let (attribution, answer_probability) =
            first_token_attribution(model, &ids, instruction.clone(), first, &device)?;
        let shown = match generated.last() {
            Some(last) if eos.contains(last) => &generated[..generated.len() - 1],
            _ => &generated[..],
        };
        let words = ids[instruction].iter().map(|&id| tok.decode(&[id])).collect::<Result<Vec<_>, _>>()?;
        Ok(ProbeAnswer {
            words,
            input: String::new(),
            hidden,
            answer: tok.decode(shown)?,
            answer_probability,
            attribution,
        })
    }

    fn model_at(&mut self, step: usize) -> Result<&Loaded, ProbeFault> {
        let count = self.models.len();
        let dir = self.models.get(step).ok_or(ProbeFault::NoModel { step, count })?;
        if self.loaded.as_ref().map(|(s, _)| *s) != Some(step) {
            // The old model goes first: two medium models may not fit at once.
            self.loaded = None;
            let model = Pretrained::load(dir, &LoadOptions { device: self.device.clone(), dtype: None })?;
            let eos = eos_tokens(dir);
            self.loaded = Some((step, Loaded { model, eos }));
        }
        self.loaded.as_ref().map(|(_, m)| m).ok_or(ProbeFault::NoModel { step, count })
    }
}

impl Prober for PretrainedProber {
    fn run(&mut self, text: &str, step: usize) -> Result<ProbeAnswer, ProbeFault> {
        PretrainedProber::run(self, text, step)
    }

    fn session(&self) -> Option<&SessionDir> {
        self.session.as_ref()
    }
}

/// Greedy decoding of up to `max_new` tokens after `prompt`, as transformers' `generate` with
/// `do_sample=False` does: the most likely token each time, ending with (and keeping) the first
/// token of `eos`, and never past the model's context. A full forward pass per token: no KV
/// cache, which the tiny and medium models probed here do not need.
pub fn greedy_continuation(
    model: &dyn CausalLm,
    prompt: &[u32],
    max_new: usize,
    eos: &[u32],
    device: &Device,
) -> candle_core::Result<Vec<u32>> {
    let mut ids = prompt.to_vec();
    let mut generated = Vec::new();
    while generated.len() < max_new && ids.len() < model.context() {
        let t = ids.len();
        let tokens = Tensor::from_vec(ids.clone(), (1, t), device)?;
        let last = Tensor::from_vec(vec![(t - 1) as u32], 1, device)?;
        let out = model.forward(&tokens, Some(&last), None)?;
        let next = out.logits.argmax(D::Minus1)?.flatten_all()?.to_vec1::<u32>()?;
        let next = *next.first().ok_or_else(|| candle_core::Error::Msg("no logits came back".into()))?;
        generated.push(next);
        ids.push(next);
        if eos.contains(&next) {
            break;
        }
    }
    Ok(generated)
}

/// Gradient x input of `token`'s logit after `ids`, with respect to the token embeddings and
/// summed over the embedding: one value per token of `instruction`; and `token`'s probability.
/// The logit, not the probability: once the model is sure, the probability's gradient carries a
/// factor 1 - p and what is left of it is noise.
fn first_token_attribution(
    model: &dyn CausalLm,
    ids: &[u32],
    instruction: Range<usize>,
    token: u32,
    device: &Device,
) -> candle_core::Result<(Vec<f32>, f32)> {
    let t = ids.len();
    let tokens = Tensor::from_vec(ids.to_vec(), (1, t), device)?;
    // Differentiate with respect to the input embeddings, not the weights.
    let emb = Var::from_tensor(&model.embed(&tokens)?.detach())?;
    let last = Tensor::from_vec(vec![(t - 1) as u32], 1, device)?;
    let out = model.forward_embedded(emb.as_tensor(), 1, t, Some(&last), None)?;
    let logits = out.logits.flatten_all()?;
    let picked = logits.get(token as usize)?;
    let grads = picked.backward()?;
    let g = grads
        .get(emb.as_tensor())
        .ok_or_else(|| candle_core::Error::Msg("no gradient reached the embeddings".into()))?;
    let gxi: Vec<f32> = (g * emb.as_tensor())?.sum(D::Minus1)?.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    let attribution = gxi.get(instruction).map(<[f32]>::to_vec).unwrap_or_default();
    let logits: Vec<f32> = logits.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    Ok((attribution, probability(&logits, token as usize)))
}

/// Softmax of `logits` at `at`, in f64 so a wide vocabulary does not lose it.
fn probability(logits: &[f32], at: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    logits.get(at).map_or(0.0, |&l| (f64::from(l - max).exp() / sum) as f32)
}

/// The end-of-sequence ids transformers' `generate` stops at: `generation_config.json`'s, else
/// `config.json`'s `eos_token_id` (one id or a list). A model without one runs to the limit.
fn eos_tokens(dir: &Path) -> Vec<u32> {
    ["generation_config.json", "config.json"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .map(|v| match v.get("eos_token_id") {
            Some(serde_json::Value::Number(n)) => n.as_u64().into_iter().collect::<Vec<_>>(),
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(serde_json::Value::as_u64).collect(),
            _ => Vec::new(),
        })
        .find(|ids| !ids.is_empty())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|id| u32::try_from(id).ok())
        .collect()
}
