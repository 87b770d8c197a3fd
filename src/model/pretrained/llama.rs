//! Llama and its close kin, which share transformers' tensor names: Qwen2 (bias on q, k and v)
//! and Mistral (a sliding window). Pre-norm RMSNorm blocks, rotary positions, grouped-query
//! attention and a gated MLP.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::{Activation, HfConfig};
use super::ops::{activate, attend, split_heads, Linear, RmsNorm};
use super::stack::{Decoder, Step};

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    kv_heads: usize,
    scale: f64,
}

impl Attention {
    fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, hd) = (cfg.hidden_size, cfg.head_dim);
        Ok(Attention {
            q: Linear::new(d, cfg.heads * hd, cfg.qkv_bias, vb.pp("q_proj"))?,
            k: Linear::new(d, cfg.kv_heads * hd, cfg.qkv_bias, vb.pp("k_proj"))?,
            v: Linear::new(d, cfg.kv_heads * hd, cfg.qkv_bias, vb.pp("v_proj"))?,
            o: Linear::new(cfg.heads * hd, d, cfg.out_bias, vb.pp("o_proj"))?,
            heads: cfg.heads,
            kv_heads: cfg.kv_heads,
            scale: 1.0 / (hd as f64).sqrt(),
        })
    }

    fn forward(&self, x: &Tensor, step: &Step) -> Result<Tensor> {
        let (b, t) = (step.b, step.t);
        let mut q = split_heads(&self.q.forward(x)?, b, t, self.heads)?;
        let mut k = split_heads(&self.k.forward(x)?, b, t, self.kv_heads)?;
        let v = split_heads(&self.v.forward(x)?, b, t, self.kv_heads)?;
        if let Some(rotary) = &step.rotary {
            q = rotary.apply(&q)?;
            k = rotary.apply(&k)?;
        }
        self.o.forward(&attend(&q, &k, &v, &step.mask, self.scale)?)
    }
}

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
    act: Activation,
}

impl Mlp {
    fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, i, bias) = (cfg.hidden_size, cfg.intermediate, cfg.mlp_bias);
        Ok(Mlp {
            gate: Linear::new(d, i, bias, vb.pp("gate_proj"))?,
            up: Linear::new(d, i, bias, vb.pp("up_proj"))?,
            down: Linear::new(i, d, bias, vb.pp("down_proj"))?,
            act: cfg.activation,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.down.forward(&(activate(self.act, &self.gate.forward(x)?)? * self.up.forward(x)?)?)
    }
}

struct Block {
    input_norm: RmsNorm,
    attn: Attention,
    post_norm: RmsNorm,
    mlp: Mlp,
}

pub struct Llama {
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    head: Linear,
}

impl Llama {
    pub fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.norm_eps);
        let model = vb.pp("model");
        let embed_tokens = model.get((cfg.vocab_size, d), "embed_tokens.weight")?;
        let blocks = (0..cfg.layers)
            .map(|i| {
                let vb = model.pp(format!("layers.{i}"));
                Ok(Block {
                    input_norm: RmsNorm::new(d, eps, vb.pp("input_layernorm"))?,
                    attn: Attention::new(cfg, vb.pp("self_attn"))?,
                    post_norm: RmsNorm::new(d, eps, vb.pp("post_attention_layernorm"))?,
                    mlp: Mlp::new(cfg, vb.pp("mlp"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head = match cfg.tie_embeddings {
            true => Linear::tied(&embed_tokens)?,
            false => Linear::new(d, cfg.vocab_size, false, vb.pp("lm_head"))?,
        };
        Ok(Llama { embed_tokens, blocks, norm: RmsNorm::new(d, eps, model.pp("norm"))?, head })
    }
}

impl Decoder for Llama {
    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        self.embed_tokens.index_select(&tokens.flatten_all()?, 0)
    }

    fn block(&self, layer: usize, x: &Tensor, step: &Step) -> Result<Tensor> {
        let block = &self.blocks[layer];
        let x = (x + block.attn.forward(&block.input_norm.forward(x)?, step)?)?;
        &x + block.mlp.forward(&block.post_norm.forward(&x)?)?
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.norm.forward(x)
    }

    fn head(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(x)
    }
}
