//! Blocked squared-distance kernel for k-means and its seeding.
//!
//! Distances use `||x||^2 - 2 x.c + ||c||^2`, so the work is a small matrix
//! product computed one tile at a time: 16 consecutive points (stored
//! interleaved, `d x 16`, see [`Tiled`]) against blocks of 4 centroids. Per
//! dimension the kernel loads two vectors holding that coordinate of all 16
//! points, broadcasts each centroid's coordinate and does 8 FMAs into 8
//! register accumulators (lanes = points). With points in lanes, everything
//! after the product is vertical too: the nearest and second-nearest
//! centroid of all 16 points are found with lane-wise min and select, no
//! horizontal shuffles or branches.
//!
//! The default x86-64 target only has SSE2, so the tile loop is also
//! compiled with AVX2+FMA and chosen at run time. Measured on 2048 x 128
//! points against 8 centroids (one full pass, best of several runs on the
//! shared 2-core machine): a row-major SSE2 kernel ~150 us, faer's f32 gemm
//! ~80 us (plus a gathered copy for the row subsets the k-means bounds
//! leave), 8-point x 8-centroid AVX2 tiles ~60 us, these tiles ~50 us.

/// Points per tile: two AVX registers of f32.
pub(crate) const TILE: usize = 16;
/// Centroids per block. 16 points x 4 centroids is 8 accumulator registers
/// fed by 2 vector loads and 4 broadcasts per dimension: 0.75 loads per FMA
/// against 1.125 for 8 x 8, and the kernel is load-bound. 4 is also exactly
/// the number of k-means++ candidates per round for 8 <= k < 20.
const CBLOCK: usize = 4;
/// Partial sums for the single-vector reductions below.
const LANES: usize = 8;

/// Squared distances of one tile's points to every packed centroid:
/// `out[c][q]` for centroid `c`, point `q` of the tile.
pub(crate) type TileDists = [[f32; TILE]];

/// Points re-laid out for the kernel: tile `t` holds points `8t..8t+8` as
/// `d` consecutive groups of 8 (one coordinate of all 8 points). The last
/// tile is padded with zero points, which callers ignore.
pub(crate) struct Tiled {
    pub n: usize,
    pub d: usize,
    xt: Vec<f32>,
    /// Squared norms per point, padded to whole tiles.
    pub norms: Vec<f32>,
}

impl Tiled {
    /// Tiles the `n` row-major points of `data`, mapping each coordinate `v`
    /// of dimension `j` to `(v - offset[j]) * scale`, where `scale` is a power
    /// of two that brings the largest result into [1, 2).
    pub(crate) fn new(data: &[f32], n: usize, d: usize, offset: &[f32], scale: f32) -> Self {
        let tiles = n.div_ceil(TILE);
        let mut xt = vec![0.0f32; tiles * d * TILE];
        let mut norms = vec![0.0f32; tiles * TILE];
        if d > 0 {
            let mut buf = vec![0.0f32; d];
            for (t, tile) in xt.chunks_exact_mut(d * TILE).enumerate() {
                let rows = data.chunks_exact(d).skip(t * TILE).take(TILE);
                for (q, row) in rows.enumerate() {
                    // f32 is enough: a power-of-two scale is exact, so the
                    // only rounding is half an ulp in the subtraction. Scaling
                    // first cannot overflow, unlike `v - m` near f32::MAX.
                    for ((b, &v), &m) in buf.iter_mut().zip(row).zip(offset) {
                        *b = v * scale - m * scale;
                    }
                    for (j, &x) in buf.iter().enumerate() {
                        tile[j * TILE + q] = x;
                    }
                    norms[t * TILE + q] = sq_norm(&buf);
                }
            }
        }
        Tiled { n, d, xt, norms }
    }

    /// Coordinates of point `i` (`d` values; none if `i >= n`).
    pub(crate) fn point(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let base = (i / TILE) * self.d * TILE + i % TILE;
        let d = if i < self.n { self.d } else { 0 };
        self.xt.iter().skip(base).step_by(TILE).take(d).copied()
    }

    pub(crate) fn tiles(&self) -> usize {
        self.n.div_ceil(TILE)
    }

    /// Number of real (not padding) points in tile `t`.
    pub(crate) fn tile_len(&self, t: usize) -> usize {
        self.n.saturating_sub(t * TILE).min(TILE)
    }
}

