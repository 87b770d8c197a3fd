//! Sessions never touch what is not theirs, manifests cannot point outside the session, and a
//! resume carries on exactly where the run was (steps, device, PCA signs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::session::Session;
use common::fixture;
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

fn train(out: &std::path::Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args(["train", "--headless", "--json", "--device", "cpu", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

#[test]
fn out_into_a_directory_of_other_files_is_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("D");
    std::fs::create_dir_all(d.join("checkpoints/step-000000")).unwrap();
    std::fs::write(d.join("checkpoints/step-000000/mine.txt"), "x").unwrap();
    std::fs::write(d.join("log.jsonl"), "keep").unwrap();
    train(&d, &["--steps", "6"]).code(2).stderr(predicate::str::contains("not empty and not a clusterscope session"));
    assert_eq!(std::fs::read_to_string(d.join("checkpoints/step-000000/mine.txt")).unwrap(), "x");
    assert_eq!(std::fs::read_to_string(d.join("log.jsonl")).unwrap(), "keep");
    // An empty directory is fine.
    let empty = dir.path().join("E");
    std::fs::create_dir(&empty).unwrap();
    train(&empty, &["--steps", "6"]).success();
}

#[test]
fn names_that_are_empty_or_leave_sessions_are_refused() {
    for name in ["", "  ", "..", "../../x", "a/b"] {
        bin()
            .args(["train", "--headless", "--steps", "1", "--name", name])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("a session name is one directory name"));
    }
}

fn with_manifest_edit(edit: impl Fn(&mut serde_json::Value)) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 30);
    let path = s.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    (dir, s)
}

#[test]
fn manifest_paths_outside_the_session_are_refused() {
    for bad in ["../../../../../etc", "/etc", "step-000010/../../x"] {
        let (_d, s) = with_manifest_edit(|m| m["checkpoints"][1]["dir"] = bad.into());
        bin().arg("show").arg(&s).assert().code(2).stderr(
            predicate::str::contains("outside the session's checkpoints/")
                .and(predicate::str::contains("manifest.json")),
        );
    }
    // A checkpoint directory that is a link out of the session: that checkpoint is damaged,
    // and nothing in it is read.
    let (d, s) = with_manifest_edit(|_| {});
    let outside = d.path().join("elsewhere");
    std::fs::rename(s.join("checkpoints/step-000010"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, s.join("checkpoints/step-000010")).unwrap();
    bin()
        .arg("show")
        .arg(&s)
        .assert()
        .success()
        .stdout(predicate::str::contains("step 10 DAMAGED").and(predicate::str::contains("outside the session")));
    bin()
        .arg("probe")
        .arg(&s)
        .args(["do first", "--input", "A", "--checkpoint", "10"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("outside the session"));
}

#[test]
fn last_checkpoint_is_the_highest_step_whatever_the_manifest_order() {
    let (d, s) = with_manifest_edit(|m| m["checkpoints"].as_array_mut().unwrap().reverse());
    let out = d.path().join("x");
    bin()
        .arg("export")
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("checkpoint step 30"));
}

#[test]
fn resume_carries_steps_device_and_pca_signs_on() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    train(&whole, &["--steps", "90"]).success();
    // Stopped on the checkpoint grid (every 30 steps), so both runs checkpoint the same steps.
    train(&split, &["--steps", "90", "--stop-at", "60"]).success();
    bin().args(["--threads", "1", "train", "--headless", "--device", "cpu", "--resume"]).arg(&split).assert().success();
    let (a, b) = (Session::open(&whole).unwrap(), Session::open(&split).unwrap());
    assert!(b.manifest.device.contains("1 thread"), "{}", b.manifest.device);
    let (la, lb) = (a.snapshots.last().unwrap(), b.snapshots.last().unwrap());
    assert_eq!(la.step, 90);
    assert_eq!(lb.step, 90);
    for (x, y) in la.analysis.layers.iter().zip(&lb.analysis.layers) {
        assert_eq!(x.pca.components, y.pca.components, "layer {}: PCA axes as in the uninterrupted run", x.layer);
        assert_eq!(x.seen_proj, y.seen_proj);
    }
    bin()
        .args(["train", "--headless", "--resume"])
        .arg(&split)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already trained 90 of 90 steps"));
    // Training further than the run first meant: the manifest says so, and a plain resume
    // afterwards knows the run is complete.
    let short = dir.path().join("short");
    train(&short, &["--steps", "6"]).success();
    bin().args(["train", "--headless", "--device", "cpu", "--steps", "9", "--resume"]).arg(&short).assert().success();
    let s = Session::open(&short).unwrap();
    assert_eq!(s.manifest.total_steps, 9, "a larger --steps on resume is recorded");
    assert_eq!(s.snapshots.last().unwrap().step, 9);
    bin()
        .args(["train", "--headless", "--resume"])
        .arg(&short)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already trained 9 of 9 steps"));
}

