//! The scatter's axes: a half-range per snapshot and layer, fitted once when the snapshot
//! arrives (the App keeps them beside the snapshots), so drawing a frame sorts nothing.

/// Half-ranges `[rx, ry]` for one layer at one checkpoint: the 99th percentile of |coordinate|
/// padded by 10%, rounded *up* to 1, 2 or 5 x 10^n.
///
/// Why not one range over all checkpoints: hidden-state scale grows by an order of magnitude
/// during training, so early checkpoints would be a dot in the middle. Why not a tight fit per
/// checkpoint: the axes would twitch at every step of the scrub. Rounding to the 1-2-5 ladder
/// keeps the same axes across runs of neighbouring checkpoints (they change only when the
/// spread crosses a ladder step), and PCA centres the data, so a symmetric range is no waste.
/// The percentile stops one stray point from squashing the picture; the few off-scale points
/// are counted in the scatter title.
pub fn fit_half_range(seen: &[[f32; 2]], unseen: &[[f32; 2]]) -> [f32; 2] {
    let mut out = [1.0f32; 2];
    for (axis, r) in out.iter_mut().enumerate() {
        let mut v: Vec<f32> = seen.iter().chain(unseen).map(|p| p[axis].abs()).filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            continue;
        }
        let i = ((v.len() as f64 * 0.99) as usize).min(v.len() - 1);
        let (_, q, _) = v.select_nth_unstable_by(i, f32::total_cmp);
        *r = nice_ceil(*q * 1.1);
    }
    out
}

/// The smallest of 1, 2, 5 x 10^n at or above `v` (1 for nothing to show).
pub fn nice_ceil(v: f32) -> f32 {
    if !v.is_finite() || v <= 1e-12 {
        return 1.0;
    }
    let e = 10f32.powf(v.log10().floor());
    let m = v / e;
    let step = if m <= 1.0 + 1e-6 {
        1.0
    } else if m <= 2.0 + 1e-6 {
        2.0
    } else if m <= 5.0 + 1e-6 {
        5.0
    } else {
        10.0
    };
    step * e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder() {
        assert_eq!(nice_ceil(0.7), 1.0);
        assert_eq!(nice_ceil(1.3), 2.0);
        assert_eq!(nice_ceil(3.0), 5.0);
        assert_eq!(nice_ceil(7.0), 10.0);
        assert_eq!(nice_ceil(f32::NAN), 1.0);
    }
}
