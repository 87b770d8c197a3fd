//! A study's report: each arm's mean and standard deviation over its seeds of the runs' metrics, as the JSON object `study run --json` prints
//! (`report.json`) and a markdown table (`report.md`); `study show` reads the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::study_data::{RunData, StudyData};
use super::study_figures::render_study_figure;
use super::ReportError;
use crate::session::study::{RunMetrics, StudyDir};
use crate::session::writer::write_atomic;
use crate::study::metrics::metric;

/// Metrics whose value is a step at which a threshold was reached: a seed may never reach it.
const THRESHOLD_METRICS: [&str; 2] = ["steps_to_unseen_90", "instruction_steps_to_unseen_90"];

/// The report object: `{"study": NAME, "arms": [{"name", "seeds", "metrics": {...}}]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub study: String,
    pub size: String,
    pub arms: Vec<ArmReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmReport {
    pub name: String,
    pub about: String,
    /// Seeds measured (the mean and std are over these).
    pub seeds: usize,
    /// Seeds the study has for this arm.
    pub planned: usize,
    /// `METRIC`: the mean, `METRIC_std`: the sample standard deviation (null under 2 values),
    /// `METRIC_n`: the seeds with a value (`METRIC_reached` for the step at which a threshold is
    /// first met: the seeds that met it; the others count as not reached).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// The arm's sessions, relative to the study.
    pub sessions: Vec<String>,
}

/// Mean and sample standard deviation (n - 1; `None` under two values).
pub fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = (n > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    (Some(mean), std)
}

pub fn report(data: &StudyData) -> StudyReport {
    let m = &data.manifest;
    let arms = m
        .arms
        .iter()
        .map(|arm| {
            let runs: Vec<&RunData> = data.runs.iter().filter(|r| r.run.arm == arm.name).collect();
            let measured: Vec<&RunMetrics> = runs.iter().filter_map(|r| r.metrics.as_ref()).collect();
            let mut metrics = BTreeMap::new();
            for key in &m.metrics {
                let values: Vec<f64> = measured.iter().filter_map(|r| r.get(key).copied().flatten()).collect();
                let (mean, std) = mean_std(&values);
                let count = if THRESHOLD_METRICS.contains(&key.as_str()) { "reached" } else { "n" };
                metrics.insert(key.clone(), mean);
                metrics.insert(format!("{key}_std"), std);
                metrics.insert(format!("{key}_{count}"), Some(values.len() as f64));
            }
            ArmReport {
                name: arm.name.clone(),
                about: arm.about.clone(),
                seeds: measured.len(),
                planned: runs.len(),
                metrics,
                sessions: runs.iter().map(|r| r.run.dir.clone()).collect(),
            }
        })
        .collect();
    StudyReport { study: m.study.clone(), size: m.size.clone(), arms }
}

/// `clusterscope compare` on the first seed of every arm.
pub fn compare_command(data: &StudyData) -> String {
    let mut cmd = "clusterscope compare".to_string();
    for arm in &data.manifest.arms {
        if let Some(r) = data.runs.iter().find(|r| r.run.arm == arm.name) {
            cmd.push(' ');
            cmd.push_str(&shell_word(&data.dir.join(&r.run.dir).display().to_string()));
        }
    }
    cmd
}

/// `s` as one word of a POSIX shell command line.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// One cell: `mean ± std`, and how many seeds had a value where some did not.
fn cell(arm: &ArmReport, key: &str) -> String {
    let unit = metric(key).is_some_and(|m| m.unit);
    let get = |k: &str| arm.metrics.get(k).copied().flatten();
    let threshold = THRESHOLD_METRICS.contains(&key);
    let n = get(&format!("{key}_{}", if threshold { "reached" } else { "n" })).unwrap_or(0.0) as usize;
    let num = |v: f64| if unit { format!("{v:.3}") } else { format!("{v:.0}") };
    let mut out = match (get(key), get(&format!("{key}_std"))) {
        (Some(mean), Some(std)) => format!("{} ± {}", num(mean), num(std)),
        (Some(mean), None) => num(mean),
        (None, _) if threshold => "not reached".to_string(),
        (None, _) => "-".to_string(),
    };
    if threshold {
        out.push_str(&format!(" ({n}/{} reached)", arm.seeds));
    } else if n < arm.seeds {
        out.push_str(&format!(" ({n}/{})", arm.seeds));
    }
    out
}

