//! A saved session's held-out analysis examples (its unseen instructions, each with an input)
//! as prompts, and any of its checkpoints' models: what the study metrics that need the model
//! (answer distributions, attributions) are computed on.

use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

use super::error::TrainError;
use super::inference::LoadedModel;
use super::weights::SavedTensors;
use crate::experiment::tokenizer::{Encoded, PAD};
use crate::experiment::{Example, Experiment};
use crate::model::DeviceChoice;
use crate::session::format::WEIGHTS;
use crate::session::reader::read_manifest;
use crate::session::{Manifest, SessionError};

pub struct HeldOut {
    pub experiment: Experiment,
    /// The unseen half of the session's analysis set, in its order.
    pub examples: Vec<Example>,
    root: PathBuf,
    manifest: Manifest,
    device: Device,
}

impl HeldOut {
    /// The session at `root`, its models to be run on `device`.
    pub fn open(root: &Path, device: DeviceChoice) -> Result<HeldOut, TrainError> {
        let manifest = read_manifest(root)?;
        let experiment = Experiment::from_toml(&manifest.experiment, None).map_err(|e| {
            SessionError::corrupt(&root.join("manifest.json"), format!("stored experiment spec is invalid: {e}"))
        })?;
        let examples = experiment.analysis_set().unseen;
        let device = device.open()?.device;
        Ok(HeldOut { experiment, examples, root: root.to_path_buf(), manifest, device })
    }

    /// The model of checkpoint `step`, its weights checked as they are read.
    pub fn model_at(&self, step: usize) -> Result<LoadedModel, TrainError> {
        let weights = SavedTensors::read(&self.root, &self.manifest, step, WEIGHTS, &self.device)?;
        Ok(LoadedModel::load(&self.manifest.model, &weights, &self.device)?)
    }
}

/// Examples as prompts that end in `<ans>` (no answer), right-padded into one (B, T) batch.
pub struct Prompts {
    pub tokens: Tensor,
    pub len: usize,
    pub encoded: Vec<Encoded>,
}

impl Prompts {
    pub fn new(exp: &Experiment, examples: &[Example], device: &Device) -> candle_core::Result<Prompts> {
        let encoded = examples
            .iter()
            .map(|e| {
                exp.encode(e, false).ok_or_else(|| candle_core::Error::Msg("example outside the vocabulary".into()))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let len = encoded.iter().map(|e| e.ids.len()).max().unwrap_or(1);
        let mut ids = vec![PAD; encoded.len() * len];
        for (i, e) in encoded.iter().enumerate() {
            ids[i * len..i * len + e.ids.len()].copy_from_slice(&e.ids);
        }
        let tokens = Tensor::from_vec(ids, (encoded.len(), len), device)?;
        Ok(Prompts { tokens, len, encoded })
    }

    /// The flattened (B*T) row of each prompt's `<ans>`, whose logits give the answer.
    pub fn answer_rows(&self) -> candle_core::Result<Tensor> {
        let rows: Vec<u32> =
            self.encoded.iter().enumerate().map(|(i, e)| (i * self.len + e.answer_pos) as u32).collect();
        Tensor::from_vec(rows, self.encoded.len(), self.tokens.device())
    }
}
