//! Probes: unseen instructions land in their task's cluster and are answered right; the
//! headless command's output and errors; the parser never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::experiment::probe::{parse, ProbeError};
use clusterscope::model::DeviceChoice;
use clusterscope::record::{ProbeCommand, ProbeRequest};
use clusterscope::report::probe_report::report;
use clusterscope::session::{probes as saved, Session, SessionDir};
use clusterscope::train::prober::{spawn_prober, ProbeEngine};
use predicates::prelude::*;
use proptest::prelude::*;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sessions/demo")
}

#[test]
fn held_out_instructions_land_in_their_task_and_are_answered_right() {
    let session = Session::open(&demo()).unwrap();
    let exp = Arc::new(session.experiment().unwrap());
    let snap = session.snapshots.last().unwrap();
    let mut engine = ProbeEngine::new(exp.clone(), session.manifest.model.clone(), &demo(), DeviceChoice::Cpu).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for (k, task) in exp.tasks.iter().enumerate() {
        let words = task.distributions[task.unseen[0]].sample(&mut rng);
        assert!(!exp.is_seen_instruction(&words));
        let input = (3 * k + 1) % exp.symbols.len();
        let text = format!("{} | {}", words.join(" "), exp.symbols[input]);
        let answer = engine.run(&text, snap.step).unwrap();
        assert_eq!(answer.hidden.len(), session.manifest.model.layers + 1);
        assert_eq!(answer.attribution.len(), words.len());
        assert!(answer.attribution.iter().all(|v| v.is_finite()));
        assert!(answer.attribution.iter().any(|v| *v != 0.0));
        let r = report(Some(&exp), &exp.task_names(), snap, &text, &answer);
        assert_eq!(r.nearest_task.as_deref(), Some(task.name.as_str()), "{text}");
        assert_eq!(answer.answer, exp.symbols[exp.table(k)[input]], "{text}");
        assert_eq!(r.correct, Some(true));
        assert!(answer.answer_probability > 0.5);
        assert_eq!(r.points.len(), session.manifest.model.layers + 1);
    }
}

#[test]
fn headless_probe_prints_json_and_text() {
    let out = Command::cargo_bin("clusterscope")
        .unwrap()
        .arg("probe")
        .arg(demo())
        .args(["--input", "C", "--json", "flip the symbol please"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for key in ["nearest_task", "distances", "answer", "answer_probability", "correct", "attribution", "points"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["nearest_task"], "invert");
    assert_eq!(v["distances"].as_array().unwrap().len(), 8);
    assert_eq!(v["attribution"].as_array().unwrap().len(), 4);
    assert_eq!(v["attribution"][0]["word"], "flip");
    assert_eq!(v["points"].as_array().unwrap().len(), 4);
    Command::cargo_bin("clusterscope")
        .unwrap()
        .arg("probe")
        .arg(demo())
        .args(["--input", "C", "--checkpoint", "0", "apply the flip rule"])
        .assert()
        .success()
        .stdout(predicate::str::contains("at step 0").and(predicate::str::contains("attribution:")));
}

#[test]
fn headless_probe_errors_exit_2_with_one_line() {
    let run = |args: &[&str], needles: &[&str]| {
        let out = Command::cargo_bin("clusterscope")
            .unwrap()
            .arg("probe")
            .arg(demo())
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{err:?} should contain {n:?}");
        }
    };
    run(
        &["--input", "C", "flipp the symbl"],
        &["unknown words", "\"flipp\"", "did you mean flip", "\"symbl\"", "symbol"],
    );
    run(&["--input", "Z", "flip the symbol"], &["unknown input symbol \"Z\"", "A B C"]);
    run(&["--input", "C", "  "], &["no instruction words"]);
    let long = vec!["the"; 40].join(" ");
    run(&["--input", "C", &long], &["44 tokens long", "at most 32"]);
    run(&["--input", "C", "--checkpoint", "7", "flip it"], &["no checkpoint \"7\""]);
}

/// A 30-step tiny session in `dir` and a probe thread on it: (session, commands, results).
fn prober_on_tiny_session(
    dir: &std::path::Path,
) -> (PathBuf, std::sync::mpsc::Sender<ProbeCommand>, std::sync::mpsc::Receiver<clusterscope::record::ProbeResult>) {
    let s = dir.join("s");
    common::make_tiny_session(&s, 30);
    let session = Session::open(&s).unwrap();
    let exp = Arc::new(session.experiment().unwrap());
    let engine = ProbeEngine::new(exp, session.manifest.model.clone(), &s, DeviceChoice::Cpu).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let probes = spawn_prober(engine, move |e| tx.send(e).is_ok()).unwrap();
    (s, probes, rx)
}

#[test]
fn probes_made_in_the_app_are_saved_in_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (s, probes, rx) = prober_on_tiny_session(dir.path());
    probes.send(ProbeRequest { id: 1, text: "do first | A".into(), step: 30, save: true }.into()).unwrap();
    probes.send(ProbeRequest { id: 1, text: "do first | A".into(), step: 0, save: false }.into()).unwrap();
    probes.send(ProbeRequest { id: 2, text: "bogus | A".into(), step: 30, save: true }.into()).unwrap();
    let mut results = Vec::new();
    while results.len() < 3 {
        results.push(rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap());
    }
    assert!(results.iter().any(|r| r.id == 2 && r.outcome.as_ref().is_err_and(|e| e.contains("\"bogus\""))));
    assert!(results.iter().filter(|r| r.id == 1).all(|r| r.outcome.is_ok()));
    let saved = saved::read(&SessionDir::new(&s));
    assert_eq!(saved.len(), 1, "only the first, valid probe is recorded: {saved:?}");
    assert_eq!(saved[0].text, "do first | A");
}

