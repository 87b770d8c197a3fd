//! `analyze_checkpoint` end to end: realistic data, determinism, sign
//! alignment, serialisation, and layers that cannot be analysed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use clusterscope::analysis::{
    analyze_checkpoint, analyze_checkpoint_with, score_table, AnalysisInput, AnalysisOptions, CheckpointAnalysis,
    LayerHidden,
};

#[path = "analysis_support/synthetic.rs"]
mod synthetic;

fn json_roundtrip(a: &CheckpointAnalysis) {
    let text = serde_json::to_string(a).unwrap();
    // serde_json writes NaN and infinities as null; `error: None` is the
    // only null allowed.
    assert!(!text.replace("\"error\":null", "").contains("null"), "non-finite number in JSON");
    let back: CheckpointAnalysis = serde_json::from_str(&text).unwrap();
    // serde_json's default float parser may be one ulp off, so compare the
    // two as JSON values with a relative tolerance.
    let (x, y) = (serde_json::to_value(a).unwrap(), serde_json::to_value(&back).unwrap());
    assert!(same_json(&x, &y), "JSON round trip changed the analysis");
}

fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::{Array, Number, Object};
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (Object(x), Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn realistic_checkpoint() {
    let s = synthetic::synthetic(5, 400, 100, 32, 4, 9);
    let input = s.input(3, 4);
    let a = analyze_checkpoint(&input, None);
    assert_eq!(a.layers.len(), 5);
    for (l, la) in a.layers.iter().enumerate() {
        assert_eq!(la.layer, l);
        assert_eq!(la.error, None);
        assert!(la.is_finite());
        assert_eq!((la.seen_proj.len(), la.unseen_proj.len()), (400, 100));
        assert_eq!((la.seen_assignments.len(), la.unseen_assignments.len()), (400, 100));
        assert_eq!((la.kmeans_centroids.len(), la.kmeans_centroids_proj.len()), (4 * 32, 4));
        assert_eq!((la.task_centroids.len(), la.task_centroids_proj.len()), (4 * 32, 4));
        assert_eq!(la.task_counts, vec![100; 4]);
        assert!(la.seen_assignments.iter().chain(&la.unseen_assignments).all(|&c| c < 4));
    }
    // Layer 0 is noise, the last layer well separated.
    assert!(a.layers[0].scores.seen.ari < 0.2);
    let last = &a.layers[4].scores;
    assert_eq!((last.seen.ari, last.seen.ami, last.seen.f1), (1.0, 1.0, 1.0));
    assert_eq!(last.unseen.ari, 1.0);
    assert_eq!(last.unseen_centroid_accuracy, 1.0);
    json_roundtrip(&a);

    let table = score_table(&a);
    assert_eq!(table.lines().count(), 6);
    assert!(table.lines().next().unwrap().starts_with("layer |"));
    assert!(table.lines().last().unwrap().contains("1.000"));
    let widths: Vec<usize> = table.lines().map(str::len).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "fixed width:\n{table}");
}

#[test]
fn deterministic_and_thread_count_independent() {
    let s = synthetic::synthetic(4, 300, 60, 24, 3, 5);
    let input = s.input(11, 3);
    let one = analyze_checkpoint_with(&input, None, &AnalysisOptions { threads: 1 });
    let two = analyze_checkpoint_with(&input, None, &AnalysisOptions { threads: 2 });
    let many = analyze_checkpoint_with(&input, None, &AnalysisOptions { threads: 16 });
    assert_eq!(one, two);
    assert_eq!(one, many);
    assert_eq!(one, analyze_checkpoint(&input, None));
    let other_seed = analyze_checkpoint(&s.input(12, 3), None);
    assert_eq!(other_seed.layers.len(), 4);
}

#[test]
fn pca_signs_follow_the_previous_checkpoint() {
    let s = synthetic::synthetic(3, 200, 40, 16, 4, 2);
    let input = s.input(1, 2);
    let first = analyze_checkpoint(&input, None);
    // Pretend the previous checkpoint had the opposite orientation.
    let mut flipped = first.clone();
    for l in &mut flipped.layers {
        for c in &mut l.pca.components {
            c.iter_mut().for_each(|v| *v = -*v);
        }
    }
    let next = analyze_checkpoint(&input, Some(&flipped));
    for (a, b) in next.layers.iter().zip(&first.layers) {
        for i in 0..2 {
            assert_eq!(a.pca.components[i], b.pca.components[i].iter().map(|v| -v).collect::<Vec<_>>());
            for (p, q) in a.seen_proj.iter().zip(&b.seen_proj) {
                assert_eq!(p[i], -q[i]);
            }
        }
    }
    // A previous result with fewer layers or failed layers is fine too.
    let mut partial = first.clone();
    partial.layers.truncate(1);
    partial.layers[0].error = Some("x".into());
    assert_eq!(analyze_checkpoint(&input, Some(&partial)), first);
}

