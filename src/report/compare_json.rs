//! `compare --json`: one object with the steps any session has a checkpoint at, the deepest
//! layer all have, and per session its identity, checkpoint steps, final scores at every layer
//! (the keys `show --json` uses) and its curves as columns, one value per checkpoint (README,
//! "Comparing runs").

use serde_json::{json, Value};

use super::compare::{ComparedRun, Comparison, Score};
use super::summary::layer_json;
use crate::analysis::{ClusterScores, LayerScores};

pub fn comparison_json(c: &Comparison) -> Value {
    json!({
        "steps": c.steps,
        "common_layer": c.common_layer(),
        "sessions": c.runs.iter().map(run_json).collect::<Vec<_>>(),
    })
}

fn run_json(run: &ComparedRun) -> Value {
    let m = &run.session.manifest;
    let snaps = &run.session.snapshots;
    let last = run.last().map(|s| {
        json!({
            "step": s.step,
            "loss": s.loss,
            "seen_accuracy": s.seen_accuracy,
            "unseen_accuracy": s.unseen_accuracy,
            "layers": s.analysis.layers.iter().map(layer_json).collect::<Vec<_>>(),
        })
    });
    let scores = |layer: usize, pick: fn(&LayerScores) -> &ClusterScores| {
        let column = |score: Score| -> Vec<Option<f64>> {
            snaps
                .iter()
                .map(|s| s.layer(layer).filter(|l| l.error.is_none()).map(|l| score.of(pick(&l.scores))))
                .collect()
        };
        json!({ "ari": column(Score::Ari), "ami": column(Score::Ami), "f1": column(Score::F1) })
    };
    let layers: Vec<Value> = (0..run.layers())
        .map(|l| json!({ "layer": l, "seen": scores(l, |s| &s.seen), "unseen": scores(l, |s| &s.unseen) }))
        .collect();
    json!({
        "dir": run.session.dir,
        "label": run.label,
        "name": m.name,
        "experiment": run.experiment,
        "status": run.status(),
        "writer": run.writer,
        "total_steps": m.total_steps,
        "layers": run.layers(),
        "task_names": m.task_names,
        "steps": run.steps(),
        "damaged": run.session.damaged.iter().map(|d| d.step).collect::<Vec<_>>(),
        "final": last,
        "curves": {
            "step": run.steps(),
            "loss": snaps.iter().map(|s| s.loss).collect::<Vec<_>>(),
            "seen_accuracy": snaps.iter().map(|s| s.seen_accuracy).collect::<Vec<_>>(),
            "unseen_accuracy": snaps.iter().map(|s| s.unseen_accuracy).collect::<Vec<_>>(),
            "layers": layers,
        },
        "training_loss": {
            "step": run.loss.iter().map(|p| p.0).collect::<Vec<_>>(),
            "loss": run.loss.iter().map(|p| p.1).collect::<Vec<_>>(),
        },
    })
}
