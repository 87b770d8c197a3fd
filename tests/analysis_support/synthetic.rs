//! Synthetic "hidden states" shared by the analysis tests and benchmarks
//! (included with `#[path]`, so it is not a test target of its own).
//!
//! Layer `l` holds `k` Gaussian blobs whose centres are spread by
//! `SEPARATION[l]` standard deviations of the unit noise: layer 0 is nearly
//! unclustered, later layers increasingly separated, as the paper observes
//! for trained models. Like real hidden states the points sit far from the
//! origin (a shared offset) and the noise is anisotropic.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const SEPARATION: [f64; 5] = [0.05, 0.4, 0.8, 1.5, 3.0];

pub struct Synthetic {
    pub d: usize,
    pub k: usize,
    pub n_seen: usize,
    pub n_unseen: usize,
    /// One `n_seen x d` buffer per layer.
    pub seen: Vec<Vec<f32>>,
    /// One `n_unseen x d` buffer per layer.
    pub unseen: Vec<Vec<f32>>,
    pub seen_labels: Vec<usize>,
    pub unseen_labels: Vec<usize>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; rand_distr is not a dependency of this crate.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub fn synthetic(layers: usize, n_seen: usize, n_unseen: usize, d: usize, k: usize, seed: u64) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seen_labels: Vec<usize> = (0..n_seen).map(|i| i % k).collect();
    let unseen_labels: Vec<usize> = (0..n_unseen).map(|i| (i * 7 + 3) % k).collect();
    let offset: Vec<f64> = (0..d).map(|_| 5.0 * normal(&mut rng)).collect();
    let noise_scale: Vec<f64> = (0..d).map(|j| 1.5 - j as f64 / d as f64).collect();
    let mut seen = Vec::new();
    let mut unseen = Vec::new();
    for l in 0..layers {
        let sep = SEPARATION[l.min(SEPARATION.len() - 1)];
        let centres: Vec<f64> = (0..k * d).map(|_| sep * normal(&mut rng)).collect();
        let mut gen = |labels: &[usize]| -> Vec<f32> {
            let mut out = Vec::with_capacity(labels.len() * d);
            for &t in labels {
                for j in 0..d {
                    out.push((offset[j] + centres[t * d + j] + noise_scale[j] * normal(&mut rng)) as f32);
                }
            }
            out
        };
        seen.push(gen(&seen_labels));
        unseen.push(gen(&unseen_labels));
    }
    Synthetic { d, k, n_seen, n_unseen, seen, unseen, seen_labels, unseen_labels }
}

impl Synthetic {
    pub fn input(&self, seed: u64, restarts: usize) -> clusterscope::analysis::AnalysisInput<'_> {
        clusterscope::analysis::AnalysisInput {
            layers: self
                .seen
                .iter()
                .zip(&self.unseen)
                .map(|(s, u)| clusterscope::analysis::LayerHidden { seen: s, unseen: u })
                .collect(),
            d: self.d,
            seen_labels: &self.seen_labels,
            unseen_labels: &self.unseen_labels,
            num_tasks: self.k,
            seed,
            restarts,
        }
    }
}
