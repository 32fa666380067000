//! The `weaksup` command line. The only module that uses `anyhow`, prints, and draws progress
//! bars. [`main_with`] lets a user's own binary reuse the whole CLI with custom LFs registered.
//!
//! Commands are thin: they turn flags into a config (each flag an `Option` over one config key,
//! [`args`]) and call the library's pipeline (`run::pipeline`).

mod args;
mod batch;
mod bench;
mod label_model;
mod progress;
mod token;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::data::{self, Splits, demo::DemoParams};
use crate::lf::{LfFile, Registry, analyze};
use crate::run::{self as pipeline_run, pipeline};
use args::{ApplyArgs, DataArgs, VotesArgs};
use progress::Bars;
use weaksup_core::seeds::Seeds;

#[derive(Parser, Debug)]
#[command(name = "weaksup", version, about = "Weak supervision with contrastive self-training (COSINE)")]
struct Cli {
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: corpus → LFs → analysis → label model → end model (the demo corpus without data).
    Run(train::RunArgs),
    /// Labeling functions: apply, analyze, bench.
    #[command(subcommand)]
    Lf(LfCommand),
    /// Datasets: inspect, convert, write the demo corpus.
    #[command(subcommand)]
    Data(DataCommand),
    /// Fine-tune an end model (n-gram or transformer) on weak labels, gold labels or a column.
    Train(train::TrainArgs),
    /// Benchmark a grid of datasets × methods × seeds against supervised baselines (resumable).
    Bench(bench::BenchArgs),
    /// COSINE: `weaksup train --method cosine` (stage 1, then contrastive self-training).
    Cosine(train::CosineArgs),
    /// Predict with a model written by `weaksup train`.
    Predict(train::PredictArgs),
    /// Label models: fit one and write soft labels, or compare all side by side.
    #[command(subcommand, name = "label-model")]
    LabelModel(label_model::LabelModelCommand),
    /// Batch runs over large corpora: label or predict chunk by chunk (resumable, sharded), merge shards.
    #[command(subcommand)]
    Batch(batch::BatchCommand),
}

#[derive(Subcommand, Debug)]
enum LfCommand {
    /// Apply LF files to a dataset and write the label matrix of each split.
    Apply(LfApplyArgs),
    /// Summarise LFs (polarity, coverage, overlaps, conflicts, empirical accuracy).
    Analyze(LfAnalyzeArgs),
    /// Time LF application: the texts of every split, repeated to --rows rows.
    Bench(LfBenchArgs),
}

#[derive(Args, Debug)]
struct LfApplyArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    /// LF files (TOML); several files must share their classes.
    #[arg(long, required = true, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// Output folder: `<split>.votes.parquet` (+ `.json` sidecar) per split.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    apply: ApplyArgs,
}

#[derive(Args, Debug)]
struct LfAnalyzeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    #[command(flatten)]
    votes: VotesArgs,
    /// Also write `<split>.lf_summary.{txt,csv,json,svg}` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct LfBenchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    #[arg(long, required = true, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// Rows in the benchmark corpus (texts repeated in order, then cut); sentences for token data.
    #[arg(long, default_value_t = 1_000_000, value_parser = positive)]
    rows: usize,
    /// Timed repetitions (after one warm-up); the median and best are reported.
    #[arg(long, default_value_t = 5, value_parser = positive)]
    repeat: usize,
    #[command(flatten)]
    apply: ApplyArgs,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Print splits, rows, columns, classes and stored votes of a dataset.
    Info(DataInfoArgs),
    /// Write the built-in demo corpus (train/valid/test) as Parquet or CSV.
    Demo(DemoArgs),
    /// Convert a dataset's splits to a dataset folder (`<out>/<split>.<ext>`, classes and stored
    /// votes in sidecars) that loads back as the same splits.
    Convert(ConvertArgs),
    /// Split one file (or one split) into train / valid / test, stratified by gold class on request,
    /// and write them as a dataset folder.
    Split(DataSplitArgs),
}

