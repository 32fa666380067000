//! The one reader of tabular files, used by the dataset loader (whole files) and by batch runs
//! (chunks of records), so both read a file the same way:
//!
//! - **CSV / TSV** are read record by record with the `csv` crate; every column is text (no type
//!   inference: `007` stays `"007"`); an empty cell is null; the header names the columns.
//! - **JSON Lines**: one object per line, blank lines skipped; strings stay text, `null` and
//!   missing keys are null, every other value (number, boolean, array, object) is kept as its JSON
//!   text as written (`1.50` stays `"1.50"`). The columns are the keys of the file, in first-seen
//!   order.
//! - **Parquet** keeps the file's own column types, read by row slices.
//!
//! Reading record by record gives every row its line number and lets a bad UTF-8 byte, a missing
//! text or a broken record reject that row only ([`OnBadRow::Skip`]) or stop with an error naming
//! file, line and field ([`OnBadRow::Fail`], what the loader uses). SQL LFs that compare a text
//! column with numbers `CAST` it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use polars::prelude::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::TEXT;
use crate::error::{Context, Error, Result};

/// The record-index column of a block (UInt64, 0-based within the file); batch parts call it `row`.
pub const ROW: &str = "__weaksup_row";
const READ_BUFFER: usize = 1 << 20;

/// A tabular input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// CSV (`.csv`) or TSV (`.tsv`) with a header row.
    #[value(alias = "tsv")]
    Csv,
    /// JSON Lines (`.jsonl`, `.ndjson`): one object per line; blank lines are not records.
    #[value(alias = "ndjson")]
    Jsonl,
    /// Parquet (`.parquet`, `.pq`), read by row slices.
    #[value(alias = "pq")]
    Parquet,
}

impl InputFormat {
    /// The format of `path` from its extension, if it is one of ours.
    pub fn detect(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            "parquet" | "pq" => Some(InputFormat::Parquet),
            _ => None,
        }
    }
}

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRow {
    /// Skip it, count it by reason and record its location (default of batch runs).
    #[default]
    Skip,
    /// Stop with an error naming file, line and field (what the dataset loader does).
    Fail,
}

/// The input columns to read besides the text column.
#[derive(Debug, Clone)]
pub enum Columns {
    /// These names, where the source has them (JSONL: every line may or may not).
    Named(Vec<String>),
    /// Every column of the source.
    All,
}

/// What the text column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// A string, read as the String column `text`.
    #[default]
    Text,
    /// A sentence's tokens (sequence labeling), read as the List(String) column `text`: a JSON
    /// array of strings, a Parquet list of strings, or a string split at whitespace (CSV, and
    /// JSON / Parquet strings: the MIT-R and CoNLL convention of one space between tokens).
    Tokens,
}

/// What to read from a file.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    /// Source column holding the text; it is read as `text`.
    pub text_col: String,
    /// What the text column holds.
    pub text_kind: TextKind,
    /// A column that must exist (a document id), read under its own name.
    pub id_col: Option<String>,
    pub columns: Columns,
    pub on_bad_row: OnBadRow,
}

/// Reads a whole file into a frame: every column, the text column named `text`, the first bad
/// row an error naming file, line and field.
pub fn read_whole(path: &Path, format: InputFormat, text_col: &str) -> Result<DataFrame> {
    let spec = ReadSpec {
        text_col: text_col.into(),
        text_kind: TextKind::Text,
        id_col: None,
        columns: Columns::All,
        on_bad_row: OnBadRow::Fail,
    };
    let mut src = open(path, format, &spec)?;
    let block = src.next_block(usize::MAX, true)?;
    let mut frame = block.frame.unwrap_or_default();
    frame.drop_in_place(ROW).ctx(|| path.display().to_string())?;
    Ok(frame)
}

/// A row left out of the output, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// The input file.
    pub file: String,
    /// 1-based line where the record starts (CSV / JSONL).
    pub line: Option<u64>,
    /// 0-based record index within the file (the output's `row`).
    pub row: u64,
    /// `invalid_utf8`, `missing_text`, `malformed_csv` or `malformed_json`.
    pub reason: String,
    /// The field involved, when there is one.
    pub field: Option<String>,
    pub detail: String,
}

