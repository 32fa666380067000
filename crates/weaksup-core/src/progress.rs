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

/// How often [`Ticker`] logs: every `WEAKSUP_PROGRESS_SECS` seconds (default 15; `0` logs every
/// step, for tests).
pub fn line_interval() -> std::time::Duration {
    let secs =
        std::env::var("WEAKSUP_PROGRESS_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(15.0);
    std::time::Duration::from_secs_f64(secs.max(0.0))
}

/// Progress as periodic `tracing` lines (`what: done/total (pct), rate/s, eta`), for work that
/// runs where no progress bar can be drawn (stderr not a terminal: a batch job's log, CI) and
/// for library loops that have no [`Progress`] (label-model grids).
#[derive(Debug)]
pub struct Ticker {
    what: String,
    total: u64,
    done: u64,
    started: std::time::Instant,
    last: std::time::Instant,
    every: std::time::Duration,
}

impl Ticker {
    pub fn new(what: &str, total: u64) -> Self {
        let now = std::time::Instant::now();
        Self { what: what.to_string(), total, done: 0, started: now, last: now, every: line_interval() }
    }
    /// `n` more units are done; logs when the interval has passed since the last line.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if self.last.elapsed() >= self.every {
            self.last = std::time::Instant::now();
            self.log();
        }
    }
    /// Logs the final count (when any line was logged, or the work took more than an interval).
    pub fn finish(&mut self) {
        if self.started.elapsed() >= self.every {
            self.log();
        }
    }
    fn log(&self) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = self.done as f64 / secs.max(1e-9);
        let pct = if self.total > 0 { 100.0 * self.done as f64 / self.total as f64 } else { 0.0 };
        let eta = if rate > 0.0 && self.total >= self.done {
            format!("{:.0}s", (self.total - self.done) as f64 / rate)
        } else {
            "?".into()
        };
        tracing::info!("{}: {}/{} ({pct:.0}%), {rate:.1}/s, eta {eta}", self.what, self.done, self.total);
    }
}
