//! The GPT-style causal language model. Its forward pass from tokens is
//! [`CausalLm::forward`](super::CausalLm::forward), the seam every reader of a model uses.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};

use super::config::ModelConfig;
use super::init::init_parameters;
use super::kernels::Kernels;
use super::layers::{causal_mask, Block, LayerNorm, Linear};

pub struct Gpt {
    cfg: ModelConfig,
    tok_emb: Tensor,
    pos_emb: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    kernels: Kernels,
}

/// What a forward pass returns.
pub struct ForwardOut {
    /// (B, vocab) at the read-out rows, or (B*T, vocab) at every position when none were given.
    pub logits: Tensor,
    /// With capture: the residual stream at the read-out rows for layers 0..=L, each (B, d);
    /// layer 0 is the embeddings, layer l the output of block l.
    pub hidden: Vec<Tensor>,
}

impl Gpt {
    /// A model with the kernels for `vb`'s device ([`Kernels::for_device`]).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let kernels = Kernels::for_device(vb.device());
        Self::with_kernels(cfg, vb, kernels)
    }

    /// A model that runs `kernels` wherever they can serve its tensors.
    pub fn with_kernels(cfg: &ModelConfig, vb: VarBuilder, kernels: Kernels) -> Result<Self> {
        let zero = Init::Const(0.0);
        let blocks = (0..cfg.layers)
            .map(|i| Block::new(cfg, vb.pp(format!("blocks.{i}")), kernels))
            .collect::<Result<Vec<_>>>()?;
        Ok(Gpt {
            cfg: cfg.clone(),
            tok_emb: vb.get_with_hints((cfg.vocab, cfg.d_model), "tok_emb.weight", zero)?,
            pos_emb: vb.get_with_hints((cfg.context, cfg.d_model), "pos_emb.weight", zero)?,
            blocks,
            ln_f: LayerNorm::new(cfg.d_model, vb.pp("ln_f"), kernels)?,
            head: Linear::new(cfg.d_model, cfg.vocab, vb.pp("head"))?,
            kernels,
        })
    }

    /// A new model with its parameter map, initialised from `seed` (see [`init_parameters`]),
    /// with the kernels for `device`.
    pub fn initialized(cfg: &ModelConfig, device: &Device, seed: u64) -> Result<(Gpt, VarMap)> {
        Self::initialized_with(cfg, device, seed, Kernels::for_device(device))
    }

    /// [`initialized`](Self::initialized) with the kernels given.
    pub fn initialized_with(cfg: &ModelConfig, device: &Device, seed: u64, kernels: Kernels) -> Result<(Gpt, VarMap)> {
        let varmap = VarMap::new();
        let model = Gpt::with_kernels(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device), kernels)?;
        init_parameters(&varmap, cfg.layers, seed)?;
        Ok((model, varmap))
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Token embeddings of (B, T) tokens as (B*T, d): the input that attribution differentiates.
    pub fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        self.tok_emb.index_select(&tokens.flatten_all()?, 0)
    }

    /// [`forward`](Self::forward) from token embeddings `tok` (B*T, d) of sequences of length `t`.
    pub fn forward_embedded(
        &self,
        tok: &Tensor,
        b: usize,
        t: usize,
        logit_rows: Option<&Tensor>,
        hidden_rows: Option<&Tensor>,
    ) -> Result<ForwardOut> {
        if t > self.cfg.context {
            candle_core::bail!("sequence of {t} tokens is longer than the model's context of {}", self.cfg.context);
        }
        let d = self.cfg.d_model;
        let mask = causal_mask(t, tok.device())?.to_dtype(tok.dtype())?;
        let pos = self.pos_emb.narrow(0, 0, t)?;
        let mut x = tok.reshape((b, t, d))?.broadcast_add(&pos)?.reshape((b * t, d))?;
        let mut hidden = Vec::new();
        let grab = |x: &Tensor, hidden: &mut Vec<Tensor>| -> Result<()> {
            if let Some(r) = hidden_rows {
                hidden.push(x.index_select(r, 0)?);
            }
            Ok(())
        };
        grab(&x, &mut hidden)?;
        for block in &self.blocks {
            x = block.forward(&x, b, t, &mask)?;
            grab(&x, &mut hidden)?;
        }
        let x = match logit_rows {
            Some(r) => x.index_select(r, 0)?,
            None => x,
        };
        let logits = self.head.forward(&self.ln_f.forward(&x)?)?;
        Ok(ForwardOut { logits, hidden })
    }
}

/// Read-out rows for sequences of length `t`: `b * t + positions[b]`.
pub fn readout_rows(positions: &[usize], t: usize, device: &Device) -> Result<Tensor> {
    let rows: Vec<u32> = positions.iter().enumerate().map(|(b, &p)| (b * t + p) as u32).collect();
    Tensor::from_vec(rows, positions.len(), device)?.to_dtype(DType::U32)
}
