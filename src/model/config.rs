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
        if self.d_model % self.heads != 0 {
            return Err(ConfigError::Invalid {
                field: "heads",
                value: self.heads,
                reason: format!("must divide d_model = {}", self.d_model),
            });
        }
        Ok(())
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
