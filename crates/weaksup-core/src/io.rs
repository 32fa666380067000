//! File helpers shared by every loader and writer: UTF-8 checked reads that name the failing
//! line, atomic writes, Parquet / CSV / JSON frames.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Context, Error, Result};

/// Reads a whole file and checks it is UTF-8; a bad byte is reported with its 1-based line.
pub fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + memchr::memchr_iter(b'\n', &bytes[..upto]).count();
        Error::parse(
            path,
            Some(line),
            None,
            format!("invalid UTF-8 (byte offset {upto}); re-encode the file as UTF-8"),
        )
    })
}

/// Strips a leading UTF-8 byte-order mark.
pub fn strip_bom(s: &str) -> &str {
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// killed run never leaves a half-written file under the final name. A failed write (a full
/// disk) removes its temporary file; one left by a killed process has a fixed name
/// ([`tmp_path`]), so the next write of the same file replaces it and [`OutputDir::prepare`]
/// removes the others.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Suffix of every temporary file weaksup writes.
pub const TMP_SUFFIX: &str = ".weaksup-tmp";

/// The temporary name of `path` while it is written: `.<name>.weaksup-tmp` beside it.
pub fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

/// The record of what each command wrote into an output folder.
pub const OUTPUTS_RECORD: &str = ".weaksup-outputs.json";

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputsRecord {
    /// Per command (`run`, `train`, `lf apply`, …): the files it wrote, relative to the folder.
    commands: std::collections::BTreeMap<String, CommandOutputs>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandOutputs {
    /// False while the command runs: every file no other command claims is then its own.
    complete: bool,
    files: Vec<String>,
}

/// An output folder reused safely: a command's earlier outputs never sit beside its new ones
/// looking current.
///
/// [`OutputDir::prepare`] removes what the same command wrote there before (as recorded in
/// [`OUTPUTS_RECORD`]) and any stray temporary files, and refuses a folder holding files that no
/// weaksup command wrote; [`OutputDir::finish`] records the files this command wrote. Outputs of
/// other commands sharing the folder (`lf apply` votes read by a later `label-model fit`) are kept.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    command: String,
}

/// Every file under `dir`, relative to it, `/`-separated, sorted; symlinks are not followed.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let p = entry.path();
            let ty = entry.file_type().map_err(|e| Error::io(&p, e))?;
            if ty.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl OutputDir {
    /// Creates or reuses `path` for `command`. `keep`: relative paths (files, folder prefixes
    /// such as `checkpoint/`, or `*` for all) of this command's earlier outputs to leave in place:
    /// a resumed run keeps everything until it has checked that the checkpoint is its own.
    pub fn prepare(path: &Path, command: &str, keep: &[&str]) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        let record_path = path.join(OUTPUTS_RECORD);
        let mut record: OutputsRecord =
            if record_path.is_file() { read_json(&record_path)? } else { OutputsRecord::default() };
        let mut present = files_under(path)?;
        // Temporary files of a killed or failed write are never outputs.
        for f in present.iter().filter(|f| f.ends_with(TMP_SUFFIX)) {
            let p = path.join(f);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        present.retain(|f| !f.ends_with(TMP_SUFFIX) && f != OUTPUTS_RECORD);
        let claimed_by_others: std::collections::HashSet<&str> = record
            .commands
            .iter()
            .filter(|(c, _)| *c != command)
            .flat_map(|(_, o)| o.files.iter().map(String::as_str))
            .collect();
        let mine = record.commands.get(command);
        let other_incomplete = record.commands.iter().any(|(c, o)| c != command && !o.complete);
        let kept =
            |f: &str| keep.iter().any(|k| *k == "*" || f == *k || (k.ends_with('/') && f.starts_with(k)));
        let mut remove = Vec::new();
        let mut unknown = Vec::new();
        for f in &present {
            if claimed_by_others.contains(f.as_str()) {
                continue;
            }
            let ours = mine.is_some_and(|m| !m.complete || m.files.contains(f));
            if ours {
                if !kept(f) {
                    remove.push(f.clone());
                }
            } else if !kept(f) && !other_incomplete {
                unknown.push(f.clone());
            }
        }
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
            return Err(Error::invalid(
                path.display().to_string(),
                format!(
                    "holds {} file(s) that `weaksup {command}` did not write here ({}{}); use an empty or new output folder, or delete them",
                    unknown.len(),
                    shown.join(", "),
                    if unknown.len() > 5 { ", …" } else { "" }
                ),
            ));
        }
        for f in &remove {
            let p = path.join(f);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        remove_empty_dirs(path)?;
        if !remove.is_empty() {
            let removed = remove.len();
            tracing::info!(dir = %path.display(), removed, "removed the outputs of the previous `{command}` run here");
        }
        record.commands.insert(command.to_string(), CommandOutputs { complete: false, files: Vec::new() });
        write_json(&record_path, &record)?;
        Ok(Self { path: path.to_path_buf(), command: command.to_string() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records every file in the folder that no other command claims as this command's output.
    pub fn finish(self) -> Result<()> {
        let record_path = self.path.join(OUTPUTS_RECORD);
        let mut record: OutputsRecord =
            if record_path.is_file() { read_json(&record_path)? } else { OutputsRecord::default() };
        let others: std::collections::HashSet<String> = record
            .commands
            .iter()
            .filter(|(c, _)| **c != self.command)
            .flat_map(|(_, o)| o.files.iter().cloned())
            .collect();
        let files = files_under(&self.path)?
            .into_iter()
            .filter(|f| f != OUTPUTS_RECORD && !f.ends_with(TMP_SUFFIX) && !others.contains(f))
            .collect();
        record.commands.insert(self.command.clone(), CommandOutputs { complete: true, files });
        write_json(&record_path, &record)
    }
}

/// Removes the empty folders under `dir` (left by removed outputs), not `dir` itself.
fn remove_empty_dirs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_type().map_err(|e| Error::io(entry.path(), e))?.is_dir() {
            let p = entry.path();
            remove_empty_dirs(&p)?;
            if std::fs::read_dir(&p).map_err(|e| Error::io(&p, e))?.next().is_none() {
                std::fs::remove_dir(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`votes.parquet` → `votes.parquet.json`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

/// Writes a frame as Parquet (zstd), atomically.
pub fn write_parquet(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(frame)
        .ctx(|| format!("writing {}", path.display()))?;
    write_atomic(path, &buf)
}

/// Writes a frame as CSV with a header, atomically. List columns are not representable in CSV
/// and are rejected by polars with a message naming the column.
pub fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(frame)
        .ctx(|| format!("writing {}", path.display()))?;
    write_atomic(path, &buf)
}

/// Writes a frame as JSON Lines (one object per row), atomically.
pub fn write_jsonl(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    JsonWriter::new(&mut buf)
        .with_json_format(JsonFormat::JsonLines)
        .finish(frame)
        .ctx(|| format!("writing {}", path.display()))?;
    write_atomic(path, &buf)
}

/// Writes a frame as Parquet or CSV, chosen by the extension (`.csv`, else Parquet).
pub fn write_frame(frame: &mut DataFrame, path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => write_csv(frame, path),
        _ => write_parquet(frame, path),
    }
}

/// Reads a Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(Cursor::new(bytes)).finish().ctx(|| format!("reading {}", path.display()))
}

/// Pretty JSON, written atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// Reads and deserialises a JSON file; syntax errors name line and column.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_utf8(path)?;
    serde_json::from_str(strip_bom(&text)).map_err(|e| json_error(path, &e))
}

/// Parses TOML text; errors (unknown keys included) name `path` and the line.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        Error::parse(path, line, None, e.message().to_string())
    })
}

/// Reads and parses a TOML file (see [`parse_toml`]).
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    parse_toml(path, &read_utf8(path)?)
}

pub(crate) fn json_error(path: &Path, e: &serde_json::Error) -> Error {
    let line = (e.line() > 0).then_some(e.line());
    Error::parse(path, line, None, format!("{e}"))
}

/// The FNV-1a offset basis: the hash of nothing.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a (64 bits) of `bytes`, continuing from `h` ([`FNV_OFFSET`] to start): a cheap content
/// hash to notice changed inputs, not a cryptographic one.
pub fn fnv1a64(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
