//! The probes a user made, kept in the session's `probes.jsonl` so they come back in replay.

use serde::{Deserialize, Serialize};
use std::io::Write;

use super::SessionDir;

/// A probe as recorded in `probes.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProbe {
    pub text: String,
    pub step: usize,
    /// A deletion: forgets the latest earlier probe of the same text. The file is only ever
    /// appended to, so a crash mid-write loses at most the last line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// Appends a probe. Probes are a convenience record: failing to write one must not fail the
/// probe, so this is best effort.
pub fn append(dir: &SessionDir, probe: &SavedProbe) {
    let Ok(line) = serde_json::to_string(probe) else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.probes()) {
        let _ = writeln!(f, "{line}");
    }
}

/// Records that a probe made as `text` was deleted; best effort, like [`append`].
pub fn forget(dir: &SessionDir, text: &str) {
    append(dir, &SavedProbe { text: text.to_string(), step: 0, deleted: true });
}

/// The probes recorded in a session and not deleted since, oldest first; unreadable lines are
/// skipped.
pub fn read(dir: &SessionDir) -> Vec<SavedProbe> {
    let mut kept: Vec<SavedProbe> = Vec::new();
    let text = super::file::read_advisory(&dir.probes());
    for probe in text.lines().filter_map(|l| serde_json::from_str::<SavedProbe>(l).ok()) {
        if probe.deleted {
            if let Some(i) = kept.iter().rposition(|p| p.text == probe.text) {
                kept.remove(i);
            }
        } else {
            kept.push(probe);
        }
    }
    kept
}
