//! Shared helpers for integration tests.
#![allow(dead_code)]

use clusterscope::experiment::Experiment;
use clusterscope::model::{DeviceChoice, ModelConfig};
use clusterscope::train::Trainer;
use std::path::PathBuf;
use std::sync::Arc;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn tiny_spec() -> String {
    std::fs::read_to_string(fixture("specs/tiny.toml")).expect("tiny spec fixture")
}

pub fn tiny_experiment(seed: Option<u64>) -> Arc<Experiment> {
    Arc::new(Experiment::from_toml(&tiny_spec(), seed).expect("tiny spec is valid"))
}

pub fn model_for(exp: &Experiment) -> ModelConfig {
    ModelConfig::from_spec(&exp.spec.model, exp.tokenizer.len(), exp.max_sequence_len).expect("model config")
}

pub fn tiny_trainer(seed: Option<u64>) -> Trainer {
    let exp = tiny_experiment(seed);
    let cfg = model_for(&exp);
    let steps = exp.spec.train.steps;
    Trainer::new(exp, cfg, DeviceChoice::Cpu.open().expect("cpu"), steps).expect("trainer")
}
