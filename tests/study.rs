//! The built-in studies through the real binary, each at its tiny size with one seed: the
//! `--json` object and its keys, the report's files, `study show`, every run an ordinary session,
//! a second run that has nothing left to do, and the one-line refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::Path;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

/// `study run NAME --size tiny --seeds 1` into `out`, on one core.
fn run_tiny(name: &str, out: &Path) -> Command {
    let mut c = bin();
    c.args(["--threads", "1", "study", "run", name, "--size", "tiny", "--seeds", "1", "--jobs", "1"]);
    c.args(["--device", "cpu", "--out"]).arg(out);
    c
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

/// Width, height and whether the image holds more than one colour.
fn decode_png(path: &Path) -> (u32, u32, bool) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples() * info.bit_depth as usize / 8;
    let bytes = &buf[..info.buffer_size()];
    let varied = bytes.chunks(px).any(|p| p != &bytes[..px]);
    (info.width, info.height, varied)
}

/// Runs the study `name` at its tiny size and checks everything a study promises; returns the
/// printed report.
fn check_study(name: &str, arms: &[&str], metrics: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let ran = run_tiny(name, &out).arg("--json").assert().success();
    let stderr = String::from_utf8_lossy(&ran.get_output().stderr).to_string();
    let report = json_of(&ran.get_output().stdout);
    assert_eq!(report["study"], name);
    let got: Vec<&str> = report["arms"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(got, arms);
    for arm in report["arms"].as_array().unwrap() {
        assert_eq!(arm["seeds"], 1, "{arm}");
        for m in metrics {
            let (value, std) = (&arm["metrics"][*m], &arm["metrics"][format!("{m}_std")]);
            assert!(arm["metrics"].as_object().unwrap().contains_key(*m), "{m} in {arm}");
            // One seed has no standard deviation.
            assert!(std.is_null(), "{m}_std with one seed: {std}");
            if m.contains("steps_to_unseen_90") {
                // Tiny runs may never get there: then null, and said so.
                assert!(value.is_null() || (0.0..=60.0).contains(&value.as_f64().unwrap()), "{m} = {value}");
                assert!(arm["metrics"][format!("{m}_reached")].as_f64().unwrap() <= 1.0);
            } else {
                let v = value.as_f64().unwrap_or_else(|| panic!("{m} = {value} in {arm}"));
                assert!((-1.0..=1.0).contains(&v), "{m} = {v}");
            }
        }
        // Each run is an ordinary session under DIR/ARM/seed-N that `show` reads.
        let session = out.join(arm["sessions"][0].as_str().unwrap());
        assert!(session.starts_with(out.join(arm["name"].as_str().unwrap())), "{}", session.display());
        let shown = bin().arg("show").arg(&session).arg("--json").assert().success();
        let shown = json_of(&shown.get_output().stdout);
        assert_eq!(shown["status"], "finished", "{}", session.display());
        assert!(shown["checkpoints"].as_array().is_some_and(|c| c.len() >= 2), "{shown}");
    }
    for ext in ["md", "json", "png", "svg"] {
        assert!(out.join(format!("report.{ext}")).is_file(), "report.{ext}");
    }
    let (w, h, varied) = decode_png(&out.join("report.png"));
    assert!(w > 1000 && h > 500 && varied, "{w}x{h}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&format!("| {} | 1 |", arms[0])) && metrics.iter().all(|m| md.contains(m)), "{md}");
    assert_eq!(json_of(&std::fs::read(out.join("report.json")).unwrap()), report);
    // The run offers the compare view on the arms' first seeds.
    let first: Vec<String> = arms.iter().map(|a| out.join(format!("{a}/seed-1")).display().to_string()).collect();
    assert!(stderr.contains(&format!("clusterscope compare {}", first.join(" "))), "{stderr}");
    // ... and that command works (headless here: as JSON).
    let compared = bin().arg("compare").args(&first).arg("--json").assert().success();
    assert!(json_of(&compared.get_output().stdout).is_object());
    // `study show` reprints the same report, as JSON and as a table.
    let shown = bin().args(["study", "show"]).arg(&out).arg("--json").assert().success();
    assert_eq!(json_of(&shown.get_output().stdout), report);
    let table = bin().args(["study", "show"]).arg(&out).assert().success();
    let table = String::from_utf8_lossy(&table.get_output().stdout).to_string();
    assert!(table.contains(&format!("| {} | 1 |", arms[1])), "{table}");
    // Again into the same directory: every run is done, nothing is trained.
    let manifest = out.join(format!("{}/seed-1/manifest.json", arms[0]));
    let before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let again = run_tiny(name, &out).arg("--json").assert().success();
    let said = String::from_utf8_lossy(&again.get_output().stderr);
    assert!(said.contains(&format!("{} runs done earlier: skipped", arms.len())), "{said}");
    assert_eq!(json_of(&again.get_output().stdout), report);
    assert_eq!(std::fs::metadata(&manifest).unwrap().modified().unwrap(), before);
    if name == "task-identity" {
        refuses_another_study_in(&out);
        measures_again_what_lost_its_metrics(&out, arms);
    }
    report
}

#[test]
fn task_identity() {
    let r = check_study(
        "task-identity",
        &["baseline", "task_identity"],
        &["steps_to_unseen_90", "instruction_steps_to_unseen_90", "final_unseen_accuracy", "final_ari"],
    );
    assert_eq!(r["size"], "tiny");
}

/// A run whose session finished but whose metrics are gone (killed while measuring) is
/// measured again, not trained again; the others are left alone.
fn measures_again_what_lost_its_metrics(out: &Path, arms: &[&str]) {
    let metrics = out.join(format!("{}/seed-1.metrics.json", arms[1]));
    let kept = std::fs::read(&metrics).unwrap();
    let manifest = out.join(format!("{}/seed-1/manifest.json", arms[1]));
    let before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    std::fs::remove_file(&metrics).unwrap();
    let again = run_tiny("task-identity", out).assert().success();
    let said = String::from_utf8_lossy(&again.get_output().stderr);
    assert!(
        said.contains("1 run done earlier: skipped")
            && said.contains(&format!("{}/seed-1: trained and measured", arms[1])),
        "{said}"
    );
    assert_eq!(std::fs::metadata(&manifest).unwrap().modified().unwrap(), before, "not trained again");
    assert_eq!(json_of(&std::fs::read(&metrics).unwrap()), json_of(&kept), "the same metrics");
}

/// A study directory holds one study: another study, or the same at another size or with other
/// seeds, is refused before anything runs.
fn refuses_another_study_in(out: &Path) {
    for args in
        [&["alignment", "--size", "tiny"][..], &["task-identity"], &["task-identity", "--size", "tiny", "--seeds", "2"]]
    {
        bin()
            .args(["study", "run"])
            .args(args)
            .arg("--out")
            .arg(out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("holds a different study"));
    }
}

#[test]
fn alignment() {
    check_study("alignment", &["baseline", "aligned"], &["steps_to_unseen_90", "final_unseen_accuracy", "final_ari"]);
}

#[test]
fn knowledge() {
    let r = check_study(
        "knowledge",
        &["harmonious", "incompatible", "self_aligning"],
        &["heldout_accuracy", "consistency", "ari_before", "ari_after"],
    );
    // Correlations of probability vectors over the same symbols.
    for arm in r["arms"].as_array().unwrap() {
        assert!(arm["metrics"]["consistency"].as_f64().unwrap() > -1.0, "{arm}");
    }
}

#[test]
fn instruction_tuning() {
    let r = check_study(
        "instruction-tuning",
        &["baseline", "instruction_tuning"],
        &["instruction_attribution_share_phase1", "instruction_attribution_share_phase2", "final_unseen_accuracy"],
    );
    for arm in r["arms"].as_array().unwrap() {
        for phase in ["phase1", "phase2"] {
            let share = arm["metrics"][format!("instruction_attribution_share_{phase}")].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&share), "{share}");
        }
    }
}