/// Up to `n` records of a source.
pub struct Block {
    /// Records read (rejected ones included); fewer than asked means the file ended.
    pub rows_in: u64,
    /// Input bytes the records span (progress estimates).
    pub bytes: u64,
    /// `row`, `text`, the id column, the other columns (when kept).
    pub frame: Option<DataFrame>,
    pub rejected: Vec<Rejection>,
}

/// A file read record by record.
pub trait RecordSource: Send {
    /// The next `n` records: parsed into a frame when `keep`, only counted otherwise.
    /// `rows_in < n` means the file ended.
    fn next_block(&mut self, n: usize, keep: bool) -> Result<Block>;
}

/// Opens `path` for reading records as `spec` says.
pub fn open(path: &Path, format: InputFormat, spec: &ReadSpec) -> Result<Box<dyn RecordSource>> {
    Ok(match format {
        InputFormat::Csv => Box::new(CsvSource::open(path, spec)?),
        InputFormat::Jsonl => Box::new(JsonlSource::open(path, spec)?),
        InputFormat::Parquet => Box::new(ParquetSource::open(path, spec)?),
    })
}

/// The output names of the columns read: `text` for the text column, the others as they are.
/// `available`: the source's columns (`None`: unknown, a JSON Lines file read by name).
fn wanted(plan: &ReadSpec, available: Option<&[String]>, path: &Path) -> Result<Vec<(String, String)>> {
    let has = |c: &str| available.is_none_or(|a| a.iter().any(|x| x == c));
    let missing = |c: &str| {
        let list = available.map(|a| a.join(", ")).unwrap_or_default();
        Error::parse(path, Some(1), Some(c), format!("no column `{c}` (columns: {list})"))
    };
    if !has(&plan.text_col) {
        let list = available.map(|a| a.join(", ")).unwrap_or_default();
        return Err(Error::parse(
            path,
            Some(1),
            Some(&plan.text_col),
            format!("no column `{}` (columns: {list}); name the text column with --text-col", plan.text_col),
        ));
    }
    if plan.text_col != TEXT && available.is_some_and(|a| a.iter().any(|x| x == TEXT)) {
        return Err(Error::parse(
            path,
            Some(1),
            Some(TEXT),
            format!("both `{}` (the text column) and `text` exist; rename one", plan.text_col),
        ));
    }
    if let Some(dup) =
        available.and_then(|a| a.iter().enumerate().find(|(i, c)| a[..*i].contains(c)).map(|(_, c)| c))
    {
        return Err(Error::parse(path, Some(1), Some(dup), "this column name appears twice in the header"));
    }
    let mut out = vec![(plan.text_col.clone(), TEXT.to_string())];
    let add = |c: &str, out: &mut Vec<(String, String)>| {
        if c != plan.text_col && c != TEXT && c != ROW && !out.iter().any(|(s, _)| s == c) {
            out.push((c.to_string(), c.to_string()));
        }
    };
    if let Some(id) = &plan.id_col {
        if !has(id) {
            return Err(missing(id));
        }
        add(id, &mut out);
    }
    match (&plan.columns, available) {
        (Columns::Named(names), _) => names.iter().filter(|c| has(c)).for_each(|c| add(c, &mut out)),
        (Columns::All, Some(a)) => a.iter().for_each(|c| add(c, &mut out)),
        (Columns::All, None) => {}
    }
    Ok(out)
}

/// String columns gathered row by row into one buffer each.
struct StrCols {
    names: Vec<String>,
    bufs: Vec<String>,
    spans: Vec<Vec<Option<(usize, usize)>>>,
    rows: Vec<u64>,
    /// CSV: an empty cell is null (CSV has no other way to write a missing value).
    empty_is_null: bool,
    /// [`TextKind::Tokens`]: each row's tokens, the text column's values (its string buffer
    /// stays empty).
    tokens: Option<Vec<Vec<String>>>,
}

