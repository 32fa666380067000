//! The data layer: datasets as polars frames, loaders for WRENCH / CSV / Parquet / JSONL /
//! COSINE-paper files, writers, and the built-in demo corpus.
//!
//! Every loader produces the same shape: a [`Dataset`] whose frame has a `text` column
//! (String, no nulls), an optional gold `label` column (Int32 class ids, null = unknown), any other
//! columns of the source kept as they were (relation tasks add `entity1`, `entity2`,
//! `span1_start`, `span1_end`, `span2_start`, `span2_end`), the class names, and optionally a
//! pre-computed vote matrix.

mod cosine;
pub mod demo;
pub mod inputs;
pub mod records;
pub mod splits;
mod tabular;
mod wrench;

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::io::{
    FNV_OFFSET, OUTPUTS_RECORD, OutputDir, TMP_SUFFIX, fnv1a64, line_of, parse_toml, read_json, read_parquet,
    read_toml, read_utf8, tmp_path, with_suffix, write_atomic, write_csv, write_frame, write_json,
    write_parquet,
};
pub use inputs::{ENTITY_MARKERS, ModelInput, ModelTexts, model_texts};
pub use splits::{
    FolderColumns, OutputFormat, SplitFiles, SplitParams, load_split_files, split_dataset, write_folder,
};
pub use wrench::load_wrench;

use crate::error::{Context, Error, Result};
use crate::matrix::LabelMatrix;

/// Name of the text column of every [`Dataset`].
pub const TEXT: &str = "text";
/// Name of the gold label column (Int32 class id, null where unknown).
pub const LABEL: &str = "label";
/// Name of a split of rows without gold labels that self-training may pseudo-label.
pub const UNLABELED: &str = "unlabeled";

/// One split of a corpus.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Corpus name (folder or file stem).
    pub name: String,
    /// `train`, `valid`, `test`, `unlabeled`, or the user's name.
    pub split: String,
    /// `text`, optional `label`, other columns.
    pub frame: DataFrame,
    /// Class names; a class id is a position in this list.
    pub classes: Vec<String>,
    /// Votes that came with the data (WRENCH `weak_labels`, COSINE `major`).
    pub votes: Option<LabelMatrix>,
    /// Where it was read from.
    pub source: Option<PathBuf>,
}

impl Dataset {
    /// Builds and validates a dataset: `text` must be a String column without nulls, `label`
    /// (if present) integer ids in `0..classes.len()`, votes (if any) one row per frame row.
    pub fn new(
        name: impl Into<String>,
        split: impl Into<String>,
        frame: DataFrame,
        classes: Vec<String>,
        votes: Option<LabelMatrix>,
    ) -> Result<Self> {
        let ds = Self { name: name.into(), split: split.into(), frame, classes, votes, source: None };
        ds.validate()?;
        Ok(ds)
    }

    pub fn describe(&self) -> String {
        match &self.source {
            Some(p) => format!("{} ({})", p.display(), self.split),
            None => format!("{} ({})", self.name, self.split),
        }
    }

