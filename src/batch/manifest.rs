//! `manifest.json`: what a batch output folder holds, rewritten atomically after every part.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{InputFormat, Shard};
use crate::error::{Error, Result};

/// File name of the manifest in an output folder.
pub const MANIFEST: &str = "manifest.json";
/// Every rejected row of a finished output, one JSON object per line, in (file, row) order.
pub const REJECTED: &str = "rejected.jsonl";
const VERSION: u32 = 2;

/// `part-<file:05>-<chunk:06>.parquet`.
pub fn part_name(file: usize, chunk: u64) -> String {
    format!("part-{file:05}-{chunk:06}.parquet")
}

/// `part-<file:05>-<chunk:06>.rejected.jsonl`.
pub fn rejections_name(file: usize, chunk: u64) -> String {
    format!("part-{file:05}-{chunk:06}.rejected.jsonl")
}

/// One input file, as listed (its index is the output's `file` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub path: String,
    pub format: InputFormat,
    /// Size when listed; a resumed run refuses a file whose size changed.
    pub bytes: u64,
    /// Modification time when listed (nanoseconds since the Unix epoch), and a hash of the
    /// file's first and last 64 KiB: an in-place edit that keeps the size is noticed too.
    pub modified_ns: Option<u128>,
    pub head_tail_fnv1a64: String,
    /// Records in the file (rejected ones included), once a run has read it to the end.
    pub rows: Option<u64>,
}

/// One finished part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRecord {
    pub file: usize,
    pub chunk: u64,
    /// The Parquet file, relative to the output folder.
    pub name: String,
    /// Records read (rejected ones included) and rows written.
    pub rows_in: u64,
    pub rows_out: u64,
    /// Rejected rows by reason.
    pub rejected: BTreeMap<String, u64>,
    /// `part-….rejected.jsonl` with their locations, when there were any.
    pub rejections: Option<String>,
}

/// Totals of an output folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Summary {
    pub parts: usize,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Parts and records processed by the last invocation (less than the totals after a resume).
    pub parts_this_run: usize,
    pub rows_this_run: u64,
    pub seconds: f64,
    /// Peak resident set of the last invocation (Linux VmHWM).
    pub peak_rss_bytes: Option<u64>,
}

impl Summary {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
    /// Records per second of the last invocation.
    pub fn rows_per_second(&self) -> f64 {
        self.rows_this_run as f64 / self.seconds.max(1e-9)
    }
}

/// The manifest of a batch output folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// `label` or `predict`.
    pub kind: String,
    /// The resolved options (`batch`: reading and cutting, `job`: the LFs / model).
    pub settings: serde_json::Value,
    pub shard: Shard,
    pub inputs: Vec<InputFile>,
    /// Finished parts.
    pub parts: Vec<PartRecord>,
    /// Every part of this shard is written.
    pub complete: bool,
    pub summary: Option<Summary>,
}

impl Manifest {
    pub(crate) fn new(kind: &str, settings: serde_json::Value, shard: Shard, inputs: Vec<InputFile>) -> Self {
        Self {
            version: VERSION,
            kind: kind.into(),
            settings,
            shard,
            inputs,
            parts: Vec::new(),
            complete: false,
            summary: None,
        }
    }

