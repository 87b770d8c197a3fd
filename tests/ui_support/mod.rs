//! Deterministic UI fixtures without training: synthetic hidden states whose task clusters
//! sharpen with depth and with training, run through the real analysis. Shared by
//! tests/ui_snapshots.rs and benches/frame.rs.
#![allow(dead_code)]

use std::path::PathBuf;

use clusterscope::analysis::{analyze_checkpoint, AnalysisInput, CheckpointAnalysis, LayerHidden};
use clusterscope::model::ModelConfig;
use clusterscope::record::{PointInfo, RunInfo, Snapshot};
use clusterscope::session::format::{CheckpointEntry, LogEntry, Manifest, FORMAT_NAME, TRAINED_FORMAT_VERSION};
use clusterscope::session::{RunStatus, Session};

pub const TASKS: [&str; 5] = ["copy", "reverse", "sort", "shift-by-one", "parity"];
pub const STEP: usize = 100;

pub struct Fixture {
    pub info: RunInfo,
    pub snapshots: Vec<Snapshot>,
    pub log: Vec<LogEntry>,
}

/// A tiny xorshift: deterministic on every platform, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn gauss(&mut self) -> f32 {
        (self.next() + self.next() + self.next()) * 0.6
    }
}

/// `seen` points per task (the last task gets half, so a minority exists), `unseen` per task,
/// `layers` hidden layers (embeddings included) and `checkpoints` checkpoints STEP apart.
pub fn fixture(seen: usize, unseen: usize, layers: usize, checkpoints: usize) -> Fixture {
    let k = TASKS.len();
    let d = 8;
    let mut points = Vec::new();
    for (is_seen, per) in [(true, seen), (false, unseen)] {
        for (t, name) in TASKS.iter().enumerate() {
            let n = if t == k - 1 { per.div_ceil(2) } else { per };
            for i in 0..n {
                points.push(PointInfo {
                    task: t,
                    seen: is_seen,
                    instruction: format!("{name} please #{i}"),
                    input: "abc".into(),
                    output: "cba".into(),
                });
            }
        }
    }
    let seen_labels: Vec<usize> = points.iter().filter(|p| p.seen).map(|p| p.task).collect();
    let unseen_labels: Vec<usize> = points.iter().filter(|p| !p.seen).map(|p| p.task).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut snapshots: Vec<Snapshot> = Vec::new();
    let mut prev: Option<CheckpointAnalysis> = None;
    for c in 0..checkpoints {
        let progress = if checkpoints > 1 { c as f32 / (checkpoints - 1) as f32 } else { 1.0 };
        let mut hidden: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
        for l in 0..layers {
            let depth = if layers > 1 { l as f32 / (layers - 1) as f32 } else { 1.0 };
            // Layer 0 (embeddings) never clusters; deeper layers and later steps cluster more.
            let strength = 3.0 * depth * progress * (1.0 + c as f32 * 0.5);
            let mut gen = |labels: &[usize], factor: f32| {
                let mut v = Vec::with_capacity(labels.len() * d);
                for &t in labels {
                    for j in 0..d {
                        let centre = if j == t % d { strength * factor } else { 0.0 };
                        v.push(centre + rng.gauss() * (1.0 + c as f32 * 0.3));
                    }
                }
                v
            };
            hidden.push((gen(&seen_labels, 1.0), gen(&unseen_labels, 0.8)));
        }
        let input = AnalysisInput {
            layers: hidden.iter().map(|(s, u)| LayerHidden { seen: s, unseen: u }).collect(),
            d,
            seen_labels: &seen_labels,
            unseen_labels: &unseen_labels,
            num_tasks: k,
            seed: 7,
            restarts: 2,
        };
        let analysis = analyze_checkpoint(&input, prev.as_ref());
        prev = Some(analysis.clone());
        let step = c * STEP;
        snapshots.push(Snapshot {
            step,
            loss: if c == 0 { 0.0 } else { loss_at(step) },
            seen_accuracy: f64::from(progress) * 0.92,
            unseen_accuracy: f64::from(progress) * 0.81,
            elapsed_s: c as f64 * 12.5,
            correct: Vec::new(),
            analysis,
        });
    }
    let total = (checkpoints.max(2) - 1) * STEP * 2;
    let log = (1..=(checkpoints.max(1) - 1) * STEP)
        .map(|s| LogEntry { step: s, loss: loss_at(s), lr: 1e-3, elapsed_s: s as f64 * 0.1 })
        .collect();
    let info = RunInfo {
        device: "cpu".into(),
        device_note: None,
        total_steps: total,
        first_checkpoint: 0,
        parameters: 123_456,
        task_names: TASKS.iter().map(|s| s.to_string()).collect(),
        out_dir: PathBuf::from("sessions/fixture"),
        warnings: vec![],
        points,
        phases: vec![],
    };
    Fixture { info, snapshots, log }
}

