//! End to end: `clusterscope compare` of two tiny sessions in a pseudo-terminal, driven by keys,
//! quitting with `q` (exit 0, the terminal given back).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;
mod compare_support;
mod pty_support;

use std::time::Duration;

use pty_support::Pty;

const LONG: Duration = Duration::from_secs(30);
const LEFT: &str = "\x1b[D";
const DOWN: &str = "\x1b[B";

#[test]
fn compare_answers_keys_and_q_quits_restored() {
    let s = compare_support::sessions();
    let (deep, shallow) = (s.deep.to_str().unwrap(), s.shallow.to_str().unwrap());
    let mut pty = Pty::spawn(&["compare", deep, shallow], 120, 40);
    let screen = pty.wait_for("the compare view", |s| s.contains("compare 2 sessions"), LONG);
    assert!(screen.contains("step 90 (6/6)") && screen.contains("final scores"), "{screen}");
    assert!(screen.contains("step 60 (nearest)"), "the shallow session's nearest checkpoint:\n{screen}");

    pty.send(LEFT);
    pty.wait_for("step 60", |s| s.contains("step 60 (5/6)") && !s.contains("(nearest)"), LONG);
    pty.send(DOWN);
    pty.wait_for("layer 2, clamped", |s| s.contains("layer 2 (of 1: showing 1)"), LONG);
    pty.send("m");
    pty.wait_for("the next curve", |s| s.contains("AMI · seen · layer 2"), LONG);
    pty.send("?");
    pty.wait_for("help", |s| s.contains("Esc or ? closes"), LONG);
    pty.send("?");
    pty.wait_for("help closed", |s| !s.contains("Esc or ? closes"), LONG);
    pty.send("q");
    pty.exits_restored("after q", LONG);
}
