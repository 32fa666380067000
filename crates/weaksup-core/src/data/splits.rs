//! Splits given as separate files: `--train/--valid/--test/--unlabeled` (each a file, several
//! files, a folder or a glob) and `[data.splits]`, a tabular folder of `train.csv`, `valid.csv`,
//! `test.csv` (or `.tsv`, `.parquet`, `.jsonl`), the folder format [`write_folder`] writes (with
//! its sidecars `classes.json`, `columns.json` and `<split>.votes.parquet`), and [`split_rows`],
//! the row assignment of `weaksup data split`.
//!
//! Class names follow one rule for every file of a corpus: the names given (`--classes`, the LF
//! files' classes, a folder's `classes.json`), else those of the WRENCH / COSINE files among the
//! inputs (which must agree), else inferred from the label cells of *all* tabular files together
//! ([`super::tabular::infer_classes`]), so a valid file that lacks a class gets the same ids as
//! train.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{Dataset, Format, LABEL, LoadOptions, Splits, UNLABELED, tabular};
use crate::error::{Context, Error, Result};
use crate::matrix::LabelMatrix;

/// The split names a corpus may have, in load order.
pub const SPLIT_NAMES: [&str; 4] = ["train", "valid", "test", UNLABELED];

/// Sidecar of a dataset folder: the class names, by id.
pub const CLASSES_FILE: &str = "classes.json";
/// Sidecar of a dataset folder: `[name, type]` of each column in order, so reading it back gives
/// the frame that was written (CSV and JSON Lines cells are read as text).
pub const COLUMNS_FILE: &str = "columns.json";
/// Suffix of a split's stored votes in a dataset folder (`train.votes.parquet`).
pub const VOTES_SUFFIX: &str = ".votes.parquet";

/// The files of each split (`[data.splits]`; `--train/--valid/--test/--unlabeled`). Each entry is
/// a file, a folder (its data files, in name order) or a glob (`data/train-*.csv`); a split of
/// several files is their rows in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitFiles {
    pub train: Vec<PathBuf>,
    pub valid: Vec<PathBuf>,
    pub test: Vec<PathBuf>,
    /// Rows without gold labels that COSINE may pool (`cosine.unlabeled`).
    pub unlabeled: Vec<PathBuf>,
}

impl SplitFiles {
    pub fn is_empty(&self) -> bool {
        self.entries().iter().all(|(_, e)| e.is_empty())
    }
    /// `(split, entries)` in load order.
    pub fn entries(&self) -> [(&'static str, &[PathBuf]); 4] {
        [("train", &self.train), ("valid", &self.valid), ("test", &self.test), (UNLABELED, &self.unlabeled)]
    }
    fn entries_mut(&mut self, split: &str) -> Option<&mut Vec<PathBuf>> {
        match split {
            "train" => Some(&mut self.train),
            "valid" => Some(&mut self.valid),
            "test" => Some(&mut self.test),
            UNLABELED => Some(&mut self.unlabeled),
            _ => None,
        }
    }
}

/// The split a file stem names in a tabular folder (`dev` and `validation` are `valid`).
fn split_of_stem(stem: &str) -> Option<&'static str> {
    match stem.to_ascii_lowercase().as_str() {
        "train" => Some("train"),
        "valid" | "dev" | "validation" => Some("valid"),
        "test" => Some("test"),
        "unlabeled" => Some(UNLABELED),
        _ => None,
    }
}

/// The split a file's name says it holds: `train.csv`, `dev.json`, `test.parquet`, or the
/// COSINE paper's `train_data.json`, `dev_data.json`, `unlabeled_data.json`.
pub fn split_named_by(path: &Path) -> Option<&'static str> {
    let stem = path.file_stem()?.to_str()?;
    let stem = stem.strip_suffix("_data").unwrap_or(stem);
    if stem.ends_with("unlabeled") {
        return Some(UNLABELED);
    }
    split_of_stem(stem)
}

/// Whether `path` (a file) is a sidecar of a dataset folder, not data.
fn is_sidecar(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == CLASSES_FILE
        || name == COLUMNS_FILE
        || name == "label.json"
        || name.ends_with(VOTES_SUFFIX)
        || name.ends_with(".votes.parquet.json")
        || name.starts_with('.')
}

