//! The app's t-SNE thread on a real (tiny) trained session: hidden states recomputed from a
//! checkpoint's weights, progress while it runs, the layout in the points' order, and a plain
//! error for a layer that does not exist.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use clusterscope::analysis::TsneConfig;
use clusterscope::record::{EmbeddingEvent, EmbeddingRequest};
use clusterscope::session::Session;
use clusterscope::train::embedder::{spawn_embedder, EmbeddingEngine};
use common::*;

#[test]
fn the_tsne_thread_answers_with_progress_and_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("s");
    make_tiny_session(&session_dir, 60);
    let s = Session::open(&session_dir).unwrap();
    let exp = Arc::new(s.experiment().unwrap());
    let cfg = TsneConfig { epochs: 100, exaggeration_epochs: 50, ..TsneConfig::default() };
    let engine = EmbeddingEngine::new(Some(exp), s.manifest.model.clone(), &session_dir, cfg);
    let (tx, rx) = mpsc::channel();
    let requests = spawn_embedder(engine, move |e| tx.send(e).is_ok()).unwrap();
    let step = s.snapshots.last().unwrap().step;
    let good = EmbeddingRequest { step, layer: 2 };
    requests.send(good).unwrap();
    let mut epochs = Vec::new();
    let layout = loop {
        match rx.recv_timeout(Duration::from_secs(120)).unwrap() {
            EmbeddingEvent::Progress { request, epoch, epochs: total } => {
                assert_eq!((request, total), (good, 100));
                epochs.push(epoch);
            }
            EmbeddingEvent::Done { request, outcome } => {
                assert_eq!(request, good);
                break outcome.unwrap();
            }
        }
    };
    assert_eq!(epochs, vec![25, 50, 75, 100]);
    assert_eq!(layout.len(), s.points.len());
    assert!(layout.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    let bad = EmbeddingRequest { step, layer: 9 };
    requests.send(bad).unwrap();
    let outcome = loop {
        if let EmbeddingEvent::Done { request, outcome } = rx.recv_timeout(Duration::from_secs(60)).unwrap() {
            assert_eq!(request, bad);
            break outcome;
        }
    };
    assert!(outcome.unwrap_err().contains("no layer 9"));
}
