//! A model directory's `config.json`, read into the one shape every supported architecture's
//! forward pass needs. transformers has spelled some fields two ways over its versions
//! (`rope_theta` and `rope_scaling` at the top level, or together in `rope_parameters`), so both
//! are read; a default is the one transformers' own config class uses.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::PretrainedError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Llama,
    Qwen2,
    Mistral,
    Gpt2,
    GptNeoX,
}

impl Architecture {
    pub const ALL: [Architecture; 5] =
        [Architecture::Llama, Architecture::Qwen2, Architecture::Mistral, Architecture::Gpt2, Architecture::GptNeoX];

    /// The class name in `config.json`'s `architectures`.
    pub fn hf_name(self) -> &'static str {
        match self {
            Architecture::Llama => "LlamaForCausalLM",
            Architecture::Qwen2 => "Qwen2ForCausalLM",
            Architecture::Mistral => "MistralForCausalLM",
            Architecture::Gpt2 => "GPT2LMHeadModel",
            Architecture::GptNeoX => "GPTNeoXForCausalLM",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Silu,
    /// PyTorch's exact, erf-based GELU (transformers' `gelu`).
    GeluErf,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    None,
    Linear { factor: f64 },
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_context: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rope {
    pub theta: f64,
    /// Leading dimensions of each head that rotate (GPT-NeoX rotates only `rotary_pct` of them).
    pub dims: usize,
    pub scaling: RopeScaling,
}

/// One architecture's hyperparameters, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct HfConfig {
    pub arch: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub norm_eps: f64,
    pub context: usize,
    pub tie_embeddings: bool,
    /// None for GPT-2, whose positions are learned.
    pub rope: Option<Rope>,
    pub activation: Activation,
    pub qkv_bias: bool,
    pub out_bias: bool,
    pub mlp_bias: bool,
    /// Mistral's: a position sees at most this many positions back, itself included.
    pub sliding_window: Option<usize>,
    /// GPT-NeoX's `use_parallel_residual`: attention and MLP both read the block's input.
    pub parallel_residual: bool,
    /// GPT-2's `scale_attn_by_inverse_layer_idx`.
    pub scale_by_layer: bool,
}

impl HfConfig {
    /// Reads and checks `path` (a `config.json`).
    pub fn load(path: &Path) -> Result<HfConfig, PretrainedError> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PretrainedError::Missing { path: path.to_path_buf() },
            _ => PretrainedError::bad(path, format!("cannot read: {e}")),
        })?;
        HfConfig::parse(&text, path)
    }

    /// Parses `text`, the contents of `path` (named in every error).
    pub fn parse(text: &str, path: &Path) -> Result<HfConfig, PretrainedError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PretrainedError::bad(path, format!("not valid JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| PretrainedError::bad(path, "not a JSON object"))?;
        let f = Fields { obj, path };
        let arch = architecture(&f)?;
        let cfg = match arch {
            Architecture::Llama | Architecture::Qwen2 | Architecture::Mistral => llama_like(&f, arch)?,
            Architecture::Gpt2 => gpt2(&f)?,
            Architecture::GptNeoX => neox(&f)?,
        };
        cfg.check(path)?;
        Ok(cfg)
    }

    fn check(&self, path: &Path) -> Result<(), PretrainedError> {
        let bad = |why: String| Err(PretrainedError::bad(path, why));
        if self.layers == 0 || self.heads == 0 || self.kv_heads == 0 || self.hidden_size == 0 || self.vocab_size == 0 {
            return bad("layers, heads, key-value heads, hidden size and vocabulary size must all be positive".into());
        }
        if self.heads % self.kv_heads != 0 {
            return bad(format!(
                "{} attention heads are not a multiple of {} key-value heads",
                self.heads, self.kv_heads
            ));
        }
        if let Some(rope) = self.rope {
            if rope.dims == 0 || rope.dims % 2 != 0 || rope.dims > self.head_dim {
                return bad(format!("{} rotary dimensions do not fit a head of {}", rope.dims, self.head_dim));
            }
        }
        Ok(())
    }
}

fn architecture(f: &Fields) -> Result<Architecture, PretrainedError> {
    let names = f.obj.get("architectures").and_then(Value::as_array);
    let first = names.and_then(|a| a.first()).and_then(Value::as_str);
    let Some(name) = first else {
        let found = match f.obj.get("model_type").and_then(Value::as_str) {
            Some(t) => format!("(no \"architectures\"; model_type {t:?})"),
            None => "(no \"architectures\" field)".to_string(),
        };
        return Err(PretrainedError::Unsupported { path: f.path.to_path_buf(), found });
    };
    Architecture::ALL
        .into_iter()
        .find(|a| a.hf_name() == name)
        .ok_or_else(|| PretrainedError::Unsupported { path: f.path.to_path_buf(), found: format!("{name:?}") })
}

