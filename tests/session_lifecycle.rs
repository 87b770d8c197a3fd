//! Sessions: written as training goes, survive kill -9, resume exactly, reopen with snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::session::format::{LogEntry, RunStatus};
use clusterscope::session::Session;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

#[test]
fn a_finished_run_reopens_with_every_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let summary = make_tiny_session(&out, 120);
    let s = Session::open(&out).unwrap();
    assert_eq!(s.manifest.status, RunStatus::Finished);
    let steps: Vec<usize> = s.snapshots.iter().map(|x| x.step).collect();
    assert_eq!(steps, vec![0, 40, 80, 120], "every steps/checkpoints = 40 steps, plus step 0");
    assert_eq!(s.log.len(), 120, "one log line per step");
    assert_eq!(s.log.last().unwrap().step, 120);
    assert_eq!(s.snapshots.last().unwrap().seen_accuracy, summary.seen_accuracy);
    for snap in &s.snapshots {
        assert_eq!(snap.analysis.layers.len(), 3);
        for l in &snap.analysis.layers {
            assert!(l.error.is_none(), "{:?}", l.error);
            assert_eq!(l.seen_proj.len(), 96);
            assert_eq!(l.unseen_proj.len(), 48);
        }
    }
    // Weights of every checkpoint are kept; optimizer state only for the newest.
    for c in &s.manifest.checkpoints {
        assert!(s.weights_path(c.step).unwrap().exists());
    }
    let with_opt: Vec<_> = s
        .manifest
        .checkpoints
        .iter()
        .filter(|c| out.join("checkpoints").join(&c.dir).join("optimizer.safetensors").exists())
        .collect();
    assert_eq!(with_opt.len(), 1);
    assert_eq!(with_opt[0].step, 120);
    // A second run never overwrites the session.
    bin()
        .args(["train", "--headless", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains("a session already exists"));
    // `show` reads it, as text and as JSON.
    let json = bin().arg("show").arg(&out).arg("--json").assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["checkpoints"].as_array().unwrap().len(), 4);
    assert!(v["checkpoints"][3]["layers"][2]["seen"]["ari"].is_number());
    bin().arg("show").arg(&out).assert().success().stdout(predicates::str::contains("every layer"));
}

fn losses(dir: &std::path::Path) -> Vec<(usize, u32)> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<LogEntry>(l).unwrap())
        .map(|e| (e.step, e.loss.to_bits()))
        .collect()
}

#[test]
fn a_resumed_run_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    let train = |out: &std::path::Path, extra: &[&str]| {
        bin()
            .args(["train", "--headless", "--json", "--device", "cpu", "--steps", "90", "--experiment"])
            .arg(fixture("specs/tiny.toml"))
            .arg("--out")
            .arg(out)
            .args(extra)
            .assert()
            .success()
    };
    train(&whole, &[]);
    // Stop mid-way, off the checkpoint grid, then resume.
    train(&split, &["--stop-at", "37"]);
    let half = Session::open(&split).unwrap();
    assert_eq!(half.manifest.status, RunStatus::Stopped);
    assert_eq!(half.snapshots.last().unwrap().step, 37);
    bin().args(["train", "--headless", "--json", "--device", "cpu", "--resume"]).arg(&split).assert().success();
    let (a, b) = (losses(&whole), losses(&split));
    assert_eq!(a.len(), 90);
    assert_eq!(a, b, "per-step losses must match bit for bit");
    let s = Session::open(&split).unwrap();
    assert_eq!(s.manifest.status, RunStatus::Finished);
    assert_eq!(s.snapshots.last().unwrap().step, 90);
    // Resuming a finished session is refused with a reason.
    bin()
        .args(["train", "--headless", "--resume"])
        .arg(&split)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already trained 90 of 90 steps"));
}

#[test]
fn kill_dash_nine_leaves_a_readable_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    // Many small checkpoints so the kill lands among them.
    let spec = tiny_spec().replace("steps = 300", "steps = 100000").replace("checkpoints = 3", "checkpoints = 2000");
    let spec_path = dir.path().join("spec.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
        .args(["train", "--headless", "--device", "cpu", "--experiment"])
        .arg(&spec_path)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut listed = 0;
    while Instant::now() < deadline {
        if let Ok(m) = clusterscope::session::reader::read_manifest(&out) {
            listed = m.checkpoints.len();
            if listed >= 4 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(listed >= 4, "the run should have written checkpoints");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let s = Session::open(&out).expect("a killed session opens");
    assert!(s.snapshots.len() >= listed, "{} < {listed}", s.snapshots.len());
    assert_eq!(s.manifest.status, RunStatus::Running);
    for c in &s.manifest.checkpoints {
        assert!(s.weights_path(c.step).unwrap().exists());
    }
    // And it resumes from its last complete checkpoint.
    let last = s.snapshots.last().unwrap().step;
    bin()
        .args(["train", "--headless", "--json", "--device", "cpu", "--steps"])
        .arg((last + 20).to_string())
        .arg("--resume")
        .arg(&out)
        .assert()
        .success();
    let again = Session::open(&out).unwrap();
    assert_eq!(again.snapshots.last().unwrap().step, last + 20);
    assert!(!std::fs::read_dir(out.join("checkpoints")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn a_resumed_run_says_where_its_first_new_checkpoint_is() {
    use clusterscope::model::DeviceChoice;
    use clusterscope::train::{spawn, RunConfig, TrainerEvent};
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 30);
    let exp = common::tiny_experiment(None);
    let model = common::model_for(&exp);
    // 60 steps at the tiny spec's 3 checkpoints: every 20, so after step 30 the next is 40.
    let run = RunConfig {
        experiment: exp,
        model,
        device: DeviceChoice::Cpu,
        steps: 60,
        out_dir: s,
        resume: true,
        stop_at: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let h = spawn(run, move |e| tx.send(e).is_ok(), |_| true).unwrap();
    let first = rx.iter().find_map(|e| match e {
        TrainerEvent::Started(info) => Some(info.first_checkpoint),
        TrainerEvent::Failed(f) => panic!("resume failed: {f}"),
        _ => None,
    });
    drop(rx);
    h.thread.join().unwrap();
    assert_eq!(first, Some(40));
}
