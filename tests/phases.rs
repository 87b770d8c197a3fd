//! Runs in phases: the spec's `[[phases]]` and its errors, task-identity and tables data, table
//! overrides, the learning-rate schedule, boundaries in the session and `show`, and resuming
//! across a boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use assert_cmd::Command;
use clusterscope::experiment::phases::identity_token;
use clusterscope::experiment::sampling::{rng_for, BatchSampler};
use clusterscope::experiment::spec::PhaseData;
use clusterscope::experiment::Experiment;
use clusterscope::session::format::LogEntry;
use clusterscope::session::Session;
use common::fixture;
use std::path::Path;

fn spec() -> String {
    std::fs::read_to_string(fixture("specs/phases_tiny.toml")).unwrap()
}

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

fn error_of(text: &str) -> String {
    match Experiment::from_toml(text, None) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn phases_parse_and_lie_back_to_back() {
    let exp = Experiment::from_toml(&spec(), None).unwrap();
    assert_eq!(exp.default_steps(), 110);
    let plan = exp.plan(exp.default_steps());
    assert!(plan.explicit);
    let starts: Vec<usize> = plan.phases.iter().map(|p| p.start).collect();
    assert_eq!(starts, [0, 40, 80]);
    assert_eq!(plan.boundaries(), [40, 80]);
    assert_eq!(plan.at(39).name, "identity");
    assert_eq!(plan.at(40).name, "overridden");
    // The checkpoint at a boundary ends the phase before it.
    assert_eq!(plan.of_checkpoint(40).name, "identity");
    assert_eq!(plan.of_checkpoint(41).name, "overridden");
    assert_eq!(plan.at(500).name, "own");
    let p1 = &plan.phases[1];
    assert_eq!(p1.distributions, vec![vec![0], vec![0], vec![0]]);
    assert_eq!((p1.lr, p1.warmup), (2e-3, 5));
    // Without a warm-up of its own, a restarted phase warms up for at most a tenth of it.
    assert_eq!(plan.phases[0].warmup, 4);
    // The identity tokens are in the vocabulary.
    for t in ["first", "second", "third"] {
        assert!(exp.tokenizer.id(&identity_token(t)).is_some(), "{t}");
    }
    // A spec without phases is one phase of the whole run.
    let plain = common::tiny_experiment(None);
    let one = plain.plan(77);
    assert!(!one.explicit);
    assert_eq!(one.phases.len(), 1);
    assert_eq!(one.phases[0].steps, 77);
    assert!(one.boundaries().is_empty());
}

#[test]
fn bad_phase_fields_are_named() {
    let base = spec();
    let cases: Vec<(String, &str)> = vec![
        (base.replacen("steps = 40", "steps = 0", 1), "phases[0].steps = 0: must be at least 1"),
        (
            base.replace("distributions = [0]", "distributions = [2]"),
            "phases[1].distributions = 2: is held out for task \"first\"",
        ),
        (
            base.replace("distributions = [0]", "distributions = [7]"),
            "phases[1].distributions = 7: task \"first\" has only 3 distributions",
        ),
        (base.replace("distributions = [0]", "distributions = []"), "phases[1].distributions = []"),
        (
            base.replace("distributions = [0]", "tasks = [\"fourth\"]"),
            "phases[1].tasks = \"fourth\": is not one of the tasks' names",
        ),
        (
            base.replace("distributions = [0]", "tasks = [\"first\", \"first\"]"),
            "phases[1].tasks = \"first\": is named twice",
        ),
        (base.replace("data = \"task_identity\"", "data = \"tables\""), "phases[0].table = missing"),
        (base.replace("data = \"task_identity\"", "data = \"tables\"\ntable = \"nope\""), "phases[0].table = \"nope\""),
        (
            base.replace("data = \"task_identity\"", "table = \"first\""),
            "phases[0].table = \"first\": applies only with data = \"tables\"",
        ),
        (
            base.replace("schedule = \"continue\"", "schedule = \"continue\"\nlr = 1e-3"),
            "phases[2].lr = 0.001: applies only with schedule = \"restart\"",
        ),
        (base.replace("lr = 2e-3", "lr = -1.0"), "phases[1].lr = -1: must be a finite number > 0"),
        (base.replace("warmup = 5", "warmup = 50"), "phases[1].warmup = 50: longer than the phase's 40 steps"),
        (
            base.replace("override_fraction = 0.5", "override_fraction = 1.5"),
            "phases[1].override_fraction = 1.5: must be in (0, 1]",
        ),
        (
            base.replace("targets = \"self\"", "override_fraction = 0.2"),
            "phases[2].override_fraction = 0.2: applies only with targets = \"override\"",
        ),
        (
            base.replace("data = \"task_identity\"", "targets = \"self\""),
            "phases[0].targets = \"self\": the first phase has no previous phase",
        ),
        (base.replace("name = \"own\"", "name = \"identity\""), "phases[2].name = \"identity\": duplicate phase name"),
        (base.replace("temperature = 0.2", "temperature = 0.0"), "phases[1].align.temperature = 0"),
        (base.replace("weight = 0.2", "weight = -1.0"), "phases[1].align.weight = -1"),
        (
            base.replace("data = \"task_identity\"", "data = \"task_identity\"\n[phases.align]\nweight = 0.1"),
            "phases[0].align = given: the alignment loss needs data = \"instructions\"",
        ),
    ];
    for (text, want) in cases {
        let got = error_of(&text);
        assert!(got.contains(want), "wanted {want:?}, got {got:?}");
        assert!(!got.contains('\n'), "one line: {got:?}");
    }
    // Unknown fields and values are parse errors with their place.
    let got = error_of(&base.replace("steps = 30", "steps = 30\ncolour = 1"));
    assert!(got.contains("unknown field `colour`"), "{got}");
    let got = error_of(&base.replace("data = \"task_identity\"", "data = \"songs\""));
    assert!(got.contains("unknown variant `songs`") && got.contains("line "), "{got}");
}

#[test]
fn the_cli_checks_phases_as_it_checks_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // `spec` prints the phases, and what it prints reads back as the same experiment.
    let good = write("good.toml", &spec());
    let out = bin().args(["spec", "--experiment"]).arg(&good).assert().success().get_output().stdout.clone();
    let printed = String::from_utf8(out).unwrap();
    assert!(printed.contains("[[phases]]") && printed.contains("name = \"overridden\""), "{printed}");
    let again = Experiment::from_toml(&printed, None).unwrap();
    assert_eq!(again.phases, Experiment::from_toml(&spec(), None).unwrap().phases);
    // A layer the model does not have, known once the model is.
    let bad = write("layer.toml", &spec().replace("temperature = 0.2", "temperature = 0.2\nlayer = 9"));
    bin()
        .args(["spec", "--experiment"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("phases[1].align.layer = 9: the model has layers 0..=2"));
    // The phases fix the run's length.
    bin()
        .args(["train", "--headless", "--device", "cpu", "--steps", "50", "--experiment"])
        .arg(&good)
        .arg("--out")
        .arg(dir.path().join("s"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--steps 50: this experiment's phases fix the run at 110 steps"));
}

#[test]
fn batches_follow_the_phase_data() {
    let exp = Experiment::from_toml(&spec(), None).unwrap();
    let plan = exp.plan(exp.default_steps());
    let mut sampler = BatchSampler::new(exp.seed);
    for e in sampler.batch(&exp, &plan.phases[0], 64) {
        assert_eq!(e.instruction, vec![identity_token(&exp.tasks[e.task].name)]);
    }
    for e in sampler.batch(&exp, &plan.phases[1], 64) {
        assert!(exp.tasks[e.task].distributions[0].matches(&e.instruction), "{:?}", e.instruction);
        assert_eq!(e.distribution, 0);
    }
    let tables = spec().replace("data = \"task_identity\"", "data = \"tables\"\ntable = \"second\"");
    let exp = Experiment::from_toml(&tables, None).unwrap();
    let plan = exp.plan(exp.default_steps());
    assert_eq!(plan.phases[0].data, PhaseData::Tables);
    let batch = sampler.batch(&exp, &plan.phases[0], 64);
    assert!(batch.iter().all(|e| e.task == 1 && e.instruction.is_empty()));
    assert!(batch.iter().all(|e| e.output == vec![exp.table(1)[e.input[0]]]));
    let enc = exp.encode(&batch[0], true).unwrap();
    // `<bos> <sep> input <ans> output <eos>`: nothing names the task.
    assert_eq!(enc.ids.len(), 6);
}

#[test]
fn overrides_change_exactly_the_fraction_asked_and_follow_the_seed() {
    let spec = spec().replace(
        "[\"A\", \"B\", \"C\", \"D\"]",
        "[\"A\", \"B\", \"C\", \"D\", \"E\", \"F\", \"G\", \"H\", \"I\", \"J\"]",
    );
    let exp = Experiment::from_toml(&spec, None).unwrap();
    let tables = exp.family.lookup().unwrap();
    for (fraction, want) in [(0.5, 5), (0.3, 3), (0.04, 0), (1.0, 10)] {
        let mut rng = rng_for(1, "test");
        let changed = tables.overridden(&[0, 2], fraction, &mut rng);
        for t in 0..3 {
            let n = (0..10).filter(|&i| changed.output(t, i) != tables.output(t, i)).count();
            assert_eq!(n, if t == 1 { 0 } else { want }, "task {t}, fraction {fraction}");
        }
        assert!((0..3).all(|t| (0..10).all(|i| changed.output(t, i).is_some_and(|s| s < 10))));
    }
    let draw = |seed| tables.overridden(&[0, 1, 2], 0.5, &mut rng_for(seed, "test"));
    assert_eq!(draw(4), draw(4));
    assert_ne!(draw(4), draw(5));
}

fn train(out: &Path, spec: &Path, extra: &[&str]) {
    bin()
        .args(["train", "--headless", "--json", "--device", "cpu", "--threads", "1", "--experiment"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

fn resume(out: &Path, extra: &[&str]) {
    bin()
        .args(["train", "--headless", "--json", "--device", "cpu", "--threads", "1", "--resume"])
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

fn log(dir: &Path) -> Vec<LogEntry> {
    std::fs::read_to_string(dir.join("log.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_phased_run_marks_its_boundaries_and_resumes_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("phases.toml");
    std::fs::write(&spec_file, spec()).unwrap();
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    train(&whole, &spec_file, &[]);
    let s = Session::open(&whole).unwrap();
    let marks: Vec<(&str, usize, usize, &str)> =
        s.manifest.phases.iter().map(|p| (p.name.as_str(), p.start, p.steps, p.data.as_str())).collect();
    assert_eq!(
        marks,
        [("identity", 0, 40, "task_identity"), ("overridden", 40, 40, "instructions"), ("own", 80, 30, "instructions")]
    );
    let steps: Vec<usize> = s.manifest.checkpoints.iter().map(|c| c.step).collect();
    assert!(steps.contains(&40) && steps.contains(&80) && steps.contains(&110), "{steps:?}");
    // The own-answer targets are kept with the session: one row per task, an answer per input.
    let own = &s.manifest.phase_targets["2"];
    assert_eq!(own.len(), 3);
    assert!(own.iter().all(|row| row.len() == 4 && row.iter().all(|&a| a < 4)));

    // The learning rate restarts at the second phase and goes on with the run's at the third.
    let lr: Vec<f64> = log(&whole).iter().map(|e| e.lr).collect();
    assert_eq!(lr.len(), 110);
    assert!((lr[40] - 2e-3 / 5.0).abs() < 1e-12, "phase 2 warms up again: {}", lr[40]);
    assert!((lr[44] - 2e-3).abs() < 1e-12, "{}", lr[44]);
    assert!(lr[39] < 3e-3 && lr[39] > 3e-4, "{}", lr[39]);
    let cosine = |step: usize| {
        let (lr, warmup, total, min) = (3e-3, 10.0, 110.0, 0.1);
        let p = (step as f64 - warmup) / (total - warmup);
        lr * min + 0.5 * (lr - lr * min) * (1.0 + (std::f64::consts::PI * p).cos())
    };
    assert!((lr[80] - cosine(80)).abs() < 1e-12, "{} vs {}", lr[80], cosine(80));

    // Stopped inside the first phase, at the second boundary and inside the third, then resumed:
    // the same run, bit for bit.
    train(&split, &spec_file, &["--stop-at", "23"]);
    resume(&split, &["--stop-at", "80"]);
    assert!(Session::open(&split).unwrap().manifest.phase_targets.is_empty());
    resume(&split, &["--stop-at", "95"]);
    resume(&split, &[]);
    let losses = |d: &Path| log(d).iter().map(|e| (e.step, e.loss)).collect::<Vec<_>>();
    assert_eq!(losses(&whole), losses(&split), "per-step losses must match bit for bit");
    let t = Session::open(&split).unwrap();
    assert_eq!(t.manifest.phase_targets, s.manifest.phase_targets);
    let acc = |s: &Session| {
        s.manifest.checkpoints.iter().map(|c| (c.step, c.seen_accuracy, c.unseen_accuracy)).collect::<Vec<_>>()
    };
    let last = |s: &Session| *acc(s).last().unwrap();
    assert_eq!(last(&s), last(&t));

    // `show` says where the phases are.
    let text = String::from_utf8(bin().arg("show").arg(&whole).assert().success().get_output().stdout.clone()).unwrap();
    assert!(text.contains("phases") && text.contains("overridden") && text.contains("40..80"), "{text}");
    let json = bin().args(["show", "--json"]).arg(&whole).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["phases"][1]["name"], "overridden");
    assert_eq!(v["phases"][2]["start"], 80);
    // Figures draw the boundaries (and are written at all with them).
    let figures = dir.path().join("figures");
    bin().args(["export", "--figures"]).arg(&figures).arg(&whole).assert().success();
    assert!(std::fs::read_dir(&figures).unwrap().count() > 0);

    // The alignment loss is part of what the second phase trains on: without it, the same steps
    // give other losses from the phase's first step on, and the same ones before.
    let unaligned = dir.path().join("unaligned.toml");
    std::fs::write(&unaligned, spec().replace("weight = 0.2", "weight = 0.0")).unwrap();
    let plain = dir.path().join("plain");
    train(&plain, &unaligned, &["--stop-at", "41"]);
    let (a, b) = (log(&whole), log(&plain));
    assert_eq!(a[..40].iter().map(|e| e.loss).collect::<Vec<_>>(), b[..40].iter().map(|e| e.loss).collect::<Vec<_>>());
    assert!(a[40].loss > b[40].loss, "the aligned loss adds a positive term: {} vs {}", a[40].loss, b[40].loss);
}
