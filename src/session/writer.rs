//! Writing a session as training goes: every checkpoint lands atomically, the manifest last.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::checksum::checksum;
use super::file::{read_advisory, read_regular};
use super::format::*;
use super::layout::checkpoint_dir_name;
use super::{SessionDir, SessionError, SessionLock};
use crate::record::{PointInfo, Snapshot};

pub struct SessionWriter {
    /// Held while this writer lives: no other process writes the session meanwhile.
    _lock: SessionLock,
    dir: SessionDir,
    manifest: Manifest,
    log: BufWriter<File>,
}

impl SessionWriter {
    /// Starts a new session in `dir`, which must not already hold one: a saved session is never
    /// overwritten.
    pub fn create(root: &Path, manifest: Manifest, points: &[PointInfo]) -> Result<Self, SessionError> {
        let dir = SessionDir::new(root);
        // Locked first: what the checks below see cannot change under us.
        let lock = SessionLock::acquire(&dir)?;
        if dir.manifest().exists() {
            if !super::reader::restartable(root) {
                return Err(SessionError::Exists(root.to_path_buf()));
            }
            clear_unstarted(&dir)?;
        }
        dir.check_free()?;
        let ckpts = dir.checkpoints();
        fs::create_dir_all(&ckpts).map_err(|e| SessionError::write(&ckpts, e))?;
        write_atomic(&dir.points(), &serde_json::to_vec(points)?)?;
        write_atomic(&dir.manifest(), &serde_json::to_vec(&manifest)?)?;
        let log = open_log(&dir, true)?;
        Ok(SessionWriter { _lock: lock, dir, manifest, log })
    }

    /// Reopens a session to continue it from its last checkpoint. Log lines past that checkpoint
    /// describe steps that will be trained again, so they are dropped.
    /// `lock` is taken before the manifest is read, so the manifest is the one this writer
    /// continues.
    pub fn resume(lock: SessionLock, root: &Path, manifest: Manifest) -> Result<Self, SessionError> {
        let dir = SessionDir::new(root);
        let resume_step = manifest.resume.map(|r| r.step).unwrap_or(0);
        let log_path = dir.log();
        let kept: String = read_advisory(&log_path)
            .lines()
            .filter(|l| serde_json::from_str::<LogEntry>(l).map(|e| e.step <= resume_step).unwrap_or(false))
            .map(|l| format!("{l}\n"))
            .collect();
        write_atomic(&log_path, kept.as_bytes())?;
        // Half-written checkpoints of the interrupted run.
        if let Ok(entries) = fs::read_dir(dir.checkpoints()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let log = open_log(&dir, false)?;
        let mut w = SessionWriter { _lock: lock, dir, manifest, log };
        w.manifest.status = RunStatus::Running;
        w.manifest.reason = None;
        w.write_manifest()?;
        Ok(w)
    }

    /// Records the targets made on entering phase `index` and saves the manifest at once: a
    /// resumed run must train towards the same answers.
    pub fn set_phase_targets(&mut self, index: usize, targets: Vec<Vec<usize>>) -> Result<(), SessionError> {
        self.manifest.phase_targets.insert(index.to_string(), targets);
        self.write_manifest()
    }

    /// A fresh directory to write checkpoint `step`'s weights and optimizer state into before
    /// [`commit_checkpoint`](Self::commit_checkpoint) completes it.
    pub fn begin_checkpoint(&self, step: usize) -> Result<PendingCheckpoint, SessionError> {
        let tmp = self.dir.pending_checkpoint(step);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| SessionError::write(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| SessionError::write(&tmp, e))?;
        Ok(PendingCheckpoint { dir: tmp })
    }

    /// Drops a checkpoint that could not be completed: its files are of no use, and on a full
    /// disk the space they hold is what lets the manifest still record the failure.
    pub fn abandon_checkpoint(&self, step: usize) {
        let _ = fs::remove_dir_all(self.dir.pending_checkpoint(step));
    }

    /// Completes a checkpoint begun with [`begin_checkpoint`](Self::begin_checkpoint) (weights,
    /// and optimizer state when `resume` is given, or an analysed model's hidden states, already
    /// inside): writes the snapshot, renames
    /// the directory into place, then records it in the manifest.
    pub fn commit_checkpoint(&mut self, snapshot: &Snapshot, resume: Option<ResumeState>) -> Result<(), SessionError> {
        let name = checkpoint_dir_name(snapshot.step);
        let ckpts = self.dir.checkpoints();
        let tmp = self.dir.pending_checkpoint(snapshot.step);
        let fin = self.dir.checkpoint(snapshot.step);
        let mut checksums = BTreeMap::new();
        for f in [WEIGHTS, OPTIMIZER, HIDDEN] {
            let p = tmp.join(f);
            if p.exists() {
                // The model library writes these private (0600); a session's files are all
                // readable alike, so a copy or a colleague sees the weights with the rest.
                let readable = fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644));
                readable
                    .and_then(|()| File::open(&p))
                    .and_then(|f| f.sync_all())
                    .map_err(|e| SessionError::write(&p, e))?;
                // Read back: the checksum is of what reached the file, not of what was meant.
                checksums.insert(f.to_string(), checksum(&read_regular(&p)?));
            }
        }
        let snapshot_bytes = serde_json::to_vec(snapshot)?;
        write_atomic(&tmp.join(SNAPSHOT), &snapshot_bytes)?;
        checksums.insert(SNAPSHOT.to_string(), checksum(&snapshot_bytes));
        if fin.exists() {
            // The same step again (a stop right on a checkpoint): the newer one wins.
            fs::remove_dir_all(&fin).map_err(|e| SessionError::write(&fin, e))?;
        }
        fs::rename(&tmp, &fin).map_err(|e| SessionError::write(&fin, e))?;
        sync_dir(&ckpts);
        let previous_resume = self.manifest.resume.map(|r| r.step);
        self.manifest.checkpoints.retain(|c| c.step != snapshot.step);
        self.manifest.checkpoints.push(CheckpointEntry {
            step: snapshot.step,
            dir: name,
            seen_accuracy: snapshot.seen_accuracy,
            unseen_accuracy: snapshot.unseen_accuracy,
            checksums,
        });
        self.manifest.checkpoints.sort_by_key(|c| c.step);
        if resume.is_some() {
            self.manifest.resume = resume;
        }
        // Optimizer moments are twice the weights' size: only the newest is worth keeping. The
        // manifest stops listing the old one before it goes, so it never lists a missing file.
        let superseded = match (previous_resume, resume.map(|r| r.step)) {
            (Some(old), Some(new)) if old != new => Some(old),
            _ => None,
        };
        if let Some(old) = superseded {
            if let Some(entry) = self.manifest.checkpoints.iter_mut().find(|c| c.step == old) {
                entry.checksums.remove(OPTIMIZER);
            }
        }
        self.write_manifest()?;
        if let Some(old) = superseded {
            let _ = fs::remove_file(self.dir.optimizer(old));
        }
        Ok(())
    }

    /// Changes what an analysed session records of its models (learnt as each is loaded); saved
    /// with the next checkpoint. Nothing for a training run's session.
    pub fn update_analyzed(&mut self, change: impl FnOnce(&mut AnalyzedSource)) {
        if let Some(a) = self.manifest.analyzed.as_mut() {
            change(a);
        }
    }

    pub fn log(&mut self, entry: &LogEntry) -> Result<(), SessionError> {
        let line = serde_json::to_string(entry)?;
        writeln!(self.log, "{line}").and_then(|_| self.log.flush()).map_err(|e| SessionError::write(&self.dir.log(), e))
    }

    /// Records how the run ended (`reason` says why it stopped or failed) and its training time.
    pub fn finish(
        &mut self,
        status: RunStatus,
        reason: Option<String>,
        train_seconds: f64,
    ) -> Result<(), SessionError> {
        self.manifest.status = status;
        self.manifest.reason = reason;
        self.manifest.train_seconds = train_seconds;
        self.write_manifest()
    }

    fn write_manifest(&self) -> Result<(), SessionError> {
        write_atomic(&self.dir.manifest(), &serde_json::to_vec(&self.manifest)?)
    }
}