fn loss_at(step: usize) -> f32 {
    2.6 * (-(step as f32) / 150.0).exp() + 0.08
}

impl Fixture {
    /// The same run as a saved, finished session, in memory.
    pub fn session(&self) -> Session {
        let layers = self.snapshots.first().map_or(1, |s| s.analysis.layers.len());
        let manifest = Manifest {
            format: FORMAT_NAME.into(),
            format_version: TRAINED_FORMAT_VERSION,
            app_version: "0.1.0".into(),
            name: "fixture".into(),
            created: "2026-11-01T00:00:00Z".into(),
            experiment: String::new(),
            seed: 1,
            model: ModelConfig { vocab: 40, context: 32, d_model: 8, layers: layers - 1, heads: 2, d_ff: 32 },
            device: self.info.device.clone(),
            total_steps: self.snapshots.last().map_or(0, |s| s.step),
            task_names: self.info.task_names.clone(),
            status: RunStatus::Finished,
            reason: None,
            checkpoints: self
                .snapshots
                .iter()
                .map(|s| CheckpointEntry {
                    step: s.step,
                    dir: format!("step-{:06}", s.step),
                    seen_accuracy: s.seen_accuracy,
                    unseen_accuracy: s.unseen_accuracy,
                    checksums: Default::default(),
                })
                .collect(),
            train_seconds: 60.0,
            resume: None,
            phases: self.info.phases.clone(),
            phase_targets: Default::default(),
            analyzed: None,
        };
        Session {
            dir: PathBuf::from("sessions/fixture"),
            manifest,
            points: self.info.points.clone(),
            snapshots: self.snapshots.clone(),
            damaged: Vec::new(),
            log: self.log.clone(),
        }
    }
}

/// An experiment whose tasks are the fixture's, for probes (validation, completion, tables).
pub const EXPERIMENT: &str = r#"
name = "ui-fixture"
seed = 3
symbols = ["A", "B", "C", "D", "E", "F"]
held_out = [1]

[[tasks]]
name = "copy"
instructions = ["(please)? copy (the|this) symbol", "repeat (the|this) symbol (now)?"]

[[tasks]]
name = "reverse"
instructions = ["(please)? reverse (the|this) symbol", "flip (the|this) symbol (now)?"]

[[tasks]]
name = "sort"
instructions = ["(please)? sort (the|this) symbol", "order (the|this) symbol (now)?"]

[[tasks]]
name = "shift-by-one"
instructions = ["(please)? shift (the|this) symbol", "advance (the|this) symbol (now)?"]

[[tasks]]
name = "parity"
instructions = ["(please)? parity (of)? (the|this) symbol", "check (the|this) symbol (now)?"]
"#;

pub fn experiment() -> std::sync::Arc<clusterscope::experiment::Experiment> {
    std::sync::Arc::new(clusterscope::experiment::Experiment::from_toml(EXPERIMENT, None).unwrap())
}

/// `task`'s centroid of seen points at every layer of checkpoint `snapshot`: a hidden state
/// that lands in that task's cluster.
pub fn centroid_hidden(f: &Fixture, snapshot: usize, task: usize) -> Vec<Vec<f32>> {
    f.snapshots[snapshot]
        .analysis
        .layers
        .iter()
        .map(|l| {
            let d = l.pca.mean.len();
            l.task_centroids[task * d..(task + 1) * d].to_vec()
        })
        .collect()
}

/// A probe result whose hidden state at every layer is `task`'s centroid of seen points at
/// checkpoint `snapshot`, so it lands in that task's cluster; the answer is what `task`'s table
/// gives for `input`.
pub fn probe_at_centroid(
    f: &Fixture,
    exp: &clusterscope::experiment::Experiment,
    id: u64,
    snapshot: usize,
    task: usize,
    words: &[&str],
    input: &str,
) -> clusterscope::record::ProbeResult {
    use clusterscope::record::{ProbeAnswer, ProbeResult};
    let snap = &f.snapshots[snapshot];
    let hidden = centroid_hidden(f, snapshot, task);
    let i = exp.symbols.iter().position(|s| s == input).unwrap();
    let answer = exp.symbols[exp.table(task)[i]].clone();
    let attribution = (0..words.len()).map(|j| [0.05, -0.4, 0.9, 0.2, -0.1][j % 5]).collect();
    ProbeResult {
        id,
        step: snap.step,
        text: format!("{} | {input}", words.join(" ")),
        outcome: Ok(ProbeAnswer {
            words: words.iter().map(|w| w.to_string()).collect(),
            input: input.to_string(),
            hidden,
            answer,
            answer_probability: 0.87,
            attribution,
        }),
    }
}
