//! Turning examples into tensors.

use candle_core::{Device, Result, Tensor};

use crate::experiment::spec::{HiddenPosition, LossOn};
use crate::experiment::tokenizer::PAD;
use crate::experiment::{Example, Experiment};
use crate::model::gpt::readout_rows;

/// A padded batch: sequences are right-padded, which a causal model never sees from the
/// positions we read.
pub struct Batch {
    pub tokens: Tensor,
    pub len: usize,
    /// Rows (into B*T) whose logits predict the answer: from `<ans>` on, `answer_lens[i]` of
    /// them for example i (one for a lookup answer; a rewrite's string and its `<eos>`).
    pub answer_rows: Tensor,
    pub answer_lens: Vec<usize>,
    /// Rows whose hidden state is analysed.
    pub hidden_rows: Tensor,
    /// Each example's class (its task), for losses on the hidden state.
    pub labels: Vec<usize>,
    /// The answer token of every answer row.
    pub answers: Tensor,
    pub answer_ids: Vec<u32>,
    /// Next-token targets over every position (B*T,), with a 0/1 mask of real targets.
    pub seq_targets: Option<(Tensor, Tensor)>,
}

pub fn encode_batch(
    exp: &Experiment,
    examples: &[Example],
    with_answer: bool,
    loss: LossOn,
    device: &Device,
) -> Result<Batch> {
    let encoded = examples
        .iter()
        .map(|e| {
            exp.encode(e, with_answer).ok_or_else(|| candle_core::Error::Msg("example outside the vocabulary".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    let len = encoded.iter().map(|e| e.ids.len()).max().unwrap_or(1);
    let b = encoded.len();
    let mut ids = vec![PAD; b * len];
    for (i, e) in encoded.iter().enumerate() {
        ids[i * len..i * len + e.ids.len()].copy_from_slice(&e.ids);
    }
    let answer_pos: Vec<usize> = encoded.iter().map(|e| e.answer_pos).collect();
    // Answers are read teacher-forced: every answer token predicted right is exactly the answer
    // greedy decoding would give, so exact match needs one forward pass, not one per token.
    let (rows, answer_ids): (Vec<u32>, Vec<u32>) = encoded
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            (0..e.answer_len).map(move |k| ((i * len + e.answer_pos + k) as u32, e.ids[e.answer_pos + 1 + k]))
        })
        .unzip();
    let answer_lens: Vec<usize> = encoded.iter().map(|e| e.answer_len).collect();
    let hidden_pos: Vec<usize> = match exp.hidden_position() {
        HiddenPosition::Answer => answer_pos.clone(),
        HiddenPosition::LastInstruction => encoded.iter().map(|e| e.last_instruction_pos).collect(),
    };
    let seq_targets = if with_answer && loss == LossOn::Sequence {
        let mut targets = vec![PAD; b * len];
        let mut mask = vec![0f32; b * len];
        for (i, e) in encoded.iter().enumerate() {
            // Nothing before the answer is predictable from the prompt except the format, but the
            // whole-sequence option trains on it as a language model would.
            for p in 0..e.ids.len() - 1 {
                targets[i * len + p] = e.ids[p + 1];
                mask[i * len + p] = 1.0;
            }
        }
        Some((Tensor::from_vec(targets, b * len, device)?, Tensor::from_vec(mask, b * len, device)?))
    } else {
        None
    };
    Ok(Batch {
        tokens: Tensor::from_vec(ids, (b, len), device)?,
        len,
        answer_rows: Tensor::from_vec(rows.clone(), rows.len(), device)?,
        answer_lens,
        hidden_rows: readout_rows(&hidden_pos, len, device)?,
        labels: examples.iter().map(|e| e.task).collect(),
        answers: Tensor::from_vec(answer_ids.clone(), answer_ids.len(), device)?,
        answer_ids,
        seq_targets,
    })
}
