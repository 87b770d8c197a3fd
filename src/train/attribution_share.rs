//! How much of an answer rests on the instruction (arXiv 2310.00492): gradient x input of the
//! answer's logit, summed |value| over the instruction's words, as a share of that over the
//! words and the input symbol(s). As probes do, the logit is attributed, not the probability,
//! whose gradient vanishes once the model is sure; the answer is the model's own greedy one.

use candle_core::{Var, D};

use super::error::TrainError;
use super::held_out::{HeldOut, Prompts};
use super::inference::LoadedModel;
use crate::experiment::{Example, Experiment};

/// Prompts per backward pass, to bound memory.
const CHUNK: usize = 256;

/// Σ|instruction| / (Σ|instruction| + Σ|input|) of one prompt's attributions; `None` when all of
/// them are zero (nothing to share out).
pub fn share(instruction: &[f32], input: &[f32]) -> Option<f64> {
    let sum = |v: &[f32]| v.iter().map(|x| f64::from(x.abs())).sum::<f64>();
    let (words, input) = (sum(instruction), sum(input));
    let total = words + input;
    (total > 0.0 && total.is_finite()).then(|| words / total)
}

/// [`share`] for each example at `model`. Prompts in a batch never see each other (causal
/// attention within each sequence), so one backward pass of the summed logits gives every
/// prompt's own gradient.
pub fn shares(model: &LoadedModel, exp: &Experiment, examples: &[Example]) -> candle_core::Result<Vec<Option<f64>>> {
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(CHUNK) {
        let prompts = Prompts::new(exp, chunk, &model.device)?;
        let (b, t) = (chunk.len(), prompts.len);
        // Differentiate with respect to the input embeddings, not the weights.
        let emb = Var::from_tensor(&model.model.embed(&prompts.tokens)?.detach())?;
        let logits = model.model.forward_embedded(emb.as_tensor(), b, t, Some(&prompts.answer_rows()?), None)?.logits;
        let greedy = logits.argmax(D::Minus1)?.unsqueeze(1)?;
        let grads = logits.gather(&greedy, D::Minus1)?.sum_all()?.backward()?;
        let g = grads
            .get(emb.as_tensor())
            .ok_or_else(|| candle_core::Error::Msg("no gradient reached the embeddings".into()))?;
        let gxi: Vec<f32> = (g * emb.as_tensor())?.sum(D::Minus1)?.to_vec1()?;
        for (i, (e, enc)) in chunk.iter().zip(&prompts.encoded).enumerate() {
            let row = &gxi[i * t..(i + 1) * t];
            // `<bos>` words `<sep>` input `<ans>`: the words sit at 1..=n, the input just before
            // `<ans>`.
            let n = e.instruction.len();
            let input = &row[enc.answer_pos - e.input.len()..enc.answer_pos];
            out.push(share(&row[1..=n], input));
        }
    }
    Ok(out)
}

/// The mean [`share`] over the session's held-out probes at checkpoint `step` (probes with no
/// share are left out); `None` when none has one.
pub fn measure_share(held: &HeldOut, step: usize) -> Result<Option<f64>, TrainError> {
    let model = held.model_at(step)?;
    let all = shares(&model, &held.experiment, &held.examples)
        .map_err(TrainError::model(format!("attribution at step {step}")))?;
    let some: Vec<f64> = all.into_iter().flatten().collect();
    Ok((!some.is_empty()).then(|| some.iter().sum::<f64>() / some.len() as f64))
}

/// Kept apart from the model so the arithmetic is checked on numbers one can do by hand.
#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn the_share_of_a_hand_made_attribution() {
        // |words| = 1 + 2 + 1 = 4, |input| = 4: half.
        assert_eq!(share(&[1.0, -2.0, 1.0], &[-4.0]), Some(0.5));
        assert_eq!(share(&[3.0], &[-1.0]), Some(0.75));
        assert_eq!(share(&[], &[2.0]), Some(0.0));
        assert_eq!(share(&[0.0, 0.0], &[0.0]), None);
        assert_eq!(share(&[f32::NAN], &[1.0]), None);
    }
}
