//! Export for Python: .npy arrays that read back, CSV and JSON with the scores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use assert_cmd::Command;
use clusterscope::report::npy;
use clusterscope::session::Session;
use common::*;
use predicates::prelude::*;

#[test]
fn export_writes_arrays_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("s");
    make_tiny_session(&session_dir, 60);
    let out = dir.path().join("export");
    Command::cargo_bin("clusterscope")
        .unwrap()
        .arg("export")
        .arg(&session_dir)
        .args(["--checkpoint", "last", "--out"])
        .arg(&out)
        .assert()
        .success();
    let s = Session::open(&session_dir).unwrap();
    let snap = s.snapshots.last().unwrap();
    let n = s.points.len();
    let d = s.manifest.model.d_model;
    for l in 0..=s.manifest.model.layers {
        let (shape, hidden) = npy::read::<f32>(&out.join(format!("hidden_{l}.npy"))).unwrap();
        assert_eq!(shape, vec![n, d]);
        assert!(hidden.iter().all(|v| v.is_finite()));
        let (shape, proj) = npy::read::<f32>(&out.join(format!("proj_{l}.npy"))).unwrap();
        assert_eq!(shape, vec![n, 2]);
        // The stored projection is the PCA of the recomputed hidden state: re-project and compare.
        let la = &snap.analysis.layers[l];
        for i in [0, n / 2, n - 1] {
            let p = la.pca.project(&hidden[i * d..(i + 1) * d]);
            assert!((p[0] - proj[2 * i]).abs() < 1e-3 && (p[1] - proj[2 * i + 1]).abs() < 1e-3, "layer {l} point {i}");
        }
        let (shape, clusters) = npy::read::<i64>(&out.join(format!("clusters_{l}.npy"))).unwrap();
        assert_eq!(shape, vec![n]);
        assert!(clusters.iter().all(|&c| (0..3).contains(&c)));
    }
    let (shape, labels) = npy::read::<i64>(&out.join("labels.npy")).unwrap();
    assert_eq!(shape, vec![n]);
    assert_eq!(labels, s.points.iter().map(|p| p.task as i64).collect::<Vec<_>>());
    let csv = std::fs::read_to_string(out.join("points.csv")).unwrap();
    assert_eq!(csv.lines().count(), n + 1);
    assert!(csv.lines().nth(1).unwrap().contains(",seen,"));
    assert!(csv.contains(",unseen,"));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["step"], snap.step);
    assert_eq!(metrics["layers"].as_array().unwrap().len(), 3);
    assert_eq!(metrics["layers"][2]["seen"]["ari"].as_f64().unwrap(), snap.analysis.layers[2].scores.seen.ari);
    let mcsv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(mcsv.lines().count(), 4);
    let scores = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert_eq!(scores.lines().count(), 1 + 3 * s.snapshots.len());
}

#[test]
fn export_one_layer_and_bad_choices() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("s");
    make_tiny_session(&session_dir, 30);
    let out = dir.path().join("one");
    let run = |args: &[&str]| {
        Command::cargo_bin("clusterscope")
            .unwrap()
            .arg("export")
            .arg(&session_dir)
            .args(args)
            .arg("--out")
            .arg(&out)
            .assert()
    };
    run(&["--layer", "1", "--checkpoint", "0"]).success();
    assert!(out.join("hidden_1.npy").exists());
    assert!(!out.join("hidden_0.npy").exists());
    run(&["--checkpoint", "7"])
        .code(2)
        .stderr(predicates::str::contains("no checkpoint \"7\"").and(predicates::str::contains("0, 10, 20, 30")));
    run(&["--layer", "9"]).code(2).stderr(predicates::str::contains("no layer 9"));
    run(&["--layer", "x"]).code(2).stderr(predicates::str::contains("--layer \"x\""));
}

#[test]
fn npy_format_matches_numpy_layout() {
    let bytes = npy::encode(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "header is padded to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert_eq!(header.trim_end(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    assert!(header.ends_with('\n'));
    let one = npy::encode(&[4], &[1i64, 2, 3, 4]);
    assert!(std::str::from_utf8(&one[10..74]).unwrap().contains("'shape': (4,)"));
}

#[test]
fn tensorboard_export_writes_the_projector_files_with_the_same_hidden_states() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("s");
    make_tiny_session(&session_dir, 30);
    let export = |format: &str, layer: &str, out: &std::path::Path| {
        Command::cargo_bin("clusterscope")
            .unwrap()
            .arg("export")
            .arg(&session_dir)
            .args(["--checkpoint", "0", "--layer", layer, "--format", format, "--out"])
            .arg(out)
            .assert()
    };
    let (npy_out, tb) = (dir.path().join("npy"), dir.path().join("tb"));
    export("npy", "all", &npy_out).success();
    export("tensorboard", "all", &tb).success();
    let s = Session::open(&session_dir).unwrap();
    let n = s.points.len();
    for l in 0..=s.manifest.model.layers {
        let (_, hidden) = npy::read::<f32>(&npy_out.join(format!("hidden_{l}.npy"))).unwrap();
        let tsv = std::fs::read_to_string(tb.join(format!("tensors_{l}.tsv"))).unwrap();
        assert_eq!(tsv.lines().count(), n);
        let values: Vec<f32> = tsv.split(['\t', '\n']).filter(|v| !v.is_empty()).map(|v| v.parse().unwrap()).collect();
        assert_eq!(values, hidden, "layer {l}: the projector gets exactly the exported hidden states");
    }
    let meta = std::fs::read_to_string(tb.join("metadata.tsv")).unwrap();
    assert_eq!(meta.lines().count(), n + 1);
    assert!(meta.starts_with("task\tsplit\tinstruction\tinput\n"));
    let first = &s.points[0];
    assert!(meta
        .lines()
        .nth(1)
        .unwrap()
        .starts_with(&format!("{}\tseen\t{}", s.manifest.task_names[first.task], first.instruction)));
    assert!(meta.contains("\tunseen\t"));
    let config = std::fs::read_to_string(tb.join("projector_config.pbtxt")).unwrap();
    assert_eq!(config.matches("embeddings {").count(), s.manifest.model.layers + 1);
    assert!(config.contains("tensor_name: \"layer 2 at step 0\""));
    // One layer, and a format that does not exist.
    let one = dir.path().join("one");
    export("tensorboard", "1", &one).success();
    assert!(one.join("tensors_1.tsv").exists() && !one.join("tensors_0.tsv").exists());
    export("parquet", "all", &dir.path().join("x"))
        .code(2)
        .stderr(predicate::str::contains("expected npy or tensorboard"));
}
