//! End to end: the real binary in a pseudo-terminal, training a tiny experiment, driven by keys.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;
mod pty_support;

use common::fixture;
use pty_support::Pty;
use std::io::Write;
use std::time::{Duration, Instant};

const UP: &str = "\x1b[A";
const DOWN: &str = "\x1b[B";
const LEFT: &str = "\x1b[D";

/// The number in the timeline's title, "timeline N checkpoints".
fn checkpoints_on_screen(s: &str) -> usize {
    s.split("timeline ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn the_app_trains_and_answers_keys_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    // Still training when `q` arrives.
    let spec_path = tiny_endless_spec(dir.path());
    let mut pty = Pty::spawn(
        &[
            "--threads",
            "1",
            "--device",
            "cpu",
            "--experiment",
            spec_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        110,
        34,
    );
    let long = Duration::from_secs(60);
    let s =
        pty.wait_for("training with 4+ checkpoints", |s| s.contains("RUNNING") && checkpoints_on_screen(s) >= 4, long);
    assert!(s.contains("layer 2/2"), "opens on the deepest layer:\n{s}");
    assert!(s.contains("following live"));
    assert!(s.contains(out.to_str().unwrap()) || s.contains("session"), "status bar names the session");

    // Up moves towards the embeddings, Down deeper.
    pty.send(UP);
    pty.wait_for("layer 1", |s| s.contains("layer 1/2"), long);
    pty.send(DOWN);
    pty.wait_for("layer 2", |s| s.contains("layer 2/2"), long);
    pty.send(UP);
    pty.wait_for("layer 1 again", |s| s.contains("layer 1/2"), long);

    // Checkpoint back: follow is released and the selected checkpoint is no longer the newest.
    pty.send(LEFT);
    let s = pty.wait_for("follow released", |s| !s.contains("following live"), long);
    let title = s.lines().next().unwrap_or_default().to_string();
    assert!(title.contains("layer 1/2"), "{title}");

    // Help overlay lists the keys; `?` again closes it.
    pty.send("?");
    pty.wait_for("help", |s| s.contains("help") && s.contains("Esc or ? closes"), long);
    pty.send("?");
    pty.wait_for("help closed", |s| !s.contains("Esc or ? closes"), long);

    // All-layers view: one small scatter per layer.
    pty.send("a");
    pty.wait_for("all layers", |s| s.contains("L0  ARI") && s.contains("L1  ARI") && s.contains("L2  ARI"), long);

    // Quit: training stops cleanly, the session is saved, the terminal is restored.
    pty.send("q");
    pty.exits_restored("after q", long);
    let session = clusterscope::session::Session::open(&out).unwrap();
    assert_eq!(session.manifest.status, clusterscope::session::RunStatus::Stopped);
    assert!(session.manifest.reason.as_deref().unwrap_or("").starts_with("stopped by the user at step"));
    assert!(session.snapshots.len() >= 4);
}

#[test]
fn replay_opens_the_demo_session_and_quits() {
    let demo = fixture("../../sessions/demo");
    let mut pty = Pty::spawn(&["replay", demo.to_str().unwrap()], 100, 30);
    let s = pty.wait_for("replay screen", |s| s.contains("REPLAY"), Duration::from_secs(30));
    assert!(s.contains("step 1,200"), "opens on the last checkpoint:\n{s}");
    pty.send("\x1b[H"); // Home: the first checkpoint
    pty.wait_for(
        "first checkpoint",
        |s| s.lines().next().is_some_and(|l| l.contains("step 0 ")),
        Duration::from_secs(10),
    );
    pty.send("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pty.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "replay did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn thousands_of_queued_keys_are_all_read_and_q_still_quits() {
    let demo = fixture("../../sessions/demo");
    let mut pty = Pty::spawn(&["replay", demo.to_str().unwrap()], 100, 30);
    pty.wait_for("replay screen", |s| s.contains("REPLAY"), Duration::from_secs(30));
    // 5,000 arrow keys at once (15,000 bytes): far past the 1,024 bytes that once stalled input.
    // Written from a thread, since a terminal whose reader stalls blocks its writer.
    let burst: String = (0..5000).map(|i| if i % 2 == 0 { LEFT } else { "\x1b[C" }).collect();
    let mut writer = std::mem::replace(&mut pty.writer, Box::new(std::io::sink()));
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        writer.write_all(burst.as_bytes()).unwrap();
        writer.write_all(b"q").unwrap();
        writer.flush().unwrap();
        let _ = done_tx.send(Instant::now());
        // Keep the terminal open until the test ends.
        std::thread::sleep(Duration::from_secs(30));
    });
    let sent = done.recv_timeout(Duration::from_secs(10)).expect("the app stopped reading its input");
    while pty.child.try_wait().unwrap().is_none() {
        let screen = pty.screen();
        assert!(sent.elapsed() < Duration::from_secs(2), "q not handled within 2 s of 5,000 keys; screen:\n{screen}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tiny_endless_spec(dir: &std::path::Path) -> std::path::PathBuf {
    let spec =
        common::tiny_spec().replace("steps = 300", "steps = 500000").replace("checkpoints = 3", "checkpoints = 10000");
    let path = dir.join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    path
}

#[test]
fn termination_signals_stop_the_app_like_q() {
    for (signal, name) in [(libc::SIGTERM, "TERM"), (libc::SIGHUP, "HUP"), (libc::SIGINT, "INT")] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("session");
        let spec = tiny_endless_spec(dir.path());
        let mut pty = Pty::spawn(
            &[
                "--threads",
                "1",
                "--device",
                "cpu",
                "--experiment",
                spec.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            110,
            34,
        );
        let long = Duration::from_secs(60);
        pty.wait_for("training", |s| s.contains("RUNNING") && checkpoints_on_screen(s) >= 2, long);
        let pid = pty.child.process_id().unwrap() as libc::pid_t;
        // SAFETY: a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        pty.exits_restored(&format!("after SIG{name}"), long);
        let session = clusterscope::session::Session::open(&out).unwrap();
        assert_eq!(session.manifest.status, clusterscope::session::RunStatus::Stopped, "SIG{name}");
        let reason = session.manifest.reason.clone().unwrap_or_default();
        assert!(reason.starts_with("stopped by a signal"), "SIG{name}: {reason}");
    }
}

#[test]
fn a_failed_run_shows_failed_and_the_app_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    let spec = dir.path().join("diverge.toml");
    std::fs::write(&spec, common::diverging_spec()).unwrap();
    let mut pty = Pty::spawn(
        &["--threads", "1", "--device", "cpu", "--experiment", spec.to_str().unwrap(), "--out", out.to_str().unwrap()],
        110,
        34,
    );
    let long = Duration::from_secs(60);
    let s = pty.wait_for("the failure", |s| s.contains("FAILED"), long);
    assert!(s.contains("diverged"), "the status bar says why:\n{s}");
    pty.send("q");
    let status = pty.exits("after a failed run", long);
    assert!(!status.success(), "a failed run exits non-zero: {status:?}");
    // Said again on the restored terminal, where it stays in the scrollback.
    let s = pty.screen();
    assert!(s.contains("error:") && s.contains("diverged"), "{s}");
    let session = clusterscope::session::Session::open(&out).unwrap();
    assert_eq!(session.manifest.status, clusterscope::session::RunStatus::Failed);
}

#[test]
fn termination_signals_stop_headless_training_after_a_checkpoint() {
    for (signal, name) in [(libc::SIGTERM, "TERM"), (libc::SIGHUP, "HUP")] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("session");
        let spec = tiny_endless_spec(dir.path());
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clusterscope"))
            .args(["train", "--headless", "--threads", "1", "--device", "cpu", "--experiment"])
            .arg(&spec)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let log = out.join("log.jsonl");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Some steps past the step-0 checkpoint, so the stop has something new to save.
        while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 20 {
            assert!(Instant::now() < deadline, "SIG{name}: training did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let status = child.wait().unwrap();
        assert!(status.success(), "SIG{name}: {status:?}");
        let session = clusterscope::session::Session::open(&out).unwrap();
        assert_eq!(session.manifest.status, clusterscope::session::RunStatus::Stopped, "SIG{name}");
        assert!(session.manifest.reason.as_deref().unwrap_or("").starts_with("stopped by a signal"), "SIG{name}");
        let last = session.snapshots.last().unwrap().step;
        assert!(last >= 20, "SIG{name}: a checkpoint at the step it stopped (got {last})");
    }
}
