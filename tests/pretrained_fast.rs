//! The fast inference path of pretrained models against the composed candle ops, on every
//! committed fixture: several sequences at once (batched rows), longer than one block of
//! query rows, with grouped-query heads (Llama, Qwen2, Mistral), a sliding window (Mistral),
//! partial rotation and a parallel residual (GPT-NeoX) and learned positions (GPT-2).
//!
//! Tolerance: per layer, max |fast - composed| / max |composed| over the whole layer. The two
//! paths add the same products in different orders, so they differ by rounding only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor, Var};
use clusterscope::model::pretrained::{LoadOptions, Pretrained};
use clusterscope::model::{CausalLm, Kernels};
use rand::{Rng, SeedableRng};

const TOLERANCE: f32 = 2e-5;

const FIXTURES: [&str; 8] =
    ["llama", "llama-sharded", "llama-bf16", "qwen2", "mistral", "gpt2", "gpt_neox", "gpt_neox-serial"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(name)
}

fn rel_err(ours: &Tensor, theirs: &Tensor) -> f32 {
    let (a, b): (Vec<f32>, Vec<f32>) =
        (ours.flatten_all().unwrap().to_vec1().unwrap(), theirs.flatten_all().unwrap().to_vec1().unwrap());
    assert_eq!(a.len(), b.len());
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    diff / b.iter().map(|y| y.abs()).fold(0.0, f32::max).max(1e-6)
}

fn index(rows: impl Iterator<Item = usize>) -> Tensor {
    let rows: Vec<u32> = rows.map(|r| r as u32).collect();
    let n = rows.len();
    Tensor::from_vec(rows, n, &Device::Cpu).unwrap()
}

#[test]
fn the_fast_path_equals_the_composed_ops_on_every_architecture() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for name in FIXTURES {
        let fast = Pretrained::load(&fixture(name), &LoadOptions::default()).unwrap();
        let composed =
            Pretrained::load(&fixture(name), &LoadOptions::default()).unwrap().with_kernels(Kernels::Composed);
        let (b, t) = (3, fast.context().min(150));
        let vocab = fast.config().vocab_size as u32;
        let ids: Vec<u32> = (0..b * t).map(|_| rng.random_range(0..vocab)).collect();
        let tokens = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
        // Every row's hidden states, in a scrambled order; the logits of a few rows.
        let mut rows: Vec<usize> = (0..b * t).collect();
        rows.reverse();
        rows.swap(0, b * t / 2);
        let (hidden, logits) = (index(rows.into_iter()), index([0, t - 1, b * t - 1].into_iter()));
        let a = fast.forward(&tokens, Some(&logits), Some(&hidden)).unwrap();
        let c = composed.forward(&tokens, Some(&logits), Some(&hidden)).unwrap();
        assert_eq!(a.hidden.len(), c.hidden.len());
        for (l, (x, y)) in a.hidden.iter().zip(&c.hidden).enumerate() {
            assert_eq!(x.dims(), y.dims());
            let err = rel_err(x, y);
            assert!(err < TOLERANCE, "{name} layer {l}: relative error {err:.2e}");
        }
        let err = rel_err(&a.logits, &c.logits);
        assert!(err < TOLERANCE, "{name} logits: relative error {err:.2e}");
        // Without rows asked for, every row's logits and no hidden states.
        let all = fast.forward(&tokens, None, None).unwrap();
        assert_eq!(all.logits.dims(), &[b * t, fast.config().vocab_size]);
        assert!(all.hidden.is_empty());
    }
}

/// Attribution differentiates the forward pass: a tracked input must take the composed ops
/// (the fast path records no backward) and still reach the input with a gradient.
#[test]
fn a_forward_pass_that_needs_gradients_takes_the_composed_ops() {
    let model = Pretrained::load(&fixture("llama"), &LoadOptions::default()).unwrap();
    let tokens = Tensor::new(&[[3u32, 9, 27, 81]], &Device::Cpu).unwrap();
    let emb = Var::from_tensor(&model.embed(&tokens).unwrap()).unwrap();
    let last = index([3].into_iter());
    let out = model.forward_embedded(emb.as_tensor(), 1, 4, Some(&last), None).unwrap();
    let grads = out.logits.sum_all().unwrap().backward().unwrap();
    let g = grads.get(emb.as_tensor()).expect("a gradient reaches the embeddings");
    let plain = model.forward(&tokens, Some(&last), None).unwrap();
    assert!(rel_err(&plain.logits, &out.logits) < TOLERANCE);
    assert!(g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
}

/// A prompt longer than the batch's others is padded on the right: the rows before the
/// padding are what the prompt alone gives.
#[test]
fn rows_before_the_padding_do_not_see_it() {
    let model = Pretrained::load(&fixture("mistral"), &LoadOptions::default()).unwrap();
    let alone = Tensor::new(&[[5u32, 6, 7, 8, 9, 10, 11]], &Device::Cpu).unwrap();
    let padded =
        Tensor::new(&[[5u32, 6, 7, 8, 9, 10, 11, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], &Device::Cpu).unwrap();
    let a = model.forward(&alone, Some(&index([6].into_iter())), Some(&index(0..7))).unwrap();
    let p = model.forward(&padded, Some(&index([6].into_iter())), Some(&index(0..7))).unwrap();
    for (x, y) in a.hidden.iter().zip(&p.hidden) {
        assert!(rel_err(x, y) < TOLERANCE);
    }
    assert!(rel_err(&a.logits, &p.logits) < TOLERANCE);
}
