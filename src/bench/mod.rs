//! `weaksup bench`: a grid of datasets × methods × seeds from one config, against supervised
//! baselines. Every finished cell is written to `<out>/cells/` atomically, so a rerun skips it;
//! a failing cell is recorded and the others still run. The tables (Markdown, CSV, JSON) and an
//! SVG bar chart summarise mean ± std over seeds with wall time per cell, and COSINE − stage 1
//! paired by seed with a 95% interval ([`paired`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::{self, Splits};
use crate::error::{Error, Result, panic_message};
use crate::label_model::{LabelModelConfig, score};
use crate::lf::Registry;
use crate::metrics::{Metric, Scores};
use crate::model::{EndModelConfig, ResolvedEndModel};
use crate::progress::{NoProgress, Progress};
use crate::report::svg;
use crate::run::pipeline::{
    self, EndModelRun, Method, Roles, Supervise, Supervision, Targets, Training, VoteSource, Votes,
};
use crate::run::{DataConfig, LfConfig};
use crate::selftrain::CosineConfig;
use crate::train::TrainConfig;
use weaksup_core::seeds::Seeds;

mod paired;
mod token;
pub use paired::{Paired, mean_std, paired, t975};

/// A benchmarked method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum BenchMethod {
    /// The label model alone (all test rows, uncovered rows by the configured policy).
    #[value(alias = "label-model")]
    LabelModel,
    /// The end model on the label model's labels (stage 1).
    Weak,
    /// Stage 1 then COSINE.
    Cosine,
    /// The end model on gold train labels (supervised upper bound).
    Gold,
    /// The end model on the clean validation set only (half trains, half early-stops).
    Valid,
}

impl BenchMethod {
    pub fn name(&self) -> &'static str {
        match self {
            BenchMethod::LabelModel => "label model",
            BenchMethod::Weak => "weak labels (stage 1)",
            BenchMethod::Cosine => "COSINE",
            BenchMethod::Gold => "gold train labels",
            BenchMethod::Valid => "clean valid only",
        }
    }
}

/// The score a dataset is reported on: a classification [`Metric`], or for token data (sequence
/// labeling) span F1 (seqeval's default chunking, micro over types) or token micro F1 excluding
/// `O` ([`crate::token::evaluate_tags`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchMetric {
    #[default]
    Accuracy,
    BinaryF1,
    MacroF1,
    SpanF1,
    TokenF1,
}

impl BenchMetric {
    pub fn name(self) -> &'static str {
        match self.classification() {
            Some(m) => m.name(),
            None if self == BenchMetric::SpanF1 => "span F1",
            None => "token F1",
        }
    }
    /// The classification metric, `None` for the token metrics.
    pub fn classification(self) -> Option<Metric> {
        match self {
            BenchMetric::Accuracy => Some(Metric::Accuracy),
            BenchMetric::BinaryF1 => Some(Metric::BinaryF1),
            BenchMetric::MacroF1 => Some(Metric::MacroF1),
            BenchMetric::SpanF1 | BenchMetric::TokenF1 => None,
        }
    }
    /// The score of a tagger's (or token label model's) evaluation, `None` for the
    /// classification metrics.
    pub fn of_tags(self, e: &crate::token::TagEvaluation) -> Option<f64> {
        match self {
            BenchMetric::SpanF1 => Some(e.span.micro.f1),
            BenchMetric::TokenF1 => Some(e.token.micro.f1),
            _ => None,
        }
    }
}

/// One dataset of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchDataset {
    /// Short name used in tables and cell files.
    pub name: String,
    /// Where the data comes from (`path` absent: the demo corpus). A path starting with
    /// `shared:` is resolved in `$WEAKSUP_SHARED`, else `../shared`.
    #[serde(default)]
    pub data: DataConfig,
    /// LF files (default: the data's stored votes; the built-in LFs for the demo corpus).
    #[serde(default)]
    pub lfs: LfConfig,
    /// Metric on test (and for selection and early stopping). Default accuracy; token data
    /// takes `span_f1` or `token_f1` (taggers early-stop on span F1 either way).
    #[serde(default)]
    pub metric: BenchMetric,
    /// Keys of the grid's `[train]` this dataset overrides (e.g. `train = { max_steps = 600 }`).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub train: toml::Table,
    /// Keys of the grid's `[cosine]` this dataset overrides.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub cosine: toml::Table,
    /// Keys of the grid's `[end_model]` this dataset overrides: only those of
    /// [`DATASET_END_MODEL_KEYS`] (how its rows are read), never the model or the machine.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub end_model: toml::Table,
}

/// The `[end_model]` keys a dataset may override: what its rows are and how long they get.
pub const DATASET_END_MODEL_KEYS: [&str; 3] = ["input", "pooling", "max_len"];

