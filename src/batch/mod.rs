//! Batch runs over large unlabeled corpora: LFs + a fitted label model ([`label`]) or a fine-tuned
//! end model ([`predict`]) over one or many CSV / JSONL / Parquet files, streamed in chunks of
//! `chunk_rows` records, with memory bounded by the chunk size, not the corpus.
//!
//! The unit of work is a *part*: records `[c·chunk_rows, (c+1)·chunk_rows)` of input file `f`,
//! written atomically as `part-<f:05>-<c:06>.parquet` (plus `part-….rejected.jsonl` when rows were
//! rejected). The output folder's `manifest.json` (rewritten atomically after every part) records
//! the resolved options, the inputs and every finished part, so that
//! - a rerun after a kill skips finished parts and the final output equals an uninterrupted run;
//! - `--shard K/N` takes the parts with `(f + c) mod N == K`, a deterministic partition by file and
//!   row range, so N machines (Slurm job arrays, Kubernetes Indexed Jobs) can share a corpus and
//!   [`merge`] can check and combine their outputs.
//!
//! Malformed rows (invalid UTF-8, missing text, unparsable CSV record / JSON line) are skipped and
//! recorded with file, line, row and reason, or stop the run (`OnBadRow::Fail`).

pub mod label;
pub mod manifest;
pub mod merge;
pub mod predict;
mod source;
pub mod token;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::records::{Columns, ReadSpec, TextKind};
pub use crate::data::records::{InputFormat, OnBadRow, Rejection};
use crate::error::{Context, Error, Result};
use crate::progress::Progress;
pub use manifest::{InputFile, Manifest, PartRecord, Summary};
pub use merge::merge;

/// Rows per part when not given.
pub const DEFAULT_CHUNK_ROWS: usize = 100_000;

/// This machine's share of the corpus: the parts `(file, chunk)` with `(file + chunk) mod n == k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self { k: 0, n: 1 }
    }
}

impl Shard {
    /// Whether part `(file, chunk)` belongs to this shard.
    pub fn owns(&self, file: usize, chunk: u64) -> bool {
        (file as u64 + chunk) % self.n as u64 == self.k as u64
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;
    /// `K/N` with `0 <= K < N` (`$SLURM_ARRAY_TASK_ID/N`, `$JOB_COMPLETION_INDEX/N`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Config(format!("--shard {s}: expected K/N with 0 <= K < N, e.g. 3/8"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if n == 0 || k >= n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

/// How to read and cut the input; saved in the manifest (a resumed run must use the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchOptions {
    /// Source column holding the text. Default `text`.
    pub text_col: String,
    /// A source column copied to the output unchanged (a document id). Default: none (the
    /// output's `file` + `row` columns identify every row).
    pub id_col: Option<String>,
    /// Forced input format; `None` (default) detects it per file from the extension.
    pub format: Option<InputFormat>,
    /// Records per part. Default 100,000: ~20 MB of YouTube-comment text per chunk.
    pub chunk_rows: usize,
    /// Malformed rows: skip (default) or fail.
    pub on_bad_row: OnBadRow,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            text_col: crate::data::TEXT.into(),
            id_col: None,
            format: None,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            on_bad_row: OnBadRow::Skip,
        }
    }
}

/// Options of one invocation that do not change the output (not compared on resume).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    pub shard: Shard,
    /// Worker threads: the LF applier's (`label`, default all cores) or libtorch's intra-op
    /// threads (`predict`, default libtorch's choice; on cores shared with other work, libgomp's
    /// spin-waiting threads can cost 10×, docs/batch.md: pass 1 or run with
    /// `OMP_WAIT_POLICY=PASSIVE`).
    pub threads: Option<usize>,
    /// Stop (with an error) after writing this many parts: simulates a killed run in tests.
    pub stop_after_parts: Option<usize>,
}

/// Where a batch run reads and writes, and how.
#[derive(Debug, Clone, Copy)]
pub struct BatchRun<'a> {
    /// Files, folders or glob patterns ([`list_inputs`]).
    pub inputs: &'a [PathBuf],
    pub options: &'a BatchOptions,
    pub control: &'a RunControl,
    /// The output folder (resumed when it records the same run).
    pub out: &'a Path,
}

