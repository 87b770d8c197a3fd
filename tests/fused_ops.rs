//! The fused kernels equal the composed reference ops: the loss and every parameter's gradient
//! within 1e-5 relative; where float noise dominates, they are as close to an f64 reference as
//! the composed ops are; and results do not depend on the number of threads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use clusterscope::model::init::named_parameters;
use clusterscope::model::{CausalLm, Gpt, Kernels, ModelConfig};
use clusterscope::train::loss::cross_entropy;
use rand::{Rng, SeedableRng};

fn loss_and_grads(model: &Gpt, varmap: &VarMap, seq: &Tensor, ctx: usize) -> (f32, Vec<(String, Vec<f32>)>) {
    let inputs = seq.narrow(1, 0, ctx).unwrap().contiguous().unwrap();
    let targets = seq.narrow(1, 1, ctx).unwrap().flatten_all().unwrap();
    let out = model.forward(&inputs, None, None).unwrap();
    let loss = cross_entropy(&out.logits, &targets).unwrap();
    let grads = loss.backward().unwrap();
    let g = named_parameters(varmap)
        .unwrap()
        .into_iter()
        .map(|(name, v)| {
            let g = grads.get(v.as_tensor()).unwrap_or_else(|| panic!("{name}: no gradient"));
            (name, g.flatten_all().unwrap().to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap())
        })
        .collect();
    (loss.to_dtype(DType::F32).unwrap().to_scalar::<f32>().unwrap(), g)
}

fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = a.iter().chain(b).fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

const CFG: ModelConfig = ModelConfig { vocab: 32, context: 16, d_model: 32, layers: 2, heads: 4, d_ff: 128 };

/// A model with its matrices scaled by `scale` (larger activations than at init, so GELU's
/// non-linear range is exercised) and 40 random sequences: the fused block splits them into
/// chunks of 16, 16 and 8 sequences.
fn setup(scale: f64) -> (Gpt, VarMap, Tensor) {
    let (model, varmap) = Gpt::initialized(&CFG, &Device::Cpu, 5).unwrap();
    for (_, v) in named_parameters(&varmap).unwrap() {
        if v.rank() >= 2 {
            v.set(&(v.as_tensor() * scale).unwrap()).unwrap();
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let tokens: Vec<u32> = (0..40 * (CFG.context + 1)).map(|_| rng.random_range(0..CFG.vocab as u32)).collect();
    (model, varmap, Tensor::from_vec(tokens, (40, CFG.context + 1), &Device::Cpu).unwrap())
}

/// The same parameters (the same variables, so gradients are keyed alike) run by the composed
/// reference ops.
fn composed_model(varmap: &VarMap) -> Gpt {
    Gpt::with_kernels(&CFG, VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu), Kernels::Composed).unwrap()
}

#[test]
fn fused_kernels_match_the_reference_ops() {
    let (model, varmap, seq) = setup(10.0);
    assert_eq!(model.kernels(), Kernels::Fused);
    let (ref_loss, ref_grads) = loss_and_grads(&composed_model(&varmap), &varmap, &seq, CFG.context);
    let (loss, grads) = loss_and_grads(&model, &varmap, &seq, CFG.context);

    assert!(((loss - ref_loss) / ref_loss).abs() <= 1e-5, "loss {loss} vs reference {ref_loss}");
    assert_eq!(grads.len(), ref_grads.len());
    for ((name, g), (_, r)) in grads.iter().zip(&ref_grads) {
        let d = rel_diff(g, r);
        assert!(d <= 1e-5, "{name}: gradient differs by {d:e} (relative to its largest entry)");
    }
}

/// With weights at 25x, attention saturates and the f32 gradients of the first block differ
/// from exact ones by about 1e-5 whichever way they are computed. There, the fused path must
/// be as close to an f64 run of the composed ops as the composed ops in f32 are.
#[test]
fn fused_kernels_are_as_accurate_as_the_reference_when_float_noise_dominates() {
    let (model, varmap, seq) = setup(25.0);
    let exact_map = VarMap::new();
    let exact_vb = VarBuilder::from_varmap(&exact_map, DType::F64, &Device::Cpu);
    let exact = Gpt::with_kernels(&CFG, exact_vb, Kernels::Composed).unwrap();
    let src: std::collections::HashMap<_, _> = named_parameters(&varmap).unwrap().into_iter().collect();
    for (name, v) in named_parameters(&exact_map).unwrap() {
        v.set(&src[&name].as_tensor().to_dtype(DType::F64).unwrap()).unwrap();
    }
    let (_, truth) = loss_and_grads(&exact, &exact_map, &seq, CFG.context);
    let (_, composed) = loss_and_grads(&composed_model(&varmap), &varmap, &seq, CFG.context);
    let (_, fused) = loss_and_grads(&model, &varmap, &seq, CFG.context);
    let worst =
        |g: &[(String, Vec<f32>)]| g.iter().zip(&truth).map(|((_, a), (_, t))| rel_diff(a, t)).fold(0.0f32, f32::max);
    let (c, f) = (worst(&composed), worst(&fused));
    assert!(c > 0.0 && c < 1e-4, "composed f32 error {c:e}");
    assert!(f <= 3.0 * c, "fused error {f:e} vs the composed ops' {c:e}");
}

/// Chunks are fixed in size and partial sums added in order, so the thread count changes
/// nothing, bit for bit.
#[test]
fn fused_results_do_not_depend_on_the_thread_count() {
    let (model, varmap, seq) = setup(10.0);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| loss_and_grads(&model, &varmap, &seq, CFG.context))
    };
    let (l1, g1) = run(1);
    let (l3, g3) = run(3);
    assert_eq!(l1.to_bits(), l3.to_bits());
    for ((name, a), (_, b)) in g1.iter().zip(&g3) {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name}: gradients differ between 1 and 3 threads"
        );
    }
}

