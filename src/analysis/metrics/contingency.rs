//! Contingency table of true classes x predicted clusters, plus the scores
//! that need nothing but the table (ARI, Hungarian F1).

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// Maps arbitrary `usize` labels to `0..r` (in increasing label order, like
/// `np.unique`) and returns `r`.
pub(super) fn densify(labels: &[usize]) -> (Vec<u32>, usize) {
    let max = labels.iter().copied().max().unwrap_or(0);
    if max < 2 * labels.len() + 64 {
        // Small label values (the usual case): a lookup table, no sorting.
        let mut map = vec![u32::MAX; max + 1];
        for &l in labels {
            map[l] = 0;
        }
        let mut r = 0u32;
        for m in map.iter_mut().filter(|m| **m == 0) {
            *m = r;
            r += 1;
        }
        (labels.iter().map(|&l| map[l]).collect(), r as usize)
    } else {
        let mut uniq = labels.to_vec();
        uniq.sort_unstable();
        uniq.dedup();
        // Every label is in `uniq` by construction, so the search succeeds;
        // `unwrap_or_else` keeps that from being a panic site anyway.
        let dense = labels.iter().map(|l| uniq.binary_search(l).unwrap_or_else(|i| i) as u32).collect();
        (dense, uniq.len())
    }
}

pub(super) struct Contingency<'a> {
    pub n: u64,
    /// Class sizes (row sums).
    pub a: &'a [u64],
    /// Cluster sizes (column sums).
    pub b: Vec<u64>,
    /// Non-zero cells `(class, cluster, count)`, ordered by class then cluster.
    pub nz: Vec<(u32, u32, u64)>,
}

impl<'a> Contingency<'a> {
    pub fn new(true_dense: &[u32], class_counts: &'a [u64], pred: &[usize]) -> Self {
        let (pred_dense, c) = densify(pred);
        let r = class_counts.len();
        let mut b = vec![0u64; c];
        for &j in &pred_dense {
            b[j as usize] += 1;
        }
        let mut nz = Vec::new();
        if r.saturating_mul(c) <= 1 << 16 {
            let mut cells = vec![0u64; r * c];
            for (&i, &j) in true_dense.iter().zip(&pred_dense) {
                cells[i as usize * c + j as usize] += 1;
            }
            for (idx, &v) in cells.iter().enumerate() {
                if v > 0 {
                    nz.push(((idx / c) as u32, (idx % c) as u32, v));
                }
            }
        } else {
            let mut keys: Vec<u64> =
                true_dense.iter().zip(&pred_dense).map(|(&i, &j)| (u64::from(i) << 32) | u64::from(j)).collect();
            keys.sort_unstable();
            for key in keys {
                let (i, j) = ((key >> 32) as u32, key as u32);
                match nz.last_mut() {
                    Some(last) if last.0 == i && last.1 == j => last.2 += 1,
                    _ => nz.push((i, j, 1)),
                }
            }
        }
        Contingency { n: true_dense.len() as u64, a: class_counts, b, nz }
    }

    /// True when the two labellings are the same partition up to renaming.
    pub fn is_perfect_match(&self) -> bool {
        self.nz.len() == self.a.len() && self.nz.len() == self.b.len()
    }

    /// scikit-learn's `adjusted_rand_score` via its pair confusion matrix,
    /// in exact integer arithmetic.
    pub fn ari(&self) -> f64 {
        let n = i128::from(self.n);
        let sq = |v: &u64| i128::from(*v) * i128::from(*v);
        let sum_squares: i128 = self.nz.iter().map(|c| sq(&c.2)).sum();
        let tp = sum_squares - n;
        let fp = self.b.iter().map(sq).sum::<i128>() - sum_squares;
        let fn_ = self.a.iter().map(sq).sum::<i128>() - sum_squares;
        let tn = n * n - fp - fn_ - sum_squares;
        if fn_ == 0 && fp == 0 {
            return 1.0;
        }
        let num = 2 * (tp * tn - fn_ * fp);
        let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
        if den == 0 {
            // Unreachable when fn_ or fp is non-zero (each makes a term of
            // `den` positive); kept so the function cannot produce NaN.
            return 0.0;
        }
        num as f64 / den as f64
    }

    /// See `metrics::hungarian_f1` for the definition.
    pub fn hungarian_f1(&self) -> f64 {
        let (r, c) = (self.a.len(), self.b.len());
        if r == 0 || c == 0 {
            return 0.0;
        }
        if self.is_perfect_match() {
            return 1.0; // Every class has its own cluster: F1 = 1 each.
        }
        // kuhn_munkres needs rows <= columns: put the smaller side on rows.
        let transpose = r > c;
        let (rows, all_cols) = if transpose { (c, r) } else { (r, c) };
        let cells = self.nz.iter().map(|&(i, j, v)| if transpose { (j, i, v) } else { (i, j, v) });
        // An optimal matching only ever uses, for each row, one of its
        // `rows` largest cells (otherwise one of those columns is free and
        // swapping to it cannot lose), so with many columns (e.g. singleton
        // clusters) the others are dropped to keep the O(rows^2 cols) cost
        // down.
        let mut keep: Vec<u32> = if rows.saturating_mul(all_cols) <= 1 << 16 {
            (0..all_cols as u32).collect()
        } else {
            let mut per_row: Vec<Vec<(u64, u32)>> = vec![Vec::new(); rows];
            for (row, col, v) in cells.clone() {
                per_row[row as usize].push((v, col));
            }
            per_row
                .iter_mut()
                .flat_map(|cands| {
                    cands.sort_unstable_by(|x, y| y.cmp(x));
                    cands.iter().take(rows).map(|&(_, col)| col).collect::<Vec<_>>()
                })
                .collect()
        };
        keep.sort_unstable();
        keep.dedup();
        // Padding columns of zeros keep the matrix at least square.
        let cols = keep.len().max(rows);
        let mut col_of = vec![u32::MAX; all_cols];
        for (k, &col) in keep.iter().enumerate() {
            col_of[col as usize] = k as u32;
        }
        let mut w = vec![0i64; rows * cols];
        for (row, col, v) in cells {
            if let Some(&k) = col_of.get(col as usize).filter(|&&k| k != u32::MAX) {
                w[row as usize * cols + k as usize] = v as i64;
            }
        }
        let Ok(weights) = Matrix::from_vec(rows, cols, w) else {
            return 0.0; // Sizes agree by construction.
        };
        let (_, matched) = kuhn_munkres(&weights);
        let mut total = 0.0;
        for (row, &k) in matched.iter().enumerate() {
            let shared = weights[(row, k)];
            // A zero cell (or a padding column) is no match at all.
            let Some(&col) = keep.get(k).filter(|_| shared > 0) else {
                continue;
            };
            let (i, j) = if transpose { (col as usize, row) } else { (row, col as usize) };
            total += 2.0 * shared as f64 / (self.a[i] + self.b[j]) as f64;
        }
        total / r as f64
    }
}
