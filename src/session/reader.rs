//! Opening a saved session: every checkpoint's Snapshot at once, never recomputed.

use std::fs;
use std::path::{Path, PathBuf};

use super::format::*;
use super::{SessionDir, SessionError};
use crate::experiment::Experiment;
use crate::record::{PointInfo, Snapshot};

/// A session read from disk.
#[derive(Debug, Clone)]
pub struct Session {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub points: Vec<PointInfo>,
    pub snapshots: Vec<Snapshot>,
    pub log: Vec<LogEntry>,
}

impl Session {
    pub fn open(dir: &Path) -> Result<Session, SessionError> {
        let manifest = read_manifest(dir)?;
        let layout = SessionDir::new(dir);
        let points_path = layout.points();
        let points: Vec<PointInfo> = parse_json(&points_path, &read(&points_path)?)?;
        let layers = manifest.model.layers + 1;
        let seen = points.iter().filter(|p| p.seen).count();
        let unseen = points.len() - seen;
        let mut snapshots = Vec::with_capacity(manifest.checkpoints.len());
        let inside = fs::canonicalize(layout.checkpoints()).ok();
        for entry in &manifest.checkpoints {
            let ckpt = layout.checkpoints().join(&entry.dir);
            // A link out of the session is refused like a `..` in the manifest.
            if let (Some(inside), Ok(real)) = (&inside, fs::canonicalize(&ckpt)) {
                if !real.starts_with(inside) {
                    return Err(SessionError::corrupt(
                        &ckpt,
                        format!("resolves to {}, outside the session", real.display()),
                    ));
                }
            }
            let path = ckpt.join(SNAPSHOT);
            let snap = read_snapshot(&path)?;
            if snap.step != entry.step {
                return Err(SessionError::corrupt(
                    &path,
                    format!("holds step {}, the manifest says {}", snap.step, entry.step),
                ));
            }
            check_shape(&path, &snap, layers, seen, unseen)?;
            snapshots.push(snap);
        }
        let log = read_log(&layout.log());
        Ok(Session { dir: dir.to_path_buf(), manifest, points, snapshots, log })
    }

    /// Where each of the session's files lives.
    pub fn layout(&self) -> SessionDir {
        SessionDir::new(&self.dir)
    }

    /// The experiment the session was trained on, rebuilt from its stored spec.
    pub fn experiment(&self) -> Result<Experiment, SessionError> {
        let file = self.layout().manifest();
        Experiment::from_toml(&self.manifest.experiment, None)
            .map_err(|e| SessionError::corrupt(&file, format!("stored experiment spec is invalid: {e}")))
    }

    pub fn weights_path(&self, step: usize) -> Option<PathBuf> {
        let entry = self.manifest.checkpoints.iter().find(|c| c.step == step)?;
        Some(self.dir.join(CHECKPOINTS).join(&entry.dir).join(WEIGHTS))
    }

    /// Index of a checkpoint by step, or the last one for `None`.
    pub fn checkpoint_index(&self, step: Option<usize>) -> Option<usize> {
        match step {
            // The highest step, whatever order the manifest lists them in.
            None => self.snapshots.iter().enumerate().max_by_key(|(_, s)| s.step).map(|(i, _)| i),
            Some(s) => self.snapshots.iter().position(|x| x.step == s),
        }
    }
}

/// One checkpoint's `snapshot.json`.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, SessionError> {
    parse_json(path, &read(path)?)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest, SessionError> {
    if !dir.is_dir() {
        return Err(SessionError::Missing(dir.to_path_buf()));
    }
    let path = SessionDir::new(dir).manifest();
    if !path.exists() {
        return Err(SessionError::NoManifest(dir.to_path_buf()));
    }
    let bytes = read(&path)?;
    // Check identity and version before the full structure, so an old or foreign file gets the
    // right message rather than a field-level parse error.
    let head: serde_json::Value = parse_json(&path, &bytes)?;
    let format = head.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT_NAME {
        return Err(SessionError::Foreign { file: path, found: format.to_string() });
    }
    let version = head.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(FORMAT_VERSION) {
        return Err(SessionError::NewerVersion { file: path, found: version as u32, supported: FORMAT_VERSION });
    }
    if version == 0 {
        return Err(SessionError::corrupt(&path, "missing or invalid format_version"));
    }
    let manifest: Manifest = parse_json(&path, &bytes)?;
    for c in &manifest.checkpoints {
        // A manifest is data, not a way to make us read files elsewhere.
        let mut parts = Path::new(&c.dir).components();
        let plain = matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(_)), None));
        if !plain {
            return Err(SessionError::corrupt(
                &path,
                format!("checkpoint {} names directory {:?}, outside the session's checkpoints/", c.step, c.dir),
            ));
        }
    }
    Ok(manifest)
}

/// Whether the session in `dir` may be started again in place: its manifest is readable and no
/// checkpoint was ever recorded (the run died before its first), so nothing in it is worth
/// keeping and a resume has nothing to go on from.
pub fn restartable(dir: &Path) -> bool {
    read_manifest(dir).is_ok_and(|m| m.checkpoints.is_empty() && m.resume.is_none())
}

fn read(path: &Path) -> Result<Vec<u8>, SessionError> {
    let bytes = fs::read(path).map_err(|e| SessionError::read(path, e))?;
    if bytes.is_empty() {
        return Err(SessionError::corrupt(path, "file is empty"));
    }
    Ok(bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, SessionError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.is_eof() { "truncated JSON" } else { "invalid JSON" };
        SessionError::corrupt(path, format!("{what} ({e})"))
    })
}

/// Checks that a stored snapshot fits a model with `layers` hidden layers (embeddings included)
/// and an analysis set of `seen` + `unseen` points; says what does not.
pub fn check_shape(
    path: &Path,
    snap: &Snapshot,
    layers: usize,
    seen: usize,
    unseen: usize,
) -> Result<(), SessionError> {
    let bad = |reason: String| Err(SessionError::corrupt(path, reason));
    if snap.analysis.layers.len() != layers {
        return bad(format!("{} analysed layers, the model has {layers}", snap.analysis.layers.len()));
    }
    for (i, l) in snap.analysis.layers.iter().enumerate() {
        if l.layer != i {
            return bad(format!("layer {i} is labelled {}", l.layer));
        }
        if l.error.is_none() && (l.seen_proj.len() != seen || l.unseen_proj.len() != unseen) {
            return bad(format!(
                "layer {i}: {} seen and {} unseen points, the session has {seen} and {unseen}",
                l.seen_proj.len(),
                l.unseen_proj.len()
            ));
        }
    }
    Ok(())
}

/// The log is advisory: a line cut short by a crash is skipped, not fatal.
fn read_log(path: &Path) -> Vec<LogEntry> {
    fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}
