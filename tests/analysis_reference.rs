//! Agreement with numpy / scipy / scikit-learn on the values written by
//! `tests/fixtures/analysis/make_reference.py` (committed as reference.json).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use clusterscope::analysis::{
    adjusted_mutual_info_score, adjusted_rand_score, cluster_scores, hungarian_f1, kmeans, KMeansConfig, Pca2,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    labelings: Vec<Labeling>,
    pca: Vec<PcaCase>,
    kmeans: Vec<KMeansCase>,
}

#[derive(Deserialize)]
struct Labeling {
    name: String,
    #[serde(rename = "true")]
    truth: Vec<usize>,
    pred: Vec<usize>,
    ari: f64,
    ami: f64,
    f1: f64,
}

#[derive(Deserialize)]
struct PcaCase {
    name: String,
    n: usize,
    d: usize,
    data: Vec<f64>,
    mean: Vec<f64>,
    components: [Vec<f64>; 2],
    explained_variance_ratio: [f64; 2],
}

#[derive(Deserialize)]
struct KMeansCase {
    name: String,
    d: usize,
    k: usize,
    data: Vec<f64>,
    labels: Vec<usize>,
    sklearn_inertias: Vec<f64>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/analysis/reference.json");
    let text = std::fs::read_to_string(path).expect("reference.json (run make_reference.py)");
    serde_json::from_str(&text).expect("valid reference.json")
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn label_scores_match_sklearn_to_1e_9() {
    let r = reference();
    assert!(r.labelings.len() >= 20);
    for c in &r.labelings {
        let ari = adjusted_rand_score(&c.truth, &c.pred).unwrap();
        let ami = adjusted_mutual_info_score(&c.truth, &c.pred).unwrap();
        let f1 = hungarian_f1(&c.truth, &c.pred).unwrap();
        assert!((ari - c.ari).abs() <= 1e-9, "{}: ARI {ari} vs sklearn {}", c.name, c.ari);
        assert!((ami - c.ami).abs() <= 1e-9, "{}: AMI {ami} vs sklearn {}", c.name, c.ami);
        assert!((f1 - c.f1).abs() <= 1e-9, "{}: F1 {f1} vs scipy {}", c.name, c.f1);
        let all = cluster_scores(&c.truth, &c.pred).unwrap();
        assert_eq!((all.ari, all.ami, all.f1), (ari, ami, f1), "{}", c.name);
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn pca_matches_numpy_svd_up_to_sign() {
    let r = reference();
    for c in &r.pca {
        let data = f32s(&c.data);
        let pca = Pca2::fit(&data, c.d).unwrap();
        assert_eq!(pca.dim(), c.d);
        for (m, rm) in pca.mean.iter().zip(&c.mean) {
            assert!((f64::from(*m) - rm).abs() <= 1e-4 * (1.0 + rm.abs()), "{}: mean", c.name);
        }
        for comp in &pca.components {
            let norm: f64 = comp.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{}: component norm {norm}", c.name);
        }
        for i in 0..2 {
            let (got, want) = (pca.explained_variance_ratio[i], c.explained_variance_ratio[i]);
            assert!((got - want).abs() <= 1e-6 * want.max(1e-3), "{}: ratio {i}: {got} vs {want}", c.name);
        }
        let ours = pca.project_all(&data);
        for i in 0..2 {
            let a: Vec<f64> = ours.iter().map(|p| f64::from(p[i])).collect();
            let b: Vec<f64> = (0..c.n)
                .map(|row| (0..c.d).map(|j| (c.data[row * c.d + j] - c.mean[j]) * c.components[i][j]).sum())
                .collect();
            let corr = pearson(&a, &b).abs();
            assert!(corr >= 0.9999, "{}: component {i} correlation {corr}", c.name);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 0 {
        0.5 * (v[m - 1] + v[m])
    } else {
        v[m]
    }
}

#[test]
fn kmeans_recovers_blobs_and_is_no_worse_than_sklearn() {
    let r = reference();
    for c in &r.kmeans {
        let data = f32s(&c.data);
        // Ten seeds each side, 4 restarts per run on both: compare medians.
        let runs: Vec<_> = (0..10).map(|seed| kmeans(&data, c.d, &KMeansConfig::new(c.k, seed)).unwrap()).collect();
        let ours = median(runs.iter().map(|r| r.inertia).collect());
        let theirs = median(c.sklearn_inertias.clone());
        assert!(ours <= theirs * 1.005, "{}: median inertia {ours} vs sklearn {theirs}", c.name);
        let best_theirs = c.sklearn_inertias.iter().copied().fold(f64::INFINITY, f64::min);
        for res in &runs {
            assert_eq!(res.assignments.len(), c.labels.len());
            assert!(res.inertia <= best_theirs * 1.02, "{}: inertia {}", c.name, res.inertia);
            if c.name == "separated" {
                let ari = adjusted_rand_score(&c.labels, &res.assignments).unwrap();
                assert_eq!(ari, 1.0, "separated blobs must be recovered exactly");
                assert!((res.inertia - best_theirs).abs() <= 1e-5 * best_theirs);
            }
            // The reported inertia is what it claims to be.
            let recomputed: f64 = data
                .chunks_exact(c.d)
                .zip(&res.assignments)
                .map(|(x, &a)| {
                    x.iter()
                        .zip(&res.centroids[a * c.d..(a + 1) * c.d])
                        .map(|(&u, &v)| (f64::from(u) - f64::from(v)).powi(2))
                        .sum::<f64>()
                })
                .sum();
            assert!((recomputed - res.inertia).abs() <= 1e-5 * recomputed.max(1.0), "{}", c.name);
        }
    }
}

#[test]
fn kmeans_is_deterministic_per_seed() {
    let r = reference();
    let c = r.kmeans.iter().find(|c| c.name == "overlapping").unwrap();
    let data = f32s(&c.data);
    let run = |seed, restarts| kmeans(&data, c.d, &KMeansConfig { restarts, ..KMeansConfig::new(c.k, seed) }).unwrap();
    assert_eq!(run(5, 4), run(5, 4));
    // The first restart is the same run whatever the count, so more
    // restarts can only lower the inertia.
    assert!(run(5, 4).inertia <= run(5, 1).inertia);
    assert!(run(5, 1).iterations >= 1);
}
