//! t-SNE on data whose answer is known: well-separated Gaussian blobs must come out as
//! separate groups, the same for the same seed, whatever the thread count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clusterscope::analysis::{procrustes, tsne, ProcrustesOptions, TsneConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `k` blobs of `per` points in `d` dimensions, centres 10 apart on random axes, unit
/// spread: labels are the blob index.
fn blobs(k: usize, per: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let unit = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..k).map(|_| (0..d).map(|_| unit.sample(&mut rng) * 10.0).collect()).collect();
    let mut data = Vec::with_capacity(k * per * d);
    let mut labels = Vec::with_capacity(k * per);
    for i in 0..k * per {
        let c = i % k;
        data.extend(centres[c].iter().map(|&m| m + unit.sample(&mut rng)));
        labels.push(c);
    }
    (data, labels)
}

/// Share of the `k` nearest neighbours in the layout with the point's own label.
fn knn_purity(layout: &[[f32; 2]], labels: &[usize], k: usize) -> f64 {
    let n = layout.len();
    let mut same = 0usize;
    for i in 0..n {
        let mut d: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| ((layout[i][0] - layout[j][0]).powi(2) + (layout[i][1] - layout[j][1]).powi(2), j))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        same += d[..k].iter().filter(|&&(_, j)| labels[j] == labels[i]).count();
    }
    same as f64 / (n * k) as f64
}

fn run(data: &[f32], d: usize, cfg: &TsneConfig, threads: usize) -> Vec<[f32; 2]> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| tsne(data, d, cfg, |_, _| {})).unwrap()
}

#[test]
fn separated_blobs_stay_separated_and_a_seed_repeats() {
    // 100 dimensions, so the PCA step (to 50) is exercised too.
    let (data, labels) = blobs(5, 80, 100, 7);
    let cfg = TsneConfig { seed: 3, ..TsneConfig::default() };
    let a = run(&data, 100, &cfg, 2);
    let purity = knn_purity(&a, &labels, 10);
    assert!(purity > 0.95, "kNN purity {purity:.3}");
    assert!(a.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    // On two threads a run is not repeated exactly (the module says why; under load the
    // layouts of two runs differed by up to 14% of the spread), but the clusters are.
    let b = run(&data, 100, &cfg, 2);
    let purity = knn_purity(&b, &labels, 10);
    assert!(purity > 0.95, "second run's kNN purity {purity:.3}");
    // On one thread bit for bit, whatever pool the caller has.
    let one = TsneConfig { one_thread: true, ..cfg.clone() };
    assert_eq!(run(&data, 100, &one, 2), run(&data, 100, &one, 1), "same seed on one thread: same layout");
}

#[test]
fn progress_reports_every_epoch_and_small_sets_lower_the_perplexity() {
    let (data, labels) = blobs(3, 10, 8, 1);
    let cfg = TsneConfig { epochs: 300, exaggeration_epochs: 100, ..TsneConfig::default() };
    let mut seen = Vec::new();
    let out = tsne(&data, 8, &cfg, |e, total| seen.push((e, total))).unwrap();
    assert_eq!(seen.len(), 300);
    assert_eq!(seen.last(), Some(&(300, 300)));
    assert_eq!(out.len(), 30);
    assert!(knn_purity(&out, &labels, 3) > 0.9);
}

#[test]
fn procrustes_undoes_a_mirror_of_a_tsne_layout() {
    let (data, _) = blobs(4, 40, 20, 5);
    let a = run(&data, 20, &TsneConfig { seed: 1, ..TsneConfig::default() }, 2);
    let flipped: Vec<[f32; 2]> = a.iter().map(|p| [-p[1] + 3.0, -p[0] - 1.0]).collect();
    let m = procrustes(&flipped, &a, ProcrustesOptions::default());
    let back = m.apply_all(&flipped);
    let err = back.iter().zip(&a).map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs())).fold(0.0, f32::max);
    assert!(m.reflects() && err < 1e-3, "error {err}");
}