/// Whether `path`'s extension is one the loaders read.
fn is_data_file(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "csv" | "tsv" | "parquet" | "pq" | "jsonl" | "ndjson" | "json")
        && !is_sidecar(path)
}

/// The split files of a tabular folder (`train.csv`, `valid.parquet`, ...), or `None` when the
/// folder has none. Two files for one split (`train.csv` and `train.parquet`) are an error.
pub fn tabular_folder(dir: &Path) -> Result<Option<SplitFiles>> {
    let mut files = SplitFiles::default();
    let mut found = false;
    for path in read_dir_sorted(dir)? {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if !path.is_file() || !is_data_file(&path) || super::records::InputFormat::detect(&path).is_none() {
            continue;
        }
        let Some(split) = split_of_stem(stem) else { continue };
        let slot = files.entries_mut(split).expect("a known split");
        if let Some(other) = slot.first() {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!("two files for split `{split}`: {} and {}", other.display(), path.display()),
            ));
        }
        slot.push(path);
        found = true;
    }
    Ok(found.then_some(files))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        out.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// The files one entry names: the file itself, a folder's data files (name order; sidecars and
/// other files skipped), or a glob's matches (name order). Nothing found is an error.
pub fn expand(entry: &Path) -> Result<Vec<PathBuf>> {
    let text = entry.to_string_lossy();
    let is_glob = text.contains(['*', '?', '[']) && std::fs::metadata(entry).is_err();
    let files = if is_glob {
        let paths =
            glob::glob(&text).map_err(|e| Error::invalid(text.to_string(), format!("bad glob: {e}")))?;
        let mut files = Vec::new();
        for p in paths {
            let p = p.map_err(|e| Error::io(e.path().to_path_buf(), e.into()))?;
            if p.is_file() && !is_sidecar(&p) {
                files.push(p);
            }
        }
        files.sort();
        files
    } else {
        let meta = std::fs::metadata(entry).map_err(|e| Error::io(entry, e))?;
        if meta.is_dir() {
            if entry.join("label.json").is_file() || entry.join("train_data.json").is_file() {
                return Err(Error::invalid(
                    entry.display().to_string(),
                    "a WRENCH or COSINE folder holds its own splits: pass it as --data (or one of its files here)",
                ));
            }
            read_dir_sorted(entry)?.into_iter().filter(|p| p.is_file() && is_data_file(p)).collect()
        } else {
            vec![entry.to_path_buf()]
        }
    };
    if files.is_empty() {
        return Err(Error::invalid(
            text.to_string(),
            if is_glob {
                "the glob matches no file"
            } else {
                "a folder without data files (csv, tsv, parquet, jsonl, json)"
            },
        ));
    }
    Ok(files)
}

/// One input file of a split, read but (for tabular files) not yet given class ids.
enum Part {
    Tabular { path: PathBuf, frame: DataFrame },
    Loaded(Dataset),
}

