//! AdamW with decoupled weight decay, warm-up and cosine decay. Ours rather than candle-nn's so
//! that the moments can be saved and restored when a run resumes.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor, Var};
use rayon::prelude::*;
use std::collections::HashMap;

use crate::experiment::spec::TrainSpec;
use crate::model::Kernels;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub warmup: usize,
    pub total_steps: usize,
    pub min_lr_ratio: f64,
    pub grad_clip: f64,
}

impl AdamWConfig {
    pub fn from_spec(t: &TrainSpec, total_steps: usize) -> Self {
        AdamWConfig {
            lr: t.lr,
            beta1: t.beta1,
            beta2: t.beta2,
            eps: 1e-8,
            weight_decay: t.weight_decay,
            warmup: t.warmup,
            total_steps,
            min_lr_ratio: t.min_lr_ratio,
            grad_clip: t.grad_clip,
        }
    }

    /// Linear warm-up to `lr`, then cosine decay to `lr * min_lr_ratio` at `total_steps`.
    pub fn lr_at(&self, step: usize) -> f64 {
        warmup_cosine(self.lr, self.warmup, self.total_steps, self.min_lr_ratio, step)
    }
}

fn warmup_cosine(lr: f64, warmup: usize, total: usize, min_ratio: f64, step: usize) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1);
    let progress = ((step - warmup) as f64 / span as f64).min(1.0);
    let min = lr * min_ratio;
    min + 0.5 * (lr - min) * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Steps `[start, start + steps)` that follow a schedule of their own (a phase that restarts
/// it): warm-up to `lr`, then cosine decay over the phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Restart {
    pub start: usize,
    pub steps: usize,
    pub lr: f64,
    pub warmup: usize,
}

struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

pub struct AdamW {
    cfg: AdamWConfig,
    restarts: Vec<Restart>,
    slots: Vec<Slot>,
    step: usize,
    kernels: Kernels,
}

impl AdamW {
    /// `params` in a stable order (by name). Matrices decay; biases and LayerNorm gains do not.
    /// The update runs the kernels for the parameters' device ([`Kernels::for_device`]).
    pub fn new(params: Vec<(String, Var)>, cfg: AdamWConfig) -> Result<Self> {
        let kernels = params.first().map_or(Kernels::Composed, |(_, v)| Kernels::for_device(v.device()));
        Self::with_kernels(params, cfg, kernels)
    }