#[test]
fn fused_gelu_matches_reference_over_a_wide_range() {
    use clusterscope::model::elementwise::{gelu_grad_slice, gelu_slice};
    let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 0.005).chain([-1e4, -50.0, 50.0, 1e4, 0.0]).collect();
    // The fused block's kernels, called directly, against the composed ops and their autograd.
    let x = candle_core::Var::new(xs.as_slice(), &Device::Cpu).unwrap();
    let r = clusterscope::model::layers::gelu_reference(x.as_tensor()).unwrap();
    let rg = r.sum_all().unwrap().backward().unwrap();
    let mut f = vec![0f32; xs.len()];
    gelu_slice(&mut f, &xs);
    let mut fg = vec![1f32; xs.len()];
    gelu_grad_slice(&mut fg, &xs);
    for (i, (a, b)) in r.to_vec1::<f32>().unwrap().iter().zip(&f).enumerate() {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "gelu({}) = {b}, reference {a}", xs[i]);
    }
    for (i, (a, b)) in rg.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap().iter().zip(&fg).enumerate() {
        if xs[i].abs() < 100.0 {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "gelu'({}) = {b}, reference {a}", xs[i]);
        }
    }
}

/// The fused in-place AdamW update equals the composed one: three steps with weight decay and
/// gradient clipping, on a matrix (decayed) and a vector (not decayed).
#[test]
fn fused_adamw_matches_the_composed_update() {
    use clusterscope::train::optimizer::{AdamW, AdamWConfig};
    let cfg = AdamWConfig {
        lr: 3e-3,
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: 0.1,
        warmup: 1,
        total_steps: 10,
        min_lr_ratio: 0.1,
        grad_clip: 0.5,
    };
    let run = |kernels: Kernels| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut values = |n: usize| (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>();
        let w = candle_core::Var::from_vec(values(40 * 70), (40, 70), &Device::Cpu).unwrap();
        let b = candle_core::Var::from_vec(values(70), 70, &Device::Cpu).unwrap();
        let (cw, cb) = (
            Tensor::from_vec(values(40 * 70), (40, 70), &Device::Cpu).unwrap(),
            Tensor::from_vec(values(70), 70, &Device::Cpu).unwrap(),
        );
        let mut opt =
            AdamW::with_kernels(vec![("b".into(), b.clone()), ("w".into(), w.clone())], cfg, kernels).unwrap();
        for _ in 0..3 {
            let loss = ((w.as_tensor() * &cw).unwrap().sqr().unwrap().sum_all().unwrap()
                + (b.as_tensor() * &cb).unwrap().sum_all().unwrap())
            .unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        let state = opt.state().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (flat(w.as_tensor()), flat(b.as_tensor()), flat(&state["w.m"]), flat(&state["w.v"]))
    };
    let reference = run(Kernels::Composed);
    let fused = run(Kernels::Fused);
    for (name, a, r) in [
        ("w", &fused.0, &reference.0),
        ("b", &fused.1, &reference.1),
        ("w.m", &fused.2, &reference.2),
        ("w.v", &fused.3, &reference.3),
    ] {
        let d = rel_diff(a, r);
        assert!(d <= 1e-6, "{name}: fused AdamW differs by {d:e}");
    }
    assert_ne!(fused.0, run_untouched(), "the update must change the weights");
}

fn run_untouched() -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    (0..40 * 70).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}
