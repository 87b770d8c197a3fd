//! Greedy k-means++ seeding, as in scikit-learn: each new centre is the best
//! (lowest resulting potential) of `2 + ln k` candidates drawn with
//! probability proportional to the squared distance to the nearest centre
//! chosen so far. The greedy variant gives noticeably better starts than
//! plain k-means++ for the same number of restarts, and all candidates of a
//! round share one pass of the distance kernel.
//!
//! (Skipping tiles whose points provably cannot move closer to any candidate
//! was tried; hidden states arrive with tasks interleaved, so every tile of
//! 16 points holds points of most clusters and almost none can be skipped.)

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Prepared;
use crate::analysis::distance::{for_each_tile, PackedCentroids, TILE};

/// Initial centres plus what the seeding learned about every point for free:
/// its nearest centre and the two smallest squared distances, which become
/// the first Hamerly bounds.
pub(crate) struct Seeds {
    pub centroids: Vec<f32>,
    pub nearest: Vec<u32>,
    pub best: Vec<f32>,
    pub second: Vec<f32>,
}

pub(crate) fn kmeans_plus_plus(p: &Prepared, k: usize, rng: &mut ChaCha8Rng) -> Seeds {
    let (n, d) = (p.n, p.d);
    let row = |i: usize| p.tiled.point(i).collect::<Vec<f32>>();
    let tiles = p.tiled.tiles();
    let trials = 2 + (k as f64).ln().floor() as usize;

    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centroids.extend(row(first));
    let mut best = vec![0.0f32; n];
    for_each_tile(&p.tiled, 0..tiles, &PackedCentroids::new(&row(first), 1, d), |t, out| {
        for q in 0..p.tiled.tile_len(t) {
            best[t * TILE + q] = out[0][q];
        }
    });
    let mut second = vec![f32::INFINITY; n];
    let mut nearest = vec![0u32; n];
    let mut cand_dists = vec![0.0f32; n * trials];
    // Cumulative weight up to the end of each tile: sampling searches these
    // 1/16 as many partial sums, then one tile, instead of keeping a running
    // sum over all points (a long serial chain of f64 adds).
    let mut tile_cum = vec![0.0f64; tiles];

    for c in 1..k {
        let mut total = 0.0f64;
        for (cum, chunk) in tile_cum.iter_mut().zip(best.chunks(TILE)) {
            total += chunk.iter().map(|&b| f64::from(b)).sum::<f64>();
            *cum = total;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                if total > 0.0 {
                    sample(&tile_cum, &best, rng.random::<f64>() * total)
                } else {
                    // Every point sits on a centre: any choice is as good.
                    rng.random_range(0..n)
                }
            })
            .collect();
        let mut cand_rows = Vec::with_capacity(trials * d);
        for &i in &candidates {
            cand_rows.extend(row(i));
        }
        // How much each candidate would lower the potential, and its
        // distances, in one pass.
        let mut gains = vec![0.0f64; trials];
        for_each_tile(&p.tiled, 0..tiles, &PackedCentroids::new(&cand_rows, trials, d), |t, out| {
            let len = p.tiled.tile_len(t);
            for (tr, gain) in gains.iter_mut().enumerate() {
                let mut g = 0.0f32;
                for (q, &v) in out[tr][..len].iter().enumerate() {
                    let i = t * TILE + q;
                    cand_dists[i * trials + tr] = v;
                    g += (best[i] - v).max(0.0);
                }
                *gain += f64::from(g);
            }
        });
        // Largest gain = lowest potential; the first wins ties.
        let mut pick = (0usize, f64::NEG_INFINITY);
        for (tr, &g) in gains.iter().enumerate() {
            if g > pick.1 {
                pick = (tr, g);
            }
        }
        let tr = pick.0;
        centroids.extend_from_slice(&cand_rows[tr * d..(tr + 1) * d]);
        // Selects rather than branches: which points move is unpredictable.
        for (i, dists) in cand_dists.chunks_exact(trials).enumerate() {
            let v = dists[tr];
            let closer = v < best[i];
            second[i] = if closer { best[i] } else { second[i].min(v) };
            nearest[i] = if closer { c as u32 } else { nearest[i] };
            best[i] = if closer { v } else { best[i] };
        }
    }
    Seeds { centroids, nearest, best, second }
}

/// The first point whose cumulative weight exceeds `r`, so point `i` is
/// picked with probability `weight[i] / total` and a point with weight 0
/// (one already on a centre) never is.
fn sample(tile_cum: &[f64], weight: &[f32], r: f64) -> usize {
    let t = tile_cum.partition_point(|&cs| cs <= r).min(tile_cum.len().saturating_sub(1));
    let mut cum = if t == 0 { 0.0 } else { tile_cum[t - 1] };
    let start = t * TILE;
    let end = (start + TILE).min(weight.len());
    let mut last_positive = None;
    for (i, &w) in weight.iter().enumerate().take(end).skip(start) {
        cum += f64::from(w);
        if w > 0.0 {
            last_positive = Some(i);
        }
        if cum > r && w > 0.0 {
            return i;
        }
    }
    // Rounding can leave r just above the tile's own partial sums.
    last_positive.unwrap_or(end.saturating_sub(1).min(weight.len().saturating_sub(1)))
}
