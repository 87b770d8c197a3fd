//! A sweep on disk: `sweep.json` (written once, atomically, when the sweep is created; resubmits
//! add the Slurm job id) and one ordinary session per point under `points/`. A point's state is
//! read from its own session, never stored here, so points running at once on different nodes
//! write nothing in common.
//!
//! ```text
//! <sweep>/
//!   sweep.json          the base spec, the grid, the seeds, every point's parameters and directory
//!   sweep.sbatch        the Slurm job array, when submitted with --slurm
//!   points/p0000/       a session (manifest.json, checkpoints/, ...)
//!   points/p0000.log    what the point's run printed
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::read_nonempty;
use super::reader::{check_identity, parse_json};
use super::writer::write_atomic;
use super::SessionError;

pub const SWEEP_FORMAT: &str = "clusterscope-sweep";
pub const SWEEP_VERSION: u32 = 1;
pub const SWEEP_MANIFEST: &str = "sweep.json";
pub const SWEEP_SCRIPT: &str = "sweep.sbatch";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    pub format: String,
    pub format_version: u32,
    /// RFC 3339.
    pub created: String,
    /// The base experiment spec (TOML) the grid's values are put into.
    pub spec: String,
    /// Each key with its values, in the order given.
    pub grid: Vec<GridAxis>,
    pub seeds: usize,
    /// Training steps per point, when the command gave them (else each spec's own).
    pub steps: Option<usize>,
    pub points: Vec<SweepPoint>,
    /// Slurm job ids this sweep was submitted as, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slurm_jobs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAxis {
    /// A dotted spec path (`train.lr`, `model.layers`).
    pub key: String,
    /// As typed; each is read as a TOML value (number, boolean, or else a string).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub index: usize,
    /// The grid value of each key for this point.
    pub params: BTreeMap<String, String>,
    pub seed: u64,
    /// The point's session directory, relative to the sweep.
    pub dir: String,
}

/// Where each file of a sweep lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    pub fn new(root: &Path) -> Self {
        SweepDir { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> PathBuf {
        self.root.join(SWEEP_MANIFEST)
    }

    pub fn script(&self) -> PathBuf {
        self.root.join(SWEEP_SCRIPT)
    }

    pub fn point(&self, point: &SweepPoint) -> PathBuf {
        self.root.join(&point.dir)
    }

    pub fn point_log(&self, point: &SweepPoint) -> PathBuf {
        let mut p = self.point(point).into_os_string();
        p.push(".log");
        PathBuf::from(p)
    }

    /// The directory name of point `index`.
    pub fn point_dir_name(index: usize) -> String {
        format!("points/p{index:04}")
    }

    pub fn write(&self, manifest: &SweepManifest) -> Result<(), SessionError> {
        std::fs::create_dir_all(self.root.join("points")).map_err(|e| SessionError::write(&self.root, e))?;
        write_atomic(&self.manifest(), &serde_json::to_vec_pretty(manifest)?)
    }

    pub fn read(&self) -> Result<SweepManifest, SessionError> {
        let path = self.manifest();
        if !self.root.is_dir() {
            return Err(SessionError::Missing(self.root.clone()));
        }
        let bytes = read_nonempty(&path)?;
        check_identity(&path, &bytes, SWEEP_FORMAT, SWEEP_VERSION)?;
        let manifest: SweepManifest = parse_json(&path, &bytes)?;
        // Point directories are data, not a way to make us write elsewhere.
        for p in &manifest.points {
            if p.dir != Self::point_dir_name(p.index) {
                return Err(SessionError::corrupt(&path, format!("point {} names directory {:?}", p.index, p.dir)));
            }
        }
        Ok(manifest)
    }
}
