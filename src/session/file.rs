//! Reading a session's files: regular files only, since a FIFO or a device put in a session's
//! place would block a reader forever or feed it without end.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::SessionError;

/// Opens `path` for reading if it is a regular file (links followed). The open does not block:
/// opening a FIFO without O_NONBLOCK waits for a writer that may never come, and for a regular
/// file the flag changes nothing.
pub fn open_regular(path: &Path) -> Result<File, SessionError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| SessionError::read(path, e))?;
    let meta = file.metadata().map_err(|e| SessionError::read(path, e))?;
    if meta.is_file() {
        Ok(file)
    } else {
        Err(SessionError::corrupt(path, "not a regular file"))
    }
}

/// The whole of the regular file `path`.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, SessionError> {
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes).map_err(|e| SessionError::read(path, e))?;
    Ok(bytes)
}

/// The whole of the regular file `path`, which must not be empty.
pub fn read_nonempty(path: &Path) -> Result<Vec<u8>, SessionError> {
    let bytes = read_regular(path)?;
    if bytes.is_empty() {
        return Err(SessionError::corrupt(path, "file is empty"));
    }
    Ok(bytes)
}

/// An advisory text file (a log, the probes): what is there, or nothing if it cannot be read.
pub fn read_advisory(path: &Path) -> String {
    read_regular(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}
