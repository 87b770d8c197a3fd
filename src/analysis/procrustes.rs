//! Orthogonal Procrustes in the plane: the rotation (optionally with a reflection and a
//! uniform scale) plus translation that best maps one 2-D layout onto another in least
//! squares, fitted on points the two layouts share.
//!
//! A t-SNE layout is defined only up to rotation, reflection and translation, so two
//! checkpoints' layouts of the same points would look unrelated; mapping each onto the
//! previous one makes scrubbing show motion instead of a new picture.
//!
//! In two dimensions the SVD of the 2 x 2 cross-covariance has a closed form: the best
//! rotation angle is `atan2(S, C)` with `C = sum(a . b)` and `S = sum(a x b)` over the
//! centred pairs, and its fit is `sqrt(C^2 + S^2)`; the best reflection is the same
//! computed with the source mirrored. No iterative solver, nothing that can fail.

/// What the fitted map may do besides rotating and translating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcrustesOptions {
    /// Also consider mirror images (a determinant of -1).
    pub allow_reflection: bool,
    /// Also fit a uniform scale.
    pub allow_scale: bool,
}

impl Default for ProcrustesOptions {
    fn default() -> Self {
        ProcrustesOptions { allow_reflection: true, allow_scale: false }
    }
}

/// `y = scale * R (x - source_mean) + target_mean`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity2 {
    /// Row-major 2 x 2 orthogonal matrix (rotation, or rotation times reflection).
    pub r: [[f64; 2]; 2],
    pub scale: f64,
    pub source_mean: [f64; 2],
    pub target_mean: [f64; 2],
}

impl Similarity2 {
    pub const IDENTITY: Similarity2 =
        Similarity2 { r: [[1.0, 0.0], [0.0, 1.0]], scale: 1.0, source_mean: [0.0; 2], target_mean: [0.0; 2] };

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        let x = f64::from(p[0]) - self.source_mean[0];
        let y = f64::from(p[1]) - self.source_mean[1];
        let r = &self.r;
        [
            (self.scale * (r[0][0] * x + r[0][1] * y) + self.target_mean[0]) as f32,
            (self.scale * (r[1][0] * x + r[1][1] * y) + self.target_mean[1]) as f32,
        ]
    }

    pub fn apply_all(&self, points: &[[f32; 2]]) -> Vec<[f32; 2]> {
        points.iter().map(|&p| self.apply(p)).collect()
    }

    /// Whether the map mirrors (determinant -1).
    pub fn reflects(&self) -> bool {
        self.r[0][0] * self.r[1][1] - self.r[0][1] * self.r[1][0] < 0.0
    }
}

/// A source point and its target.
type Pair = ([f64; 2], [f64; 2]);