    fn validate(&self) -> Result<()> {
        let ctx = self.describe();
        if self.classes.len() < 2 {
            return Err(Error::invalid(ctx, format!("{} classes; need at least 2", self.classes.len())));
        }
        if let Some(dup) =
            self.classes.iter().enumerate().find(|(i, c)| self.classes[..*i].contains(c)).map(|(_, c)| c)
        {
            return Err(Error::invalid(
                ctx,
                format!("class `{dup}` is listed twice (classes: {})", self.classes.join(", ")),
            ));
        }
        let text = column(&self.frame, TEXT, &ctx)?;
        if text.dtype() != &DataType::String {
            return Err(Error::invalid(ctx, format!("column `text` is {}, expected strings", text.dtype())));
        }
        if let Some(row) = first_null(text) {
            return Err(Error::invalid(ctx, format!("row {row}: missing text (field `text`)")));
        }
        if let Ok(label) = self.frame.column(LABEL) {
            let ca = label.i32().ctx(|| format!("{ctx}: column `label`"))?;
            let c = self.classes.len() as i32;
            if let Some((row, v)) =
                ca.iter().enumerate().find_map(|(i, v)| v.filter(|&v| v < 0 || v >= c).map(|v| (i, v)))
            {
                return Err(Error::invalid(
                    ctx,
                    format!(
                        "row {row}: label {v} outside the {c} classes {:?} (field `label`)",
                        self.classes
                    ),
                ));
            }
        }
        if let Some(v) = &self.votes {
            if v.n_rows() != self.frame.height() {
                return Err(Error::invalid(
                    ctx,
                    format!("{} vote rows for {} data rows", v.n_rows(), self.frame.height()),
                ));
            }
            if v.cardinality() != self.classes.len() {
                return Err(Error::invalid(
                    ctx,
                    format!("votes over {} classes, data has {}", v.cardinality(), self.classes.len()),
                ));
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.frame.height()
    }
    pub fn is_empty(&self) -> bool {
        self.frame.height() == 0
    }

    /// The text column.
    pub fn texts(&self) -> Result<&StringChunked> {
        column(&self.frame, TEXT, &self.describe())?.str().ctx(|| "column `text`".into())
    }

    /// Gold labels (None where unknown), or None when no row has one (no label column, or an
    /// all-null one): a split without gold is never scored as if it had some.
    pub fn gold(&self) -> Option<Vec<Option<u32>>> {
        let ca = self.frame.column(LABEL).ok()?.i32().ok()?;
        if ca.null_count() == ca.len() {
            return None;
        }
        Some(ca.iter().map(|v| v.map(|v| v as u32)).collect())
    }

    /// Fails with a clear message when the split has no rows.
    pub fn require_non_empty(&self) -> Result<()> {
        if self.is_empty() {
            return Err(Error::invalid(self.describe(), "empty split (0 rows)"));
        }
        Ok(())
    }
}

/// The splits of one corpus, in file order (`train`, `valid`, `test`, then others).
#[derive(Debug, Clone, Default)]
pub struct Splits {
    pub splits: Vec<Dataset>,
}

impl Splits {
    /// The split named `name`.
    pub fn get(&self, name: &str) -> Option<&Dataset> {
        self.splits.iter().find(|d| d.split == name)
    }
    /// The split named `name`, or an error listing the ones there are.
    pub fn require(&self, name: &str) -> Result<&Dataset> {
        self.get(name).ok_or_else(|| {
            let have: Vec<&str> = self.splits.iter().map(|d| d.split.as_str()).collect();
            let what = self.splits.first().map_or("dataset".into(), |d| match &d.source {
                Some(p) if self.splits.len() == 1 => p.display().to_string(),
                _ => d.name.clone(),
            });
            Error::invalid(what, format!("no split `{name}` (have: {})", have.join(", ")))
        })
    }
    pub fn names(&self) -> Vec<&str> {
        self.splits.iter().map(|d| d.split.as_str()).collect()
    }
}

/// A supported input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Format {
    /// A WRENCH folder (`train.json`, `valid.json`, `test.json`, `label.json`) or one split file.
    Wrench,
    Csv,
    #[value(alias = "pq")]
    Parquet,
    /// JSON Lines (one object per line).
    #[value(alias = "ndjson")]
    Jsonl,
    /// COSINE-paper JSON arrays of `{text, label, major}`, or its WiC JSON Lines of sentence pairs.
    Cosine,
}

/// How to read a corpus: which columns hold text and gold labels, and the class names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadOptions {
    /// Forced format; `None` detects it from the path (folder with `label.json` → WRENCH,
    /// `.csv`, `.parquet`, `.jsonl`/`.ndjson`, `.json` array → COSINE).
    pub format: Option<Format>,
    /// Source column holding the text (tabular formats). Default `text`.
    pub text_col: String,
    /// Source column holding gold labels (names or ids). Default: `label` when present.
    pub label_col: Option<String>,
    /// Class names. Tabular formats infer them when absent (sorted names, or `0..=max id`);
    /// WRENCH reads `label.json`.
    pub classes: Option<Vec<String>>,
    /// Split name for single-file formats (default: the file stem).
    pub split: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { format: None, text_col: TEXT.into(), label_col: None, classes: None, split: None }
    }
}

/// Loads a corpus: every split of a WRENCH folder, or one split from a file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Splits> {
    // A panic in a parser (ours or a dependency's) becomes an error naming the file.
    std::panic::catch_unwind(|| load_inner(path, opts)).unwrap_or_else(|p| {
        Err(Error::parse(
            path,
            None,
            None,
            format!("the reader panicked: {}", crate::error::panic_message(&p)),
        ))
    })
}

