//! What `show` says of a session made by `analyze`: the models instead of a training run, and
//! for each the clustering of its deepest layer and of its best one.

use serde_json::{json, Value};

use super::session_header::{header, printable};
use crate::analysis::score_table;
use crate::session::format::AnalyzedSource;
use crate::session::Session;

/// The text of `show` for an analysed session.
pub fn analyzed_text(s: &Session, source: &AnalyzedSource) -> String {
    let m = &s.manifest;
    let mut out = header(s);
    out.push_str(&format!(
        "  analysed {} model(s) on {} in {:.1} s ({}, read at the instruction's {} token{})\n  data {}, template {:?}\n  tasks ({}): {}\n  seed {}, {} seen + {} unseen prompts\n\n",
        source.models.len(),
        m.device,
        m.train_seconds,
        if source.dtype.is_empty() { "f32" } else { &source.dtype },
        if source.position == "mean" { "mean over each" } else { "last" },
        if source.position == "mean" { "s" } else { "" },
        printable(&source.data),
        source.template,
        m.task_names.len(),
        m.task_names.iter().map(|t| printable(t)).collect::<Vec<_>>().join(", "),
        m.seed,
        s.points.iter().filter(|p| p.seen).count(),
        s.points.iter().filter(|p| !p.seen).count(),
    ));
    let last_layer = m.model.layers;
    out.push_str(&format!(
        "{:>3} {:<28} {:<18} {:>12} | layer {last_layer}: {:>6} {:>9} | best layer: {:>5} {:>6} {:>9}\n",
        "#", "model", "architecture", "parameters", "ARI", "unseenARI", "layer", "ARI", "unseenARI"
    ));
    for snap in &s.snapshots {
        let model = source.models.get(snap.step);
        let last = snap.layer(last_layer).map(|l| (l.scores.seen.ari, l.scores.unseen.ari)).unwrap_or_default();
        let best = snap
            .analysis
            .layers
            .iter()
            .filter(|l| l.error.is_none())
            .max_by(|a, b| a.scores.seen.ari.total_cmp(&b.scores.seen.ari));
        out.push_str(&format!(
            "{:>3} {:<28} {:<18} {:>12} |          {:>6.3} {:>9.3} |             {:>5} {:>6.3} {:>9.3}\n",
            snap.step,
            printable(&model.map_or("?".into(), |m| m.label.clone())),
            model.map_or("?", |m| m.architecture.as_str()),
            model.map_or(0, |m| m.parameters),
            last.0,
            last.1,
            best.map_or(0, |l| l.layer),
            best.map_or(0.0, |l| l.scores.seen.ari),
            best.map_or(0.0, |l| l.scores.unseen.ari),
        ));
    }
    if !s.damaged.is_empty() {
        out.push_str("\ndamaged checkpoints, left out above (`clusterscope check` verifies every file):\n");
        for d in &s.damaged {
            out.push_str(&format!("  #{} DAMAGED: {}\n", d.step, printable(&d.to_string())));
        }
    }
    for snap in &s.snapshots {
        let label = source.models.get(snap.step).map_or("?".into(), |m| printable(&m.label));
        out.push_str(&format!("\n#{} {label}, every layer:\n", snap.step));
        out.push_str(&score_table(&snap.analysis));
    }
    out
}

/// What `show --json` adds for an analysed session.
pub fn analyzed_json(source: &AnalyzedSource) -> Value {
    json!(source)
}