impl StrCols {
    fn new(names: Vec<String>, empty_is_null: bool, kind: TextKind) -> Self {
        let k = names.len();
        Self {
            names,
            bufs: vec![String::new(); k],
            spans: vec![Vec::new(); k],
            rows: Vec::new(),
            empty_is_null,
            tokens: (kind == TextKind::Tokens).then(Vec::new),
        }
    }
    /// Adds a row whose text column (the first) holds `tokens` ([`TextKind::Tokens`]).
    fn push_tokens<'a>(
        &mut self,
        row: u64,
        tokens: Vec<String>,
        cells: impl Iterator<Item = Option<&'a str>>,
    ) {
        if let Some(t) = &mut self.tokens {
            t.push(tokens);
        }
        self.push(row, std::iter::once(None).chain(cells.skip(1)));
    }
    fn push(&mut self, row: u64, cells: impl Iterator<Item = Option<impl AsRef<str>>>) {
        self.rows.push(row);
        let empty_is_null = self.empty_is_null;
        for ((buf, spans), cell) in self.bufs.iter_mut().zip(&mut self.spans).zip(cells) {
            let cell = cell.filter(|c| !(empty_is_null && c.as_ref().is_empty()));
            spans.push(cell.map(|s| {
                let start = buf.len();
                buf.push_str(s.as_ref());
                (start, buf.len())
            }));
        }
    }
    fn into_frame(self) -> Result<DataFrame> {
        let mut cols = vec![Column::new(ROW.into(), self.rows)];
        for (k, ((name, buf), spans)) in self.names.iter().zip(&self.bufs).zip(&self.spans).enumerate() {
            match (&self.tokens, k) {
                (Some(t), 0) => cols.push(token_list_column(name, t)),
                _ => {
                    let ca: StringChunked = spans.iter().map(|s| s.map(|(a, b)| &buf[a..b])).collect();
                    cols.push(ca.with_name(name.as_str().into()).into_column());
                }
            }
        }
        DataFrame::new_infer_height(cols).ctx(|| "chunk frame".into())
    }
}

/// A List(String) column of one token list per row.
fn token_list_column(name: &str, rows: &[Vec<String>]) -> Column {
    let flat: Vec<&str> = rows.iter().flatten().map(String::as_str).collect();
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0);
    for t in rows {
        offsets.push(offsets[offsets.len() - 1] + t.len());
    }
    sliced_lists(name, Series::new(PlSmallStr::EMPTY, flat), &offsets)
}

/// A list column of one list per row: `flat[offsets[r]..offsets[r + 1]]` for row `r` (`offsets`:
/// `rows + 1` ascending positions). Slicing one flat series allocates nothing per row for the
/// values; a series per row costs about 4× as much on 100,000 sentences.
pub fn sliced_lists(name: &str, flat: Series, offsets: &[usize]) -> Column {
    if offsets.len() < 2 {
        return Column::new_empty(name.into(), &DataType::List(Box::new(flat.dtype().clone())));
    }
    let lists: ListChunked = offsets.windows(2).map(|w| Some(flat.slice(w[0] as i64, w[1] - w[0]))).collect();
    lists.with_name(name.into()).into_column()
}

/// The tokens of a text: its whitespace-separated words.
fn split_tokens(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// Each row's tokens from a block's `text` column ([`TextKind::Tokens`]: List(String)).
pub fn token_lists(frame: &DataFrame) -> Result<Vec<Vec<String>>> {
    let ctx = || "the token column `text`".to_string();
    let lists = frame.column(TEXT).ctx(ctx)?.list().ctx(ctx)?;
    let mut out = Vec::with_capacity(lists.len());
    for i in 0..lists.len() {
        let s = lists.get_as_series(i).unwrap_or_default();
        let s = s.str().ctx(ctx)?;
        out.push(s.iter().map(|t| t.unwrap_or_default().to_owned()).collect());
    }
    Ok(out)
}

/// Rejects or fails on one bad row.
struct Rejecter<'a> {
    path: &'a Path,
    policy: OnBadRow,
    out: Vec<Rejection>,
}

impl Rejecter<'_> {
    fn reject(
        &mut self,
        line: Option<u64>,
        row: u64,
        reason: &str,
        field: Option<&str>,
        detail: String,
    ) -> Result<()> {
        if self.policy == OnBadRow::Fail {
            let what = match reason {
                "invalid_utf8" => "invalid UTF-8",
                "malformed_csv" => "malformed CSV",
                "malformed_json" => "malformed JSON",
                "missing_text" => "missing text",
                other => other,
            };
            let msg = format!("row {row}: {what}: {detail}");
            return Err(Error::parse(self.path, line.map(|l| l as usize), field, msg));
        }
        self.out.push(Rejection {
            file: self.path.display().to_string(),
            line,
            row,
            reason: reason.into(),
            field: field.map(str::to_owned),
            detail,
        });
        Ok(())
    }
}

