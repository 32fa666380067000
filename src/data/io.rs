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
/// killed run never leaves a half-written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn tmp_path(path: &Path) -> PathBuf {
    with_suffix(path, &format!(".tmp{}", std::process::id()))
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
    ParquetReader::new(Cursor::new(bytes))
        .finish()
        .ctx(|| format!("reading {}", path.display()))
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
