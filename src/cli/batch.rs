//! `weaksup batch label|predict|merge`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::progress::Bars;
use crate::batch::{self, BatchOptions, BatchRun, InputFormat, OnBadRow, RunControl, Shard, Summary};
use crate::label_model::{PredictOptions as Policies, TiePolicy, UncoveredPolicy};
use crate::lf::Registry;
use crate::model::DeviceChoice;

#[derive(Subcommand, Debug)]
pub(super) enum BatchCommand {
    /// Apply LF files and a fitted label model: votes, soft labels and the hard label per row.
    Label(LabelArgs),
    /// Predict with a model written by `weaksup train` (n-gram or transformer).
    Predict(PredictArgs),
    /// Check and combine the output folders of the N shards of one run.
    Merge(MergeArgs),
}

/// The corpus, how to cut it, and where the parts go.
#[derive(Args, Debug)]
struct CorpusArgs {
    /// Input files, folders (their .csv/.tsv/.jsonl/.ndjson/.parquet files) or glob patterns.
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Output folder: part-<file>-<chunk>.parquet, manifest.json, rejected.jsonl. Rerun to resume.
    #[arg(long)]
    out: PathBuf,
    /// Column (CSV header / JSON key / Parquet column) holding the text.
    #[arg(long, default_value = "text")]
    text_col: String,
    /// A column copied to the output unchanged (a document id).
    #[arg(long)]
    id_col: Option<String>,
    /// Force the input format (csv, jsonl, parquet); default: from each file's extension.
    #[arg(long)]
    format: Option<InputFormat>,
    /// Records per part (memory is bounded by this, not by the corpus).
    #[arg(long, default_value_t = batch::DEFAULT_CHUNK_ROWS, value_parser = super::positive)]
    chunk_rows: usize,
    /// This machine's share K/N: parts with (file + chunk) mod N == K (e.g. $SLURM_ARRAY_TASK_ID/8).
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Malformed rows (bad UTF-8, missing text, broken record): skip and record them, or fail.
    #[arg(long, default_value = "skip")]
    on_bad_row: OnBadRow,
    /// Stop with an error after writing this many parts (simulates a killed run).
    #[arg(long, hide = true)]
    stop_after_parts: Option<usize>,
}

impl CorpusArgs {
    fn options(&self, threads: Option<usize>) -> (BatchOptions, RunControl) {
        let opts = BatchOptions {
            text_col: self.text_col.clone(),
            id_col: self.id_col.clone(),
            format: self.format,
            chunk_rows: self.chunk_rows,
            on_bad_row: self.on_bad_row,
        };
        (opts, RunControl { shard: self.shard, threads, stop_after_parts: self.stop_after_parts })
    }
}

#[derive(Args, Debug)]
pub(super) struct LabelArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// LF files (TOML); several files must share their classes.
    #[arg(long, required = true, num_args = 1..)]
    lfs: Vec<PathBuf>,
    /// label_model.json written by `weaksup label-model fit`, or its folder.
    #[arg(long)]
    label_model: PathBuf,
    /// Ties between classes on covered rows (random draws are seeded per part).
    #[arg(long, default_value_t = TiePolicy::Random)]
    tie: TiePolicy,
    /// Rows where every LF abstains (`abstain`: label -1).
    #[arg(long, default_value_t = UncoveredPolicy::Abstain)]
    uncovered: UncoveredPolicy,
    /// Seed of random tie / uncovered draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// LF worker threads (default: all cores).
    #[arg(long, value_parser = super::positive)]
    threads: Option<usize>,
    /// Count LF failures per LF instead of stopping at the first.
    #[arg(long)]
    fault_tolerant: bool,
}

#[derive(Args, Debug)]
pub(super) struct PredictArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Folder written by `weaksup train` (or its model/ subfolder).
    #[arg(long)]
    model: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Examples per forward pass (length-bucketed).
    #[arg(long, default_value_t = 256, value_parser = super::positive)]
    batch_size: usize,
    /// libtorch intra-op threads (default: libtorch's). On shared cores pass 1 or set OMP_WAIT_POLICY=PASSIVE.
    #[arg(long, value_parser = super::positive)]
    threads: Option<usize>,
    /// The class names this corpus uses, comma-separated: checked against the model's classes
    /// before any work (a mismatch is an error unless --class-map maps them).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// MODEL_CLASS=DATA_CLASS pairs when --classes differ from the model's; outputs then use the
    /// corpus's names.
    #[arg(long, value_delimiter = ',', requires = "classes")]
    class_map: Vec<String>,
}

#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// Output folder for the combined parts (new or empty).
    #[arg(long)]
    out: PathBuf,
    /// The shards' output folders.
    #[arg(required = true, num_args = 1..)]
    shards: Vec<PathBuf>,
}

pub(super) fn cmd_batch(c: BatchCommand, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let bars = Bars::new(quiet);
    let (what, out, summary) = match c {
        BatchCommand::Label(a) => {
            let (opts, control) = a.corpus.options(a.threads);
            let target =
                BatchRun { inputs: &a.corpus.input, options: &opts, control: &control, out: &a.corpus.out };
            let lopts = batch::label::LabelOptions {
                lfs: a.lfs,
                label_model: a.label_model,
                predict: Policies { tie: a.tie, uncovered: a.uncovered, seed: a.seed },
                seed: a.seed,
                fault_tolerant: a.fault_tolerant,
            };
            let s = batch::label::label(&lopts, registry, &target, &bars)?;
            ("label", a.corpus.out, s)
        }
        BatchCommand::Predict(a) => {
            let (opts, control) = a.corpus.options(a.threads);
            let target =
                BatchRun { inputs: &a.corpus.input, options: &opts, control: &control, out: &a.corpus.out };
            let class_map = crate::data::parse_class_map(&a.class_map)?;
            let popts = batch::predict::PredictOptions {
                model: a.model,
                device: a.device,
                batch_size: a.batch_size,
                classes: a.classes,
                class_map,
            };
            let s = batch::predict::predict(&popts, &target, &bars)?;
            ("predict", a.corpus.out, s)
        }
        BatchCommand::Merge(a) => {
            let s = batch::merge(&a.shards, &a.out)?;
            ("merge", a.out, s)
        }
    };
    if !quiet {
        print!("{}", report(what, &out, &summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// The end-of-run summary: rows in / out, rejections by reason, speed, peak memory.
fn report(what: &str, out: &Path, s: &Summary) -> String {
    let mut r = format!(
        "batch {what}: {} parts, {} rows in, {} rows out, {} rejected",
        s.parts,
        s.rows_in,
        s.rows_out,
        s.rejected_total()
    );
    if !s.rejected.is_empty() {
        let by: Vec<String> = s.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
        r.push_str(&format!(
            " ({}; locations in {})",
            by.join(", "),
            out.join(batch::manifest::REJECTED).display()
        ));
    }
    r.push('\n');
    if what != "merge" {
        r.push_str(&format!(
            "this run: {} parts, {} rows in {:.2}s ({:.0} rows/s)",
            s.parts_this_run,
            s.rows_this_run,
            s.seconds,
            s.rows_per_second()
        ));
        if let Some(b) = s.peak_rss_bytes {
            r.push_str(&format!(", peak RSS {:.0} MiB", b as f64 / (1 << 20) as f64));
        }
        r.push('\n');
    }
    r.push_str(&format!("wrote {}\n", out.display()));
    r
}