struct CsvSource {
    path: std::path::PathBuf,
    rdr: csv::Reader<BufReader<File>>,
    width: usize,
    /// (source index, output name) of every column read; the text first.
    cols: Vec<(usize, String)>,
    source_names: Vec<String>,
    row: u64,
    rec: csv::ByteRecord,
    policy: OnBadRow,
    kind: TextKind,
}

impl CsvSource {
    fn open(path: &Path, plan: &ReadSpec) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let sep = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")) { b'\t' } else { b',' };
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(sep)
            .has_headers(true)
            .flexible(true)
            .from_reader(BufReader::with_capacity(READ_BUFFER, file));
        let header = rdr
            .byte_headers()
            .map_err(|e| Error::parse(path, Some(1), None, format!("CSV header: {e}")))?
            .clone();
        if header.is_empty() {
            return Err(Error::parse(path, Some(1), None, "empty file (no header row)"));
        }
        let mut names = Vec::with_capacity(header.len());
        for (i, h) in header.iter().enumerate() {
            let h = if i == 0 { h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h) } else { h };
            let name = std::str::from_utf8(h).map_err(|_| {
                Error::parse(path, Some(1), None, format!("header field {} is not UTF-8", i + 1))
            })?;
            names.push(name.to_string());
        }
        let cols = wanted(plan, Some(&names), path)?
            .into_iter()
            .map(|(src, out)| (names.iter().position(|n| *n == src).unwrap_or(0), out))
            .collect();
        Ok(Self {
            path: path.into(),
            rdr,
            width: header.len(),
            cols,
            source_names: names,
            row: 0,
            rec: csv::ByteRecord::new(),
            policy: plan.on_bad_row,
            kind: plan.text_kind,
        })
    }
}

impl RecordSource for CsvSource {
    fn next_block(&mut self, n: usize, keep: bool) -> Result<Block> {
        let start_byte = self.rdr.position().byte();
        let mut cols = StrCols::new(self.cols.iter().map(|(_, o)| o.clone()).collect(), true, self.kind);
        let mut rej = Rejecter { path: &self.path, policy: self.policy, out: Vec::new() };
        let mut rows_in = 0u64;
        while (rows_in as usize) < n {
            let more = self.rdr.read_byte_record(&mut self.rec).map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                Error::parse(&self.path, line, None, format!("reading CSV: {e}"))
            })?;
            if !more {
                break;
            }
            let row = self.row;
            self.row += 1;
            rows_in += 1;
            if !keep {
                continue;
            }
            let line = self.rec.position().map(|p| p.line());
            if self.rec.len() != self.width {
                let detail = format!("{} fields, the header has {}", self.rec.len(), self.width);
                rej.reject(line, row, "malformed_csv", None, detail)?;
                continue;
            }
            let rec = &self.rec;
            let bad = self
                .cols
                .iter()
                .find_map(|(i, _)| std::str::from_utf8(&rec[*i]).err().map(|e| (*i, e.valid_up_to())));
            if let Some((i, at)) = bad {
                let detail = format!("invalid UTF-8 at byte {at} of the field");
                rej.reject(line, row, "invalid_utf8", Some(&self.source_names[i]), detail)?;
                continue;
            }
            if rec[self.cols[0].0].is_empty() {
                rej.reject(
                    line,
                    row,
                    "missing_text",
                    Some(&self.source_names[self.cols[0].0]),
                    "empty text".into(),
                )?;
                continue;
            }
            let cells = self.cols.iter().map(|(i, _)| std::str::from_utf8(&rec[*i]).ok());
            if self.kind == TextKind::Tokens {
                let tokens = split_tokens(std::str::from_utf8(&rec[self.cols[0].0]).unwrap_or_default());
                if tokens.is_empty() {
                    let field = Some(self.source_names[self.cols[0].0].as_str());
                    rej.reject(line, row, "missing_text", field, "no tokens (only whitespace)".into())?;
                    continue;
                }
                cols.push_tokens(row, tokens, cells);
            } else {
                cols.push(row, cells);
            }
        }
        let bytes = self.rdr.position().byte() - start_byte;
        let frame = if keep { Some(cols.into_frame()?) } else { None };
        Ok(Block { rows_in, bytes, frame, rejected: rej.out })
    }
}

struct JsonlSource {
    path: std::path::PathBuf,
    rdr: BufReader<File>,
    /// Source keys, the text first.
    keys: Vec<String>,
    names: Vec<String>,
    line: u64,
    row: u64,
    buf: Vec<u8>,
    policy: OnBadRow,
    kind: TextKind,
}