#[derive(Args, Debug)]
struct DataInfoArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    #[arg(long)]
    n_train: Option<usize>,
    #[arg(long)]
    n_valid: Option<usize>,
    #[arg(long)]
    n_test: Option<usize>,
    /// File type.
    #[arg(long, value_enum, default_value = "parquet")]
    ext: data::OutputFormat,
    /// `tagging`: the demo token corpus instead (restaurant queries with Cuisine, Location and
    /// Price spans, BIO), as CoNLL files; its LF file is labeling_functions/demo_tags.toml.
    #[arg(long)]
    task: Option<crate::token::Task>,
}

#[derive(Args, Debug)]
struct ConvertArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    /// File type.
    #[arg(long, value_enum, default_value = "parquet")]
    ext: data::OutputFormat,
}

#[derive(Args, Debug)]
struct DataSplitArgs {
    #[command(flatten)]
    source: args::SourceArgs,
    /// Instead of --data: several files to split as one (each a file, a folder or a glob in quotes).
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    from: Vec<PathBuf>,
    /// The split to split, when the data has several (default: its only split).
    #[arg(long)]
    split: Option<String>,
    /// Fraction of rows for the validation split.
    #[arg(long, value_parser = unit_interval, default_value_t = 0.1)]
    valid: f64,
    /// Fraction of rows for the test split.
    #[arg(long, value_parser = unit_interval, default_value_t = 0.0)]
    test: f64,
    /// Keep each gold class's share in every split (needs gold labels).
    #[arg(long)]
    stratify: bool,
    /// Seed of the row shuffle (same seed and data, same splits).
    #[arg(long, default_value_t = DemoParams::default().seed)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// File type.
    #[arg(long, value_enum, default_value = "parquet")]
    ext: data::OutputFormat,
}

/// Parses a count that must be at least 1 (batch sizes, steps, chunk sizes).
pub(crate) fn positive(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a number in [0, 1] (thresholds, fractions).
pub(crate) fn unit_interval(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!("{x} is outside [0, 1]")),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a number that must be positive and finite (learning rates, margins).
pub(crate) fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("{x} must be positive")),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a number that must be non-negative and finite (loss weights).
pub(crate) fn non_negative_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("{x} must be at least 0")),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the `weaksup` CLI with the built-in LF kinds only.
pub fn main() -> ExitCode {
    main_with(Registry::new())
}

