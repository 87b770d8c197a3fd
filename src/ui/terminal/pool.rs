//! The sweep's points run from the sweep view (`sweep ... --view`): the pool is a child process
//! (`clusterscope sweep ...` as without the view) in a process group of its own, so stopping it
//! stops the points it started and nothing else. What it prints becomes the view's notices,
//! never text drawn over the screen; with its stderr not a terminal it draws no progress bar.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{UiError, UiEvent};

/// How long the points get to die of SIGTERM before they are killed outright.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How the pool ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEnd {
    /// It ran every point it had.
    Finished,
    /// It ended without finishing them all, with the last thing it said.
    Failed(String),
    /// The view quit while it ran: it and its points were stopped.
    Stopped,
}

impl PoolEnd {
    /// Said once the terminal is back: a failure is the command's error (and exit status).
    pub fn report(self) -> Result<(), UiError> {
        match self {
            PoolEnd::Finished => Ok(()),
            PoolEnd::Failed(why) => Err(UiError::Worker(why)),
            PoolEnd::Stopped => {
                eprintln!(
                    "stopped the sweep: its running points were interrupted; the same command again resumes them"
                );
                Ok(())
            }
        }
    }
}

/// The pool process, from its start to its end.
pub(super) struct Pool {
    child: Child,
    /// The last line it printed that reads as an error, for a failure's message.
    last_error: Option<String>,
    ended: Option<PoolEnd>,
}

impl Pool {
    /// Starts `command`; every line it prints on stderr comes to `tx` as a [`UiEvent::Pool`].
    pub(super) fn start(mut command: Command, tx: &Sender<UiEvent>) -> Result<Pool, UiError> {
        // Its own group (id = its pid): one signal reaches the pool and every point it started,
        // and a key read by this terminal never reaches them.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| UiError::Worker(format!("cannot start the sweep's points: {e}")))?;
        if let Some(stderr) = child.stderr.take() {
            let tx = tx.clone();
            std::thread::Builder::new().name("pool-output".into()).spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(UiEvent::Pool(line)).is_err() {
                        return;
                    }
                }
            })?;
        }
        Ok(Pool { child, last_error: None, ended: None })
    }

    /// Notes a line it printed.
    pub(super) fn heard(&mut self, line: &str) {
        if let Some(error) = line.strip_prefix("error: ") {
            self.last_error = Some(error.to_string());
        }
    }

    /// How it ended, once it has (asked without waiting).
    pub(super) fn poll(&mut self) -> Option<&PoolEnd> {
        if self.ended.is_none() {
            let status = self.child.try_wait().ok()??;
            self.ended = Some(if status.success() {
                PoolEnd::Finished
            } else {
                let why = self.last_error.take().unwrap_or_else(|| format!("the sweep's pool ended with {status}"));
                PoolEnd::Failed(why)
            });
        }
        self.ended.as_ref()
    }

    /// Ends it: stops it (and its points) if it still runs, and says how it ended.
    pub(super) fn finish(mut self) -> PoolEnd {
        if let Some(end) = self.poll() {
            return end.clone();
        }
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: signals to the process group this view started; no memory is touched. A group's
        // id is not given to another process while any member of it lives.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let _ = self.child.wait();
        // Its points are reaped by init once it is gone; wait for them to let go of their locks,
        // so that a sweep run again at once finds them interrupted, not running.
        let deadline = Instant::now() + STOP_TIMEOUT;
        // SAFETY: as above; signal 0 only asks whether any of the group is left.
        while unsafe { libc::kill(group, 0) } == 0 {
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe { libc::kill(group, libc::SIGKILL) };
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        PoolEnd::Stopped
    }
}