    /// [`new`](Self::new) with the kernels given: with [`Kernels::Fused`], each parameter on the
    /// CPU in f32 is updated in place in two fused passes; anything else takes the composed ops.
    pub fn with_kernels(params: Vec<(String, Var)>, cfg: AdamWConfig, kernels: Kernels) -> Result<Self> {
        let slots = params
            .into_iter()
            .map(|(name, var)| {
                let decay = var.rank() >= 2;
                Ok(Slot { m: var.zeros_like()?, v: var.zeros_like()?, name, var, decay })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW { cfg, restarts: Vec::new(), slots, step: 0, kernels })
    }

    pub fn step_count(&self) -> usize {
        self.step
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }

    /// Phases whose schedule restarts; steps outside them follow the run-wide one.
    pub fn with_restarts(mut self, restarts: Vec<Restart>) -> Self {
        self.restarts = restarts;
        self
    }

    /// The learning rate of step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.restarts.iter().find(|r| step >= r.start && step < r.start + r.steps) {
            Some(r) => warmup_cosine(r.lr, r.warmup, r.steps, self.cfg.min_lr_ratio, step - r.start),
            None => self.cfg.lr_at(step),
        }
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Applies one update; returns the learning rate used and the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore) -> Result<(f64, f64)> {
        let lr = self.lr_at(self.step);
        let mut sq = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            if let Some(g) = grads.get(s.var.as_tensor()) {
                sq.push(g.sqr()?.sum_all()?);
            }
        }
        let norm =
            if sq.is_empty() { 0.0 } else { f64::from(Tensor::stack(&sq, 0)?.sum_all()?.to_scalar::<f32>()?).sqrt() };
        let scale = if self.cfg.grad_clip > 0.0 && norm > self.cfg.grad_clip { self.cfg.grad_clip / norm } else { 1.0 };
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else { continue };
            let decay = if s.decay { self.cfg.weight_decay } else { 0.0 };
            if self.kernels.fuse(s.var.as_tensor()) && self.kernels.fuse(g) {
                let g = g.contiguous()?;
                s.m.inplace_op2(&g, &Moment { beta: b1 as f32, scale: scale as f32, square: false })?;
                s.v.inplace_op2(&g, &Moment { beta: b2 as f32, scale: scale as f32, square: true })?;
                let step = Step {
                    lr: lr as f32,
                    bc1: (1.0 / bc1) as f32,
                    bc2: (1.0 / bc2) as f32,
                    eps: self.cfg.eps as f32,
                    decay: (1.0 - lr * decay) as f32,
                };
                s.var.as_tensor().inplace_op3(&s.m, &s.v, &step)?;
                continue;
            }
            let g = if scale != 1.0 { (g * scale)? } else { g.clone() };
            s.m = ((&s.m * b1)? + (&g * (1.0 - b1))?)?;
            s.v = ((&s.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let update = ((&s.m * (1.0 / bc1))? / ((&s.v * (1.0 / bc2))?.sqrt()? + self.cfg.eps)?)?;
            let decayed =
                if decay > 0.0 { (s.var.as_tensor() * (1.0 - lr * decay))? } else { s.var.as_tensor().clone() };
            s.var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok((lr, norm))
    }

    /// Copies of the moments as named tensors (`<param>.m`, `<param>.v`), for saving. Copies,
    /// because the fused update changes the moments in place.
    pub fn state(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for s in &self.slots {
            out.insert(format!("{}.m", s.name), s.m.copy()?);
            out.insert(format!("{}.v", s.name), s.v.copy()?);
        }
        Ok(out)
    }

    /// Restores moments saved by [`AdamW::state`] and the step count.
    pub fn restore(&mut self, state: &HashMap<String, Tensor>, step: usize) -> Result<()> {
        for s in &mut self.slots {
            for (suffix, dst) in [("m", &mut s.m), ("v", &mut s.v)] {
                let key = format!("{}.{suffix}", s.name);
                let t =
                    state.get(&key).ok_or_else(|| candle_core::Error::Msg(format!("optimizer state lacks {key}")))?;
                if t.shape() != dst.shape() {
                    candle_core::bail!("optimizer state {key} has shape {:?}, expected {:?}", t.shape(), dst.shape());
                }
                // A copy: the fused update writes the moments in place.
                *dst = t.to_device(dst.device())?.copy()?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Elements per parallel task in the fused update.
const CHUNK: usize = 1 << 14;

fn cpu_f32<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{op}: expects a contiguous f32 tensor"),
    }
}

fn cpu_f32_mut<'a>(s: &'a mut CpuStorage, l: &Layout, op: &str) -> Result<&'a mut [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&mut v[a..b]),
        _ => candle_core::bail!("{op}: expects a contiguous f32 tensor"),
    }
}

/// One moment, updated in place in one parallel pass (the composed ops take five and allocate
/// each): `m = beta * m + (1 - beta) * g'` with `g' = scale * g`, squared for the second moment.
struct Moment {
    beta: f32,
    scale: f32,
    square: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<()> {
        let m = cpu_f32_mut(s1, l1, self.name())?;
        let g = cpu_f32(s2, l2, self.name())?;
        if m.len() != g.len() {
            candle_core::bail!("{}: {} moments for {} gradients", self.name(), m.len(), g.len());
        }
        let (beta, rest) = (self.beta, 1.0 - self.beta);
        m.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).for_each(|(m, g)| {
            for (m, &g) in m.iter_mut().zip(g) {
                let g = if self.scale != 1.0 { g * self.scale } else { g };
                let g = if self.square { g * g } else { g };
                *m = *m * beta + g * rest;
            }
        });
        Ok(())
    }
}

/// The parameter update in place: `w = w * decay - lr * (m / bc1) / (sqrt(v / bc2) + eps)`,
/// with `bc1` and `bc2` given as reciprocals.
struct Step {
    lr: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
    decay: f32,
}

impl candle_core::InplaceOp3 for Step {
    fn name(&self) -> &'static str {
        "adamw-step"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let w = cpu_f32_mut(s1, l1, self.name())?;
        let (m, v) = (cpu_f32(s2, l2, self.name())?, cpu_f32(s3, l3, self.name())?);
        if m.len() != w.len() || v.len() != w.len() {
            candle_core::bail!("{}: {} parameters, {} and {} moments", self.name(), w.len(), m.len(), v.len());
        }
        w.par_chunks_mut(CHUNK).zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK))).for_each(|(w, (m, v))| {
            for ((w, &m), &v) in w.iter_mut().zip(m).zip(v) {
                let update = (m * self.bc1) / ((v * self.bc2).sqrt() + self.eps);
                *w = *w * self.decay - update * self.lr;
            }
        });
        Ok(())
    }
}
