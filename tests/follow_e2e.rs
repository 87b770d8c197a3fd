//! Following end to end, the binary in a pseudo-terminal: `replay` of a session a training
//! process is writing follows it to its end; `sweep ... --view` runs a tiny sweep's points and
//! shows the sweep view at once, a running point opens followed to its end, `q` exits 0 with the
//! terminal restored, and quitting while points run stops them so that a re-run resumes them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;
mod follow_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterscope::session::lock::holder;
use clusterscope::session::SessionDir;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};

const LONG: Duration = Duration::from_secs(120);

/// The binary on a pseudo-terminal, its screen kept by a terminal emulator.
struct Term {
    screen: Arc<Mutex<vt100::Parser>>,
    keys: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Term {
    fn start(args: &[&str]) -> Term {
        let (rows, cols) = (34, 120);
        let pty = native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("clusterscope"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(env!("CARGO_MANIFEST_DIR"));
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let size = |n: u16| std::num::NonZeroU16::new(n).unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(size(rows), size(cols), 0)));
        let (mut output, sink) = (pty.master.try_clone_reader().unwrap(), screen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = output.read(&mut buf) {
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        let keys = pty.master.take_writer().unwrap();
        // Dropping the master would hang up the terminal under the app.
        std::mem::forget(pty.master);
        Term { screen, keys, child }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        assert!(eventually(50, || ok(&self.text())), "no {what}; screen:\n{}", self.text());
        self.text()
    }

    fn key(&mut self, k: &str) {
        self.keys.write_all(k.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    /// Waits for a successful exit with the terminal given back; returns the screen then.
    fn exits_restored(&mut self, when: &str) -> String {
        let mut status = None;
        let exited = eventually(50, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(exited, "{when}: no exit; screen:\n{}", self.text());
        let status = status.unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let parser = self.screen.lock().unwrap();
        let s = parser.screen().contents();
        assert!(status.success(), "{when}: {status:?}; screen:\n{s}");
        assert!(!parser.screen().alternate_screen(), "{when}: still on the alternate screen");
        assert!(!parser.screen().hide_cursor(), "{when}: the cursor is still hidden");
        s
    }
}

/// Whether `ok` comes true within [`LONG`], asked every `ms` milliseconds.
fn eventually(ms: u64, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LONG;
    while !ok() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(ms));
    }
    true
}

/// `sweep` of the tiny spec over two learning rates, `steps` steps a point, into `out`.
fn sweep_args(spec: &Path, out: &Path, steps: usize, jobs: usize) -> Vec<String> {
    let s = |x: &str| x.to_string();
    vec![
        s("--threads"),
        s("1"),
        s("sweep"),
        spec.display().to_string(),
        s("--grid"),
        s("train.lr=1e-3,3e-3"),
        s("--steps"),
        steps.to_string(),
        s("--jobs"),
        jobs.to_string(),
        s("--device"),
        s("cpu"),
        s("--out"),
        out.display().to_string(),
    ]
}

fn with_view(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).chain(["--view"]).collect()
}

/// `sweep ... --view` started in a terminal, in a new directory: the tiny spec with `checkpoints`
/// checkpoints a run (some to follow while a point runs), `steps` a point, `jobs` at a time.
/// Returns the directory (kept while it lives), the sweep's, its arguments without `--view`.
fn viewed_sweep(checkpoints: usize, steps: usize, jobs: usize) -> (tempfile::TempDir, PathBuf, Vec<String>, Term) {
    let dir = tempfile::tempdir().unwrap();
    let spec = follow_support::spec(dir.path(), checkpoints);
    let out = dir.path().join("sw");
    let args = sweep_args(&spec, &out, steps, jobs);
    let term = Term::start(&with_view(&args));
    (dir, out, args, term)
}

#[test]
fn the_view_runs_the_sweep_follows_a_running_point_and_quits_restored() {
    let (_dir, out, args, mut term) = viewed_sweep(20, 1000, 1);
    term.until("sweep view running the points", |s| s.contains("sweep sw") && s.contains("running here"));
    // Point 0 runs first (one job at a time): open it once it has written its manifest.
    let first = SessionDir::new(&out.join("points/p0000"));
    assert!(eventually(20, || first.manifest().exists()), "point 0 never started");
    term.until("point 0 running", |s| s.contains("1 running"));
    // The view reads the sweep every second: until it has seen point 0 start, Enter says so.
    let opened = eventually(1500, || {
        term.key("\r");
        std::thread::sleep(Duration::from_millis(500));
        term.text().contains("FOLLOWING process")
    });
    assert!(opened, "point 0 never opened; screen:\n{}", term.text());
    let s = term.text();
    assert!(s.contains("following process"), "the timeline says it follows:\n{s}");
    term.until("the point's final state", |s| s.contains("REPLAY · finished") && s.contains("step 1,000/1,000"));
    // Back in the sweep view, which sees the rest of the sweep through.
    term.key("q");
    let s = term.until("the sweep finished", |s| s.contains("2 finished") && s.contains("ran all its points"));
    assert!(!s.contains("running here"), "{s}");
    term.key("q");
    let s = term.exits_restored("after q");
    // The summary, as `sweep` prints it, on the restored terminal.
    assert!(s.contains("2 points (2 finished"), "{s}");
    // Run again, the sweep finds every point finished.
    let again = assert_cmd::Command::cargo_bin("clusterscope").unwrap().args(&args).assert().success();
    let said = String::from_utf8_lossy(&again.get_output().stderr).into_owned();
    assert!(said.contains("2 points finished earlier: skipped"), "{said}");
}

#[test]
fn quitting_the_view_stops_the_running_points_and_leaves_them_to_resume() {
    // Far more steps than the test waits for, a checkpoint every 100.
    let (_dir, out, _, mut term) = viewed_sweep(2000, 200_000, 2);
    term.until("both points running", |s| s.contains("2 running"));
    let points = [out.join("points/p0000"), out.join("points/p0001")];
    // A checkpoint each past step 0, so the re-run has something to resume from.
    let saved =
        eventually(50, || points.iter().all(|p| p.join("checkpoints").read_dir().is_ok_and(|d| d.count() >= 2)));
    assert!(saved, "the points made no checkpoints");
    term.key("q");
    let s = term.exits_restored("after q while points run");
    assert!(s.contains("stopped the sweep"), "{s}");
    // Stopped, not left running: nobody holds the points' sessions, and they read as interrupted.
    for p in &points {
        assert_eq!(holder(&SessionDir::new(p)), None, "{} still written", p.display());
    }
    let show =
        assert_cmd::Command::cargo_bin("clusterscope").unwrap().args(["sweep", "show", "--json"]).arg(&out).assert();
    let json: serde_json::Value = serde_json::from_slice(&show.success().get_output().stdout).unwrap();
    let states: Vec<&str> = json["points"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["unfinished", "unfinished"], "{json}");
}

#[test]
fn replay_follows_a_session_a_training_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    let mut training = follow_support::start_training(dir.path(), &out, 1000, 20);
    let mut term = Term::start(&["replay", out.to_str().unwrap()]);
    let s = term.until("the run followed", |s| s.contains("FOLLOWING process"));
    assert!(s.contains(&format!("FOLLOWING process {}", training.id())), "{s}");
    let s = term.until("its final state", |s| s.contains("REPLAY · finished"));
    assert!(s.contains("step 1,000/1,000") && s.contains("finished at step 1000"), "{s}");
    assert!(training.wait().unwrap().success());
    term.key("q");
    term.exits_restored("after q");
}

#[test]
fn sweep_view_without_a_terminal_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let args = sweep_args(&common::fixture("specs/tiny.toml"), &out, 10, 1);
    let run = assert_cmd::Command::cargo_bin("clusterscope").unwrap().args(with_view(&args)).assert().code(2);
    assert!(String::from_utf8_lossy(&run.get_output().stderr).contains("not a terminal"));
    assert!(!out.exists(), "nothing is written when the view cannot start");
}
