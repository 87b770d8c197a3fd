//! Pretrained causal language models read from a local Hugging Face checkout (`config.json`,
//! `*.safetensors`, `tokenizer.json`; nothing is downloaded): the model seam's second
//! implementation. Hidden layers are what transformers reports as `hidden_states`: 0 the
//! embeddings (GPT-2's with its learned positions), l the residual stream after block l, and
//! the last one after the final norm.

pub mod config;
pub mod error;
pub mod fast;
pub mod files;
pub mod gpt2;
pub mod llama;
pub mod mapped;
pub mod neox;
pub mod ops;
pub mod stack;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Result as CandleResult, Tensor};
use candle_nn::VarBuilder;

pub use config::{Architecture, HfConfig};
pub use error::{PretrainedError, SUPPORTED};
pub use files::ModelFiles;
pub use tokenizer::HfTokenizer;

use super::causal_lm::CausalLm;
use super::gpt::ForwardOut;
use super::kernels::Kernels;
use stack::Decoder;

/// The dtype weights are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDType {
    F32,
    Bf16,
    F16,
}

impl WeightDType {
    pub fn dtype(self) -> DType {
        match self {
            WeightDType::F32 => DType::F32,
            WeightDType::Bf16 => DType::BF16,
            WeightDType::F16 => DType::F16,
        }
    }
}

impl FromStr for WeightDType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(WeightDType::F32),
            "bf16" => Ok(WeightDType::Bf16),
            "f16" => Ok(WeightDType::F16),
            other => Err(format!("unknown dtype {other:?} (expected f32, bf16 or f16)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: Device,
    /// None: f32 on the CPU (candle's CPU kernels for bf16 and f16 are slow and lose
    /// precision), the dtype the weights are stored in elsewhere.
    pub dtype: Option<WeightDType>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { device: Device::Cpu, dtype: None }
    }
}

pub struct Pretrained {
    config: HfConfig,
    net: Box<dyn Decoder>,
    tokenizer: HfTokenizer,
    dtype: DType,
    dir: PathBuf,
    parameters: usize,
    kernels: Kernels,
}

impl Pretrained {
    /// Loads the model in `dir`, its weights memory-mapped.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Pretrained, PretrainedError> {
        let files = ModelFiles::locate(dir)?;
        let config = HfConfig::load(&files.config)?;
        let mut stored = None;
        for shard in &files.weights {
            stored = stored.or(files::check_safetensors(shard)?);
        }
        let dtype = match (options.dtype, &options.device) {
            (Some(d), _) => d.dtype(),
            (None, Device::Cpu) => DType::F32,
            (None, _) => stored.unwrap_or(DType::F32),
        };
        let tokenizer = HfTokenizer::load(&files.tokenizer, config.vocab_size)?;
        // SAFETY: mapping a file is unsound only if another process changes it while it is
        // mapped. A model checkout is read-only input that nothing here writes; the headers and
        // sizes were checked above, so the mapping covers every byte the tensors name.
        let weights = unsafe { MmapedSafetensors::multi(&files.weights) }
            .map_err(|e| PretrainedError::bad(&files.weights[0], error::candle_message(&e)))?;
        let parameters = weights.tensors().iter().map(|(_, view)| view.shape().iter().product::<usize>()).sum();
        let vb = VarBuilder::from_backend(Box::new(mapped::Released(weights)), dtype, options.device.clone());
        let net = build(&config, vb).map_err(|e| {
            let names = files.weights.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            PretrainedError::bad(
                Path::new(&names),
                format!("weights do not fit config.json's {}: {}", config.arch.hf_name(), error::candle_message(&e)),
            )
        })?;
        let kernels = Kernels::for_device(&options.device);
        Ok(Pretrained { config, net, tokenizer, dtype, dir: dir.to_path_buf(), parameters, kernels })
    }

    /// Forward passes without gradients on the fast path (the default on the CPU) or, with
    /// `Kernels::Composed`, through candle's ops as attribution's always do.
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    pub fn config(&self) -> &HfConfig {
        &self.config
    }

    pub fn tokenizer(&self) -> &HfTokenizer {
        &self.tokenizer
    }

    /// The dtype the forward pass computes in; hidden states and logits come back in f32.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Values in the weight files (tied embeddings counted once, as they are stored once).
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, PretrainedError> {
        self.tokenizer.encode(text)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, PretrainedError> {
        self.tokenizer.decode(ids)
    }
}

