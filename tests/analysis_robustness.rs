//! Degenerate inputs: nothing panics, nothing comes back NaN.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use clusterscope::analysis::{
    adjusted_mutual_info_score, adjusted_rand_score, assign_nearest, cluster_scores, hungarian_f1, kmeans,
    nearest_centroid, nearest_centroid_accuracy, task_centroids, AnalysisError, KMeansConfig, Pca2,
};

fn finite(v: &[f32]) -> bool {
    v.iter().all(|x| x.is_finite())
}

fn assert_pca_sane(p: &Pca2, d: usize) {
    assert_eq!(p.dim(), d);
    assert!(finite(&p.mean) && finite(&p.components[0]) && finite(&p.components[1]));
    for r in p.explained_variance_ratio {
        assert!((0.0..=1.0).contains(&r), "ratio {r}");
    }
    assert!(p.explained_variance_ratio[0] >= p.explained_variance_ratio[1]);
}

#[test]
fn pca_degenerate_inputs() {
    assert_eq!(Pca2::fit(&[], 4), Err(AnalysisError::Empty));
    assert_eq!(Pca2::fit(&[1.0; 4], 0), Err(AnalysisError::ZeroDimension));
    assert_eq!(Pca2::fit(&[1.0; 5], 2), Err(AnalysisError::ShapeMismatch { len: 5, d: 2 }));

    // One point, identical points, zero variance: axes, ratios 0.
    for data in [vec![3.0f32, -1.0, 2.0], [5.0f32, 5.0, 5.0].repeat(10), vec![0.0; 30]] {
        let p = Pca2::fit(&data, 3).unwrap();
        assert_pca_sane(&p, 3);
        assert_eq!(p.explained_variance_ratio, [0.0, 0.0]);
        assert_eq!(p.components, [vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]]);
        assert_eq!(p.project(&data[..3]), [0.0, 0.0]);
    }

    // d = 1: one real direction, the second is the zero vector.
    let p = Pca2::fit(&[1.0, 2.0, 4.0], 1).unwrap();
    assert_eq!(p.components, [vec![1.0], vec![0.0]]);
    assert_eq!(p.explained_variance_ratio, [1.0, 0.0]);
    let p = Pca2::fit(&[7.0, 7.0], 1).unwrap();
    assert_eq!(p.explained_variance_ratio, [0.0, 0.0]);

    // Variance in one direction only (rank 1), and two points.
    let line: Vec<f32> = (0..20).flat_map(|i| [i as f32, 2.0 * i as f32, 0.0]).collect();
    let p = Pca2::fit(&line, 3).unwrap();
    assert_pca_sane(&p, 3);
    assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-9);
    assert!(p.explained_variance_ratio[1] < 1e-9);
    let p = Pca2::fit(&[0.0, 0.0, 1.0, 1.0], 2).unwrap();
    assert_pca_sane(&p, 2);

    // Huge and tiny finite values.
    for scale in [1e30f32, 1e-30, 3e38] {
        let data: Vec<f32> = (0..40).map(|i| ((i * 37 % 11) as f32 - 5.0) * (scale / 8.0)).collect();
        let p = Pca2::fit(&data, 4).unwrap();
        assert_pca_sane(&p, 4);
    }

    // Non-finite values are reported, per point.
    let mut data = vec![1.0f32; 12];
    data[1] = f32::NAN;
    data[2] = f32::NAN;
    data[10] = f32::INFINITY;
    let err = Pca2::fit(&data, 3).unwrap_err();
    assert_eq!(err, AnalysisError::NonFinite { nan_points: 1, inf_points: 1, bad_points: 2, n: 4 });
    assert_eq!(err.to_string(), "hidden states contain NaN or infinity (2 of 4 points)");

    // Projection of a wrong-length point does not panic.
    let p = Pca2::fit(&[0.0, 0.0, 1.0, 2.0, 3.0, 1.0], 2).unwrap();
    assert!(p.project(&[1.0]).iter().all(|v| v.is_finite()));
    assert!(p.project(&[1.0, 2.0, 3.0]).iter().all(|v| v.is_finite()));
    assert_eq!(p.project_all(&[1.0, 2.0, 3.0]).len(), 1);
}

