//! Shared helpers for integration tests.
#![allow(dead_code)]

use clusterscope::experiment::Experiment;
use clusterscope::model::{DeviceChoice, ModelConfig};
use clusterscope::train::Trainer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn tiny_spec() -> String {
    std::fs::read_to_string(fixture("specs/tiny.toml")).expect("tiny spec fixture")
}

/// The tiny spec with a learning rate that makes the loss overflow within a few steps.
pub fn diverging_spec() -> String {
    tiny_spec().replace("lr = 3e-3", "lr = 1e30").replace("warmup = 20", "warmup = 0")
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

/// Trains the tiny spec into a new session at `dir` through the real worker thread.
pub fn make_tiny_session(dir: &std::path::Path, steps: usize) -> clusterscope::record::Summary {
    use clusterscope::train::{spawn, AnalyserEvent, RunConfig, TrainerEvent};
    let exp = tiny_experiment(None);
    let model = model_for(&exp);
    let run = RunConfig {
        experiment: exp,
        model,
        device: DeviceChoice::Cpu,
        steps,
        out_dir: dir.to_path_buf(),
        resume: false,
        stop_at: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let failures = tx.clone();
    let h = spawn(
        run,
        move |e| tx.send(e).is_ok(),
        move |e| match e {
            AnalyserEvent::Failed(f) => failures.send(TrainerEvent::Failed(f)).is_ok(),
            AnalyserEvent::Checkpoint(_) => true,
        },
    )
    .unwrap();
    let mut summary = None;
    for e in rx {
        match e {
            TrainerEvent::Failed(e) => panic!("training failed: {e}"),
            TrainerEvent::Finished(s) => summary = Some(s),
            _ => {}
        }
    }
    h.thread.join().unwrap();
    summary.expect("a summary")
}

/// One good session (20 steps of the tiny spec), trained once per test binary, for tests to copy
/// and damage.
pub fn pristine() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = DIR.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("good");
        make_tiny_session(&p, 20);
        (t, p)
    });
    p
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A fresh copy of [`pristine`] in `tmp`.
pub fn fresh_copy(tmp: &Path) -> PathBuf {
    let p = tmp.join("copy");
    copy_dir(pristine(), &p);
    p
}
