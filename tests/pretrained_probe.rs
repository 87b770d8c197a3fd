//! Free-text probes of pretrained models, on the committed tiny fixtures: the continuation is
//! transformers' greedy `generate` (tests/fixtures/hf/*/generate.json, written by
//! scripts/hf_generate_reference.py), the attribution is the first token's logit differentiated
//! along each input embedding, the hidden states are what extraction reads, and the probe
//! thread serves this engine as it serves ours.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use candle_core::{Device, Tensor};
use clusterscope::error::{ErrorKind, Kind};
use clusterscope::experiment::prompts::{Prompt, Template};
use clusterscope::model::pretrained::{LoadOptions, Pretrained};
use clusterscope::model::{CausalLm, DeviceChoice};
use clusterscope::record::ProbeRequest;
use clusterscope::session::{probes, SessionDir};
use clusterscope::train::extract::{hidden_states, ReadAt, Tokens};
use clusterscope::train::pretrained_prober::{greedy_continuation, PretrainedProber, MAX_NEW_TOKENS};
use clusterscope::train::prober::spawn_prober;
use clusterscope::train::ProbeFault;

#[derive(serde::Deserialize)]
struct Generated {
    max_new_tokens: usize,
    eos_token_id: Option<u32>,
    prompts: Vec<String>,
    ids: Vec<Vec<u32>>,
    generated: Vec<Vec<u32>>,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(name)
}

fn generated(name: &str) -> Generated {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("generate.json")).unwrap()).unwrap()
}

fn load(name: &str) -> Pretrained {
    Pretrained::load(&fixture(name), &LoadOptions::default()).unwrap()
}

fn prober(names: &[&str], template: &str, at: ReadAt) -> PretrainedProber {
    let models = names.iter().map(|n| fixture(n)).collect();
    PretrainedProber::new(models, Template::new(template).unwrap(), at, DeviceChoice::Cpu).unwrap()
}

const TEMPLATE: &str = "Question: {instruction}\\nAnswer:";

/// The prompt's ids and its instruction's tokens, as the prober makes them.
fn tokens(model: &Pretrained, template: &str, text: &str) -> Tokens {
    let p = Prompt { instruction: text.into(), task: String::new(), seen: true, input: None };
    let rendered = Template::new(template).unwrap().render(&p);
    let (ids, instruction) = model.tokenizer().encode_span(&rendered.text, rendered.instruction).unwrap();
    Tokens { ids, instruction: instruction.unwrap() }
}

#[test]
fn greedy_continuations_equal_transformers_generate() {
    for name in ["llama", "gpt2", "qwen2", "mistral", "gpt_neox"] {
        let model = load(name);
        let g = generated(name);
        assert_eq!(g.max_new_tokens, MAX_NEW_TOKENS);
        let eos: Vec<u32> = g.eos_token_id.into_iter().collect();
        let mut engine = prober(&[name], "{instruction}", ReadAt::Last);
        for (p, prompt) in g.prompts.iter().enumerate() {
            assert_eq!(model.encode(prompt).unwrap(), g.ids[p], "{name}: ids of {prompt:?}");
            let ours = greedy_continuation(&model, &g.ids[p], g.max_new_tokens, &eos, &Device::Cpu).unwrap();
            assert_eq!(ours, g.generated[p], "{name}: continuation of {prompt:?}");
            // The prober decodes the same tokens (none of them is an end of sequence here).
            let answer = engine.run(prompt, 0).unwrap();
            assert_eq!(answer.answer, model.decode(&g.generated[p]).unwrap(), "{name}: {prompt:?}");
            assert!(answer.answer_probability > 0.0 && answer.answer_probability <= 1.0);
            assert!(answer.input.is_empty());
        }
    }
}

#[test]
fn a_continuation_ends_at_the_end_of_sequence_and_at_the_context() {
    let model = load("gpt2");
    let ids = &generated("gpt2").ids[0];
    let free = greedy_continuation(&model, ids, 8, &[], &Device::Cpu).unwrap();
    // Its first token not seen before taken as the end: kept, and nothing after it.
    let k = (1..free.len()).find(|&k| !free[..k].contains(&free[k])).unwrap();
    let stopped = greedy_continuation(&model, ids, 8, &[free[k]], &Device::Cpu).unwrap();
    assert_eq!(stopped, free[..=k]);
    // Three positions short of GPT-2's 64: three new tokens at most.
    let long: Vec<u32> = ids.iter().copied().cycle().take(model.context() - 3).collect();
    assert_eq!(greedy_continuation(&model, &long, 8, &[], &Device::Cpu).unwrap().len(), 3);
}

