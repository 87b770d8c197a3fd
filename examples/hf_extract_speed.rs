//! Hidden-state extraction speed of a pretrained model: every layer at every position of a
//! batch of prompts, as analysis reads them. One JSON line, like scripts/hf_extract_speed.py's
//! transformers side, which also writes the model directory and the prompts this reads:
//!
//!     RAYON_NUM_THREADS=2 cargo run --example hf_extract_speed -- DIR [REPS]
//!
//! DIR holds a Hugging Face checkout and `prompts.json` ({"ids": [[u32; T]; B]}).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clusterscope::model::pretrained::{LoadOptions, Pretrained};
use clusterscope::model::CausalLm;

#[derive(serde::Deserialize)]
struct Prompts {
    ids: Vec<Vec<u32>>,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else { bail!("usage: hf_extract_speed DIR [REPS]") };
    let reps: usize = args.next().map(|r| r.parse()).transpose().context("REPS must be a whole number")?.unwrap_or(3);
    // As the app does at startup.
    clusterscope::alloc::keep_freed_memory();
    let model = Pretrained::load(&dir, &LoadOptions::default())?;
    let text = std::fs::read_to_string(dir.join("prompts.json")).context("prompts.json")?;
    let prompts: Prompts = serde_json::from_str(&text).context("prompts.json")?;
    let (b, t) = (prompts.ids.len(), prompts.ids.first().map_or(0, Vec::len));
    let tokens = Tensor::from_vec(prompts.ids.concat(), (b, t), &Device::Cpu)?;
    let all = Tensor::from_vec((0..(b * t) as u32).collect::<Vec<_>>(), b * t, &Device::Cpu)?;
    let last = Tensor::from_vec((0..b).map(|i| (i * t + t - 1) as u32).collect::<Vec<_>>(), b, &Device::Cpu)?;
    let run = || model.forward(&tokens, Some(&last), Some(&all));
    run()?; // warm-up: page the mapped weights in
    let start = Instant::now();
    for _ in 0..reps {
        let out = run()?;
        // Reading the hidden states out is part of extraction.
        let _: Vec<Vec<f32>> = out.hidden.last().context("no hidden states")?.to_vec2()?;
    }
    let secs = start.elapsed().as_secs_f64();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "{{\"impl\": \"clusterscope\", \"tokens_per_s\": {:.1}, \"batch\": {b}, \"tokens\": {t}, \"reps\": {reps}, \"threads\": \"{threads}\", \"layers\": {}}}",
        (reps * b * t) as f64 / secs,
        model.hidden_layers()
    );
    Ok(())
}