impl BenchDataset {
    /// The grid's trainer settings with this dataset's overrides.
    pub fn train_config(&self, grid: &TrainConfig) -> Result<TrainConfig> {
        overlay(grid, &self.train, &format!("datasets.{}.train", self.name))
    }
    /// The grid's COSINE settings with this dataset's overrides.
    pub fn cosine_config(&self, grid: &CosineConfig) -> Result<CosineConfig> {
        overlay(grid, &self.cosine, &format!("datasets.{}.cosine", self.name))
    }
    /// The grid's resolved end model with this dataset's overrides (input, pooling, length).
    pub fn end_model(&self, grid: &ResolvedEndModel) -> Result<ResolvedEndModel> {
        let what = format!("datasets.{}.end_model", self.name);
        if let Some(k) = self.end_model.keys().find(|k| !DATASET_END_MODEL_KEYS.contains(&k.as_str())) {
            return Err(Error::Config(format!(
                "{what}: `{k}` cannot differ per dataset (allowed: {})",
                DATASET_END_MODEL_KEYS.join(", ")
            )));
        }
        let config: EndModelConfig = overlay(&grid.config, &self.end_model, &what)?;
        config.validate().map_err(|e| Error::Config(format!("{what}: {e}")))?;
        Ok(ResolvedEndModel { config, ..grid.clone() })
    }
}

/// `base` with the keys of `over` replaced; an unknown key or a bad value is an error naming
/// `what` and the key.
fn overlay<T: Serialize + serde::de::DeserializeOwned>(
    base: &T,
    over: &toml::Table,
    what: &str,
) -> Result<T> {
    let mut table = match toml::Value::try_from(base) {
        Ok(toml::Value::Table(t)) => t,
        Ok(_) | Err(_) => return Err(Error::Config(format!("{what}: the grid's settings are not a table"))),
    };
    for (k, v) in over {
        table.insert(k.clone(), v.clone());
    }
    T::deserialize(toml::Value::Table(table)).map_err(|e| Error::Config(format!("{what}: {e}")))
}

/// A benchmark grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchConfig {
    /// Output folder. Default `bench/out`.
    pub out: PathBuf,
    /// Seeds; every cell runs once per seed. Default [1, 2, 3].
    pub seeds: Vec<u64>,
    /// Default: all five.
    pub methods: Vec<BenchMethod>,
    pub datasets: Vec<BenchDataset>,
    pub label_model: LabelModelConfig,
    pub end_model: EndModelConfig,
    /// Default: the run's (at most 300 steps, validation every 25, patience 4).
    pub train: TrainConfig,
    pub cosine: CosineConfig,
    /// Leave rows whose LF votes tie out of stage 1 (the `weak` and `cosine` cells), as
    /// `drop_tied` in `weaksup run`. Default false.
    pub drop_tied: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            out: PathBuf::from("bench/out"),
            seeds: vec![1, 2, 3],
            methods: vec![
                BenchMethod::LabelModel,
                BenchMethod::Weak,
                BenchMethod::Cosine,
                BenchMethod::Gold,
                BenchMethod::Valid,
            ],
            datasets: Vec::new(),
            label_model: LabelModelConfig::default(),
            end_model: EndModelConfig::default(),
            train: TrainConfig::default(),
            cosine: CosineConfig::default(),
            drop_tied: false,
        }
    }
}

/// Resolves `shared:<rest>` against `$WEAKSUP_SHARED` (else `../shared`).
pub fn shared_path(p: &Path) -> PathBuf {
    match p.to_str().and_then(|s| s.strip_prefix("shared:")) {
        Some(rest) => std::env::var_os("WEAKSUP_SHARED")
            .map_or_else(|| PathBuf::from("../shared"), PathBuf::from)
            .join(rest),
        None => p.to_path_buf(),
    }
}

impl BenchConfig {
    /// Why the cells of `old` (an earlier grid in the same folder) cannot be reused by this grid:
    /// any setting other than the seeds, methods and the list of datasets differs, or a dataset
    /// of the same name is defined differently. Adding seeds, methods or datasets extends a grid.
    pub fn mixes_with(&self, old: &BenchConfig) -> Option<String> {
        let keyed = |c: &BenchConfig| -> Vec<(&'static str, String)> {
            fn j<T: Serialize>(v: &T) -> String {
                serde_json::to_string(v).unwrap_or_default()
            }
            vec![
                ("label_model", j(&c.label_model)),
                ("end_model", j(&c.end_model)),
                ("train", j(&c.train)),
                ("cosine", j(&c.cosine)),
                ("drop_tied", j(&c.drop_tied)),
            ]
        };
        for ((key, now), (_, then)) in keyed(self).into_iter().zip(keyed(old)) {
            if now != then {
                return Some(format!("`{key}` differs: {then} before, {now} now"));
            }
        }
        for d in &self.datasets {
            if let Some(o) = old.datasets.iter().find(|o| o.name == d.name)
                && o != d
            {
                return Some(format!("dataset `{}` is defined differently", d.name));
            }
        }
        None
    }