#[test]
fn the_attribution_is_the_first_tokens_logit_along_each_input_embedding() {
    let text = "the lazy cat sat";
    for name in ["llama", "gpt2", "gpt_neox"] {
        let answer = prober(&[name], TEMPLATE, ReadAt::Last).run(text, 0).unwrap();
        let model = load(name);
        let p = tokens(&model, TEMPLATE, text);
        let first = greedy_continuation(&model, &p.ids, 1, &[], &Device::Cpu).unwrap()[0];
        assert_eq!(answer.attribution.len(), p.instruction.len(), "{name}: one value per instruction token");
        assert_eq!(answer.words.len(), p.instruction.len());
        let spelt: String = answer.words.concat().chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(spelt, text.replace(' ', ""), "{name}: {:?}", answer.words);

        let t = p.ids.len();
        let tokens = Tensor::new(p.ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let emb = model.embed(&tokens).unwrap();
        let last = Tensor::new(&[(t - 1) as u32], &Device::Cpu).unwrap();
        let logit = |e: &Tensor| -> f32 {
            let out = model.forward_embedded(e, 1, t, Some(&last), None).unwrap();
            out.logits.get(0).unwrap().get(first as usize).unwrap().to_scalar().unwrap()
        };
        // Gradient x input of row i is the derivative of the logit as row i is scaled about
        // itself: (1 + s) e_i. The values are small (1e-3 to 1), so f32 rounding of the logit,
        // divided by 2h, is what limits the estimate: h = 5e-3 keeps it near 1e-4 while the
        // curvature of these random weights stays below it.
        let h = 5e-3f64;
        let rounding = 4.0 * logit(&emb).abs().max(1.0) * f32::EPSILON / (2.0 * h as f32);
        let scaled = |i: usize, s: f64| -> Tensor {
            let factors: Vec<f32> = (0..t).map(|r| if r == i { (1.0 + s) as f32 } else { 1.0 }).collect();
            let factors = Tensor::from_vec(factors, (t, 1), &Device::Cpu).unwrap();
            emb.broadcast_mul(&factors).unwrap()
        };
        let numeric: Vec<f32> =
            p.instruction.clone().map(|i| (logit(&scaled(i, h)) - logit(&scaled(i, -h))) / (2.0 * h as f32)).collect();
        eprintln!("{name}: analytic {:?}, numeric {numeric:?}", answer.attribution);
        let scale = numeric.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "{name}: the instruction moves the logit: {numeric:?}");
        for (i, (a, n)) in answer.attribution.iter().zip(&numeric).enumerate() {
            assert!((a - n).abs() <= 2e-2 * scale + rounding, "{name} token {i}: analytic {a} against numeric {n}");
        }
    }
}

#[test]
fn hidden_states_are_what_extraction_reads_at_the_sessions_position() {
    let text = "reverse these words please";
    for name in ["llama", "qwen2", "gpt2"] {
        let model = load(name);
        let p = tokens(&model, TEMPLATE, text);
        assert!(p.instruction.start > 0 && p.instruction.end < p.ids.len(), "{name}: the template surrounds it");
        for at in [ReadAt::Last, ReadAt::Mean] {
            let answer = prober(&[name], TEMPLATE, at).run(text, 0).unwrap();
            let want = hidden_states(&model, std::slice::from_ref(&p), at, 0, &Device::Cpu).unwrap();
            assert_eq!(answer.hidden.len(), model.hidden_layers());
            for (l, (ours, theirs)) in answer.hidden.iter().zip(&want).enumerate() {
                let theirs: Vec<f32> = theirs.flatten_all().unwrap().to_vec1().unwrap();
                assert_eq!(ours.len(), model.d_model());
                let diff = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(diff < 1e-5, "{name} {at:?} layer {l}: {diff}");
            }
        }
    }
}

#[test]
fn each_step_is_its_model_and_what_cannot_be_probed_is_one_line() {
    let mut engine = prober(&["llama", "gpt2"], TEMPLATE, ReadAt::Last);
    let text = "hello there";
    let llama = engine.run(text, 0).unwrap();
    let gpt2 = engine.run(text, 1).unwrap();
    assert_eq!(gpt2, prober(&["gpt2"], TEMPLATE, ReadAt::Last).run(text, 0).unwrap());
    assert_eq!(engine.run(text, 0).unwrap(), llama, "back to the first model, the same answer");
    assert_ne!(llama.hidden, gpt2.hidden);

    let e = engine.run(text, 2).unwrap_err();
    assert!(matches!(e, ProbeFault::NoModel { step: 2, count: 2 }), "{e}");
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert_eq!(engine.run("   ", 0).unwrap_err().kind(), ErrorKind::Usage);
    let long = vec!["word"; 200].join(" ");
    let e = prober(&["gpt2"], TEMPLATE, ReadAt::Last).run(&long, 0).unwrap_err();
    assert!(matches!(e, ProbeFault::TooLong { context: 64, .. }), "{e}");

    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("gpt2").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let mut broken =
        PretrainedProber::new(vec![dir.path().to_path_buf()], Template::default(), ReadAt::Last, DeviceChoice::Cpu)
            .unwrap();
    let e = broken.run(text, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadData);
    let msg = e.to_string();
    assert!(msg.contains("model.safetensors") && !msg.contains('\n'), "{msg}");
}

#[test]
fn the_probe_thread_answers_pretrained_probes_and_saves_them_in_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let engine = prober(&["llama", "gpt2"], TEMPLATE, ReadAt::Mean).saving_to(dir.path());
    let (tx, rx) = mpsc::channel();
    let probes = spawn_prober(engine, move |r| tx.send(r).is_ok()).unwrap();
    let text = "count the letters";
    probes.send(ProbeRequest { id: 1, text: text.into(), step: 1, save: true }.into()).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let want = prober(&["llama", "gpt2"], TEMPLATE, ReadAt::Mean).run(text, 1).unwrap();
    assert_eq!((r.id, r.step), (1, 1));
    assert_eq!(r.outcome.unwrap(), want);
    probes.send(ProbeRequest { id: 2, text: "no such model".into(), step: 5, save: true }.into()).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let e = r.outcome.unwrap_err();
    assert!(e.contains("no model at step 5"), "{e}");
    let saved = probes::read(&SessionDir::new(dir.path()));
    assert_eq!(saved.len(), 1, "only the probe that ran is recorded: {saved:?}");
    assert_eq!((saved[0].text.as_str(), saved[0].step), (text, 1));
}
