//! Opening a saved session: every intact checkpoint's Snapshot at once, never recomputed, and
//! what is damaged.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::file::{open_regular, read_advisory, read_nonempty};
use super::format::*;
use super::{checksum, SessionDir, SessionError};
use crate::experiment::Experiment;
use crate::record::{PointInfo, Snapshot};

/// A session read from disk.
#[derive(Debug, Clone)]
pub struct Session {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub points: Vec<PointInfo>,
    /// The snapshots of the intact checkpoints, in manifest order: not parallel to
    /// `manifest.checkpoints` when some are damaged.
    pub snapshots: Vec<Snapshot>,
    /// The checkpoints the manifest lists that cannot be used, in manifest order.
    pub damaged: Vec<Damage>,
    pub log: Vec<LogEntry>,
}

/// A damaged checkpoint: its step, the file at fault and why, in one line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    pub step: usize,
    pub file: PathBuf,
    pub reason: String,
}

impl Damage {
    /// The damage `err` does to checkpoint `step`, whose directory is `ckpt`.
    pub fn new(step: usize, ckpt: &Path, err: SessionError) -> Damage {
        let (file, reason) = match err {
            SessionError::Corrupt { file, reason } => (file, reason),
            SessionError::Read { file, source } => (file, source.to_string()),
            other => (ckpt.to_path_buf(), other.to_string()),
        };
        Damage { step, file, reason }
    }

