//! The committed demo session stays readable, small, and shows the paper's finding.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use clusterscope::session::format::{RunStatus, TRAINED_FORMAT_VERSION};
use clusterscope::session::Session;
use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sessions/demo")
}

fn size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn the_demo_session_opens_and_shows_clustering_by_task() {
    let s = Session::open(&demo())
        .expect("sessions/demo must stay readable: regenerate it (sessions/README.md) after a format change");
    assert_eq!(s.manifest.format_version, TRAINED_FORMAT_VERSION);
    assert_eq!(s.manifest.status, RunStatus::Finished);
    assert!(s.snapshots.len() >= 10);
    assert!(size(&demo()) <= 8 * 1024 * 1024, "demo session is {} bytes", size(&demo()));
    let (first, last) = (&s.snapshots[0], s.snapshots.last().unwrap());
    assert!(last.seen_accuracy >= 0.99 && last.unseen_accuracy >= 0.9);
    let deepest = s.manifest.model.layers;
    let ari = |snap: &clusterscope::record::Snapshot, l: usize| snap.analysis.layers[l].scores.seen.ari;
    // Layer 0 (embeddings of the last instruction word) carries no task; trained blocks do.
    assert!(ari(last, 0) < 0.1, "layer 0 ARI {}", ari(last, 0));
    assert!(ari(last, deepest) > 0.8, "deepest layer ARI {}", ari(last, deepest));
    assert!(ari(first, deepest) < 0.1, "untrained ARI {}", ari(first, deepest));
    assert!(s.snapshots.iter().all(|x| x.analysis.layers.iter().all(|l| l.error.is_none())));
    assert_eq!(s.experiment().unwrap().num_tasks(), 8);
}
