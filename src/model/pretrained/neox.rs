//! GPT-NeoX (Pythia): LayerNorm blocks whose attention and MLP may both read the block's input
//! (`use_parallel_residual`), a fused qkv laid out head by head (each head's q, k, v side by
//! side), and rotation of only the first `rotary_pct` of each head.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

use super::config::{Activation, HfConfig};
use super::fast::{self, FastStep, Layout};
use super::ops::{activate, attend, LayerNorm, Linear};
use super::stack::{Decoder, Step};

struct Block {
    input_norm: LayerNorm,
    qkv: Linear,
    dense: Linear,
    post_norm: LayerNorm,
    h_to_4h: Linear,
    four_h_to_h: Linear,
}

pub struct NeoX {
    embed_in: Tensor,
    blocks: Vec<Block>,
    final_norm: LayerNorm,
    head: Linear,
    heads: usize,
    head_dim: usize,
    act: Activation,
    parallel: bool,
}

impl NeoX {
    pub fn new(cfg: &HfConfig, vb: VarBuilder) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.norm_eps);
        let base = vb.pp("gpt_neox");
        let embed_in = base.get((cfg.vocab_size, d), "embed_in.weight")?;
        let blocks = (0..cfg.layers)
            .map(|i| {
                let vb = base.pp(format!("layers.{i}"));
                Ok(Block {
                    input_norm: LayerNorm::new(d, eps, vb.pp("input_layernorm"))?,
                    qkv: Linear::new(d, 3 * d, cfg.qkv_bias, vb.pp("attention.query_key_value"))?,
                    dense: Linear::new(d, d, cfg.out_bias, vb.pp("attention.dense"))?,
                    post_norm: LayerNorm::new(d, eps, vb.pp("post_attention_layernorm"))?,
                    h_to_4h: Linear::new(d, cfg.intermediate, cfg.mlp_bias, vb.pp("mlp.dense_h_to_4h"))?,
                    four_h_to_h: Linear::new(cfg.intermediate, d, cfg.mlp_bias, vb.pp("mlp.dense_4h_to_h"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head = match cfg.tie_embeddings {
            true => Linear::tied(&embed_in)?,
            false => Linear::new(d, cfg.vocab_size, false, vb.pp("embed_out"))?,
        };
        Ok(NeoX {
            embed_in,
            blocks,
            final_norm: LayerNorm::new(d, eps, base.pp("final_layer_norm"))?,
            head,
            heads: cfg.heads,
            head_dim: cfg.head_dim,
            act: cfg.activation,
            parallel: cfg.parallel_residual,
        })
    }

    fn attention(&self, block: &Block, x: &Tensor, step: &Step) -> Result<Tensor> {
        let (b, t, h, hd) = (step.b, step.t, self.heads, self.head_dim);
        let qkv = block.qkv.forward(x)?.reshape((b, t, h, 3 * hd))?.transpose(1, 2)?;
        let part = |i: usize| -> Result<Tensor> {
            let p = qkv.narrow(D::Minus1, i * hd, hd)?.contiguous()?;
            match &step.rotary {
                Some(rotary) if i < 2 => rotary.apply(&p),
                _ => Ok(p),
            }
        };
        let att = attend(&part(0)?, &part(1)?, &part(2)?, &step.mask, 1.0 / (hd as f64).sqrt())?;
        block.dense.forward(&att)
    }

    fn mlp(&self, block: &Block, x: &Tensor) -> Result<Tensor> {
        block.four_h_to_h.forward(&activate(self.act, &block.h_to_4h.forward(x)?)?)
    }

    /// The attention's output over the normed stream `h`, before the residual.
    fn attention_fast(&self, block: &Block, h: &[f32], step: &FastStep) -> Result<Vec<f32>> {
        let (n, heads, hd) = (step.rows(), self.heads, self.head_dim);
        let mut qkv = block.qkv.fast(h, n)?;
        let part = |i: usize| Layout { row_stride: 3 * heads * hd, base: i * hd, head_stride: 3 * hd };
        step.rotate(&mut qkv, part(0), heads);
        step.rotate(&mut qkv, part(1), heads);
        let shape = fast::Shape {
            batch: step.b,
            t: step.t,
            heads,
            kv_heads: heads,
            head_dim: hd,
            window: None,
            scale: 1.0 / (hd as f32).sqrt(),
        };
        let att = fast::attend(shape, part(0).of(&qkv), part(1).of(&qkv), part(2).of(&qkv))?;
        block.dense.fast(&att, n)
    }

    /// Adds the MLP's output over the normed stream `h` to the stream `x`.
    fn mlp_fast(&self, block: &Block, h: &[f32], x: &mut [f32], n: usize) -> Result<()> {
        let mut inner = block.h_to_4h.fast(h, n)?;
        fast::activate(self.act, &mut inner);
        block.four_h_to_h.fast_into(&inner, n, x, true)
    }
}

impl Decoder for NeoX {
    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        self.embed_in.index_select(&tokens.flatten_all()?, 0)
    }

    fn block(&self, layer: usize, x: &Tensor, step: &Step) -> Result<Tensor> {
        let block = &self.blocks[layer];
        let att = self.attention(block, &block.input_norm.forward(x)?, step)?;
        if self.parallel {
            let mlp = self.mlp(block, &block.post_norm.forward(x)?)?;
            return (x + att)? + mlp;
        }
        let x = (x + att)?;
        &x + self.mlp(block, &block.post_norm.forward(&x)?)?
    }

    fn block_fast(&self, layer: usize, x: &mut [f32], step: &FastStep) -> Result<()> {
        let block = &self.blocks[layer];
        let n = step.rows();
        let att = self.attention_fast(block, &block.input_norm.fast(x)?, step)?;
        if self.parallel {
            let h = block.post_norm.fast(x)?;
            fast::add(x, &att);
            return self.mlp_fast(block, &h, x, n);
        }
        fast::add(x, &att);
        self.mlp_fast(block, &block.post_norm.fast(x)?, x, n)
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.final_norm.forward(x)
    }

    fn head(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(x)
    }
}