/// Lists the input files: each argument is a file, a folder (its CSV / JSONL / Parquet files, not
/// recursive) or a glob pattern (`corpus/*.jsonl`). Files of a folder or pattern are sorted by
/// path; arguments keep their order; repeats are dropped; anything under `exclude` (the output
/// folder) is skipped.
pub fn list_inputs(args: &[PathBuf], format: Option<InputFormat>, exclude: &Path) -> Result<Vec<InputFile>> {
    let exclude = std::fs::canonicalize(exclude).ok();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for arg in args {
        let s = arg.to_string_lossy();
        let is_pattern = s.contains(['*', '?', '[']);
        if !is_pattern {
            // The real error (a symlink loop, no permission), not just "not found".
            std::fs::metadata(arg).map_err(|e| Error::io(arg, e))?;
        }
        let mut found: Vec<PathBuf> = if arg.is_dir() {
            let rd = std::fs::read_dir(arg).map_err(|e| Error::io(arg, e))?;
            let mut v = Vec::new();
            for entry in rd {
                let p = entry.map_err(|e| Error::io(arg, e))?.path();
                if p.is_file() && InputFormat::detect(&p).is_some() {
                    v.push(p);
                }
            }
            v
        } else if is_pattern {
            let paths =
                glob::glob(&s).map_err(|e| Error::Config(format!("--input {s}: bad pattern: {e}")))?;
            paths.filter_map(|p| p.ok()).filter(|p| p.is_file()).collect()
        } else if arg.is_file() {
            vec![arg.clone()]
        } else {
            return Err(Error::io(arg, std::io::Error::from(std::io::ErrorKind::NotFound)));
        };
        found.sort();
        if found.is_empty() {
            return Err(Error::invalid(s.to_string(), "no CSV / JSONL / Parquet files here"));
        }
        for p in found {
            let canon = std::fs::canonicalize(&p).map_err(|e| Error::io(&p, e))?;
            if exclude.as_ref().is_some_and(|x| canon.starts_with(x)) || !seen.insert(canon) {
                continue;
            }
            let fmt = format.or_else(|| InputFormat::detect(&p)).ok_or_else(|| {
                Error::invalid(
                    p.display().to_string(),
                    "cannot tell the format from the extension; pass --format csv|jsonl|parquet",
                )
            })?;
            let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
            let modified_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos());
            let head_tail_fnv1a64 = format!("{:016x}", head_tail_hash(&p, meta.len())?);
            out.push(InputFile {
                path: p.to_string_lossy().into_owned(),
                format: fmt,
                bytes: meta.len(),
                modified_ns,
                head_tail_fnv1a64,
                rows: None,
            });
        }
    }
    if out.is_empty() {
        return Err(Error::Config("no input files".into()));
    }
    Ok(out)
}

/// Removes temporary files a killed or failed write left in `dir` (parts are rewritten whole).
fn remove_stray_tmp_files(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(crate::data::TMP_SUFFIX)) {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// FNV-1a of a file's first and last 64 KiB (the whole file when smaller): cheap on any size.
fn head_tail_hash(path: &Path, len: u64) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: u64 = 64 << 10;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; BLOCK.min(len) as usize];
    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
    let mut h = crate::data::fnv1a64(&buf, crate::data::FNV_OFFSET);
    if len > BLOCK {
        let start = len.saturating_sub(BLOCK).max(BLOCK);
        buf.resize((len - start) as usize, 0);
        f.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, e))?;
        f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
        h = crate::data::fnv1a64(&buf, h);
    }
    Ok(h)
}

/// One job over chunks: labels or predictions. Runs on the calling thread (tch models are not `Send`).
pub(crate) trait Job {
    /// Source columns to read besides the text.
    fn columns(&self) -> Columns;
    /// What the text column holds: a text (default) or a sentence's tokens.
    fn text_kind(&self) -> TextKind {
        TextKind::Text
    }
    /// Output columns for the rows of `frame` (columns `text` and the extra ones, in row order).
    fn process(&mut self, frame: &DataFrame, part: (usize, u64)) -> Result<Vec<Column>>;
}

