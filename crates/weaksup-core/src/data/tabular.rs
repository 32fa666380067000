//! CSV / TSV, Parquet and JSON Lines files with a column mapping, read by [`super::records`] (the
//! reader batch runs use too): the user's text column becomes `text`, the label column becomes
//! `label` (Int32 class ids, null where unknown).
//!
//! A label cell is a class name when it equals one, else an integer class id. Without a class
//! list, labels that are all integers are ids (classes `0..=max`), otherwise the sorted distinct
//! names are the classes.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::*;

use super::records::{self, InputFormat};
use super::{Dataset, Format, LABEL, LoadOptions, TEXT, column_list};
use crate::error::{Context, Error, Result};

pub(super) fn load(path: &Path, format: Format, split: &str, opts: &LoadOptions) -> Result<Dataset> {
    let frame = read(path, format, opts)?;
    from_frame(frame, path, split, opts)
}

/// The whole file as a frame, its text column named `text` (labels not yet resolved).
pub(super) fn read(path: &Path, format: Format, opts: &LoadOptions) -> Result<DataFrame> {
    let input = match format {
        Format::Csv => InputFormat::Csv,
        Format::Jsonl => InputFormat::Jsonl,
        Format::Parquet => InputFormat::Parquet,
        _ => unreachable!("tabular::read called for {format:?}"),
    };
    let frame = records::read_whole(path, input, &opts.text_col)?;
    if frame.height() == 0 {
        return Err(Error::parse(path, None, None, "no data rows (only a header, or an empty file)"));
    }
    Ok(frame)
}

/// A dataset from a frame [`read`] returned: labels resolved to ids of `opts.classes` (inferred
/// from this file when absent).
pub(super) fn from_frame(frame: DataFrame, path: &Path, split: &str, opts: &LoadOptions) -> Result<Dataset> {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("data").to_string();
    let (frame, classes) = normalize(frame, path, opts)?;
    let mut ds = Dataset::new(name, split, frame, classes, None)
        .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
    ds.source = Some(path.to_path_buf());
    Ok(ds)
}

/// The gold label column of a frame under `opts` (`--label-col`, else `label` when present).
pub(super) fn label_column(frame: &DataFrame, opts: &LoadOptions) -> Option<String> {
    match &opts.label_col {
        Some(c) => frame.column(c).is_ok().then(|| c.clone()),
        None => frame.column(LABEL).is_ok().then(|| LABEL.to_string()),
    }
}

/// The classes of label cells read from one or several files, by the one rule every tabular
/// reader follows: labels that are all canonical integers are ids (classes `0..=max`), otherwise
/// the sorted distinct names are the classes. `None` when no cell holds a label.
pub(super) fn infer_classes<'a>(
    cells: impl Iterator<Item = &'a str>,
    ctx: &str,
) -> Result<Option<Vec<String>>> {
    let distinct: BTreeSet<&str> = cells.collect();
    if distinct.is_empty() {
        return Ok(None);
    }
    if distinct.iter().all(|v| as_id(v).is_some()) {
        let max = distinct.iter().filter_map(|v| as_id(v)).max().unwrap_or(1);
        if max > 10_000 {
            return Err(Error::invalid(ctx, format!("integer labels up to {max}; pass --classes")));
        }
        return Ok(Some((0..=max.max(1)).map(|i| i.to_string()).collect()));
    }
    Ok(Some(distinct.into_iter().map(str::to_string).collect()))
}

/// The label cells of `col` as text (integers and booleans as ids), for [`infer_classes`].
pub(super) fn label_cells(col: &Column, ctx: &str) -> Result<StringChunked> {
    let col = match col.dtype() {
        DataType::String => col.clone(),
        dt if dt.is_integer() || dt == &DataType::Boolean => {
            col.cast(&DataType::Int64).and_then(|c| c.cast(&DataType::String)).ctx(|| ctx.to_string())?
        }
        dt => {
            return Err(Error::invalid(
                ctx,
                format!("label column `{}` holds {dt}; expected class names or integer ids", col.name()),
            ));
        }
    };
    Ok(col.str().ctx(|| ctx.to_string())?.clone())
}

