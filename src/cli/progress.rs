//! indicatif progress bars behind the library's [`Progress`] trait.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::{Progress, Ticker};

/// One bar at a time, on stderr; with `--quiet` nothing; when stderr is not a terminal (a log
/// file, a batch job, CI), periodic `tracing` lines instead of a bar ([`Ticker`]).
pub struct Bars {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
    lines: Mutex<Option<Ticker>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Self { quiet, terminal, bar: Mutex::new(None), lines: Mutex::new(None) }
    }
}

impl Progress for Bars {
    fn start(&self, what: &str, total: u64) {
        if self.quiet {
            return;
        }
        if !self.terminal {
            if let Ok(mut l) = self.lines.lock() {
                *l = Some(Ticker::new(what, total));
            }
            return;
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }
    fn advance(&self, n: u64) {
        if let Ok(mut l) = self.lines.lock()
            && let Some(t) = l.as_mut()
        {
            t.advance(n);
        }
        if let Ok(b) = self.bar.lock()
            && let Some(b) = b.as_ref()
        {
            b.inc(n);
        }
    }
    fn message(&self, msg: &str) {
        if let Ok(b) = self.bar.lock()
            && let Some(b) = b.as_ref()
        {
            b.set_message(msg.to_string());
        }
    }
    fn finish(&self) {
        if let Ok(mut l) = self.lines.lock()
            && let Some(mut t) = l.take()
        {
            t.finish();
        }
        if let Ok(mut b) = self.bar.lock()
            && let Some(b) = b.take()
        {
            b.finish_and_clear();
        }
    }
}

/// Test hook behind hidden flags (`--kill-after-steps`, `--kill-after-cells`): passes everything
/// to `inner` and ends the process abruptly, as `kill -9` would (no unwinding, no clean-up), once
/// `limit` units of the phases named `phases` are done. Kill-and-resume tests use it to stop a
/// run at a known point.
pub struct KillAt<'a> {
    pub inner: &'a dyn Progress,
    pub phases: &'static [&'static str],
    pub limit: Option<u64>,
    pub state: Mutex<(bool, u64)>,
}

impl<'a> KillAt<'a> {
    pub fn new(inner: &'a dyn Progress, phases: &'static [&'static str], limit: Option<u64>) -> Self {
        Self { inner, phases, limit, state: Mutex::new((false, 0)) }
    }
}

impl Progress for KillAt<'_> {
    fn start(&self, what: &str, total: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.0 = self.phases.contains(&what);
        }
        self.inner.start(what, total);
    }
    fn advance(&self, n: u64) {
        self.inner.advance(n);
        let Some(limit) = self.limit else { return };
        if let Ok(mut s) = self.state.lock()
            && s.0
        {
            s.1 += n;
            if s.1 >= limit {
                eprintln!("killed after {} units of {:?} (test hook)", s.1, self.phases);
                std::process::exit(137);
            }
        }
    }
    fn message(&self, msg: &str) {
        self.inner.message(msg);
    }
    fn finish(&self) {
        self.inner.finish();
    }
}
