//! A probe's result placed against a saved checkpoint: what `clusterscope probe` prints.

use serde::Serialize;
use std::fmt::Write as _;

use crate::analysis::probe::place;
use crate::experiment::Experiment;
use crate::record::{ProbeAnswer, Snapshot};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    pub text: String,
    pub step: usize,
    /// Judged at the deepest layer, where the task representation is sharpest.
    pub layer: usize,
    pub nearest_task: Option<String>,
    pub distances: Vec<TaskDistance>,
    pub answer: String,
    pub answer_probability: f32,
    /// Whether the answer is what the nearest task's table gives for the input.
    pub correct: Option<bool>,
    pub attribution: Vec<WordAttribution>,
    pub points: Vec<LayerPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDistance {
    pub task: String,
    pub distance: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordAttribution {
    pub word: String,
    pub value: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerPoint {
    pub layer: usize,
    pub x: f32,
    pub y: f32,
    pub nearest_task: String,
}

/// The report of `a`, a probe made as `text` at `snap`. With the run's experiment the answer is
/// judged against the nearest task's table; an analysed session has `task_names` only.
pub fn report(
    exp: Option<&Experiment>,
    task_names: &[String],
    snap: &Snapshot,
    text: &str,
    a: &ProbeAnswer,
) -> ProbeReport {
    let names = task_names;
    let name = |t: usize| names.get(t).cloned().unwrap_or_else(|| format!("task {t}"));
    let placements: Vec<_> = snap.analysis.layers.iter().zip(&a.hidden).map(|(l, h)| (l.layer, place(l, h))).collect();
    let layer = placements.len().saturating_sub(1);
    let deepest = placements.last().and_then(|(_, p)| p.clone());
    let correct = deepest
        .as_ref()
        .zip(exp)
        .and_then(|(p, e)| e.expected_answer(p.nearest_task, &a.words, &a.input))
        .map(|e| e == a.answer);
    ProbeReport {
        text: text.to_string(),
        step: snap.step,
        layer,
        nearest_task: deepest.as_ref().map(|p| name(p.nearest_task)),
        distances: deepest
            .as_ref()
            .map(|p| {
                p.distances.iter().enumerate().map(|(t, &d)| TaskDistance { task: name(t), distance: d }).collect()
            })
            .unwrap_or_default(),
        answer: a.answer.clone(),
        answer_probability: a.answer_probability,
        correct,
        attribution: a
            .words
            .iter()
            .zip(&a.attribution)
            .map(|(w, &v)| WordAttribution { word: w.clone(), value: v })
            .collect(),
        points: placements
            .iter()
            .filter_map(|(l, p)| {
                p.as_ref().map(|p| LayerPoint {
                    layer: *l,
                    x: p.point[0],
                    y: p.point[1],
                    nearest_task: name(p.nearest_task),
                })
            })
            .collect(),
    }
}

impl ProbeReport {
    pub fn to_text(&self) -> String {
        let mut s = format!("probe \"{}\" at step {}\n", self.text, self.step);
        let verdict = match self.correct {
            Some(true) => "✓ matches the nearest task's table",
            Some(false) => "✗ differs from the nearest task's table",
            // A pretrained model's continuation has no table to be judged against.
            None if self.nearest_task.is_some() => "",
            None => "(no nearest task)",
        };
        let answer: String = self.answer.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let line = format!("answer {answer} (p = {:.3}) {verdict}", self.answer_probability);
        let _ = writeln!(s, "{}", line.trim_end());
        let _ = writeln!(s, "nearest task at layer {}: {}", self.layer, self.nearest_task.as_deref().unwrap_or("-"));
        let max = self.distances.iter().map(|d| d.distance).fold(0.0f32, f32::max).max(1e-9);
        for d in &self.distances {
            let bar = "█".repeat(((d.distance / max) * 30.0).round() as usize);
            let _ = writeln!(s, "  {:<14} {:>8.3} {bar}", d.task, d.distance);
        }
        let words: Vec<String> = self.attribution.iter().map(|w| format!("{}({:+.3})", w.word, w.value)).collect();
        let _ = writeln!(s, "attribution: {}", words.join(" "));
        for p in &self.points {
            let _ = writeln!(s, "  layer {}: ({:+.3}, {:+.3}) nearest {}", p.layer, p.x, p.y, p.nearest_task);
        }
        s
    }
}
