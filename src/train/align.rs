//! The clustering-inspired alignment loss: at the clustered position, each hidden state is pulled
//! towards its task's centroid and pushed from the other tasks' ones.
//!
//! With `u_i = h_i / |h_i|`, the batch's task centroids `c_k = mean_{i: y_i = k} u_i` and
//! `v_k = c_k / |c_k|`, the loss is the mean over rows of `-log softmax_k(u_i . v_k / T)[y_i]`:
//! a cross-entropy over cosine similarities. Cosines make it blind to the hidden state's scale,
//! which the model could otherwise grow to satisfy any distance-based pull.

use candle_core::{Result, Tensor, D};

/// Keeps a zero vector's norm away from zero.
const EPS: f64 = 1e-12;

/// The loss over `hidden` (B, d) with task `labels` (B), or `None` when the batch holds fewer
/// than two tasks and there is nothing to pull apart.
pub fn align_loss(hidden: &Tensor, labels: &[usize], temperature: f64) -> Result<Option<Tensor>> {
    let mut classes: Vec<usize> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return Ok(None);
    }
    let (b, k) = (labels.len(), classes.len());
    let mut one_hot = vec![0f32; b * k];
    for (i, l) in labels.iter().enumerate() {
        if let Ok(j) = classes.binary_search(l) {
            one_hot[i * k + j] = 1.0;
        }
    }
    let dtype = hidden.dtype();
    let m = Tensor::from_vec(one_hot, (b, k), hidden.device())?.to_dtype(dtype)?;
    let u = unit_rows(hidden)?;
    let counts = m.sum(0)?.unsqueeze(1)?;
    let centroids = m.t()?.matmul(&u)?.broadcast_div(&counts)?;
    let v = unit_rows(&centroids)?;
    let scores = (u.matmul(&v.t()?)? / temperature)?;
    let max = scores.max_keepdim(D::Minus1)?.detach();
    let shifted = scores.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?.squeeze(1)?;
    let own = (shifted * &m)?.sum(1)?;
    Ok(Some((lse - own)?.mean_all()?))
}

fn unit_rows(x: &Tensor) -> Result<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(D::Minus1)? + EPS)?.sqrt()?;
    x.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candle_core::{DType, Device, Var};
    use rand::{Rng, SeedableRng};

    fn value(h: &Tensor, labels: &[usize]) -> f64 {
        align_loss(&h.to_dtype(DType::F64).unwrap(), labels, 0.5).unwrap().unwrap().to_scalar::<f64>().unwrap()
    }

    /// The autograd gradient against central differences, in f64: every op the loss is made of
    /// must record its backward, or training would silently ignore the loss.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (b, d) = (7, 5);
        let data: Vec<f64> = (0..b * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let labels = [0, 0, 1, 1, 2, 2, 2];
        let h = Var::from_vec(data.clone(), (b, d), &Device::Cpu).unwrap();
        let loss = align_loss(h.as_tensor(), &labels, 0.5).unwrap().unwrap();
        let grad: Vec<f64> =
            loss.backward().unwrap().get(h.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let step = 1e-6;
        for i in 0..b * d {
            let at = |delta: f64| {
                let mut x = data.clone();
                x[i] += delta;
                value(&Tensor::from_vec(x, (b, d), &Device::Cpu).unwrap(), &labels)
            };
            let numeric = (at(step) - at(-step)) / (2.0 * step);
            assert!((numeric - grad[i]).abs() < 1e-6 * (1.0 + numeric.abs()), "element {i}: {numeric} vs {}", grad[i]);
        }
        assert!(grad.iter().any(|g| g.abs() > 1e-3), "a gradient that is all but zero tests nothing");
    }

    #[test]
    fn clustered_states_cost_less_than_mixed_ones() {
        let labels = [0, 0, 1, 1];
        let clustered = Tensor::new(&[[1.0f64, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]], &Device::Cpu).unwrap();
        let mixed = Tensor::new(&[[1.0f64, 0.1], [-1.0, -0.1], [-1.0, 0.1], [1.0, -0.1]], &Device::Cpu).unwrap();
        assert!(value(&clustered, &labels) < value(&mixed, &labels));
        // Scale does not matter: only directions are compared.
        let scaled = (clustered.clone() * 10.0).unwrap();
        assert!((value(&clustered, &labels) - value(&scaled, &labels)).abs() < 1e-9);
    }

    #[test]
    fn one_task_in_the_batch_gives_no_loss() {
        let h = Tensor::new(&[[1.0f32, 0.0], [0.0, 1.0]], &Device::Cpu).unwrap();
        assert!(align_loss(&h, &[3, 3], 0.1).unwrap().is_none());
    }
}