fn build(cfg: &HfConfig, vb: VarBuilder) -> CandleResult<Box<dyn Decoder>> {
    Ok(match cfg.arch {
        Architecture::Llama | Architecture::Qwen2 | Architecture::Mistral => Box::new(llama::Llama::new(cfg, vb)?),
        Architecture::Gpt2 => Box::new(gpt2::Gpt2::new(cfg, vb)?),
        Architecture::GptNeoX => Box::new(neox::NeoX::new(cfg, vb)?),
    })
}

impl CausalLm for Pretrained {
    fn hidden_layers(&self) -> usize {
        self.config.layers + 1
    }

    fn d_model(&self) -> usize {
        self.config.hidden_size
    }

    fn context(&self) -> usize {
        self.config.context
    }

    fn embed(&self, tokens: &Tensor) -> CandleResult<Tensor> {
        self.net.embed(tokens)
    }

    fn forward_embedded(
        &self,
        tok: &Tensor,
        b: usize,
        t: usize,
        logit_rows: Option<&Tensor>,
        hidden_rows: Option<&Tensor>,
    ) -> CandleResult<ForwardOut> {
        stack::run(self.net.as_ref(), &self.config, self.dtype, self.kernels, tok, b, t, logit_rows, hidden_rows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::config::{Activation, RopeScaling};
    use super::*;

    fn parse(json: &str) -> Result<HfConfig, PretrainedError> {
        HfConfig::parse(json, Path::new("config.json"))
    }

    /// transformers before v5 kept rope settings at the top level and GPT-NeoX's under names
    /// of its own; the fixtures are written by v5, which nests them in `rope_parameters`.
    #[test]
    fn configs_of_older_transformers_read_the_same() {
        let neox = parse(
            r#"{"architectures": ["GPTNeoXForCausalLM"], "vocab_size": 100, "hidden_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256,
                "rotary_pct": 0.25, "rotary_emb_base": 500}"#,
        )
        .unwrap();
        let rope = neox.rope.unwrap();
        assert_eq!((rope.dims, rope.theta, rope.scaling), (4, 500.0, RopeScaling::None));
        assert!(neox.parallel_residual && neox.qkv_bias && !neox.tie_embeddings);
        assert_eq!(neox.activation, Activation::GeluErf);

        let llama = parse(
            r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
                "rope_theta": 500000.0, "rope_scaling": {"type": "linear", "factor": 2.0}}"#,
        )
        .unwrap();
        let rope = llama.rope.unwrap();
        assert_eq!((rope.theta, rope.scaling), (500000.0, RopeScaling::Linear { factor: 2.0 }));
        assert_eq!((llama.kv_heads, llama.head_dim, llama.norm_eps), (4, 16, 1e-6));
        assert!(!llama.qkv_bias && !llama.tie_embeddings);
    }

    #[test]
    fn gpt2_defaults_are_transformers_defaults() {
        let gpt2 = parse(
            r#"{"architectures": ["GPT2LMHeadModel"], "vocab_size": 10, "n_embd": 8, "n_layer": 1, "n_head": 2}"#,
        )
        .unwrap();
        assert_eq!((gpt2.context, gpt2.intermediate, gpt2.norm_eps), (1024, 32, 1e-5));
        assert!(gpt2.tie_embeddings && gpt2.rope.is_none());
        assert_eq!(gpt2.activation, Activation::GeluTanh);
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let err = parse(r#"{"architectures": ["GPT2LMHeadModel"], "n_embd": 8, "n_head": 2, "vocab_size": "ten"}"#)
            .unwrap_err();
        assert_eq!(err.to_string(), "config.json: field \"vocab_size\" must be a whole number");
        let err = parse(r#"{"model_type": "bert"}"#).unwrap_err();
        assert!(err.to_string().contains("model_type \"bert\""), "{err}");
    }

    #[test]
    fn dtypes_parse_from_their_names() {
        assert_eq!("bf16".parse::<WeightDType>().unwrap().dtype(), DType::BF16);
        assert_eq!("f16".parse::<WeightDType>().unwrap(), WeightDType::F16);
        assert_eq!("f32".parse::<WeightDType>().unwrap(), WeightDType::F32);
        assert!("fp8".parse::<WeightDType>().unwrap_err().contains("\"fp8\""));
    }
}