    /// Reads a TOML config; unknown keys are errors naming the line.
    pub fn load(path: &Path) -> Result<Self> {
        data::read_toml(path)
    }
    /// Checks every value and decides what `auto` means on this machine, before any data is read.
    pub fn resolve(&self) -> Result<ResolvedBench> {
        if self.seeds.is_empty() || self.methods.is_empty() || self.datasets.is_empty() {
            return Err(Error::Config("bench: need at least one seed, method and dataset".into()));
        }
        let mut config = self.clone();
        config.label_model.validate()?;
        let end_model = if config.methods.iter().any(|m| *m != BenchMethod::LabelModel) {
            config.train.validate()?;
            config.cosine.validate()?;
            for d in &config.datasets {
                d.train_config(&config.train)?.validate()?;
                d.cosine_config(&config.cosine)?.validate()?;
            }
            let r = config.end_model.resolve()?;
            for d in &config.datasets {
                d.end_model(&r)?;
            }
            config.end_model = r.config.clone();
            Some(r)
        } else {
            None
        };
        Ok(ResolvedBench { config, end_model })
    }
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// A [`BenchConfig`] with every `auto` decided ([`BenchConfig::resolve`]).
#[derive(Debug, Clone)]
pub struct ResolvedBench {
    pub config: BenchConfig,
    pub end_model: Option<ResolvedEndModel>,
}

/// One finished (or failed) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub dataset: String,
    pub method: BenchMethod,
    pub seed: u64,
    pub metric: BenchMetric,
    /// Test score under `metric` (None when the cell failed).
    pub score: Option<f64>,
    /// Classification: the test scores.
    pub test: Option<Scores>,
    /// Token data: span and token scores on test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<crate::token::TagEvaluation>,
    /// Best validation score (early stopping / selection), when there was one.
    pub valid: Option<f64>,
    /// Gold labels the method used: valid rows (selection, early stopping or training) plus, for
    /// `gold`, the train rows.
    pub labelled_rows: usize,
    pub train_rows: usize,
    pub seconds: f64,
    pub error: Option<String>,
}

/// Mean and sample standard deviation over a cell's seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub dataset: String,
    pub method: BenchMethod,
    pub metric: BenchMetric,
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub seconds: f64,
    pub labelled_rows: usize,
    pub failed: usize,
}

/// What a bench run did.
#[derive(Debug, Clone)]
pub struct BenchOutputs {
    pub cells: Vec<Cell>,
    pub summaries: Vec<Summary>,
    pub computed: usize,
    pub skipped: usize,
}

fn cell_path(out: &Path, dataset: &str, method: BenchMethod, seed: u64) -> PathBuf {
    out.join("cells").join(format!("{dataset}__{method}__{seed}.json"))
}

fn read_cell(path: &Path) -> Option<Cell> {
    data::read_json::<Cell>(path).ok().filter(|c| c.error.is_none())
}

/// A dataset loaded once.
enum Loaded {
    Sentences(SentenceData),
    Tokens(Box<token::TokenData>),
}

/// A classification dataset: splits, votes and split roles.
struct SentenceData {
    splits: Splits,
    votes: Votes,
    roles: Roles,
    test: usize,
}

/// `d.data` with `shared:` paths resolved.
fn data_of(d: &BenchDataset) -> DataConfig {
    let mut data = d.data.clone();
    data.path = data.path.as_deref().map(shared_path);
    for list in
        [&mut data.splits.train, &mut data.splits.valid, &mut data.splits.test, &mut data.splits.unlabeled]
    {
        list.iter_mut().for_each(|p| *p = shared_path(p));
    }
    data
}

/// Whether `d` holds token data (its `task`, else judged from the data).
fn is_tagging(d: &BenchDataset) -> bool {
    crate::run::token::resolve_task(&data_of(d)).is_ok_and(|t| t == crate::token::Task::Tagging)
}

