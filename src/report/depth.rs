//! Depth at the rise: the per-layer ARI at the checkpoint where the deepest layer first clusters
//! by task (ARI >= 0.5). The paper's finding is that deeper layers cluster more strongly while
//! clustering rises; the final checkpoint cannot show that, since by then every block saturates.

use std::fmt::Write as _;

use serde::Serialize;

use crate::record::Snapshot;

/// The deepest layer's seen ARI that marks "the rise": halfway to a perfect clustering.
pub const RISE_ARI: f64 = 0.5;

/// One checkpoint's seen and unseen ARI per layer (`None` where that layer's analysis failed).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointAri {
    pub step: usize,
    pub seen: Vec<Option<f64>>,
    pub unseen: Vec<Option<f64>>,
}

impl CheckpointAri {
    pub fn of(snap: &Snapshot) -> Self {
        let ari = |seen: bool| {
            snap.analysis
                .layers
                .iter()
                .map(|l| {
                    let s = if seen { l.scores.seen } else { l.scores.unseen };
                    l.error.is_none().then_some(s.ari)
                })
                .collect()
        };
        CheckpointAri { step: snap.step, seen: ari(true), unseen: ari(false) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerAri {
    pub layer: usize,
    pub seen: Option<f64>,
    pub unseen: Option<f64>,
}

/// Where the rise was caught, or how close the run came.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthAtRise {
    pub threshold: f64,
    /// The first checkpoint where the deepest layer's seen ARI reached `threshold`; `None` if
    /// none did (then `layers` are those of the checkpoint where it was highest).
    pub step: Option<usize>,
    /// The checkpoint whose layers are shown.
    pub shown_step: usize,
    pub layers: Vec<LayerAri>,
    /// Seen ARI of the deepest layer minus that of the first block (layer 1).
    pub deepest_minus_first_block: Option<f64>,
    /// The first layer whose seen ARI is below the layer before it, if any.
    pub falls_at: Option<usize>,
}

/// The depth profile at the rise, from checkpoints in step order; `None` without checkpoints
/// or layers.
pub fn depth_at_rise(checkpoints: &[CheckpointAri], threshold: f64) -> Option<DepthAtRise> {
    let deepest = |c: &CheckpointAri| c.seen.last().copied().flatten();
    let reached = checkpoints.iter().find(|c| deepest(c).is_some_and(|a| a >= threshold));
    let shown = match reached {
        Some(c) => c,
        None => checkpoints.iter().max_by(|a, b| {
            deepest(a).unwrap_or(f64::NEG_INFINITY).total_cmp(&deepest(b).unwrap_or(f64::NEG_INFINITY))
        })?,
    };
    if shown.seen.is_empty() {
        return None;
    }
    let layers: Vec<LayerAri> = shown
        .seen
        .iter()
        .enumerate()
        .map(|(layer, &seen)| LayerAri { layer, seen, unseen: shown.unseen.get(layer).copied().flatten() })
        .collect();
    let first_block = shown.seen.get(1).copied().flatten();
    let gain = match (deepest(shown), first_block) {
        (Some(d), Some(f)) if shown.seen.len() > 2 => Some(d - f),
        _ => None,
    };
    let falls_at = shown.seen.windows(2).position(|w| matches!(w, [Some(a), Some(b)] if b < a)).map(|i| i + 1);
    Some(DepthAtRise {
        threshold,
        step: reached.map(|c| c.step),
        shown_step: shown.step,
        layers,
        deepest_minus_first_block: gain,
        falls_at,
    })
}

/// The profile of a session's checkpoints, at the standard threshold.
pub fn of_snapshots(snapshots: &[Snapshot]) -> Option<DepthAtRise> {
    let aris: Vec<CheckpointAri> = snapshots.iter().map(CheckpointAri::of).collect();
    depth_at_rise(&aris, RISE_ARI)
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "error".to_string(), |a| format!("{a:.3}"))
}

/// `show`'s section: a heading that says which checkpoint, a layer table, and one line on depth.
pub fn depth_text(d: &DepthAtRise) -> String {
    let deepest = d.layers.len().saturating_sub(1);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = match d.step {
        Some(step) => writeln!(
            out,
            "\ndepth at the rise: step {step}, the first checkpoint where the deepest layer ({deepest}) reaches seen ARI {:.2}:",
            d.threshold
        ),
        None => writeln!(
            out,
            "\ndepth at the rise: the deepest layer ({deepest}) never reaches seen ARI {:.2}; its best checkpoint, step {}:",
            d.threshold, d.shown_step
        ),
    };
    let _ = writeln!(out, "  layer   seen ARI  unseen ARI");
    for l in &d.layers {
        let _ = writeln!(out, "  {:>5}  {:>9}  {:>10}", l.layer, cell(l.seen), cell(l.unseen));
    }
    if let Some(gain) = d.deepest_minus_first_block {
        let _ = write!(out, "  deepest block - first block: {gain:+.3}; ");
    } else {
        out.push_str("  ");
    }
    let _ = match d.falls_at {
        None => writeln!(out, "ARI never falls with depth"),
        Some(l) => writeln!(
            out,
            "ARI falls with depth at layer {l} ({} -> {})",
            cell(d.layers[l - 1].seen),
            cell(d.layers[l].seen)
        ),
    };
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed test may panic
    use super::*;

    fn ckpt(step: usize, seen: &[f64]) -> CheckpointAri {
        CheckpointAri {
            step,
            seen: seen.iter().map(|&a| Some(a)).collect(),
            unseen: seen.iter().map(|&a| Some(a / 2.0)).collect(),
        }
    }

    #[test]
    fn the_first_checkpoint_past_the_threshold_is_shown() {
        let run = [
            ckpt(0, &[0.0, 0.0, 0.0, 0.0]),
            ckpt(50, &[0.0, 0.2, 0.3, 0.45]),
            ckpt(100, &[0.0, 0.25, 0.4, 0.55]),
            ckpt(150, &[0.0, 0.9, 0.9, 0.9]),
        ];
        let d = depth_at_rise(&run, RISE_ARI).unwrap();
        assert_eq!(d.step, Some(100));
        assert_eq!(d.shown_step, 100);
        assert_eq!(d.layers.len(), 4);
        assert_eq!(d.layers[2], LayerAri { layer: 2, seen: Some(0.4), unseen: Some(0.2) });
        assert!((d.deepest_minus_first_block.unwrap() - 0.30).abs() < 1e-12);
        assert_eq!(d.falls_at, None);
        let text = depth_text(&d);
        assert!(text.contains("depth at the rise: step 100"), "{text}");
        assert!(text.contains("deepest block - first block: +0.300; ARI never falls with depth"), "{text}");
        assert!(text.contains("      2      0.400       0.200"), "{text}");
    }

    #[test]
    fn a_fall_with_depth_and_a_run_that_never_rises_are_said() {
        let falls = [ckpt(0, &[0.0, 0.0, 0.0]), ckpt(10, &[0.0, 0.7, 0.6])];
        let d = depth_at_rise(&falls, RISE_ARI).unwrap();
        assert_eq!(d.falls_at, Some(2));
        assert!(depth_text(&d).contains("ARI falls with depth at layer 2 (0.700 -> 0.600)"));
        let flat = [ckpt(0, &[0.0, 0.0, 0.1]), ckpt(10, &[0.0, 0.2, 0.3]), ckpt(20, &[0.0, 0.2, 0.25])];
        let d = depth_at_rise(&flat, RISE_ARI).unwrap();
        assert_eq!((d.step, d.shown_step), (None, 10));
        assert!(depth_text(&d).contains("never reaches seen ARI 0.50; its best checkpoint, step 10"));
        assert!(depth_at_rise(&[], RISE_ARI).is_none());
    }

    #[test]
    fn a_failed_layer_is_shown_and_not_compared() {
        let mut c = ckpt(10, &[0.0, 0.3, 0.2, 0.6]);
        c.seen[2] = None;
        let d = depth_at_rise(&[c], RISE_ARI).unwrap();
        assert_eq!(d.falls_at, None);
        assert!(depth_text(&d).contains("error"));
    }
}