/// Runs `job` (`kind`: `label` or `predict`; `settings`: its options for the manifest, compared on
/// resume and merge) over the files `inputs` lists into `out`, resuming from `out/manifest.json`
/// when it records the same run. Returns the summary of the whole output folder (resumed parts
/// included).
pub(crate) fn run(
    job: &mut dyn Job,
    (kind, settings): (&str, serde_json::Value),
    target: &BatchRun,
    progress: &dyn Progress,
) -> Result<Summary> {
    let BatchRun { inputs, options: opts, control, out } = *target;
    if opts.chunk_rows == 0 {
        return Err(Error::Config("chunk_rows must be at least 1".into()));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    remove_stray_tmp_files(out)?;
    let t0 = Instant::now();
    let inputs = list_inputs(inputs, opts.format, out)?;
    let settings = serde_json::json!({ "batch": opts, "job": settings });
    let fresh = Manifest::new(kind, settings, control.shard, inputs);
    let mut manifest = match Manifest::load_if_any(out)? {
        Some(old) => old.resume_as(fresh, out)?,
        None => fresh,
    };
    manifest.complete = false;
    manifest.save(out)?;
    let done: HashSet<(usize, u64)> = manifest.parts.iter().map(|p| (p.file, p.chunk)).collect();

    let columns = job.columns();
    let reader_opts = source::ReadPlan {
        spec: ReadSpec {
            text_col: opts.text_col.clone(),
            text_kind: job.text_kind(),
            id_col: opts.id_col.clone(),
            columns,
            on_bad_row: opts.on_bad_row,
        },
        chunk_rows: opts.chunk_rows,
        shard: control.shard,
        done,
    };
    let total_bytes: u64 = manifest.inputs.iter().map(|f| f.bytes).sum();
    let done_rows: u64 = manifest.parts.iter().map(|p| p.rows_in).sum();
    let files: Vec<InputFile> = manifest.inputs.clone();
    let mut written = 0usize;
    let mut rows_this_run = 0u64;
    let mut started = false;
    // Three stages overlap: the reader thread parses chunk k+1 while this thread applies the job
    // to chunk k and the writer thread encodes and stores chunk k-1 and updates the manifest.
    let result = std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<source::Msg>(1);
        let (wtx, wrx) = sync_channel::<source::Msg>(1);
        let (plan, files) = (&reader_opts, &files);
        let reader = scope.spawn(move || source::read_all(files, plan, &tx));
        let (manifest, written, rows_this_run) = (&mut manifest, &mut written, &mut rows_this_run);
        let writer = scope.spawn(move || -> Result<()> {
            for msg in wrx {
                match msg {
                    source::Msg::FileDone { file, rows } => manifest.inputs[file].rows = Some(rows),
                    source::Msg::Chunk(chunk) => {
                        let part = store_part(chunk, out)?;
                        *rows_this_run += part.rows_in;
                        progress.advance(part.rows_in);
                        manifest.parts.push(part);
                        *written += 1;
                    }
                }
                manifest.save(out)?;
                if control.stop_after_parts.is_some_and(|k| *written >= k) {
                    return Err(Error::invalid(
                        "batch",
                        format!("stopped after {written} parts as asked (stop_after_parts)"),
                    ));
                }
            }
            Ok(())
        });
        let res = consume(&rx, |msg| {
            let msg = match msg {
                source::Msg::Chunk(chunk) => {
                    if !started {
                        started = true;
                        // Rows of this shard still to do, estimated from the first chunk's density.
                        let per_byte = chunk.rows_in as f64 / chunk.bytes.max(1) as f64;
                        let est = (total_bytes as f64 * per_byte / control.shard.n as f64) as u64;
                        progress.start(
                            &format!("batch {kind}"),
                            est.saturating_sub(done_rows).max(chunk.rows_in),
                        );
                    }
                    source::Msg::Chunk(apply_job(job, chunk, opts)?)
                }
                other => other,
            };
            wtx.send(msg).map_err(|_| Error::invalid("batch", "the writer stopped"))
        });
        drop(rx);
        drop(wtx);
        let read = reader.join().map_err(|_| Error::invalid("batch", "the reader thread panicked"))?;
        let wrote = writer.join().map_err(|_| Error::invalid("batch", "the writer thread panicked"))?;
        // A reader or writer error explains the error of the stage it stopped, so it comes first.
        read.and(wrote).and(res)
    });
    progress.finish();
    result?;
    manifest.parts.sort_by_key(|p| (p.file, p.chunk));
    manifest.complete = true;
    let mut summary = manifest.summarize();
    summary.rows_this_run = rows_this_run;
    summary.parts_this_run = written;
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.peak_rss_bytes = peak_rss_bytes();
    manifest.summary = Some(summary.clone());
    manifest::write_rejected(out, &manifest.parts)?;
    manifest.save(out)?;
    Ok(summary)
}

