//! The model seam: what analysis, probes, export and the UI need of a causal language model,
//! whatever it is. Our GPT is one; a pretrained model loaded from disk is another. Everything
//! above `model` that only reads hidden states and logits works on `dyn CausalLm`.

use candle_core::{Result, Tensor};

use super::gpt::{ForwardOut, Gpt};

pub trait CausalLm: Send {
    /// Hidden layers that a forward pass reads out: layer 0 is the embeddings, layer l the
    /// residual stream after block l.
    fn hidden_layers(&self) -> usize;

    /// Width of every hidden layer.
    fn d_model(&self) -> usize;

    /// Longest sequence the model reads.
    fn context(&self) -> usize;

    /// Token embeddings of (B, T) u32 `tokens` as (B*T, d): the input that attribution
    /// differentiates.
    fn embed(&self, tokens: &Tensor) -> Result<Tensor>;

    /// The forward pass from token embeddings `tok` (B*T, d) of `b` sequences of length `t`.
    /// `logit_rows` and `hidden_rows`: optional (B,) u32 indices into the flattened B*T
    /// positions (`b * t + position`) at which logits and hidden states are read; without
    /// `logit_rows`, logits come for every position, without `hidden_rows` no hidden states.
    fn forward_embedded(
        &self,
        tok: &Tensor,
        b: usize,
        t: usize,
        logit_rows: Option<&Tensor>,
        hidden_rows: Option<&Tensor>,
    ) -> Result<ForwardOut>;

    /// [`forward_embedded`](Self::forward_embedded) from (B, T) u32 tokens.
    fn forward(
        &self,
        tokens: &Tensor,
        logit_rows: Option<&Tensor>,
        hidden_rows: Option<&Tensor>,
    ) -> Result<ForwardOut> {
        let (b, t) = tokens.dims2()?;
        self.forward_embedded(&self.embed(tokens)?, b, t, logit_rows, hidden_rows)
    }
}

impl CausalLm for Gpt {
    fn hidden_layers(&self) -> usize {
        self.config().layers + 1
    }

    fn d_model(&self) -> usize {
        self.config().d_model
    }

    fn context(&self) -> usize {
        self.config().context
    }

    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        Gpt::embed(self, tokens)
    }

    fn forward_embedded(
        &self,
        tok: &Tensor,
        b: usize,
        t: usize,
        logit_rows: Option<&Tensor>,
        hidden_rows: Option<&Tensor>,
    ) -> Result<ForwardOut> {
        Gpt::forward_embedded(self, tok, b, t, logit_rows, hidden_rows)
    }
}
