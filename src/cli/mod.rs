//! The `weaksup` command line. The only module that uses `anyhow`, prints, and draws progress
//! bars. [`main_with`] lets a user's own binary reuse the whole CLI with custom LFs registered.

mod batch;
mod bench;
mod label_model;
mod progress;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::data::{self, Format, LoadOptions, Splits, demo::DemoParams};
use crate::lf::{ApplyOptions, LfFile, Registry, analyze};
use crate::run::{self as pipeline, RunConfig};
use progress::Bars;

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
    /// The main job: corpus → LFs → analysis → label model (built-in demo corpus without a config).
    Run(RunArgs),
    /// Labeling functions: apply, analyze.
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
    Cosine(train::TrainArgs),
    /// Predict with a model written by `weaksup train`.
    Predict(train::PredictArgs),
    /// Label models: fit one and write soft labels, or compare all side by side.
    #[command(subcommand, name = "label-model")]
    LabelModel(LabelModelCommand),
    /// Batch runs over large corpora: label or predict chunk by chunk (resumable, sharded), merge shards.
    #[command(subcommand)]
    Batch(batch::BatchCommand),
}

#[derive(Subcommand, Debug)]
enum LabelModelCommand {
    /// Fit a label model on the train split; write the model, soft labels per split and metrics.
    Fit(LmFitArgs),
    /// Fit every label model (hyper-parameters chosen on valid) and print them side by side.
    Compare(LmCompareArgs),
}

/// Where votes come from: LF files applied on the fly, a folder of saved votes, or the data's own.
#[derive(Args, Debug, Clone)]
struct VotesArgs {
    /// LF files to apply (default: the votes stored with the data, e.g. WRENCH weak_labels).
    #[arg(long, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// A folder written by `weaksup lf apply` (`<split>.votes.parquet`).
    #[arg(long, conflicts_with = "lfs")]
    votes: Option<PathBuf>,
    #[command(flatten)]
    apply: ApplyArgs,
}

#[derive(Args, Debug, Clone)]
struct PolicyArgs {
    /// Ties between classes on covered rows: random, lowest-id, abstain.
    #[arg(long, default_value = "random")]
    tie: String,
    /// Rows where every LF abstains: random (WRENCH's protocol), prior, model, lowest-id, abstain.
    #[arg(long, default_value = "random")]
    uncovered: String,
    /// Metric for model selection on valid and for the report: accuracy, binary_f1, macro_f1.
    #[arg(long, default_value = "accuracy")]
    metric: String,
    /// Known class balance, comma-separated (default: estimated by each model).
    #[arg(long, value_delimiter = ',')]
    class_balance: Option<Vec<f64>>,
    /// Do not use the valid split for hyper-parameter selection (default: use it when it has gold labels).
    #[arg(long)]
    no_select: bool,
    /// Seed for random tie / uncovered-row draws.
    #[arg(long, default_value_t = 0)]
    policy_seed: u64,
}

#[derive(Args, Debug)]
struct LmFitArgs {
    /// mv, wmv, ds, snorkel, or auto (every model's grid, best on valid).
    #[arg(long, default_value = "auto")]
    model: String,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output folder: label_model.json, <split>.soft_labels.parquet, label_model.metrics.json.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct LmCompareArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Models to compare.
    #[arg(long, value_delimiter = ',', default_value = "mv,wmv,ds,snorkel")]
    models: Vec<String>,
    /// Also write compare.md / compare.json here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// TOML config (every section optional).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder (overrides the config's `out`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed (overrides the config's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the resolved config and exit.
    #[arg(long)]
    print_config: bool,
    /// End-model method (overrides the config's `method`): none, weak, cosine.
    #[arg(long)]
    method: Option<String>,
    /// End model (overrides `[end_model] model`): auto, ngram, minilm, tiny-bert or a Hugging Face folder.
    #[arg(long)]
    model: Option<String>,
    /// Continue end-model training from <out>/checkpoint (after a kill).
    #[arg(long)]
    resume: bool,
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
struct LfBenchArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, required = true, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// Rows in the benchmark corpus (texts repeated in order, then cut).
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
    Info(DataArgs),
    /// Write the built-in demo corpus (train/valid/test) as Parquet or CSV.
    Demo(DemoArgs),
    /// Convert a dataset's splits to Parquet or CSV (`<out>/<split>.<ext>`).
    Convert(ConvertArgs),
}

