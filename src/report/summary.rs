//! A saved session in words (`clusterscope show`), for people and for scripts.

use serde_json::{json, Value};

use super::depth;
use super::session_header::{header, printable};
use crate::analysis::{score_table, LayerAnalysis};
use crate::session::lock::holder;
use crate::session::{RunStatus, Session};

pub fn summary_text(s: &Session) -> String {
    let m = &s.manifest;
    if let Some(source) = &m.analyzed {
        return super::analyzed::analyzed_text(s, source);
    }
    let last = s.checkpoint_index(None).and_then(|i| s.snapshots.get(i));
    let mut out = header(s);
    out.push_str(&format!(
        "  {} of {} steps, {:.1} s training on {}\n  model: d_model {}, {} layers, {} heads, vocab {}, context {} ({} parameters)\n  tasks ({}): {}\n  seed {}, {} seen + {} unseen analysis points\n\n",
        last.map_or(0, |x| x.step),
        m.total_steps,
        m.train_seconds,
        m.device,
        m.model.d_model,
        m.model.layers,
        m.model.heads,
        m.model.vocab,
        m.model.context,
        m.model.num_parameters(),
        m.task_names.len(),
        m.task_names.iter().map(|t| printable(t)).collect::<Vec<_>>().join(", "),
        m.seed,
        s.points.iter().filter(|p| p.seen).count(),
        s.points.iter().filter(|p| !p.seen).count(),
    ));
    if !m.phases.is_empty() {
        out.push_str(&phases_text(&m.phases));
    }
    let last_layer = m.model.layers;
    out.push_str(&format!(
        "{:>7} {:>8} {:>7} {:>7} | layer {last_layer}: {:>6} {:>6} {:>6} | {:>8} {:>8} {:>8}\n",
        "step", "loss", "seen%", "unseen%", "ARI", "AMI", "F1", "unseenARI", "unseenAMI", "unseenF1"
    ));
    for snap in &s.snapshots {
        let (seen, unseen) = snap.layer(last_layer).map_or(Default::default(), |l| (l.scores.seen, l.scores.unseen));
        // The last phase ends with the run; the others at a boundary worth pointing at.
        let ends = m.phases.iter().rev().skip(1).find(|p| p.end() == snap.step);
        let mark = ends.map_or(String::new(), |p| format!("  <- end of {}", printable(&p.name)));
        out.push_str(&format!(
            "{:>7} {:>8.4} {:>7.1} {:>7.1} |          {:>6.3} {:>6.3} {:>6.3} | {:>8.3} {:>8.3} {:>8.3}{mark}\n",
            snap.step,
            snap.loss,
            100.0 * snap.seen_accuracy,
            100.0 * snap.unseen_accuracy,
            seen.ari,
            seen.ami,
            seen.f1,
            unseen.ari,
            unseen.ami,
            unseen.f1
        ));
    }
    if let Some(depth) = depth::of_snapshots(&s.snapshots) {
        out.push_str(&depth::depth_text(&depth));
    }
    if let Some(rules) = rule_accuracy(s) {
        out.push_str(&rules_text(&rules));
    }
    if !s.damaged.is_empty() {
        out.push_str("\ndamaged checkpoints, left out above (`clusterscope check` verifies every file):\n");
        for d in &s.damaged {
            out.push_str(&format!("  step {} DAMAGED: {}\n", d.step, printable(&d.to_string())));
        }
    }
    if let Some(last) = last {
        let which = if s.damaged.iter().any(|d| d.step > last.step) { "last intact" } else { "last" };
        out.push_str(&format!("\n{which} checkpoint (step {}), every layer:\n", last.step));
        out.push_str(&score_table(&last.analysis));
    }
    out
}

