//! The files of a local Hugging Face checkout, found and checked before anything is mapped:
//! a truncated or garbled safetensors file is named here, in one line, rather than surfacing
//! as a library error about a byte range.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::DType;
use serde_json::Value;

use super::error::PretrainedError;

pub const CONFIG: &str = "config.json";
pub const TOKENIZER: &str = "tokenizer.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const INDEX: &str = "model.safetensors.index.json";

/// Where a model directory's parts are.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub config: PathBuf,
    /// One file, or the shards that the index names, each once, in name order.
    pub weights: Vec<PathBuf>,
    pub tokenizer: PathBuf,
}

impl ModelFiles {
    pub fn locate(dir: &Path) -> Result<ModelFiles, PretrainedError> {
        if !dir.is_dir() {
            return Err(PretrainedError::Missing { path: dir.to_path_buf() });
        }
        let need = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(PretrainedError::Missing { path: p })
            }
        };
        let config = need(CONFIG)?;
        let weights = weight_files(dir)?;
        let tokenizer = need(TOKENIZER)?;
        Ok(ModelFiles { config, weights, tokenizer })
    }
}

fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, PretrainedError> {
    let index = dir.join(INDEX);
    if index.is_file() {
        return shards(&index, dir);
    }
    let single = dir.join(WEIGHTS);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let listing = std::fs::read_dir(dir).map_err(|e| PretrainedError::bad(dir, format!("cannot list: {e}")))?;
    let mut found: Vec<PathBuf> = listing
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(PretrainedError::Missing { path: single });
    }
    Ok(found)
}

fn shards(index: &Path, dir: &Path) -> Result<Vec<PathBuf>, PretrainedError> {
    let text = std::fs::read_to_string(index).map_err(|e| PretrainedError::bad(index, format!("cannot read: {e}")))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| PretrainedError::bad(index, format!("not valid JSON: {e}")))?;
    let map = value
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| PretrainedError::bad(index, "no \"weight_map\" object"))?;
    let mut names = BTreeSet::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| PretrainedError::bad(index, format!("weight_map entry {tensor:?} is not a file name")))?;
        names.insert(file.to_string());
    }
    if names.is_empty() {
        return Err(PretrainedError::bad(index, "weight_map is empty"));
    }
    names
        .into_iter()
        .map(|name| {
            let p = dir.join(&name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(PretrainedError::Missing { path: p })
            }
        })
        .collect()
}

/// Reads `path`'s safetensors header and checks that the file holds every byte it promises;
/// returns the dtype most of its tensors are stored in.
pub fn check_safetensors(path: &Path) -> Result<Option<DType>, PretrainedError> {
    let bad = |why: String| PretrainedError::bad(path, format!("not a valid safetensors file: {why}"));
    let mut file = std::fs::File::open(path).map_err(|e| PretrainedError::bad(path, format!("cannot open: {e}")))?;
    let len = file.metadata().map_err(|e| PretrainedError::bad(path, format!("cannot stat: {e}")))?.len();
    let mut head = [0u8; 8];
    file.read_exact(&mut head).map_err(|_| bad(format!("only {len} bytes, shorter than the 8-byte header length")))?;
    let header_len = u64::from_le_bytes(head);
    if header_len > len.saturating_sub(8) {
        return Err(bad(format!("truncated: the header is {header_len} bytes but the file has {len}")));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| bad(format!("cannot read the header: {e}")))?;
    let header: Value = serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let tensors = header.as_object().ok_or_else(|| bad("header is not a JSON object".into()))?;
    let mut end = 0u64;
    let mut counts: Vec<(DType, usize)> = Vec::new();
    for (name, info) in tensors.iter().filter(|(name, _)| *name != "__metadata__") {
        let offsets = info.get("data_offsets").and_then(Value::as_array).and_then(|a| match a.as_slice() {
            [s, e] => Some((s.as_u64()?, e.as_u64()?)),
            _ => None,
        });
        let (_, stop) = offsets.ok_or_else(|| bad(format!("tensor {name:?} has no data_offsets")))?;
        end = end.max(stop);
        if let Some(dtype) = info.get("dtype").and_then(Value::as_str).and_then(float_dtype) {
            match counts.iter_mut().find(|(d, _)| *d == dtype) {
                Some((_, n)) => *n += 1,
                None => counts.push((dtype, 1)),
            }
        }
    }
    let data = len - 8 - header_len;
    if end > data {
        return Err(bad(format!("truncated: its tensors need {end} bytes of data but the file has {data}")));
    }
    Ok(counts.into_iter().max_by_key(|(_, n)| *n).map(|(d, _)| d))
}

fn float_dtype(name: &str) -> Option<DType> {
    match name {
        "F32" => Some(DType::F32),
        "BF16" => Some(DType::BF16),
        "F16" => Some(DType::F16),
        _ => None,
    }
}
