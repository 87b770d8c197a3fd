//! The pieces every supported architecture is built from, composed from primitive candle ops
//! only: candle's fused norms, softmax and rotary embedding record no backward pass, and
//! attribution differentiates a pretrained model's forward pass as it does our GPT's.
//! Activations are (N, d) rows, one a token, as in our GPT.

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::config::{Activation, Rope, RopeScaling};
use crate::model::layers::{gelu_reference, softmax_last};

/// y = x Wᵀ + b, with W stored (out, in) as torch's `nn.Linear` keeps it.
pub struct Linear {
    /// (in, out): GPT-2's Conv1D layout, and a transposed view of `nn.Linear`'s.
    pub(super) weight_t: Tensor,
    pub(super) bias: Option<Tensor>,
}

impl Linear {
    pub fn new(d_in: usize, d_out: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let weight_t = vb.get((d_out, d_in), "weight")?.t()?;
        let bias = if bias { Some(vb.get(d_out, "bias")?) } else { None };
        Ok(Linear { weight_t, bias })
    }

    /// GPT-2's Conv1D: the weight is stored (in, out), the transpose of `nn.Linear`'s.
    pub fn conv1d(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Linear { weight_t: vb.get((d_in, d_out), "weight")?, bias: Some(vb.get(d_out, "bias")?) })
    }

    /// Layers that read the same input (`names` under `vb`, each `d_in` to its `d_out`), stored
    /// as one: the fused layer, then each part as a view of it. One product of the fused
    /// layer serves them all, and the parts share its memory.
    pub fn fused(d_in: usize, parts: &[(&str, usize)], bias: bool, vb: &VarBuilder) -> Result<(Self, Vec<Self>)> {
        let weights = parts
            .iter()
            .map(|(name, d_out)| vb.get((*d_out, d_in), &format!("{name}.weight")))
            .collect::<Result<Vec<_>>>()?;
        let weight = Tensor::cat(&weights, 0)?;
        drop(weights);
        let bias = match bias {
            true => {
                let b = parts
                    .iter()
                    .map(|(name, d_out)| vb.get(*d_out, &format!("{name}.bias")))
                    .collect::<Result<Vec<_>>>()?;
                Some(Tensor::cat(&b, 0)?)
            }
            false => None,
        };
        let mut views = Vec::with_capacity(parts.len());
        let mut at = 0;
        for (_, d_out) in parts {
            views.push(Linear {
                weight_t: weight.narrow(0, at, *d_out)?.t()?,
                bias: bias.as_ref().map(|b| b.narrow(0, at, *d_out)).transpose()?,
            });
            at += d_out;
        }
        Ok((Linear { weight_t: weight.t()?, bias }, views))
    }

    /// A head that reads the embedding table (`tie_word_embeddings`).
    pub fn tied(table: &Tensor) -> Result<Self> {
        Ok(Linear { weight_t: table.t()?, bias: None })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight_t)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Statistics in f32 whatever the weights' dtype, as transformers' RMSNorm does (and as a
/// LayerNorm over bf16 would lose the mean otherwise).
fn upcast(x: &Tensor) -> Result<Tensor> {
    x.to_dtype(DType::F32)
}

pub struct LayerNorm {
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
    pub(super) eps: f64,
}

impl LayerNorm {
    pub fn new(d: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(LayerNorm { weight: vb.get(d, "weight")?, bias: vb.get(d, "bias")?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = upcast(x)?;
        let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?.to_dtype(dtype)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

pub struct RmsNorm {
    pub(super) weight: Tensor,
    pub(super) eps: f64,
}

impl RmsNorm {
    pub fn new(d: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(RmsNorm { weight: vb.get(d, "weight")?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = upcast(x)?;
        let rms = (x.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?.sqrt()?;
        x.broadcast_div(&rms)?.to_dtype(dtype)?.broadcast_mul(&self.weight)
    }
}

pub fn activate(act: Activation, x: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Silu => x.silu(),
        Activation::GeluErf => x.gelu_erf(),
        Activation::GeluTanh => gelu_reference(x),
        Activation::Relu => x.relu(),
    }
}

/// Inverse frequencies of a rotation over `rope.dims` dimensions, scaled as the config asks
/// (transformers' `_compute_default_rope_parameters`, `_compute_llama3_parameters`).
pub fn inverse_frequencies(rope: &Rope) -> Vec<f64> {
    let dims = rope.dims;
    let base: Vec<f64> = (0..dims).step_by(2).map(|i| 1.0 / rope.theta.powf(i as f64 / dims as f64)).collect();
    match rope.scaling {
        RopeScaling::None => base,
        RopeScaling::Linear { factor } => base.into_iter().map(|f| f / factor).collect(),
        RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_context } => {
            let low_wavelen = original_context / low_freq_factor;
            let high_wavelen = original_context / high_freq_factor;
            base.into_iter()
                .map(|f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen < high_wavelen {
                        f
                    } else if wavelen > low_wavelen {
                        f / factor
                    } else {
                        let smooth =
                            (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect()
        }
    }
}

/// Rotary position embedding of the first `dims` dimensions of each head, rotate-half style
/// (Llama, Qwen2, Mistral and GPT-NeoX all pair dimension i with i + dims/2).
pub struct Rotary {
    inv_freq: Vec<f32>,
    dims: usize,
}

impl Rotary {
    pub fn new(rope: &Rope) -> Self {
        // transformers keeps inv_freq in f32 and multiplies by positions in f32.
        Rotary { inv_freq: inverse_frequencies(rope).into_iter().map(|f| f as f32).collect(), dims: rope.dims }
    }

    /// The rotation of positions 0..t, in `dtype`.
    pub fn tables(&self, t: usize, dtype: DType, device: &Device) -> Result<RotaryTables> {
        let half = self.inv_freq.len();
        let angles: Vec<f32> =
            (0..t).flat_map(|p| (0..2 * half).map(move |i| (p as f32) * self.inv_freq[i % half])).collect();
        let angles = Tensor::from_vec(angles, (t, 2 * half), device)?;
        Ok(RotaryTables { cos: angles.cos()?.to_dtype(dtype)?, sin: angles.sin()?.to_dtype(dtype)?, dims: self.dims })
    }
}

/// cos and sin, each (T, dims), of one forward pass's positions.
pub struct RotaryTables {
    cos: Tensor,
    sin: Tensor,
    dims: usize,
}

impl RotaryTables {
    /// cos, sin and the rotated dimensions per head.
    pub fn parts(&self) -> (&Tensor, &Tensor, usize) {
        (&self.cos, &self.sin, self.dims)
    }

    /// `x`: (B, H, T, head_dim).
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let head_dim = x.dim(D::Minus1)?;
        let rot = x.narrow(D::Minus1, 0, self.dims)?;
        let half = self.dims / 2;
        let x1 = rot.narrow(D::Minus1, 0, half)?;
        let x2 = rot.narrow(D::Minus1, half, half)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        let out = (rot.broadcast_mul(&self.cos)? + rotated.broadcast_mul(&self.sin)?)?;
        if self.dims == head_dim {
            return Ok(out);
        }
        Tensor::cat(&[&out, &x.narrow(D::Minus1, self.dims, head_dim - self.dims)?], D::Minus1)
    }
}

/// (T, T) additive mask: position i sees j <= i, and with a window only i - j < window.
pub fn attention_mask(t: usize, window: Option<usize>, dtype: DType, device: &Device) -> Result<Tensor> {
    let window = window.unwrap_or(usize::MAX);
    let data: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i && i - j < window { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(data, (t, t), device)?.to_dtype(dtype)
}

/// Splits (B*T, heads*head_dim) rows into (B, heads, T, head_dim).
pub fn split_heads(x: &Tensor, b: usize, t: usize, heads: usize) -> Result<Tensor> {
    let head_dim = x.dim(D::Minus1)? / heads;
    x.reshape((b, t, heads, head_dim))?.transpose(1, 2)?.contiguous()
}

/// Scaled dot-product attention of `q` (B, H, T, hd) over `k`, `v` (B, KVH, T, hd), each
/// key-value head serving H/KVH query heads; returns (B*T, H*hd).
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, h, t, hd) = q.dims4()?;
    let kvh = k.dim(1)?;
    let (k, v) = (repeat_kv(k, h / kvh)?, repeat_kv(v, h / kvh)?);
    let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
    // Softmax in f32: bf16 scores would round the probabilities of long rows to zero.
    let probs = softmax_last(&scores.to_dtype(DType::F32)?)?.to_dtype(q.dtype())?;
    probs.matmul(&v)?.transpose(1, 2)?.reshape((b * t, h * hd))
}

fn repeat_kv(x: &Tensor, n: usize) -> Result<Tensor> {
    if n == 1 {
        return Ok(x.clone());
    }
    let (b, kvh, t, hd) = x.dims4()?;
    x.unsqueeze(2)?.broadcast_as((b, kvh, n, t, hd))?.reshape((b, kvh * n, t, hd))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn llama3_scaling_keeps_high_frequencies_divides_low_ones_and_blends_between() {
        let rope = Rope {
            theta: 10_000.0,
            dims: 8,
            scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_context: 64.0,
            },
        };
        // Unscaled: 1, 0.1, 0.01, 0.001, of wavelengths 2π·(1, 10, 100, 1000) against the
        // bounds 64/4 = 16 and 64/1 = 64: the first is kept, the second blended, the rest / 8.
        let f = inverse_frequencies(&rope);
        let smooth = (64.0 / (20.0 * std::f64::consts::PI) - 1.0) / 3.0;
        let want = [1.0, (1.0 - smooth) * 0.1 / 8.0 + smooth * 0.1, 0.01 / 8.0, 0.001 / 8.0];
        for (got, want) in f.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{f:?}");
        }
    }

    #[test]
    fn partial_rotation_leaves_the_other_dimensions_and_position_zero_alone() {
        let rope = Rope { theta: 10_000.0, dims: 4, scaling: RopeScaling::None };
        let x = Tensor::arange(0f32, 24.0, &Device::Cpu).unwrap().reshape((1, 1, 3, 8)).unwrap();
        let tables = Rotary::new(&rope).tables(3, DType::F32, &Device::Cpu).unwrap();
        let y = tables.apply(&x).unwrap();
        let rows = |t: &Tensor| t.squeeze(0).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        let (xs, ys) = (rows(&x), rows(&y));
        assert_eq!(ys[0], xs[0]);
        for p in 1..3 {
            assert_eq!(ys[p][4..], xs[p][4..]);
            assert_ne!(ys[p][..4], xs[p][..4]);
        }
    }

    #[test]
    fn a_sliding_window_hides_what_is_too_far_back() {
        let mask = attention_mask(4, Some(2), DType::F32, &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        let seen: Vec<Vec<usize>> = mask.iter().map(|row| (0..4).filter(|&j| row[j] == 0.0).collect()).collect();
        assert_eq!(seen, vec![vec![0], vec![0, 1], vec![1, 2], vec![2, 3]]);
    }
}