/// Where the data comes from.
#[derive(Args, Debug, Clone)]
struct DataArgs {
    /// Dataset: WRENCH folder or split file, CSV/TSV, Parquet, JSONL, COSINE JSON. Omit for the demo corpus.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Force the format (wrench, csv, parquet, jsonl, cosine).
    #[arg(long)]
    format: Option<Format>,
    /// Column holding the text (tabular formats).
    #[arg(long, default_value = "text")]
    text_col: String,
    /// Column holding gold labels, as names or ids (default: `label` when present).
    #[arg(long)]
    label_col: Option<String>,
    /// Class names, comma-separated (default: from label.json, the LF file, or inferred).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Only this split (default: all splits of the dataset).
    #[arg(long)]
    split: Option<String>,
    /// Seed of the demo corpus when --data is omitted.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Args, Debug)]
struct LfApplyArgs {
    #[command(flatten)]
    data: DataArgs,
    /// LF files (TOML); several files must share their classes.
    #[arg(long, required = true, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// Output folder: `<split>.votes.parquet` (+ `.json` sidecar) per split.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    apply: ApplyArgs,
}

#[derive(Args, Debug, Clone)]
struct ApplyArgs {
    /// Rows per parallel work item.
    #[arg(long, default_value_t = 8192, value_parser = positive)]
    chunk_size: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = positive)]
    threads: Option<usize>,
    /// Count LF failures per LF instead of stopping at the first.
    #[arg(long)]
    fault_tolerant: bool,
}

impl ApplyArgs {
    fn options(&self) -> ApplyOptions {
        ApplyOptions { chunk_size: self.chunk_size, fault_tolerant: self.fault_tolerant, threads: self.threads }
    }
}

#[derive(Args, Debug)]
struct LfAnalyzeArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    /// Also write `<split>.lf_summary.{txt,csv,json,svg}` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long)]
    n_train: Option<usize>,
    #[arg(long)]
    n_valid: Option<usize>,
    #[arg(long)]
    n_test: Option<usize>,
    /// File type: parquet or csv.
    #[arg(long, default_value = "parquet")]
    ext: String,
}

#[derive(Args, Debug)]
struct ConvertArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long)]
    out: PathBuf,
    /// File type: parquet or csv.
    #[arg(long, default_value = "parquet")]
    ext: String,
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
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    let verbose = cli.verbose > 0;
    // Panics are caught where they can be blamed on an input (an LF, a file) and become errors;
    // the default hook would print them first as if they were crashes. Details go to the debug log.
    std::panic::set_hook(Box::new(|info| {
        tracing::debug!(location = ?info.location(), "caught panic: {}", info.payload().downcast_ref::<&str>().copied().or_else(|| info.payload().downcast_ref::<String>().map(String::as_str)).unwrap_or("?"));
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &registry)));
    let result = match outcome {
        Ok(r) => r,
        Err(p) => {
            eprintln!("error: internal error (a bug in weaksup or a dependency, please report it): {}", crate::error::panic_message(&p));
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

fn run(cli: Cli, registry: &Registry) -> Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Run(a) => cmd_run(a, registry, quiet),
        Command::Lf(LfCommand::Apply(a)) => cmd_lf_apply(a, registry, quiet),
        Command::Lf(LfCommand::Analyze(a)) => cmd_lf_analyze(a, registry, quiet),
        Command::Lf(LfCommand::Bench(a)) => cmd_lf_bench(a, registry),
        Command::LabelModel(LabelModelCommand::Fit(a)) => label_model::cmd_lm_fit(a, registry, quiet),
        Command::LabelModel(LabelModelCommand::Compare(a)) => label_model::cmd_lm_compare(a, registry, quiet),
        Command::Train(a) => train::cmd_train(a, registry, quiet),
        Command::Bench(a) => bench::cmd_bench(a, registry, quiet),
        Command::Cosine(mut a) => {
            a.method = "cosine".into();
            train::cmd_train(a, registry, quiet)
        }
        Command::Predict(a) => train::cmd_predict(a),
        Command::Data(DataCommand::Info(a)) => cmd_data_info(a),
        Command::Data(DataCommand::Demo(a)) => cmd_data_demo(a),
        Command::Data(DataCommand::Convert(a)) => cmd_data_convert(a),
        Command::Batch(c) => batch::cmd_batch(c, registry, quiet),
    }
}

fn load_data(a: &DataArgs, lf_classes: Option<&[String]>) -> Result<Splits> {
    let splits = match &a.data {
        None => data::demo_splits(&DemoParams { seed: a.seed, ..DemoParams::default() })?,
        Some(path) => {
            let opts = LoadOptions {
                format: a.format,
                text_col: a.text_col.clone(),
                label_col: a.label_col.clone(),
                // WRENCH folders name their classes in label.json; elsewhere the LF file's classes
                // (or --classes) give label names their ids.
                classes: a.classes.clone().or_else(|| {
                    let wrench = matches!(a.format, Some(Format::Wrench)) || path.is_dir();
                    (!wrench).then(|| lf_classes.map(<[String]>::to_vec)).flatten()
                }),
                split: a.split.clone(),
            };
            data::load(path, &opts)?
        }
    };
    match &a.split {
        Some(s) if splits.splits.len() > 1 => Ok(Splits { splits: vec![splits.require(s)?.clone()] }),
        _ => Ok(splits),
    }
}

