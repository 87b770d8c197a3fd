//! What the architectures share: a stack of blocks over a residual stream, read out the way
//! transformers' `output_hidden_states` does. Layer 0 is the stream entering block 0, layer l
//! the stream after block l, and the last layer is taken after the final norm.

use candle_core::{DType, Result, Tensor};

use super::config::HfConfig;
use super::fast::{self, FastStep};
use super::ops::{attention_mask, Rotary, RotaryTables};
use crate::model::gpt::ForwardOut;
use crate::model::Kernels;

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

    /// [`block`](Self::block) on the fast path: the (N, d) rows of `x` in place.
    fn block_fast(&self, layer: usize, x: &mut [f32], step: &FastStep) -> Result<()>;

    fn final_norm(&self, x: &Tensor) -> Result<Tensor>;

    fn head(&self, x: &Tensor) -> Result<Tensor>;
}

/// The forward pass of `net` (configured by `cfg`, weights in `dtype`, on the fast path where
/// `kernels` allow and it serves); see
/// [`CausalLm::forward_embedded`](crate::model::CausalLm::forward_embedded). Hidden states and
/// logits come back in f32 whatever `dtype` is.
#[allow(clippy::too_many_arguments)]
pub fn run(
    net: &dyn Decoder,
    cfg: &HfConfig,
    dtype: DType,
    kernels: Kernels,
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
    let x = net.input(&tok.to_dtype(dtype)?, b, t)?;
    if kernels == Kernels::Fused && fast::serves(&x) {
        return run_fast(net, cfg, x, b, t, logit_rows, hidden_rows);
    }
    let step = Step {
        b,
        t,
        mask: attention_mask(t, cfg.sliding_window, dtype, device)?,
        rotary: rotary_tables(cfg, t, dtype, device)?,
    };
    let mut hidden = Vec::new();
    let grab = |x: &Tensor, hidden: &mut Vec<Tensor>| -> Result<()> {
        if let Some(r) = hidden_rows {
            hidden.push(x.index_select(r, 0)?.to_dtype(DType::F32)?);
        }
        Ok(())
    };
    let mut x = x;
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

/// [`run`] on the fast path (see [`fast`]): the same outputs from the same weights.
fn run_fast(
    net: &dyn Decoder,
    cfg: &HfConfig,
    x: Tensor,
    b: usize,
    t: usize,
    logit_rows: Option<&Tensor>,
    hidden_rows: Option<&Tensor>,
) -> Result<ForwardOut> {
    let d = cfg.hidden_size;
    let tables = rotary_tables(cfg, t, DType::F32, x.device())?;
    let step = FastStep::new(b, t, cfg.sliding_window, tables.as_ref())?;
    let read: Option<Vec<u32>> = hidden_rows.map(|r| r.to_vec1()).transpose()?;
    let gather = |x: &[f32], rows: &[u32]| -> Result<Tensor> {
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            let r = r as usize;
            match x.get(r * d..(r + 1) * d) {
                Some(row) => out.extend_from_slice(row),
                None => candle_core::bail!("row {r} is not among the {} rows of the batch", x.len() / d),
            }
        }
        Tensor::from_vec(out, (rows.len(), d), &candle_core::Device::Cpu)
    };
    let mut hidden = Vec::new();
    let mut x: Vec<f32> = x.flatten_all()?.to_vec1()?;
    for layer in 0..cfg.layers {
        if let Some(rows) = &read {
            hidden.push(gather(&x, rows)?);
        }
        net.block_fast(layer, &mut x, &step)?;
    }
    if let Some(rows) = &read {
        hidden.push(net.final_norm(&gather(&x, rows)?)?);
    }
    let rows: Vec<u32> = match logit_rows {
        Some(r) => r.to_vec1()?,
        None => (0..(b * t) as u32).collect(),
    };
    let logits = net.head(&net.final_norm(&gather(&x, &rows)?)?)?;
    Ok(ForwardOut { logits, hidden })
}

/// The rotation of positions 0..t in `dtype`, for a model with rotary positions.
fn rotary_tables(cfg: &HfConfig, t: usize, dtype: DType, device: &candle_core::Device) -> Result<Option<RotaryTables>> {
    cfg.rope.as_ref().map(|rope| Rotary::new(rope).tables(t, dtype, device)).transpose()
}