/// Runs the `weaksup` CLI with `registry`'s custom LFs usable from LF files (`kind = "custom"`).
pub fn main_with(registry: Registry) -> ExitCode {
    crate::runtime::tune_allocator();
    let cli = parse_cli();
    init_tracing(cli.verbose, cli.quiet);
    let verbose = cli.verbose > 0;
    // Panics are caught where they can be blamed on an input (an LF, a file) and become errors;
    // the default hook would print them first as if they were crashes. Details go to the debug log.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload.downcast_ref::<&str>().copied();
        let what = what.or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("?");
        tracing::debug!(location = ?info.location(), "caught panic: {what}");
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &registry)));
    let result = match outcome {
        Ok(r) => r,
        Err(p) => {
            eprintln!(
                "error: internal error (a bug in weaksup or a dependency, please report it): {}",
                crate::error::panic_message(&p)
            );
            return ExitCode::from(101);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let top = e.to_string();
            eprintln!("error: {top}");
            // Library errors already name their source; print only causes that add something,
            // one line each (libtorch appends a C++ backtrace: shown with -v).
            let mut truncated = false;
            for cause in e.chain().skip(1).map(|c| c.to_string()) {
                let shown = if verbose { cause.as_str() } else { crate::error::first_line(&cause) };
                truncated |= shown.len() < cause.trim().len();
                if !top.contains(shown) {
                    eprintln!("  caused by: {shown}");
                }
            }
            if truncated {
                eprintln!("  (run with -v for the full message)");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,weaksup=info",
        (false, 1) => "info,weaksup=debug",
        _ => "debug,weaksup=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Parses the command line, with each pipeline flag's help showing its config default.
fn parse_cli() -> Cli {
    let mut cmd = Cli::command();
    for sub in ["run", "train", "cosine"] {
        for (id, value) in args::defaults() {
            cmd = cmd.mut_subcommand(sub, |c| {
                if c.get_arguments().any(|a| a.get_id() == id) {
                    c.mut_arg(id, |a| {
                        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                        a.help(format!("{help} [default: {value}]"))
                    })
                } else {
                    c
                }
            });
        }
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn run(cli: Cli, registry: &Registry) -> Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Run(a) => train::cmd_run(a, registry, quiet),
        Command::Lf(LfCommand::Apply(a)) => cmd_lf_apply(a, registry, quiet),
        Command::Lf(LfCommand::Analyze(a)) => cmd_lf_analyze(a, registry, quiet),
        Command::Lf(LfCommand::Bench(a)) => cmd_lf_bench(a, registry),
        Command::LabelModel(c) => label_model::cmd_label_model(c, registry, quiet),
        Command::Train(a) => train::cmd_train(a, registry, quiet),
        Command::Cosine(a) => train::cmd_cosine(a, registry, quiet),
        Command::Bench(a) => bench::cmd_bench(a, registry, quiet),
        Command::Predict(a) => train::cmd_predict(a),
        Command::Data(DataCommand::Info(a)) => cmd_data_info(a),
        Command::Data(DataCommand::Demo(a)) => cmd_data_demo(a),
        Command::Data(DataCommand::Convert(a)) => cmd_data_convert(a),
        Command::Data(DataCommand::Split(a)) => cmd_data_split(a),
        Command::Batch(c) => batch::cmd_batch(c, registry, quiet),
    }
}

/// Whether `data` is token data (sequence labeling).
fn is_tagging(data: &pipeline_run::DataConfig) -> Result<bool> {
    Ok(pipeline_run::token::resolve_task(data)? == crate::token::Task::Tagging)
}

fn cmd_lf_apply(a: LfApplyArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let data_cfg = a.data.config();
    if is_tagging(&data_cfg)? {
        return token::lf_apply(&data_cfg, &a.lfs, &a.apply, &a.out, registry, quiet);
    }
    let (set, _) = LfFile::load_set(&a.lfs, registry)?;
    let splits = pipeline::load_data(&a.data.config(), &Seeds::new(a.seed), Some(set.classes()))?;
    let compiled = set.compile()?;
    let bars = Bars::new(quiet);
    let opts = a.apply.options();
    // Every split's votes first: a failure (other classes, a failing LF) leaves no output behind.
    let mut applied = Vec::with_capacity(splits.splits.len());
    for ds in &splits.splits {
        let t = Instant::now();
        let votes = pipeline::votes(
            &Splits { splits: vec![ds.clone()] },
            pipeline::VoteSource::Lfs(&compiled),
            &opts,
            &bars,
        )?;
        applied.push((votes, t.elapsed().as_secs_f64()));
    }
    let out = data::OutputDir::prepare(&a.out, "lf apply", &[])?;
    for (ds, (votes, secs)) in splits.splits.iter().zip(applied) {
        let v = &votes.splits[0];
        let path = out.path().join(format!("{}.votes.parquet", ds.split));
        v.matrix.write_parquet(&path, &ds.classes)?;
        let cov = analyze(&v.matrix, None, None, None).coverage;
        let faults: u64 = v.faults.as_ref().map_or(0, |f| f.iter().sum());
        if !quiet {
            println!(
                "{}: {} rows × {} LFs in {:.3}s ({:.0} rows/s), coverage {:.3}{} → {}",
                ds.split,
                ds.len(),
                compiled.names().len(),
                secs,
                ds.len() as f64 / secs.max(1e-9),
                cov,
                if faults > 0 { format!(", {faults} LF faults") } else { String::new() },
                path.display()
            );
        }
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_lf_analyze(a: LfAnalyzeArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let data_cfg = a.data.config();
    if is_tagging(&data_cfg)? {
        return token::lf_analyze(&data_cfg, &a.votes.config(), a.out.as_deref(), registry, quiet);
    }
    let (splits, votes) = label_model::load_with_votes(&a.data, a.seed, &a.votes, registry, quiet)?;
    let out = a.out.as_deref().map(|o| data::OutputDir::prepare(o, "lf analyze", &[])).transpose()?;
    for (ds, v) in splits.splits.iter().zip(&votes.splits) {
        let analysis = analyze(&v.matrix, ds.gold().as_deref(), v.kinds.as_deref(), v.faults.as_deref());
        println!("== {} ({} rows) ==\n{}", ds.split, ds.len(), analysis.to_table(&ds.classes));
        if let Some(dir) = &out {
            pipeline_run::write_analysis(&analysis, &ds.classes, &dir.path().join(&ds.split))?;
        }
    }
    if let Some(dir) = out {
        dir.finish()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_lf_bench(a: LfBenchArgs, registry: &Registry) -> Result<ExitCode> {
    let data_cfg = a.data.config();
    if is_tagging(&data_cfg)? {
        return token::lf_bench(&data_cfg, &a.lfs, a.rows, a.repeat, &a.apply.options(), registry);
    }
    let (set, _) = LfFile::load_set(&a.lfs, registry)?;
    let splits = pipeline::load_data(&a.data.config(), &Seeds::new(a.seed), Some(set.classes()))?;
    let compiled = set.compile()?;
    // The columns the LFs read (all columns when custom LFs make that unknowable).
    let cols = compiled
        .input_columns()
        .unwrap_or_else(|| splits.splits[0].frame.get_column_names().iter().map(|c| c.to_string()).collect());
    let frame = data::repeat_rows(&data::concat_columns(&splits, &cols)?, a.rows)?;
    let opts = a.apply.options();
    let threads = a.apply.threads.unwrap_or_else(rayon::current_num_threads);
    compiled.apply(&frame, &opts, &crate::progress::NoProgress)?;
    let mut secs = Vec::with_capacity(a.repeat);
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let out = compiled.apply(&frame, &opts, &crate::progress::NoProgress)?;
        secs.push(t.elapsed().as_secs_f64());
        std::hint::black_box(out);
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    println!(
        "{} rows × {} LFs, {threads} threads, chunk {}: median {:.3}s ({:.0} rows/s), best {:.3}s ({:.0} rows/s) over {} runs",
        a.rows,
        compiled.names().len(),
        opts.chunk_size,
        median,
        a.rows as f64 / median,
        secs[0],
        a.rows as f64 / secs[0],
        secs.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn cmd_data_info(a: DataInfoArgs) -> Result<ExitCode> {
    let splits = pipeline::load_data(&a.data.config(), &Seeds::new(a.seed), None)?;
    for ds in &splits.splits {
        let gold = ds.gold().map(|g| g.iter().filter(|x| x.is_some()).count());
        println!(
            "{} / {}: {} rows, columns [{}], classes [{}], gold {}, stored votes {}",
            ds.name,
            ds.split,
            ds.len(),
            data::column_list(&ds.frame),
            ds.classes.join(", "),
            gold.map_or("none".into(), |g| format!("{g} rows")),
            ds.votes.as_ref().map_or("none".into(), |v| format!("{} LFs", v.n_lfs())),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `splits` as a dataset folder in `out` and prints each split.
fn write_splits(
    splits: &Splits,
    out: &Path,
    ext: data::OutputFormat,
    columns: &data::FolderColumns,
) -> Result<()> {
    data::write_folder(splits, out, ext, columns)?;
    for ds in &splits.splits {
        println!(
            "{}: {} rows → {}",
            ds.split,
            ds.len(),
            out.join(format!("{}.{}", ds.split, ext.ext())).display()
        );
    }
    Ok(())
}

fn cmd_data_demo(a: DemoArgs) -> Result<ExitCode> {
    if a.task == Some(crate::token::Task::Tagging) {
        let corpus = crate::token::demo::demo_token_corpus(
            a.seed,
            a.n_train.unwrap_or(2000),
            a.n_valid.unwrap_or(250),
            a.n_test.unwrap_or(500),
        )?;
        let out = data::OutputDir::prepare(&a.out, "data demo", &[])?;
        for sp in &corpus.splits {
            let path = out.path().join(format!("{}.conll", sp.split));
            crate::token::demo::write_conll(sp, &corpus.tags, &path)?;
            println!(
                "{}: {} sentences, {} tokens → {}",
                sp.split,
                sp.n_sentences(),
                sp.n_tokens(),
                path.display()
            );
        }
        out.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    let d = DemoParams::default();
    let params = DemoParams {
        seed: a.seed,
        n_train: a.n_train.unwrap_or(d.n_train),
        n_valid: a.n_valid.unwrap_or(d.n_valid),
        n_test: a.n_test.unwrap_or(d.n_test),
        ..d
    };
    let splits = data::demo_splits(&params)?;
    let out = data::OutputDir::prepare(&a.out, "data demo", &[])?;
    write_splits(&splits, &a.out, a.ext, &Default::default())?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_data_convert(a: ConvertArgs) -> Result<ExitCode> {
    let splits = pipeline::load_data(&a.data.config(), &Seeds::new(a.seed), None)?;
    let out = data::OutputDir::prepare(&a.out, "data convert", &[])?;
    write_splits(&splits, &a.out, a.ext, &Default::default())?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_data_split(a: DataSplitArgs) -> Result<ExitCode> {
    let mut cfg = pipeline_run::DataConfig::default();
    a.source.apply(&mut cfg);
    cfg.splits.train = a.from.clone();
    if cfg.path.is_none() && a.from.is_empty() {
        anyhow::bail!("data split: pass the file to split with --data (or several with --from)");
    }
    let splits = pipeline::load_data(&cfg, &Seeds::new(a.seed), None)?;
    let ds = match (&a.split, splits.splits.as_slice()) {
        (Some(s), _) => splits.require(s)?,
        (None, [one]) => one,
        (None, many) => anyhow::bail!(
            "data split: the data has several splits ({}); choose one with --split",
            many.iter().map(|d| d.split.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let params = data::SplitParams { valid: a.valid, test: a.test, stratify: a.stratify, seed: a.seed };
    let parts = data::split_dataset(ds, &params)?;
    let out = data::OutputDir::prepare(&a.out, "data split", &[])?;
    // The files keep the source's column names, so they read with the same flags as the source.
    let columns = data::FolderColumns {
        text: cfg.load.text_col.clone(),
        label: cfg.load.label_col.clone().unwrap_or_else(|| data::LABEL.into()),
    };
    write_splits(&parts, &a.out, a.ext, &columns)?;
    out.finish()?;
    if ds.gold().is_some() {
        for p in &parts.splits {
            println!("  {}: {}", p.split, class_counts(p));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `name n (share)` per class of a split's gold labels, and the rows without one.
fn class_counts(ds: &data::Dataset) -> String {
    let gold = ds.gold().unwrap_or_default();
    let mut counts = vec![0usize; ds.classes.len()];
    let mut missing = 0;
    for g in &gold {
        match g {
            Some(c) => counts[*c as usize] += 1,
            None => missing += 1,
        }
    }
    let n = gold.len().max(1) as f64;
    let mut parts: Vec<String> = ds
        .classes
        .iter()
        .zip(&counts)
        .map(|(c, k)| format!("{c} {k} ({:.1}%)", 100.0 * *k as f64 / n))
        .collect();
    if missing > 0 {
        parts.push(format!("no gold {missing}"));
    }
    parts.join(", ")
}