fn cmd_run(a: RunArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let mut cfg = match &a.config {
        Some(p) => RunConfig::load(p)?,
        None => RunConfig::default(),
    };
    if let Some(out) = a.out {
        cfg.out = out;
    }
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    if let Some(m) = &a.method {
        cfg.method = m.parse()?;
    }
    if let Some(m) = a.model {
        cfg.end_model.model = m;
    }
    cfg.resolve()?;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let bars = Bars::new(quiet);
    let t = Instant::now();
    let outputs = pipeline::run(&cfg, registry, a.resume, &bars)?;
    if !quiet {
        for r in &outputs.splits {
            println!("== LFs on {} ==\n{}", r.split, r.analysis.to_table(&outputs.classes));
        }
        print!("{}", outputs.label_model.summary("train"));
        if let Some(r) = &outputs.end_model {
            println!("== end model `{}` ({}, {}) ==", cfg.end_model.model, cfg.end_model.precision, cfg.end_model.device);
            train::print_summary(r, cfg.train.metric);
        }
        println!("wrote {} in {:.1}s (report: {})", outputs.out.display(), t.elapsed().as_secs_f64(), outputs.out.join("report.md").display());
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_lf_apply(a: LfApplyArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (set, _) = LfFile::load_set(&a.lfs, registry)?;
    let splits = load_data(&a.data, Some(set.classes()))?;
    check_classes(set.classes(), &splits)?;
    let compiled = set.compile()?;
    let out = data::OutputDir::prepare(&a.out, "lf apply", &[])?;
    let bars = Bars::new(quiet);
    for ds in &splits.splits {
        ds.require_non_empty()?;
        let t = Instant::now();
        let applied = compiled.apply(&ds.frame, &a.apply.options(), &bars)?;
        let secs = t.elapsed().as_secs_f64();
        let path = out.path().join(format!("{}.votes.parquet", ds.split));
        applied.matrix.write_parquet(&path, &ds.classes)?;
        let cov = analyze(&applied.matrix, None, None, None).coverage;
        let faults: u64 = applied.faults.iter().sum();
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

fn check_classes(lf_classes: &[String], splits: &Splits) -> Result<()> {
    for ds in &splits.splits {
        if ds.classes != lf_classes {
            bail!(
                "the LF files' classes [{}] differ from the data's [{}] ({}); pass --classes or fix label.json / the LF file",
                lf_classes.join(", "),
                ds.classes.join(", "),
                ds.split
            );
        }
    }
    Ok(())
}

fn cmd_lf_analyze(a: LfAnalyzeArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (splits, votes) = label_model::load_with_votes(&a.data, &a.votes, registry, quiet)?;
    let out = a.out.as_deref().map(|o| data::OutputDir::prepare(o, "lf analyze", &[])).transpose()?;
    for (ds, v) in splits.splits.iter().zip(&votes) {
        let gold = ds.gold();
        let analysis = analyze(&v.matrix, gold.as_deref(), v.kinds.as_deref(), v.faults.as_deref());
        println!("== {} ({} rows) ==\n{}", ds.split, ds.len(), analysis.to_table(&ds.classes));
        if let Some(dir) = &out {
            pipeline::write_analysis(&analysis, &ds.classes, &dir.path().join(&ds.split))?;
        }
    }
    if let Some(dir) = out {
        dir.finish()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_lf_bench(a: LfBenchArgs, registry: &Registry) -> Result<ExitCode> {
    let (set, _) = LfFile::load_set(&a.lfs, registry)?;
    let splits = load_data(&a.data, Some(set.classes()))?;
    let compiled = set.compile()?;
    // The columns the LFs read (all columns when custom LFs make that unknowable).
    let cols = compiled.input_columns().unwrap_or_else(|| splits.splits[0].frame.get_column_names().iter().map(|c| c.to_string()).collect());
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

fn cmd_data_info(a: DataArgs) -> Result<ExitCode> {
    let splits = load_data(&a, None)?;
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

fn write_splits(splits: &Splits, out: &Path, ext: &str) -> Result<()> {
    if !["parquet", "csv"].contains(&ext) {
        bail!("--ext must be parquet or csv, got `{ext}`");
    }
    for ds in &splits.splits {
        let mut frame = ds.frame.clone();
        let path = out.join(format!("{}.{ext}", ds.split));
        data::write_frame(&mut frame, &path)?;
        println!("{}: {} rows → {}", ds.split, ds.len(), path.display());
    }
    Ok(())
}

fn cmd_data_demo(a: DemoArgs) -> Result<ExitCode> {
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
    write_splits(&splits, &a.out, &a.ext)?;
    data::write_json(&a.out.join("classes.json"), &splits.splits[0].classes)?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_data_convert(a: ConvertArgs) -> Result<ExitCode> {
    let splits = load_data(&a.data, None)?;
    let out = data::OutputDir::prepare(&a.out, "data convert", &[])?;
    write_splits(&splits, &a.out, &a.ext)?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
