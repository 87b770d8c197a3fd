//! The experiment spec: the default is valid, bad specs get messages naming field and value.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use clusterscope::experiment::spec::ExperimentSpec;
use clusterscope::experiment::Experiment;
use common::tiny_spec;

#[test]
fn default_experiment_is_valid_and_as_documented() {
    let exp = Experiment::default_experiment(None).unwrap();
    assert_eq!(exp.num_tasks(), 8);
    assert_eq!(exp.symbols.len(), 16);
    assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
    for (i, t) in exp.tasks.iter().enumerate() {
        assert_eq!(t.distributions.len(), 4);
        assert_eq!(t.unseen, vec![3]);
        let mut sorted = exp.table(i);
        sorted.sort();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>(), "generated tables are permutations");
    }
    // No word names a task on its own (the depth of the clustering rests on it, README "Depth at
    // the rise"): every word of a task's instructions is in another task's too.
    let words: Vec<std::collections::HashSet<String>> =
        exp.tasks.iter().map(|t| t.distributions.iter().flat_map(|d| d.words()).collect()).collect();
    for (i, own) in words.iter().enumerate() {
        for w in own {
            assert!(words.iter().enumerate().any(|(j, o)| j != i && o.contains(w)), "{w:?} names task {i} alone");
        }
    }
    let set = exp.analysis_set();
    assert_eq!(set.seen.len(), 8 * 256);
    assert_eq!(set.unseen.len(), 8 * 64);
    // Unseen instructions really are unseen: no trained distribution of any task produces them.
    for e in &set.unseen {
        assert!(!exp.is_seen_instruction(&e.instruction), "{:?}", e.instruction);
        assert!(exp.tasks[e.task].distributions[e.distribution].matches(&e.instruction));
    }
    // The tokenizer covers every word, and encodings follow `<bos> words <sep> x <ans> y <eos>`.
    let e = &set.seen[0];
    let enc = exp.encode(e, true).unwrap();
    assert_eq!(enc.ids.len(), e.instruction.len() + 6);
    assert_eq!(exp.tokenizer.token(enc.ids[enc.answer_pos]), Some("<ans>"));
    assert_eq!(exp.tokenizer.symbol_of(enc.ids[enc.answer_pos + 1]), Some(e.output[0]));
    assert_eq!(enc.answer_len, 1, "a lookup answer is one symbol, its <eos> not predicted");
    // The spec round-trips through TOML.
    let again = ExperimentSpec::from_toml(&exp.spec.to_toml().unwrap()).unwrap();
    assert_eq!(again, exp.spec);
}

fn error_of(text: &str) -> String {
    match Experiment::from_toml(text, None) {
        Ok(_) => panic!("spec should be rejected:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_error(text: &str, needles: &[&str]) {
    let msg = error_of(text);
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} should mention {n:?}");
    }
}

#[test]
fn bad_specs_name_the_field_and_value() {
    let tiny = tiny_spec();
    assert_error(
        &tiny.replace("\"apply first rule\"", "\"apply first rule*\""),
        &["tasks[0].instructions[1]", "apply first rule*", "unbounded repetition"],
    );
    assert_error(&tiny.replace("\"apply second rule\"", "\"\""), &["tasks[1].instructions[1]", "empty expression"]);
    assert_error(
        &tiny.replace("\"apply second rule\"", "\"(apply second\""),
        &["tasks[1].instructions[1]", "unbalanced"],
    );
    assert_error(
        &tiny.replace("name = \"second\"", "name = \"first\""),
        &["tasks[1].name", "\"first\"", "duplicate task name"],
    );
    assert_error(
        &tiny.replace("held_out = [2]", "held_out = [0, 1, 2]"),
        &["held_out", "every distribution", "held out"],
    );
    assert_error(
        &tiny.replace("symbols = [\"A\", \"B\", \"C\", \"D\"]", "symbols = [\"A\", \"B\", \"A\"]"),
        &["symbols", "\"A\"", "duplicate symbol"],
    );
    assert_error(
        &tiny.replace("symbols = [\"A\", \"B\", \"C\", \"D\"]", "symbols = [\"A\", \"rule\"]"),
        &["symbols", "\"rule\"", "instruction word"],
    );
    assert_error(&tiny.replace("steps = 300", "steps = 0"), &["train.steps", "0"]);
    assert_error(&tiny.replace("lr = 3e-3", "lr = -1.0"), &["train.lr", "-1"]);
    assert_error(&tiny.replace("bogus", "x").replace("[train]", "[train]\nbogus = 1"), &["bogus"]);
    assert_error("name = \"x\"\nsymbols = [\"A\"]\ntasks = []", &["symbols", "at least 2"]);

    // K < 2.
    let one_task: String = tiny.split("[[tasks]]").take(2).collect::<Vec<_>>().join("[[tasks]]");
    assert_error(&one_task, &["tasks", "1 task(s)", "K >= 2"]);

    // Explicit tables: missing input, unknown output.
    let with_table =
        tiny.replacen("name = \"first\"", "name = \"first\"\ntable = { A = \"B\", B = \"C\", C = \"D\" }", 1);
    assert_error(&with_table, &["tasks[0].table", "missing \"D\"", "every input symbol"]);
    let bad_out = tiny.replacen(
        "name = \"first\"",
        "name = \"first\"\ntable = { A = \"B\", B = \"C\", C = \"D\", D = \"Z\" }",
        1,
    );
    assert_error(&bad_out, &["tasks[0].table.D", "\"Z\"", "not one of `symbols`"]);

    // A held-out distribution that only repeats trained instructions.
    let dup = tiny.replace("\"first rule (please)?\"", "\"apply first rule\"");
    assert_error(&dup, &["tasks[0].instructions[2]", "only produces instructions"]);
    // Per-task held-out index out of range.
    let oob = tiny.replacen("name = \"first\"", "name = \"first\"\nheld_out = [7]", 1);
    assert_error(&oob, &["tasks[0].held_out", "7", "only 3 distributions"]);
}

#[test]
fn explicit_tables_are_used() {
    let text = tiny_spec().replacen(
        "name = \"first\"",
        "name = \"first\"\ntable = { A = \"B\", B = \"C\", C = \"D\", D = \"A\" }",
        1,
    );
    let exp = Experiment::from_toml(&text, None).unwrap();
    assert_eq!(exp.table(0), vec![1, 2, 3, 0]);
}

#[test]
fn held_out_words_never_trained_get_a_warning() {
    let text = tiny_spec().replace("\"first rule (please)?\"", "\"first rule (pronto)?\"");
    let exp = Experiment::from_toml(&text, None).unwrap();
    assert!(
        exp.warnings.iter().any(|w| w.contains("pronto") && w.contains("never seen in training")),
        "{:?}",
        exp.warnings
    );
}

#[test]
fn held_out_past_every_task_and_a_pipe_symbol_are_refused() {
    let spec = tiny_spec();
    let held = spec.replacen("held_out = [2]", "held_out = [99]", 1);
    assert_ne!(held, spec, "the tiny spec holds out distribution 2");
    assert_error(&held, &["held_out = 99", "no task has a distribution 99"]);
    let pipe = spec.replacen("symbols = [\"A\"", "symbols = [\"A|\"", 1);
    assert_ne!(pipe, spec, "the tiny spec names symbol A first");
    assert_error(&pipe, &["symbols", "\"A|\"", "`|` is reserved"]);
}
