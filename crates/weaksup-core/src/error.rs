//! The error type of every weaksup crate. Every variant keeps its source and names the file, row/line and
//! field involved where there is one, so a user can fix their input from the message alone.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in weaksup's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}{}", io_hint(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file's content is malformed at a known place.
    #[error("{path}{}: {message}", location_suffix(*.line, .field.as_deref()))]
    Parse {
        path: PathBuf,
        /// 1-based line (or row) number, when known.
        line: Option<usize>,
        /// The field or column involved, when known.
        field: Option<String>,
        message: String,
    },
    /// A value is valid syntax but not acceptable (unknown label, uneven vote width, ...).
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
    /// A requested column does not exist.
    #[error("{context}: no column `{column}` (columns: {available})")]
    MissingColumn { context: String, column: String, available: String },
    /// A labeling function definition or application failed.
    #[error("labeling function `{lf}`: {message}")]
    Lf { lf: String, message: String },
    /// A configuration value is out of range or inconsistent.
    #[error("config: {0}")]
    Config(String),
    /// An error from polars, with what we were doing.
    #[error("{context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: polars::error::PolarsError,
    },
    /// An error from the tensor backend (libtorch, through `weaksup-nn`). The message shows the
    /// first line of its text; the C++ backtrace that follows is in the source (the CLI prints it
    /// with `-v`).
    #[error("{context}: {}", first_line(&source.to_string()))]
    Torch {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What an OS error means for the user, where its own text is cryptic.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ELOOP) => " (a symlink loop: a link points back to itself)",
        Some(libc::ENOSPC) => " (the disk is full)",
        Some(libc::EDQUOT) => " (the disk quota is exhausted)",
        Some(libc::EISDIR) => " (a folder, where a file was expected)",
        _ => "",
    }
}

/// The first non-empty line of a (libtorch) message.
pub fn first_line(s: &str) -> &str {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(s)
}

fn location_suffix(line: Option<usize>, field: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(l) = line {
        s.push_str(&format!(":{l}"));
    }
    if let Some(f) = field {
        s.push_str(&format!(" (field `{f}`)"));
    }
    s
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn parse(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Parse { path: path.into(), line, field: field.map(str::to_owned), message: message.into() }
    }

    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { context: context.into(), message: message.into() }
    }

    pub fn lf(lf: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Lf { lf: lf.into(), message: message.into() }
    }
}

/// Attach context to polars errors.
pub trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, polars::error::PolarsError> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Polars { context: context(), source })
    }
}

/// The message of a caught panic (`&str` or `String` payloads).
pub fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_say_what_they_mean() {
        let e = Error::io("a/b", std::io::Error::from_raw_os_error(libc::ELOOP));
        assert!(e.to_string().contains("symlink loop"), "{e}");
        let e = Error::io("a/b", std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(e.to_string().contains("disk is full"), "{e}");
    }
}
