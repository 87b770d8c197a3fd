//! `clusterscope analyze` through the real binary, on the tiny transformers-made fixtures of
//! tests/fixtures/hf: an ordinary session comes out (show, check, export, t-SNE, replay), its
//! hidden states are transformers' own, and every bad input is one line and exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pty_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use clusterscope::report::npy;
use clusterscope::session::Session;
use pty_support::Pty;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(name)
}

/// transformers' hidden states of the fixture's prompts: [prompt][layer][position][dim].
#[derive(serde::Deserialize)]
struct Reference {
    prompts: Vec<String>,
    hidden: Vec<Vec<Vec<Vec<f32>>>>,
}

fn reference(name: &str) -> Reference {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("reference.json")).unwrap()).unwrap()
}

/// A data file of the fixture's three reference prompts (two tasks) and one more, held out.
fn data_of_reference(dir: &Path, r: &Reference) -> PathBuf {
    let lines = [
        serde_json::json!({"instruction": r.prompts[0], "task": "first"}),
        serde_json::json!({"instruction": r.prompts[1], "task": "first"}),
        serde_json::json!({"instruction": r.prompts[2], "task": "second"}),
        serde_json::json!({"instruction": "one more line", "task": "second", "split": "unseen"}),
    ];
    let path = dir.join("data.jsonl");
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("clusterscope").unwrap();
    c.env("RAYON_NUM_THREADS", "2");
    c
}

fn analyze(models: &[PathBuf], data: &Path, out: &Path) -> assert_cmd::assert::Assert {
    let mut c = bin();
    c.arg("analyze");
    for m in models {
        c.arg("--model").arg(m);
    }
    c.arg("--data").arg(data).arg("--out").arg(out).args(["--device", "cpu"]).assert()
}

#[test]
fn analyzed_hidden_states_are_transformers_at_every_layer_and_the_session_reads_like_any_other() {
    let tmp = tempfile::tempdir().unwrap();
    let r = reference("llama");
    let data = data_of_reference(tmp.path(), &r);
    let out = tmp.path().join("s");
    let models = [fixture("llama"), fixture("llama-sharded")];
    let done = analyze(&models, &data, &out).success();
    let stdout = String::from_utf8_lossy(&done.get_output().stdout).to_string();
    assert!(stdout.contains("analysed 2 model(s)"), "{stdout}");

    let s = Session::open(&out).unwrap();
    assert_eq!(s.snapshots.len(), 2);
    let source = s.manifest.analyzed.as_ref().unwrap();
    let labels: Vec<&str> = source.models.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["llama", "llama-sharded"]);
    assert_eq!(source.models[0].architecture, "LlamaForCausalLM");
    assert!(source.models[0].parameters > 10_000, "{}", source.models[0].parameters);
    assert_eq!(s.manifest.task_names, ["first", "second"]);
    // Seen points first, then the held-out one.
    assert_eq!(s.points.iter().map(|p| p.seen).collect::<Vec<_>>(), [true, true, true, false]);
    assert!(s.snapshots.iter().all(|snap| snap.analysis.layers.len() == 3));

    // Export reads the stored states: every layer's row of each reference prompt is transformers'
    // state at the prompt's last token (the default template is the instruction alone).
    for step in [0, 1] {
        let exp = tmp.path().join(format!("export-{step}"));
        bin().arg("export").arg(&out).args(["--checkpoint", &step.to_string(), "--out"]).arg(&exp).assert().success();
        for l in 0..=2 {
            let (shape, hidden) = npy::read::<f32>(&exp.join(format!("hidden_{l}.npy"))).unwrap();
            assert_eq!(shape, vec![4, 32]);
            for p in 0..3 {
                let layer = &r.hidden[p][l];
                let theirs = layer.last().unwrap();
                let scale = layer.iter().flatten().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                let ours = &hidden[p * 32..(p + 1) * 32];
                let err = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
                assert!(err < 1e-4, "model {step}, layer {l}, prompt {p}: relative error {err}");
            }
        }
    }

    let show = bin().arg("show").arg(&out).assert().success();
    let text = String::from_utf8_lossy(&show.get_output().stdout).to_string();
    assert!(text.contains("analysed 2 model(s)") && text.contains("llama-sharded"), "{text}");
    let json = bin().args(["show", "--json"]).arg(&out).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v["analyzed"]["models"][1]["label"], "llama-sharded");

    let check = bin().arg("check").arg(&out).assert().success();
    assert!(String::from_utf8_lossy(&check.get_output().stdout).contains("intact (2 checkpoints, 6 files verified"));

    let tb = tmp.path().join("tb");
    bin().arg("export").arg(&out).args(["--format", "tensorboard", "--out"]).arg(&tb).assert().success();
    assert!(tb.join("projector_config.pbtxt").is_file());

    let ts = tmp.path().join("tsne");
    bin().arg("export").arg(&out).args(["--projection", "tsne", "--layer", "2", "--out"]).arg(&ts).assert().success();
    let (shape, _) = npy::read::<f32>(&ts.join("tsne_2.npy")).unwrap();
    assert_eq!(shape, vec![4, 2]);

    // A free-text probe from the command line: the model of the step asked, its continuation and
    // an attribution per instruction token.
    let probe = bin().arg("probe").arg(&out).args(["the cat sat", "--checkpoint", "1", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&probe.get_output().stdout).unwrap();
    assert_eq!(v["step"], 1);
    assert!(!v["answer"].as_str().unwrap().is_empty());
    assert!(v["attribution"].as_array().unwrap().len() >= 3, "{v}");
    assert!(["first", "second"].contains(&v["nearest_task"].as_str().unwrap()));

    // Nothing to resume in a session of pretrained models.
    let resume = bin().args(["train", "--headless", "--resume"]).arg(&out).assert().code(2);
    assert!(String::from_utf8_lossy(&resume.get_output().stderr).contains("made by `analyze`"));
}

