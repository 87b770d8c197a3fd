//! What the architectures share: a stack of blocks over a residual stream, read out the way
//! transformers' `output_hidden_states` does. Layer 0 is the stream entering block 0, layer l
//! the stream after block l, and the last layer is taken after the final norm.

use candle_core::{DType, Result, Tensor};

use super::config::HfConfig;
use super::ops::{attention_mask, Rotary, RotaryTables};
use crate::model::gpt::ForwardOut;

/// What one forward pass's blocks share: the mask and the rotation of its positions.
pub struct Step {
    pub b: usize,
    pub t: usize,
    pub mask: Tensor,
    pub rotary: Option<RotaryTables>,
}

pub trait Decoder: Send {
    /// Token embeddings of (B, T) `tokens` as (B*T, d).
    fn embed(&self, tokens: &Tensor) -> Result<Tensor>;

    /// The stream entering block 0 from token embeddings (GPT-2 adds learned positions).
    fn input(&self, tok: &Tensor, _b: usize, _t: usize) -> Result<Tensor> {
        Ok(tok.clone())
    }

    fn block(&self, layer: usize, x: &Tensor, step: &Step) -> Result<Tensor>;

    fn final_norm(&self, x: &Tensor) -> Result<Tensor>;

    fn head(&self, x: &Tensor) -> Result<Tensor>;
}

/// The forward pass of `net` (configured by `cfg`, weights in `dtype`); see
/// [`CausalLm::forward_embedded`](crate::model::CausalLm::forward_embedded). Hidden states and
/// logits come back in f32 whatever `dtype` is.
#[allow(clippy::too_many_arguments)]
pub fn run(
    net: &dyn Decoder,
    cfg: &HfConfig,
    dtype: DType,
    tok: &Tensor,
    b: usize,
    t: usize,
    logit_rows: Option<&Tensor>,
    hidden_rows: Option<&Tensor>,
) -> Result<ForwardOut> {
    if t > cfg.context {
        candle_core::bail!("sequence of {t} tokens is longer than the model's context of {}", cfg.context);
    }
    let device = tok.device();
    let step = Step {
        b,
        t,
        mask: attention_mask(t, cfg.sliding_window, dtype, device)?,
        rotary: match &cfg.rope {
            Some(rope) => Some(Rotary::new(rope).tables(t, dtype, device)?),
            None => None,
        },
    };
    let mut hidden = Vec::new();
    let grab = |x: &Tensor, hidden: &mut Vec<Tensor>| -> Result<()> {
        if let Some(r) = hidden_rows {
            hidden.push(x.index_select(r, 0)?.to_dtype(DType::F32)?);
        }
        Ok(())
    };
    let mut x = net.input(&tok.to_dtype(dtype)?, b, t)?;
    for layer in 0..cfg.layers {
        grab(&x, &mut hidden)?;
        x = net.block(layer, &x, &step)?;
    }
    let x = net.final_norm(&x)?;
    grab(&x, &mut hidden)?;
    let x = match logit_rows {
        Some(r) => x.index_select(r, 0)?,
        None => x,
    };
    let logits = net.head(&x)?.to_dtype(DType::F32)?;
    Ok(ForwardOut { logits, hidden })
}
