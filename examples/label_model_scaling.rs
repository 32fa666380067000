//! How a label-model fit grows with rows: one fit with default parameters on a synthetic
//! `rows` × 500 LFs × 10 classes vote matrix ([`SyntheticSpec::wide`], the shape of
//! `benches/label_models.rs`' wide matrix; each LF fires on 1–9% of the rows). Prints the fit's time and the process's peak RSS before
//! and after it (Linux). Run one process per size so each peak is its own:
//!
//! ```sh
//! for n in 10000 100000 1000000; do
//!     for m in ds snorkel; do cargo run --release --example label_model_scaling -- $m $n; done
//! done
//! ```

use std::time::Instant;

use weaksup::label_model::synthetic::{SyntheticSpec, generate};
use weaksup::label_model::{FitOptions, Params, PredictOptions};

/// The process's peak resident set (VmHWM) in MiB; 0 where /proc is absent.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args.next().unwrap_or_else(|| "ds".into());
    let rows: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let started = Instant::now();
    let data = generate(&SyntheticSpec::wide(rows))?;
    let generated = started.elapsed().as_secs_f64();
    let before = peak_rss_mib();
    let params = Params::default_for(&model)?;
    let started = Instant::now();
    let fitted = params.fit_quiet(&data.votes, &FitOptions::default())?;
    let fit = started.elapsed().as_secs_f64();
    let predicted = fitted.predict(&data.votes, &PredictOptions::default())?;
    let (mut scored, mut correct) = (0usize, 0usize);
    for (p, g) in predicted.iter().zip(&data.gold) {
        if let (true, Some(g)) = (*p >= 0, g) {
            scored += 1;
            correct += usize::from(*p as u32 == *g);
        }
    }
    println!(
        "{model} rows {rows}: fit {fit:.3} s (generate {generated:.1} s); peak RSS {before:.0} MiB with the votes, {:.0} MiB after the fit; accuracy on predicted rows {:.3}",
        peak_rss_mib(),
        correct as f64 / scored.max(1) as f64
    );
    Ok(())
}