fn manifest_of(dir: &std::path::Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()
}

#[test]
fn a_session_being_written_is_refused_to_a_second_writer_and_freed_when_its_writer_dies() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
        .args(["train", "--headless", "--device", "cpu", "--steps", "1000000", "--experiment"])
        .arg(fixture("specs/tiny.toml"))
        .arg("--out")
        .arg(&s)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until its step-0 checkpoint is on disk, so there is something to resume.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while manifest_of(&s).is_none_or(|m| m["resume"].is_null()) {
        assert!(std::time::Instant::now() < deadline, "the first run never saved a checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log_before = std::fs::read_to_string(s.join("log.jsonl")).unwrap();
    bin()
        .args(["train", "--headless", "--device", "cpu", "--steps", "2000000", "--resume"])
        .arg(&s)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("is being written by process {}", first.id())));
    let log_after = std::fs::read_to_string(s.join("log.jsonl")).unwrap();
    assert!(log_after.starts_with(&log_before), "the refused resume rewrote nothing");
    // A writer killed outright leaves its lock file behind; the next writer takes it over.
    first.kill().unwrap();
    first.wait().unwrap();
    let done = manifest_of(&s).unwrap()["resume"]["step"].as_u64().unwrap();
    bin()
        .args(["train", "--headless", "--device", "cpu", "--resume"])
        .arg(&s)
        .args(["--steps", &(done + 2).to_string()])
        .assert()
        .success();
    assert_eq!(Session::open(&s).unwrap().snapshots.last().unwrap().step as u64, done + 2);
}

#[test]
fn two_runs_started_together_on_one_directory_leave_one_whole_session() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s");
        let start = |seed: &str| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
                .args(["train", "--headless", "--device", "cpu", "--steps", "20", "--seed", seed, "--experiment"])
                .arg(fixture("specs/tiny.toml"))
                .arg("--out")
                .arg(&s)
                .output()
        };
        let (a, b) = std::thread::scope(|sc| {
            let a = sc.spawn(|| start("7").unwrap());
            let b = sc.spawn(|| start("9").unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        let wins = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "round {round}: exactly one run writes the session");
        let loser = if a.status.success() { &b } else { &a };
        let err = String::from_utf8_lossy(&loser.stderr);
        assert!(err.contains("is being written by") || err.contains("already exists"), "round {round}: {err}");
        let seed = if a.status.success() { 7 } else { 9 };
        let session = Session::open(&s).unwrap();
        assert_eq!(session.manifest.seed, seed, "round {round}");
        let out = dir.path().join("x");
        bin().arg("export").arg(&s).arg("--out").arg(&out).assert().success();
    }
}

#[test]
fn weights_are_as_readable_as_the_rest_of_the_session() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 10);
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(s.join("checkpoints/step-000010/weights.safetensors")), 0o644);
    assert_eq!(mode(s.join("checkpoints/step-000010/optimizer.safetensors")), 0o644);
}

#[test]
fn control_characters_in_a_session_are_shown_escaped() {
    let (_d, s) = with_manifest_edit(|m| m["task_names"][0] = "evil\u{1b}[2J".into());
    let out = bin().arg("show").arg(&s).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("evil\\u{1b}[2J"), "{text}");
}

#[test]
fn model_errors_are_one_line_even_with_rust_backtrace_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 10);
    let weights = s.join("checkpoints/step-000010/weights.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let out = bin()
        .env("RUST_BACKTRACE", "1")
        .arg("probe")
        .arg(&s)
        .args(["do first", "--input", "A", "--checkpoint", "10"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("weights.safetensors"), "{err}");
}
