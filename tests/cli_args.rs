//! The command line's traps: flags before the subcommand, flags that do nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::fixture;
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

#[test]
fn training_flags_before_train_are_used_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // The tiny spec says 300 steps; --steps before `train` must win over it.
    let assert = bin()
        .args(["--steps", "12", "--device", "cpu", "train", "--headless", "--json", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(v["steps"], 12, "{v}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["total_steps"], 12);
}

#[test]
fn one_flag_twice_with_two_values_is_refused() {
    bin()
        .args(["--steps", "12", "train", "--headless", "--steps", "13"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--steps given twice").and(predicate::str::contains("13")));
    // The same value twice is harmless.
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args(["--steps", "5", "train", "--headless", "--steps", "5", "--device", "cpu", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .success();
}

#[test]
fn training_flags_before_another_command_are_refused() {
    bin()
        .args(["--steps", "10", "show", "sessions/demo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--steps is a training option").and(predicate::str::contains("`show`")));
}

#[test]
fn json_without_headless_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    bin()
        .args(["train", "--json", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--json needs --headless"));
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn resume_conflicts_are_checked_across_both_levels() {
    bin()
        .args(["--seed", "3", "train", "--headless", "--resume", "sessions/demo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--resume cannot be used with --seed"));
}
