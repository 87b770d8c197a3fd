//! The probes a user made, kept in the session's `probes.jsonl` so they come back in replay.

use serde::{Deserialize, Serialize};
use std::io::Write;

use super::SessionDir;

/// A probe as recorded in `probes.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProbe {
    pub text: String,
    pub step: usize,
}

/// Appends a probe. Probes are a convenience record: failing to write one must not fail the
/// probe, so this is best effort.
pub fn append(dir: &SessionDir, probe: &SavedProbe) {
    let Ok(line) = serde_json::to_string(probe) else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.probes()) {
        let _ = writeln!(f, "{line}");
    }
}

/// The probes recorded in a session, oldest first; unreadable lines are skipped.
pub fn read(dir: &SessionDir) -> Vec<SavedProbe> {
    super::file::read_advisory(&dir.probes()).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}
