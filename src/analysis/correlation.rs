//! Pearson's correlation of two equally long series, for comparing what a model believes before
//! and after it is taught something (a distribution over answers at two checkpoints).

/// Pearson's r of `a` and `b`, accumulated in f64; `None` when the lengths differ, a series has
/// fewer than two values, holds a non-finite value, or has no variance (r is undefined there,
/// and a made-up 0 or 1 would read as a finding).
pub fn pearson(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 || a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let n = a.len() as f64;
    let mean = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    // A series whose spread is rounding noise around its mean has no variance to speak of.
    let tiny = |s: f64, m: f64| s <= 1e-24 * n * m.abs().max(1.0).powi(2);
    if tiny(saa, ma) || tiny(sbb, mb) {
        return None;
    }
    Some((sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::pearson;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn known_vectors() {
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), 1.0));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0));
        // Hand-computed: means 2.5 and 2.5, sum of products 3, sums of squares 5 and 5.
        assert!(close(pearson(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]), 0.6));
        assert!(close(pearson(&[0.0, 1.0, 0.0, 1.0], &[1.0, 1.0, 0.0, 0.0]), 0.0));
        // Shifting and scaling either series leaves r alone.
        let a = [0.1, 0.7, 0.2];
        let b = [0.3, 0.5, 0.2];
        let scaled: Vec<f32> = b.iter().map(|v| 10.0 * v - 3.0).collect();
        let r = pearson(&a, &b).unwrap_or(f64::NAN);
        // Up to f32 rounding of the scaled values.
        assert!(pearson(&a, &scaled).is_some_and(|s| (s - r).abs() < 1e-6));
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, f32::NAN], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[], &[]), None);
    }
}