#[test]
fn a_deleted_probe_is_forgotten_by_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (s, probes, rx) = prober_on_tiny_session(dir.path());
    let mut seen = std::collections::HashSet::new();
    let mut wait = |id: u64| {
        while !seen.contains(&id) {
            seen.insert(rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap().id);
        }
    };
    let run = |id: u64, text: &str| ProbeRequest { id, text: text.into(), step: 30, save: true }.into();
    probes.send(run(1, "do first | A")).unwrap();
    probes.send(run(2, "do first | A")).unwrap();
    // Queued requests are answered newest first, so 1 may come after 2: both must be saved
    // before the deletion, or it would only drop a queued save.
    wait(1);
    wait(2);
    // Deleted after it was saved: forgotten on file. Deleted before its request ran: never saved.
    probes.send(ProbeCommand::Forget { id: 1, text: "do first | A".into() }).unwrap();
    probes.send(run(3, "do first | B")).unwrap();
    probes.send(ProbeCommand::Forget { id: 3, text: "do first | B".into() }).unwrap();
    // A probe whose save failed has nothing on file to forget.
    probes.send(run(4, "bogus | A")).unwrap();
    wait(4);
    probes.send(ProbeCommand::Forget { id: 4, text: "bogus | A".into() }).unwrap();
    probes.send(run(5, "do first | C")).unwrap();
    wait(5);
    let texts: Vec<String> = saved::read(&SessionDir::new(&s)).into_iter().map(|p| p.text).collect();
    assert_eq!(texts, ["do first | A", "do first | C"], "one of the two A probes and C remain");
    // What replay restores is what the file says after the deletions.
    let lines = std::fs::read_to_string(SessionDir::new(&s).probes()).unwrap();
    assert!(lines.lines().any(|l| l.contains("\"deleted\":true")), "{lines}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_probe_parser(text in "\\PC{0,60}", words in proptest::collection::vec("(please|flip|the|symbol|rule|apply|x|[a-z]{1,6})", 0..10), sym in "[A-Q|]{0,3}") {
        static EXP: std::sync::OnceLock<clusterscope::experiment::Experiment> = std::sync::OnceLock::new();
        let exp = EXP.get_or_init(|| clusterscope::experiment::Experiment::default_experiment(None).unwrap());
        let _ = parse(exp, &text, 32);
        let composed = format!("{} | {sym}", words.join(" "));
        match parse(exp, &composed, 32) {
            Ok(p) => {
                prop_assert!(p.words.iter().all(|w| exp.tokenizer.words().contains(w)));
                prop_assert!(p.input.len() == 1 && p.input[0] < exp.symbols.len());
            }
            Err(ProbeError::UnknownWords(u)) => prop_assert!(!u.is_empty()),
            Err(_) => {}
        }
    }
}
