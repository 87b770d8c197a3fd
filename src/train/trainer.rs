//! The training loop's state: model, optimizer, data stream, device.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;
use std::path::Path;
use std::sync::Arc;

use super::batch::{encode_batch, Batch};
use super::error::TrainError;
use super::inference::{evaluate, Evaluation};
use super::loss::{cross_entropy, masked_cross_entropy};
use super::optimizer::{AdamW, AdamWConfig};
use super::weights::SavedTensors;
use crate::experiment::sampling::{BatchSampler, SamplerState};
use crate::experiment::{Example, Experiment};
use crate::model::init::named_parameters;
use crate::model::{CausalLm, Gpt, ModelConfig, SelectedDevice};

pub struct Trainer {
    pub experiment: Arc<Experiment>,
    pub config: ModelConfig,
    pub device: SelectedDevice,
    pub total_steps: usize,
    varmap: VarMap,
    model: Gpt,
    optimizer: AdamW,
    sampler: BatchSampler,
    step: usize,
}

impl Trainer {
    pub fn new(
        experiment: Arc<Experiment>,
        config: ModelConfig,
        device: SelectedDevice,
        total_steps: usize,
    ) -> Result<Self> {
        let (model, varmap) = Gpt::initialized(&config, &device.device, experiment.seed)?;
        let optimizer =
            AdamW::new(named_parameters(&varmap)?, AdamWConfig::from_spec(&experiment.spec.train, total_steps))?;
        let sampler = BatchSampler::new(experiment.seed);
        Ok(Trainer { experiment, config, device, total_steps, varmap, model, optimizer, sampler, step: 0 })
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn sampler_state(&self) -> SamplerState {
        self.sampler.state()
    }

    pub fn lr(&self) -> f64 {
        self.optimizer.config().lr_at(self.step)
    }

    /// Loss of a batch with gradients recorded.
    pub fn batch_loss(&self, batch: &Batch) -> Result<Tensor> {
        match &batch.seq_targets {
            Some((targets, mask)) => {
                let out = self.model.forward(&batch.tokens, None, None)?;
                masked_cross_entropy(&out.logits, targets, mask)
            }
            None => {
                let out = self.model.forward(&batch.tokens, Some(&batch.answer_rows), None)?;
                cross_entropy(&out.logits, &batch.answers)
            }
        }
    }

    /// Draws the next training batch.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let spec = &self.experiment.spec.train;
        let examples = self.sampler.batch(&self.experiment, spec.batch_size);
        encode_batch(&self.experiment, &examples, true, spec.loss, &self.device.device)
    }

    /// One optimisation step; returns the batch loss.
    pub fn train_step(&mut self) -> Result<f32> {
        let batch = self.next_batch()?;
        let loss = self.batch_loss(&batch)?;
        let grads = loss.backward()?;
        self.optimizer.step(&grads)?;
        self.step += 1;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            candle_core::bail!("loss became {value} at step {}: training diverged (try a lower train.lr)", self.step);
        }
        Ok(value)
    }

    /// Gradients of one batch's loss, without updating (for checks and attribution).
    pub fn gradients(&mut self) -> Result<(GradStore, Vec<(String, Var)>)> {
        let batch = self.next_batch()?;
        let grads = self.batch_loss(&batch)?.backward()?;
        Ok((grads, named_parameters(&self.varmap)?))
    }

    /// Answer accuracy and, with `capture`, hidden states of every layer.
    pub fn evaluate(&self, examples: &[Example], capture: bool) -> Result<Evaluation> {
        evaluate(&self.model, &self.experiment, &self.device.device, examples, capture)
    }

    pub fn save_weights(&self, path: &Path) -> Result<()> {
        self.varmap.save(path)
    }

    /// Saves the optimizer moments (for `--resume`).
    pub fn save_optimizer(&self, path: &Path) -> Result<()> {
        candle_core::safetensors::save(&self.optimizer.state()?, path)
    }

    /// Continues from a checkpoint: its weights, optimizer moments, step and data stream.
    pub fn resume_from(
        &mut self,
        weights: &SavedTensors,
        optimizer: &SavedTensors,
        step: usize,
        sampler: SamplerState,
    ) -> std::result::Result<(), TrainError> {
        weights.load_into(&self.varmap)?;
        self.optimizer
            .restore(&optimizer.tensors, step)
            .map_err(|source| TrainError::Resume { file: optimizer.file.clone(), source })?;
        self.sampler = BatchSampler::from_state(sampler);
        self.step = step;
        Ok(())
    }
}
