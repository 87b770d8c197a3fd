//! Seeded sampling of examples: training batches and the fixed analysis set.

use super::family::Family;
use super::phases::{identity_token, Phase};
use super::rewrite::{RewriteExample, Rewrites, Rule};
use super::spec::PhaseData;
use super::{Example, Experiment};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use super::seed::{derive_seed, rng_for};

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

    /// A batch of `phase`'s data: task uniform over the phase's, then one of its distributions
    /// (or its identity token, or no instruction), then an input; for rewrites, a training rule
    /// uniform, then one of its fixed examples. Answers come from `exp`'s family, which is the
    /// phase's targets.
    pub fn batch(&mut self, exp: &Experiment, phase: &Phase, size: usize) -> Vec<Example> {
        if let Family::Rewrite(r) = exp.family.as_ref() {
            // Every training rule has at least one example (`Rewrites::from_spec` gives each
            // rule its share of the budget, at least one), so a batch is always `size` long.
            return (0..size)
                .map(|_| {
                    let rule = self.rng.random_range(0..r.train.len());
                    let data = &r.data[rule];
                    let e = &data[self.rng.random_range(0..data.len())];
                    rewrite_example(r, rule, &r.train[rule], e, true)
                })
                .collect();
        }
        (0..size)
            .map(|_| {
                let task = phase.tasks[self.rng.random_range(0..phase.tasks.len())];
                let t = &exp.tasks[task];
                // Draws in the order runs before phases made them (task, distribution, input,
                // words), so a seed gives the batches it always gave.
                let dist = match phase.data {
                    PhaseData::Instructions => {
                        let ds = &phase.distributions[task];
                        Some(ds[self.rng.random_range(0..ds.len())])
                    }
                    PhaseData::TaskIdentity | PhaseData::Tables => None,
                };
                let input = self.rng.random_range(0..exp.symbols.len());
                let words = match (phase.data, dist) {
                    (PhaseData::Instructions, Some(d)) => t.distributions[d].sample(&mut self.rng),
                    (PhaseData::TaskIdentity, _) => vec![identity_token(&t.name)],
                    _ => Vec::new(),
                };
                exp.lookup_example(task, dist.unwrap_or(0), words, input, true)
            })
            .collect()
    }
}

fn rewrite_example(r: &Rewrites, index: usize, rule: &Rule, e: &RewriteExample, seen: bool) -> Example {
    Example {
        task: r.label(rule, e.noop),
        distribution: index,
        instruction: rule.words(&r.alphabet),
        input: e.input.clone(),
        output: e.output.clone(),
        seen,
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
    if let Family::Rewrite(r) = exp.family.as_ref() {
        return rewrite_analysis_set(r, &mut rng);
    }
    let mut seen = Vec::with_capacity(per_task * exp.tasks.len());
    let mut unseen = Vec::with_capacity(unseen_per_task * exp.tasks.len());
    let n_inputs = exp.symbols.len();
    for (ti, task) in exp.tasks.iter().enumerate() {
        let mut inputs: Vec<usize> = (0..per_task.max(unseen_per_task)).map(|i| i % n_inputs).collect();
        inputs.shuffle(&mut rng);
        for &input in inputs.iter().take(per_task) {
            let dist = task.seen[rng.random_range(0..task.seen.len())];
            let words = task.distributions[dist].sample(&mut rng);
            seen.push(exp.lookup_example(ti, dist, words, input, true));
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
                unseen.push(exp.lookup_example(ti, dist, words, input, false));
            }
        }
    }
    AnalysisSet { seen, unseen }
}

/// For rewrites: fresh examples of the first `analysis_rules` training rules (drawn in random
/// order, so any prefix is a fair sample) and of every held-out rule.
fn rewrite_analysis_set(r: &Rewrites, rng: &mut ChaCha8Rng) -> AnalysisSet {
    let per_rule = r.spec.analysis_per_rule;
    let mut set = |rules: &[Rule], seen: bool| -> Vec<Example> {
        rules
            .iter()
            .enumerate()
            .flat_map(|(i, rule)| {
                (0..per_rule).map(|_| rewrite_example(r, i, rule, &r.fresh(rng, rule), seen)).collect::<Vec<_>>()
            })
            .collect()
    };
    let seen = set(&r.train[..r.spec.analysis_rules.min(r.train.len())], true);
    let unseen = set(&r.held_out, false);
    AnalysisSet { seen, unseen }
}
