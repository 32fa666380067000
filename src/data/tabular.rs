//! CSV / TSV, Parquet and JSON Lines files with a column mapping: the user's text column becomes
//! `text`, the label column (names or ids) becomes `label` (Int32 ids, null where unknown).

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use super::io::{read_parquet, read_utf8};
use super::{Dataset, Format, LABEL, LoadOptions, TEXT, column_list, label_ids_from_names};
use crate::error::{Context, Error, Result};

pub(super) fn load(path: &Path, format: Format, split: &str, opts: &LoadOptions) -> Result<Dataset> {
    let frame = match format {
        Format::Csv => read_csv(path)?,
        Format::Jsonl => read_jsonl(path)?,
        Format::Parquet => read_parquet(path)?,
        _ => unreachable!("tabular::load called for {format:?}"),
    };
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("data").to_string();
    let (frame, classes) = normalize(frame, path, opts)?;
    let mut ds = Dataset::new(name, split, frame, classes, None)
        .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
    ds.source = Some(path.to_path_buf());
    Ok(ds)
}

/// Reads a CSV (or `.tsv`) file with a header row. Polars does the parsing; when it fails, the
/// file is re-scanned with the `csv` crate to name the offending line.
pub(crate) fn read_csv(path: &Path) -> Result<DataFrame> {
    let text = read_utf8(path)?;
    let sep = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")) { b'\t' } else { b',' };
    let body = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.as_bytes().to_vec(),
        None => text.clone().into_bytes(),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::parse(path, Some(1), None, "empty file (no header row)"));
    }
    let parsed = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .with_parse_options(CsvParseOptions::default().with_separator(sep))
        .into_reader_with_file_handle(Cursor::new(body))
        .finish();
    parsed.or_else(|e| Err(locate_csv_error(path, &text, sep).unwrap_or_else(|| {
        Error::Polars { context: format!("reading {}", path.display()), source: e }
    })))
}

fn locate_csv_error(path: &Path, text: &str, sep: u8) -> Option<Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(true)
        .from_reader(super::io::strip_bom(text).as_bytes());
    for rec in rdr.records() {
        if let Err(e) = rec {
            let line = e.position().map(|p| p.line() as usize);
            let msg = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("malformed CSV row: {len} fields, the header has {expected_len}")
                }
                _ => format!("malformed CSV: {e}"),
            };
            return Some(Error::parse(path, line, None, msg));
        }
    }
    None
}

/// Reads JSON Lines; on failure the first line that is not a JSON object is named.
pub(crate) fn read_jsonl(path: &Path) -> Result<DataFrame> {
    let text = read_utf8(path)?;
    let body = super::io::strip_bom(&text);
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Err(Error::parse(path, Some(i + 1), None, "not a JSON object")),
            Err(e) => return Err(Error::parse(path, Some(i + 1), None, format!("malformed JSON: {e}"))),
        }
    }
    if body.trim().is_empty() {
        return Err(Error::parse(path, Some(1), None, "empty file"));
    }
    JsonReader::new(Cursor::new(body.as_bytes().to_vec()))
        .with_json_format(JsonFormat::JsonLines)
        .infer_schema_len(None)
        .finish()
        .ctx(|| format!("reading {}", path.display()))
}

/// Renames the text / label columns to `text` / `label` and turns labels into class ids.
fn normalize(mut frame: DataFrame, path: &Path, opts: &LoadOptions) -> Result<(DataFrame, Vec<String>)> {
    let ctx = path.display().to_string();
    let missing = |col: &str, frame: &DataFrame| Error::MissingColumn {
        context: ctx.clone(),
        column: col.to_string(),
        available: column_list(frame),
    };
    if frame.column(&opts.text_col).is_err() {
        return Err(missing(&opts.text_col, &frame));
    }
    if opts.text_col != TEXT {
        if frame.column(TEXT).is_ok() {
            return Err(Error::invalid(&ctx, format!("both `{}` and `text` columns exist; rename one", opts.text_col)));
        }
        frame.rename(&opts.text_col, TEXT.into()).ctx(|| ctx.clone())?;
    }
    let dtype = frame.column(TEXT).map(|c| c.dtype().clone()).ctx(|| ctx.clone())?;
    if dtype != DataType::String {
        return Err(Error::invalid(&ctx, format!("text column `{}` holds {dtype}, not text", opts.text_col)));
    }

    let label_col = match &opts.label_col {
        Some(c) => {
            if frame.column(c).is_err() {
                return Err(missing(c, &frame));
            }
            Some(c.clone())
        }
        None => frame.column(LABEL).is_ok().then(|| LABEL.to_string()),
    };
    let Some(label_col) = label_col else {
        let classes = opts.classes.clone().ok_or_else(|| {
            Error::invalid(&ctx, "no label column: pass the class names (--classes or the LF file's classes)")
        })?;
        return Ok((frame, classes));
    };
    if label_col != LABEL && frame.column(LABEL).is_ok() {
        return Err(Error::invalid(&ctx, format!("both `{label_col}` and `label` columns exist; rename one")));
    }
    let col = frame.column(&label_col).ctx(|| ctx.clone())?.clone();
    let (ids, classes): (Vec<Option<i32>>, Vec<String>) = match col.dtype() {
        DataType::String => {
            let ca = col.str().ctx(|| ctx.clone())?;
            let classes = match &opts.classes {
                Some(c) => c.clone(),
                None => ca.iter().flatten().map(str::to_string).collect::<BTreeSet<_>>().into_iter().collect(),
            };
            let ids = label_ids_from_names(ca.iter(), &classes, |row, name| {
                Error::parse(path, None, Some(&label_col), format!("row {row}: unknown label `{name}` (classes: {})", classes.join(", ")))
            })?;
            (ids, classes)
        }
        dt if dt.is_integer() || dt == &DataType::Boolean => {
            let cast = col.cast(&DataType::Int64).ctx(|| ctx.clone())?;
            let ca = cast.i64().ctx(|| ctx.clone())?;
            let max = ca.max().unwrap_or(0);
            let classes = match &opts.classes {
                Some(c) => c.clone(),
                None => (0..=max.max(1)).map(|i| i.to_string()).collect(),
            };
            let c = classes.len() as i64;
            let mut ids = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                match v {
                    Some(v) if v < 0 || v >= c => {
                        return Err(Error::parse(path, None, Some(&label_col), format!("row {row}: label {v} outside 0..{c} (classes: {})", classes.join(", "))));
                    }
                    v => ids.push(v.map(|v| v as i32)),
                }
            }
            (ids, classes)
        }
        dt => {
            return Err(Error::invalid(&ctx, format!("label column `{label_col}` holds {dt}; expected class names or integer ids")));
        }
    };
    frame.drop_in_place(&label_col).ctx(|| ctx.clone())?;
    frame
        .with_column(Column::new(LABEL.into(), ids))
        .ctx(|| ctx.clone())?;
    Ok((frame, classes))
}

