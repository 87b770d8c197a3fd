//! The app from the outside: refusing to run without a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::fixture;
use predicates::prelude::*;

#[test]
fn without_a_terminal_the_app_suggests_headless_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    Command::cargo_bin("clusterscope")
        .unwrap()
        .arg("--experiment")
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a terminal").and(predicate::str::contains("train --headless")))
        .stderr(predicate::str::contains("panicked").not());
    assert!(!out.exists(), "nothing is written when the app cannot start");
    Command::cargo_bin("clusterscope")
        .unwrap()
        .args(["replay", "/nonexistent/session"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such session directory"));
}
