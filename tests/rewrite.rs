//! The string-rewrite task family: its data against a reference implementation, rule hold-out,
//! encoding, training, per-rule accuracy and typed-rule probes through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::experiment::family::Family;
use clusterscope::experiment::sampling::BatchSampler;
use clusterscope::experiment::tokenizer::{ANS, BOS, EOS, SEP};
use clusterscope::experiment::Experiment;
use std::collections::HashSet;

fn spec() -> String {
    std::fs::read_to_string(common::fixture("specs/rewrite_tiny.toml")).unwrap()
}

fn experiment() -> Experiment {
    Experiment::from_toml(&spec(), None).unwrap()
}

/// The reference: the standard library's leftmost `replacen` on the strings the user reads.
fn reference(rule: &str, z: &str) -> String {
    let (x, y) = rule.split_once(" -> ").unwrap();
    z.replacen(x, y, 1)
}

fn rule_text(words: &[String]) -> String {
    words.concat().replace("->", " -> ")
}

#[test]
fn no_held_out_rule_is_ever_trained_on_and_every_answer_is_the_reference_rewrite() {
    let exp = experiment();
    let Family::Rewrite(r) = exp.family.as_ref() else { panic!("a rewrite experiment") };
    let held_out: HashSet<String> = r.held_out.iter().map(|rule| rule.display(&r.alphabet)).collect();
    assert_eq!(held_out.len(), 12);
    let mut sampler = BatchSampler::new(exp.seed);
    let plan = exp.plan(exp.default_steps());
    let mut trained = HashSet::new();
    let mut noops = 0;
    let mut n = 0;
    for _ in 0..300 {
        for e in sampler.batch(&exp, plan.at(0), 32) {
            let rule = rule_text(&e.instruction);
            assert!(!held_out.contains(&rule), "held-out rule {rule} in a training batch");
            let (z, out) = (exp.render(&e.input), exp.render(&e.output));
            assert_eq!(out, reference(&rule, &z), "{rule} on {z}");
            noops += usize::from(out == z);
            n += 1;
            trained.insert(rule);
        }
    }
    assert_eq!(trained.len(), 60, "every training rule is sampled");
    // A no-op fraction of 0.25, plus rewrites that happen to give z back (x -> y never has x == y).
    let fraction = noops as f64 / n as f64;
    assert!((0.2..0.3).contains(&fraction), "{fraction}");

    let set = exp.analysis_set();
    assert_eq!((set.seen.len(), set.unseen.len()), (24 * 4, 12 * 4));
    for e in &set.unseen {
        assert!(held_out.contains(&rule_text(&e.instruction)));
        assert!(!exp.is_seen_instruction(&e.instruction));
        assert_eq!(exp.render(&e.output), reference(&rule_text(&e.instruction), &exp.render(&e.input)));
    }
    assert!(set.seen.iter().all(|e| exp.is_seen_instruction(&e.instruction)));
    // Classes are the first character of x.
    assert_eq!(exp.task_names(), ["x starts a", "x starts b", "x starts c", "x starts d"]);
    for e in set.seen.iter().chain(&set.unseen) {
        assert_eq!(exp.symbols[e.task], e.instruction[0]);
    }
}

#[test]
fn sequences_read_rule_string_and_answer_with_its_end() {
    let exp = experiment();
    let e = &exp.analysis_set().seen[0];
    let enc = exp.encode(e, true).unwrap();
    let arrow = e.instruction.iter().position(|w| w == "->").unwrap();
    let mut expected = vec![BOS];
    expected.extend(e.instruction.iter().map(|w| exp.tokenizer.id(w).unwrap()));
    expected.push(SEP);
    expected.extend(e.input.iter().map(|&s| exp.tokenizer.symbol_id(s)));
    expected.push(ANS);
    expected.extend(e.output.iter().map(|&s| exp.tokenizer.symbol_id(s)));
    expected.push(EOS);
    assert_eq!(enc.ids, expected);
    assert!(arrow >= 1);
    assert_eq!(enc.last_instruction_pos, e.instruction.len());
    assert_eq!(enc.answer_len, e.output.len() + 1, "the answer's <eos> is predicted too");
    assert!(enc.ids.len() <= exp.max_sequence_len);
}

#[test]
fn bad_rewrite_specs_are_one_line_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let run = |from: &str, to: &str, needle: &str| {
        let path = dir.path().join("bad.toml");
        let text = spec().replace(from, to);
        assert_ne!(text, spec(), "{from}");
        std::fs::write(&path, text).unwrap();
        let out =
            Command::cargo_bin("clusterscope").unwrap().args(["spec", "--experiment"]).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{from}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle}: {err}");
    };
    run("rules = 60", "rules = 100000", "rewrite.rules");
    run("rules = 60", "rules = 500", "allow only");
    run("x_len = [1, 2]", "x_len = [2, 1]", "rewrite.x_len");
    run("alphabet = \"abcd\"", "alphabet = \"a b\"", "reserved");
    run("noop_fraction = 0.25", "noop_fraction = -1", "rewrite.noop_fraction");
    run("examples_per_rule = 20", "budget = 0", "at least 1");
    run("examples_per_rule = 20", "", "needs examples_per_rule or budget");
    run("examples_per_rule = 20", "examples_per_rule = 20\nbudget = 100", "not both");
    run("[rewrite]", "symbols = [\"A\", \"B\"]\n[rewrite]", "symbols");
}

