//! COSINE-paper files (Yu et al. 2021): a JSON array of `{"text", "label", "major", "len"}` where
//! `label` is gold and `major` the majority vote of the paper's rules (-1 = no rule fired). The
//! majority vote becomes a one-column vote matrix named `major`. Files named `unlabeled*` carry a
//! placeholder label (= number of classes); their labels are dropped.
//!
//! The paper's WiC files are JSON Lines of sentence pairs instead: `{"sentence1", "sentence2",
//! "word", "start1", "end1", "start2", "end2", "label": bool, "rule_label": bool}`. They load with
//! the classes `false` and `true`, the columns `sentence1`, `sentence2`, `word` and the four
//! target-word offsets (for the `pair` model input), `text` = the two sentences joined by a
//! space (for LFs), and `rule_label` as the one-column vote matrix.

use std::path::Path;

use polars::prelude::*;
use serde::Deserialize;

use super::{Dataset, LABEL, TEXT};
use crate::error::{Context, Error, Result};
use crate::io::{json_error, read_utf8, strip_bom};
use crate::matrix::{Label, LabelMatrix};

#[derive(Deserialize)]
struct Row {
    text: String,
    label: serde_json::Value,
    major: serde_json::Value,
}

fn as_id(v: &serde_json::Value, path: &Path, row: usize, field: &str) -> Result<i64> {
    match v {
        serde_json::Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        serde_json::Value::Array(_) => Err(Error::parse(
            path,
            None,
            Some(field),
            format!("row {row}: token-level labels (sequence labeling, e.g. mitr) are not supported"),
        )),
        other => {
            Err(Error::parse(path, None, Some(field), format!("row {row}: expected an integer, got {other}")))
        }
    }
}

/// A COSINE-paper folder: `train_data.json` → `train`, `dev_data.json` → `valid`,
/// `test_data.json` → `test`, `unlabeled_data.json` (WiC: `train_unlabeled_data.json`) →
/// `unlabeled` (each optional but train), classes inferred from train.
pub(super) fn load_folder(dir: &Path, classes: Option<&[String]>) -> Result<super::Splits> {
    let train = load(&dir.join("train_data.json"), "train", classes)?;
    let classes = train.classes.clone();
    let mut splits = vec![train];
    for (file, split) in [("dev_data.json", "valid"), ("test_data.json", "test")] {
        let p = dir.join(file);
        if p.is_file() {
            splits.push(load(&p, split, Some(&classes))?);
        }
    }
    // The paper's unlabeled rows (`unlabeled_data.json`; WiC: `train_unlabeled_data.json`).
    if let Some(p) =
        ["unlabeled_data.json", "train_unlabeled_data.json"].iter().map(|f| dir.join(f)).find(|p| p.is_file())
    {
        splits.push(load(&p, super::UNLABELED, Some(&classes))?);
    }
    Ok(super::Splits { splits })
}

fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = read_utf8(path)?;
    serde_json::from_str(strip_bom(&text)).map_err(|e| json_error(path, &e))
}

/// Whether a file holds JSON Lines (its first non-blank character opens an object).
fn is_json_lines(text: &str) -> bool {
    strip_bom(text).trim_start().starts_with('{')
}