fn load(d: &BenchDataset, registry: &Registry, seeds: &Seeds) -> Result<Loaded> {
    let data = data_of(d);
    if crate::run::token::resolve_task(&data)? == crate::token::Task::Tagging {
        return token::load(d, data, registry).map(|t| Loaded::Tokens(Box::new(t)));
    }
    if d.metric.classification().is_none() {
        return Err(Error::Config(format!(
            "dataset `{}`: {} is a metric for token data; this is text classification",
            d.name,
            d.metric.name()
        )));
    }
    let lfs = pipeline::lf_set(&d.lfs, &data, registry)?;
    let splits = pipeline::load_data(&data, seeds, lfs.as_ref().map(|s| s.classes()))?;
    let compiled = lfs.map(|s| s.compile()).transpose()?;
    let source = compiled.as_ref().map_or(VoteSource::Stored, VoteSource::Lfs);
    let votes = pipeline::votes(&splits, source, &d.lfs.apply, &NoProgress)?;
    let roles = pipeline::roles(&splits)?;
    let test = splits
        .splits
        .iter()
        .position(|s| s.split == "test")
        .ok_or_else(|| Error::Config(format!("dataset `{}`: no `test` split", d.name)))?;
    if splits.splits[test].gold().is_none_or(|g| g.iter().all(Option::is_none)) {
        return Err(Error::Config(format!("dataset `{}`: the test split has no gold labels", d.name)));
    }
    Ok(Loaded::Sentences(SentenceData { splits, votes, roles, test }))
}

/// Runs the cells of one dataset and seed that are still missing, handing each to `emit` as
/// soon as it is done (so an interrupted seed keeps its finished cells).
fn run_seed(
    b: &ResolvedBench,
    d: &BenchDataset,
    l: &SentenceData,
    seed: u64,
    todo: &[BenchMethod],
    emit: &mut dyn FnMut(Cell) -> Result<()>,
) -> Result<()> {
    let cfg = &b.config;
    let seeds = Seeds::new(seed);
    let metric = d.metric.classification().ok_or_else(|| {
        Error::Config(format!("dataset `{}`: {} is a metric for token data", d.name, d.metric.name()))
    })?;
    let (train, dev) = (l.roles.train, l.roles.dev.as_ref());
    let n_valid = dev.map_or(0, |(_, g)| g.iter().filter(|x| x.is_some()).count());
    let gold_test = l.splits.splits[l.test].gold().unwrap_or_default();
    let mut lm_cfg = cfg.label_model.clone();
    lm_cfg.metric = metric;
    lm_cfg.predict.seed = seeds.policy();
    let t = Instant::now();
    let weak = pipeline::weak_labels(&lm_cfg, &l.votes, &l.roles)?;
    let sel = &weak.selected;
    let lm_seconds = t.elapsed().as_secs_f64();
    let cell = |method, test: Scores, valid, labelled_rows, train_rows, seconds| Cell {
        dataset: d.name.clone(),
        method,
        seed,
        metric: d.metric,
        score: Some(metric.of(&test)),
        test: Some(test),
        tags: None,
        valid,
        labelled_rows,
        train_rows,
        seconds,
        error: None,
    };
    if todo.contains(&BenchMethod::LabelModel) {
        let e = score(&sel.model, l.votes.of(l.test), &gold_test, &lm_cfg.predict, 1)?;
        emit(cell(
            BenchMethod::LabelModel,
            e.all,
            sel.dev_score,
            n_valid,
            l.votes.of(train).n_rows(),
            lm_seconds,
        ))?;
    }
    let train_cfg = TrainConfig { metric, ..d.train_config(&cfg.train)? };
    let cosine_cfg = d.cosine_config(&cfg.cosine)?;
    let end = |targets: Targets, method: Method| -> Result<EndModelRun> {
        let end_model = b.end_model.as_ref().ok_or_else(|| Error::Config("no end model resolved".into()))?;
        let end_model = &d.end_model(end_model)?;
        let how = Supervise {
            targets: &targets,
            soft: false,
            drop_tied: cfg.drop_tied && targets == Targets::LabelModel,
        };
        let sup = Supervision::build(&l.splits, &l.roles, &how, Some(&weak), Some(&l.votes), &seeds)?;
        let training = Training { method, train: &train_cfg, cosine: &cosine_cfg };
        Ok(pipeline::fit_end_model(end_model, &l.splits, &sup, training, &seeds, None, &NoProgress)?.run)
    };
    let test_name = &l.splits.splits[l.test].split;
    let test_of = |r: &EndModelRun| {
        r.splits
            .iter()
            .find(|s| &s.split == test_name)
            .and_then(|s| s.scores.clone())
            .ok_or_else(|| Error::Config("no test scores".into()))
    };
    let (want_weak, want_cos) = (todo.contains(&BenchMethod::Weak), todo.contains(&BenchMethod::Cosine));
    if want_cos || want_weak {
        // One COSINE run gives both: stage 1 of it is the weak-label cell (same seed, same steps).
        let method = if want_cos { Method::Cosine } else { Method::Weak };
        let r = end(Targets::LabelModel, method)?;
        if want_weak {
            let s1 = if want_cos {
                r.stage1_scores
                    .iter()
                    .find(|(s, _)| s == test_name)
                    .map(|(_, s)| s.clone())
                    .ok_or_else(|| Error::Config("no stage-1 test scores".into()))?
            } else {
                test_of(&r)?
            };
            let secs =
                if want_cos { r.seconds - r.cosine.as_ref().map_or(0.0, |c| c.seconds) } else { r.seconds };
            emit(cell(BenchMethod::Weak, s1, r.stage1.best_score, n_valid, r.train_rows, lm_seconds + secs))?;
        }
        if want_cos {
            let best = r.cosine.as_ref().and_then(|c| c.best_score);
            emit(cell(
                BenchMethod::Cosine,
                test_of(&r)?,
                best,
                n_valid,
                r.train_rows,
                lm_seconds + r.seconds,
            ))?;
        }
    }
    if todo.contains(&BenchMethod::Gold) {
        let r = end(Targets::Gold, Method::Weak)?;
        emit(cell(
            BenchMethod::Gold,
            test_of(&r)?,
            r.stage1.best_score,
            n_valid + r.train_rows,
            r.train_rows,
            r.seconds,
        ))?;
    }
    if todo.contains(&BenchMethod::Valid) {
        let r = end(Targets::Valid, Method::Weak)?;
        emit(cell(BenchMethod::Valid, test_of(&r)?, r.stage1.best_score, n_valid, r.train_rows, r.seconds))?;
    }
    Ok(())
}

