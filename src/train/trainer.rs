//! The training loop's state: model, optimizer, data stream, device.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;
use std::path::Path;
use std::sync::Arc;

use super::align::align_loss;
use super::batch::{encode_batch, Batch};
use super::error::TrainError;
use super::inference::{evaluate, Evaluation};
use super::loss::{cross_entropy, masked_cross_entropy};
use super::optimizer::{AdamW, AdamWConfig, Restart};
use super::weights::SavedTensors;
use crate::experiment::phases::{Phase, PhasePlan};
use crate::experiment::sampling::{rng_for, BatchSampler, SamplerState};
use crate::experiment::spec::{Schedule, Targets};
use crate::experiment::{Example, Experiment};
use crate::model::init::named_parameters;
use crate::model::{CausalLm, Gpt, ModelConfig, SelectedDevice};
use std::collections::BTreeMap;

pub struct Trainer {
    pub experiment: Arc<Experiment>,
    pub config: ModelConfig,
    pub device: SelectedDevice,
    pub total_steps: usize,
    pub plan: PhasePlan,
    varmap: VarMap,
    model: Gpt,
    optimizer: AdamW,
    sampler: BatchSampler,
    step: usize,
    /// The phase being trained and the experiment answering with its targets.
    current: (Phase, Arc<Experiment>),
    /// Self-answer targets already made, by phase index (from the session on a resume).
    made_targets: BTreeMap<usize, Vec<Vec<usize>>>,
}

/// A phase the trainer has just entered.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseEntered {
    pub index: usize,
    /// Targets made from the model's own answers on entering it, to be saved with the session.
    pub made_targets: Option<Vec<Vec<usize>>>,
}

/// Instructions sampled per (task, input) when the model's own answers become a phase's
/// targets: the majority answer over them is the target.
const SELF_VOTES: usize = 8;

impl Trainer {
    pub fn new(
        experiment: Arc<Experiment>,
        config: ModelConfig,
        device: SelectedDevice,
        total_steps: usize,
    ) -> Result<Self> {
        let (model, varmap) = Gpt::initialized(&config, &device.device, experiment.seed)?;
        let plan = experiment.plan(total_steps);
        let restarts = plan
            .phases
            .iter()
            .filter(|p| p.schedule == Schedule::Restart)
            .map(|p| Restart { start: p.start, steps: p.steps, lr: p.lr, warmup: p.warmup })
            .collect();
        let optimizer =
            AdamW::new(named_parameters(&varmap)?, AdamWConfig::from_spec(&experiment.spec.train, total_steps))?
                .with_restarts(restarts);
        let sampler = BatchSampler::new(experiment.seed);
        let first = plan.at(0).clone();
        let current = (first.clone(), Arc::new(phase_experiment(&experiment, &first, None)));
        Ok(Trainer {
            experiment,
            config,
            device,
            total_steps,
            plan,
            varmap,
            model,
            optimizer,
            sampler,
            step: 0,
            current,
            made_targets: BTreeMap::new(),
        })
    }

    /// The phase being trained.
    pub fn phase(&self) -> &Phase {
        &self.current.0
    }

    /// Self-answer targets made earlier in this run (read from its session), so a resumed run
    /// trains towards the same answers.
    pub fn set_made_targets(&mut self, made: BTreeMap<usize, Vec<Vec<usize>>>) {
        self.made_targets = made;
    }

    /// Moves to the phase that trains the next step if it is not the current one; a phase that
    /// trains towards the model's own answers asks the model for them now, at the end of the
    /// previous phase.
    pub fn enter_phase(&mut self) -> Result<Option<PhaseEntered>> {
        let next = self.plan.at(self.step).clone();
        if next.index == self.current.0.index {
            return Ok(None);
        }
        let mut made = None;
        let answers = match next.targets {
            Targets::SelfAnswers => match self.made_targets.get(&next.index) {
                Some(t) => Some(t.clone()),
                None => {
                    let t = self.own_answers(&next)?;
                    self.made_targets.insert(next.index, t.clone());
                    made = Some(t.clone());
                    Some(t)
                }
            },
            _ => None,
        };
        let exp = phase_experiment(&self.experiment, &next, answers.as_deref());
        let index = next.index;
        self.current = (next, Arc::new(exp));
        Ok(Some(PhaseEntered { index, made_targets: made }))
    }

