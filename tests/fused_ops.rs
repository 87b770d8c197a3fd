//! The fused kernels equal the composed reference ops: the loss and every parameter's gradient
//! within 1e-5 relative. (Its own test binary: the fused switch is process-wide.)

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use clusterscope::model::fused::set_fused;
use clusterscope::model::init::named_parameters;
use clusterscope::model::{Gpt, ModelConfig};
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
            (name, g.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        })
        .collect();
    (loss.to_scalar::<f32>().unwrap(), g)
}

fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = a.iter().chain(b).fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

#[test]
fn fused_kernels_match_the_reference_ops() {
    let cfg = ModelConfig { vocab: 32, context: 16, d_model: 32, layers: 2, heads: 4, d_ff: 128 };
    let (model, varmap) = Gpt::initialized(&cfg, &Device::Cpu, 5).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    // Larger activations than at init so GELU's non-linear range is exercised.
    for (_, v) in named_parameters(&varmap).unwrap() {
        let scaled = (v.as_tensor() * 25.0).unwrap();
        if v.rank() >= 2 {
            v.set(&scaled).unwrap();
        }
    }
    let tokens: Vec<u32> = (0..4 * (cfg.context + 1)).map(|_| rng.random_range(0..cfg.vocab as u32)).collect();
    let seq = Tensor::from_vec(tokens, (4, cfg.context + 1), &Device::Cpu).unwrap();

    set_fused(false);
    let (ref_loss, ref_grads) = loss_and_grads(&model, &varmap, &seq, cfg.context);
    set_fused(true);
    let (loss, grads) = loss_and_grads(&model, &varmap, &seq, cfg.context);

    assert!(((loss - ref_loss) / ref_loss).abs() <= 1e-5, "loss {loss} vs reference {ref_loss}");
    assert_eq!(grads.len(), ref_grads.len());
    for ((name, g), (_, r)) in grads.iter().zip(&ref_grads) {
        let d = rel_diff(g, r);
        assert!(d <= 1e-5, "{name}: gradient differs by {d:e} (relative to its largest entry)");
    }
}

#[test]
fn fused_gelu_matches_reference_over_a_wide_range() {
    let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 0.005).chain([-1e4, -50.0, 50.0, 1e4, 0.0]).collect();
    // Calls both kernels directly, so it never touches the process-wide switch.
    let x = candle_core::Var::new(xs.as_slice(), &Device::Cpu).unwrap();
    let r = clusterscope::model::layers::gelu_reference(x.as_tensor()).unwrap();
    let rg = r.sum_all().unwrap().backward().unwrap();
    let f = clusterscope::model::fused::fused_gelu(x.as_tensor()).unwrap();
    let fg = f.sum_all().unwrap().backward().unwrap();
    let (r, f) = (r.to_vec1::<f32>().unwrap(), f.to_vec1::<f32>().unwrap());
    for (i, (a, b)) in r.iter().zip(&f).enumerate() {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "gelu({}) = {b}, reference {a}", xs[i]);
    }
    let (rg, fg) = (rg.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap(), fg.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap());
    for (i, (a, b)) in rg.iter().zip(&fg).enumerate() {
        if xs[i].abs() < 100.0 {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "gelu'({}) = {b}, reference {a}", xs[i]);
        }
    }
}
