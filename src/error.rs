//! The library's error type. Every message is one sentence: the problem first, the file path last.

use std::path::{Path, PathBuf};

/// Errors raised by sliceplan's library modules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file (or folder) could not be used; `msg` says why.
    #[error("{msg}: {}", path.display())]
    File { msg: String, path: PathBuf },
    /// An I/O failure on a file.
    #[error("{msg} ({source}): {}", path.display())]
    Io {
        msg: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Inputs that cannot be satisfied (a budget out of range, an unknown label...).
    #[error("{0}")]
    Invalid(String),
    /// A plan that cannot be made with these volumes (a budget out of the feasible range, more
    /// volumes than the dataset holds): a simulation skips such a scenario with this reason.
    #[error("{0}")]
    Infeasible(String),
    /// Training or evaluation failed on the device.
    #[error("{0}")]
    Train(String),
    /// The user cancelled a long job.
    #[error("cancelled")]
    Cancelled,
}

/// Shorthand for results of the library.
pub type Result<T> = std::result::Result<T, Error>;

/// Control characters (a newline inside a quoted file name or tag value) replaced, so every
/// message stays one line.
fn one_line(msg: impl Into<String>) -> String {
    let msg = msg.into();
    if msg.chars().any(char::is_control) {
        msg.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    } else {
        msg
    }
}

impl Error {
    /// A problem with the file at `path`.
    pub fn file(msg: impl Into<String>, path: impl AsRef<Path>) -> Self {
        Error::File {
            msg: one_line(msg),
            path: path.as_ref().to_path_buf(),
        }
    }

    /// An I/O error while doing `msg` on `path`.
    pub fn io(msg: impl Into<String>, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            msg: one_line(msg),
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A plan that cannot be made with these volumes.
    pub fn infeasible(msg: impl Into<String>) -> Self {
        Error::Infeasible(one_line(msg))
    }

    /// Inputs that cannot be satisfied.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(one_line(msg))
    }
}