pub fn summary_json(s: &Session) -> Value {
    let m = &s.manifest;
    let writer = holder(&s.layout());
    let checkpoints: Vec<Value> = s
        .snapshots
        .iter()
        .map(|snap| {
            let layers: Vec<Value> = snap.analysis.layers.iter().map(layer_json).collect();
            json!({
                "step": snap.step,
                "loss": snap.loss,
                "seen_accuracy": snap.seen_accuracy,
                "unseen_accuracy": snap.unseen_accuracy,
                "elapsed_s": snap.elapsed_s,
                "layers": layers,
            })
        })
        .collect();
    json!({
        "name": m.name,
        "dir": s.dir,
        "format_version": m.format_version,
        "app_version": m.app_version,
        "created": m.created,
        "status": m.status,
        "reason": m.reason,
        "writer": writer,
        "interrupted": m.status == RunStatus::Running && writer.is_none(),
        "seed": m.seed,
        "device": m.device,
        "total_steps": m.total_steps,
        "train_seconds": m.train_seconds,
        "model": m.model,
        "task_names": m.task_names,
        "points": { "seen": s.points.iter().filter(|p| p.seen).count(), "unseen": s.points.iter().filter(|p| !p.seen).count() },
        "checkpoints": checkpoints,
        "depth_at_rise": depth::of_snapshots(&s.snapshots),
        "rules": rule_accuracy(s),
        "phases": m.phases,
        "damaged": s.damaged,
        "analyzed": m.analyzed.as_ref().map(super::analyzed::analyzed_json),
    })
}

/// The phases as `show` lists them, one line each with its steps.
fn phases_text(phases: &[crate::record::PhaseMark]) -> String {
    let mut out = String::from("phases:\n");
    for (i, p) in phases.iter().enumerate() {
        out.push_str(&format!("  {} {:<16} steps {}..{} ({})\n", i + 1, printable(&p.name), p.start, p.end(), p.data));
    }
    out.push('\n');
    out
}

/// One layer's scores as exported and shown: the same keys everywhere.
pub fn layer_json(l: &LayerAnalysis) -> Value {
    json!({
        "layer": l.layer,
        "seen": l.scores.seen,
        "unseen": l.scores.unseen,
        "unseen_centroid_accuracy": l.scores.unseen_centroid_accuracy,
        "explained_variance_ratio": l.pca.explained_variance_ratio,
        "error": l.error,
    })
}

/// A rule's exact-match accuracy on its analysis points at the last checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleAccuracy {
    pub rule: String,
    pub seen: bool,
    pub accuracy: f64,
    pub points: usize,
}

/// Per-rule accuracy of a string-rewrite session at its last checkpoint, seen rules first;
/// `None` for other families or a session that did not keep its answers.
pub fn rule_accuracy(s: &Session) -> Option<Vec<RuleAccuracy>> {
    let spec = crate::experiment::spec::ExperimentSpec::from_toml(&s.manifest.experiment).ok()?;
    spec.rewrite.as_ref()?;
    let last = s.checkpoint_index(None).and_then(|i| s.snapshots.get(i))?;
    if last.correct.len() != s.points.len() {
        return None;
    }
    let mut rules: Vec<RuleAccuracy> = Vec::new();
    let mut index: std::collections::HashMap<(&str, bool), usize> = std::collections::HashMap::new();
    let mut right: Vec<usize> = Vec::new();
    for (p, &ok) in s.points.iter().zip(&last.correct) {
        let i = *index.entry((p.instruction.as_str(), p.seen)).or_insert_with(|| {
            let rule = p.instruction.replace(' ', "").replace("->", " -> ");
            rules.push(RuleAccuracy { rule: rule.trim().to_string(), seen: p.seen, accuracy: 0.0, points: 0 });
            right.push(0);
            rules.len() - 1
        });
        rules[i].points += 1;
        right[i] += usize::from(ok);
    }
    for (r, n) in rules.iter_mut().zip(right) {
        r.accuracy = n as f64 / r.points.max(1) as f64;
    }
    Some(rules)
}

fn rules_text(rules: &[RuleAccuracy]) -> String {
    let mut out = String::from("\nper rule, last checkpoint (exact match):\n");
    for seen in [true, false] {
        let mut these: Vec<&RuleAccuracy> = rules.iter().filter(|r| r.seen == seen).collect();
        if these.is_empty() {
            continue;
        }
        let mean = these.iter().map(|r| r.accuracy).sum::<f64>() / these.len() as f64;
        let perfect = these.iter().filter(|r| r.accuracy >= 1.0).count();
        let kind = if seen { "trained rules " } else { "held-out rules" };
        these.sort_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
        let worst: Vec<String> =
            these.iter().take(5).map(|r| format!("{} {:.0}%", printable(&r.rule), 100.0 * r.accuracy)).collect();
        out.push_str(&format!(
            "  {kind} {:>5.1}% mean over {} rules, {perfect} always right; worst: {}\n",
            100.0 * mean,
            these.len(),
            worst.join(", ")
        ));
    }
    out
}
