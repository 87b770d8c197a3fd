//! A study on disk: `study.json` (written once, atomically, when the study is made), one
//! ordinary session per arm and seed, each run's metrics once measured, and the report.
//! A run's state is read from its own session and metrics file, never stored here.
//!
//! ```text
//! <study>/
//!   study.json                 the study's name and size, its arms, every run's seed and full spec
//!   baseline/seed-1/           a session (manifest.json, checkpoints/, ...)
//!   baseline/seed-1.log        what the run's process printed
//!   baseline/seed-1.metrics.json   the run's metrics, written when it has been measured
//!   report.md  report.json  report.png  report.svg
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::read_nonempty;
use super::reader::{check_identity, parse_json};
use super::writer::write_atomic;
use super::SessionError;

pub const STUDY_FORMAT: &str = "clusterscope-study";
pub const STUDY_VERSION: u32 = 1;
pub const STUDY_MANIFEST: &str = "study.json";
pub const REPORT_STEM: &str = "report";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyManifest {
    pub format: String,
    pub format_version: u32,
    /// RFC 3339.
    pub created: String,
    /// The built-in study's name.
    pub study: String,
    /// `default`, or `tiny` (the test size).
    pub size: String,
    pub seeds: usize,
    /// The metrics reported, in order.
    pub metrics: Vec<String>,
    pub arms: Vec<StudyArm>,
    pub runs: Vec<StudyRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyArm {
    pub name: String,
    /// What the arm changes, in words.
    pub about: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    pub index: usize,
    pub arm: String,
    pub seed: u64,
    /// The run's session directory, relative to the study.
    pub dir: String,
    /// The run's whole experiment spec (TOML), seed included: the study needs nothing else to
    /// run it again, whatever later versions embed.
    pub spec: String,
}

/// A run's metrics, by name; `null` where a metric has no value for the run (a threshold never
/// reached, a correlation with no variance).
pub type RunMetrics = BTreeMap<String, Option<f64>>;

/// Where each file of a study lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyDir {
    root: PathBuf,
}

impl StudyDir {
    pub fn new(root: &Path) -> Self {
        StudyDir { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> PathBuf {
        self.root.join(STUDY_MANIFEST)
    }

    pub fn run(&self, run: &StudyRun) -> PathBuf {
        self.root.join(&run.dir)
    }

    pub fn run_log(&self, run: &StudyRun) -> PathBuf {
        self.beside(run, ".log")
    }

    pub fn run_metrics(&self, run: &StudyRun) -> PathBuf {
        self.beside(run, ".metrics.json")
    }

    /// `report.EXT` in the study.
    pub fn report(&self, ext: &str) -> PathBuf {
        self.root.join(format!("{REPORT_STEM}.{ext}"))
    }

    fn beside(&self, run: &StudyRun, suffix: &str) -> PathBuf {
        let mut p = self.run(run).into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }

    /// The directory name of arm `arm`'s run with seed `seed`.
    pub fn run_dir_name(arm: &str, seed: u64) -> String {
        format!("{arm}/seed-{seed}")
    }

    pub fn write(&self, manifest: &StudyManifest) -> Result<(), SessionError> {
        for arm in &manifest.arms {
            let dir = self.root.join(&arm.name);
            std::fs::create_dir_all(&dir).map_err(|e| SessionError::write(&dir, e))?;
        }
        write_atomic(&self.manifest(), &serde_json::to_vec_pretty(manifest)?)
    }

    pub fn read(&self) -> Result<StudyManifest, SessionError> {
        let path = self.manifest();
        if !self.root.is_dir() {
            return Err(SessionError::Missing(self.root.clone()));
        }
        let bytes = read_nonempty(&path)?;
        check_identity(&path, &bytes, STUDY_FORMAT, STUDY_VERSION)?;
        let manifest: StudyManifest = parse_json(&path, &bytes)?;
        // Run directories are data, not a way to make us write elsewhere.
        for r in &manifest.runs {
            let plain = !r.arm.is_empty() && r.arm.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain || r.dir != Self::run_dir_name(&r.arm, r.seed) {
                return Err(SessionError::corrupt(&path, format!("run {} names directory {:?}", r.index, r.dir)));
            }
        }
        Ok(manifest)
    }

    pub fn write_metrics(&self, run: &StudyRun, metrics: &RunMetrics) -> Result<(), SessionError> {
        write_atomic(&self.run_metrics(run), &serde_json::to_vec_pretty(metrics)?)
    }

    /// The run's metrics, or `None` before it has been measured.
    pub fn read_metrics(&self, run: &StudyRun) -> Result<Option<RunMetrics>, SessionError> {
        let path = self.run_metrics(run);
        if !path.exists() {
            return Ok(None);
        }
        parse_json(&path, &read_nonempty(&path)?).map(Some)
    }
}