#[test]
fn a_damaged_stored_state_is_found_by_check_and_refused_by_export() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_of_reference(tmp.path(), &reference("gpt2"));
    let out = tmp.path().join("s");
    analyze(&[fixture("gpt2")], &data, &out).success();
    let hidden = out.join("checkpoints/step-000000/hidden.safetensors");
    let mut bytes = std::fs::read(&hidden).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&hidden, bytes).unwrap();
    let check = bin().arg("check").arg(&out).assert().code(2);
    assert!(String::from_utf8_lossy(&check.get_output().stdout).contains("hidden.safetensors: checksum mismatch"));
    let export = bin().arg("export").arg(&out).arg("--out").arg(tmp.path().join("e")).assert().code(2);
    let err = String::from_utf8_lossy(&export.get_output().stderr).to_string();
    assert!(err.contains("hidden.safetensors") && err.lines().count() == 1, "{err}");
}

/// Runs `analyze` expecting exit 2 with one line that contains each of `needles`; no session is
/// left behind.
fn refused(models: &[PathBuf], data: &Path, needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let a = analyze(models, data, &out).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.join("manifest.json").exists(), "a session was written for {err}");
}

/// A copy of fixture `name` in `dir`, changed by `change`.
fn broken(dir: &Path, name: &str, change: impl FnOnce(&Path)) -> PathBuf {
    let to = dir.join(format!("{name}-broken"));
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    change(&to);
    to
}