/// The map taking `source[i]` closest to `target[i]` over the pairs both slices have (the
/// shorter length); non-finite pairs are skipped. With fewer than two usable pairs, or a
/// source with no spread, only the translation is fitted.
pub fn procrustes(source: &[[f32; 2]], target: &[[f32; 2]], opts: ProcrustesOptions) -> Similarity2 {
    let pairs: Vec<Pair> = source
        .iter()
        .zip(target)
        .filter(|(a, b)| a.iter().chain(b.iter()).all(|v| v.is_finite()))
        .map(|(a, b)| ([f64::from(a[0]), f64::from(a[1])], [f64::from(b[0]), f64::from(b[1])]))
        .collect();
    if pairs.is_empty() {
        return Similarity2::IDENTITY;
    }
    let n = pairs.len() as f64;
    let mean = |pick: fn(&Pair) -> [f64; 2]| {
        let s = pairs.iter().map(pick).fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    let sm = mean(|p| p.0);
    let tm = mean(|p| p.1);
    // Cross terms for the direct and the mirrored source: mirroring y -> -y turns
    // (xx + yy, xy' - yx') into (xx - yy, xy' + yx').
    let (mut xx, mut yy, mut xy, mut yx, mut spread) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        let (ax, ay) = (a[0] - sm[0], a[1] - sm[1]);
        let (bx, by) = (b[0] - tm[0], b[1] - tm[1]);
        xx += ax * bx;
        yy += ay * by;
        xy += ax * by;
        yx += ay * bx;
        spread += ax * ax + ay * ay;
    }
    if pairs.len() < 2 || spread <= f64::MIN_POSITIVE {
        return Similarity2 { source_mean: sm, target_mean: tm, ..Similarity2::IDENTITY };
    }
    let (c, s) = (xx + yy, xy - yx);
    let (cm, sm_) = (xx - yy, xy + yx);
    let direct = c.hypot(s);
    let mirrored = cm.hypot(sm_);
    let (r, fit) = if opts.allow_reflection && mirrored > direct {
        let t = sm_.atan2(cm);
        // Rotation by t after the mirror diag(1, -1).
        ([[t.cos(), t.sin()], [t.sin(), -t.cos()]], mirrored)
    } else {
        let t = s.atan2(c);
        ([[t.cos(), -t.sin()], [t.sin(), t.cos()]], direct)
    };
    let scale = if opts.allow_scale { fit / spread } else { 1.0 };
    Similarity2 { r, scale, source_mean: sm, target_mean: tm }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cloud() -> Vec<[f32; 2]> {
        (0..40).map(|i| [(i as f32 * 0.37).sin() * 3.0 + i as f32 * 0.1, (i as f32 * 0.71).cos() * 2.0]).collect()
    }

    fn transform(p: &[[f32; 2]], angle: f64, mirror: bool, scale: f64, shift: [f64; 2]) -> Vec<[f32; 2]> {
        p.iter()
            .map(|q| {
                let (x, y) = (f64::from(q[0]), if mirror { -f64::from(q[1]) } else { f64::from(q[1]) });
                let (c, s) = (angle.cos(), angle.sin());
                [(scale * (c * x - s * y) + shift[0]) as f32, (scale * (s * x + c * y) + shift[1]) as f32]
            })
            .collect()
    }

    fn max_err(a: &[[f32; 2]], b: &[[f32; 2]]) -> f32 {
        a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs())).fold(0.0, f32::max)
    }

    #[test]
    fn recovers_a_rotation_and_translation() {
        let src = cloud();
        let dst = transform(&src, 2.1, false, 1.0, [5.0, -3.0]);
        let m = procrustes(&src, &dst, ProcrustesOptions::default());
        assert!(!m.reflects());
        assert!(max_err(&m.apply_all(&src), &dst) < 1e-4);
    }

    #[test]
    fn recovers_a_reflection_only_when_allowed() {
        let src = cloud();
        let dst = transform(&src, -0.7, true, 1.0, [1.0, 2.0]);
        let m = procrustes(&src, &dst, ProcrustesOptions::default());
        assert!(m.reflects());
        assert!(max_err(&m.apply_all(&src), &dst) < 1e-4);
        let rot = procrustes(&src, &dst, ProcrustesOptions { allow_reflection: false, allow_scale: false });
        assert!(!rot.reflects());
        assert!(max_err(&rot.apply_all(&src), &dst) > 0.5);
    }

    #[test]
    fn recovers_a_scale_when_allowed() {
        let src = cloud();
        let dst = transform(&src, 0.4, false, 2.5, [0.0, 0.0]);
        let m = procrustes(&src, &dst, ProcrustesOptions { allow_reflection: true, allow_scale: true });
        assert!((m.scale - 2.5).abs() < 1e-6);
        assert!(max_err(&m.apply_all(&src), &dst) < 1e-4);
    }

    #[test]
    fn degenerate_inputs_translate_only() {
        let same = vec![[1.0f32, 1.0]; 5];
        let dst = cloud();
        let m = procrustes(&same, &dst[..5], ProcrustesOptions::default());
        assert_eq!(m.r, Similarity2::IDENTITY.r);
        assert_eq!(procrustes(&[], &[], ProcrustesOptions::default()), Similarity2::IDENTITY);
        let with_nan = [[f32::NAN, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let target = [[9.0, 9.0], [0.0, 0.0], [0.0, 1.0], [-1.0, 0.0]];
        let m = procrustes(&with_nan, &target, ProcrustesOptions::default());
        assert!(max_err(&m.apply_all(&with_nan[1..]), &target[1..]) < 1e-5);
    }
}