#[test]
fn pca_signs_are_canonical_and_alignable() {
    let data: Vec<f32> = (0..50).flat_map(|i| [(i as f32).sin() * 3.0, (i as f32).cos(), 0.1 * i as f32]).collect();
    let p = Pca2::fit(&data, 3).unwrap();
    for comp in &p.components {
        let max = comp.iter().copied().fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        assert!(max > 0.0, "largest coordinate must be positive");
    }
    let mut flipped = p.clone();
    flipped.components[0].iter_mut().for_each(|v| *v = -*v);
    let mut aligned = flipped.clone();
    aligned.align_signs(&p);
    assert_eq!(aligned, p);
    // Different dimension: left alone.
    let other = Pca2::fit(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
    let mut same = flipped.clone();
    same.align_signs(&other);
    assert_eq!(same, flipped);
}

#[test]
fn kmeans_degenerate_inputs() {
    let cfg = |k| KMeansConfig::new(k, 1);
    assert_eq!(kmeans(&[], 2, &cfg(2)).unwrap_err(), AnalysisError::Empty);
    assert_eq!(kmeans(&[1.0; 4], 2, &cfg(0)).unwrap_err(), AnalysisError::ZeroClusters);
    assert_eq!(kmeans(&[1.0, 2.0, 3.0, 4.0], 2, &cfg(3)).unwrap_err(), AnalysisError::TooFewPoints { n: 2, k: 3 });
    assert!(matches!(kmeans(&[1.0, f32::NAN, 3.0, 4.0], 2, &cfg(1)), Err(AnalysisError::NonFinite { .. })));

    // Identical points: one occupied cluster, inertia 0.
    let same = [2.5f32, -1.0].repeat(9);
    let r = kmeans(&same, 2, &cfg(3)).unwrap();
    assert_eq!(r.inertia, 0.0);
    assert_eq!(r.centroids.len(), 6);
    assert!(finite(&r.centroids) && r.assignments.iter().all(|&a| a < 3));

    // Fewer distinct points than clusters.
    let two = [0.0f32, 0.0, 10.0, 10.0].repeat(5);
    let r = kmeans(&two, 2, &cfg(4)).unwrap();
    assert!(r.inertia.abs() < 1e-9 && finite(&r.centroids));
    assert_ne!(r.assignments[0], r.assignments[1]);

    // k = 1: the mean; exactly n = k.
    let pts = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    let r = kmeans(&pts, 2, &cfg(1)).unwrap();
    assert_eq!(r.assignments, vec![0, 0, 0]);
    assert!((r.centroids[0] - 2.0).abs() < 1e-6 && (r.centroids[1] - 3.0).abs() < 1e-6);
    assert!((r.inertia - 16.0).abs() < 1e-4);
    let r = kmeans(&pts, 2, &cfg(3)).unwrap();
    assert!(r.inertia.abs() < 1e-9);

    // d = 1, huge, tiny, and subnormal spreads.
    for scale in [1.0f32, 1e35, 1e-35, 1e-44] {
        let data: Vec<f32> = [0.0f32, 0.1, 0.2, 5.0, 5.1, 5.3].iter().map(|v| v * scale).collect();
        let r = kmeans(&data, 1, &cfg(2)).unwrap();
        assert!(finite(&r.centroids) && r.inertia.is_finite(), "scale {scale}");
        if scale >= 1e-35 {
            assert_eq!(adjusted_rand_score(&[0, 0, 0, 1, 1, 1], &r.assignments).unwrap(), 1.0);
        }
    }
    // Opposite-sign values near f32::MAX (their difference overflows f32).
    let data = [f32::MAX, f32::MAX * 0.9, -f32::MAX, -f32::MAX * 0.9];
    let r = kmeans(&data, 1, &cfg(2)).unwrap();
    assert!(finite(&r.centroids));
    assert_eq!(adjusted_rand_score(&[0, 0, 1, 1], &r.assignments).unwrap(), 1.0);

    // restarts = 0 runs once; max_iter = 0 still assigns every point.
    let r = kmeans(&pts, 2, &KMeansConfig { restarts: 0, max_iter: 0, ..cfg(2) }).unwrap();
    assert_eq!(r.assignments.len(), 3);
}

#[test]
fn nearest_centroid_edge_cases() {
    let c = [0.0f32, 0.0, 10.0, 0.0];
    assert_eq!(nearest_centroid(&c, 2, 2, &[9.0, 1.0]), 1);
    assert_eq!(nearest_centroid(&c, 2, 2, &[5.0, 0.0]), 0, "ties go to the first");
    assert_eq!(nearest_centroid(&c, 2, 2, &[f32::NAN, 0.0]), 0);
    assert_eq!(nearest_centroid(&c, 0, 2, &[1.0, 1.0]), 0);
    assert_eq!(nearest_centroid(&c, 5, 2, &[11.0, 0.0]), 1, "missing rows are skipped");
    assert_eq!(nearest_centroid(&c, 2, 2, &[1.0]), 0, "short point");
    assert_eq!(assign_nearest(&c, 2, 2, &[9.0, 0.0, 1.0, 0.0, 7.0]), vec![1, 0]);
    assert!(assign_nearest(&c, 2, 0, &[1.0]).is_empty());
}

#[test]
fn scores_on_degenerate_labelings() {
    let check = |t: &[usize], p: &[usize]| {
        let s = cluster_scores(t, p).unwrap();
        assert!(s.ari.is_finite() && s.ami.is_finite() && s.f1.is_finite(), "{t:?} {p:?}");
        assert!(s.f1 >= 0.0 && s.f1 <= 1.0);
        s
    };
    let s = check(&[], &[]);
    assert_eq!((s.ari, s.ami, s.f1), (1.0, 1.0, 0.0));
    let s = check(&[4], &[9]);
    assert_eq!((s.ari, s.ami, s.f1), (1.0, 1.0, 1.0));
    check(&[0, 0, 0, 0], &[0, 1, 2, 3]);
    check(&[0, 1, 2, 3], &[0, 0, 0, 0]);
    check(&[0, 1, 2, 3], &[3, 2, 1, 0]);
    check(&[usize::MAX, 0, usize::MAX], &[1, 1, 2]);
    // Many clusters against many classes (the Hungarian column pruning path).
    let t: Vec<usize> = (0..3000).map(|i| i % 300).collect();
    let p: Vec<usize> = (0..3000).map(|i| (i * 7) % 1000).collect();
    check(&t, &p);
    assert_eq!(
        adjusted_rand_score(&[0, 1], &[0]).unwrap_err(),
        AnalysisError::LengthMismatch { what: "predicted labels", got: 1, expected: 2 }
    );
    assert!(adjusted_mutual_info_score(&[0], &[]).is_err());
    assert!(hungarian_f1(&[], &[1]).is_err());
}

#[test]
fn task_centroid_accuracy_edge_cases() {
    let data = [0.0f32, 0.0, 1.0, 0.0, 10.0, 10.0, 11.0, 10.0];
    let tc = task_centroids(&data, 2, &[0, 0, 2, 2], 3).unwrap();
    assert_eq!(tc.counts, vec![2, 0, 2]);
    assert_eq!(tc.centroids, vec![0.5, 0.0, 0.0, 0.0, 10.5, 10.0]);
    // Task 1 has no points: never predicted, even for a point at its zero
    // vector placeholder.
    let acc = nearest_centroid_accuracy(&tc, &[0.0, 0.0, 10.0, 9.0, 0.1, 0.1], &[1, 2, 0]).unwrap();
    assert!((acc - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(nearest_centroid_accuracy(&tc, &[], &[]).unwrap(), 0.0);
    assert_eq!(
        task_centroids(&data, 2, &[0, 0, 3, 0], 3).unwrap_err(),
        AnalysisError::LabelOutOfRange { label: 3, k: 3 }
    );
    assert!(task_centroids(&data, 2, &[0, 0, 1], 3).is_err());
    assert!(task_centroids(&[f32::INFINITY, 0.0], 2, &[0], 1).is_err());
    assert!(nearest_centroid_accuracy(&tc, &data, &[0]).is_err());
}
