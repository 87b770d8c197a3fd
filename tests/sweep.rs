//! Sweeps through the real binary: a grid run here, taken up again after a kill, a point claimed
//! twice, and the same sweep as a job array on a real single-node Slurm.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::fixture;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

fn show(dir: &Path) -> serde_json::Value {
    show_with(dir, None)
}

/// `sweep show --json`, with `SLURM_CONF` set where a test runs its own Slurm.
fn show_with(dir: &Path, slurm_conf: Option<&str>) -> serde_json::Value {
    let mut c = bin();
    if let Some(conf) = slurm_conf {
        c.env("SLURM_CONF", conf);
    }
    let out = c.args(["sweep", "show"]).arg(dir).arg("--json").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn states(summary: &serde_json::Value) -> Vec<String> {
    summary["points"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap().to_string()).collect()
}

fn sweep(out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("--threads").arg("1").arg("sweep").arg(fixture("specs/tiny.toml"));
    c.args(["--grid", "train.lr=1e-3,3e-3", "--seeds", "2", "--device", "cpu", "--out"]).arg(out).args(extra);
    c
}

#[test]
fn a_grid_runs_here_and_a_second_run_skips_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let run = sweep(&out, &["--steps", "12", "--jobs", "2", "--json"]).assert().success();
    let printed: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let s = show(&out);
    assert_eq!(printed["points"], s["points"], "the run's summary is what show says");
    assert_eq!(s["grid"]["train.lr"], serde_json::json!(["1e-3", "3e-3"]));
    assert_eq!(states(&s), ["finished"; 4]);
    let points = s["points"].as_array().unwrap();
    let seeds: Vec<u64> = points.iter().map(|p| p["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, [1, 2, 1, 2]);
    for p in points {
        for k in ["seen_accuracy", "unseen_accuracy", "final_ari"] {
            assert!(p["metrics"][k].is_number(), "{k} in {p}");
        }
        assert_eq!(p["metrics"]["step"], 12);
        // Each point is an ordinary session with its own values in its spec.
        let session = clusterscope::session::Session::open(&out.join(p["dir"].as_str().unwrap())).unwrap();
        let lr: f64 = p["params"]["train.lr"].as_str().unwrap().parse().unwrap();
        assert_eq!(session.experiment().unwrap().spec.train.lr, lr);
    }
    let text =
        String::from_utf8(bin().args(["sweep", "show"]).arg(&out).assert().success().get_output().stdout.clone())
            .unwrap();
    assert!(text.contains("4 points (4 finished") && text.contains("train.lr=3e-3 seed=2"), "{text}");
    // Again: nothing to do.
    let before = std::fs::metadata(out.join("points/p0000/manifest.json")).unwrap().modified().unwrap();
    sweep(&out, &["--steps", "12"]).assert().success().stderr(predicate::str::contains("4 points finished earlier"));
    assert_eq!(std::fs::metadata(out.join("points/p0000/manifest.json")).unwrap().modified().unwrap(), before);
    // Another grid into the same directory is refused; so are bad grids and specs, before any work.
    sweep(&out, &["--steps", "13"]).assert().code(2).stderr(predicate::str::contains("holds a different sweep"));
    let fresh = dir.path().join("fresh");
    for (grid, says) in [
        ("train.lr=-1", "train.lr = -1: must be a positive number"),
        ("lr", "expected KEY=V1,V2"),
        ("model.preset=huge", "unknown preset"),
    ] {
        bin()
            .args(["sweep"])
            .arg(fixture("specs/tiny.toml"))
            .args(["--grid", grid, "--out"])
            .arg(&fresh)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
        assert!(!fresh.exists(), "nothing written for {grid}");
    }
}

#[test]
fn a_killed_sweep_run_again_resumes_its_interrupted_point() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"));
    cmd.args(["--threads", "1", "sweep"]).arg(fixture("specs/tiny.toml"));
    cmd.args(["--grid", "train.lr=1e-3,3e-3", "--device", "cpu", "--steps", "300", "--jobs", "1", "--out"]).arg(&out);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    // Its own process group, so the kill takes the points' processes too, as a dying shell would.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    let first = out.join("points/p0000");
    let deadline = Instant::now() + Duration::from_secs(120);
    while clusterscope::session::reader::read_manifest(&first).map_or(0, |m| m.checkpoints.len()) < 2 {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("point 0 made no checkpoint in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to the process group this test started.
    assert_eq!(unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) }, 0);
    child.wait().unwrap();
    let kept: Vec<usize> =
        clusterscope::session::reader::read_manifest(&first).unwrap().checkpoints.iter().map(|c| c.step).collect();
    let s = show(&out);
    assert_ne!(s["points"][0]["state"], "finished");
    bin()
        .args(["--threads", "1", "sweep"])
        .arg(fixture("specs/tiny.toml"))
        .args(["--grid", "train.lr=1e-3,3e-3", "--device", "cpu", "--steps", "300", "--jobs", "1", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(states(&show(&out)), ["finished"; 2]);
    let after: Vec<usize> =
        clusterscope::session::reader::read_manifest(&first).unwrap().checkpoints.iter().map(|c| c.step).collect();
    assert!(kept.iter().all(|s| after.contains(s)), "resumed, not restarted: {kept:?} then {after:?}");
    assert_eq!(after.last(), Some(&300));
}

#[test]
fn a_point_claimed_twice_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    sweep(&out, &["--steps", "6", "--slurm", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("#SBATCH --array=0-3"));
    assert!(!out.exists(), "a dry run writes nothing");
    sweep(&out, &["--steps", "6"]).assert().success();
    std::fs::remove_dir_all(out.join("points/p0001")).unwrap();
    let held =
        clusterscope::session::SessionLock::acquire(&clusterscope::session::SessionDir::new(&out.join("points/p0001")))
            .unwrap();
    bin()
        .args(["sweep", "run-point"])
        .arg(&out)
        .args(["--index", "1", "--device", "cpu"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is being written by process"));
    drop(held);
    bin().args(["sweep", "run-point"]).arg(&out).args(["--index", "1", "--device", "cpu"]).assert().success();
    bin()
        .args(["sweep", "run-point"])
        .arg(&out)
        .args(["--index", "9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no point 9 (the sweep has 4)"));
    assert_eq!(states(&show(&out)), ["finished"; 4]);
}

/// A single-node Slurm started for one test and stopped when it ends.
struct LocalSlurm {
    dir: PathBuf,
    conf: String,
}

impl LocalSlurm {
    fn start(dir: &Path) -> Result<LocalSlurm, String> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh");
        let out = std::process::Command::new(&script).arg("up").arg(dir).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(LocalSlurm { dir: dir.to_path_buf(), conf: dir.join("slurm.conf").display().to_string() })
    }
}

impl Drop for LocalSlurm {
    fn drop(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh");
        let _ = std::process::Command::new(script).arg("down").arg(&self.dir).status();
    }
}

#[test]
fn a_sweep_runs_as_a_slurm_job_array() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = match LocalSlurm::start(&dir.path().join("slurm")) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: no local Slurm ({why})");
            return;
        }
    };
    let out = dir.path().join("sw");
    let submitted = sweep(&out, &["--steps", "8", "--slurm", "--sbatch-arg=--time=10"])
        .env("SLURM_CONF", &slurm.conf)
        .assert()
        .success()
        .stderr(predicate::str::contains("submitted slurm job"));
    let said = String::from_utf8_lossy(&submitted.get_output().stderr).to_string();
    let script = std::fs::read_to_string(out.join("sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3") && script.contains("sweep run-point"), "{script}");
    let deadline = Instant::now() + Duration::from_secs(180);
    let summary = loop {
        let s = show_with(&out, Some(&slurm.conf));
        if states(&s).iter().all(|st| st == "finished") {
            break s;
        }
        assert!(Instant::now() < deadline, "not all points finished on Slurm in 180 s: {s}\n{said}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let job = summary["slurm_jobs"][0].as_str().unwrap().to_string();
    assert!(said.contains(&job), "{said}");
    // Slurm's own word on each array task, next to the point's: squeue still knows finished
    // tasks for a few minutes; a task can be finishing just after its session says finished.
    let summary = loop {
        let s = show_with(&out, Some(&slurm.conf));
        let slurm: Vec<&str> =
            s["points"].as_array().unwrap().iter().map(|p| p["slurm_state"].as_str().unwrap_or("")).collect();
        if slurm.iter().all(|st| *st == "COMPLETED") {
            break s;
        }
        assert!(slurm.iter().all(|st| ["COMPLETED", "COMPLETING", "RUNNING"].contains(st)), "{slurm:?}");
        assert!(Instant::now() < deadline, "slurm did not say COMPLETED for every task: {slurm:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let text = String::from_utf8(
        bin()
            .args(["sweep", "show"])
            .arg(&out)
            .env("SLURM_CONF", &slurm.conf)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(text.contains("slurm") && text.matches("COMPLETED").count() == 4, "{text}");
    for p in summary["points"].as_array().unwrap() {
        assert_eq!(p["metrics"]["step"], 8);
        let log = out.join(format!("points/slurm-{job}_{}.out", p["index"]));
        assert!(log.exists(), "each array task wrote its log: {}", log.display());
    }
    // The points are the sessions a local run makes: the same seeds, the same numbers.
    let local = dir.path().join("local");
    sweep(&local, &["--steps", "8"]).assert().success();
    let here = show(&local);
    for (a, b) in summary["points"].as_array().unwrap().iter().zip(here["points"].as_array().unwrap()) {
        assert_eq!(a["metrics"], b["metrics"], "slurm and local agree");
    }
}
