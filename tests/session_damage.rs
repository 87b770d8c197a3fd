//! Damaged checkpoints, through the binary: a session opens with what is intact and marks the
//! rest, a checkpoint that is damaged is refused by name, silent corruption (a flipped bit, a NaN)
//! is caught, `check` verifies everything, and nothing blocks on a FIFO.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use common::{copy_dir, fresh_copy};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The checkpoints of the shared session: 20 steps, one checkpoint every 6.
const STEPS: [usize; 5] = [0, 6, 12, 18, 20];

fn bin() -> Command {
    let mut c = Command::cargo_bin("clusterscope").unwrap();
    // A FIFO read without care blocks forever: a test fails instead.
    c.timeout(Duration::from_secs(120));
    c
}

fn ckpt(dir: &Path, step: usize) -> PathBuf {
    dir.join(format!("checkpoints/step-{step:06}"))
}

/// What a command printed, and its exit code.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], dir: &Path, rest: &[&str]) -> Ran {
    let out = bin().args(args).arg(dir).args(rest).output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn probe(dir: &Path, step: usize) -> Ran {
    run(&["probe"], dir, &["do first", "--input", "A", "--checkpoint", &step.to_string()])
}

fn export(dir: &Path, step: usize) -> Ran {
    let out = dir.with_extension(format!("export-{step}"));
    run(&["export"], dir, &["--checkpoint", &step.to_string(), "--out", out.to_str().unwrap()])
}

fn check(dir: &Path) -> Ran {
    run(&["check"], dir, &[])
}

/// Exit 2 and one line on stderr that names `file` and says `what`.
fn assert_refused(r: &Ran, file: &str, what: &str) {
    assert_eq!(r.code, Some(2), "stdout {:?} stderr {:?}", r.stdout, r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {:?}", r.stderr);
    assert!(r.stderr.contains(file), "{:?} should name {file}", r.stderr);
    assert!(r.stderr.contains(what), "{:?} should say {what}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}

fn assert_ok(r: &Ran) {
    assert_eq!(r.code, Some(0), "stdout {:?} stderr {:?}", r.stdout, r.stderr);
}

/// `check` exits 2 with a problem line naming `file` and saying `what`, then a summary.
fn assert_check_finds(dir: &Path, file: &str, what: &str) {
    let r = check(dir);
    assert_eq!(r.code, Some(2), "{:?} {:?}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.iter().any(|l| l.contains(file) && l.contains(what)), "{file} / {what} in {lines:?}");
    assert!(lines.last().unwrap().contains("damaged:"), "{lines:?}");
}

/// `show` exits 0 and lists exactly `steps` as damaged, in text and in JSON, each naming `file`.
fn assert_shown_damaged(dir: &Path, steps: &[usize], file: &str) {
    let text = run(&["show"], dir, &[]);
    assert_ok(&text);
    let lines: Vec<&str> = text.stdout.lines().filter(|l| l.contains("DAMAGED")).collect();
    assert_eq!(lines.len(), steps.len(), "{}", text.stdout);
    for (line, step) in lines.iter().zip(steps) {
        assert!(line.contains(&format!("step {step} DAMAGED")) && line.contains(file), "{line}");
    }
    let json = run(&["show", "--json"], dir, &[]);
    assert_ok(&json);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let damaged = v["damaged"].as_array().unwrap();
    let found: Vec<u64> = damaged.iter().map(|d| d["step"].as_u64().unwrap()).collect();
    assert_eq!(found, steps.iter().map(|&s| s as u64).collect::<Vec<_>>());
    assert!(damaged.iter().all(|d| d["file"].as_str().unwrap().contains(file) && d["reason"].is_string()));
    let shown: Vec<u64> = v["checkpoints"].as_array().unwrap().iter().map(|c| c["step"].as_u64().unwrap()).collect();
    assert_eq!(shown.len() + steps.len(), STEPS.len(), "the intact ones are all shown: {shown:?}");
}

/// Checkpoint `step`, and only it, is damaged (`file`, `what`): `show` lists it, `export` and
/// `probe` of checkpoint `other` work and of it are refused, `check` finds it.
fn assert_only_damaged(dir: &Path, step: usize, other: usize, file: &str, what: &str) {
    assert_shown_damaged(dir, &[step], file);
    assert_ok(&export(dir, other));
    assert_ok(&probe(dir, other));
    for r in [export(dir, step), probe(dir, step)] {
        assert_refused(&r, file, what);
        assert!(r.stderr.contains(&format!("checkpoint {step} is damaged")), "{}", r.stderr);
    }
    assert_check_finds(dir, file, what);
}

/// Rewrites the session's manifest with `edit` applied.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
}

#[test]
fn an_intact_session_checks_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let r = check(&dir);
    assert_ok(&r);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("intact (5 checkpoints"), "{}", r.stdout);
    assert!(!r.stdout.contains("without a recorded checksum"), "{}", r.stdout);
}

#[test]
fn a_garbled_snapshot_damages_only_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    std::fs::write(ckpt(&dir, 6).join("snapshot.json"), "{\"step\": 6, garbage").unwrap();
    assert_only_damaged(&dir, 6, 12, "step-000006/snapshot.json", "invalid JSON");
}