/// The arms x metrics table, markdown.
pub fn table(report: &StudyReport, metrics: &[String]) -> String {
    let mut out = format!("| arm | seeds | {} |\n", metrics.join(" | "));
    out.push_str(&format!("|---|---|{}\n", "---|".repeat(metrics.len())));
    for arm in &report.arms {
        let cells: Vec<String> = metrics.iter().map(|k| cell(arm, k)).collect();
        let seeds =
            if arm.seeds == arm.planned { arm.seeds.to_string() } else { format!("{} of {}", arm.seeds, arm.planned) };
        out.push_str(&format!("| {} | {seeds} | {} |\n", arm.name, cells.join(" | ")));
    }
    out
}

/// `report.md`: the table, what each arm and metric is, the command that made it and the one
/// that compares the arms.
pub fn markdown(data: &StudyData, report: &StudyReport) -> String {
    let m = &data.manifest;
    let dir = shell_word(&data.dir.display().to_string());
    let size = if m.size == "default" { String::new() } else { format!(" --size {}", m.size) };
    let mut out = format!("# Study `{}`\n\n", m.study);
    out.push_str(&format!(
        "{} seeds per arm (mean ± sample standard deviation over seeds), size `{}`.\n\n",
        m.seeds, m.size
    ));
    out.push_str(&table(report, &m.metrics));
    out.push_str("\n## Arms\n\n");
    for arm in &m.arms {
        out.push_str(&format!("- `{}`: {}\n", arm.name, arm.about));
    }
    out.push_str("\n## Metrics\n\n");
    for key in &m.metrics {
        out.push_str(&format!("- `{key}`: {}\n", metric(key).map_or("?", |d| d.about)));
    }
    out.push_str(&format!(
        "\n![unseen accuracy and ARI over training, mean over seeds](report.png)\n\n## Commands\n\n```\nclusterscope study run {}{size} --seeds {} --out {dir}\nclusterscope study show {dir}\n{}\n```\n",
        m.study,
        m.seeds,
        compare_command(data)
    ));
    out
}

/// Writes `report.md`, `report.json`, `report.png` and `report.svg` into the study; returns the
/// report and the paths written.
pub fn write_report(dir: &StudyDir, data: &StudyData) -> Result<(StudyReport, Vec<PathBuf>), ReportError> {
    let report = report(data);
    let write = |path: &Path, bytes: &[u8]| write_atomic(path, bytes).map(|()| path.to_path_buf());
    let mut written = vec![write(&dir.report("md"), markdown(data, &report).as_bytes())?];
    written.push(write(&dir.report("json"), &serde_json::to_vec_pretty(&report)?)?);
    written.extend(render_study_figure(data, dir.root())?);
    Ok((report, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(m, Some(2.0));
        assert!((s.unwrap_or(0.0) - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[4.0]), (Some(4.0), None));
        assert_eq!(mean_std(&[]), (None, None));
    }

    #[test]
    fn cells_say_how_many_seeds_reached_a_threshold() {
        let metrics = BTreeMap::from([
            ("steps_to_unseen_90".to_string(), Some(150.0)),
            ("steps_to_unseen_90_std".to_string(), Some(25.0)),
            ("steps_to_unseen_90_reached".to_string(), Some(2.0)),
            ("final_ari".to_string(), Some(0.98765)),
            ("final_ari_std".to_string(), None),
            ("final_ari_n".to_string(), Some(3.0)),
        ]);
        let arm = ArmReport { name: "a".into(), about: String::new(), seeds: 3, planned: 3, metrics, sessions: vec![] };
        assert_eq!(cell(&arm, "steps_to_unseen_90"), "150 ± 25 (2/3 reached)");
        assert_eq!(cell(&arm, "final_ari"), "0.988");
        let none = ArmReport { metrics: BTreeMap::new(), ..arm };
        assert_eq!(cell(&none, "steps_to_unseen_90"), "not reached (0/3 reached)");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
    }
}
