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

/// Who holds the session's lock now, if anyone (found by trying to take it, and letting go).
pub fn holder(dir: &SessionDir) -> Option<String> {
    if !dir.lock().exists() {
        return None;
    }
    // This process's own lock (a writer checking its directory) is not someone else's.
    let me = format!("process {}", std::process::id());
    match SessionLock::acquire(dir) {
        Err(SessionError::Busy { holder, .. }) if holder != me => Some(holder),
        _ => None,
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
        // SAFETY: flock on a descriptor this function owns; it touches no memory.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !taken {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(SessionError::write(&path, err));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
            return Err(SessionError::Busy { dir: root.to_path_buf(), holder: who });
        }
        // Ours now: say who writes, for the message a second writer gets.
        let pid = std::process::id().to_string();
        let noted = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(pid.as_bytes()));
        noted.map_err(|e| SessionError::write(&path, e))?;
        Ok(SessionLock { _file: file })
    }
}
