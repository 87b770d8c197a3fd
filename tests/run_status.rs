//! How a run ended is on record: failed and stopped runs say why, a killed one reads as
//! interrupted, one killed before its first checkpoint starts again in place, long runs
//! checkpoint by the clock too, and a damaged optimizer file is named on resume.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::session::{RunStatus, Session};
use common::fixture;
use predicates::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

fn show_json(dir: &Path) -> serde_json::Value {
    let out = bin().arg("show").arg(dir).arg("--json").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn show_text(dir: &Path) -> String {
    String::from_utf8(bin().arg("show").arg(dir).assert().success().get_output().stdout.clone()).unwrap()
}

fn headless(spec: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.args(["train", "--headless", "--threads", "1", "--device", "cpu", "--experiment"])
        .arg(spec)
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn a_diverging_run_is_recorded_as_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("diverge.toml");
    std::fs::write(&spec, common::diverging_spec()).unwrap();
    let s = dir.path().join("s");
    headless(&spec, &s).assert().failure().stderr(predicate::str::contains("diverged"));
    let m = Session::open(&s).unwrap().manifest;
    assert_eq!(m.status, RunStatus::Failed);
    assert!(m.reason.as_deref().unwrap().contains("training diverged"), "{:?}", m.reason);
    let j = show_json(&s);
    assert_eq!(j["status"], "failed");
    assert!(j["reason"].as_str().unwrap().contains("diverged"));
    assert_eq!(j["interrupted"], false);
    let text = show_text(&s);
    assert!(text.contains("status FAILED: training step failed: loss became"), "{text}");
    // Failed is not finished: the session can go on from its last checkpoint (and fail again).
    bin().args(["train", "--headless", "--device", "cpu", "--resume"]).arg(&s).assert().failure();
}

#[test]
fn a_stopped_run_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    headless(&fixture("specs/tiny.toml"), &s).args(["--stop-at", "12"]).assert().success();
    let j = show_json(&s);
    assert_eq!(j["status"], "stopped");
    assert_eq!(j["reason"], "stopped at step 12 (--stop-at)");
    assert!(show_text(&s).contains("status stopped: stopped at step 12 (--stop-at)"));
    // Going on clears it.
    bin().args(["train", "--headless", "--device", "cpu", "--steps", "20", "--resume"]).arg(&s).assert().success();
    let j = show_json(&s);
    assert_eq!(j["status"], "finished");
    assert!(j["reason"].is_null());
}

fn endless_spec(dir: &Path, extra: &str) -> std::path::PathBuf {
    let spec = common::tiny_spec()
        .replace("steps = 300", "steps = 1000000000")
        .replace("checkpoints = 3", &format!("checkpoints = 1\n{extra}"));
    let path = dir.join("endless.toml");
    std::fs::write(&path, spec).unwrap();
    path
}