pub(crate) fn load_inner(path: &Path, opts: &LoadOptions) -> Result<Splits> {
    std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let format = match opts.format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    if format == Format::Wrench {
        return wrench::load_wrench_path(path, opts.classes.as_deref());
    }
    if format == Format::Cosine && path.is_dir() {
        return cosine::load_folder(path, opts.classes.as_deref());
    }
    if path.is_dir() {
        // A tabular folder (`train.csv`, `valid.csv`, ...), whatever --format says of its files.
        let files = splits::tabular_folder(path)?.ok_or_else(|| no_dataset_in(path))?;
        let opts =
            LoadOptions { format: opts.format.filter(|f| !matches!(f, Format::Cosine)), ..opts.clone() };
        return splits::load_tabular_folder(path, &files, &opts);
    }
    let split = opts.split.clone().unwrap_or_else(|| file_stem(path));
    let ds = match format {
        Format::Csv | Format::Parquet | Format::Jsonl => {
            // A split file of a dataset folder weaksup wrote reads with the folder's classes.
            let sidecar = match (&opts.classes, splits::split_named_by(path)) {
                (None, Some(_)) => splits::sidecar_classes(path)?,
                _ => None,
            };
            match sidecar {
                Some((_, classes)) => tabular::load(
                    path,
                    format,
                    &split,
                    &LoadOptions { classes: Some(classes), ..opts.clone() },
                )?,
                None => tabular::load(path, format, &split, opts)?,
            }
        }
        Format::Cosine => cosine::load(path, &split, opts.classes.as_deref())?,
        Format::Wrench => unreachable!(),
    };
    Ok(Splits { splits: vec![ds] })
}

pub(crate) fn detect_format(path: &Path) -> Result<Format> {
    // The real error (a symlink loop, a permission problem), not just "not found".
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        if path.join("label.json").is_file() {
            return Ok(Format::Wrench);
        }
        if path.join("train_data.json").is_file() {
            return Ok(Format::Cosine);
        }
        // A tabular folder: the format of its train file (or its first split file).
        let files = splits::tabular_folder(path)?.ok_or_else(|| no_dataset_in(path))?;
        let first = files
            .entries()
            .into_iter()
            .find_map(|(_, e)| e.first().cloned())
            .ok_or_else(|| no_dataset_in(path))?;
        return detect_format(&first);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" => Ok(Format::Csv),
        "parquet" | "pq" => Ok(Format::Parquet),
        "jsonl" | "ndjson" => Ok(Format::Jsonl),
        "json" => {
            // A JSON array is a COSINE-paper file; an object keyed by ids is a WRENCH split.
            let mut head = [0u8; 4096];
            let n = std::io::Read::read(
                &mut std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
                &mut head,
            )
            .map_err(|e| Error::io(path, e))?;
            let first = head[..n]
                .iter()
                .copied()
                .find(|b| !(b.is_ascii_whitespace() || [0xEF, 0xBB, 0xBF].contains(b)));
            match first {
                Some(b'[') => Ok(Format::Cosine),
                // COSINE's WiC files are JSON Lines of sentence pairs.
                Some(b'{') if memchr::memmem::find(&head[..n], b"\"sentence1\"").is_some() => {
                    Ok(Format::Cosine)
                }
                Some(b'{') => Ok(Format::Wrench),
                _ => Err(Error::parse(path, Some(1), None, "neither a JSON array nor a JSON object")),
            }
        }
        _ => Err(Error::invalid(
            path.display().to_string(),
            "cannot tell the format from the extension; pass --format wrench|csv|parquet|jsonl|cosine",
        )),
    }
}

fn no_dataset_in(path: &Path) -> Error {
    Error::invalid(
        path.display().to_string(),
        "a folder without a dataset; expected a WRENCH folder (train.json, valid.json, test.json, label.json), a COSINE-paper folder (train_data.json, dev_data.json, test_data.json) or split files (train.csv, valid.csv, test.csv; or .tsv, .parquet, .jsonl)",
    )
}

fn file_stem(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("data").to_string()
}

fn column<'a>(frame: &'a DataFrame, name: &str, ctx: &str) -> Result<&'a Column> {
    frame.column(name).map_err(|_| Error::MissingColumn {
        context: ctx.to_string(),
        column: name.to_string(),
        available: column_list(frame),
    })
}