impl JsonlSource {
    fn open(path: &Path, plan: &ReadSpec) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // Every column: the keys of the whole file, found by a first pass that skips values.
        let keys = match plan.columns {
            Columns::All => Some(file_keys(path)?),
            Columns::Named(_) => None,
        };
        let (keys, names) = wanted(plan, keys.as_deref(), path)?.into_iter().unzip();
        Ok(Self {
            path: path.into(),
            rdr: BufReader::with_capacity(READ_BUFFER, file),
            keys,
            names,
            line: 0,
            row: 0,
            buf: Vec::new(),
            policy: plan.on_bad_row,
            kind: plan.text_kind,
        })
    }
}

impl RecordSource for JsonlSource {
    fn next_block(&mut self, n: usize, keep: bool) -> Result<Block> {
        let mut cols = StrCols::new(self.names.clone(), false, self.kind);
        let mut rej = Rejecter { path: &self.path, policy: self.policy, out: Vec::new() };
        let (mut rows_in, mut bytes) = (0u64, 0u64);
        while (rows_in as usize) < n {
            self.buf.clear();
            let got = self.rdr.read_until(b'\n', &mut self.buf).map_err(|e| Error::io(&self.path, e))?;
            if got == 0 {
                break;
            }
            bytes += got as u64;
            self.line += 1;
            let mut rec: &[u8] = &self.buf;
            if self.line == 1 {
                rec = rec.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rec);
            }
            if rec.iter().all(u8::is_ascii_whitespace) {
                continue; // blank lines are not records
            }
            let (line, row) = (self.line, self.row);
            self.row += 1;
            rows_in += 1;
            if !keep {
                continue;
            }
            let text = match std::str::from_utf8(rec) {
                Ok(t) => t,
                Err(e) => {
                    rej.reject(
                        Some(line),
                        row,
                        "invalid_utf8",
                        None,
                        format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                    )?;
                    continue;
                }
            };
            let mut de = serde_json::Deserializer::from_str(text);
            let cells =
                match (Pick { keys: &self.keys }).deserialize(&mut de).and_then(|c| de.end().map(|_| c)) {
                    Ok(c) => c,
                    Err(e) => {
                        rej.reject(Some(line), row, "malformed_json", None, e.to_string())?;
                        continue;
                    }
                };
            if self.kind == TextKind::Tokens {
                let tokens = match &cells[0] {
                    Cell::Str(s) => Ok(split_tokens(s)),
                    Cell::Other(v) => serde_json::from_str::<Vec<String>>(v)
                        .map_err(|_| format!("neither a string nor a list of strings: {v}")),
                    Cell::Missing | Cell::Null => Err("no tokens".into()),
                };
                match tokens {
                    Ok(t) if !t.is_empty() => {
                        cols.push_tokens(row, t, cells.iter().map(Cell::as_str));
                    }
                    Ok(_) => {
                        rej.reject(Some(line), row, "missing_text", Some(&self.keys[0]), "no tokens".into())?
                    }
                    Err(detail) => {
                        rej.reject(Some(line), row, "missing_text", Some(&self.keys[0]), detail)?
                    }
                }
                continue;
            }
            match &cells[0] {
                Cell::Str(s) if !s.is_empty() => {}
                Cell::Str(_) => {
                    rej.reject(Some(line), row, "missing_text", Some(&self.keys[0]), "empty text".into())?;
                    continue;
                }
                Cell::Missing | Cell::Null => {
                    rej.reject(Some(line), row, "missing_text", Some(&self.keys[0]), "no text".into())?;
                    continue;
                }
                Cell::Other(v) => {
                    rej.reject(
                        Some(line),
                        row,
                        "missing_text",
                        Some(&self.keys[0]),
                        format!("not a string: {v}"),
                    )?;
                    continue;
                }
            }
            cols.push(row, cells.iter().map(Cell::as_str));
        }
        let frame = if keep { Some(cols.into_frame()?) } else { None };
        Ok(Block { rows_in, bytes, frame, rejected: rej.out })
    }
}

/// A JSON value kept as text: strings as they are, every other value as its JSON text as written.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Missing,
    Null,
    Str(String),
    Other(String),
}

