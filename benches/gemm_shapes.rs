//! GFLOP/s of the `gemm` crate's kernels on the matrix shapes of one fused Transformer block
//! (the default preset at the speed benchmark's batch: 32 sequences of 64 = 2048 rows, d 128,
//! d_ff 512), on all threads and on one. This is the ceiling for a training step:
//! `cargo bench --bench gemm_shapes`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use gemm::{gemm, Parallelism};
use std::time::Instant;

// One product, dst row-major; lt / rt: the left / right operand is read transposed (as the
// backward pass reads it). `split` > 1 splits the rows over that many rayon tasks, each
// running gemm on one thread (what the fused block does per chunk); 0 lets gemm use rayon.
// SAFETY (for the unsafe blocks): every pointer and stride addresses the vectors allocated
// right here, sized for the shapes passed.
#[allow(clippy::too_many_arguments)]
fn run(name: &str, m: usize, n: usize, k: usize, lt: bool, rt: bool, par: Parallelism, split: usize) -> f64 {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let (lrs, lcs) = if lt { (1, m) } else { (k, 1) };
    let (rrs, rcs) = if rt { (1, k) } else { (n, 1) };
    let iters = 50;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..iters {
            if split > 1 {
                let rows = m / split;
                let cp = c.as_mut_ptr() as usize;
                rayon::scope(|s| {
                    for i in 0..split {
                        let a = &a;
                        let b = &b;
                        s.spawn(move |_| unsafe {
                            gemm(
                                rows,
                                n,
                                k,
                                (cp as *mut f32).add(i * rows * n),
                                1,
                                n as isize,
                                false,
                                a.as_ptr().add(i * rows * lrs),
                                lcs as isize,
                                lrs as isize,
                                b.as_ptr(),
                                rcs as isize,
                                rrs as isize,
                                0.0,
                                1.0,
                                false,
                                false,
                                false,
                                Parallelism::None,
                            )
                        });
                    }
                });
            } else {
                unsafe {
                    gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        a.as_ptr(),
                        lcs as isize,
                        lrs as isize,
                        b.as_ptr(),
                        rcs as isize,
                        rrs as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    )
                }
            }
        }
        best = best.min(t.elapsed().as_secs_f64() / iters as f64);
    }
    let gf = 2.0 * (m * n * k) as f64 / best / 1e9;
    println!(
        "{name:28} m{m:5} n{n:5} k{k:5} lt{} rt{} split{split}: {:.3} ms {gf:.0} GFLOP/s",
        lt as u8,
        rt as u8,
        best * 1e3
    );
    gf
}

fn main() {
    let p = Parallelism::Rayon(2);
    let (nn, d, f) = (2048, 128, 512);
    for split in [0, 2] {
        run("fwd qkv x W^T", nn, 3 * d, d, false, true, p, split);
        run("fwd fc", nn, f, d, false, true, p, split);
        run("fwd out", nn, d, f, false, true, p, split);
        run("bwd dx out: dy W", nn, f, d, false, false, p, split);
        run("bwd dx fc: dh W", nn, d, f, false, false, p, split);
        run("bwd dx qkv", nn, d, 3 * d, false, false, p, split);
    }
    run("bwd dW out: dy^T g", d, f, nn, true, false, p, 0);
    run("bwd dW fc: dh^T a", f, d, nn, true, false, p, 0);
    run("bwd dW qkv", 3 * d, d, nn, true, false, p, 0);
    run("bwd dW out 1thr", d, f, nn, true, false, Parallelism::None, 0);
    run("fwd fc 1thr", nn, f, d, false, true, Parallelism::None, 0);
}