#[test]
fn a_snapshot_changed_behind_the_manifest_fails_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    // Still valid JSON of the right shape: only the checksum tells.
    let path = ckpt(&dir, 12).join("snapshot.json");
    let mut snap: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    snap["loss"] = 0.125.into();
    std::fs::write(&path, serde_json::to_vec(&snap).unwrap()).unwrap();
    assert_shown_damaged(&dir, &[12], "step-000012/snapshot.json");
    assert_refused(&probe(&dir, 12), "step-000012/snapshot.json", "checksum mismatch");
}

#[test]
fn a_deleted_checkpoint_directory_damages_only_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    std::fs::remove_dir_all(ckpt(&dir, 18)).unwrap();
    assert_only_damaged(&dir, 18, 6, "step-000018", "checkpoint directory is missing");
}

#[test]
fn last_is_the_last_intact_checkpoint_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    std::fs::remove_dir_all(ckpt(&dir, 20)).unwrap();
    let r = run(&["probe"], &dir, &["do first", "--input", "A", "--json"]);
    assert_ok(&r);
    assert!(r.stderr.contains("checkpoint 20 is damaged") && r.stderr.contains("using step 18"), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["step"], 18, "{report}");
}

#[test]
fn with_no_intact_checkpoint_show_lists_them_and_the_rest_refuse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    for step in STEPS {
        std::fs::write(ckpt(&dir, step).join("snapshot.json"), "").unwrap();
    }
    let shown = run(&["show"], &dir, &[]);
    assert_ok(&shown);
    assert_eq!(shown.stdout.matches("DAMAGED").count(), STEPS.len(), "{}", shown.stdout);
    let last = run(&["probe"], &dir, &["do first", "--input", "A"]);
    for r in [last, run(&["export"], &dir, &["--figures", "figs"]), run(&["replay"], &dir, &[])] {
        assert_refused(&r, "no intact checkpoint", "5 damaged");
    }
    assert_refused(&probe(&dir, 6), "step-000006/snapshot.json", "file is empty");
}

/// Flips one bit in the last byte of the file: inside the last tensor's data.
fn flip_a_bit(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_bit_in_the_weights_is_caught_by_probe_export_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    flip_a_bit(&ckpt(&dir, 12).join("weights.safetensors"));
    assert_refused(&probe(&dir, 12), "step-000012/weights.safetensors", "checksum mismatch");
    assert_refused(&export(&dir, 12), "step-000012/weights.safetensors", "checksum mismatch");
    assert_check_finds(&dir, "step-000012/weights.safetensors", "checksum mismatch");
    // The snapshot is intact: the checkpoint is still shown, and its neighbours still work.
    assert_shown_damaged(&dir, &[], "-");
    assert_ok(&probe(&dir, 18));
}

/// Writes NaN over the first value of the tensor whose name sorts last, then records the new
/// checksum in the manifest, so that only the finiteness check can notice. Returns its name.
fn poison_weights(dir: &Path, step: usize) -> String {
    let path = ckpt(dir, step).join("weights.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let (name, info) =
        header.as_object().unwrap().iter().filter(|(k, _)| *k != "__metadata__").max_by_key(|(k, _)| *k).unwrap();
    assert_eq!(info["dtype"], "F32");
    let at = 8 + header_len + info["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    edit_manifest(dir, |m| {
        let entry = m["checkpoints"].as_array_mut().unwrap().iter_mut().find(|c| c["step"] == step).unwrap();
        entry["checksums"]["weights.safetensors"] = clusterscope::session::checksum::checksum(&bytes).into();
    });
    name.clone()
}

#[test]
fn nan_weights_with_a_matching_checksum_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let tensor = poison_weights(&dir, 18);
    let r = probe(&dir, 18);
    assert_refused(&r, "step-000018/weights.safetensors", &format!("tensor {tensor} has non-finite values (NaN)"));
    assert!(r.stderr.contains("the checkpoint is damaged"), "{}", r.stderr);
    assert_refused(&export(&dir, 18), "step-000018/weights.safetensors", "non-finite");
    assert_check_finds(&dir, "step-000018/weights.safetensors", "non-finite values (NaN)");
}