fn failed(d: &str, method: BenchMethod, seed: u64, metric: BenchMetric, error: String) -> Cell {
    Cell {
        dataset: d.into(),
        method,
        seed,
        metric,
        score: None,
        test: None,
        tags: None,
        valid: None,
        labelled_rows: 0,
        train_rows: 0,
        seconds: 0.0,
        error: Some(error),
    }
}

/// Runs the grid: cells already in `<out>/cells/` are skipped; failures are recorded (and
/// retried on the next run) without stopping the others. Writes the tables and chart.
pub fn run(b: &ResolvedBench, registry: &Registry, progress: &dyn Progress) -> Result<BenchOutputs> {
    let cfg = &b.config;
    let out = &cfg.out;
    let saved = out.join("config.toml");
    if saved.is_file() {
        let old = BenchConfig::load(&saved)?;
        if let Some(why) = cfg.mixes_with(&old) {
            return Err(Error::Config(format!(
                "{} holds cells of another grid ({why}); its cells would be mixed with this one's: use a new `out`, or delete the folder",
                out.display()
            )));
        }
    }
    std::fs::create_dir_all(out.join("cells")).map_err(|e| Error::io(out, e))?;
    data::write_atomic(&saved, cfg.to_toml().as_bytes())?;
    let methods_of = |d: &BenchDataset| {
        cfg.methods.iter().filter(|&&m| !(m == BenchMethod::Valid && is_tagging(d))).count()
    };
    let total: usize = cfg.datasets.iter().map(methods_of).sum::<usize>() * cfg.seeds.len();
    progress.start("bench cells", total as u64);
    let (mut computed, mut skipped) = (0, 0);
    let mut cells = Vec::new();
    for d in &cfg.datasets {
        let mut loaded: Option<std::result::Result<Loaded, String>> = None;
        // The clean-valid baseline halves the valid split's sentences: not built for taggers.
        let tagging = is_tagging(d);
        for &seed in &cfg.seeds {
            let mut todo = Vec::new();
            for &m in cfg.methods.iter().filter(|&&m| !(tagging && m == BenchMethod::Valid)) {
                match read_cell(&cell_path(out, &d.name, m, seed)) {
                    Some(c) => {
                        cells.push(c);
                        skipped += 1;
                        progress.advance(1);
                    }
                    None => todo.push(m),
                }
            }
            if todo.is_empty() {
                continue;
            }
            progress.message(&format!(
                "{} seed {seed}: {}",
                d.name,
                todo.iter().map(BenchMethod::to_string).collect::<Vec<_>>().join(", ")
            ));
            // Load once per dataset; the demo corpus and label-model policies take the first seed.
            let l = loaded.get_or_insert_with(|| {
                load(d, registry, &Seeds::new(cfg.seeds[0])).map_err(|e| e.to_string())
            });
            let mut emit = |c: Cell| -> Result<()> {
                data::write_json(&cell_path(out, &c.dataset, c.method, c.seed), &c)?;
                computed += 1;
                progress.advance(1);
                cells.push(c);
                Ok(())
            };
            let result = match l {
                Ok(l) => catch_unwind(AssertUnwindSafe(|| match l {
                    Loaded::Sentences(l) => run_seed(b, d, l, seed, &todo, &mut emit),
                    Loaded::Tokens(l) => token::run_seed(b, d, l, seed, &todo, &mut emit),
                }))
                .unwrap_or_else(|p| Err(Error::Config(format!("panicked: {}", panic_message(&p)))))
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            if let Err(e) = result {
                tracing::warn!(dataset = %d.name, seed, error = %e, "bench cell failed");
                // The cells of this seed that did not finish carry the error.
                for &m in todo.iter().filter(|&&m| read_cell(&cell_path(out, &d.name, m, seed)).is_none()) {
                    emit(failed(&d.name, m, seed, d.metric, e.clone()))?;
                }
            }
        }
    }
    progress.finish();
    let summaries = summarise(cfg, &cells);
    write_tables(cfg, &cells, &summaries)?;
    Ok(BenchOutputs { cells, summaries, computed, skipped })
}

/// Mean ± sample std per (dataset, method) in config order.
pub fn summarise(cfg: &BenchConfig, cells: &[Cell]) -> Vec<Summary> {
    let mut by: BTreeMap<(String, BenchMethod), Vec<&Cell>> = BTreeMap::new();
    for c in cells {
        by.entry((c.dataset.clone(), c.method)).or_default().push(c);
    }
    let mut out = Vec::new();
    for d in &cfg.datasets {
        for &m in &cfg.methods {
            let Some(cs) = by.get(&(d.name.clone(), m)) else { continue };
            let ok: Vec<&&Cell> = cs.iter().filter(|c| c.score.is_some()).collect();
            let xs: Vec<f64> = ok.iter().filter_map(|c| c.score).collect();
            let n = xs.len();
            let (mean, std) = mean_std(&xs);
            out.push(Summary {
                dataset: d.name.clone(),
                method: m,
                metric: d.metric,
                n,
                mean,
                std,
                seconds: ok.iter().map(|c| c.seconds).sum::<f64>() / n.max(1) as f64,
                labelled_rows: ok.first().map_or(0, |c| c.labelled_rows),
                failed: cs.len() - n,
            });
        }
    }
    out
}

/// `results.md`, `results.csv` (every cell), `results.json` and `results.svg`.
pub fn write_tables(cfg: &BenchConfig, cells: &[Cell], summaries: &[Summary]) -> Result<()> {
    let out = &cfg.out;
    let mut md = format!(
        "# weaksup bench\n\nModel `{}` ({}, {}); seeds {:?}; stage 1 ≤ {} steps (batch {}{}), COSINE T2 = {}, T3 = {}, ξ = {}. Mean ± sample std over seeds; time is wall seconds per cell (mean). `labelled` counts the gold labels each method used (valid rows for selection / early stopping / training; plus train rows for `gold`).\n\n| dataset | metric | method | mean ± std | seeds | labelled | time (s) |\n|---|---|---|---|---|---|---|\n",
        cfg.end_model.model,
        cfg.end_model.precision,
        cfg.end_model.device,
        cfg.seeds,
        cfg.train.max_steps,
        cfg.train.batch_size,
        if cfg.drop_tied { "; rows with tied votes left out" } else { "" },
        cfg.cosine.t2,
        cfg.cosine.t3,
        cfg.cosine.xi
    );
    for s in summaries {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {}{} | {} | {:.1} |",
            s.dataset,
            s.metric.name(),
            s.method.name(),
            if s.n > 0 { format!("{:.3} ± {:.3}", s.mean, s.std) } else { "–".into() },
            s.n,
            if s.failed > 0 { format!(" ({} failed)", s.failed) } else { String::new() },
            s.labelled_rows,
            s.seconds
        );
    }
    if cfg.methods.contains(&BenchMethod::Valid) && cfg.datasets.iter().any(is_tagging) {
        md.push_str(
            "\n`clean valid only` is not run on token data (the baseline is built for sentence classification).\n",
        );
    }
    let failures: Vec<&Cell> = cells.iter().filter(|c| c.error.is_some()).collect();
    if !failures.is_empty() {
        md.push_str("\nFailed cells (rerun to retry):\n\n");
        for c in failures {
            let _ = writeln!(
                md,
                "- {} / {} / seed {}: {}",
                c.dataset,
                c.method,
                c.seed,
                c.error.as_deref().unwrap_or("")
            );
        }
    }
    let cosine_vs_weak = paired(cfg, cells, BenchMethod::Cosine, BenchMethod::Weak);
    md.push_str(&paired::markdown(&cosine_vs_weak));
    md.push_str("\n![results](results.svg)\n");
    data::write_atomic(&out.join("results.md"), md.as_bytes())?;
    let mut csv = String::from(
        "dataset,method,seed,metric,score,accuracy,macro_f1,binary_f1,valid,labelled_rows,train_rows,seconds,error\n",
    );
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.6}"));
    for c in cells {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{:.3},{}",
            c.dataset,
            c.method,
            c.seed,
            c.metric.name().replace(' ', "_"),
            opt(c.score),
            opt(c.test.as_ref().map(|t| t.accuracy)),
            opt(c.test.as_ref().map(|t| t.macro_f1)),
            opt(c.test.as_ref().and_then(|t| t.binary_f1)),
            opt(c.valid),
            c.labelled_rows,
            c.train_rows,
            c.seconds,
            c.error.as_deref().map_or(String::new(), |e| format!("\"{}\"", e.replace('"', "'")))
        );
    }
    data::write_atomic(&out.join("results.csv"), csv.as_bytes())?;
    #[derive(Serialize)]
    struct Json<'a> {
        summaries: &'a [Summary],
        /// COSINE − stage 1 per dataset, paired by seed.
        cosine_vs_weak: &'a [Paired],
        cells: &'a [Cell],
    }
    data::write_json(&out.join("results.json"), &Json { summaries, cosine_vs_weak: &cosine_vs_weak, cells })?;
    let labels: Vec<String> =
        summaries.iter().map(|s| format!("{} · {}", s.dataset, s.method.name())).collect();
    let chart = svg::bars_with_errors(
        "weaksup bench (test, mean ± std over seeds)",
        "score",
        &labels,
        &summaries.iter().map(|s| s.mean).collect::<Vec<_>>(),
        &summaries.iter().map(|s| s.std).collect::<Vec<_>>(),
    );
    data::write_atomic(&out.join("results.svg"), chart.as_bytes())
}