pub(super) fn load(path: &Path, split: &str, classes: Option<&[String]>) -> Result<Dataset> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let unlabeled = stem.starts_with("unlabeled") || stem.contains("_unlabeled");
    let text = read_utf8(path)?;
    if is_json_lines(&text) {
        return load_pairs(path, &text, split, classes, unlabeled);
    }
    let rows: Vec<Row> = serde_json::from_str(strip_bom(&text)).map_err(|e| json_error(path, &e))?;
    let mut gold = Vec::with_capacity(rows.len());
    let mut major = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        gold.push(as_id(&r.label, path, i, "label")?);
        major.push(as_id(&r.major, path, i, "major")?);
    }
    let classes: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => {
            // Infer the class count from this file, or for unlabeled files from the sibling train file.
            let source: Vec<i64> = if unlabeled {
                let train = path.with_file_name("train_data.json");
                if !train.is_file() {
                    return Err(Error::invalid(
                        path.display().to_string(),
                        "unlabeled file: pass the class names (--classes)",
                    ));
                }
                read_rows(&train)?
                    .iter()
                    .enumerate()
                    .map(|(i, r)| as_id(&r.label, &train, i, "label"))
                    .collect::<Result<_>>()?
            } else {
                gold.iter().chain(&major).copied().collect()
            };
            let max = source.iter().copied().max().unwrap_or(1).max(1);
            (0..=max).map(|i| i.to_string()).collect()
        }
    };
    let c = classes.len() as i64;
    for (i, (&g, &m)) in gold.iter().zip(&major).enumerate() {
        if !unlabeled && (g < 0 || g >= c) {
            return Err(Error::parse(
                path,
                None,
                Some("label"),
                format!("row {i}: label {g} outside 0..{c}"),
            ));
        }
        if m < -1 || m >= c {
            return Err(Error::parse(
                path,
                None,
                Some("major"),
                format!("row {i}: weak label {m} outside -1..{c}"),
            ));
        }
    }
    let labels: Vec<Option<i32>> = gold.iter().map(|&g| (!unlabeled).then_some(g as i32)).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let frame =
        DataFrame::new_infer_height(vec![Column::new(TEXT.into(), texts), Column::new(LABEL.into(), labels)])
            .ctx(|| path.display().to_string())?;
    let votes = LabelMatrix::new(
        major.iter().map(|&m| m as Label).collect(),
        rows.len(),
        vec!["major".into()],
        classes.len(),
    )?;
    let name =
        path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or("cosine").to_string();
    let mut ds = Dataset::new(name, split, frame, classes, Some(votes))?;
    ds.source = Some(path.to_path_buf());
    Ok(ds)
}

#[derive(Deserialize)]
struct PairRow {
    sentence1: String,
    sentence2: String,
    #[serde(default)]
    word: Option<String>,
    label: Option<bool>,
    rule_label: Option<bool>,
    start1: i64,
    end1: i64,
    start2: i64,
    end2: i64,
}

/// A WiC file (JSON Lines of sentence pairs).
fn load_pairs(
    path: &Path,
    text: &str,
    split: &str,
    classes: Option<&[String]>,
    unlabeled: bool,
) -> Result<Dataset> {
    let classes: Vec<String> = match classes {
        Some(c) if c.len() != 2 => {
            return Err(Error::invalid(
                path.display().to_string(),
                format!("sentence-pair labels are true/false, but {} classes were given", c.len()),
            ));
        }
        Some(c) => c.to_vec(),
        None => vec!["false".into(), "true".into()],
    };
    let mut rows = Vec::new();
    for (i, line) in strip_bom(text).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: PairRow = serde_json::from_str(line).map_err(|e| {
            // serde's own position counts within this one line: give the column only.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg);
            Error::parse(
                path,
                Some(i + 1),
                None,
                format!("not a sentence-pair row: {msg} (column {})", e.column()),
            )
        })?;
        rows.push(row);
    }
    let n = rows.len();
    let id = |b: Option<bool>| b.map(i32::from);
    let labels: Vec<Option<i32>> = rows.iter().map(|r| if unlabeled { None } else { id(r.label) }).collect();
    let joined: Vec<String> = rows.iter().map(|r| format!("{} {}", r.sentence1, r.sentence2)).collect();
    let col = |name: &str, f: &dyn Fn(&PairRow) -> i64| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<i64>>())
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new(TEXT.into(), joined),
        Column::new(LABEL.into(), labels),
        Column::new("sentence1".into(), rows.iter().map(|r| r.sentence1.as_str()).collect::<Vec<_>>()),
        Column::new("sentence2".into(), rows.iter().map(|r| r.sentence2.as_str()).collect::<Vec<_>>()),
        Column::new("word".into(), rows.iter().map(|r| r.word.as_deref()).collect::<Vec<_>>()),
        col("start1", &|r| r.start1),
        col("end1", &|r| r.end1),
        col("start2", &|r| r.start2),
        col("end2", &|r| r.end2),
    ])
    .ctx(|| path.display().to_string())?;
    let votes = LabelMatrix::new(
        rows.iter().map(|r| id(r.rule_label).map_or(crate::matrix::ABSTAIN, |v| v as Label)).collect(),
        n,
        vec!["rule_label".into()],
        2,
    )?;
    let name =
        path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or("wic").to_string();
    let mut ds = Dataset::new(name, split, frame, classes, Some(votes))?;
    ds.source = Some(path.to_path_buf());
    Ok(ds)
}
