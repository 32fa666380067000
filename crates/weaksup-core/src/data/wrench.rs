//! WRENCH folders: `{train,valid,test}.json` objects keyed by string ids (kept in file order),
//! each row `{"label": int, "weak_labels": [int, ...], "data": {"text": ..., [relation fields]}}`,
//! and `label.json` mapping class id → name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use polars::prelude::*;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use super::{Dataset, LABEL, Splits, TEXT};
use crate::error::{Context, Error, Result};
use crate::io::{json_error, read_utf8, strip_bom};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};

/// The split files a WRENCH folder may hold, in load order.
pub const WRENCH_SPLITS: [&str; 3] = ["train", "valid", "test"];

#[derive(Deserialize)]
struct Row {
    label: Option<i64>,
    #[serde(default)]
    weak_labels: Option<Vec<i64>>,
    data: RowData,
}

/// A row's `data` object: `text`, the relation fields, and any other field (kept as a column).
type RowData = serde_json::Map<String, serde_json::Value>;

/// The relation fields a WRENCH relation row carries in `data`.
const RELATION_FIELDS: [&str; 4] = ["entity1", "entity2", "span1", "span2"];

/// All rows of one split file, in file order.
struct Rows(Vec<(String, Row)>);

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object mapping ids to rows")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Rows, A::Error> {
                let mut rows = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((id, row)) = map.next_entry::<String, Row>()? {
                    rows.push((id, row));
                }
                Ok(Rows(rows))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads `label.json` (`{"0": "HAM", "1": "SPAM"}`) into names ordered by id; ids must be `0..C`.
fn read_classes(path: &Path) -> Result<Vec<String>> {
    let map: BTreeMap<String, String> = crate::io::read_json(path)?;
    let mut by_id: Vec<(usize, String)> = Vec::with_capacity(map.len());
    for (k, v) in map {
        let id: usize = k
            .trim()
            .parse()
            .map_err(|_| Error::parse(path, None, Some(&k), format!("class id `{k}` is not an integer")))?;
        by_id.push((id, v));
    }
    by_id.sort();
    for (expect, (id, _)) in by_id.iter().enumerate() {
        if *id != expect {
            return Err(Error::parse(
                path,
                None,
                None,
                format!("class ids must be 0..{}, missing {expect}", by_id.len()),
            ));
        }
    }
    Ok(by_id.into_iter().map(|(_, n)| n).collect())
}

/// Loads every split of a WRENCH folder (those of `train`, `valid`, `test` that exist), or a single
/// split file whose folder holds `label.json`.
pub fn load_wrench_path(path: &Path, classes: Option<&[String]>) -> Result<Splits> {
    let (dir, only) = if path.is_dir() {
        (path.to_path_buf(), None)
    } else {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir, Some(path.to_path_buf()))
    };
    let classes = match classes {
        Some(c) => c.to_vec(),
        None => read_classes(&dir.join("label.json"))?,
    };
    let name = dir.file_name().and_then(|s| s.to_str()).unwrap_or("wrench").to_string();
    let mut splits = Vec::new();
    match only {
        Some(file) => {
            let split = file.file_stem().and_then(|s| s.to_str()).unwrap_or("data").to_string();
            splits.push(load_split(&file, &name, &split, &classes)?);
        }
        None => {
            for split in WRENCH_SPLITS {
                let file = dir.join(format!("{split}.json"));
                if file.is_file() {
                    splits.push(load_split(&file, &name, split, &classes)?);
                }
            }
        }
    }
    if splits.is_empty() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "no split files (expected train.json, valid.json and/or test.json)",
        ));
    }
    Ok(Splits { splits })
}

/// Loads a WRENCH folder (all its splits).
pub fn load_wrench(dir: &Path) -> Result<Splits> {
    load_wrench_path(dir, None)
}

