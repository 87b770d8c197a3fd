//! What can go wrong loading a pretrained model: always a file of the user's, bad or missing,
//! so BadData, and the message names the file. (Running one fails only as candle does.)

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
}

impl PretrainedError {
    pub fn bad(path: &Path, reason: impl Into<String>) -> Self {
        PretrainedError::BadFile { path: path.to_path_buf(), reason: one_line(&reason.into()) }
    }
}

impl Kind for PretrainedError {
    fn kind(&self) -> ErrorKind {
        match self {
            PretrainedError::Missing { .. } | PretrainedError::Unsupported { .. } | PretrainedError::BadFile { .. } => {
                ErrorKind::BadData
            }
        }
    }
}

/// Library errors (candle's, serde's) may span lines; a user reads one.
pub fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// candle's message without the backtrace that candle attaches when RUST_BACKTRACE is set.
pub fn candle_message(err: &candle_core::Error) -> String {
    use candle_core::Error;
    match err {
        Error::WithBacktrace { inner, .. } => candle_message(inner),
        Error::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        Error::WithPath { inner, path } => format!("{}: {}", path.display(), candle_message(inner)),
        other => one_line(&other.to_string()),
    }
}