/// A canonical non-negative integer (`0`, `17`; not `007`, `+1`, ` 1`), as a class id.
fn as_id(s: &str) -> Option<i64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// Turns the label column into class ids under `label` (the text column is already `text`).
fn normalize(mut frame: DataFrame, path: &Path, opts: &LoadOptions) -> Result<(DataFrame, Vec<String>)> {
    let ctx = path.display().to_string();
    let dtype = frame.column(TEXT).map(|c| c.dtype().clone()).ctx(|| ctx.clone())?;
    if dtype != DataType::String {
        return Err(Error::invalid(&ctx, format!("text column `{}` holds {dtype}, not text", opts.text_col)));
    }
    let label_col = match &opts.label_col {
        Some(c) => {
            if frame.column(c).is_err() {
                return Err(Error::MissingColumn {
                    context: ctx,
                    column: c.clone(),
                    available: column_list(&frame),
                });
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
        return Err(Error::invalid(
            &ctx,
            format!("both `{label_col}` and `label` columns exist; rename one"),
        ));
    }
    let col = frame.column(&label_col).ctx(|| ctx.clone())?.clone();
    let bad =
        |row: usize, msg: String| Error::parse(path, None, Some(&label_col), format!("row {row}: {msg}"));
    let (ids, classes): (Vec<Option<i32>>, Vec<String>) = match col.dtype() {
        DataType::String => {
            let ca = col.str().ctx(|| ctx.clone())?;
            let classes = match &opts.classes {
                Some(c) => c.clone(),
                None => infer_classes(ca.iter().flatten(), &format!("{ctx}: label column `{label_col}`"))?
                    .unwrap_or_else(|| vec!["0".into(), "1".into()]),
            };
            let c = classes.len() as i64;
            let lookup: std::collections::HashMap<&str, i32> =
                classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as i32)).collect();
            let ids = ca
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    None => Ok(None),
                    Some(v) => match (lookup.get(v).or_else(|| unique_ci(&classes, v, &lookup)), as_id(v)) {
                        (Some(&id), _) => Ok(Some(id)),
                        (None, Some(id)) if id < c => Ok(Some(id as i32)),
                        (None, Some(id)) => Err(bad(
                            row,
                            format!("label {id} outside 0..{c} (classes: {})", classes.join(", ")),
                        )),
                        _ => Err(bad(
                            row,
                            format!("unknown label `{v}` (classes: {}, or ids 0..{c})", classes.join(", ")),
                        )),
                    },
                })
                .collect::<Result<Vec<_>>>()?;
            (ids, classes)
        }
        dt if dt.is_integer() || dt == &DataType::Boolean => {
            let cast = col.cast(&DataType::Int64).ctx(|| ctx.clone())?;
            let ca = cast.i64().ctx(|| ctx.clone())?;
            let classes = match &opts.classes {
                Some(c) => c.clone(),
                None => {
                    let max = ca.max().unwrap_or(0);
                    if max > 10_000 {
                        return Err(Error::invalid(
                            &ctx,
                            format!("label column `{label_col}`: integer labels up to {max}; pass --classes"),
                        ));
                    }
                    (0..=max.max(1)).map(|i| i.to_string()).collect()
                }
            };
            let c = classes.len() as i64;
            let ids = ca
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    Some(v) if v < 0 || v >= c => {
                        Err(bad(row, format!("label {v} outside 0..{c} (classes: {})", classes.join(", "))))
                    }
                    v => Ok(v.map(|v| v as i32)),
                })
                .collect::<Result<Vec<_>>>()?;
            (ids, classes)
        }
        dt => {
            return Err(Error::invalid(
                &ctx,
                format!("label column `{label_col}` holds {dt}; expected class names or integer ids"),
            ));
        }
    };
    frame.drop_in_place(&label_col).ctx(|| ctx.clone())?;
    frame.with_column(Column::new(LABEL.into(), ids)).ctx(|| ctx.clone())?;
    Ok((frame, classes))
}

/// The id of the one class whose name equals `v` ignoring ASCII case (`ham` for `HAM`).
fn unique_ci<'a>(
    classes: &[String],
    v: &str,
    lookup: &'a std::collections::HashMap<&str, i32>,
) -> Option<&'a i32> {
    let mut hits = classes.iter().filter(|c| c.eq_ignore_ascii_case(v));
    match (hits.next(), hits.next()) {
        (Some(c), None) => lookup.get(c.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::as_id;

    #[test]
    fn only_canonical_integers_are_ids() {
        assert_eq!(as_id("0"), Some(0));
        assert_eq!(as_id("17"), Some(17));
        for s in ["007", "+1", " 1", "1.0", "", "-1", "1e3"] {
            assert_eq!(as_id(s), None, "{s:?}");
        }
    }
}