fn load_split(path: &Path, name: &str, split: &str, classes: &[String]) -> Result<Dataset> {
    let text = read_utf8(path)?;
    let Rows(rows) = serde_json::from_str(strip_bom(&text)).map_err(|e| json_error(path, &e))?;
    // Row errors name the id and the 1-based line of the row in the file (WRENCH writes one row a line).
    let line_of_id = |id: &str| {
        let needle = format!("\"{id}\":");
        memchr::memmem::find(text.as_bytes(), needle.as_bytes()).map(|off| crate::io::line_of(&text, off))
    };
    let n = rows.len();
    let c = classes.len() as i64;
    let width = rows.first().and_then(|(_, r)| r.weak_labels.as_ref().map(Vec::len));
    let mut votes: Vec<Label> = Vec::with_capacity(n * width.unwrap_or(0));
    let mut texts = Vec::with_capacity(n);
    let mut labels: Vec<Option<i32>> = Vec::with_capacity(n);
    let relation = rows.first().is_some_and(|(_, r)| r.data.contains_key("span1"));
    let (mut e1, mut e2, mut s1a, mut s1b, mut s2a, mut s2b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Every other `data` field, in first-seen order, one value per row (null where missing).
    let mut extra: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for (i, (_, row)) in rows.iter().enumerate() {
        for (k, v) in &row.data {
            if k == TEXT || (relation && RELATION_FIELDS.contains(&k.as_str())) {
                continue;
            }
            let slot = match extra.iter().position(|(name, _)| name == k) {
                Some(j) => j,
                None => {
                    extra.push((k.clone(), vec![serde_json::Value::Null; n]));
                    extra.len() - 1
                }
            };
            extra[slot].1[i] = v.clone();
        }
    }
    for (id, row) in &rows {
        let bad = |field: &str, msg: String| {
            Error::parse(path, line_of_id(id), Some(field), format!("row id {id}: {msg}"))
        };
        match (&row.weak_labels, width) {
            (Some(w), Some(m)) if w.len() == m => {
                for (j, &v) in w.iter().enumerate() {
                    if v < ABSTAIN as i64 || v >= c {
                        return Err(bad("weak_labels", format!("vote {v} of LF {j} outside -1..{c}")));
                    }
                    votes.push(v as Label);
                }
            }
            (None, None) => {}
            (Some(w), Some(m)) => {
                return Err(bad("weak_labels", format!("{} votes, but the first row has {m}", w.len())));
            }
            (w, _) => {
                return Err(bad(
                    "weak_labels",
                    format!(
                        "{} while other rows {}",
                        if w.is_some() { "present" } else { "missing" },
                        if w.is_some() { "have none" } else { "have votes" }
                    ),
                ));
            }
        }
        match row.label {
            Some(l) if l < 0 || l >= c => {
                return Err(bad("label", format!("label {l} outside the {c} classes of label.json")));
            }
            l => labels.push(l.map(|l| l as i32)),
        }
        let Some(text) = row.data.get(TEXT).and_then(|t| t.as_str()) else {
            return Err(bad("data.text", "missing text (a string)".into()));
        };
        texts.push(text);
        if relation {
            let str_of = |k: &str| row.data.get(k).and_then(|v| v.as_str());
            let span_of = |k: &str| {
                row.data.get(k).and_then(|v| v.as_array()).and_then(|a| match a.as_slice() {
                    [x, y] => Some((x.as_i64()?, y.as_i64()?)),
                    _ => None,
                })
            };
            let (Some(a), Some(b), Some(x), Some(y)) =
                (str_of("entity1"), str_of("entity2"), span_of("span1"), span_of("span2"))
            else {
                return Err(bad("data", "relation row without entity1/entity2/span1/span2".into()));
            };
            e1.push(a);
            e2.push(b);
            s1a.push(x.0);
            s1b.push(x.1);
            s2a.push(y.0);
            s2b.push(y.1);
        }
    }
    let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    let mut cols = vec![
        Column::new("id".into(), ids),
        Column::new(TEXT.into(), texts),
        Column::new(LABEL.into(), labels),
    ];
    if relation {
        cols.extend([
            Column::new("entity1".into(), e1),
            Column::new("entity2".into(), e2),
            Column::new("span1_start".into(), s1a),
            Column::new("span1_end".into(), s1b),
            Column::new("span2_start".into(), s2a),
            Column::new("span2_end".into(), s2b),
        ]);
    }
    for (name, values) in extra {
        // A field whose name the frame already uses keeps it under `data_<name>`.
        let name = if cols.iter().any(|c| c.name().as_str() == name) { format!("data_{name}") } else { name };
        cols.push(json_column(&name, &values));
    }
    let frame = DataFrame::new_infer_height(cols).ctx(|| format!("{}: building frame", path.display()))?;
    let votes = match width {
        Some(m) => {
            Some(LabelMatrix::new(votes, n, (0..m).map(|j| format!("lf_{j}")).collect(), classes.len())?)
        }
        None => None,
    };
    let mut ds = Dataset::new(name, split, frame, classes.to_vec(), votes)?;
    ds.source = Some(path.to_path_buf());
    Ok(ds)
}

/// A column from one JSON value per row, typed by what the values are: booleans, integers,
/// numbers or strings (nulls allowed) keep that type; arrays of integers or of strings become
/// list columns; anything else (mixed types, objects, nested arrays) is kept as its JSON text.
fn json_column(name: &str, values: &[serde_json::Value]) -> Column {
    use serde_json::Value;
    let non_null = || values.iter().filter(|v| !v.is_null());
    let name: PlSmallStr = name.into();
    if non_null().all(Value::is_boolean) {
        return Column::new(name, values.iter().map(Value::as_bool).collect::<Vec<_>>());
    }
    if non_null().all(|v| v.is_i64()) {
        return Column::new(name, values.iter().map(Value::as_i64).collect::<Vec<_>>());
    }
    if non_null().all(Value::is_number) {
        return Column::new(name, values.iter().map(Value::as_f64).collect::<Vec<_>>());
    }
    if non_null().all(Value::is_string) {
        return Column::new(name, values.iter().map(Value::as_str).collect::<Vec<_>>());
    }
    let arrays_of =
        |ok: fn(&Value) -> bool| non_null().all(|v| v.as_array().is_some_and(|a| a.iter().all(ok)));
    if arrays_of(|x| x.is_i64()) {
        let series: Vec<Option<Series>> = values
            .iter()
            .map(|v| {
                v.as_array()
                    .map(|a| Series::new("".into(), a.iter().filter_map(Value::as_i64).collect::<Vec<i64>>()))
            })
            .collect();
        return Column::new(name, series);
    }
    if arrays_of(Value::is_string) {
        let series: Vec<Option<Series>> = values
            .iter()
            .map(|v| {
                v.as_array().map(|a| {
                    Series::new("".into(), a.iter().filter_map(Value::as_str).collect::<Vec<&str>>())
                })
            })
            .collect();
        return Column::new(name, series);
    }
    Column::new(name, values.iter().map(|v| (!v.is_null()).then(|| v.to_string())).collect::<Vec<_>>())
}
