//! What the follow tests share: the tiny spec checkpointing often, and a real training process
//! writing a session for them to follow.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clusterscope::session::SessionDir;

/// The tiny spec with `checkpoints` checkpoints a run, written into `dir`, so that a run has
/// some to follow while it goes.
pub fn spec(dir: &Path, checkpoints: usize) -> PathBuf {
    let path = dir.join("spec.toml");
    let tiny = std::fs::read_to_string(crate::common::fixture("specs/tiny.toml")).unwrap();
    std::fs::write(&path, tiny.replace("checkpoints = 3", &format!("checkpoints = {checkpoints}"))).unwrap();
    path
}

/// Starts `clusterscope train --headless` of [`spec`] over `steps` steps into `out`, and waits
/// until it has written the session's manifest.
pub fn start_training(dir: &Path, out: &Path, steps: usize, checkpoints: usize) -> Child {
    let child = Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
        .args(["train", "--headless", "--threads", "1", "--device", "cpu", "--steps", &steps.to_string()])
        .arg("--experiment")
        .arg(spec(dir, checkpoints))
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !SessionDir::new(out).manifest().exists() {
        assert!(Instant::now() < deadline, "the training process wrote no manifest");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}
