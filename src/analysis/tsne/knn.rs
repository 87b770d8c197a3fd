//! Exact k nearest neighbours by brute force. The point sets here are a few thousand
//! points in at most ~50 dimensions after the PCA step, where n^2 distances cost less than
//! building a tree, and an exact answer keeps the affinities independent of any seed.

use rayon::prelude::*;

/// For every row, its `k` nearest other rows as `(index, euclidean distance)`, nearest
/// first, ties broken by the smaller index. `k` must be below the number of rows.
pub(super) fn exact(points: &[f32], d: usize, k: usize) -> Vec<Vec<(usize, f32)>> {
    let n = points.len() / d.max(1);
    (0..n)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(n),
            |scratch: &mut Vec<(f32, usize)>, i| {
                let row = &points[i * d..(i + 1) * d];
                scratch.clear();
                for (j, other) in points.chunks_exact(d).enumerate() {
                    if j == i {
                        continue;
                    }
                    // The direct difference rather than |a|^2 + |b|^2 - 2ab: near neighbours
                    // are exactly where that expansion cancels.
                    let sq: f32 = row.iter().zip(other).map(|(a, b)| (a - b) * (a - b)).sum();
                    scratch.push((sq, j));
                }
                let by = |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                let k = k.min(scratch.len());
                if k < scratch.len() {
                    scratch.select_nth_unstable_by(k, by);
                }
                let nearest = &mut scratch[..k];
                nearest.sort_unstable_by(by);
                nearest.iter().map(|&(sq, j)| (j, sq.max(0.0).sqrt())).collect()
            },
        )
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_on_a_line_with_ties_by_index() {
        let pts: Vec<f32> = [0.0f32, 1.0, 2.0, 3.0, 10.0].to_vec();
        let nn = exact(&pts, 1, 2);
        assert_eq!(nn[0], vec![(1, 1.0), (2, 2.0)]);
        // Point 2 has two neighbours at distance 1: index 1 comes first.
        assert_eq!(nn[2], vec![(1, 1.0), (3, 1.0)]);
        assert_eq!(nn[4], vec![(3, 7.0), (2, 8.0)]);
    }
}
