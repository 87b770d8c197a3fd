//! What the compare tests share: two tiny sessions made by the real binary, trained once per
//! test binary, that differ in what a comparison must cope with: depth (2 layers and 1), the
//! steps of their checkpoints (0, 30, 60, 90 and 0, 15, 30, 45, 60) and the experiment's name.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

pub struct Sessions {
    _tmp: tempfile::TempDir,
    /// The tiny spec as it is: 2 layers, 90 steps.
    pub deep: PathBuf,
    /// The tiny spec with 1 layer and 4 checkpoints, named `tiny-shallow`: 60 steps.
    pub shallow: PathBuf,
}

pub fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

fn train(spec: &Path, steps: usize, out: &Path) {
    bin()
        .args(["--threads", "1", "train", "--headless", "--device", "cpu", "--steps", &steps.to_string()])
        .arg("--experiment")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

pub fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let tiny = crate::common::fixture("specs/tiny.toml");
        let shallow_spec = tmp.path().join("shallow.toml");
        let text = std::fs::read_to_string(&tiny).unwrap();
        let text = text
            .replace("name = \"tiny\"", "name = \"tiny-shallow\"")
            .replace("preset = \"tiny\"", "preset = \"tiny\"\nlayers = 1")
            .replace("checkpoints = 3", "checkpoints = 4");
        std::fs::write(&shallow_spec, text).unwrap();
        let (deep, shallow) = (tmp.path().join("deep"), tmp.path().join("shallow"));
        train(&tiny, 90, &deep);
        train(&shallow_spec, 60, &shallow);
        Sessions { _tmp: tmp, deep, shallow }
    })
}
