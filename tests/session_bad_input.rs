//! Broken sessions: one clear line naming the file, a non-zero exit, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::session::Session;
use common::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn first_snapshot(dir: &Path) -> PathBuf {
    dir.join("checkpoints/step-000000/snapshot.json")
}

/// `show` fails with exit code 2 and a single line naming `file` and `what`.
fn assert_one_line_error(dir: &Path, file: &str, what: &str) {
    let out = Command::cargo_bin("clusterscope").unwrap().arg("show").arg(dir).assert().code(2).get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(file), "{err:?} should name {file}");
    assert!(err.contains(what), "{err:?} should say {what}");
    assert!(!err.contains("panicked"));
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_and_foreign_directories() {
    let tmp = tempfile::tempdir().unwrap();
    assert_one_line_error(&tmp.path().join("nope"), "nope", "no such session directory");
    assert_one_line_error(tmp.path(), &tmp.path().display().to_string(), "not a clusterscope session");
}

#[test]
fn broken_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let manifest = dir.join("manifest.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, "").unwrap();
    assert_one_line_error(&dir, "manifest.json", "file is empty");
    std::fs::write(&manifest, &good[..good.len() / 2]).unwrap();
    assert_one_line_error(&dir, "manifest.json", "truncated JSON");
    std::fs::write(&manifest, "\u{0}\u{1}garbage").unwrap();
    assert_one_line_error(&dir, "manifest.json", "invalid JSON");
    std::fs::write(&manifest, good.replace("\"format_version\":1", "\"format_version\":99")).unwrap();
    assert_one_line_error(&dir, "manifest.json", "format version 99");
    std::fs::write(&manifest, good.replace("clusterscope-session", "something-else")).unwrap();
    assert_one_line_error(&dir, "manifest.json", "not a clusterscope session file");
    std::fs::write(&manifest, good.replace("\"total_steps\":20", "\"total_steps\":\"x\"")).unwrap();
    assert_one_line_error(&dir, "manifest.json", "invalid JSON");
}

/// `show` succeeds and lists step 0 as damaged, naming `file` and `what`.
fn assert_first_damaged(dir: &Path, file: &str, what: &str) {
    let out = Command::cargo_bin("clusterscope").unwrap().arg("show").arg(dir).assert().success().get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("step 0 DAMAGED")).unwrap_or_else(|| panic!("no damage: {text}"));
    assert!(line.contains(file) && line.contains(what), "{line:?} should name {file} and say {what}");
}

#[test]
fn broken_snapshots_damage_their_checkpoint_and_broken_points_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let snap = first_snapshot(&dir);
    let good = std::fs::read(&snap).unwrap();
    std::fs::write(&snap, &good[..good.len() - 100]).unwrap();
    assert_first_damaged(&dir, "step-000000/snapshot.json", "truncated JSON");
    std::fs::remove_file(&snap).unwrap();
    assert_first_damaged(&dir, "step-000000/snapshot.json", "No such file");
    let text = String::from_utf8(good).unwrap();
    std::fs::write(&snap, text.replacen("\"step\":0", "\"step\":5", 1)).unwrap();
    assert_first_damaged(&dir, "step-000000/snapshot.json", "holds step 5");
    std::fs::write(&snap, &text).unwrap();
    let restored = Session::open(&dir).expect("restored snapshot opens again");
    assert!(restored.damaged.is_empty(), "{:?}", restored.damaged);
    std::fs::write(dir.join("points.json"), "[]").unwrap();
    assert_first_damaged(&dir, "step-000000/snapshot.json", "the session has 0 and 0");
    std::fs::remove_file(dir.join("points.json")).unwrap();
    assert_one_line_error(&dir, "points.json", "No such file");
}

#[test]
fn a_crash_truncated_log_line_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let log = dir.join("log.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"step\":21,\"lo");
    std::fs::write(&log, text).unwrap();
    assert_eq!(Session::open(&dir).unwrap().log.len(), 20);
}

/// Byte-level mutations of a valid file: flips, truncations, insertions.
fn mutate(good: &[u8], ops: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = good.to_vec();
    for &(pos, kind, byte) in ops {
        if b.is_empty() {
            break;
        }
        let i = pos % b.len();
        match kind % 3 {
            0 => b[i] = byte,
            1 => b.truncate(i),
            _ => b.insert(i, byte),
        }
    }
    b
}

fn fuzz_cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

proptest! {
    // FUZZ_CASES=N runs a longer fuzz than the suite's default.
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_manifest_never_panics(ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8), raw in proptest::collection::vec(any::<u8>(), 0..64), use_raw in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = fresh_copy(tmp.path());
        let manifest = dir.join("manifest.json");
        let good = std::fs::read(&manifest).unwrap();
        std::fs::write(&manifest, if use_raw { raw } else { mutate(&good, &ops) }).unwrap();
        // Must return (Ok for harmless mutations, Err otherwise), never panic.
        let _ = Session::open(&dir);
    }

    #[test]
    fn fuzz_snapshot_never_panics(ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = fresh_copy(tmp.path());
        let snap = first_snapshot(&dir);
        let good = std::fs::read(&snap).unwrap();
        std::fs::write(&snap, mutate(&good, &ops)).unwrap();
        if let Ok(s) = Session::open(&dir) {
            // Whatever was accepted is still well-formed.
            prop_assert!(clusterscope::session::reader::check_shape(&snap, &s.snapshots[0], 3, 96, 48).is_ok());
        }
    }
}
