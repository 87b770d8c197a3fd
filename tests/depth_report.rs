//! `show` reports the depth profile at the rise: the layers' ARI at the first checkpoint where
//! the deepest layer reaches ARI 0.5, read from a real (tiny) training run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::fixture;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

#[test]
fn show_prints_the_depth_at_the_rise_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    bin()
        .args(["--threads", "1", "train", "--headless", "--device", "cpu", "--steps", "200", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let json = bin().arg("show").arg(&out).arg("--json").assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let d = &v["depth_at_rise"];
    assert_eq!(d["threshold"], 0.5);
    let layers = d["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "embeddings and two blocks: {d}");

    // The same checkpoint, found again from the per-checkpoint scores in the same JSON.
    let ari = |c: &serde_json::Value, l: usize| c["layers"][l]["seen"]["ari"].as_f64().unwrap();
    let checkpoints = v["checkpoints"].as_array().unwrap();
    let first = checkpoints.iter().find(|c| ari(c, 2) >= 0.5);
    match first {
        Some(c) => assert_eq!(d["step"], c["step"], "{d}"),
        None => assert!(d["step"].is_null(), "{d}"),
    }
    let shown = checkpoints.iter().find(|c| c["step"] == d["shown_step"]).unwrap();
    for (l, layer) in layers.iter().enumerate() {
        assert_eq!(layer["layer"], l);
        assert_eq!(layer["seen"].as_f64().unwrap(), ari(shown, l));
    }
    let gain = d["deepest_minus_first_block"].as_f64().unwrap();
    assert!((gain - (ari(shown, 2) - ari(shown, 1))).abs() < 1e-12);

    let text = bin().arg("show").arg(&out).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("depth at the rise: "), "{text}");
    assert!(text.contains("  layer   seen ARI  unseen ARI"), "{text}");
    assert!(text.contains("deepest block - first block: "), "{text}");
}