impl Cell {
    fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Missing | Cell::Null => None,
            Cell::Str(s) | Cell::Other(s) => Some(s),
        }
    }
    fn from_raw(raw: &serde_json::value::RawValue) -> std::result::Result<Self, serde_json::Error> {
        let t = raw.get();
        Ok(if t.starts_with('"') {
            Cell::Str(serde_json::from_str(t)?)
        } else if t == "null" {
            Cell::Null
        } else {
            Cell::Other(t.to_string())
        })
    }
}

/// The keys of every object line of a JSON Lines file, in first-seen order (lines that are not
/// JSON objects are skipped here and rejected when read).
fn file_keys(path: &Path) -> Result<Vec<String>> {
    struct Keys<'a>(&'a mut Vec<String>);
    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if !self.0.iter().any(|x| *x == k) {
                    self.0.push(k.into_owned());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = BufReader::with_capacity(READ_BUFFER, file);
    let (mut keys, mut buf) = (Vec::new(), Vec::new());
    loop {
        buf.clear();
        if rdr.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))? == 0 {
            break;
        }
        let line = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
        if let Ok(text) = std::str::from_utf8(line) {
            let mut de = serde_json::Deserializer::from_str(text);
            let _ = serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys));
        }
    }
    Ok(keys)
}

/// Picks `keys` out of one JSON object, skipping every other value without building it.
struct Pick<'a> {
    keys: &'a [String],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<Cell>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Vec<Cell>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Vec<Cell>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Vec<Cell>, A::Error> {
        let mut out = vec![Cell::Missing; self.keys.len()];
        while let Some(k) = map.next_key_seed(KeyIndex { keys: self.keys })? {
            match k {
                Some(i) => {
                    let raw: &'de serde_json::value::RawValue = map.next_value()?;
                    out[i] = Cell::from_raw(raw).map_err(de::Error::custom)?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A key's position in `keys`, without allocating for keys that are not wanted.
struct KeyIndex<'a> {
    keys: &'a [String],
}

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Option<usize>, E> {
        Ok(self.keys.iter().position(|k| k == v))
    }
}

struct ParquetSource {
    path: std::path::PathBuf,
    meta: polars::io::parquet::metadata::FileMetadataRef,
    n_rows: u64,
    bytes: u64,
    /// (source name, output name), the text first.
    cols: Vec<(String, String)>,
    row: u64,
    policy: OnBadRow,
    kind: TextKind,
}

impl ParquetSource {
    fn open(path: &Path, plan: &ReadSpec) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = ParquetReader::new(file);
        let ctx = || format!("reading {}", path.display());
        let schema = reader.schema().ctx(ctx)?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let cols = wanted(plan, Some(&names), path)?;
        let text_dtype = schema.get(plan.text_col.as_str()).map(|f| f.dtype().clone());
        let is_text = |d: &ArrowDataType| {
            matches!(d, ArrowDataType::Utf8View | ArrowDataType::Utf8 | ArrowDataType::LargeUtf8)
        };
        let ok = match (&text_dtype, plan.text_kind) {
            (Some(d), _) if is_text(d) => true,
            (
                Some(
                    ArrowDataType::List(f) | ArrowDataType::LargeList(f) | ArrowDataType::FixedSizeList(f, _),
                ),
                TextKind::Tokens,
            ) => is_text(f.dtype()),
            _ => false,
        };
        if !ok {
            let want = match plan.text_kind {
                TextKind::Text => "text",
                TextKind::Tokens => "text or a list of strings (tokens)",
            };
            return Err(Error::parse(
                path,
                None,
                Some(&plan.text_col),
                format!("holds {text_dtype:?}, not {want}"),
            ));
        }
        let n_rows = reader.num_rows().ctx(ctx)? as u64;
        let meta = reader.get_metadata().ctx(ctx)?.clone();
        Ok(Self {
            path: path.into(),
            meta,
            n_rows,
            bytes,
            cols,
            row: 0,
            policy: plan.on_bad_row,
            kind: plan.text_kind,
        })
    }
}

