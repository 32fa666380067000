//! A small progress-reporting trait. The library reports through it and stays silent; the CLI
//! implements it with indicatif progress bars.

/// Receives progress of a long operation. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A new phase starts with `total` units of work (rows, steps, cells).
    fn start(&self, _what: &str, _total: u64) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// A short status message (latest loss, metric...).
    fn message(&self, _msg: &str) {}
    /// The current phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
