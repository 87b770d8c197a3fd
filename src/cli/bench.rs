//! Training-speed benchmark on random tokens: the configuration compared with PyTorch.

use candle_core::Tensor;
use rand::Rng;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::experiment::sampling::rng_for;
use crate::model::init::named_parameters;
use crate::model::{CausalLm, Gpt, ModelConfig, SelectedDevice};
use crate::train::loss::cross_entropy;
use crate::train::optimizer::{AdamW, AdamWConfig};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub model: ModelConfig,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub seed: u64,
    /// Write the initial weights, every step's tokens and losses here, for a numerics check
    /// against another implementation (`benches/torch_reference.py --check`).
    pub export: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub steps_per_s: f64,
    pub tokens_per_s: f64,
    pub step_ms: f64,
    pub steps: usize,
    pub warmup: usize,
    pub batch: usize,
    pub threads: usize,
    pub device: String,
    pub parameters: usize,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    pub vocab: usize,
    pub ctx: usize,
    pub final_loss: f32,
}

/// The result in one line, for people.
impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} steps/s, {:.0} tokens/s ({:.1} ms/step) on {}: d_model {}, {} layers, {} heads, vocab {}, ctx {}, batch {}",
            self.steps_per_s,
            self.tokens_per_s,
            self.step_ms,
            self.device,
            self.d_model,
            self.layers,
            self.heads,
            self.vocab,
            self.ctx,
            self.batch
        )
    }
}

/// Trains next-token prediction on random sequences of `ctx` tokens; times only the steps after
/// `warmup` (allocator and thread-pool warm-up).
pub fn bench_train(cfg: &BenchConfig, device: &SelectedDevice) -> candle_core::Result<BenchResult> {
    let m = &cfg.model;
    let (model, varmap) = Gpt::initialized(m, &device.device, cfg.seed)?;
    let opt_cfg = AdamWConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        warmup: 0,
        total_steps: cfg.steps + cfg.warmup,
        min_lr_ratio: 1.0,
        grad_clip: 0.0,
    };
    let mut opt = AdamW::new(named_parameters(&varmap)?, opt_cfg)?;
    if let Some(dir) = &cfg.export {
        std::fs::create_dir_all(dir)?;
        varmap.save(dir.join("init.safetensors"))?;
    }
    let mut all_tokens: Vec<i64> = Vec::new();
    let mut losses: Vec<f32> = Vec::new();
    let mut rng = rng_for(cfg.seed, "bench-tokens");
    let mut final_loss = 0.0;
    let mut timed = None;
    for i in 0..cfg.warmup + cfg.steps {
        if i == cfg.warmup {
            timed = Some(Instant::now());
        }
        // Sequences of ctx + 1 tokens: inputs are the first ctx, targets the last ctx.
        let seq: Vec<u32> = (0..cfg.batch * (m.context + 1)).map(|_| rng.random_range(0..m.vocab as u32)).collect();
        if cfg.export.is_some() {
            all_tokens.extend(seq.iter().map(|&t| i64::from(t)));
        }
        let all = Tensor::from_vec(seq, (cfg.batch, m.context + 1), &device.device)?;
        let inputs = all.narrow(1, 0, m.context)?.contiguous()?;
        let targets = all.narrow(1, 1, m.context)?.flatten_all()?;
        let out = model.forward(&inputs, None, None)?;
        let loss = cross_entropy(&out.logits, &targets)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        final_loss = loss.to_scalar::<f32>()?;
        losses.push(final_loss);
    }
    if let Some(dir) = &cfg.export {
        let steps = cfg.warmup + cfg.steps;
        crate::report::npy::write(&dir.join("tokens.npy"), &[steps, cfg.batch, m.context + 1], &all_tokens)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let meta = serde_json::json!({
            "losses": losses, "d_model": m.d_model, "layers": m.layers, "heads": m.heads, "vocab": m.vocab,
            "ctx": m.context, "d_ff": m.d_ff, "batch": cfg.batch, "lr": opt_cfg.lr, "beta1": opt_cfg.beta1,
            "beta2": opt_cfg.beta2, "eps": opt_cfg.eps, "weight_decay": opt_cfg.weight_decay,
        });
        std::fs::write(dir.join("candle.json"), meta.to_string())?;
    }
    let secs = timed.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0).max(1e-9);
    let steps_per_s = cfg.steps as f64 / secs;
    Ok(BenchResult {
        steps_per_s,
        tokens_per_s: steps_per_s * (cfg.batch * m.context) as f64,
        step_ms: 1000.0 / steps_per_s,
        steps: cfg.steps,
        warmup: cfg.warmup,
        batch: cfg.batch,
        threads: candle_core::utils::get_num_threads(),
        device: device.name.clone(),
        parameters: m.num_parameters(),
        d_model: m.d_model,
        layers: m.layers,
        heads: m.heads,
        vocab: m.vocab,
        ctx: m.context,
        final_loss,
    })
}

/// `clusterscope bench train`'s flags.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Model preset (tiny, small, default); the flags below override it.
    #[arg(long, default_value = "default")]
    pub preset: String,
    #[arg(long)]
    pub d_model: Option<usize>,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub vocab: usize,
    #[arg(long, default_value_t = 64)]
    pub ctx: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// One JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write initial weights, tokens and losses to DIR (numerics check against PyTorch).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}