    /// The error of a command that needs this checkpoint.
    pub fn error(&self) -> SessionError {
        SessionError::Damaged { step: self.step, file: self.file.clone(), reason: self.reason.clone() }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// What every snapshot of a session must fit.
#[derive(Debug, Clone)]
struct Expected {
    layers: usize,
    seen: usize,
    unseen: usize,
}

impl Session {
    /// Opens a session with what is intact: a manifest or points file that cannot be read fails
    /// the whole session, a damaged checkpoint is only recorded in `damaged`, so one bad file
    /// does not hide all the others.
    pub fn open(dir: &Path) -> Result<Session, SessionError> {
        let manifest = read_manifest(dir)?;
        let layout = SessionDir::new(dir);
        let points_path = layout.points();
        let points: Vec<PointInfo> = parse_json(&points_path, &read_nonempty(&points_path)?)?;
        let seen = points.iter().filter(|p| p.seen).count();
        let expected = Expected { layers: manifest.model.layers + 1, seen, unseen: points.len() - seen };
        let mut snapshots = Vec::with_capacity(manifest.checkpoints.len());
        let mut damaged = Vec::new();
        for entry in &manifest.checkpoints {
            let ckpt = layout.checkpoints().join(&entry.dir);
            match read_checkpoint(&layout, entry, &expected) {
                Ok(snap) => snapshots.push(snap),
                Err(e) => damaged.push(Damage::new(entry.step, &ckpt, e)),
            }
        }
        let log = read_log(&layout.log());
        Ok(Session { dir: dir.to_path_buf(), manifest, points, snapshots, damaged, log })
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

    /// Index of an intact checkpoint by step, or of the last intact one for `None`.
    pub fn checkpoint_index(&self, step: Option<usize>) -> Option<usize> {
        match step {
            // The highest step, whatever order the manifest lists them in.
            None => self.snapshots.iter().enumerate().max_by_key(|(_, s)| s.step).map(|(i, _)| i),
            Some(s) => self.snapshots.iter().position(|x| x.step == s),
        }
    }

    /// The damage of checkpoint `step`, if it is damaged.
    pub fn damage(&self, step: usize) -> Option<&Damage> {
        self.damaged.iter().find(|d| d.step == step)
    }

    /// Like [`checkpoint_index`](Self::checkpoint_index) for a command that needs the
    /// checkpoint: one that is damaged or not there, or none intact among those listed, is an
    /// error that says so.
    pub fn usable_checkpoint(&self, step: Option<usize>) -> Result<usize, SessionError> {
        if let Some(d) = step.and_then(|s| self.damage(s)) {
            return Err(d.error());
        }
        self.require_intact()?;
        self.checkpoint_index(step).ok_or_else(|| {
            let steps: Vec<String> = self.snapshots.iter().map(|s| s.step.to_string()).collect();
            SessionError::NoCheckpoint {
                dir: self.dir.clone(),
                which: step.map_or("last".to_string(), |s| s.to_string()),
                have: if steps.is_empty() { "none".to_string() } else { steps.join(", ") },
            }
        })
    }

    /// Fails when checkpoints are listed but none of them is intact: nothing to show or use.
    pub fn require_intact(&self) -> Result<(), SessionError> {
        match (self.snapshots.is_empty(), self.damaged.first()) {
            (true, Some(first)) => Err(SessionError::NoIntactCheckpoint {
                dir: self.dir.clone(),
                count: self.damaged.len(),
                first: first.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// The latest damaged checkpoint after `step`, if any: what `last` would have meant.
    pub fn damaged_after(&self, step: usize) -> Option<&Damage> {
        self.damaged.iter().filter(|d| d.step > step).max_by_key(|d| d.step)
    }
}

/// Reads the snapshot of checkpoint `entry`, checking that it is the one the manifest means
/// and fits the session.
fn read_checkpoint(
    layout: &SessionDir,
    entry: &CheckpointEntry,
    expected: &Expected,
) -> Result<Snapshot, SessionError> {
    let ckpt = layout.checkpoints().join(&entry.dir);
    // A link out of the session is refused like a `..` in the manifest.
    if let (Ok(inside), Ok(real)) = (fs::canonicalize(layout.checkpoints()), fs::canonicalize(&ckpt)) {
        if !real.starts_with(&inside) {
            return Err(SessionError::corrupt(&ckpt, format!("resolves to {}, outside the session", real.display())));
        }
    }
    match fs::metadata(&ckpt) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(SessionError::corrupt(&ckpt, "not a directory")),
        Err(_) => return Err(SessionError::corrupt(&ckpt, "checkpoint directory is missing")),
    }
    let path = ckpt.join(SNAPSHOT);
    let bytes = read_nonempty(&path)?;
    // The checksum last: "truncated JSON" or "holds step 5" says more than a mismatch does.
    let snap: Snapshot = parse_json(&path, &bytes)?;
    if snap.step != entry.step {
        return Err(SessionError::corrupt(
            &path,
            format!("holds step {}, the manifest says {}", snap.step, entry.step),
        ));
    }
    check_shape(&path, &snap, expected.layers, expected.seen, expected.unseen)?;
    checksum::verify(&path, &bytes, entry.checksum(SNAPSHOT))?;
    Ok(snap)
}

/// The bytes of checkpoint `step`'s file `name` (weights, optimizer state), checked against the
/// checksum `manifest` records for it. The path is the manifest's when it lists the step.
pub fn read_checkpoint_file(
    root: &Path,
    manifest: &Manifest,
    step: usize,
    name: &str,
) -> Result<(PathBuf, Vec<u8>), SessionError> {
    let layout = SessionDir::new(root);
    let entry = manifest.checkpoints.iter().find(|c| c.step == step);
    let path = match entry {
        Some(e) => layout.checkpoints().join(&e.dir).join(name),
        None => layout.checkpoint(step).join(name),
    };
    let bytes = read_nonempty(&path)?;
    checksum::verify(&path, &bytes, entry.and_then(|e| e.checksum(name)))?;
    Ok((path, bytes))
}

/// Checkpoint `step`'s `snapshot.json`, checked against its recorded checksum.
pub fn read_snapshot(root: &Path, manifest: &Manifest, step: usize) -> Result<Snapshot, SessionError> {
    let (path, bytes) = read_checkpoint_file(root, manifest, step, SNAPSHOT)?;
    parse_json(&path, &bytes)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest, SessionError> {
    if !dir.is_dir() {
        return Err(SessionError::Missing(dir.to_path_buf()));
    }
    let path = SessionDir::new(dir).manifest();
    if !path.exists() {
        return Err(SessionError::NoManifest(dir.to_path_buf()));
    }
    let bytes = read_nonempty(&path)?;
    check_identity(&path, &bytes, FORMAT_NAME, FORMAT_VERSION)?;
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

/// Whether the session in `dir` may be started again in place: its manifest is readable and
/// [unstarted](Manifest::is_unstarted).
pub fn restartable(dir: &Path) -> bool {
    read_manifest(dir).is_ok_and(|m| m.is_unstarted())
}

/// Checks a file's `format` and `format_version` before its full structure, so an old or foreign
/// file gets the right message rather than a field-level parse error.
pub(super) fn check_identity(path: &Path, bytes: &[u8], name: &str, supported: u32) -> Result<(), SessionError> {
    let head: serde_json::Value = parse_json(path, bytes)?;
    let format = head.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != name {
        return Err(SessionError::Foreign { file: path.to_path_buf(), found: format.to_string() });
    }
    let version = head.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(supported) {
        return Err(SessionError::NewerVersion { file: path.to_path_buf(), found: version as u32, supported });
    }
    if version == 0 {
        return Err(SessionError::corrupt(path, "missing or invalid format_version"));
    }
    Ok(())
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, SessionError> {
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
    read_advisory(path).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Reads a session again as its writer adds to it: each [`Tail::read`] returns only what was
/// committed since the reading before, checked as [`Session::open`] checks it, so a follower
/// never reads a checkpoint twice.
#[derive(Debug, Clone)]
pub struct Tail {
    dir: PathBuf,
    expected: Expected,
    /// Steps already handed out, intact or damaged.
    known: BTreeSet<usize>,
    /// The log file read (its inode: a resume replaces it), how far, and the last step it gave.
    log_file: Option<u64>,
    log_at: u64,
    last_logged: Option<usize>,
}

/// What a session's writer added since the last reading, with its manifest now.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub manifest: Manifest,
    /// Newly committed checkpoints, in step order.
    pub snapshots: Vec<Snapshot>,
    pub damaged: Vec<Damage>,
    /// Log lines appended since, each past the last step logged before.
    pub log: Vec<LogEntry>,
}

impl Session {
    /// A [`Tail`] that starts after what this reading holds.
    pub fn tail(&self) -> Tail {
        let seen = self.points.iter().filter(|p| p.seen).count();
        Tail {
            dir: self.dir.clone(),
            expected: Expected { layers: self.manifest.model.layers + 1, seen, unseen: self.points.len() - seen },
            known: self.snapshots.iter().map(|s| s.step).chain(self.damaged.iter().map(|d| d.step)).collect(),
            log_file: None,
            log_at: 0,
            last_logged: self.log.last().map(|e| e.step),
        }
    }
}

impl Tail {
    /// `settled` says the writer has let go: a listed checkpoint that cannot be read now never
    /// will be, so it is damaged. Before that it is tried again next time, since a writer that
    /// stops right on a checkpoint replaces that step's directory under a listing of it.
    pub fn read(&mut self, settled: bool) -> Result<Update, SessionError> {
        let manifest = read_manifest(&self.dir)?;
        let layout = SessionDir::new(&self.dir);
        let (mut snapshots, mut damaged) = (Vec::new(), Vec::new());
        for entry in &manifest.checkpoints {
            if self.known.contains(&entry.step) {
                continue;
            }
            match read_checkpoint(&layout, entry, &self.expected) {
                Ok(snap) => snapshots.push(snap),
                Err(e) if settled => damaged.push(Damage::new(entry.step, &layout.checkpoints().join(&entry.dir), e)),
                Err(_) => continue,
            }
            self.known.insert(entry.step);
        }
        let log = self.read_log(&layout.log());
        Ok(Update { manifest, snapshots, damaged, log })
    }

    /// The log's complete lines appended since the last call; a line still being written waits
    /// for its newline. Advisory like the log itself: what cannot be read is left out.
    fn read_log(&mut self, path: &Path) -> Vec<LogEntry> {
        let Ok(mut file) = open_regular(path) else { return Vec::new() };
        let Ok(meta) = file.metadata() else { return Vec::new() };
        if self.log_file != Some(meta.ino()) || meta.len() < self.log_at {
            // A resume rewrote the log without the steps it trains again: those come anew.
            if self.log_file.is_some() {
                self.last_logged = None;
            }
            (self.log_file, self.log_at) = (Some(meta.ino()), 0);
        }
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.log_at)).and_then(|_| file.read_to_end(&mut bytes)).is_err() {
            return Vec::new();
        }
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.log_at += complete as u64;
        let after = self.last_logged;
        let entries: Vec<LogEntry> = String::from_utf8_lossy(&bytes[..complete])
            .lines()
            .filter_map(|l| serde_json::from_str::<LogEntry>(l).ok())
            .filter(|e| after.is_none_or(|s| e.step > s))
            .collect();
        self.last_logged = entries.last().map(|e| e.step).or(after);
        entries
    }
}