fn llama_like(f: &Fields, arch: Architecture) -> Result<HfConfig, PretrainedError> {
    let hidden_size = f.usize("hidden_size")?;
    let heads = f.usize("num_attention_heads")?;
    let head_dim = match f.opt_usize("head_dim")? {
        Some(d) => d,
        None => f.divide(hidden_size, heads)?,
    };
    let qwen = arch == Architecture::Qwen2;
    if qwen && f.bool_or("use_sliding_window", false)? {
        return Err(PretrainedError::bad(f.path, "Qwen2 with use_sliding_window=true is not supported"));
    }
    let sliding_window = match arch {
        Architecture::Mistral => f.opt_usize("sliding_window")?,
        _ => None,
    };
    let attention_bias = f.bool_or("attention_bias", false)?;
    Ok(HfConfig {
        arch,
        vocab_size: f.usize("vocab_size")?,
        hidden_size,
        layers: f.usize("num_hidden_layers")?,
        heads,
        kv_heads: f.opt_usize("num_key_value_heads")?.unwrap_or(heads),
        head_dim,
        intermediate: f.usize("intermediate_size")?,
        norm_eps: f.f64_or("rms_norm_eps", 1e-6)?,
        context: f.opt_usize("max_position_embeddings")?.unwrap_or(2048),
        tie_embeddings: f.bool_or("tie_word_embeddings", false)?,
        rope: Some(Rope { theta: rope_theta(f, &["rope_theta"])?, dims: head_dim, scaling: rope_scaling(f)? }),
        activation: f.activation("hidden_act", "silu")?,
        qkv_bias: qwen || attention_bias,
        out_bias: attention_bias,
        mlp_bias: f.bool_or("mlp_bias", false)?,
        sliding_window,
        parallel_residual: false,
        scale_by_layer: false,
    })
}

fn gpt2(f: &Fields) -> Result<HfConfig, PretrainedError> {
    let hidden_size = f.usize("n_embd")?;
    let heads = f.usize("n_head")?;
    if !f.bool_or("scale_attn_weights", true)? {
        return Err(PretrainedError::bad(f.path, "GPT-2 with scale_attn_weights=false is not supported"));
    }
    Ok(HfConfig {
        arch: Architecture::Gpt2,
        vocab_size: f.usize("vocab_size")?,
        hidden_size,
        layers: f.usize("n_layer")?,
        heads,
        kv_heads: heads,
        head_dim: f.divide(hidden_size, heads)?,
        intermediate: f.opt_usize("n_inner")?.unwrap_or(4 * hidden_size),
        norm_eps: f.f64_or("layer_norm_epsilon", 1e-5)?,
        context: f.opt_usize("n_positions")?.unwrap_or(1024),
        tie_embeddings: f.bool_or("tie_word_embeddings", true)?,
        rope: None,
        activation: f.activation("activation_function", "gelu_new")?,
        qkv_bias: true,
        out_bias: true,
        mlp_bias: true,
        sliding_window: None,
        parallel_residual: false,
        scale_by_layer: f.bool_or("scale_attn_by_inverse_layer_idx", false)?,
    })
}

fn neox(f: &Fields) -> Result<HfConfig, PretrainedError> {
    let hidden_size = f.usize("hidden_size")?;
    let heads = f.usize("num_attention_heads")?;
    let head_dim = f.divide(hidden_size, heads)?;
    let pct = match f.opt_f64("rotary_pct")? {
        Some(p) => p,
        None => match f.rope_parameters().and_then(|p| p.get("partial_rotary_factor")) {
            Some(v) => v.as_f64().ok_or_else(|| f.wrong("rope_parameters.partial_rotary_factor", "a number"))?,
            None => f.f64_or("partial_rotary_factor", 0.25)?,
        },
    };
    // transformers truncates: int(head_size * rotary_pct).
    let dims = (head_dim as f64 * pct) as usize;
    let bias = f.bool_or("attention_bias", true)?;
    Ok(HfConfig {
        arch: Architecture::GptNeoX,
        vocab_size: f.usize("vocab_size")?,
        hidden_size,
        layers: f.usize("num_hidden_layers")?,
        heads,
        kv_heads: heads,
        head_dim,
        intermediate: f.usize("intermediate_size")?,
        norm_eps: f.f64_or("layer_norm_eps", 1e-5)?,
        context: f.opt_usize("max_position_embeddings")?.unwrap_or(2048),
        tie_embeddings: f.bool_or("tie_word_embeddings", false)?,
        rope: Some(Rope { theta: rope_theta(f, &["rotary_emb_base", "rope_theta"])?, dims, scaling: rope_scaling(f)? }),
        activation: f.activation("hidden_act", "gelu")?,
        qkv_bias: bias,
        out_bias: bias,
        mlp_bias: true,
        sliding_window: None,
        parallel_residual: f.bool_or("use_parallel_residual", true)?,
        scale_by_layer: false,
    })
}