#[test]
fn bad_layers_are_reported_not_fatal() {
    let s = synthetic::synthetic(4, 64, 16, 8, 2, 4);
    let mut seen1 = s.seen[1].clone();
    seen1[3] = f32::NAN;
    let mut unseen2 = s.unseen[2].clone();
    unseen2[9] = f32::INFINITY;
    unseen2[20] = f32::NEG_INFINITY;
    let short = &s.seen[3][..s.seen[3].len() - 1];
    let input = AnalysisInput {
        layers: vec![
            LayerHidden { seen: &s.seen[0], unseen: &s.unseen[0] },
            LayerHidden { seen: &seen1, unseen: &s.unseen[1] },
            LayerHidden { seen: &s.seen[2], unseen: &unseen2 },
            LayerHidden { seen: short, unseen: &s.unseen[3] },
        ],
        ..s.input(0, 2)
    };
    let a = analyze_checkpoint(&input, None);
    assert_eq!(a.layers[0].error, None);
    assert_eq!(a.layers[1].error.as_deref(), Some("layer 1: seen hidden states contain NaN (1 of 64 points)"));
    assert_eq!(a.layers[2].error.as_deref(), Some("layer 2: unseen hidden states contain infinity (2 of 16 points)"));
    assert_eq!(
        a.layers[3].error.as_deref(),
        Some("layer 3: seen hidden states: data length 511 is not a multiple of the dimension 8")
    );
    for la in &a.layers[1..] {
        assert_eq!(la.scores, Default::default());
        assert!(la.seen_proj.is_empty() && la.pca.mean.is_empty());
        assert!(la.is_finite());
    }
    json_roundtrip(&a);
    let table = score_table(&a);
    assert!(table.contains("    1 | error: layer 1: seen hidden states contain NaN"));
}

#[test]
fn degenerate_but_analysable_inputs() {
    let s = synthetic::synthetic(2, 50, 10, 6, 3, 8);
    let identical = [1.5f32; 50 * 6];
    let base = s.input(0, 2);

    // No unseen points: unseen scores are 0 rather than sklearn's vacuous 1.
    let no_unseen = AnalysisInput {
        layers: vec![LayerHidden { seen: &s.seen[1], unseen: &[] }, LayerHidden { seen: &identical, unseen: &[] }],
        unseen_labels: &[],
        ..base.clone()
    };
    let a = analyze_checkpoint(&no_unseen, None);
    for la in &a.layers {
        assert_eq!(la.error, None);
        assert!(la.is_finite());
        assert_eq!(la.scores.unseen, Default::default());
        assert_eq!(la.scores.unseen_centroid_accuracy, 0.0);
    }
    // Identical points: zero variance, one cluster, defined everything.
    assert_eq!(a.layers[1].pca.explained_variance_ratio, [0.0, 0.0]);
    assert_eq!(a.layers[1].kmeans_inertia, 0.0);
    json_roundtrip(&a);

    // A single task: one class against one cluster is a perfect match.
    let one_task_labels = vec![0usize; 50];
    let single = AnalysisInput { seen_labels: &one_task_labels, unseen_labels: &[0; 10], num_tasks: 1, ..base.clone() };
    let a = analyze_checkpoint(&single, None);
    for la in &a.layers {
        assert_eq!(la.error, None);
        assert_eq!((la.scores.seen.ari, la.scores.seen.ami, la.scores.seen.f1), (1.0, 1.0, 1.0));
        assert_eq!(la.scores.unseen_centroid_accuracy, 1.0);
    }

    // Fewer seen points than tasks, labels out of range, no tasks.
    let few = AnalysisInput {
        layers: vec![LayerHidden { seen: &s.seen[0][..2 * 6], unseen: &[] }],
        seen_labels: &[0, 1],
        unseen_labels: &[],
        ..base.clone()
    };
    let a = analyze_checkpoint(&few, None);
    assert_eq!(a.layers[0].error.as_deref(), Some("layer 0: seen points: fewer points (2) than clusters (3)"));
    let mut labels = s.seen_labels.clone();
    labels[7] = 3;
    let a = analyze_checkpoint(&AnalysisInput { seen_labels: &labels, ..base.clone() }, None);
    assert!(a
        .layers
        .iter()
        .all(|l| l.error.as_deref() == Some(&*format!("layer {}: seen label 3 is out of range for 3 tasks", l.layer))));
    let a = analyze_checkpoint(&AnalysisInput { num_tasks: 0, ..base.clone() }, None);
    assert!(a.layers.iter().all(|l| l.error.is_some()));
    let a = analyze_checkpoint(&AnalysisInput { seen_labels: &s.seen_labels[..10], ..base.clone() }, None);
    assert_eq!(a.layers[0].error.as_deref(), Some("layer 0: seen hidden states have 50 points but 10 labels"));
    // No layers at all.
    let a = analyze_checkpoint(&AnalysisInput { layers: vec![], ..base }, None);
    assert!(a.layers.is_empty());
    assert_eq!(score_table(&a).lines().count(), 1);
}
