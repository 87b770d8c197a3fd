//! The real binary: headless training and its errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::fixture;
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

#[test]
fn headless_training_prints_a_json_summary_and_saves_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let assert = bin()
        .args(["train", "--headless", "--json", "--device", "cpu", "--steps", "120", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    for key in ["steps", "seconds", "loss", "seen_accuracy", "unseen_accuracy", "device"] {
        assert!(v.get(key).is_some(), "summary lacks {key}: {v}");
    }
    assert_eq!(v["steps"], 120);
    assert!(v["device"].as_str().unwrap().starts_with("cpu"));
    assert!(v["loss"].as_f64().unwrap() < 1.2);
    let ckpts: Vec<_> = std::fs::read_dir(out.join("checkpoints")).unwrap().collect();
    assert!(ckpts.len() >= 3, "step 0, periodic and final checkpoints: {}", ckpts.len());
}

#[test]
fn bad_spec_fails_with_one_clear_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.toml");
    let text = common::tiny_spec().replace("\"apply first rule\"", "\"apply first+ rule\"");
    std::fs::write(&spec, text).unwrap();
    bin()
        .args(["train", "--headless", "--json", "--experiment"])
        .arg(&spec)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("tasks[0].instructions[1]").and(predicate::str::contains("unbounded repetition")),
        )
        .stderr(predicate::function(|s: &str| s.trim().lines().count() == 1))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn missing_spec_file_and_bad_device_are_usage_errors() {
    bin()
        .args(["train", "--headless", "--experiment", "/nonexistent/spec.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/spec.toml"));
    bin()
        .args(["train", "--headless", "--device", "tpu"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown device \"tpu\""));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn asking_for_cuda_without_cuda_support_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args(["train", "--headless", "--device", "cuda", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("no CUDA support").and(predicate::str::contains("--features cuda")));
}

#[test]
fn bench_train_prints_one_json_line() {
    let out = bin()
        .args([
            "bench",
            "train",
            "--preset",
            "tiny",
            "--vocab",
            "16",
            "--ctx",
            "8",
            "--batch",
            "4",
            "--steps",
            "3",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--json",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(v["steps_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["threads"], 1);
}