#[test]
fn bad_models_are_one_line_naming_the_file_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_of_reference(tmp.path(), &reference("llama"));
    let truncated = broken(tmp.path(), "llama", |d| {
        let f = d.join("model.safetensors");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    });
    refused(&[truncated], &data, &["model.safetensors", "truncated"]);

    let unknown = broken(tmp.path(), "gpt2", |d| {
        let f = d.join("config.json");
        let text = std::fs::read_to_string(&f).unwrap().replace("GPT2LMHeadModel", "MambaForCausalLM");
        let text = text.replace("\"model_type\": \"gpt2\"", "\"model_type\": \"mamba\"");
        std::fs::write(&f, text).unwrap();
    });
    refused(&[unknown], &data, &["config.json", "Mamba", "LlamaForCausalLM"]);

    let small_vocab = broken(tmp.path(), "qwen2", |d| {
        let f = d.join("config.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        v["vocab_size"] = serde_json::json!(10);
        std::fs::write(&f, v.to_string()).unwrap();
    });
    refused(&[small_vocab], &data, &["tokenizer.json", "vocab_size is 10"]);

    let no_tokenizer = broken(tmp.path(), "mistral", |d| std::fs::remove_file(d.join("tokenizer.json")).unwrap());
    refused(&[fixture("mistral"), no_tokenizer], &data, &["tokenizer.json"]);

    refused(&[tmp.path().join("nowhere")], &data, &["nowhere"]);
    // Two shapes in one session.
    let shallow = broken(tmp.path(), "llama", |d| {
        let f = d.join("config.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        v["num_hidden_layers"] = serde_json::json!(1);
        std::fs::write(&f, v.to_string()).unwrap();
    });
    refused(
        &[fixture("gpt2"), shallow],
        &data,
        &["2 layers of width 32", "1 of width 32", "one session compares models of one shape"],
    );
}

#[test]
fn bad_data_is_one_line_naming_the_file_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let model = [fixture("llama")];
    refused(&model, &write("empty.jsonl", b"\n\n"), &["empty.jsonl", "no prompts"]);
    let one = b"{\"instruction\": \"a b\", \"task\": \"x\"}\n{\"instruction\": \"c d\", \"task\": \"x\"}\n{\"instruction\": \"e f\", \"task\": \"y\"}\n";
    refused(&model, &write("one.jsonl", one), &["one.jsonl", "\"y\" has only one prompt"]);
    let mut latin1 = b"{\"instruction\": \"a b\", \"task\": \"x\"}\n".to_vec();
    latin1.extend(b"{\"instruction\": \"caf\xe9\", \"task\": \"x\"}\n");
    refused(&model, &write("latin1.jsonl", &latin1), &["latin1.jsonl, line 2", "not UTF-8"]);
    refused(&model, &write("notjson.jsonl", b"instruction,task\n"), &["notjson.jsonl, line 1"]);
    refused(&model, &tmp.path().join("missing.jsonl"), &["missing.jsonl"]);
    let mut c = bin();
    let a = c
        .arg("analyze")
        .arg("--model")
        .arg(fixture("llama"))
        .args(["--template", "no slot", "--out"])
        .arg(tmp.path().join("s"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("--template \"no slot\": it has no {instruction}"));
}

#[test]
fn the_builtin_prompts_with_a_template_and_the_mean_position_make_a_session() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    bin()
        .arg("analyze")
        .arg("--model")
        .arg(fixture("gpt_neox"))
        .args(["--data", "builtin", "--template", "Question: {instruction}\\nAnswer:", "--position", "mean", "--out"])
        .arg(&out)
        .args(["--device", "cpu"])
        .assert()
        .success();
    let s = Session::open(&out).unwrap();
    assert!(s.manifest.task_names.len() >= 8);
    assert_eq!(s.points.len(), 8 * 34);
    let source = s.manifest.analyzed.unwrap();
    assert_eq!((source.position.as_str(), source.template.as_str()), ("mean", "Question: {instruction}\nAnswer:"));
}

#[test]
fn an_analysed_session_replays_in_a_terminal_with_the_models_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_of_reference(tmp.path(), &reference("llama"));
    let out = tmp.path().join("s");
    analyze(&[fixture("llama"), fixture("llama-bf16")], &data, &out).success();
    let mut pty = Pty::spawn(&["replay", out.to_str().unwrap()], 110, 32);
    let screen =
        pty.wait_for("replay screen", |s| s.contains("REPLAY") && s.contains("llama-bf16"), Duration::from_secs(30));
    assert!(screen.contains("layer"), "{screen}");
    // Back to the first model: its name replaces the second's.
    pty.send("h");
    pty.wait_for("first model", |s| s.contains("llama (1/2)"), Duration::from_secs(10));
    // A free-text probe: the model answers with a continuation.
    pty.send("p");
    pty.send("the cat sat\r");
    pty.wait_for("probe answer", |s| s.contains("continues"), Duration::from_secs(30));
    pty.send("\x1b");
    pty.send("q");
    pty.exits_restored("after q", Duration::from_secs(10));
}