pub fn column_list(frame: &DataFrame) -> String {
    frame.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

fn first_null(c: &Column) -> Option<usize> {
    if c.null_count() == 0 {
        return None;
    }
    let mask = c.is_null();
    mask.iter().position(|v| v == Some(true))
}

/// Gives `ds` the class names `target` (the LF files'), by the one rule every command uses:
/// equal lists stay; classes that are bare ids `0..C` take `target`'s names by position (the
/// LF file names the data's ids); the same names in another order or case are mapped by name
/// (gold labels and stored votes renumbered). Anything else is an error listing both.
pub fn align_classes(ds: &mut Dataset, target: &[String]) -> Result<()> {
    if ds.classes == target {
        return Ok(());
    }
    let ids = ds.classes.iter().enumerate().all(|(i, c)| *c == i.to_string());
    if ids && ds.classes.len() == target.len() {
        ds.classes = target.to_vec();
        return Ok(());
    }
    let by_name: Option<Vec<usize>> = (ds.classes.len() == target.len())
        .then(|| {
            ds.classes
                .iter()
                .map(|c| {
                    let exact = target.iter().position(|t| t == c);
                    exact.or_else(|| {
                        let mut hits = target.iter().enumerate().filter(|(_, t)| t.eq_ignore_ascii_case(c));
                        match (hits.next(), hits.next()) {
                            (Some((k, _)), None) => Some(k),
                            _ => None,
                        }
                    })
                })
                .collect::<Option<Vec<usize>>>()
        })
        .flatten()
        .filter(|perm| {
            let mut seen = vec![false; target.len()];
            perm.iter().all(|&k| !std::mem::replace(&mut seen[k], true))
        });
    let Some(perm) = by_name else {
        return Err(Error::Config(format!(
            "the LF files' classes [{}] do not match the classes of {} [{}]: the data's classes must be the same names (any order or case) or ids 0..{}; pass --classes to name them",
            target.join(", "),
            ds.describe(),
            ds.classes.join(", "),
            target.len()
        )));
    };
    if let Ok(label) = ds.frame.column(LABEL) {
        let ca = label.i32().ctx(|| ds.describe())?;
        let mapped: Int32Chunked = ca.iter().map(|v| v.map(|v| perm[v as usize] as i32)).collect();
        let ctx = ds.describe();
        ds.frame.replace(LABEL, mapped.with_name(LABEL.into()).into_column()).ctx(|| ctx)?;
    }
    if let Some(v) = &ds.votes {
        let votes: Vec<crate::matrix::Label> = v
            .votes()
            .iter()
            .map(|&x| if x < 0 { x } else { perm[x as usize] as crate::matrix::Label })
            .collect();
        ds.votes = Some(LabelMatrix::new(votes, v.n_rows(), v.lf_names().to_vec(), v.cardinality())?);
    }
    ds.classes = target.to_vec();
    Ok(())
}

/// How a model's classes correspond to a dataset's: for each model class, the index of the data
/// class it is. Equal lists map one to one; otherwise `map` (pairs `model class → data class`,
/// from `--class-map HAM=ham,SPAM=spam`) must name every model class once and map onto every
/// data class once. Anything else is an error listing both class lists.
pub fn class_mapping(model: &[String], data: &[String], map: &[(String, String)]) -> Result<Vec<usize>> {
    if map.is_empty() {
        if model == data {
            return Ok((0..model.len()).collect());
        }
        return Err(Error::Config(format!(
            "the model predicts [{}] but the data's classes are [{}]; map them with --class-map {}",
            model.join(", "),
            data.join(", "),
            model.iter().zip(data).map(|(m, d)| format!("{m}={d}")).collect::<Vec<_>>().join(",")
        )));
    }
    let mut out = Vec::with_capacity(model.len());
    for m in model {
        let targets: Vec<&(String, String)> = map.iter().filter(|(a, _)| a == m).collect();
        let [(_, d)] = targets.as_slice() else {
            return Err(Error::Config(format!(
                "--class-map must map the model class `{m}` exactly once (model classes: {})",
                model.join(", ")
            )));
        };
        let k = data.iter().position(|c| c == d).ok_or_else(|| {
            Error::Config(format!(
                "--class-map {m}={d}: the data has no class `{d}` (data classes: {})",
                data.join(", ")
            ))
        })?;
        if out.contains(&k) {
            return Err(Error::Config(format!("--class-map maps two model classes onto `{d}`")));
        }
        out.push(k);
    }
    if let Some((a, _)) = map.iter().find(|(a, _)| !model.contains(a)) {
        return Err(Error::Config(format!(
            "--class-map names `{a}`, which is not a model class (model classes: {})",
            model.join(", ")
        )));
    }
    if out.len() != data.len() {
        return Err(Error::Config(format!(
            "--class-map leaves data classes without a model class (data classes: {})",
            data.join(", ")
        )));
    }
    Ok(out)
}

/// Parses `--class-map` items `MODEL=DATA`.
pub fn parse_class_map(items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|i| {
            i.split_once('=')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| Error::Config(format!("--class-map {i}: expected MODEL_CLASS=DATA_CLASS")))
        })
        .collect()
}