/// A checkpoint directory being written: readers never see it until it is committed.
#[derive(Debug, Clone)]
pub struct PendingCheckpoint {
    dir: PathBuf,
}

impl PendingCheckpoint {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn weights(&self) -> PathBuf {
        self.dir.join(WEIGHTS)
    }

    pub fn optimizer(&self) -> PathBuf {
        self.dir.join(OPTIMIZER)
    }

    pub fn hidden(&self) -> PathBuf {
        self.dir.join(HIDDEN)
    }
}

/// Removes the files of a session that never recorded a checkpoint, so it can start again in
/// place. Only the session's own files go; anything else stays, and `check_free` then refuses.
fn clear_unstarted(dir: &SessionDir) -> Result<(), SessionError> {
    for file in [dir.manifest(), dir.points(), dir.log(), dir.probes()] {
        let mut tmp = file.as_os_str().to_owned();
        tmp.push(".tmp");
        for f in [file, PathBuf::from(tmp)] {
            match fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SessionError::write(&f, e)),
                _ => {}
            }
        }
    }
    let ckpts = dir.checkpoints();
    let Ok(entries) = fs::read_dir(&ckpts) else { return Ok(()) };
    let mut only_checkpoints = true;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with("step-") && e.path().is_dir() {
            fs::remove_dir_all(e.path()).map_err(|err| SessionError::write(&e.path(), err))?;
        } else {
            only_checkpoints = false;
        }
    }
    if only_checkpoints {
        fs::remove_dir(&ckpts).map_err(|e| SessionError::write(&ckpts, e))?;
    }
    Ok(())
}

fn open_log(dir: &SessionDir, truncate: bool) -> Result<BufWriter<File>, SessionError> {
    let p = dir.log();
    let mut o = OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(&p).map(BufWriter::new).map_err(|e| SessionError::write(&p, e))
}

/// Write to a temporary sibling, flush it to disk, rename over the target: readers see the old
/// file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SessionError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| SessionError::write(path, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent);
    }
    Ok(())
}

/// Makes a rename durable; best effort, since not every filesystem allows syncing a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
