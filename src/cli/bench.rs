//! `weaksup bench`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use super::progress::{Bars, KillAt};
use crate::bench::{self, BenchConfig, BenchMethod};
use crate::lf::Registry;
use crate::model::ModelSource;

#[derive(Args, Debug)]
pub(super) struct BenchArgs {
    /// TOML grid (see bench/*.toml).
    #[arg(long)]
    config: PathBuf,
    /// Output folder (overrides the config's `out`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seeds, comma-separated (override the config's).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Methods, comma-separated.
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<BenchMethod>>,
    /// End model (overrides `[end_model] model`).
    #[arg(long)]
    model: Option<ModelSource>,
    /// Print the resolved config and exit.
    #[arg(long)]
    print_config: bool,
    /// Test hook: end the process abruptly after this many cells.
    #[arg(long, hide = true)]
    kill_after_cells: Option<u64>,
}

pub(super) fn cmd_bench(a: BenchArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let mut cfg = BenchConfig::load(&a.config)?;
    if let Some(out) = a.out {
        cfg.out = out;
    }
    if let Some(s) = a.seeds {
        cfg.seeds = s;
    }
    if let Some(ms) = a.methods {
        cfg.methods = ms;
    }
    if let Some(m) = a.model {
        cfg.end_model.model = m;
    }
    let resolved = cfg.resolve()?;
    let cfg = &resolved.config;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let t = Instant::now();
    let bars = Bars::new(quiet);
    let out = bench::run(&resolved, registry, &KillAt::new(&bars, &["bench cells"], a.kill_after_cells))?;
    let failed: Vec<_> = out.cells.iter().filter(|c| c.error.is_some()).collect();
    if !quiet {
        print!("{}", std::fs::read_to_string(cfg.out.join("results.md")).unwrap_or_default());
        println!(
            "{} cells computed, {} already done, in {:.1}s → {}",
            out.computed,
            out.skipped,
            t.elapsed().as_secs_f64(),
            cfg.out.join("results.md").display()
        );
    }
    if !failed.is_empty() {
        for c in &failed {
            eprintln!(
                "error: cell {} / {} / seed {} failed: {}",
                c.dataset,
                c.method,
                c.seed,
                c.error.as_deref().unwrap_or("")
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
