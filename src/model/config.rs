//! Model configuration with named presets.

use crate::experiment::spec::ModelSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub vocab: usize,
    /// Number of learned positions: the longest sequence the model can read.
    pub context: usize,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    pub d_ff: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("model.preset = {0:?}: unknown preset (expected one of: {list})", list = PRESETS.join(", "))]
    UnknownPreset(String),
    #[error("model.{field} = {value}: {reason}")]
    Invalid { field: &'static str, value: usize, reason: String },
}

pub const PRESETS: [&str; 3] = ["tiny", "small", "default"];

/// Caps on each size, far above what this tool's experiments need; the memory a whole
/// configuration needs is checked separately ([`ModelConfig::training_bytes`]).
pub const MAX_D_MODEL: usize = 8192;
pub const MAX_LAYERS: usize = 256;
pub const MAX_D_FF: usize = 32_768;
pub const MAX_CONTEXT: usize = 8192;

impl ModelConfig {
    /// `(d_model, layers, heads)` of a named preset; `d_ff` is always 4 x d_model.
    pub fn preset(name: &str, vocab: usize, context: usize) -> Result<Self, ConfigError> {
        let (d_model, layers, heads) = match name {
            "tiny" => (32, 2, 2),
            "small" => (64, 3, 4),
            "default" => (128, 4, 4),
            other => return Err(ConfigError::UnknownPreset(other.to_string())),
        };
        Ok(ModelConfig { vocab, context, d_model, layers, heads, d_ff: 4 * d_model })
    }

    /// The spec's preset with its overrides, sized for `vocab` tokens and sequences of `needed`.
    pub fn from_spec(spec: &ModelSpec, vocab: usize, needed: usize) -> Result<Self, ConfigError> {
        let context = spec.context.unwrap_or(needed.max(32));
        let cfg = Self::preset(&spec.preset, vocab, context)?.with_overrides(
            spec.d_model,
            spec.layers,
            spec.heads,
            spec.d_ff,
        )?;
        if cfg.context < needed {
            return Err(ConfigError::Invalid {
                field: "context",
                value: cfg.context,
                reason: format!("the longest instruction needs a context of {needed}"),
            });
        }
        Ok(cfg)
    }

    /// Overrides on top of a preset, validated; a new d_model brings d_ff = 4 x d_model unless
    /// d_ff is given too.
    pub fn with_overrides(
        mut self,
        d_model: Option<usize>,
        layers: Option<usize>,
        heads: Option<usize>,
        d_ff: Option<usize>,
    ) -> Result<Self, ConfigError> {
        if let Some(d) = d_model {
            self.d_model = d;
            self.d_ff = 4 * d;
        }
        self.layers = layers.unwrap_or(self.layers);
        self.heads = heads.unwrap_or(self.heads);
        self.d_ff = d_ff.unwrap_or(self.d_ff);
        self.validate()?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let nonzero = [
            ("vocab", self.vocab),
            ("context", self.context),
            ("d_model", self.d_model),
            ("layers", self.layers),
            ("heads", self.heads),
            ("d_ff", self.d_ff),
        ];
        for (field, value) in nonzero {
            if value == 0 {
                return Err(ConfigError::Invalid { field, value, reason: "must be at least 1".into() });
            }
        }
        let caps = [
            ("context", self.context, MAX_CONTEXT),
            ("d_model", self.d_model, MAX_D_MODEL),
            ("layers", self.layers, MAX_LAYERS),
            ("d_ff", self.d_ff, MAX_D_FF),
        ];
        for (field, value, cap) in caps {
            if value > cap {
                return Err(ConfigError::Invalid { field, value, reason: format!("at most {cap}") });
            }
        }
        if self.d_model % self.heads != 0 {
            return Err(ConfigError::Invalid {
                field: "heads",
                value: self.heads,
                reason: format!("must divide d_model = {}", self.d_model),
            });
        }
        Ok(())
    }

    /// About how many bytes training takes with batches of `batch` sequences of `seq` tokens:
    /// weights, gradients and both AdamW moments, plus the activations kept for the backward
    /// pass and their gradients. An estimate to refuse the impossible up front, not a budget.
    pub fn training_bytes(&self, batch: usize, seq: usize) -> u128 {
        let (d, ff) = (self.d_model as u128, self.d_ff as u128);
        let tokens = batch as u128 * seq as u128;
        let per_token_layer = 9 * d + 2 * ff + self.heads as u128 * seq as u128;
        let activations = tokens * (self.layers as u128 * per_token_layer + 3 * self.vocab as u128);
        4 * (4 * self.num_parameters() as u128 + 2 * activations)
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.heads
    }

    pub fn num_parameters(&self) -> usize {
        let d = self.d_model;
        let per_layer =
            2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * self.d_ff + self.d_ff) + (self.d_ff * d + d);
        self.vocab * d + self.context * d + self.layers * per_layer + 2 * d + (d * self.vocab + self.vocab)
    }
}
