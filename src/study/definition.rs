//! A study's definition, as embedded: its arms' specs are the shared base spec with the study's
//! changes written over it, then the arm's own; `--size tiny` writes the tiny changes last and
//! scales every phase's steps with the run's.
//!
//! ```toml
//! name = "NAME"
//! about = "one line"
//! metrics = ["steps_to_unseen_90", ...]   # keys of `metrics::METRICS`
//! seeds = 3                               # default seeds per arm
//! [spec]                                  # written over base.toml (tables merge, the rest is replaced)
//! [tiny]                                  # written over tiny.toml, for --size tiny
//! [[arms]]
//! name = "baseline"                       # [A-Za-z0-9_-]: it is a directory
//! about = "what this arm changes"
//! [arms.spec]                             # written over the study's spec
//! ```

use serde::Deserialize;

use super::metrics::metric;
use super::StudyError;

/// The spec every study starts from.
pub const BASE_SPEC: &str = include_str!("base.toml");
/// What `--size tiny` writes over every arm.
pub const TINY_SPEC: &str = include_str!("tiny.toml");

/// How big a study's runs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// The size the README's numbers are measured at.
    Default,
    /// Seconds a run, for tests: the tiny model, a tenth of the steps. Not a measurement.
    Tiny,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Default => "default",
            Size::Tiny => "tiny",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyDef {
    pub name: String,
    pub about: String,
    pub metrics: Vec<String>,
    #[serde(default = "default_seeds")]
    pub seeds: usize,
    #[serde(default)]
    pub spec: toml::Table,
    #[serde(default)]
    pub tiny: toml::Table,
    pub arms: Vec<ArmDef>,
}

fn default_seeds() -> usize {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmDef {
    pub name: String,
    pub about: String,
    #[serde(default)]
    pub spec: toml::Table,
}

impl StudyDef {
    /// Reads an embedded definition; what is wrong with it is a defect of this program, said as
    /// such.
    pub fn parse(text: &str) -> Result<StudyDef, StudyError> {
        let def: StudyDef = toml::from_str(text)
            .map_err(|e| StudyError::Definition { study: "?".into(), reason: e.message().to_string() })?;
        let bad = |reason: String| StudyError::Definition { study: def.name.clone(), reason };
        if def.arms.is_empty() {
            return Err(bad("no arms".into()));
        }
        for (i, arm) in def.arms.iter().enumerate() {
            let plain = !arm.name.is_empty() && arm.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
            if !plain || def.arms[..i].iter().any(|a| a.name == arm.name) {
                return Err(bad(format!("arm {:?}: names must be unique and [A-Za-z0-9_-]", arm.name)));
            }
        }
        if let Some(m) = def.metrics.iter().find(|m| metric(m).is_none()) {
            return Err(bad(format!("unknown metric {m:?}")));
        }
        Ok(def)
    }

    /// Arm `arm`'s whole spec (TOML) at `size` with `seed`.
    pub fn arm_spec(&self, arm: &ArmDef, size: Size, seed: u64) -> Result<String, StudyError> {
        let bad = |reason: String| StudyError::Definition { study: self.name.clone(), reason };
        let mut doc: toml::Table = BASE_SPEC.parse().map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
        merge(&mut doc, &self.spec);
        merge(&mut doc, &arm.spec);
        if size == Size::Tiny {
            let from = steps_of(&doc);
            let mut tiny: toml::Table = TINY_SPEC.parse().map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
            merge(&mut tiny, &self.tiny);
            merge(&mut doc, &tiny);
            let to = steps_of(&doc);
            scale_phases(&mut doc, from, to);
        }
        // The run is as long as its phases; the spec says so too, so the two cannot disagree.
        if let Some(total) = phase_steps(&doc).map(|s| s.iter().sum::<usize>()) {
            set_train_steps(&mut doc, total);
        }
        doc.insert("seed".into(), toml::Value::Integer(seed as i64));
        Ok(doc.to_string())
    }

    /// The seed runs of this study start from (the base spec's, unless the study sets one).
    pub fn base_seed(&self) -> u64 {
        let base = || BASE_SPEC.parse::<toml::Table>().ok()?.get("seed")?.as_integer();
        let seed = self.spec.get("seed").and_then(toml::Value::as_integer).or_else(base);
        seed.map_or(1, |s| s.max(0) as u64)
    }
}

/// Writes `over` into `doc`: tables merge key by key, anything else (arrays included, so an
/// arm's `[[phases]]` replaces the study's) is replaced.
pub fn merge(doc: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (doc.get_mut(key), value) {
            (Some(toml::Value::Table(mine)), toml::Value::Table(theirs)) => merge(mine, theirs),
            _ => {
                doc.insert(key.clone(), value.clone());
            }
        }
    }
}