impl RecordSource for ParquetSource {
    fn next_block(&mut self, n: usize, keep: bool) -> Result<Block> {
        let start = self.row;
        let len = (n as u64).min(self.n_rows - start);
        self.row += len;
        let bytes = self.bytes * len / self.n_rows.max(1);
        if !keep || len == 0 {
            return Ok(Block { rows_in: len, bytes, frame: None, rejected: Vec::new() });
        }
        let ctx = || format!("reading {} rows {start}..{}", self.path.display(), start + len);
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut reader = ParquetReader::new(file);
        reader.set_metadata(self.meta.clone());
        let mut frame = reader
            .with_columns(Some(self.cols.iter().map(|(s, _)| s.clone()).collect()))
            .with_slice(Some((start as usize, len as usize)))
            .finish()
            .ctx(ctx)?;
        for (src, out) in &self.cols {
            if src != out {
                frame.rename(src, out.as_str().into()).ctx(ctx)?;
            }
        }
        frame.with_column(Column::new(ROW.into(), (start..start + len).collect::<Vec<u64>>())).ctx(ctx)?;
        if self.kind == TextKind::Tokens {
            return self.token_block(frame, start, len, bytes);
        }
        let text = frame.column(TEXT).ctx(ctx)?.str().ctx(ctx)?;
        let bad: Vec<usize> =
            text.iter().enumerate().filter(|(_, t)| t.is_none_or(str::is_empty)).map(|(i, _)| i).collect();
        let mut rej = Rejecter { path: &self.path, policy: self.policy, out: Vec::new() };
        for &i in &bad {
            let detail = if text.get(i).is_none() { "null text" } else { "empty text" };
            rej.reject(None, start + i as u64, "missing_text", Some(&self.cols[0].0), detail.into())?;
        }
        if !bad.is_empty() {
            let mask: BooleanChunked = text.iter().map(|t| t.is_some_and(|t| !t.is_empty())).collect();
            frame = frame.filter(&mask).ctx(ctx)?;
        }
        let order: Vec<&str> =
            std::iter::once(ROW).chain(self.cols.iter().map(|(_, o)| o.as_str())).collect();
        let frame = frame.select(order).ctx(ctx)?;
        Ok(Block { rows_in: len, bytes, frame: Some(frame), rejected: rej.out })
    }
}

impl ParquetSource {
    /// [`TextKind::Tokens`]: the text column becomes one token list per row (strings split at
    /// whitespace, lists kept); rows without tokens are rejected.
    fn token_block(&self, frame: DataFrame, start: u64, len: u64, bytes: u64) -> Result<Block> {
        let ctx = || format!("reading {} rows {start}..{}", self.path.display(), start + len);
        let col = frame.column(TEXT).ctx(ctx)?;
        let rows: Vec<Option<Vec<String>>> = if let Ok(text) = col.str() {
            text.iter().map(|t| t.map(split_tokens)).collect()
        } else {
            let lists = col.cast(&DataType::List(Box::new(DataType::String))).ctx(ctx)?;
            let lists = lists.list().ctx(ctx)?;
            (0..lists.len())
                .map(|i| -> Result<Option<Vec<String>>> {
                    let Some(s) = lists.get_as_series(i) else { return Ok(None) };
                    let s = s.str().ctx(ctx)?;
                    // A null token makes the row bad: no token is silently dropped.
                    Ok(s.iter().map(|t| t.map(str::to_owned)).collect::<Option<Vec<String>>>())
                })
                .collect::<Result<_>>()?
        };
        let mut rej = Rejecter { path: &self.path, policy: self.policy, out: Vec::new() };
        for (i, r) in rows.iter().enumerate() {
            let detail = match r {
                None => "null text or a null token",
                Some(t) if t.is_empty() => "no tokens",
                Some(_) => continue,
            };
            rej.reject(None, start + i as u64, "missing_text", Some(&self.cols[0].0), detail.into())?;
        }
        let keep: Vec<bool> = rows.iter().map(|r| r.as_ref().is_some_and(|t| !t.is_empty())).collect();
        let mask: BooleanChunked = keep.iter().copied().collect();
        let mut frame = frame.filter(&mask).ctx(ctx)?;
        let tokens: Vec<Vec<String>> = rows.into_iter().flatten().filter(|t| !t.is_empty()).collect();
        frame.with_column(token_list_column(TEXT, &tokens)).ctx(ctx)?;
        let order: Vec<&str> =
            std::iter::once(ROW).chain(self.cols.iter().map(|(_, o)| o.as_str())).collect();
        let frame = frame.select(order).ctx(ctx)?;
        Ok(Block { rows_in: len, bytes, frame: Some(frame), rejected: rej.out })
    }
}

crate::cli_enum!(InputFormat => "input format", OnBadRow => "bad-row policy");