fn train(dir: &std::path::Path, steps: &str) -> std::path::PathBuf {
    let spec_path = dir.join("rewrite.toml");
    std::fs::write(&spec_path, spec()).unwrap();
    let s = dir.join("s");
    Command::cargo_bin("clusterscope")
        .unwrap()
        .args(["train", "--headless", "--device", "cpu", "--steps", steps, "--experiment"])
        .arg(&spec_path)
        .arg("--out")
        .arg(&s)
        .assert()
        .success();
    s
}

#[test]
fn a_trained_session_keeps_per_rule_accuracy_and_answers_typed_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = train(dir.path(), "60");
    let out = Command::cargo_bin("clusterscope").unwrap().arg("show").arg(&s).arg("--json").output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = v["rules"].as_array().expect("per-rule accuracy");
    let (seen, unseen): (Vec<_>, Vec<_>) = rules.iter().partition(|r| r["seen"] == true);
    assert_eq!((seen.len(), unseen.len()), (24, 12));
    for r in rules {
        assert_eq!(r["points"], 4);
        let a = r["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
        assert!(r["rule"].as_str().unwrap().contains(" -> "), "{r}");
    }
    // The mean of per-rule accuracy is the checkpoint's accuracy (every rule has 4 points).
    let last = v["checkpoints"].as_array().unwrap().last().unwrap().clone();
    let mean =
        |rs: &[&serde_json::Value]| rs.iter().map(|r| r["accuracy"].as_f64().unwrap()).sum::<f64>() / rs.len() as f64;
    assert!((mean(&seen) - last["seen_accuracy"].as_f64().unwrap()).abs() < 1e-9);
    assert!((mean(&unseen) - last["unseen_accuracy"].as_f64().unwrap()).abs() < 1e-9);
    let text = Command::cargo_bin("clusterscope").unwrap().arg("show").arg(&s).output().unwrap();
    assert!(String::from_utf8(text.stdout).unwrap().contains("held-out rules"));

    let probe = |rule: &str, input: &str| {
        Command::cargo_bin("clusterscope")
            .unwrap()
            .arg("probe")
            .arg(&s)
            .args([rule, "--input", input, "--json"])
            .output()
            .unwrap()
    };
    let out = probe("ab -> c", "abcab");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let answer = v["answer"].as_str().unwrap();
    assert!(answer.chars().all(|c| "abcd".contains(c)), "{answer}");
    assert_eq!(v["correct"], serde_json::Value::Bool(answer == "ccab"), "{v}");
    let p = v["answer_probability"].as_f64().unwrap();
    assert!(p > 0.0 && p <= 1.0);
    assert_eq!(v["attribution"].as_array().unwrap().len(), 4, "a, b, ->, c");

    for (rule, input, needle) in [
        ("ab c", "abc", "a rule is `x -> y`"),
        ("ab -> q", "abc", "unknown character 'q' in the rule"),
        ("ab -> c", "abz", "unknown character 'z' in the input"),
        (" -> c", "abc", "x not empty"),
    ] {
        let out = probe(rule, input);
        assert_eq!(out.status.code(), Some(2), "{rule}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle) && err.lines().count() == 1, "{rule}: {err}");
    }
}

#[test]
fn the_builtin_diversity_sweep_runs_its_rule_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("div");
    // The built-in spec and grid as they ship; only the steps are cut, so the test is quick.
    let run = Command::cargo_bin("clusterscope")
        .unwrap()
        .args([
            "--threads",
            "1",
            "sweep",
            "builtin:diversity",
            "--steps",
            "2",
            "--seeds",
            "1",
            "--device",
            "cpu",
            "--json",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let points = v["points"].as_array().unwrap();
    let rules: Vec<&str> = points.iter().map(|p| p["params"]["rewrite.rules"].as_str().unwrap()).collect();
    assert_eq!(rules, ["10", "40", "120", "320"], "{v}");
    for p in points {
        assert_eq!(p["state"], "finished", "{p}");
        let a = p["metrics"]["unseen_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
    }
    // Each point trained on as many distinct rules as its value says.
    let session = clusterscope::session::Session::open(&out.join("points/p0003")).unwrap();
    let Family::Rewrite(r) = session.experiment().unwrap().family.as_ref().clone() else { panic!("rewrites") };
    assert_eq!((r.train.len(), r.held_out.len()), (320, 40));

    let err = Command::cargo_bin("clusterscope")
        .unwrap()
        .args(["sweep", "builtin:nope", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(2));
    let text = String::from_utf8(err.stderr).unwrap();
    assert!(text.contains("no built-in sweep \"nope\"") && text.contains("builtin:diversity"), "{text}");
}
