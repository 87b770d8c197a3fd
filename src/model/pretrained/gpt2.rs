//! GPT-2: learned positions, pre-norm LayerNorm blocks, fused qkv. Its Conv1D layers store
//! weights (in, out), the transpose of `nn.Linear`. Checkpoints name tensors with or without
//! the `transformer.` prefix (the original OpenAI upload has none), so both are read.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::{Activation, HfConfig};
use super::fast::{self, FastStep, Layout};
use super::ops::{activate, attend, split_heads, LayerNorm, Linear};
use super::stack::{Decoder, Step};

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    attn_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
    scale: f64,
}

pub struct Gpt2 {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    heads: usize,
    act: Activation,
}

impl Gpt2 {
    pub fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.norm_eps);
        let base = if vb.contains_tensor("transformer.wte.weight") { vb.pp("transformer") } else { vb.clone() };
        let wte = base.get((cfg.vocab_size, d), "wte.weight")?;
        let blocks = (0..cfg.layers)
            .map(|i| {
                let vb = base.pp(format!("h.{i}"));
                let mut scale = 1.0 / (cfg.head_dim as f64).sqrt();
                if cfg.scale_by_layer {
                    scale /= (i + 1) as f64;
                }
                Ok(Block {
                    ln_1: LayerNorm::new(d, eps, vb.pp("ln_1"))?,
                    c_attn: Linear::conv1d(d, 3 * d, vb.pp("attn.c_attn"))?,
                    attn_proj: Linear::conv1d(d, d, vb.pp("attn.c_proj"))?,
                    ln_2: LayerNorm::new(d, eps, vb.pp("ln_2"))?,
                    c_fc: Linear::conv1d(d, cfg.intermediate, vb.pp("mlp.c_fc"))?,
                    mlp_proj: Linear::conv1d(cfg.intermediate, d, vb.pp("mlp.c_proj"))?,
                    scale,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head = match cfg.tie_embeddings {
            true => Linear::tied(&wte)?,
            false => Linear::new(d, cfg.vocab_size, false, vb.pp("lm_head"))?,
        };
        Ok(Gpt2 {
            wpe: base.get((cfg.context, d), "wpe.weight")?,
            wte,
            blocks,
            ln_f: LayerNorm::new(d, eps, base.pp("ln_f"))?,
            head,
            heads: cfg.heads,
            act: cfg.activation,
        })
    }
}

impl Decoder for Gpt2 {
    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        self.wte.index_select(&tokens.flatten_all()?, 0)
    }

    fn input(&self, tok: &Tensor, b: usize, t: usize) -> Result<Tensor> {
        let d = tok.dim(1)?;
        tok.reshape((b, t, d))?.broadcast_add(&self.wpe.narrow(0, 0, t)?)?.reshape((b * t, d))
    }

    fn block(&self, layer: usize, x: &Tensor, step: &Step) -> Result<Tensor> {
        let block = &self.blocks[layer];
        let qkv = block.c_attn.forward(&block.ln_1.forward(x)?)?;
        let d = qkv.dim(1)? / 3;
        let part = |i: usize| split_heads(&qkv.narrow(1, i * d, d)?, step.b, step.t, self.heads);
        let att = attend(&part(0)?, &part(1)?, &part(2)?, &step.mask, block.scale)?;
        let x = (x + block.attn_proj.forward(&att)?)?;
        let mlp = block.mlp_proj.forward(&activate(self.act, &block.c_fc.forward(&block.ln_2.forward(&x)?)?)?)?;
        &x + mlp
    }

    fn block_fast(&self, layer: usize, x: &mut [f32], step: &FastStep) -> Result<()> {
        let block = &self.blocks[layer];
        let n = step.rows();
        let qkv = block.c_attn.fast(&block.ln_1.fast(x)?, n)?;
        let d = qkv.len() / n / 3;
        let hd = d / self.heads;
        let part = |i: usize| Layout { row_stride: 3 * d, base: i * d, head_stride: hd }.of(&qkv);
        let shape = fast::Shape {
            batch: step.b,
            t: step.t,
            heads: self.heads,
            kv_heads: self.heads,
            head_dim: hd,
            window: None,
            scale: block.scale as f32,
        };
        let att = fast::attend(shape, part(0), part(1), part(2))?;
        block.attn_proj.fast_into(&att, n, x, true)?;
        let mut h = block.c_fc.fast(&block.ln_2.fast(x)?, n)?;
        fast::activate(self.act, &mut h);
        block.mlp_proj.fast_into(&h, n, x, true)
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.ln_f.forward(x)
    }

    fn head(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(x)
    }
}