/// Centroids packed for the kernel.
#[derive(Debug, Clone)]
pub(crate) struct PackedCentroids {
    d: usize,
    /// `blocks` consecutive `d x CBLOCK` transposed blocks.
    ct: Vec<f32>,
    /// `blocks * CBLOCK` squared norms; padding centroids are +inf so they
    /// never win.
    norms: Vec<f32>,
}

impl PackedCentroids {
    /// Packs `k` row-major centroids of dimension `d` (`centroids.len() >= k * d`).
    pub(crate) fn new(centroids: &[f32], k: usize, d: usize) -> Self {
        let blocks = k.div_ceil(CBLOCK);
        let mut ct = vec![0.0f32; blocks * d * CBLOCK];
        let mut norms = vec![f32::INFINITY; blocks * CBLOCK];
        for (c, row) in centroids.chunks_exact(d.max(1)).take(k).enumerate() {
            let (b, lane) = (c / CBLOCK, c % CBLOCK);
            let block = &mut ct[b * d * CBLOCK..(b + 1) * d * CBLOCK];
            for (j, &v) in row.iter().enumerate() {
                block[j * CBLOCK + lane] = v;
            }
            norms[c] = sq_norm(row);
        }
        PackedCentroids { d, ct, norms }
    }

    /// Rows of the `out` handed to the callback of [`for_each_tile`]:
    /// `k` rounded up to whole blocks (the padding rows are +inf).
    pub(crate) fn padded_k(&self) -> usize {
        self.norms.len()
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2_fma() -> bool {
    // std caches the CPUID result, so this is a relaxed atomic load.
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Calls `f(t, out)` with the squared distances of tile `t` to all
/// centroids, for each tile index yielded by `tiles`.
///
/// `f` is inlined into the AVX2 instantiation, so per-tile bookkeeping in it
/// (argmin, bound updates) is vectorised with the same instruction set.
#[inline(always)]
pub(crate) fn for_each_tile<I, F>(x: &Tiled, tiles: I, pc: &PackedCentroids, f: F)
where
    I: Iterator<Item = usize>,
    F: FnMut(usize, &TileDists),
{
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the
        // only requirement of `for_each_tile_avx2` beyond a safe fn's.
        return unsafe { for_each_tile_avx2(x, tiles, pc, f) };
    }
    for_each_tile_impl::<false, I, F>(x, tiles, pc, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn for_each_tile_avx2<I, F>(x: &Tiled, tiles: I, pc: &PackedCentroids, f: F)
where
    I: Iterator<Item = usize>,
    F: FnMut(usize, &TileDists),
{
    for_each_tile_impl::<true, I, F>(x, tiles, pc, f)
}

#[inline(always)]
fn for_each_tile_impl<const FMA: bool, I, F>(x: &Tiled, tiles: I, pc: &PackedCentroids, mut f: F)
where
    I: Iterator<Item = usize>,
    F: FnMut(usize, &TileDists),
{
    let d = x.d;
    if d == 0 || pc.d != d {
        return;
    }
    let mut out = vec![[0.0f32; TILE]; pc.padded_k()];
    for t in tiles {
        let Some(xt) = x.xt.get(t * d * TILE..(t + 1) * d * TILE) else {
            continue;
        };
        let xn = &x.norms[t * TILE..(t + 1) * TILE];
        let blocks = pc.ct.chunks_exact(d * CBLOCK).zip(pc.norms.chunks_exact(CBLOCK));
        for ((block, cn), o) in blocks.zip(out.chunks_exact_mut(CBLOCK)) {
            let mut acc = [[0.0f32; TILE]; CBLOCK];
            for (xv, w) in xt.chunks_exact(TILE).zip(block.chunks_exact(CBLOCK)) {
                for c in 0..CBLOCK {
                    for q in 0..TILE {
                        acc[c][q] = madd::<FMA>(w[c], xv[q], acc[c][q]);
                    }
                }
            }
            for c in 0..CBLOCK {
                for q in 0..TILE {
                    // Cancellation can leave tiny negatives; a distance is >= 0.
                    o[c][q] = (xn[q] + cn[c] - 2.0 * acc[c][q]).max(0.0);
                }
            }
        }
        f(t, &out);
    }
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    // Only fused where the FMA instruction is known to exist: without it
    // `mul_add` is a slow libm call.
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Per point of a tile: nearest centroid among the first `k`, its squared
/// distance and the second smallest squared distance (first index on ties;
/// +inf where there is no second).
#[inline(always)]
pub(crate) fn nearest_two(out: &TileDists, k: usize) -> ([u32; TILE], [f32; TILE], [f32; TILE]) {
    let mut idx = [0u32; TILE];
    let mut b1 = [f32::INFINITY; TILE];
    let mut b2 = [f32::INFINITY; TILE];
    for (c, row) in out.iter().take(k).enumerate() {
        for q in 0..TILE {
            let v = row[q];
            let better = v < b1[q];
            b2[q] = if better { b1[q] } else { b2[q].min(v) };
            idx[q] = if better { c as u32 } else { idx[q] };
            b1[q] = if better { v } else { b1[q] };
        }
    }
    (idx, b1, b2)
}

pub(crate) fn sq_norm(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l] * c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Exact squared Euclidean distance (no norm expansion, so no
/// cancellation), over the common length of `a` and `b`.
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums: a single f32 accumulator is a serial chain.
    let mut acc = [0.0f32; LANES];
    let len = a.len().min(b.len());
    let (ca, cb) = (a[..len].chunks_exact(LANES), b[..len].chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x - y) * (x - y)).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    #[test]
    fn tiles_match_direct_distances_on_both_paths() {
        // 11 centroids: two blocks, the second padded; 19 dims and 37 points:
        // neither a multiple of 8, so the last tile is padded too.
        let (n, d, k) = (37, 19, 11);
        let data: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 113) as f32 / 50.0 - 1.0).collect();
        let cents: Vec<f32> = (0..k * d).map(|i| ((i * 104729) % 97) as f32 / 40.0 - 1.0).collect();
        let x = Tiled::new(&data, n, d, &[0.0; 19], 1.0);
        let pc = PackedCentroids::new(&cents, k, d);
        assert_eq!((x.tiles(), x.tile_len(2), pc.padded_k()), (3, 5, 12));
        let mut seen = vec![false; n];
        let check = |t: usize, out: &TileDists, seen: &mut Vec<bool>| {
            for q in 0..x.tile_len(t) {
                let i = t * TILE + q;
                seen[i] = true;
                let row = &data[i * d..(i + 1) * d];
                for c in 0..pc.padded_k() {
                    if c >= k {
                        assert!(out[c][q].is_infinite());
                        continue;
                    }
                    let want = exact(row, &cents[c * d..(c + 1) * d]);
                    assert!((out[c][q] - want).abs() < 1e-4, "point {i} centroid {c}");
                    assert!((sq_dist(row, &cents[c * d..(c + 1) * d]) - want).abs() < 1e-4);
                }
                let (idx, b1, b2) = nearest_two(out, k);
                let mut all: Vec<(f32, usize)> = (0..k).map(|c| (out[c][q], c)).collect();
                all.sort_by(|a, b| a.partial_cmp(b).unwrap());
                assert_eq!((idx[q] as usize, b1[q], b2[q]), (all[0].1, all[0].0, all[1].0));
            }
        };
        for_each_tile(&x, 0..x.tiles(), &pc, |t, out| check(t, out, &mut seen));
        assert!(seen.iter().all(|&s| s));
        let p36: Vec<f32> = x.point(36).collect();
        assert_eq!(p36, &data[36 * d..]);
        assert_eq!(x.point(37).count(), 0);
        for_each_tile_impl::<false, _, _>(&x, 0..x.tiles(), &pc, |t, out| check(t, out, &mut seen));
    }

    #[test]
    fn nearest_two_handles_nan_and_ties() {
        let inf = f32::INFINITY;
        let mut out = vec![[inf; TILE]; 3];
        out[0][0] = 2.0;
        out[1][0] = 2.0;
        out[2][0] = 1.0;
        out[0][1] = f32::NAN;
        out[1][1] = 3.0;
        let (idx, b1, b2) = nearest_two(&out, 3);
        assert_eq!((idx[0], b1[0], b2[0]), (2, 1.0, 2.0));
        assert_eq!((idx[1], b1[1], b2[1]), (1, 3.0, inf));
        assert_eq!((idx[2], b1[2], b2[2]), (0, inf, inf));
    }
}
