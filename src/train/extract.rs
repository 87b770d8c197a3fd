//! Hidden states of any causal LM over prompts of different lengths: what analysing a model we
//! did not train reads at each of its layers. Prompts are batched by length and padded on the
//! right; a causal model's states at a position do not see what comes after it, so padding
//! changes nothing that is read.

use std::ops::Range;

use candle_core::{DType, Device, Result, Tensor};

use crate::model::CausalLm;

/// Where a prompt's hidden state is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    /// The instruction's last token.
    Last,
    /// The mean over the instruction's tokens.
    Mean,
}

/// One prompt as token ids, and which of them are the instruction.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// Token indices, never empty.
    pub instruction: Range<usize>,
}

/// Tokens in one forward pass at most (batch × padded length): bounds the activations held at
/// once, whatever the number of prompts.
pub const BATCH_TOKENS: usize = 4096;

/// Every layer's hidden state of every prompt, read `at` as asked: one (prompts, d) f32 CPU
/// tensor per layer, rows in `prompts`' order. `pad` fills the batch after a short prompt.
pub fn hidden_states(
    model: &dyn CausalLm,
    prompts: &[Tokens],
    at: ReadAt,
    pad: u32,
    device: &Device,
) -> Result<Vec<Tensor>> {
    batched(model, prompts, at, pad, device, BATCH_TOKENS)
}

/// [`hidden_states`] with at most `budget` tokens in a forward pass (a prompt longer than that
/// still goes alone).
fn batched(
    model: &dyn CausalLm,
    prompts: &[Tokens],
    at: ReadAt,
    pad: u32,
    device: &Device,
    budget: usize,
) -> Result<Vec<Tensor>> {
    if let Some((i, p)) = prompts.iter().enumerate().find(|(_, p)| !is_valid(p)) {
        candle_core::bail!(
            "prompt {i}: instruction tokens {:?} are not within its {} tokens",
            p.instruction,
            p.ids.len()
        );
    }
    if let Some(p) = prompts.iter().find(|p| p.ids.len() > model.context()) {
        candle_core::bail!(
            "a prompt of {} tokens is longer than the model's context of {}",
            p.ids.len(),
            model.context()
        );
    }
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    order.sort_by_key(|&i| prompts[i].ids.len());
    let mut rows: Vec<Vec<Tensor>> = vec![Vec::with_capacity(prompts.len()); model.hidden_layers()];
    let mut start = 0;
    while start < order.len() {
        // Sorted by length, so the batch's last prompt is its longest.
        let mut end = start + 1;
        while end < order.len() && (end + 1 - start) * prompts[order[end]].ids.len() <= budget {
            end += 1;
        }
        let batch: Vec<&Tokens> = order[start..end].iter().map(|&i| &prompts[i]).collect();
        for (layer, states) in read_batch(model, &batch, at, pad, device)?.into_iter().enumerate() {
            rows[layer].push(states);
        }
        start = end;
    }
    // Back from length order to the prompts' order.
    let mut back = vec![0u32; order.len()];
    for (sorted, &i) in order.iter().enumerate() {
        back[i] = sorted as u32;
    }
    let back = Tensor::from_vec(back, order.len(), &Device::Cpu)?;
    rows.into_iter().map(|parts| Tensor::cat(&parts, 0)?.index_select(&back, 0)).collect()
}

fn is_valid(p: &Tokens) -> bool {
    p.instruction.start < p.instruction.end && p.instruction.end <= p.ids.len()
}