    /// Reads `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let m: Manifest = crate::data::read_json(&dir.join(MANIFEST))?;
        if m.version != VERSION {
            return Err(Error::invalid(
                dir.join(MANIFEST).display().to_string(),
                format!("manifest version {} (this weaksup writes {VERSION})", m.version),
            ));
        }
        Ok(m)
    }

    pub(crate) fn load_if_any(dir: &Path) -> Result<Option<Self>> {
        if dir.join(MANIFEST).is_file() { Self::load(dir).map(Some) } else { Ok(None) }
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        crate::data::write_json(&dir.join(MANIFEST), self)
    }

    /// Whether `other` describes the same run: kind, options and inputs (paths, formats, sizes).
    pub(crate) fn same_run(&self, other: &Manifest) -> std::result::Result<(), String> {
        if self.kind != other.kind {
            return Err(format!("`batch {}` vs `batch {}`", self.kind, other.kind));
        }
        if self.settings != other.settings {
            return Err(format!("different options:\n  {}\n  {}", self.settings, other.settings));
        }
        let paths = |m: &Manifest| m.inputs.iter().map(|f| (f.path.clone(), f.format)).collect::<Vec<_>>();
        if paths(self) != paths(other) {
            let show = |m: &Manifest| m.inputs.iter().map(|f| f.path.clone()).collect::<Vec<_>>().join(", ");
            return Err(format!("different inputs: [{}] vs [{}]", show(self), show(other)));
        }
        for (a, b) in self.inputs.iter().zip(&other.inputs) {
            if a.bytes != b.bytes {
                return Err(format!("{} changed size ({} → {} bytes)", a.path, a.bytes, b.bytes));
            }
            if a.head_tail_fnv1a64 != b.head_tail_fnv1a64 {
                return Err(format!("{} changed content (its first or last 64 KiB differ)", a.path));
            }
            if a.modified_ns != b.modified_ns {
                return Err(format!("{} was modified since the run started", a.path));
            }
        }
        Ok(())
    }

    /// Continues this (older) manifest for the run `fresh` describes: same run and shard required.
    /// Parts whose files went missing are dropped (they are redone).
    pub(crate) fn resume_as(mut self, fresh: Manifest, dir: &Path) -> Result<Self> {
        let refuse = |why: String| {
            Error::Config(format!(
                "{} holds another run ({why}); use a new output folder or delete it to start over",
                dir.display()
            ))
        };
        self.same_run(&fresh).map_err(refuse)?;
        if self.shard != fresh.shard {
            return Err(refuse(format!("shard {} vs {}", self.shard, fresh.shard)));
        }
        let before = self.parts.len();
        self.parts.retain(|p| {
            dir.join(&p.name).is_file() && p.rejections.as_ref().is_none_or(|r| dir.join(r).is_file())
        });
        if self.parts.len() < before {
            tracing::warn!(
                missing = before - self.parts.len(),
                "parts listed in the manifest are missing; they will be redone"
            );
        }
        if !self.parts.is_empty() {
            tracing::info!(parts = self.parts.len(), "resuming: finished parts are skipped");
        }
        Ok(self)
    }

    /// Totals over the finished parts.
    pub fn summarize(&self) -> Summary {
        let mut s = Summary { parts: self.parts.len(), ..Summary::default() };
        for p in &self.parts {
            s.rows_in += p.rows_in;
            s.rows_out += p.rows_out;
            for (k, v) in &p.rejected {
                *s.rejected.entry(k.clone()).or_default() += v;
            }
        }
        s
    }

    /// Parts a complete output of all shards has: `ceil(rows / chunk_rows)` per file.
    pub(crate) fn expected_parts(&self) -> Result<Vec<(usize, u64)>> {
        let chunk = self.settings["batch"]["chunk_rows"]
            .as_u64()
            .filter(|&c| c > 0)
            .ok_or_else(|| Error::invalid("manifest", "settings.batch.chunk_rows missing"))?;
        let mut out = Vec::new();
        for (f, input) in self.inputs.iter().enumerate() {
            let rows = input.rows.ok_or_else(|| {
                Error::invalid(
                    "manifest",
                    format!("{}: row count unknown (the shard did not finish)", input.path),
                )
            })?;
            out.extend((0..rows.div_ceil(chunk)).map(|c| (f, c)));
        }
        Ok(out)
    }
}

/// Writes `dir/rejected.jsonl`: the parts' rejection files concatenated in part order.
pub(crate) fn write_rejected(dir: &Path, parts: &[PartRecord]) -> Result<()> {
    let mut all = Vec::new();
    for p in parts {
        if let Some(r) = &p.rejections {
            let path = dir.join(r);
            all.extend(std::fs::read(&path).map_err(|e| Error::io(&path, e))?);
        }
    }
    crate::data::write_atomic(&dir.join(REJECTED), &all)
}
