//! Seeded parameter initialisation, by parameter name (GPT-2's scheme).

use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;
use rand_distr::{Distribution, Normal};

use crate::experiment::sampling::rng_for;

/// Fills every parameter from `seed`: LayerNorm weights 1, biases 0, residual-output projections
/// N(0, 0.02 / sqrt(2 L)), everything else N(0, 0.02). Parameters are visited in name order so
/// the result does not depend on HashMap iteration order.
pub fn init_parameters(varmap: &VarMap, layers: usize, seed: u64) -> Result<()> {
    let mut rng = rng_for(seed, "model-init");
    let residual_std = 0.02 / (2.0 * layers.max(1) as f64).sqrt();
    for (name, var) in named_parameters(varmap)? {
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let is_ln = name.contains("ln");
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; n]
        } else if is_ln {
            vec![1.0; n]
        } else {
            let std = if name.ends_with("attn.proj.weight") || name.ends_with("mlp.proj.weight") {
                residual_std
            } else {
                0.02
            };
            let normal = Normal::new(0.0f32, std as f32).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            (0..n).map(|_| normal.sample(&mut rng)).collect()
        };
        var.set(&Tensor::from_vec(values, shape, var.device())?.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Parameters sorted by name, so initialisation and optimizer state do not depend on HashMap
/// iteration order.
pub fn named_parameters(varmap: &VarMap) -> Result<Vec<(String, Var)>> {
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("parameter map lock poisoned".into()))?;
    let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}
