//! What can go wrong loading or running a pretrained model. A user's bad or missing file is
//! BadData and names the file; a failure inside candle is Internal.

use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, Kind};

/// The architectures a model directory's `config.json` may name, as transformers spells them.
pub const SUPPORTED: &str =
    "LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM";

#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    #[error("{}: missing; a model directory holds config.json, *.safetensors and tokenizer.json (supported architectures: {SUPPORTED})", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: architecture {found} is not supported (supported: {SUPPORTED})", .path.display())]
    Unsupported { path: PathBuf, found: String },
    #[error("{}: {reason}", .path.display())]
    BadFile { path: PathBuf, reason: String },
    #[error("{what}: {reason}")]
    Model { what: String, reason: String },
}

impl PretrainedError {
    pub fn bad(path: &Path, reason: impl Into<String>) -> Self {
        PretrainedError::BadFile { path: path.to_path_buf(), reason: one_line(&reason.into()) }
    }

    pub fn model(what: impl Into<String>, err: &candle_core::Error) -> Self {
        PretrainedError::Model { what: what.into(), reason: one_line(&err.to_string()) }
    }
}

impl Kind for PretrainedError {
    fn kind(&self) -> ErrorKind {
        match self {
            PretrainedError::Missing { .. } | PretrainedError::Unsupported { .. } | PretrainedError::BadFile { .. } => {
                ErrorKind::BadData
            }
            PretrainedError::Model { .. } => ErrorKind::Internal,
        }
    }
}

/// Library errors (candle's, serde's) may span lines; a user reads one.
pub fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}