/// Starts headless training and waits until the manifest lists `checkpoints` checkpoints; the
/// caller kills and waits for the process it gets back.
#[allow(clippy::zombie_processes)]
fn train_until(spec: &Path, out: &Path, checkpoints: usize) -> std::process::Child {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
        .args(["train", "--headless", "--threads", "1", "--device", "cpu", "--experiment"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listed = clusterscope::session::reader::read_manifest(out).map_or(0, |m| m.checkpoints.len());
        if listed >= checkpoints {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no {checkpoints} checkpoints within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_run_reads_as_interrupted_and_a_live_one_as_running() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    let mut child = train_until(&endless_spec(dir.path(), ""), &s, 1);
    let j = show_json(&s);
    assert_eq!(j["status"], "running");
    assert_eq!(j["writer"], format!("process {}", child.id()));
    assert_eq!(j["interrupted"], false);
    assert!(show_text(&s).contains(&format!("status running (written by process {})", child.id())));
    child.kill().unwrap();
    child.wait().unwrap();
    let j = show_json(&s);
    assert_eq!(j["status"], "running");
    assert_eq!(j["interrupted"], true);
    assert!(j["writer"].is_null());
    assert!(show_text(&s).contains("status interrupted (no process writes it; `train --resume`"));
}

#[test]
fn long_runs_checkpoint_by_the_clock_as_well_as_by_steps() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    // One checkpoint per 10^9 steps, and one every 0.3 s.
    let mut child = train_until(&endless_spec(dir.path(), "checkpoint_minutes = 0.005"), &s, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    let session = Session::open(&s).unwrap();
    let steps: Vec<usize> = session.snapshots.iter().map(|x| x.step).collect();
    assert!(steps.len() >= 3 && steps[0] == 0 && steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    // And the clock can be turned off, but not set to nonsense.
    let bad = endless_spec(dir.path(), "checkpoint_minutes = -1.0");
    bin()
        .args(["spec", "--experiment"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("train.checkpoint_minutes"));
}

/// A session as a run leaves it when killed before its step-0 checkpoint: the manifest lists
/// nothing and a half-written checkpoint directory lies beside it.
fn killed_before_first_checkpoint(dir: &Path) -> std::path::PathBuf {
    let s = dir.join("s");
    common::make_tiny_session(&s, 6);
    let path = s.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["checkpoints"] = serde_json::json!([]);
    m["resume"] = serde_json::Value::Null;
    m["status"] = "running".into();
    m["train_seconds"] = 0.0.into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    std::fs::remove_dir_all(s.join("checkpoints")).unwrap();
    std::fs::create_dir_all(s.join("checkpoints/step-000000.tmp")).unwrap();
    std::fs::write(s.join("checkpoints/step-000000.tmp/weights.safetensors"), b"half").unwrap();
    s
}

#[test]
fn a_session_killed_before_its_first_checkpoint_starts_again_in_place() {
    for how in ["out", "resume"] {
        let dir = tempfile::tempdir().unwrap();
        let s = killed_before_first_checkpoint(dir.path());
        match how {
            "out" => headless(&fixture("specs/tiny.toml"), &s).args(["--steps", "8"]).assert().success(),
            _ => bin()
                .args(["train", "--headless", "--device", "cpu", "--steps", "8", "--resume"])
                .arg(&s)
                .assert()
                .success(),
        };
        let session = Session::open(&s).unwrap();
        assert_eq!(session.manifest.status, RunStatus::Finished, "{how}");
        assert_eq!(session.snapshots.first().map(|x| x.step), Some(0), "{how}");
        assert_eq!(session.snapshots.last().map(|x| x.step), Some(8), "{how}");
        assert!(!s.join("checkpoints/step-000000.tmp").exists(), "{how}");
    }
    // A session with a checkpoint is still never replaced.
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 6);
    headless(&fixture("specs/tiny.toml"), &s)
        .args(["--steps", "8"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a session already exists here"));
}

#[test]
fn a_damaged_optimizer_file_is_named_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    common::make_tiny_session(&s, 6);
    let opt = s.join("checkpoints/step-000006/optimizer.safetensors");
    let bytes = std::fs::read(&opt).unwrap();
    std::fs::write(&opt, &bytes[..bytes.len() / 2]).unwrap();
    bin()
        .args(["train", "--headless", "--device", "cpu", "--steps", "10", "--resume"])
        .arg(&s)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("step-000006/optimizer.safetensors"));
}

/// Runs `script` in a private mount namespace (so a tmpfs can be mounted without touching the
/// machine's mounts), or says why it cannot.
fn in_mount_namespace(script: &str) -> Result<std::process::Output, String> {
    let probe = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!("unshare cannot mount a tmpfs here: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Err(e) => return Err(format!("no unshare: {e}")),
    }
    std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .output()
        .map_err(|e| e.to_string())
}

fn du(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    total
}

#[test]
fn a_full_disk_fails_the_run_with_the_reason_and_keeps_earlier_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, common::tiny_spec().replace("checkpoints = 3", "checkpoints = 30")).unwrap();
    // The whole run's size, measured, so the tmpfs holds about half of it whatever it weighs.
    let full = dir.path().join("full");
    headless(&spec, &full).args(["--steps", "60"]).assert().success();
    let size = du(&full) / 2 / 4096 * 4096;
    let mnt = dir.path().join("mnt");
    let copy = dir.path().join("copy");
    std::fs::create_dir(&mnt).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("clusterscope");
    let script = format!(
        "mount -t tmpfs -o size={size} tmpfs {mnt} || exit 99; \
         {bin} train --headless --threads 1 --device cpu --steps 60 --experiment {spec} --out {mnt}/s; \
         echo train-exit=$?; {bin} show {mnt}/s; echo show-exit=$?; cp -r {mnt}/s {copy}",
        mnt = mnt.display(),
        bin = bin.display(),
        spec = spec.display(),
        copy = copy.display()
    );
    let out = match in_mount_namespace(&script) {
        Ok(out) => out,
        Err(why) => {
            eprintln!("skipped: no small filesystem to fill ({why})");
            return;
        }
    };
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("train-exit=0") && stdout.contains("train-exit="), "{stdout}\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "one line: {stderr}");
    assert!(stdout.contains("show-exit=0"), "the session still opens: {stdout}\n{stderr}");
    assert!(stdout.contains("status FAILED: ") && stdout.contains("No space left on device"), "{stdout}");
    // The copy taken out of the namespace: every checkpoint it lists is whole.
    let session = Session::open(&copy).unwrap();
    assert_eq!(session.manifest.status, RunStatus::Failed);
    assert!(session.manifest.reason.as_deref().unwrap().contains("No space left on device"));
    assert!(!session.snapshots.is_empty() && session.snapshots.len() < 31, "{}", session.snapshots.len());
    let last = session.snapshots.last().unwrap().step;
    bin_probe(&copy, last);
}

fn bin_probe(dir: &Path, step: usize) {
    bin()
        .arg("probe")
        .arg(dir)
        .args(["do first", "--input", "A", "--checkpoint", &step.to_string()])
        .assert()
        .success();
}
