//! One writer per session: a process holds an exclusive `flock` on the session's `.lock` file
//! while it writes, so a second run, a resume or a sweep point claimed twice is told at once
//! instead of interleaving its files with the first. The kernel drops the lock when its holder
//! dies, however it dies, so a lock file left by a dead process is simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;

use super::{SessionDir, SessionError};

/// Held for as long as the session is written; dropping it releases the lock.
#[derive(Debug)]
pub struct SessionLock {
    _file: File,
}

/// Who holds the session's lock now, if anyone. Only looks: the lock file is not created or
/// written, and a free lock is let go at once.
pub fn holder(dir: &SessionDir) -> Option<String> {
    // Not a regular file: not a lock anyone holds (and opening a FIFO would wait for a writer).
    let mut file = super::file::open_regular(&dir.lock()).ok()?;
    if try_flock(&file).ok()? {
        return None;
    }
    let who = read_holder(&mut file);
    // This process's own lock (a writer checking its directory) is not someone else's.
    (who != format!("process {}", std::process::id())).then_some(who)
}

/// Takes the lock on `file` if it is free: `Ok(false)` when another open file holds it.
fn try_flock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor the caller owns; it touches no memory.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// The holder a lock file names, as the message to a second writer says it.
fn read_holder(file: &mut File) -> String {
    let mut pid = String::new();
    let _ = file.read_to_string(&mut pid);
    match pid.trim() {
        "" => "another process".to_string(),
        pid => format!("process {pid}"),
    }
}

impl SessionLock {
    /// Takes the session's lock, creating its directory if needed, or says who holds it.
    pub fn acquire(dir: &SessionDir) -> Result<SessionLock, SessionError> {
        let root = dir.root();
        std::fs::create_dir_all(root).map_err(|e| SessionError::write(root, e))?;
        let path = dir.lock();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SessionError::write(&path, e))?;
        if !try_flock(&file).map_err(|e| SessionError::write(&path, e))? {
            return Err(SessionError::Busy { dir: root.to_path_buf(), holder: read_holder(&mut file) });
        }
        // Ours now: say who writes, for the message a second writer gets.
        let pid = std::process::id().to_string();
        let noted = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(pid.as_bytes()));
        noted.map_err(|e| SessionError::write(&path, e))?;
        Ok(SessionLock { _file: file })
    }
}
