//! Why a journal line or an action's JSON form does not read back.

/// Why a journal line or an action's JSON does not read back; `Line` says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("unknown role `{0}`")]
    Role(String),
    #[error("key `{0}`: run, program or remote")]
    Key(String),
    #[error("device `{0}`: an address in your range, such as the register shows")]
    Offset(String),
    #[error("{0}")]
    Alarms(String),
    #[error("odd number of hex digits")]
    OddHex,
    #[error("bad hex at {0}")]
    Hex(usize),
    #[error("an empty journal")]
    Empty,
    #[error("the journal does not begin with its start entry")]
    NoStart,
    #[error("journal format {found}, this build reads {reads}")]
    Format { found: u32, reads: u32 },
    /// Not JSON, or not the JSON of an entry (serde's words).
    #[error("{0}")]
    Json(String),
    #[error("line {line}: {error}")]
    Line { line: usize, error: Box<Error> },
}

impl Error {
    /// The same error, at a line of the journal (1 for the first).
    pub fn at_line(self, line: usize) -> Error {
        Error::Line { line, error: Box::new(self) }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Json(e.to_string())
    }
}