/// One forward pass over `batch`, padded to its longest prompt: per layer (batch, d) on the CPU.
fn read_batch(model: &dyn CausalLm, batch: &[&Tokens], at: ReadAt, pad: u32, device: &Device) -> Result<Vec<Tensor>> {
    let t = batch.iter().map(|p| p.ids.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(batch.len() * t);
    let mut read = Vec::new();
    let mut groups = Vec::with_capacity(batch.len());
    for (b, p) in batch.iter().enumerate() {
        ids.extend(&p.ids);
        ids.extend(std::iter::repeat_n(pad, t - p.ids.len()));
        let positions = match at {
            ReadAt::Last => p.instruction.end - 1..p.instruction.end,
            ReadAt::Mean => p.instruction.clone(),
        };
        groups.push(positions.len());
        read.extend(positions.map(|pos| (b * t + pos) as u32));
    }
    let tokens = Tensor::from_vec(ids, (batch.len(), t), device)?;
    let rows = Tensor::from_vec(read, groups.iter().sum::<usize>(), device)?;
    let last = Tensor::from_vec(vec![(t - 1) as u32], 1, device)?;
    let out = model.forward(&tokens, Some(&last), Some(&rows))?;
    out.hidden
        .into_iter()
        .map(|h| {
            let h = h.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
            match at {
                ReadAt::Last => Ok(h),
                ReadAt::Mean => mean_groups(&h, &groups),
            }
        })
        .collect()
}

/// The mean of each run of `groups[i]` consecutive rows of `h`.
fn mean_groups(h: &Tensor, groups: &[usize]) -> Result<Tensor> {
    let mut at = 0;
    let means = groups
        .iter()
        .map(|&n| {
            let m = h.narrow(0, at, n)?.mean_keepdim(0);
            at += n;
            m
        })
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&means, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Gpt, ModelConfig};

    fn model() -> Gpt {
        let cfg = ModelConfig::preset("tiny", 20, 16).unwrap();
        Gpt::initialized(&cfg, &Device::Cpu, 3).unwrap().0
    }

    /// Each prompt alone, unpadded: what batching must reproduce.
    fn alone(model: &Gpt, p: &Tokens, at: ReadAt) -> Vec<Vec<f32>> {
        let tokens = Tensor::from_vec(p.ids.clone(), (1, p.ids.len()), &Device::Cpu).unwrap();
        let all: Vec<u32> = (0..p.ids.len() as u32).collect();
        let rows = Tensor::from_vec(all, p.ids.len(), &Device::Cpu).unwrap();
        let out = model.forward(&tokens, None, Some(&rows)).unwrap();
        out.hidden
            .iter()
            .map(|h| {
                let h: Vec<Vec<f32>> = h.to_vec2().unwrap();
                let picked: Vec<&Vec<f32>> = match at {
                    ReadAt::Last => vec![&h[p.instruction.end - 1]],
                    ReadAt::Mean => h[p.instruction.clone()].iter().collect(),
                };
                (0..h[0].len()).map(|j| picked.iter().map(|r| r[j]).sum::<f32>() / picked.len() as f32).collect()
            })
            .collect()
    }

    fn prompts() -> Vec<Tokens> {
        // Lengths 3 to 11 in no order, instructions anywhere inside.
        (0..9)
            .map(|i| {
                let len = 3 + (i * 5) % 9;
                let ids = (0..len).map(|j| ((i * 7 + j * 3) % 19 + 1) as u32).collect();
                Tokens { ids, instruction: (i % 2)..len - (i % 3).min(len - 1 - i % 2) }
            })
            .collect()
    }

    #[test]
    fn batched_and_padded_reads_equal_each_prompt_read_alone() {
        let model = model();
        let ps = prompts();
        // One batch for all, and batches of a few prompts that must come back in order.
        for (at, budget) in
            [(ReadAt::Last, BATCH_TOKENS), (ReadAt::Mean, BATCH_TOKENS), (ReadAt::Last, 20), (ReadAt::Mean, 20)]
        {
            let layers = batched(&model, &ps, at, 0, &Device::Cpu, budget).unwrap();
            assert_eq!(layers.len(), 3);
            let got: Vec<Vec<Vec<f32>>> = layers.iter().map(|l| l.to_vec2().unwrap()).collect();
            for (i, p) in ps.iter().enumerate() {
                for (layer, want) in alone(&model, p, at).iter().enumerate() {
                    let max = got[layer][i].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                    assert!(max < 1e-5, "{at:?} budget {budget} prompt {i} layer {layer}: {max}");
                }
            }
        }
    }

    #[test]
    fn the_mean_differs_from_the_last_token_where_the_instruction_is_longer_than_one() {
        let model = model();
        let p = Tokens { ids: vec![1, 2, 3, 4], instruction: 1..4 };
        let last = hidden_states(&model, std::slice::from_ref(&p), ReadAt::Last, 0, &Device::Cpu).unwrap();
        let mean = hidden_states(&model, &[p], ReadAt::Mean, 0, &Device::Cpu).unwrap();
        let d = (&last[2] - &mean[2]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d > 1e-3, "{d}");
    }

    #[test]
    fn prompts_that_cannot_be_read_are_refused() {
        let model = model();
        let empty = Tokens { ids: vec![1, 2], instruction: 1..1 };
        assert!(hidden_states(&model, &[empty], ReadAt::Last, 0, &Device::Cpu).is_err());
        let long = Tokens { ids: vec![1; 17], instruction: 0..17 };
        let e = hidden_states(&model, &[long], ReadAt::Last, 0, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("longer than the model's context of 16"), "{e}");
    }
}