    /// The model's greedy answer for every task of `phase` and every input, by majority over
    /// instructions of the phase's distributions; the spec's answer where no vote names a
    /// symbol. Tasks outside the phase keep empty rows (their tables stay).
    fn own_answers(&self, phase: &Phase) -> Result<Vec<Vec<usize>>> {
        let exp = &self.experiment;
        let mut rng = rng_for(exp.seed, &format!("phase-{}-own-answers", phase.index));
        let mut examples = Vec::new();
        for &t in &phase.tasks {
            let task = &exp.tasks[t];
            for input in 0..exp.symbols.len() {
                for _ in 0..SELF_VOTES {
                    let ds = &phase.distributions[t];
                    let d = ds[rand::Rng::random_range(&mut rng, 0..ds.len())];
                    let words = task.distributions[d].sample(&mut rng);
                    examples.push(exp.lookup_example(t, d, words, input, true));
                }
            }
        }
        let eval = evaluate(&self.model, exp, &self.device.device, &examples, false)?;
        let mut answers = vec![Vec::new(); exp.tasks.len()];
        let mut votes = eval.first_tokens.chunks(SELF_VOTES);
        for &t in &phase.tasks {
            let spec_table = exp.table(t);
            answers[t] = (0..exp.symbols.len())
                .map(|input| {
                    let mut counts = vec![0usize; exp.symbols.len()];
                    for &id in votes.next().unwrap_or_default() {
                        if let Some(s) = exp.tokenizer.symbol_of(id) {
                            counts[s] += 1;
                        }
                    }
                    // Ties go to the lowest symbol, so the targets are a function of the model.
                    let best = (0..counts.len()).max_by_key(|&s| (counts[s], std::cmp::Reverse(s)));
                    match best.filter(|&s| counts[s] > 0) {
                        Some(s) => s,
                        None => spec_table.get(input).copied().unwrap_or(0),
                    }
                })
                .collect();
        }
        Ok(answers)
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn sampler_state(&self) -> SamplerState {
        self.sampler.state()
    }

    pub fn lr(&self) -> f64 {
        self.optimizer.lr_at(self.step)
    }

    /// Loss of a batch with gradients recorded: the answer's (or the sequence's) cross-entropy,
    /// plus the phase's alignment loss.
    pub fn batch_loss(&self, batch: &Batch) -> Result<Tensor> {
        let align = self.current.0.align.as_ref();
        let hidden_rows = align.map(|_| &batch.hidden_rows);
        let (loss, hidden) = match &batch.seq_targets {
            Some((targets, mask)) => {
                let out = self.model.forward(&batch.tokens, None, hidden_rows)?;
                (masked_cross_entropy(&out.logits, targets, mask)?, out.hidden)
            }
            None => {
                let out = self.model.forward(&batch.tokens, Some(&batch.answer_rows), hidden_rows)?;
                (cross_entropy(&out.logits, &batch.answers)?, out.hidden)
            }
        };
        let Some(a) = align else { return Ok(loss) };
        let layer = a.layer.unwrap_or(self.config.layers).min(hidden.len().saturating_sub(1));
        let Some(h) = hidden.get(layer) else { return Ok(loss) };
        match align_loss(h, &batch.labels, a.temperature)? {
            Some(extra) => loss + (extra * a.weight)?,
            None => Ok(loss),
        }
    }

    /// Draws the next training batch, of the current phase's data.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let spec = &self.experiment.spec.train;
        let (phase, exp) = &self.current;
        let examples = self.sampler.batch(exp, phase, spec.batch_size);
        encode_batch(exp, &examples, true, spec.loss, &self.device.device)
    }

    /// One optimisation step (entering its phase first, see
    /// [`enter_phase`](Self::enter_phase)); returns the batch loss.
    pub fn train_step(&mut self) -> Result<f32> {
        let batch = self.next_batch()?;
        let loss = self.batch_loss(&batch)?;
        let grads = loss.backward()?;
        self.optimizer.step(&grads)?;
        self.step += 1;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            candle_core::bail!("loss became {value} at step {}: training diverged (try a lower train.lr)", self.step);
        }
        Ok(value)
    }

    /// Gradients of one batch's loss, without updating (for checks and attribution).
    pub fn gradients(&mut self) -> Result<(GradStore, Vec<(String, Var)>)> {
        let batch = self.next_batch()?;
        let grads = self.batch_loss(&batch)?.backward()?;
        Ok((grads, named_parameters(&self.varmap)?))
    }

    /// Answer accuracy (against the current phase's targets) and, with `capture`, hidden
    /// states of every layer.
    pub fn evaluate(&self, examples: &[Example], capture: bool) -> Result<Evaluation> {
        let (phase, exp) = &self.current;
        // The analysis set carries the spec's answers: only other targets need it re-answered.
        if phase.targets == Targets::Spec {
            return evaluate(&self.model, exp, &self.device.device, examples, capture);
        }
        evaluate(&self.model, exp, &self.device.device, &exp.retarget(examples), capture)
    }

    pub fn save_weights(&self, path: &Path) -> Result<()> {
        self.varmap.save(path)
    }

    /// Saves the optimizer moments (for `--resume`).
    pub fn save_optimizer(&self, path: &Path) -> Result<()> {
        candle_core::safetensors::save(&self.optimizer.state()?, path)
    }

    /// Continues from a checkpoint: its weights, optimizer moments, step and data stream.
    pub fn resume_from(
        &mut self,
        weights: &SavedTensors,
        optimizer: &SavedTensors,
        step: usize,
        sampler: SamplerState,
    ) -> std::result::Result<(), TrainError> {
        weights.load_into(&self.varmap)?;
        self.optimizer
            .restore(&optimizer.tensors, step)
            .map_err(|source| TrainError::Resume { file: optimizer.file.clone(), source })?;
        self.sampler = BatchSampler::from_state(sampler);
        self.step = step;
        // The weights at `step` were made by the phase before a boundary; the next step's phase
        // is entered before it trains.
        let made = self.plan.of_checkpoint(step).clone();
        let answers = self.made_targets.get(&made.index).cloned();
        let exp = phase_experiment(&self.experiment, &made, answers.as_deref());
        self.current = (made, Arc::new(exp));
        Ok(())
    }
}

/// `base` answering with `phase`'s targets: its tables, some entries overridden (seeded by the
/// phase), or the model's own `answers`.
fn phase_experiment(base: &Experiment, phase: &Phase, answers: Option<&[Vec<usize>]>) -> Experiment {
    let Some(tables) = base.family.lookup() else { return base.clone() };
    match (phase.targets, answers) {
        (Targets::Override, _) => {
            let mut rng = rng_for(base.seed, &format!("phase-{}-overrides", phase.index));
            base.with_tables(tables.overridden(&phase.tasks, phase.override_fraction, &mut rng))
        }
        (Targets::SelfAnswers, Some(a)) => base.with_tables(tables.with_answers(a)),
        _ => base.clone(),
    }
}
