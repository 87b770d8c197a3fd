//! Knowledge consistency (arXiv 2402.18243): how much of what a model answered before it was
//! taught something it still answers after. Per held-out probe, the model's distribution over
//! the symbols at the answer position at two checkpoints, and Pearson's r between the two,
//! averaged over the probes.

use candle_core::{DType, D};

use super::error::TrainError;
use super::held_out::{HeldOut, Prompts};
use super::inference::LoadedModel;
use crate::analysis::correlation::pearson;
use crate::experiment::tokenizer::SPECIALS;
use crate::experiment::{Example, Experiment};
use crate::model::layers::softmax_last;

/// Prompts per forward pass, to bound memory.
const CHUNK: usize = 512;

/// Per example, the softmax over the symbols' logits (and only theirs: the answer is a symbol,
/// and mass on words or specials would be a different question) at the answer position.
pub fn symbol_distributions(
    model: &LoadedModel,
    exp: &Experiment,
    examples: &[Example],
) -> candle_core::Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(CHUNK) {
        let prompts = Prompts::new(exp, chunk, &model.device)?;
        let logits = model.model.forward(&prompts.tokens, Some(&prompts.answer_rows()?), None)?.logits;
        let symbols = logits.narrow(D::Minus1, SPECIALS.len(), exp.symbols.len())?.to_dtype(DType::F32)?;
        out.extend(softmax_last(&symbols)?.to_vec2::<f32>()?);
    }
    Ok(out)
}

/// The mean over probes of Pearson's r between each probe's distribution `before` and `after`;
/// a probe whose r is undefined (a distribution with no variance: exactly uniform) is left out,
/// and `None` when no probe has one.
pub fn consistency(before: &[Vec<f32>], after: &[Vec<f32>]) -> Option<f64> {
    let rs: Vec<f64> = before.iter().zip(after).filter_map(|(b, a)| pearson(b, a)).collect();
    (!rs.is_empty()).then(|| rs.iter().sum::<f64>() / rs.len() as f64)
}

/// [`consistency`] of the session's held-out probes between checkpoints `before` and `after`.
pub fn measure_consistency(held: &HeldOut, before: usize, after: usize) -> Result<Option<f64>, TrainError> {
    let run = |step: usize| -> Result<Vec<Vec<f32>>, TrainError> {
        let model = held.model_at(step)?;
        symbol_distributions(&model, &held.experiment, &held.examples)
            .map_err(TrainError::model(format!("answer distributions at step {step}")))
    };
    Ok(consistency(&run(before)?, &run(after)?))
}

#[cfg(test)]
mod tests {
    use super::consistency;

    #[test]
    fn the_mean_of_each_probes_correlation() {
        let before = vec![vec![0.7, 0.2, 0.1], vec![0.1, 0.2, 0.7], vec![0.25, 0.25, 0.25]];
        // The same belief, the reversed one, and one probe with no r (uniform before).
        let after = vec![vec![0.7, 0.2, 0.1], vec![0.7, 0.2, 0.1], vec![0.9, 0.05, 0.05]];
        let c = consistency(&before, &after).unwrap_or(f64::NAN);
        // r = 1 for the first, about -0.81 for the second, the third left out.
        let second = crate::analysis::correlation::pearson(&before[1], &after[1]).unwrap_or(f64::NAN);
        assert!((c - (1.0 + second) / 2.0).abs() < 1e-9, "{c}");
        assert_eq!(consistency(&before[2..], &after[2..]), None);
    }
}
