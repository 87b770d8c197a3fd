//! `export --projection tsne` through the real binary on a real (tiny) trained session: a
//! layout per layer, in the points' order, repeatable for a seed, and faithful to the
//! neighbourhoods of the hidden states it came from.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::report::npy;
use clusterscope::session::Session;
use common::*;
use predicates::prelude::*;

fn export(session: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("clusterscope")
        .unwrap()
        .arg("export")
        .arg(session)
        .args(["--checkpoint", "last", "--layer", "2"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .assert()
}

/// Share of each point's `k` nearest neighbours (by squared euclidean distance in `d`
/// dimensions) that carry its label.
fn purity(x: &[f32], d: usize, labels: &[i64], k: usize) -> f64 {
    let n = labels.len();
    let mut same = 0;
    for i in 0..n {
        let mut dist: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| ((0..d).map(|c| (x[i * d + c] - x[j * d + c]).powi(2)).sum(), j))
            .collect();
        dist.sort_by(|a, b| a.0.total_cmp(&b.0));
        same += dist[..k].iter().filter(|&&(_, j)| labels[j] == labels[i]).count();
    }
    same as f64 / (n * k) as f64
}

#[test]
fn tsne_export_of_a_trained_session() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("s");
    make_tiny_session(&session_dir, 120);
    let s = Session::open(&session_dir).unwrap();
    let (n, d) = (s.points.len(), s.manifest.model.d_model);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    export(&session_dir, &a, &["--projection", "tsne"]).success();
    export(&session_dir, &b, &["--projection", "tsne"]).success();
    let (shape, layout) = npy::read::<f32>(&a.join("tsne_2.npy")).unwrap();
    assert_eq!(shape, vec![n, 2]);
    assert!(layout.iter().all(|v| v.is_finite()));
    assert!(a.join("proj_2.npy").exists(), "the PCA projection is still written");
    assert!(!a.join("tsne_1.npy").exists(), "only the chosen layer");
    assert_eq!(layout, npy::read::<f32>(&b.join("tsne_2.npy")).unwrap().1, "the same seed repeats");
    // t-SNE keeps local neighbourhoods: the layout's kNN agree with the task labels about as
    // often as the hidden states' own kNN do.
    let (_, hidden) = npy::read::<f32>(&a.join("hidden_2.npy")).unwrap();
    let (_, labels) = npy::read::<i64>(&a.join("labels.npy")).unwrap();
    let (in_hidden, in_layout) = (purity(&hidden, d, &labels, 5), purity(&layout, 2, &labels, 5));
    assert!(in_layout > in_hidden - 0.1, "hidden kNN purity {in_hidden:.3}, t-SNE {in_layout:.3}");
    assert!(in_layout > 0.5, "t-SNE kNN purity {in_layout:.3} with 3 tasks");
}

#[test]
fn an_unknown_projection_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &dir.path().join("o"), &["--projection", "umap"])
        .failure()
        .code(2)
        .stderr(predicate::str::contains("expected pca or tsne"));
}