#[test]
fn study_list_names_every_study_with_its_arms_and_metrics() {
    let out = bin().args(["study", "list"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for name in ["task-identity", "alignment", "knowledge", "instruction-tuning"] {
        assert!(text.contains(&format!("{name}: ")), "{text}");
    }
    assert!(text.contains("harmonious, incompatible, self_aligning"), "{text}");
    let all = json_of(&bin().args(["study", "list", "--json"]).assert().success().get_output().stdout);
    for s in all.as_array().unwrap() {
        assert!(s["about"].is_string() && s["arms"].as_array().unwrap().len() >= 2, "{s}");
        assert_eq!(s["seeds"], 3);
        assert!(!s["metrics"].as_array().unwrap().is_empty());
    }
}

#[test]
fn bad_names_seeds_and_directories_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let refused = |args: &[&str], says: &str| {
        let mut c = bin();
        c.args(["study", "run"]).args(args).arg("--out").arg(&out);
        let a = c.assert().code(2).stderr(predicate::str::contains(says));
        let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    refused(&["nope"], "no built-in study \"nope\": there are task-identity, alignment, knowledge, instruction-tuning");
    refused(&["alignment", "--seeds", "0"], "--seeds 0: need at least 1 seed");
    refused(&["alignment", "--seeds", "101"], "--seeds 101: at most 100 seeds per arm");
    refused(&["alignment", "--device", "tpu"], "tpu");
    assert!(!out.exists(), "nothing written");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    refused(&["alignment"], "not empty and not a clusterscope study");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "nothing written among the user's files");
    bin().args(["study", "show"]).arg(&out).assert().code(2).stderr(predicate::str::contains("study.json"));
    bin().args(["study", "show"]).arg(dir.path().join("missing")).assert().code(2);
}
