//! Seeded sampling of examples: training batches and the fixed analysis set.

use super::{Example, Experiment};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Derives an independent stream seed for one purpose, so that changing how much one consumer
/// draws never shifts another's data.
pub fn derive_seed(seed: u64, purpose: &str) -> u64 {
    // FNV-1a of the purpose, then splitmix64: stable across platforms and crate versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn rng_for(seed: u64, purpose: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, purpose))
}

/// Draws training examples from seen distributions; its position can be saved and restored so a
/// resumed run sees exactly the batches the uninterrupted run would have.
#[derive(Debug, Clone)]
pub struct BatchSampler {
    rng: ChaCha8Rng,
    seed: u64,
}

/// Where a sampler stands in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    pub seed: u64,
    pub word_pos: u128,
}

impl BatchSampler {
    pub fn new(seed: u64) -> Self {
        let seed = derive_seed(seed, "train-batches");
        BatchSampler { rng: ChaCha8Rng::seed_from_u64(seed), seed }
    }

    pub fn state(&self) -> SamplerState {
        SamplerState { seed: self.seed, word_pos: self.rng.get_word_pos() }
    }

    pub fn from_state(state: SamplerState) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(state.seed);
        rng.set_word_pos(state.word_pos);
        BatchSampler { rng, seed: state.seed }
    }

    /// A batch: task uniform, then one of its seen distributions, then an input.
    pub fn batch(&mut self, exp: &Experiment, size: usize) -> Vec<Example> {
        (0..size)
            .map(|_| {
                let task = self.rng.random_range(0..exp.tasks.len());
                let t = &exp.tasks[task];
                let dist = t.seen[self.rng.random_range(0..t.seen.len())];
                let input = self.rng.random_range(0..exp.family.inputs());
                exp.example(task, dist, t.distributions[dist].sample(&mut self.rng), input, true)
            })
            .collect()
    }
}

/// The fixed set whose hidden states are analysed at every checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSet {
    pub seen: Vec<Example>,
    pub unseen: Vec<Example>,
}

impl AnalysisSet {
    pub fn seen_labels(&self) -> Vec<usize> {
        self.seen.iter().map(|e| e.task).collect()
    }

    pub fn unseen_labels(&self) -> Vec<usize> {
        self.unseen.iter().map(|e| e.task).collect()
    }
}

/// Builds the analysis set: per task, `per_task` seen and `unseen_per_task` unseen examples,
/// inputs spread evenly over the family's inputs so every task's points cover every input.
pub(super) fn analysis_set(exp: &Experiment, per_task: usize, unseen_per_task: usize) -> AnalysisSet {
    let mut rng = rng_for(exp.seed, "analysis-set");
    let mut seen = Vec::with_capacity(per_task * exp.tasks.len());
    let mut unseen = Vec::with_capacity(unseen_per_task * exp.tasks.len());
    let n_inputs = exp.family.inputs();
    for (ti, task) in exp.tasks.iter().enumerate() {
        let mut inputs: Vec<usize> = (0..per_task.max(unseen_per_task)).map(|i| i % n_inputs).collect();
        inputs.shuffle(&mut rng);
        for &input in inputs.iter().take(per_task) {
            let dist = task.seen[rng.random_range(0..task.seen.len())];
            let words = task.distributions[dist].sample(&mut rng);
            seen.push(exp.example(ti, dist, words, input, true));
        }
        if task.unseen.is_empty() {
            continue;
        }
        for &input in inputs.iter().take(unseen_per_task) {
            let dist = task.unseen[rng.random_range(0..task.unseen.len())];
            // Held-out distributions were checked to produce novel instructions; the retry bound
            // only guards against an unlucky stream.
            let mut words = task.distributions[dist].sample(&mut rng);
            for _ in 0..64 {
                if !exp.is_seen_instruction(&words) {
                    break;
                }
                words = task.distributions[dist].sample(&mut rng);
            }
            if !exp.is_seen_instruction(&words) {
                unseen.push(exp.example(ti, dist, words, input, false));
            }
        }
    }
    AnalysisSet { seen, unseen }
}
