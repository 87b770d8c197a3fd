//! What kind of failure an error is: the one thing a front end needs to pick an exit code.
//! Every room's error type says which kind each of its variants is, so `main` never has to
//! guess from the type or the message.

/// The kind of a failure, as the user should read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Something the user asked for cannot be done as asked (a bad flag, an unknown word).
    Usage,
    /// A file the user gave us is bad: a spec, a session, a theme, weights.
    BadData,
    /// A failure while running (out of memory, the disk, the model library).
    Internal,
}

impl ErrorKind {
    /// The process exit code: 2 for what the user can fix in what they gave, 1 otherwise.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage | ErrorKind::BadData => 2,
            ErrorKind::Internal => 1,
        }
    }
}

/// An error that knows its [`ErrorKind`].
pub trait Kind {
    fn kind(&self) -> ErrorKind;
}
