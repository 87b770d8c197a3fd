//! Lloyd iterations accelerated with Hamerly's bounds (G. Hamerly, "Making
//! k-means even faster", SDM 2010).
//!
//! Per point: `upper >= dist(x, own centroid)` and `lower <= dist(x, any
//! other centroid)`. A point cannot change cluster while `upper <=
//! max(lower, half the distance from its centroid to the nearest other)`, so
//! only points that fail that test get their distances recomputed. Cluster
//! sums (of the caller's raw rows, in f64) are updated incrementally for
//! points that move, so a settled iteration costs O(n) instead of O(n k d).

use super::seeding::Seeds;
use super::{Prepared, Run};
use crate::analysis::distance::{for_each_tile, nearest_two, sq_dist, PackedCentroids, TILE};

struct State {
    k: usize,
    d: usize,
    centroids: Vec<f32>,
    packed: PackedCentroids,
    assign: Vec<u32>,
    upper: Vec<f32>,
    lower: Vec<f32>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    /// Tiles holding at least one point whose bounds failed.
    busy_tiles: Vec<usize>,
}

pub(crate) fn lloyd(p: &Prepared, k: usize, seeds: Seeds, max_iter: usize) -> Run {
    let d = p.d;
    let mut st = State {
        k,
        d,
        packed: PackedCentroids::new(&seeds.centroids, k, d),
        centroids: seeds.centroids,
        assign: seeds.nearest,
        upper: seeds.best.iter().map(|v| v.sqrt()).collect(),
        lower: seeds.second.iter().map(|v| v.sqrt()).collect(),
        sums: vec![0.0; k * d],
        counts: vec![0; k],
        busy_tiles: Vec::with_capacity(p.tiled.tiles()),
    };
    for &a in &st.assign {
        st.counts[a as usize] += 1;
    }
    for (i, &a) in st.assign.iter().enumerate() {
        add_point(&mut st.sums[a as usize * d..(a as usize + 1) * d], p, i, 1.0);
    }

    let mut iterations = 0;
    let mut settled = false;
    while iterations < max_iter {
        iterations += 1;
        let shift = st.update_centroids(p);
        if shift <= p.tol {
            break;
        }
        if st.reassign(p) == 0 {
            // Centroids are already the means of an unchanged partition.
            settled = true;
            break;
        }
    }
    if !settled {
        // As scikit-learn does after a tolerance stop or the iteration cap:
        // make the labels agree with the final centroids.
        st.reassign(p);
    }
    let inertia = st.inertia(p);
    Run { centroids: st.centroids, assignments: st.assign, inertia, iterations }
}

impl State {
    fn add(&mut self, p: &Prepared, i: usize, sign: f64) {
        let c = self.assign[i] as usize;
        add_point(&mut self.sums[c * self.d..(c + 1) * self.d], p, i, sign);
        if sign > 0.0 {
            self.counts[c] += 1;
        } else {
            self.counts[c] -= 1;
        }
    }

    /// Sum of squared distances to the assigned centroids, per cluster as
    /// `sum ||x||^2 - 2 c.S + n ||c||^2` from the running sums `S`: O(n + kd)
    /// instead of another pass over all coordinates. The data is centred and
    /// the sums are f64, so the cancellation costs nothing measurable.
    fn inertia(&self, p: &Prepared) -> f64 {
        let (k, d) = (self.k, self.d);
        let mut sq = vec![0.0f64; k];
        for (&a, &norm) in self.assign.iter().zip(&p.tiled.norms) {
            sq[a as usize] += f64::from(norm);
        }
        let mut total = 0.0;
        for (c, &sq_c) in sq.iter().enumerate() {
            let cent = &self.centroids[c * d..(c + 1) * d];
            let sums = &self.sums[c * d..(c + 1) * d];
            let n_c = self.counts[c] as f64;
            // Sum of the cluster's points in the centred, scaled frame.
            let scaled = sums.iter().zip(&p.mean).map(|(&s, &m)| (s - n_c * m) * p.scale);
            let cs: f64 = cent.iter().zip(scaled).map(|(&x, s)| f64::from(x) * s).sum();
            let cc: f64 = cent.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            total += (sq_c - 2.0 * cs + n_c * cc).max(0.0);
        }
        total
    }

