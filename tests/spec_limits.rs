//! Specs whose sizes would exhaust memory or time are refused by `spec` and `train` at once,
//! naming the field and the computed size; `[model]` is validated by `spec` as by `train`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use assert_cmd::Command;
use proptest::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// A two-task spec whose first task is named by `instruction`, with `extra` TOML appended.
fn spec_with(instruction: &str, extra: &str) -> String {
    format!(
        "name = \"limits\"\nsymbols = [\"x\", \"y\", \"z\", \"w\"]\nheld_out = []\n\n\
         [[tasks]]\nname = \"a\"\ninstructions = ['{instruction}']\n\n\
         [[tasks]]\nname = \"b\"\ninstructions = [\"do b\"]\n\n{extra}\n"
    )
}

/// Runs `clusterscope ARGS --experiment FILE` on `spec` and returns (exit code, stderr, seconds).
fn run_on(dir: &Path, spec: &str, args: &[&str]) -> (Option<i32>, String, f64) {
    let file = dir.join("spec.toml");
    std::fs::write(&file, spec).unwrap();
    let start = Instant::now();
    let out = Command::cargo_bin("clusterscope")
        .unwrap()
        .args(args)
        .arg("--experiment")
        .arg(&file)
        .current_dir(dir)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), start.elapsed().as_secs_f64())
}

fn assert_refused(spec: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["spec"][..], &["train", "--headless", "--out", "run"][..]] {
        let (code, err, secs) = run_on(dir.path(), spec, args);
        assert_eq!(code, Some(2), "{args:?} should refuse with exit 2, got {code:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err:?} should mention {n:?}");
        }
        assert!(secs < 10.0, "{args:?} took {secs:.1} s");
        assert!(!dir.path().join("run").exists(), "nothing is written for a refused spec");
    }
}

#[test]
fn nested_repetition_is_refused_with_its_computed_length() {
    assert_refused(
        &spec_with("invert ((((zz){16}){16}){16}){16}", ""),
        &["tasks[0].instructions[0]", "65537 words", "at most 256"],
    );
    // Sizes past what a machine word counts saturate rather than wrap around to something small.
    let huge = format!("invert {}zz{}", "(".repeat(30), "){16}".repeat(30));
    assert_refused(&spec_with(&huge, ""), &["tasks[0].instructions[0]", "too many to count"]);
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}zz{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_refused(&spec_with(&deep, ""), &["tasks[0].instructions[0]", "nest more than 32 deep"]);
    let toml_deep = format!("name = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_refused(&toml_deep, &["line 1", "recursion limit"]);
}

#[test]
fn huge_vocabularies_are_refused_quickly_and_large_ones_build_in_linear_time() {
    let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join("|");
    assert_refused(&spec_with(&words(100_000), ""), &["100002 distinct words", "at most 50000"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, err, secs) = run_on(dir.path(), &spec_with(&format!("pick ({})", words(40_000)), ""), &["spec"]);
    assert_eq!(code, Some(0), "{err}");
    // Quadratic word extraction took minutes at this size.
    assert!(secs < 10.0, "{secs:.1} s");
}

#[test]
fn training_sizes_have_caps() {
    for (field, value) in [
        ("batch_size", "100000000"),
        ("analysis_per_task", "10000000"),
        ("unseen_per_task", "10000000"),
        ("checkpoints", "100000000"),
    ] {
        assert_refused(
            &spec_with("do a", &format!("[train]\n{field} = {value}")),
            &[&format!("train.{field} = {value}")],
        );
    }
}

#[test]
fn spec_validates_the_model_section() {
    let cases = [
        ("d_model = 0", "model.d_model = 0"),
        ("d_model = 100000", "model.d_model = 100000"),
        ("heads = 3", "model.heads = 3"),
        ("layers = 0", "model.layers = 0"),
        ("context = 4", "model.context = 4"),
        ("context = 100000000", "model.context = 100000000"),
        ("preset = \"huge\"", "model.preset = \"huge\""),
    ];
    for (line, needle) in cases {
        assert_refused(&spec_with("do a", &format!("[model]\n{line}")), &[needle]);
    }
    // Each size within its cap, but together far beyond any machine.
    assert_refused(
        &spec_with("do a", "[model]\nd_model = 8192\nlayers = 64\n[train]\nbatch_size = 16384"),
        &["train.batch_size = 16384", "GiB of memory"],
    );
}

/// A random word regex: words, groups, alternation, `?` and bounded repetition, nested.
fn expression() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec!["a", "b", "c", "do", "zz"]).prop_map(str::to_string);
    word.prop_recursive(40, 400, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join("|"))),
            (inner.clone(), 0usize..=16, 0usize..=16).prop_map(|(e, a, b)| {
                let (lo, hi) = (a.min(b), a.max(b));
                format!("({e}){{{lo},{hi}}}")
            }),
            inner.prop_map(|e| format!("({e})?")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the expression, `spec` answers (accepts, or refuses in one line) within seconds
    /// and within 1 GiB of address space: the limit makes a runaway allocation fail the test.
    #[test]
    fn any_nested_expression_is_answered_within_time_and_memory(a in expression(), b in expression()) {
        let dir = tempfile::tempdir().unwrap();
        // Task a is named by one random expression and held out by another task's: matching,
        // sampling and the overlap checks all run on them.
        let spec = format!(
            "name = \"prop\"\nsymbols = [\"x\", \"y\", \"z\"]\nheld_out = [1]\n\n\
             [[tasks]]\nname = \"a\"\ninstructions = ['go {a}', 'first one']\n\n\
             [[tasks]]\nname = \"b\"\ninstructions = ['go {b}', 'second one']\n"
        );
        let file = dir.path().join("spec.toml");
        std::fs::write(&file, &spec).unwrap();
        let bin = assert_cmd::cargo::cargo_bin("clusterscope");
        let start = Instant::now();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1048576 && exec \"$0\" spec --experiment \"$1\"")
            .arg(&bin)
            .arg(&file)
            .output()
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(matches!(out.status.code(), Some(0 | 2)), "{:?}: {err}\n{spec}", out.status);
        prop_assert!(secs < 5.0, "{secs:.1} s for\n{spec}");
        if out.status.code() == Some(2) {
            prop_assert_eq!(err.trim().lines().count(), 1, "{}", err);
        }
    }
}
