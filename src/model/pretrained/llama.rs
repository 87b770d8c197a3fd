//! Llama and its close kin, which share transformers' tensor names: Qwen2 (bias on q, k and v)
//! and Mistral (a sliding window). Pre-norm RMSNorm blocks, rotary positions, grouped-query
//! attention and a gated MLP.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::{Activation, HfConfig};
use super::fast::{self, FastStep, Layout};
use super::ops::{activate, attend, split_heads, Linear, RmsNorm};
use super::stack::{Decoder, Step};

struct Attention {
    /// q, k and v as one layer for the fast path; the three below are views of it.
    qkv: Linear,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f64,
}

impl Attention {
    fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, hd) = (cfg.hidden_size, cfg.head_dim);
        let parts = [("q_proj", cfg.heads * hd), ("k_proj", cfg.kv_heads * hd), ("v_proj", cfg.kv_heads * hd)];
        let (qkv, views) = Linear::fused(d, &parts, cfg.qkv_bias, &vb)?;
        let [q, k, v]: [Linear; 3] = views.try_into().map_err(|_| candle_core::Error::Msg("q, k, v".into()))?;
        Ok(Attention {
            qkv,
            q,
            k,
            v,
            o: Linear::new(cfg.heads * hd, d, cfg.out_bias, vb.pp("o_proj"))?,
            heads: cfg.heads,
            kv_heads: cfg.kv_heads,
            head_dim: hd,
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

    /// Adds the attention's output over `h` (the normed stream) to the stream `x`.
    fn fast_into(&self, h: &[f32], x: &mut [f32], step: &FastStep) -> Result<()> {
        let (n, hd, heads, kv_heads) = (step.rows(), self.head_dim, self.heads, self.kv_heads);
        let mut qkv = self.qkv.fast(h, n)?;
        let width = (heads + 2 * kv_heads) * hd;
        let at = |base: usize| Layout { row_stride: width, base, head_stride: hd };
        let (q, k, v) = (at(0), at(heads * hd), at((heads + kv_heads) * hd));
        step.rotate(&mut qkv, q, heads);
        step.rotate(&mut qkv, k, kv_heads);
        let shape = fast::Shape {
            batch: step.b,
            t: step.t,
            heads,
            kv_heads,
            head_dim: hd,
            window: step.window,
            scale: self.scale as f32,
        };
        let att = fast::attend(shape, q.of(&qkv), k.of(&qkv), v.of(&qkv))?;
        self.o.fast_into(&att, n, x, true)
    }
}

struct Mlp {
    /// gate and up as one layer for the fast path; the two below are views of it.
    gate_up: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
    act: Activation,
    intermediate: usize,
}

impl Mlp {
    fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, i, bias) = (cfg.hidden_size, cfg.intermediate, cfg.mlp_bias);
        let (gate_up, views) = Linear::fused(d, &[("gate_proj", i), ("up_proj", i)], bias, &vb)?;
        let [gate, up]: [Linear; 2] = views.try_into().map_err(|_| candle_core::Error::Msg("gate, up".into()))?;
        Ok(Mlp {
            gate_up,
            gate,
            up,
            down: Linear::new(i, d, bias, vb.pp("down_proj"))?,
            act: cfg.activation,
            intermediate: i,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.down.forward(&(activate(self.act, &self.gate.forward(x)?)? * self.up.forward(x)?)?)
    }

    fn fast_into(&self, h: &[f32], x: &mut [f32], n: usize) -> Result<()> {
        let i = self.intermediate;
        let mut gate_up = self.gate_up.fast(h, n)?;
        // Each row becomes [act(gate) * up | up]; the down projection reads its first half.
        fast::activate_gated_rows(self.act, &mut gate_up, i);
        self.down.fast_strided_into(&gate_up, n, 2 * i, x, true)
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

    fn block_fast(&self, layer: usize, x: &mut [f32], step: &FastStep) -> Result<()> {
        let block = &self.blocks[layer];
        block.attn.fast_into(&block.input_norm.fast(x)?, x, step)?;
        block.mlp.fast_into(&block.post_norm.fast(x)?, x, step.rows())
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.norm.forward(x)
    }

    fn head(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(x)
    }
}
