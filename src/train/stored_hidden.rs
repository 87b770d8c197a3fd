//! The hidden states an analysed session keeps in each checkpoint (`hidden.safetensors`): a
//! pretrained model is too large to copy into a session and too slow to run again for every
//! export or t-SNE layout, so what analysis read is stored, checked like weights when read back.

use std::path::Path;

use candle_core::{Device, Tensor};

use super::weights::{SavedTensors, WeightsError};
use crate::session::format::HIDDEN;
use crate::session::Manifest;

fn name(layer: usize) -> String {
    format!("layer.{layer}")
}

/// Writes `layers` (each `points` rows of `d`, row-major) to `path`.
pub fn write(path: &Path, layers: &[Vec<f32>], points: usize, d: usize) -> candle_core::Result<()> {
    let tensors = layers
        .iter()
        .enumerate()
        .map(|(l, values)| Ok((name(l), Tensor::from_slice(values, (points, d), &Device::Cpu)?)))
        .collect::<candle_core::Result<std::collections::HashMap<_, _>>>()?;
    candle_core::safetensors::save(&tensors, path)
}

/// Checkpoint `step`'s hidden states in the session at `root`: per layer 0..=`manifest.model`'s
/// layers, as many rows of its width as layer 0 has, as [`write`] wrote them.
pub fn read(root: &Path, manifest: &Manifest, step: usize) -> Result<Vec<Vec<f32>>, WeightsError> {
    let saved = SavedTensors::read(root, manifest, step, HIDDEN, &Device::Cpu)?;
    let d = manifest.model.d_model;
    let points = saved.tensors.get(&name(0)).map_or(0, |t| t.dims().first().copied().unwrap_or(0));
    (0..=manifest.model.layers)
        .map(|l| {
            let t = saved.get(&name(l), &[points, d])?;
            let load =
                |source| WeightsError::Load { file: saved.file.clone(), name: name(l), source: Box::new(source) };
            t.to_dtype(candle_core::DType::F32).and_then(|t| t.flatten_all()?.to_vec1::<f32>()).map_err(load)
        })
        .collect()
}
