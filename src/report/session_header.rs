//! The lines every `show` of a session begins with, whatever made it, and how text from a
//! session file is made safe to print.

use crate::session::lock::holder;
use crate::session::{RunStatus, Session};

/// Text from a session file as the terminal should show it: control characters (an escape
/// sequence in a task name could repaint the user's terminal) are shown escaped.
pub(super) fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// How the run stands, in words: a "running" session that no process writes was interrupted
/// (killed, or its end could not be recorded, as on a full disk).
fn status_text(s: &Session, writer: Option<&str>) -> String {
    let m = &s.manifest;
    let status = match (m.status, writer) {
        (RunStatus::Running, Some(who)) => format!("running (written by {who})"),
        (RunStatus::Running, None) => {
            "interrupted (no process writes it; `train --resume` goes on from the last checkpoint)".to_string()
        }
        (RunStatus::Finished, _) => "finished".to_string(),
        (RunStatus::Stopped, _) => "stopped".to_string(),
        (RunStatus::Failed, _) => "FAILED".to_string(),
    };
    match &m.reason {
        Some(reason) => format!("{status}: {}", printable(reason)),
        None => status,
    }
}

/// The first lines of `show`, whatever made the session: its name, where, when, and how it stands.
pub(super) fn header(s: &Session) -> String {
    let m = &s.manifest;
    let writer = holder(&s.layout());
    format!(
        "session {} ({})\n  created {}, clusterscope {}, format v{}\n  status {}\n",
        printable(&m.name),
        s.dir.display(),
        m.created,
        m.app_version,
        m.format_version,
        status_text(s, writer.as_deref()),
    )
}