weaksup_core::cli_enum!(BenchMethod => "bench method");

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(name: &str) -> BenchDataset {
        BenchDataset {
            name: name.into(),
            data: DataConfig::default(),
            lfs: LfConfig::default(),
            metric: BenchMetric::Accuracy,
            train: toml::Table::new(),
            cosine: toml::Table::new(),
            end_model: toml::Table::new(),
        }
    }

    #[test]
    fn a_dataset_overrides_some_keys_of_the_grid_settings() {
        let grid: BenchConfig = toml::from_str(
            r#"
            [[datasets]]
            name = "a"
            train = { max_steps = 600 }
            cosine = { t2 = 900, variant = "official" }
            [[datasets]]
            name = "b"
            [train]
            max_steps = 300
            eval_every = 10
            [cosine]
            xi = 0.7
            "#,
        )
        .unwrap();
        let (a, b) = (&grid.datasets[0], &grid.datasets[1]);
        let ta = a.train_config(&grid.train).unwrap();
        assert_eq!((ta.max_steps, ta.eval_every), (600, 10), "overridden key, grid's other keys");
        let ca = a.cosine_config(&grid.cosine).unwrap();
        assert_eq!((ca.t2, ca.xi, ca.variant), (900, 0.7, crate::selftrain::Variant::Official));
        assert_eq!(b.train_config(&grid.train).unwrap(), grid.train);
        // A typo is refused with the dataset and section named, at resolve time.
        let bad = BenchDataset { cosine: toml::from_str("tee2 = 5").unwrap(), ..demo("c") };
        let e = bad.cosine_config(&grid.cosine).unwrap_err().to_string();
        assert!(e.contains("datasets.c.cosine") && e.contains("tee2"), "{e}");
        let negative = BenchDataset { cosine: toml::from_str("xi = 2.0").unwrap(), ..demo("d") };
        let grid = BenchConfig { datasets: vec![negative], ..grid };
        assert!(grid.resolve().unwrap_err().to_string().contains("cosine.xi"));
        // End-model overrides: how a dataset's rows are read, never the model or the machine.
        let grid_model =
            EndModelConfig { model: crate::model::ModelSource::TinyBert, ..EndModelConfig::default() }
                .resolve()
                .unwrap();
        let rel = BenchDataset {
            end_model: toml::from_str(
                r#"input = "relation"
pooling = "entity"
max_len = 96"#,
            )
            .unwrap(),
            ..demo("r")
        };
        let m = rel.end_model(&grid_model).unwrap();
        assert_eq!(
            (m.config.input, m.config.pooling, m.config.max_len),
            (data::ModelInput::Relation, crate::model::Pooling::Entity, 96)
        );
        assert_eq!(
            (m.config.model.clone(), m.precision),
            (grid_model.config.model.clone(), grid_model.precision)
        );
        let swap = BenchDataset { end_model: toml::from_str(r#"model = "minilm""#).unwrap(), ..demo("s") };
        let e = swap.end_model(&grid_model).unwrap_err().to_string();
        assert!(e.contains("datasets.s.end_model") && e.contains("`model` cannot differ"), "{e}");
        let unmarked =
            BenchDataset { end_model: toml::from_str(r#"pooling = "entity""#).unwrap(), ..demo("u") };
        assert!(unmarked.end_model(&grid_model).unwrap_err().to_string().contains("--input"));
        // Overrides are part of a dataset's definition: changing them does not mix cells.
        let old = BenchConfig { datasets: vec![demo("a")], ..BenchConfig::default() };
        let new = BenchConfig { datasets: vec![a.clone()], ..BenchConfig::default() };
        assert_eq!(new.mixes_with(&old).unwrap(), "dataset `a` is defined differently");
    }

    /// Every grid under `benches/grids` parses, and each dataset's overrides apply and validate
    /// (the model is swapped for `tiny-bert` on the CPU so no download is needed).
    #[test]
    fn shipped_grids_load_and_their_overrides_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/grids");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let cfg = BenchConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let model = EndModelConfig {
                model: crate::model::ModelSource::TinyBert,
                device: crate::model::DeviceChoice::Cpu,
                ..cfg.end_model.clone()
            }
            .resolve()
            .unwrap();
            for d in &cfg.datasets {
                let what = format!("{} / {}", path.display(), d.name);
                d.train_config(&cfg.train)
                    .and_then(|t| t.validate())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                d.cosine_config(&cfg.cosine)
                    .and_then(|c| c.validate())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                d.end_model(&model).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            seen += 1;
        }
        assert!(seen >= 3, "grids found: {seen}");
    }

    fn cell(dataset: &str, method: BenchMethod, seed: u64, score: Option<f64>) -> Cell {
        let error = score.is_none().then(|| "failed".to_string());
        Cell {
            score,
            labelled_rows: 50,
            seconds: 2.0,
            error,
            ..failed(dataset, method, seed, BenchMetric::Accuracy, String::new())
        }
    }

    #[test]
    fn summaries_follow_config_order_and_skip_failed_cells() {
        let cfg = BenchConfig {
            datasets: vec![demo("b"), demo("a")],
            methods: vec![BenchMethod::Cosine, BenchMethod::Weak],
            ..BenchConfig::default()
        };
        let cells = [
            cell("a", BenchMethod::Weak, 1, Some(0.8)),
            cell("a", BenchMethod::Weak, 2, Some(0.9)),
            cell("a", BenchMethod::Weak, 3, None),
            cell("b", BenchMethod::Cosine, 1, Some(0.7)),
            cell("c", BenchMethod::Weak, 1, Some(0.1)),
        ];
        let s = summarise(&cfg, &cells);
        let order: Vec<(&str, BenchMethod)> = s.iter().map(|s| (s.dataset.as_str(), s.method)).collect();
        assert_eq!(
            order,
            [("b", BenchMethod::Cosine), ("a", BenchMethod::Weak)],
            "config order; `c` is not in the grid"
        );
        // numpy: np.mean([0.8, 0.9]) = 0.85, np.std([0.8, 0.9], ddof=1) = 0.0707107
        let a = &s[1];
        assert!((a.mean - 0.85).abs() < 1e-12 && (a.std - 0.070_710_678).abs() < 1e-8, "{a:?}");
        assert_eq!((a.n, a.failed, a.labelled_rows), (2, 1, 50));
        assert_eq!(a.seconds, 2.0, "mean time over finished cells");
        assert_eq!((s[0].n, s[0].std), (1, 0.0));
    }

    #[test]
    fn a_grid_extends_with_seeds_methods_and_datasets_but_not_settings() {
        let old = BenchConfig { datasets: vec![demo("a")], seeds: vec![1], ..BenchConfig::default() };
        let wider = BenchConfig {
            datasets: vec![demo("a"), demo("b")],
            seeds: vec![1, 2],
            methods: vec![BenchMethod::Gold],
            ..old.clone()
        };
        assert_eq!(wider.mixes_with(&old), None);
        let other_lr =
            BenchConfig { train: TrainConfig { lr: Some(1e-3), ..old.train.clone() }, ..old.clone() };
        assert!(other_lr.mixes_with(&old).unwrap().starts_with("`train` differs"));
        let tied = BenchConfig { drop_tied: true, ..old.clone() };
        assert!(tied.mixes_with(&old).unwrap().starts_with("`drop_tied` differs"));
        let redefined = BenchConfig {
            datasets: vec![BenchDataset { metric: BenchMetric::MacroF1, ..demo("a") }],
            ..old.clone()
        };
        assert_eq!(redefined.mixes_with(&old).unwrap(), "dataset `a` is defined differently");
    }

    #[test]
    fn cells_are_named_by_dataset_method_and_seed() {
        let p = cell_path(Path::new("out"), "sms", BenchMethod::LabelModel, 3);
        assert_eq!(p, Path::new("out/cells/sms__label_model__3.json"));
        assert_eq!(shared_path(Path::new("data/x.csv")), Path::new("data/x.csv"));
    }

    #[test]
    fn resolve_refuses_an_empty_grid_before_any_work() {
        let e = BenchConfig::default().resolve().unwrap_err().to_string();
        assert!(e.contains("at least one seed, method and dataset"), "{e}");
    }
}
