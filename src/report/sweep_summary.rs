//! A sweep in words (`clusterscope sweep show`): each point's parameters, state and final
//! metrics, read from its session.

use serde_json::{json, Map, Value};

use crate::session::sweep::{SweepDir, SweepManifest, SweepPoint};
use crate::session::Session;
use crate::sweep::grid::describe;
use crate::sweep::point::{state, PointState};

/// The last intact checkpoint's numbers of a point, if it has one.
fn metrics(dir: &SweepDir, point: &SweepPoint) -> Option<Value> {
    let session = Session::open(&dir.point(point)).ok()?;
    let snap = session.checkpoint_index(None).and_then(|i| session.snapshots.get(i))?;
    let deepest = snap.analysis.layers.last()?;
    Some(json!({
        "step": snap.step,
        "loss": snap.loss,
        "seen_accuracy": snap.seen_accuracy,
        "unseen_accuracy": snap.unseen_accuracy,
        "final_ari": deepest.scores.seen.ari,
        "final_unseen_ari": deepest.scores.unseen.ari,
    }))
}

pub fn sweep_json(dir: &SweepDir, m: &SweepManifest) -> Value {
    let grid: Map<String, Value> = m.grid.iter().map(|a| (a.key.clone(), json!(a.values))).collect();
    let points: Vec<Value> = m
        .points
        .iter()
        .map(|p| {
            let st = state(dir, p);
            let reason = match &st {
                PointState::Unfinished(why) => Some(why.clone()),
                _ => None,
            };
            json!({
                "index": p.index,
                "params": p.params,
                "seed": p.seed,
                "dir": p.dir,
                "state": st.name(),
                "reason": reason,
                "metrics": metrics(dir, p),
            })
        })
        .collect();
    json!({
        "dir": dir.root(),
        "grid": grid,
        "seeds": m.seeds,
        "steps": m.steps,
        "slurm_jobs": m.slurm_jobs,
        "points": points,
    })
}

pub fn sweep_text(dir: &SweepDir, m: &SweepManifest) -> String {
    let summary = sweep_json(dir, m);
    let points = summary["points"].as_array().cloned().unwrap_or_default();
    let count = |s: &str| points.iter().filter(|p| p["state"] == s).count();
    let mut out = format!(
        "sweep {}: {} points ({} finished, {} running, {} unfinished, {} pending)",
        dir.root().display(),
        points.len(),
        count("finished"),
        count("running"),
        count("unfinished"),
        count("pending")
    );
    if let Some(job) = m.slurm_jobs.last() {
        out.push_str(&format!(", slurm job {job}"));
    }
    out.push_str(&format!(
        "\n{:>5}  {:<40} {:<10} {:>7} {:>7} {:>8} {:>6}\n",
        "point", "params", "state", "step", "seen%", "unseen%", "ARI"
    ));
    for (p, v) in m.points.iter().zip(&points) {
        let met = &v["metrics"];
        let num = |k: &str, scale: f64, digits: usize| {
            met[k].as_f64().map_or("-".to_string(), |x| format!("{:.*}", digits, x * scale))
        };
        out.push_str(&format!(
            "{:>5}  {:<40} {:<10} {:>7} {:>7} {:>8} {:>6}\n",
            p.index,
            describe(p),
            v["state"].as_str().unwrap_or(""),
            met["step"].as_u64().map_or("-".to_string(), |s| s.to_string()),
            num("seen_accuracy", 100.0, 1),
            num("unseen_accuracy", 100.0, 1),
            num("final_ari", 1.0, 3),
        ));
    }
    out
}