#[test]
fn resume_refuses_a_damaged_optimizer_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    flip_a_bit(&ckpt(&dir, 20).join("optimizer.safetensors"));
    let r = run(&["train", "--headless", "--device", "cpu", "--steps", "26", "--resume"], &dir, &[]);
    assert_refused(&r, "step-000020/optimizer.safetensors", "checksum mismatch");
    assert_check_finds(&dir, "step-000020/optimizer.safetensors", "checksum mismatch");
}

#[test]
fn resume_refuses_a_session_show_cannot_open_and_trains_past_a_damaged_earlier_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    std::fs::remove_file(dir.join("points.json")).unwrap();
    let log_before = std::fs::read(dir.join("log.jsonl")).unwrap();
    let r = run(&["train", "--headless", "--device", "cpu", "--steps", "26", "--resume"], &dir, &[]);
    assert_refused(&r, "points.json", "No such file");
    assert_eq!(std::fs::read(dir.join("log.jsonl")).unwrap(), log_before, "nothing trained");

    let dir = tmp.path().join("second");
    copy_dir(common::pristine(), &dir);
    std::fs::write(ckpt(&dir, 6).join("snapshot.json"), "[").unwrap();
    let r = run(&["train", "--headless", "--device", "cpu", "--steps", "26", "--resume"], &dir, &[]);
    assert_ok(&r);
    let v: serde_json::Value = serde_json::from_str(&run(&["show", "--json"], &dir, &[]).stdout).unwrap();
    let damaged: Vec<u64> = v["damaged"].as_array().unwrap().iter().map(|d| d["step"].as_u64().unwrap()).collect();
    assert_eq!(damaged, [6]);
    assert_eq!(v["checkpoints"].as_array().unwrap().last().unwrap()["step"], 26);
}

#[test]
fn sessions_written_before_checksums_still_open_probe_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    edit_manifest(&dir, |m| {
        for c in m["checkpoints"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("checksums");
        }
    });
    assert_ok(&probe(&dir, 12));
    let r = check(&dir);
    assert_ok(&r);
    assert!(r.stdout.contains("11 without a recorded checksum"), "{}", r.stdout);
}

fn mkfifo(path: &Path) {
    std::fs::remove_file(path).unwrap();
    let ok = std::process::Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn fifos_in_place_of_session_files_are_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    mkfifo(&ckpt(&dir, 6).join("snapshot.json"));
    mkfifo(&ckpt(&dir, 12).join("weights.safetensors"));
    mkfifo(&dir.join("log.jsonl"));
    assert_shown_damaged(&dir, &[6], "step-000006/snapshot.json");
    assert_refused(&probe(&dir, 6), "step-000006/snapshot.json", "not a regular file");
    assert_refused(&probe(&dir, 12), "step-000012/weights.safetensors: not a regular file", "weights");
    let c = check(&dir);
    assert_eq!(c.code, Some(2));
    for file in ["step-000006/snapshot.json", "step-000012/weights.safetensors", "log.jsonl"] {
        assert!(c.stdout.contains(&format!("{file}: not a regular file")), "{file} in {}", c.stdout);
    }
    mkfifo(&dir.join("manifest.json"));
    for r in [run(&["show"], &dir, &[]), check(&dir)] {
        assert_eq!(r.code, Some(2), "{:?}", r.stderr);
        assert!(format!("{}{}", r.stdout, r.stderr).contains("manifest.json: not a regular file"));
    }
}

#[test]
fn export_names_an_os_error_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fresh_copy(tmp.path());
    let figs = tmp.path().join("figs");
    std::fs::create_dir_all(figs.join("scores.png")).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("hidden_0.npy")).unwrap();
    // A weights file the model library cannot map: its message named the path twice.
    let weights = ckpt(&dir, 20).join("weights.safetensors");
    std::fs::remove_file(&weights).unwrap();
    std::fs::create_dir(&weights).unwrap();
    for (r, file) in [
        (run(&["export"], &dir, &["--checkpoint", "18", "--figures", figs.to_str().unwrap()]), "scores.png"),
        (run(&["export"], &dir, &["--checkpoint", "18", "--out", out.to_str().unwrap()]), "hidden_0.npy"),
        (run(&["export"], &dir, &["--out", out.to_str().unwrap()]), "weights.safetensors"),
    ] {
        assert_eq!(r.code.map(|c| c != 0), Some(true), "{file}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
        assert_eq!(r.stderr.matches(file).count(), 1, "{file} named once: {}", r.stderr);
        assert!(r.stderr.matches("os error").count() <= 1, "{}", r.stderr);
        assert!(!r.stderr.contains("kind:") && !r.stderr.contains("Os {"), "no debug dump: {}", r.stderr);
    }
}
