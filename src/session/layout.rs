//! Where each file of a session lives: the one place that knows the directory layout.

use std::path::{Path, PathBuf};

use super::format::{CHECKPOINTS, LOCK, LOG, MANIFEST, OPTIMIZER, POINTS, PROBES, SNAPSHOT, WEIGHTS};
use super::SessionError;

/// A session directory, as paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDir {
    root: PathBuf,
}

impl SessionDir {
    pub fn new(root: &Path) -> Self {
        SessionDir { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a new session may be created here: the directory is absent or empty (but for a
    /// lock file). A session is never written among someone else's files, which it could
    /// overwrite or delete.
    pub fn check_free(&self) -> Result<(), SessionError> {
        if !self.root.exists() {
            return Ok(());
        }
        let entries = std::fs::read_dir(&self.root).map_err(|e| SessionError::read(&self.root, e))?;
        let lock = self.lock();
        if entries.flatten().any(|e| e.path() != lock) {
            // Files of a session another process is creating right now are not "other files".
            match super::lock::holder(self) {
                Some(holder) => Err(SessionError::Busy { dir: self.root.clone(), holder }),
                None => Err(SessionError::Occupied(self.root.clone())),
            }
        } else {
            Ok(())
        }
    }

    pub fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    pub fn points(&self) -> PathBuf {
        self.root.join(POINTS)
    }

    pub fn log(&self) -> PathBuf {
        self.root.join(LOG)
    }

    pub fn probes(&self) -> PathBuf {
        self.root.join(PROBES)
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS)
    }

    /// The directory of a complete checkpoint.
    pub fn checkpoint(&self, step: usize) -> PathBuf {
        self.checkpoints().join(checkpoint_dir_name(step))
    }

    /// Where a checkpoint is written before it is complete.
    pub fn pending_checkpoint(&self, step: usize) -> PathBuf {
        self.checkpoints().join(format!("{}.tmp", checkpoint_dir_name(step)))
    }

    pub fn weights(&self, step: usize) -> PathBuf {
        self.checkpoint(step).join(WEIGHTS)
    }

    pub fn optimizer(&self, step: usize) -> PathBuf {
        self.checkpoint(step).join(OPTIMIZER)
    }

    pub fn snapshot(&self, step: usize) -> PathBuf {
        self.checkpoint(step).join(SNAPSHOT)
    }
}

pub fn checkpoint_dir_name(step: usize) -> String {
    format!("step-{step:06}")
}