fn rope_theta(f: &Fields, names: &[&str]) -> Result<f64, PretrainedError> {
    for name in names {
        if let Some(theta) = f.opt_f64(name)? {
            return Ok(theta);
        }
    }
    match f.rope_parameters().and_then(|p| p.get("rope_theta")) {
        Some(v) => v.as_f64().ok_or_else(|| f.wrong("rope_parameters.rope_theta", "a number")),
        None => Ok(10_000.0),
    }
}

fn rope_scaling(f: &Fields) -> Result<RopeScaling, PretrainedError> {
    let scaling = match f.obj.get("rope_scaling") {
        Some(Value::Object(m)) => m,
        Some(Value::Null) | None => match f.rope_parameters() {
            Some(m) => m,
            None => return Ok(RopeScaling::None),
        },
        Some(_) => return Err(f.wrong("rope_scaling", "an object or null")),
    };
    let kind = scaling.get("rope_type").or_else(|| scaling.get("type")).and_then(Value::as_str).unwrap_or("default");
    let num = |name: &str| -> Result<f64, PretrainedError> {
        scaling.get(name).and_then(Value::as_f64).ok_or_else(|| f.wrong(&format!("rope scaling's {name}"), "a number"))
    };
    match kind {
        "default" => Ok(RopeScaling::None),
        "linear" => Ok(RopeScaling::Linear { factor: num("factor")? }),
        "llama3" => Ok(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_context: num("original_max_position_embeddings")?,
        }),
        other => Err(PretrainedError::bad(
            f.path,
            format!("rope scaling type {other:?} is not supported (supported: default, linear, llama3)"),
        )),
    }
}

/// Typed reads of a JSON object's fields, each error naming the file and the field.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: &'a Path,
}

impl Fields<'_> {
    fn wrong(&self, name: &str, want: &str) -> PretrainedError {
        PretrainedError::bad(self.path, format!("field \"{name}\" must be {want}"))
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn opt_usize(&self, name: &str) -> Result<Option<usize>, PretrainedError> {
        match self.present(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| self.wrong(name, "a whole number")),
        }
    }

    fn usize(&self, name: &str) -> Result<usize, PretrainedError> {
        self.opt_usize(name)?.ok_or_else(|| PretrainedError::bad(self.path, format!("field \"{name}\" is missing")))
    }

    fn opt_f64(&self, name: &str) -> Result<Option<f64>, PretrainedError> {
        match self.present(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.wrong(name, "a number")),
        }
    }

    fn f64_or(&self, name: &str, default: f64) -> Result<f64, PretrainedError> {
        Ok(self.opt_f64(name)?.unwrap_or(default))
    }

    fn bool_or(&self, name: &str, default: bool) -> Result<bool, PretrainedError> {
        match self.present(name) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.wrong(name, "true or false")),
        }
    }

    fn activation(&self, name: &str, default: &str) -> Result<Activation, PretrainedError> {
        let act = match self.present(name) {
            None => default,
            Some(v) => v.as_str().ok_or_else(|| self.wrong(name, "a string"))?,
        };
        match act {
            "silu" | "swish" => Ok(Activation::Silu),
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(PretrainedError::bad(
                self.path,
                format!(
                    "activation {other:?} is not supported (supported: silu, gelu, gelu_new, gelu_pytorch_tanh, relu)"
                ),
            )),
        }
    }

    fn rope_parameters(&self) -> Option<&Map<String, Value>> {
        self.obj.get("rope_parameters").and_then(Value::as_object)
    }

    fn divide(&self, hidden: usize, heads: usize) -> Result<usize, PretrainedError> {
        if heads == 0 || hidden % heads != 0 {
            return Err(PretrainedError::bad(
                self.path,
                format!("hidden size {hidden} is not a multiple of {heads} heads"),
            ));
        }
        Ok(hidden / heads)
    }
}
