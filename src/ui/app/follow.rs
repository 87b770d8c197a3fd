//! Following a session another process writes (a sweep's point, a run in another terminal): a
//! reader thread (`terminal::follow`) reads what the writer has committed, and the app takes it
//! as a live run's checkpoints and progress; once the writer lets go, the session is a replay of
//! its final state.

use super::{App, Level, Notice, Phase, Source};
use crate::session::reader::Update;
use crate::session::{Manifest, RunStatus};

/// One reading of a followed session.
#[derive(Debug, Clone)]
pub enum Followed {
    /// What the writer added since the last reading. `writer` is who writes it now; `None`
    /// marks the last reading, taken after the writer let go.
    Read { update: Box<Update>, writer: Option<String> },
    /// The session could not be read this time (`writer` as for `Read`).
    Unreadable { error: String, writer: Option<String> },
}

impl App {
    /// Shows this replay as the run `writer` is writing: new checkpoints are selected as they
    /// come, as in a live run.
    pub fn follow(&mut self, writer: String) {
        self.run.source = Source::Follow;
        self.run.phase = Phase::Running;
        // A warning already shown (a theme, a damaged checkpoint) says more than this would.
        if self.view.notice.is_none() {
            self.set_status_message(format!(
                "following a run written by {writer}: checkpoints appear as it saves them"
            ));
        }
        self.run.writer = Some(writer);
        self.view.follow = true;
        self.view.selected = self.run.snapshots.len().saturating_sub(1);
        self.sync_probes();
    }

    pub fn on_followed(&mut self, followed: Followed) {
        if self.run.source != Source::Follow {
            return;
        }
        match followed {
            Followed::Read { update, writer } => {
                let Update { manifest, snapshots, damaged, log } = *update;
                self.run.total_steps = manifest.total_steps;
                self.run.phase_marks = manifest.phases.clone();
                for s in snapshots {
                    self.run.step = self.run.step.max(s.step);
                    self.add_snapshot(s);
                }
                self.run.damaged.extend(damaged.iter().map(|d| d.step));
                self.run.damaged.sort_unstable();
                self.run.damaged.dedup();
                if let (Some(first), Some(last)) = (log.first(), log.last()) {
                    let secs = last.elapsed_s - first.elapsed_s;
                    if secs > 0.0 {
                        self.run.steps_per_s = last.step.saturating_sub(first.step) as f64 / secs;
                    }
                }
                for e in &log {
                    self.run.step = self.run.step.max(e.step);
                    self.run.push_loss(e.step, e.loss);
                }
                match writer {
                    Some(w) => self.run.writer = Some(w),
                    None => self.settle(&manifest),
                }
            }
            Followed::Unreadable { error, writer } => {
                self.set_status_error(format!("cannot read the session: {error}"));
                if writer.is_none() {
                    // What was read before is all there is to show.
                    self.run.source = Source::Replay(RunStatus::Running);
                    self.run.phase = Phase::Paused;
                    self.run.writer = None;
                }
            }
        }
        self.sync_probes();
    }

    /// The writer let go: what is on disk now is the run's final state.
    fn settle(&mut self, manifest: &Manifest) {
        self.run.source = Source::Replay(manifest.status);
        self.run.phase = Phase::of(manifest.status);
        let writer = self.run.writer.take().unwrap_or_else(|| "another process".into());
        let text = match (manifest.status, &manifest.reason) {
            (_, Some(reason)) => format!("the run written by {writer} ended: {reason}"),
            (RunStatus::Finished, None) => {
                format!("the run written by {writer} finished at step {}: this is its final state", self.run.step)
            }
            (RunStatus::Running, None) => {
                format!("{writer} stopped writing before the run ended (interrupted); a resume continues it")
            }
            (status, None) => format!("the run written by {writer} ended: {}", format!("{status:?}").to_lowercase()),
        };
        let level = if manifest.status == RunStatus::Failed { Level::Error } else { Level::Info };
        self.view.notice = Some(Notice::new(level, &text));
    }
}