fn set_train_steps(doc: &mut toml::Table, steps: usize) {
    let value = toml::Value::Integer(steps as i64);
    match doc.get_mut("train") {
        Some(toml::Value::Table(train)) => {
            train.insert("steps".into(), value);
        }
        _ => {
            doc.insert("train".into(), toml::Value::Table(toml::Table::from_iter([("steps".to_string(), value)])));
        }
    }
}

fn steps_of(doc: &toml::Table) -> usize {
    let steps = doc.get("train").and_then(|t| t.get("steps")).and_then(toml::Value::as_integer);
    steps.map_or(1, |s| s.max(1) as usize)
}

fn phase_steps(doc: &toml::Table) -> Option<Vec<usize>> {
    let phases = doc.get("phases")?.as_array()?;
    Some(
        phases
            .iter()
            .map(|p| p.get("steps").and_then(toml::Value::as_integer).map_or(0, |s| s.max(0) as usize))
            .collect(),
    )
}

/// Scales every phase's steps (and warm-up) by `to / from`, each at least 1 step, the last phase
/// taking what rounding leaves so the phases add up to `to`.
fn scale_phases(doc: &mut toml::Table, from: usize, to: usize) {
    let Some(toml::Value::Array(phases)) = doc.get_mut("phases") else { return };
    let factor = to as f64 / from.max(1) as f64;
    let n = phases.len();
    let mut used = 0usize;
    for (i, p) in phases.iter_mut().enumerate() {
        let Some(p) = p.as_table_mut() else { continue };
        let steps = p.get("steps").and_then(toml::Value::as_integer).unwrap_or(0).max(0) as usize;
        // Room for this phase with at least one step left for each after it.
        let room = to.saturating_sub(used + (n - i - 1)).max(1);
        let scaled = if i + 1 == n { room } else { ((steps as f64 * factor).round() as usize).clamp(1, room) };
        used += scaled;
        p.insert("steps".into(), toml::Value::Integer(scaled as i64));
        if let Some(w) = p.get("warmup").and_then(toml::Value::as_integer) {
            let w = ((w.max(0) as f64 * factor).round() as usize).min(scaled / 2);
            p.insert("warmup".into(), toml::Value::Integer(w as i64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_arrays_are_replaced() {
        let mut doc: toml::Table = "a = 1\n[t]\nx = 1\ny = 2\n[[p]]\nn = 1\n[[p]]\nn = 2".parse().unwrap_or_default();
        let over: toml::Table = "b = 3\n[t]\ny = 5\n[[p]]\nn = 9".parse().unwrap_or_default();
        merge(&mut doc, &over);
        let expect: toml::Table = "a = 1\nb = 3\n[t]\nx = 1\ny = 5\n[[p]]\nn = 9".parse().unwrap_or_default();
        assert_eq!(doc, expect);
    }

    #[test]
    fn phases_scale_to_the_tiny_run_and_add_up() {
        let mut doc: toml::Table =
            "[[phases]]\nsteps = 400\nwarmup = 20\n[[phases]]\nsteps = 333\n[[phases]]\nsteps = 67"
                .parse()
                .unwrap_or_default();
        scale_phases(&mut doc, 800, 60);
        assert_eq!(phase_steps(&doc), Some(vec![30, 25, 5]));
        let warmup = doc["phases"].as_array().and_then(|p| p[0].get("warmup")).and_then(toml::Value::as_integer);
        assert_eq!(warmup, Some(2));
        // Never below one step a phase, even squeezed.
        scale_phases(&mut doc, 60, 3);
        assert_eq!(phase_steps(&doc), Some(vec![1, 1, 1]));
    }
}