    /// M-step: centroids become the cluster means, empty clusters are
    /// re-seeded, and the bounds are loosened by how far centroids moved.
    /// Returns the summed squared shift.
    fn update_centroids(&mut self, p: &Prepared) -> f64 {
        let (k, d) = (self.k, self.d);
        self.repair_empty(p);
        let mut shifts = vec![0.0f32; k];
        let mut total = 0.0f64;
        for (c, shift) in shifts.iter_mut().enumerate() {
            if self.counts[c] == 0 {
                continue; // Could not be repaired: every point is a centroid.
            }
            let inv = 1.0 / self.counts[c] as f64;
            let new: Vec<f32> = self.sums[c * d..(c + 1) * d]
                .iter()
                .zip(&p.mean)
                .map(|(&s, &m)| ((s * inv - m) * p.scale) as f32)
                .collect();
            let old = &mut self.centroids[c * d..(c + 1) * d];
            let s2 = sq_dist(&new, old);
            old.copy_from_slice(&new);
            *shift = s2.sqrt();
            total += f64::from(s2);
        }
        self.packed = PackedCentroids::new(&self.centroids, k, d);
        // Lower bounds shrink by the largest move of any *other* centroid.
        let (mut m1, mut m1c, mut m2) = (0.0f32, usize::MAX, 0.0f32);
        for (c, &s) in shifts.iter().enumerate() {
            if s > m1 {
                (m2, m1, m1c) = (m1, s, c);
            } else if s > m2 {
                m2 = s;
            }
        }
        for i in 0..p.n {
            let a = self.assign[i] as usize;
            self.upper[i] += shifts[a];
            let other = if a == m1c { m2 } else { m1 };
            self.lower[i] = (self.lower[i] - other).max(0.0);
        }
        total
    }

    /// Moves the point farthest from its centroid into each empty cluster
    /// (scikit-learn's relocation rule), taking points only from clusters
    /// that keep at least one member.
    fn repair_empty(&mut self, p: &Prepared) {
        let d = self.d;
        for c in 0..self.k {
            if self.counts[c] > 0 {
                continue;
            }
            let mut far = (usize::MAX, 0.0f32);
            for i in 0..p.n {
                let a = self.assign[i] as usize;
                if self.counts[a] < 2 {
                    continue;
                }
                let cent = &self.centroids[a * d..(a + 1) * d];
                let dist: f32 = p.tiled.point(i).zip(cent).map(|(x, &c)| (x - c) * (x - c)).sum();
                if dist > far.1 {
                    far = (i, dist);
                }
            }
            let i = far.0;
            if i == usize::MAX {
                return; // All points coincide with their centroids.
            }
            self.add(p, i, -1.0);
            self.assign[i] = c as u32;
            self.add(p, i, 1.0);
            // The centroid itself moves in the M-step that follows, so its
            // jump is counted in the bound updates like any other shift.
            self.upper[i] = 0.0;
            self.lower[i] = 0.0;
        }
    }

    /// E-step with bound pruning; returns how many points changed cluster.
    ///
    /// The kernel works on tiles of 16 points, so a tile is recomputed when
    /// any of its points fails its bound test, and then all 16 get exact
    /// distances and fresh (tight) bounds. Hamerly's second test (tighten the
    /// upper bound with one exact distance and re-check) is skipped: on
    /// poorly separated layers it rarely avoids the full computation.
    fn reassign(&mut self, p: &Prepared) -> usize {
        let (k, d) = (self.k, self.d);
        // Half the distance from each centroid to its nearest neighbour.
        let mut half = vec![f32::INFINITY; k];
        for a in 0..k {
            for b in a + 1..k {
                let h = 0.5 * sq_dist(&self.centroids[a * d..(a + 1) * d], &self.centroids[b * d..(b + 1) * d]).sqrt();
                half[a] = half[a].min(h);
                half[b] = half[b].min(h);
            }
        }
        self.busy_tiles.clear();
        for t in 0..p.tiled.tiles() {
            let span = t * TILE..t * TILE + p.tiled.tile_len(t);
            let busy = self.assign[span.clone()]
                .iter()
                .zip(&self.upper[span.clone()])
                .zip(&self.lower[span])
                .fold(false, |any, ((&a, &u), &l)| any | (u > half[a as usize].max(l)));
            if busy {
                self.busy_tiles.push(t);
            }
        }
        let mut changed = 0;
        let State { assign, upper, lower, sums, counts, packed, busy_tiles, .. } = self;
        for_each_tile(&p.tiled, busy_tiles.iter().copied(), packed, |t, out| {
            let (idx, b1, b2) = nearest_two(out, k);
            let (s1, s2) = (b1.map(f32::sqrt), b2.map(f32::sqrt));
            for q in 0..p.tiled.tile_len(t) {
                let i = t * TILE + q;
                upper[i] = s1[q];
                lower[i] = s2[q];
                let (old, new) = (assign[i] as usize, idx[q] as usize);
                if old != new {
                    add_point(&mut sums[old * d..(old + 1) * d], p, i, -1.0);
                    add_point(&mut sums[new * d..(new + 1) * d], p, i, 1.0);
                    counts[old] -= 1;
                    counts[new] += 1;
                    assign[i] = new as u32;
                    changed += 1;
                }
            }
        });
        changed
    }
}

/// Adds (`sign` 1) or removes (-1) point `i` to/from a cluster's raw sums.
fn add_point(sums: &mut [f64], p: &Prepared, i: usize, sign: f64) {
    let row = p.raw.get(i * p.d..(i + 1) * p.d).unwrap_or(&[]);
    for (s, &v) in sums.iter_mut().zip(row) {
        *s += sign * f64::from(v);
    }
}
