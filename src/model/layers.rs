//! The Transformer's layers. The composed path builds them from primitive candle ops only:
//! candle's own fused LayerNorm and `softmax_last_dim` record no backward pass, so gradients
//! would silently stop there and training would stall. LayerNorm and the block choose between
//! that path and the fused CPU kernels by the [`Kernels`] value they were built with.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::config::ModelConfig;
use super::fused_block::{self, BlockDims};
use super::fused_layer_norm;
use super::kernels::Kernels;

// Parameters start at zero and are filled from our own seeded RNG afterwards (see `init`):
// candle's CPU backend cannot be seeded.
const ZERO: Init = Init::Const(0.0);

pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn new(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Linear {
            weight: vb.get_with_hints((d_out, d_in), "weight", ZERO)?,
            bias: vb.get_with_hints(d_out, "bias", ZERO)?,
        })
    }
}

impl Module for Linear {
    /// `x`: (N, d_in), rows are tokens.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// LayerNorm over the last dimension with a gain and a bias: the fused op where its
/// [`Kernels`] allow, else composed from primitive ops (see the module's note).
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    kernels: Kernels,
}

impl LayerNorm {
    pub fn new(d: usize, vb: VarBuilder, kernels: Kernels) -> Result<Self> {
        Ok(LayerNorm {
            weight: vb.get_with_hints(d, "weight", ZERO)?,
            bias: vb.get_with_hints(d, "bias", ZERO)?,
            eps: 1e-5,
            kernels,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.kernels.fuse(x) {
            return fused_layer_norm::layer_norm(x, &self.weight, &self.bias, self.eps as f32);
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// Softmax over the last dimension; the max is detached because it only guards against overflow
/// and its gradient is zero in exact arithmetic, so recording it only costs time.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// GELU, tanh approximation (as GPT-2 and PyTorch's `approximate="tanh"`), from primitive ops:
/// the composed path's GELU, and the reference that the fused kernel
/// ([`gelu_slice`](super::elementwise::gelu_slice)) is tested against.
pub fn gelu_reference(x: &Tensor) -> Result<Tensor> {
    const C: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
    let inner = ((x * x)?.affine(0.044715, 1.0)? * x)?.affine(C, 0.0)?;
    (x * (inner.tanh()? + 1.0)?)? * 0.5
}

pub struct CausalSelfAttention {
    qkv: Linear,
    proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl CausalSelfAttention {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(CausalSelfAttention {
            qkv: Linear::new(cfg.d_model, 3 * cfg.d_model, vb.pp("qkv"))?,
            proj: Linear::new(cfg.d_model, cfg.d_model, vb.pp("proj"))?,
            heads: cfg.heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `x`: (B*T, d); `mask`: (T, T) additive, -inf above the diagonal.
    pub fn forward(&self, x: &Tensor, b: usize, t: usize, mask: &Tensor) -> Result<Tensor> {
        let (h, hd) = (self.heads, self.head_dim);
        let qkv = self.qkv.forward(x)?.reshape((b, t, 3, h, hd))?;
        let part = |i: usize| qkv.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous();
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = q.matmul(&k.t()?)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let att = softmax_last(&(scores * scale)?.broadcast_add(mask)?)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b * t, h * hd))?;
        self.proj.forward(&y)
    }
}

pub struct Mlp {
    fc: Linear,
    proj: Linear,
}

impl Mlp {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Mlp {
            fc: Linear::new(cfg.d_model, cfg.d_ff, vb.pp("fc"))?,
            proj: Linear::new(cfg.d_ff, cfg.d_model, vb.pp("proj"))?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.proj.forward(&gelu_reference(&self.fc.forward(x)?)?)
    }
}

/// Pre-LN block: x + attn(ln1(x)), then x + mlp(ln2(x)). Runs as one fused op where its
/// [`Kernels`] allow, else layer by layer.
pub struct Block {
    ln1: LayerNorm,
    attn: CausalSelfAttention,
    ln2: LayerNorm,
    mlp: Mlp,
    dims: BlockDims,
    kernels: Kernels,
}

impl Block {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder, kernels: Kernels) -> Result<Self> {
        Ok(Block {
            ln1: LayerNorm::new(cfg.d_model, vb.pp("ln1"), kernels)?,
            attn: CausalSelfAttention::new(cfg, vb.pp("attn"))?,
            ln2: LayerNorm::new(cfg.d_model, vb.pp("ln2"), kernels)?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
            dims: BlockDims { d: cfg.d_model, d_ff: cfg.d_ff, heads: cfg.heads, t: 0, eps: 1e-5 },
            kernels,
        })
    }

    /// The parameters in the fused block's packing order ([`BlockDims::param_sizes`]).
    fn packed_parameters(&self) -> Result<Tensor> {
        let (a, m) = (&self.attn, &self.mlp);
        let parts = [
            &self.ln1.weight,
            &self.ln1.bias,
            &a.qkv.weight,
            &a.qkv.bias,
            &a.proj.weight,
            &a.proj.bias,
            &self.ln2.weight,
            &self.ln2.bias,
            &m.fc.weight,
            &m.fc.bias,
            &m.proj.weight,
            &m.proj.bias,
        ];
        Tensor::cat(&parts.iter().map(|p| p.flatten_all()).collect::<Result<Vec<_>>>()?, 0)
    }

    pub fn forward(&self, x: &Tensor, b: usize, t: usize, mask: &Tensor) -> Result<Tensor> {
        if self.kernels.fuse(x) && b * t == x.dim(0)? {
            let dims = BlockDims { t, eps: self.ln1.eps as f32, ..self.dims };
            return fused_block::block(x, &self.packed_parameters()?, dims);
        }
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, b, t, mask)?)?;
        &x + self.mlp.forward(&self.ln2.forward(&x)?)?
    }
}

pub fn causal_mask(t: usize, device: &Device) -> Result<Tensor> {
    let data: Vec<f32> =
        (0..t).flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { f32::NEG_INFINITY })).collect();
    Tensor::from_vec(data, (t, t), device)?.to_dtype(DType::F32)
}