fn consume<T>(rx: &Receiver<T>, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
    for msg in rx.iter() {
        f(msg)?;
    }
    Ok(())
}

/// Runs the job on a chunk: its frame becomes the part's (`file`, `row`, id, the job's columns).
fn apply_job(job: &mut dyn Job, mut chunk: source::Chunk, opts: &BatchOptions) -> Result<source::Chunk> {
    let n = chunk.frame.height();
    let mut cols = vec![
        Column::new("file".into(), vec![chunk.file as u32; n]),
        chunk
            .frame
            .column(crate::data::records::ROW)
            .ctx(|| "row ids".into())?
            .clone()
            .with_name("row".into()),
    ];
    if let Some(id) = &opts.id_col {
        cols.push(chunk.frame.column(id).ctx(|| format!("id column `{id}`"))?.clone());
    }
    let t = Instant::now();
    let produced = job.process(&chunk.frame, (chunk.file, chunk.index))?;
    tracing::debug!(
        file = chunk.file,
        chunk = chunk.index,
        rows = n,
        seconds = t.elapsed().as_secs_f64(),
        "chunk processed"
    );
    if let Some(c) = produced.iter().find(|c| c.len() != n) {
        return Err(Error::invalid("batch", format!("{} gave {} values for {n} rows", c.name(), c.len())));
    }
    cols.extend(produced);
    chunk.frame = DataFrame::new(n, cols).ctx(|| "part frame".into())?;
    Ok(chunk)
}

/// Writes a processed chunk's part (and rejections) atomically.
fn store_part(mut chunk: source::Chunk, out: &Path) -> Result<PartRecord> {
    let t = Instant::now();
    let name = manifest::part_name(chunk.file, chunk.index);
    crate::data::write_parquet(&mut chunk.frame, &out.join(&name))?;
    tracing::debug!(part = %name, seconds = t.elapsed().as_secs_f64(), "part written");
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    for r in &chunk.rejected {
        *rejected.entry(r.reason.to_string()).or_default() += 1;
    }
    let rejections = if chunk.rejected.is_empty() {
        None
    } else {
        let rname = manifest::rejections_name(chunk.file, chunk.index);
        let mut text = String::new();
        for r in &chunk.rejected {
            let line = serde_json::to_string(r).map_err(|e| Error::invalid("rejections", e.to_string()))?;
            text.push_str(&line);
            text.push('\n');
        }
        crate::data::write_atomic(&out.join(&rname), text.as_bytes())?;
        Some(rname)
    };
    let rows_out = chunk.frame.height() as u64;
    Ok(PartRecord {
        file: chunk.file,
        chunk: chunk.index,
        name,
        rows_in: chunk.rows_in,
        rows_out,
        rejected,
        rejections,
    })
}

/// The process's peak resident set (VmHWM), where the OS reports it (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `{path, bytes, fnv1a64}` of a file the output depends on (LF file, model), so that a resumed
/// run or a merge refuses outputs made from a different version of it.
pub(crate) fn fingerprint(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let h = crate::data::fnv1a64(&bytes, crate::data::FNV_OFFSET);
    let (path, fnv) = (path.display().to_string(), format!("{h:016x}"));
    Ok(serde_json::json!({ "path": path, "bytes": bytes.len(), "fnv1a64": fnv }))
}
