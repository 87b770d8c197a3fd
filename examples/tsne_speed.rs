//! Times `clusterscope::analysis::tsne` on an `.npy` matrix (float32, n x d) on a given number
//! of threads, for `scripts/tsne_speed.py`, which runs openTSNE on the same file beside it.
//!
//! `tsne_speed POINTS.npy THREADS [OUT.npy]`: prints `seconds <s>`; with OUT, writes the layout.

use std::process::ExitCode;
use std::time::Instant;

use clusterscope::analysis::{tsne, TsneConfig};
use clusterscope::report::npy;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(threads)) = (args.get(1), args.get(2).and_then(|t| t.parse::<usize>().ok())) else {
        eprintln!("usage: tsne_speed POINTS.npy THREADS [OUT.npy]");
        return ExitCode::from(2);
    };
    let (shape, data) = match npy::read::<f32>(std::path::Path::new(path)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(1);
        }
    };
    let [n, d] = shape[..] else {
        eprintln!("{path}: expected a 2-D array, got shape {shape:?}");
        return ExitCode::from(1);
    };
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("thread pool: {e}");
            return ExitCode::from(1);
        }
    };
    let start = Instant::now();
    let layout = pool.install(|| tsne(&data, d, &TsneConfig::default(), |_, _| {}));
    let secs = start.elapsed().as_secs_f64();
    match layout {
        Ok(l) => {
            println!("seconds {secs:.3} n {n} d {d} threads {threads}");
            if let Some(out) = args.get(3) {
                let flat: Vec<f32> = l.iter().flat_map(|p| [p[0], p[1]]).collect();
                if let Err(e) = npy::write(std::path::Path::new(out), &[n, 2], &flat) {
                    eprintln!("{out}: {e}");
                    return ExitCode::from(1);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("t-SNE: {e}");
            ExitCode::from(1)
        }
    }
}
