//! Running a model without training it: evaluation and hidden-state capture, for checkpoints,
//! export and probes.

use candle_core::{DType, Device, Result, D};
use candle_nn::{VarBuilder, VarMap};

use super::batch::encode_batch;
use super::weights::{SavedTensors, WeightsError};
use crate::experiment::spec::LossOn;
use crate::experiment::{Example, Experiment};
use crate::model::init::named_parameters;
use crate::model::{CausalLm, Gpt, ModelConfig};

/// Examples per forward pass when evaluating, to bound memory.
const EVAL_CHUNK: usize = 512;

/// Accuracy and captured hidden states over a set of examples.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Exact-match accuracy: the fraction of examples whose whole answer is right.
    pub accuracy: f64,
    /// Whether each example's answer is right.
    pub correct: Vec<bool>,
    /// Each example's greedy first answer token: a lookup's whole answer.
    pub first_tokens: Vec<u32>,
    /// Per layer 0..=L, row-major (examples x d_model).
    pub hidden: Vec<Vec<f32>>,
}

/// Answer accuracy and, with `capture`, hidden states of every layer.
pub fn evaluate(
    model: &dyn CausalLm,
    exp: &Experiment,
    device: &Device,
    examples: &[Example],
    capture: bool,
) -> Result<Evaluation> {
    let layers = model.hidden_layers();
    let mut hidden: Vec<Vec<f32>> = vec![Vec::new(); if capture { layers } else { 0 }];
    let mut correct: Vec<bool> = Vec::with_capacity(examples.len());
    let mut first_tokens: Vec<u32> = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(EVAL_CHUNK) {
        let batch = encode_batch(exp, chunk, true, LossOn::Answer, device)?;
        let out = model.forward(&batch.tokens, Some(&batch.answer_rows), capture.then_some(&batch.hidden_rows))?;
        let pred: Vec<u32> = out.logits.argmax(D::Minus1)?.to_vec1()?;
        let mut at = 0;
        for &n in &batch.answer_lens {
            correct.push(pred[at..at + n] == batch.answer_ids[at..at + n]);
            first_tokens.push(pred.get(at).copied().unwrap_or(0));
            at += n;
        }
        for (dst, h) in hidden.iter_mut().zip(&out.hidden) {
            dst.extend(h.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
        }
    }
    let right = correct.iter().filter(|&&c| c).count();
    let accuracy = if examples.is_empty() { 0.0 } else { right as f64 / examples.len() as f64 };
    Ok(Evaluation { accuracy, correct, first_tokens, hidden })
}

/// A model loaded from disk, for inference only.
pub struct LoadedModel {
    pub model: Box<dyn CausalLm>,
    pub device: Device,
    varmap: VarMap,
}

impl LoadedModel {
    /// Our GPT with `cfg`, from a checkpoint's weights (read onto `device`).
    pub fn load(cfg: &ModelConfig, weights: &SavedTensors, device: &Device) -> std::result::Result<Self, WeightsError> {
        let varmap = VarMap::new();
        let model = Gpt::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device)).map_err(|source| {
            WeightsError::Load { file: weights.file.clone(), name: "the model".into(), source: Box::new(source) }
        })?;
        weights.load_into(&varmap)?;
        Ok(LoadedModel { model: Box::new(model), device: device.clone(), varmap })
    }

    /// Each parameter's name and shape, sorted by name: what a checkpoint of this model holds.
    pub fn parameter_shapes(&self) -> Result<Vec<(String, Vec<usize>)>> {
        Ok(named_parameters(&self.varmap)?.into_iter().map(|(name, var)| (name, var.dims().to_vec())).collect())
    }

    pub fn evaluate(&self, exp: &Experiment, examples: &[Example], capture: bool) -> Result<Evaluation> {
        evaluate(self.model.as_ref(), exp, &self.device, examples, capture)
    }
}
