//! Cross-entropy from primitive ops (candle's `log_softmax` composes ops too, but a masked mean
//! is needed for whole-sequence loss).

use candle_core::{Result, Tensor, D};

/// Mean negative log-likelihood of `targets` (N,) u32 under `logits` (N, V).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    nll_per_row(logits, targets)?.mean_all()
}

/// Cross-entropy averaged over rows whose `mask` is 1.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let per_row = nll_per_row(logits, targets)?;
    let count = mask.sum_all()?.to_scalar::<f32>()?.max(1.0);
    (per_row * mask)?.sum_all()? / f64::from(count)
}

fn nll_per_row(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&targets.unsqueeze(1)?, 1)?;
    (lse - picked)?.squeeze(1)
}