/// The built-in demo corpus as [`Splits`] (`train`, `valid`, `test`).
pub fn demo_splits(params: &demo::DemoParams) -> Result<Splits> {
    let corpus = demo::generate(params).map_err(Error::Config)?;
    let mut splits = Vec::new();
    for (name, split) in [("train", &corpus.train), ("valid", &corpus.valid), ("test", &corpus.test)] {
        let frame = DataFrame::new_infer_height(vec![
            Column::new(TEXT.into(), &split.texts),
            Column::new(LABEL.into(), split.labels.iter().map(|&l| l as i32).collect::<Vec<_>>()),
        ])
        .ctx(|| "demo corpus frame".into())?;
        splits.push(Dataset::new("demo", name, frame, corpus.classes.clone(), None)?);
    }
    Ok(Splits { splits })
}

/// The rows of `frame` repeated in order and cut to `n` rows (benchmark corpora such as the
/// 1,000,000-row YouTube set of `shared/bench/youtube_15_lfs.json`).
pub fn repeat_rows(frame: &DataFrame, n: usize) -> Result<DataFrame> {
    if frame.height() == 0 {
        return Err(Error::invalid("repeat_rows", "cannot repeat an empty frame"));
    }
    let mut out = frame.clone();
    while out.height() < n {
        out.vstack_mut(frame).ctx(|| "repeat_rows".into())?;
    }
    let mut out = out.slice(0, n);
    out.rechunk_mut();
    Ok(out)
}

/// The texts of every split of a corpus, concatenated in split order (train, valid, test).
pub fn concat_texts(splits: &Splits) -> Result<DataFrame> {
    concat_columns(splits, &[TEXT.to_string()])
}

/// The columns `names` of every split, concatenated in split order; names that some split lacks
/// are left out (`text` is always kept).
pub fn concat_columns(splits: &Splits, names: &[String]) -> Result<DataFrame> {
    let keep: Vec<&str> = std::iter::once(TEXT)
        .chain(names.iter().map(String::as_str).filter(|n| *n != TEXT))
        .filter(|n| splits.splits.iter().all(|ds| ds.frame.column(n).is_ok()))
        .collect();
    let mut out: Option<DataFrame> = None;
    for ds in &splits.splits {
        let part = ds.frame.select(keep.iter().copied()).ctx(|| format!("{} / {}", ds.name, ds.split))?;
        match out.as_mut() {
            Some(o) => {
                o.vstack_mut(&part).ctx(|| format!("concatenating {} / {}", ds.name, ds.split))?;
            }
            None => out = Some(part),
        }
    }
    out.ok_or_else(|| Error::invalid("concat_columns", "no splits"))
}

/// Hard predictions (the first maximum per row) of `n × C` row-major probabilities.
pub fn argmax_rows(proba: &[f32], c: usize) -> Vec<u32> {
    proba
        .chunks(c.max(1))
        .map(|p| (0..p.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b }) as u32)
        .collect()
}

/// One `prob_<class>` Float32 column per class and the `prediction` Int32 column (class id) for
/// `n × C` row-major probabilities; also returns the predictions.
pub fn prediction_columns(proba: &[f32], classes: &[String]) -> (Vec<Column>, Vec<u32>) {
    let c = classes.len();
    let pred = argmax_rows(proba, c);
    let n = pred.len();
    let mut cols: Vec<Column> = (0..c)
        .map(|k| {
            Column::new(
                format!("prob_{}", classes[k]).into(),
                (0..n).map(|i| proba[i * c + k]).collect::<Vec<f32>>(),
            )
        })
        .collect();
    cols.push(Column::new("prediction".into(), pred.iter().map(|&p| p as i32).collect::<Vec<i32>>()));
    (cols, pred)
}

crate::cli_enum!(Format => "format");
