//! Timing of the per-checkpoint analysis and its pieces on realistic
//! synthetic hidden states: 5 layers, 2048 seen + 512 unseen points,
//! d = 128, k = 8 tasks, 4 k-means restarts.
//!
//!     cargo bench --bench analysis
//!
//! Before measuring, it writes the exact data it times to
//! `target/analysis-bench/*.npy` so `benches/sklearn_analysis.py` can time
//! scikit-learn on the same points.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use clusterscope::analysis::{analyze_checkpoint_with, kmeans, AnalysisOptions, KMeansConfig, Pca2, TrueLabels};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/analysis_support/synthetic.rs"]
mod synthetic;

const LAYERS: usize = 5;
const N_SEEN: usize = 2048;
const N_UNSEEN: usize = 512;
const D: usize = 128;
const K: usize = 8;
const RESTARTS: usize = 4;

/// Minimal `.npy` (format 1.0) writer: a little-endian array of `descr`.
fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be 64-aligned.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(bytes)?;
    f.flush()
}

fn export(s: &synthetic::Synthetic) -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/analysis-bench");
    std::fs::create_dir_all(&dir)?;
    let f32_bytes =
        |layers: &[Vec<f32>]| -> Vec<u8> { layers.iter().flatten().flat_map(|v| v.to_le_bytes()).collect() };
    let i64_bytes = |l: &[usize]| -> Vec<u8> { l.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect() };
    write_npy(&dir.join("seen.npy"), "<f4", &[LAYERS, N_SEEN, D], &f32_bytes(&s.seen))?;
    write_npy(&dir.join("unseen.npy"), "<f4", &[LAYERS, N_UNSEEN, D], &f32_bytes(&s.unseen))?;
    write_npy(&dir.join("seen_labels.npy"), "<i8", &[N_SEEN], &i64_bytes(&s.seen_labels))?;
    write_npy(&dir.join("unseen_labels.npy"), "<i8", &[N_UNSEEN], &i64_bytes(&s.unseen_labels))?;
    std::fs::write(dir.join("restarts.txt"), RESTARTS.to_string())
}

fn benches(c: &mut Criterion) {
    let s = synthetic::synthetic(LAYERS, N_SEEN, N_UNSEEN, D, K, 42);
    if let Err(e) = export(&s) {
        eprintln!("could not export bench data for sklearn_analysis.py: {e}");
    }
    let input = s.input(1, RESTARTS);

    let mut g = c.benchmark_group("analyze_checkpoint");
    g.sample_size(30);
    for threads in [1, 2] {
        let opts = AnalysisOptions { threads };
        g.bench_function(format!("5x2048+512x128_k8_r4/threads{threads}"), |b| {
            b.iter(|| black_box(analyze_checkpoint_with(black_box(&input), None, &opts)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("pieces");
    g.sample_size(30);
    for layer in [0, 4] {
        let x = &s.seen[layer];
        g.bench_function(format!("pca_fit/2048x128/layer{layer}"), |b| b.iter(|| black_box(Pca2::fit(x, D))));
        let cfg = KMeansConfig { restarts: RESTARTS, ..KMeansConfig::new(K, 3) };
        g.bench_function(format!("kmeans/2048x128_k8_r4/layer{layer}"), |b| b.iter(|| black_box(kmeans(x, D, &cfg))));
    }
    let pca = Pca2::fit(&s.seen[2], D).unwrap();
    g.bench_function("pca_project_all/2560x128", |b| {
        b.iter(|| (black_box(pca.project_all(&s.seen[2])), black_box(pca.project_all(&s.unseen[2]))))
    });
    let km = kmeans(&s.seen[1], D, &KMeansConfig::new(K, 3)).unwrap();
    g.bench_function("scores/ari_ami_f1/2048_k8", |b| {
        b.iter(|| {
            let t = TrueLabels::new(&s.seen_labels);
            black_box(t.scores(&km.assignments))
        })
    });
    g.finish();
}

criterion_group!(analysis, benches);
criterion_main!(analysis);