/// Loads the splits `files` names. Every file's format is detected (or `opts.format`); classes
/// follow the module's one rule; a split of several files is their rows in order, which must
/// have the same columns (types that differ between files are read as text).
pub fn load_split_files(files: &SplitFiles, opts: &LoadOptions) -> Result<Splits> {
    if files.is_empty() {
        return Err(Error::Config("no split files given (--train, --valid, --test or [data.splits])".into()));
    }
    let mut parts: Vec<(&'static str, Vec<Part>)> = Vec::new();
    for (split, entries) in files.entries() {
        let mut split_parts = Vec::new();
        for entry in entries {
            for path in expand(entry)? {
                let format = match opts.format {
                    Some(f) => f,
                    None => super::detect_format(&path)?,
                };
                split_parts.push(match format {
                    Format::Csv | Format::Parquet | Format::Jsonl => {
                        Part::Tabular { frame: tabular::read(&path, format, opts)?, path }
                    }
                    Format::Wrench | Format::Cosine => {
                        let opts =
                            LoadOptions { format: Some(format), split: Some(split.into()), ..opts.clone() };
                        let mut one = super::load_inner(&path, &opts)?;
                        let mut ds = one.splits.remove(0);
                        ds.split = split.into();
                        Part::Loaded(ds)
                    }
                });
            }
        }
        if !split_parts.is_empty() {
            parts.push((split, split_parts));
        }
    }
    let classes = resolve_classes(&parts, opts)?;
    let opts = LoadOptions { classes: Some(classes.clone()), ..opts.clone() };
    let mut splits = Vec::new();
    for (split, split_parts) in parts {
        let mut datasets = Vec::with_capacity(split_parts.len());
        for part in split_parts {
            datasets.push(match part {
                Part::Tabular { path, frame } => tabular::from_frame(frame, &path, split, &opts)?,
                Part::Loaded(mut ds) => {
                    super::align_classes(&mut ds, &classes)?;
                    ds
                }
            });
        }
        splits.push(concat(datasets, split)?);
    }
    // One corpus name for all splits: the folder of the first file.
    if let Some(name) = splits.first().and_then(|d| d.source.as_deref()).and_then(corpus_name) {
        splits.iter_mut().for_each(|d| d.name = name.clone());
    }
    Ok(Splits { splits })
}

/// The class names of a corpus read from `parts` (the module's one rule).
fn resolve_classes(parts: &[(&str, Vec<Part>)], opts: &LoadOptions) -> Result<Vec<String>> {
    if let Some(c) = &opts.classes {
        return Ok(c.clone());
    }
    let mut given: Option<(&Dataset, &Vec<String>)> = None;
    for part in parts.iter().flat_map(|(_, p)| p) {
        if let Part::Loaded(ds) = part {
            match given {
                None => given = Some((ds, &ds.classes)),
                Some((first, c)) if c != &ds.classes => {
                    return Err(Error::invalid(
                        ds.describe(),
                        format!(
                            "classes [{}] differ from those of {} [{}]; pass --classes",
                            ds.classes.join(", "),
                            first.describe(),
                            c.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if let Some((_, c)) = given {
        return Ok(c.clone());
    }
    // Files of a dataset folder weaksup wrote carry its `classes.json`.
    let mut sidecar: Option<(PathBuf, Vec<String>)> = None;
    for part in parts.iter().flat_map(|(_, p)| p) {
        if let Part::Tabular { path, .. } = part {
            let Some((file, c)) = sidecar_classes(path)? else { continue };
            match &sidecar {
                Some((first, prev)) if *prev != c => {
                    return Err(Error::invalid(
                        file.display().to_string(),
                        format!(
                            "classes [{}] differ from {} [{}]; pass --classes",
                            c.join(", "),
                            first.display(),
                            prev.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
                None => sidecar = Some((file, c)),
            }
        }
    }
    if let Some((_, c)) = sidecar {
        return Ok(c);
    }
    let mut cells: Vec<StringChunked> = Vec::new();
    // Which file labels by id and which by name: both at once cannot be told apart.
    let (mut by_id, mut by_name): (Option<&Path>, Option<&Path>) = (None, None);
    for part in parts.iter().flat_map(|(_, p)| p) {
        let Part::Tabular { path, frame } = part else { continue };
        let Some(col) = tabular::label_column(frame, opts) else { continue };
        let ctx = path.display().to_string();
        let c = tabular::label_cells(frame.column(&col).ctx(|| ctx.clone())?, &ctx)?;
        match tabular::infer_classes(c.iter().flatten(), &ctx)? {
            Some(k) if k.iter().enumerate().all(|(i, n)| *n == i.to_string()) => {
                by_id.get_or_insert(path);
            }
            Some(_) => {
                by_name.get_or_insert(path);
            }
            None => {}
        }
        cells.push(c);
    }
    if let (Some(a), Some(b)) = (by_id, by_name) {
        return Err(Error::invalid(
            b.display().to_string(),
            format!(
                "its labels are class names while {} gives ids: pass --classes (names in id order)",
                a.display()
            ),
        ));
    }
    let first = parts.first().and_then(|(_, p)| p.first()).map_or(String::new(), |p| match p {
        Part::Tabular { path, .. } => path.display().to_string(),
        Part::Loaded(ds) => ds.describe(),
    });
    tabular::infer_classes(cells.iter().flat_map(|c| c.iter().flatten()), &first)?.ok_or_else(|| {
        Error::invalid(
            first,
            "no file has gold labels to infer the classes from: pass the class names (--classes, or the LF files' classes)",
        )
    })
}

/// The rows of `datasets` (one split's files) as one dataset. Columns must match by name; a
/// column whose type differs between files is read as text in all of them.
fn concat(mut datasets: Vec<Dataset>, split: &str) -> Result<Dataset> {
    if datasets.len() == 1 {
        return Ok(datasets.remove(0));
    }
    let first = &datasets[0];
    let names: Vec<PlSmallStr> = first.frame.get_column_names().into_iter().cloned().collect();
    for ds in &datasets[1..] {
        let mut a: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut b: Vec<&str> = ds.frame.get_column_names().iter().map(|s| s.as_str()).collect();
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Err(Error::invalid(
                ds.describe(),
                format!(
                    "its columns [{}] differ from those of {} [{}]; the files of one split must share their columns",
                    b.join(", "),
                    first.describe(),
                    a.join(", ")
                ),
            ));
        }
    }
    // One type per column: the files' own when they agree, else text.
    let mut types: Vec<DataType> = Vec::with_capacity(names.len());
    for n in &names {
        let dt = first.frame.column(n).ctx(|| first.describe())?.dtype().clone();
        let agree = datasets.iter().all(|d| d.frame.column(n).is_ok_and(|c| c.dtype() == &dt));
        types.push(if agree { dt } else { DataType::String });
    }
    let votes = concat_votes(&datasets)?;
    let mut frame: Option<DataFrame> = None;
    for ds in &datasets {
        let cols = names
            .iter()
            .zip(&types)
            .map(|(n, t)| ds.frame.column(n).and_then(|c| c.cast(t)))
            .collect::<PolarsResult<Vec<Column>>>()
            .ctx(|| ds.describe())?;
        let part = DataFrame::new_infer_height(cols).ctx(|| ds.describe())?;
        match frame.as_mut() {
            Some(f) => {
                f.vstack_mut(&part).ctx(|| ds.describe())?;
            }
            None => frame = Some(part),
        }
    }
    let mut frame = frame.expect("at least two datasets");
    frame.rechunk_mut();
    let name =
        datasets[0].source.as_deref().and_then(corpus_name).unwrap_or_else(|| datasets[0].name.clone());
    let mut ds = Dataset::new(name, split, frame, datasets[0].classes.clone(), votes)?;
    ds.source = datasets[0].source.clone();
    Ok(ds)
}

/// The stored votes of several files of one split: all or none must have them, over the same LFs.
fn concat_votes(datasets: &[Dataset]) -> Result<Option<LabelMatrix>> {
    let with: Vec<&Dataset> = datasets.iter().filter(|d| d.votes.is_some()).collect();
    if with.is_empty() {
        return Ok(None);
    }
    if with.len() != datasets.len() {
        let without = datasets.iter().find(|d| d.votes.is_none()).expect("one without votes");
        return Err(Error::invalid(
            without.describe(),
            format!(
                "has no stored votes while {} has; the files of one split must agree",
                with[0].describe()
            ),
        ));
    }
    let first = with[0].votes.as_ref().expect("votes");
    let mut data = Vec::new();
    let mut rows = 0;
    for ds in datasets {
        let v = ds.votes.as_ref().expect("votes");
        if v.lf_names() != first.lf_names() {
            return Err(Error::invalid(
                ds.describe(),
                format!("stored votes of {} LFs differ from {}'s", v.n_lfs(), with[0].describe()),
            ));
        }
        data.extend_from_slice(v.votes());
        rows += v.n_rows();
    }
    Ok(Some(LabelMatrix::new(data, rows, first.lf_names().to_vec(), first.cardinality())?))
}

/// A corpus name for files of a folder: the folder's name.
fn corpus_name(file: &Path) -> Option<String> {
    file.parent()?.file_name()?.to_str().map(str::to_string)
}

/// The `classes.json` beside a data file (a split file of a dataset folder weaksup wrote) and the
/// class names it gives, when there is one.
pub(super) fn sidecar_classes(file: &Path) -> Result<Option<(PathBuf, Vec<String>)>> {
    let sidecar = file.parent().unwrap_or(Path::new(".")).join(CLASSES_FILE);
    if !sidecar.is_file() {
        return Ok(None);
    }
    let classes = crate::io::read_json(&sidecar)?;
    Ok(Some((sidecar, classes)))
}

/// Loads a tabular folder (`train.csv`, `valid.csv`, ...) with its sidecars: `classes.json`
/// (unless classes are given; read by [`load_split_files`]' class rule), `columns.json` (column
/// types) and `<split>.votes.parquet` (the votes stored with the data).
pub(super) fn load_tabular_folder(dir: &Path, files: &SplitFiles, opts: &LoadOptions) -> Result<Splits> {
    let mut splits = load_split_files(files, opts)?;
    let columns_file = dir.join(COLUMNS_FILE);
    let types: Option<Vec<(String, String)>> =
        columns_file.is_file().then(|| crate::io::read_json(&columns_file)).transpose()?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("data").to_string();
    for ds in &mut splits.splits {
        ds.name = name.clone();
        if let Some(types) = &types {
            let ctx = ds.describe();
            cast_columns(&mut ds.frame, types, &columns_file, &ctx)?;
        }
        let votes_file = dir.join(format!("{}{VOTES_SUFFIX}", ds.split));
        if votes_file.is_file() {
            let (votes, vote_classes) = LabelMatrix::read_parquet(&votes_file)?;
            if vote_classes != ds.classes {
                return Err(Error::invalid(
                    votes_file.display().to_string(),
                    format!(
                        "votes over classes [{}], the data's are [{}]",
                        vote_classes.join(", "),
                        ds.classes.join(", ")
                    ),
                ));
            }
            if votes.n_rows() != ds.len() {
                return Err(Error::invalid(
                    votes_file.display().to_string(),
                    format!("{} vote rows for {} data rows in {}", votes.n_rows(), ds.len(), ds.describe()),
                ));
            }
            ds.votes = Some(votes);
        }
    }
    Ok(splits)
}

/// The type names `columns.json` uses (polars' own, lower case).
fn type_name(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        DataType::Boolean => "bool",
        DataType::Int8 => "i8",
        DataType::Int16 => "i16",
        DataType::Int32 => "i32",
        DataType::Int64 => "i64",
        DataType::UInt8 => "u8",
        DataType::UInt16 => "u16",
        DataType::UInt32 => "u32",
        DataType::UInt64 => "u64",
        DataType::Float32 => "f32",
        DataType::Float64 => "f64",
        DataType::String => "str",
        _ => return None,
    })
}

fn type_of_name(name: &str) -> Option<DataType> {
    Some(match name {
        "bool" => DataType::Boolean,
        "i8" => DataType::Int8,
        "i16" => DataType::Int16,
        "i32" => DataType::Int32,
        "i64" => DataType::Int64,
        "u8" => DataType::UInt8,
        "u16" => DataType::UInt16,
        "u32" => DataType::UInt32,
        "u64" => DataType::UInt64,
        "f32" => DataType::Float32,
        "f64" => DataType::Float64,
        "str" => DataType::String,
        _ => return None,
    })
}

/// Casts the columns `types` names (strictly: a cell that does not parse is an error naming it)
/// and puts the columns in its order (columns it does not list follow).
fn cast_columns(frame: &mut DataFrame, types: &[(String, String)], file: &Path, ctx: &str) -> Result<()> {
    for (name, t) in types {
        if name == LABEL || t == "parquet" {
            continue;
        }
        let dt = type_of_name(t)
            .ok_or_else(|| Error::parse(file, None, Some(name), format!("unknown column type `{t}`")))?;
        let Ok(col) = frame.column(name) else { continue };
        if col.dtype() == &dt {
            continue;
        }
        let cast = col.strict_cast(&dt).map_err(|_| {
            let bad = col.cast(&dt).ok().and_then(|c| {
                (0..c.len())
                    .find(|&i| c.get(i).is_ok_and(|v| v.is_null()) && col.get(i).is_ok_and(|v| !v.is_null()))
            });
            Error::invalid(
                ctx,
                format!(
                    "column `{name}`: {} is not a {t} ({} says so)",
                    bad.and_then(|i| col.get(i).ok().map(|v| format!("row {i}: `{v}`"))).unwrap_or_default(),
                    file.display()
                ),
            )
        })?;
        frame.replace(name, cast).ctx(|| ctx.to_string())?;
    }
    let listed: Vec<&str> =
        types.iter().map(|(n, _)| n.as_str()).filter(|n| frame.column(n).is_ok()).collect();
    let rest: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !listed.contains(&n.as_str()))
        .collect();
    let order: Vec<&str> = listed.iter().copied().chain(rest.iter().map(String::as_str)).collect();
    *frame = frame.select(order).ctx(|| ctx.to_string())?;
    Ok(())
}

/// A file type dataset folders are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum OutputFormat {
    Parquet,
    Csv,
    /// JSON Lines.
    Jsonl,
}

impl OutputFormat {
    pub fn ext(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
            OutputFormat::Jsonl => "jsonl",
        }
    }
}

crate::cli_enum!(OutputFormat => "output format");

/// Writes `splits` as a dataset folder that [`super::load`] reads back as the same splits:
/// `<split>.<ext>` per split, `classes.json`, `columns.json` (CSV / JSON Lines) and
/// `<split>.votes.parquet` for votes stored with the data. Returns the files written.
///
/// `columns` names the text and label columns in the files (`text` and `label` by default;
/// `weaksup data split` keeps the source's names so that its files read like the source).
pub fn write_folder(
    splits: &Splits,
    dir: &Path,
    format: OutputFormat,
    columns: &FolderColumns,
) -> Result<Vec<PathBuf>> {
    let first = splits.splits.first().ok_or_else(|| Error::invalid("write_folder", "no splits"))?;
    let mut written = Vec::new();
    // `[name, type]` of every column in frame order, under the loader's names (`text`, `label`).
    let mut types: Vec<(String, String)> = Vec::new();
    for ds in &splits.splits {
        if ds.classes != first.classes {
            return Err(Error::invalid(ds.describe(), "splits with different classes"));
        }
        if split_of_stem(&ds.split).is_none_or(|s| s != ds.split) {
            return Err(Error::invalid(
                ds.describe(),
                format!(
                    "split `{}` cannot be written as a dataset folder (splits: {})",
                    ds.split,
                    SPLIT_NAMES.join(", ")
                ),
            ));
        }
        let path = dir.join(format!("{}.{}", ds.split, format.ext()));
        let mut frame = ds.frame.clone();
        for col in frame.columns() {
            let dt = col.dtype();
            let t = if col.name() == LABEL {
                "label"
            } else {
                match (type_name(dt), format) {
                    (Some(t), _) => t,
                    (None, OutputFormat::Parquet) => "parquet",
                    (None, _) => {
                        return Err(Error::invalid(
                            ds.describe(),
                            format!(
                                "column `{}` holds {dt}, which {} cannot hold; write Parquet",
                                col.name(),
                                format.ext()
                            ),
                        ));
                    }
                }
            };
            let entry = (col.name().to_string(), t.to_string());
            match types.iter().find(|(n, _)| *n == entry.0) {
                Some(prev) if *prev != entry => {
                    return Err(Error::invalid(
                        ds.describe(),
                        format!("column `{}` is {} here and {} in another split", entry.0, entry.1, prev.1),
                    ));
                }
                Some(_) => {}
                None => types.push(entry),
            }
        }
        if format != OutputFormat::Parquet {
            // Text formats hold class names, which read back by name (Parquet keeps the ids).
            if let Ok(label) = frame.column(LABEL) {
                let ids = label.i32().ctx(|| ds.describe())?;
                let names: StringChunked =
                    ids.iter().map(|v| v.map(|v| ds.classes[v as usize].as_str())).collect();
                frame.replace(LABEL, names.with_name(LABEL.into()).into_column()).ctx(|| ds.describe())?;
            }
        }
        for (from, to) in [(super::TEXT, &columns.text), (LABEL, &columns.label)] {
            if from != to && frame.column(from).is_ok() {
                if frame.column(to).is_ok() {
                    return Err(Error::invalid(
                        ds.describe(),
                        format!("cannot name column `{from}` `{to}`: a column of that name exists"),
                    ));
                }
                frame.rename(from, to.as_str().into()).ctx(|| ds.describe())?;
            }
        }
        match format {
            OutputFormat::Parquet => crate::io::write_parquet(&mut frame, &path)?,
            OutputFormat::Csv => crate::io::write_csv(&mut frame, &path)?,
            OutputFormat::Jsonl => crate::io::write_jsonl(&mut frame, &path)?,
        }
        written.push(path);
        if let Some(v) = &ds.votes {
            let p = dir.join(format!("{}{VOTES_SUFFIX}", ds.split));
            v.write_parquet(&p, &ds.classes)?;
            written.push(p);
        }
    }
    let p = dir.join(CLASSES_FILE);
    crate::io::write_json(&p, &first.classes)?;
    written.push(p);
    let p = dir.join(COLUMNS_FILE);
    crate::io::write_json(&p, &types)?;
    written.push(p);
    Ok(written)
}

/// The names of the text and label columns in the files [`write_folder`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderColumns {
    pub text: String,
    pub label: String,
}

impl Default for FolderColumns {
    fn default() -> Self {
        Self { text: super::TEXT.into(), label: LABEL.into() }
    }
}

/// Fractions of rows for `weaksup data split`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitParams {
    pub valid: f64,
    pub test: f64,
    /// Keep each gold class's share in every split (rows without gold form their own stratum).
    pub stratify: bool,
    pub seed: u64,
}

/// Which split each row goes to (`0` train, `1` valid, `2` test). Rows are shuffled with `seed`
/// (ChaCha8) within each stratum (a gold class, or all rows without `stratify`); the first
/// `round(n · valid)` go to valid, the next `round(n · test)` to test, the rest to train. Same
/// seed and data ⇒ same assignment.
pub fn split_rows(gold: Option<&[Option<u32>]>, n: usize, p: &SplitParams) -> Result<Vec<u8>> {
    if !(0.0..1.0).contains(&p.valid) || !(0.0..1.0).contains(&p.test) || p.valid + p.test >= 1.0 {
        return Err(Error::Config(format!(
            "--valid {} and --test {} must be fractions in [0, 1) that leave rows for train",
            p.valid, p.test
        )));
    }
    let mut strata: BTreeMap<Option<u32>, Vec<usize>> = BTreeMap::new();
    match (p.stratify, gold) {
        (true, Some(g)) => {
            for (i, c) in g.iter().enumerate() {
                strata.entry(*c).or_default().push(i);
            }
        }
        (true, None) => {
            return Err(Error::Config("--stratify needs gold labels, and the data has none".into()));
        }
        (false, _) => {
            strata.insert(None, (0..n).collect());
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(p.seed);
    let mut out = vec![0u8; n];
    for rows in strata.values_mut() {
        rows.shuffle(&mut rng);
        let k = rows.len() as f64;
        let n_valid = (k * p.valid).round() as usize;
        let n_test = ((k * p.test).round() as usize).min(rows.len() - n_valid);
        for &i in &rows[..n_valid] {
            out[i] = 1;
        }
        for &i in &rows[n_valid..n_valid + n_test] {
            out[i] = 2;
        }
    }
    Ok(out)
}

/// `ds`'s rows as `train`, `valid`, `test` splits by [`split_rows`] (each in the file's row order;
/// stored votes follow their rows). A split that gets no rows is left out.
pub fn split_dataset(ds: &Dataset, p: &SplitParams) -> Result<Splits> {
    let gold = ds.gold();
    let assign = split_rows(gold.as_deref(), ds.len(), p)?;
    let mut splits = Vec::new();
    for (k, name) in ["train", "valid", "test"].into_iter().enumerate() {
        let rows: Vec<IdxSize> =
            (0..ds.len()).filter(|&i| assign[i] as usize == k).map(|i| i as IdxSize).collect();
        if rows.is_empty() {
            continue;
        }
        let idx = IdxCa::from_vec("rows".into(), rows.clone());
        let frame = ds.frame.take(&idx).ctx(|| ds.describe())?;
        let votes = ds
            .votes
            .as_ref()
            .map(|v| v.select_rows(&rows.iter().map(|&r| r as usize).collect::<Vec<_>>()))
            .transpose()?;
        let mut part = Dataset::new(ds.name.clone(), name, frame, ds.classes.clone(), votes)?;
        part.source = ds.source.clone();
        splits.push(part);
    }
    Ok(Splits { splits })
}
