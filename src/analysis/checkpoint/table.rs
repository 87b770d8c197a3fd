//! Fixed-width score table the headless trainer prints at each checkpoint.

use std::fmt::Write;

use super::CheckpointAnalysis;

/// One row per layer: seen ARI/AMI/F1, unseen ARI/AMI/F1 and the unseen
/// nearest-task-centroid accuracy, three decimals each. A layer that could
/// not be analysed shows its error message instead of numbers.
///
/// ```text
/// layer | seen   ARI    AMI     F1 | unseen ARI    AMI     F1 | cent acc
///     0 |      0.012  0.034  0.210 |      0.008  0.021  0.198 |    0.412
/// ```
pub fn score_table(analysis: &CheckpointAnalysis) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "layer | seen   ARI    AMI     F1 | unseen ARI    AMI     F1 | cent acc");
    for a in &analysis.layers {
        match &a.error {
            Some(e) => {
                let _ = writeln!(out, "{:>5} | error: {e}", a.layer);
            }
            None => {
                let (s, u) = (&a.scores.seen, &a.scores.unseen);
                let _ = writeln!(
                    out,
                    "{:>5} | {:>10.3} {:>6.3} {:>6.3} | {:>10.3} {:>6.3} {:>6.3} | {:>8.3}",
                    a.layer, s.ari, s.ami, s.f1, u.ari, u.ami, u.f1, a.scores.unseen_centroid_accuracy
                );
            }
        }
    }
    out
}
