//! Following a session another process writes: a reader thread reads the session again every
//! second and hands what was committed since to the UI's channel, until the writer lets go of
//! the session's lock; its last reading is taken after that, so it holds the final state.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{UiError, UiEvent};
use crate::session::lock::holder;
use crate::session::{Session, SessionDir, SessionError};
use crate::ui::app::{App, Followed};

/// How often a followed session is read again.
const READ_EVERY: Duration = Duration::from_secs(1);

/// Opens the session in `dir` to show it, and says who writes it now. The lock is looked at
/// first: a writer that lets go while the session is read is still followed to its end.
pub fn open_session(dir: &Path) -> Result<(Session, Option<String>), SessionError> {
    let writer = holder(&SessionDir::new(dir));
    let session = Session::open(dir)?;
    // Damaged checkpoints are marked in the app; with none intact there is nothing to show.
    session.require_intact()?;
    Ok((session, writer))
}

/// Reads `session` again every `every` while another process holds its lock, handing each
/// reading to `on_read` until it returns false; the last reading, after the writer let go, ends
/// the thread. Readings that bring nothing new are handed over too: they cost the UI a frame
/// it draws anyway, and they let a follower nobody listens to any more end within `every`.
pub fn follow_session(
    session: &Session,
    every: Duration,
    mut on_read: impl FnMut(Followed) -> bool + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let mut tail = session.tail();
    let layout = session.layout();
    std::thread::Builder::new().name("session-follower".into()).spawn(move || loop {
        // The lock before the files: a reading begun after the writer let go is the final one.
        let writer = holder(&layout);
        let last = writer.is_none();
        let followed = match tail.read(last) {
            Ok(u) => Followed::Read { update: Box::new(u), writer },
            Err(e) => Followed::Unreadable { error: e.to_string(), writer },
        };
        if !on_read(followed) || last {
            return;
        }
        std::thread::sleep(every);
    })
}

/// The follower of the session on screen. Its events carry `id`, so that those of a session
/// closed before (the sweep view opens one after another on one channel) are told apart;
/// dropping it ends its thread.
pub(super) struct Follower {
    pub id: u64,
    stop: Arc<AtomicBool>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Follows `session` in `app` when `writer` writes it; `None` when nobody does.
pub(super) fn start(
    session: &Session,
    writer: Option<String>,
    app: &mut App,
    tx: &Sender<UiEvent>,
) -> Result<Option<Follower>, UiError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(writer) = writer else { return Ok(None) };
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, stopped) = (tx.clone(), stop.clone());
    follow_session(session, READ_EVERY, move |f| {
        !stopped.load(Ordering::SeqCst) && tx.send(UiEvent::Followed(id, Box::new(f))).is_ok()
    })?;
    app.follow(writer);
    Ok(Some(Follower { id, stop }))
}
