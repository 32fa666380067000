//! The pipeline's stages, composed by `weaksup run`, `weaksup train` / `cosine` and `weaksup bench`
//! (and nothing else): every command goes through the same functions, in this order.
//!
//! 1. [`load_data`]: the corpus of a [`DataConfig`] (a file or folder, or the demo corpus);
//! 2. [`lf_set`] and [`votes`]: one [`Votes`] per corpus, from LF files applied on the fly, a
//!    folder of saved votes, or the votes stored with the data;
//! 3. [`roles`]: which split the label model and the end model fit on, and which one chooses
//!    (valid, when it has gold labels);
//! 4. [`weak_labels`]: the label model (or `auto`'s choice) fitted and its [`WeakLabels`];
//! 5. [`Supervision::build`]: the end model's training rows and targets;
//! 6. [`fit_end_model`]: the model built from a [`ResolvedEndModel`], trained (stage 1, or stage 1
//!    and COSINE), then every split predicted and scored: a [`FittedEndModel`].

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{DataConfig, LfConfig};
use crate::data::{self, Dataset, LoadOptions, ModelInput, ModelTexts, Splits, demo::DemoParams};
use crate::error::{Context, Error, Result, TorchContext};
use crate::label_model::{LabelModel, LabelModelChoice, LabelModelConfig, Proba, Selected};
use crate::lf::{ApplyOptions, CompiledLfs, LfFile, LfSet, Registry};
use crate::matrix::LabelMatrix;
use crate::metrics::{Scores, scores};
use crate::model::{EndModel, EndModelConfig, ResolvedEndModel};
use crate::progress::Progress;
use crate::selftrain::{self, CosineConfig, CosineData, CosineRun, SelfTrainReport};
use crate::train::checkpoint::Fingerprint;
use crate::train::{self, Encoded, EvalSet, TrainConfig, TrainReport, TrainSet};
use weaksup_core::seeds::Seeds;

/// How the end model is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Method {
    /// No end model: stop after the label model.
    None,
    /// Stage 1 only: the trainer on the targets, early-stopped on valid.
    Weak,
    /// Stage 1, then COSINE self-training (default).
    #[default]
    Cosine,
}

weaksup_core::cli_enum!(Method => "method");

/// What the end model is trained on: `label_model`, `gold`, `valid` or `column:<name>` (one
/// string in configs and on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Targets {
    /// The label model's labels on covered train rows (weak supervision). Default.
    #[default]
    LabelModel,
    /// Gold train labels (the supervised upper bound).
    Gold,
    /// The clean validation set only: half of its labelled rows train, the other half early-stop
    /// (the baseline of "Weaker Than You Think", arXiv:2305.17442). Same labelled budget as the
    /// weak methods, which use all of valid for early stopping and selection.
    Valid,
    /// Class ids or names from a column of the train split.
    Column(String),
}

impl TryFrom<String> for Targets {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Targets> for String {
    fn from(t: Targets) -> String {
        t.to_string()
    }
}

impl std::fmt::Display for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Targets::LabelModel => f.write_str("label_model"),
            Targets::Gold => f.write_str("gold"),
            Targets::Valid => f.write_str("valid"),
            Targets::Column(c) => write!(f, "column:{c}"),
        }
    }
}

impl std::str::FromStr for Targets {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "label_model" | "label-model" => Ok(Targets::LabelModel),
            "gold" => Ok(Targets::Gold),
            "valid" => Ok(Targets::Valid),
            o => match o.strip_prefix("column:") {
                Some(c) if !c.is_empty() => Ok(Targets::Column(c.to_string())),
                _ => Err(Error::Config(format!(
                    "unknown targets `{o}` (expected label_model, gold, valid, column:<name>)"
                ))),
            },
        }
    }
}

/// The built-in LF file of the demo corpus.
fn demo_lfs(registry: &Registry) -> Result<LfSet> {
    let file = LfFile::parse(
        Path::new("<built-in>/labeling_functions/demo_topics.toml"),
        data::demo::DEMO_LF_TOML.to_string(),
    )?;
    let mut set = LfSet::new(file.classes().to_vec())?;
    file.add_to(&mut set, registry)?;
    Ok(set)
}

/// The LF set of a run: its LF files; without files, the built-in LFs for the demo corpus and
/// `None` (the votes stored with the data) for anything else.
pub fn lf_set(lfs: &LfConfig, data: &DataConfig, registry: &Registry) -> Result<Option<LfSet>> {
    if !lfs.files.is_empty() {
        return LfFile::load_set(&lfs.files, registry).map(|(s, _)| Some(s));
    }
    if data.is_demo() {
        return demo_lfs(registry).map(Some);
    }
    Ok(None)
}

/// Loads the corpus of `data` (the demo corpus, seeded by `seeds`, when it has neither a path
/// nor split files). Class names: `data.load.classes`, else those of a WRENCH folder's
/// `label.json` or a dataset folder's `classes.json`, else `lf_classes` (the LF files') for files
/// that only give ids or names. With `data.load.split`, only that split is kept: it must exist
/// (a single file is that split, named so).
pub fn load_data(data: &DataConfig, seeds: &Seeds, lf_classes: Option<&[String]>) -> Result<Splits> {
    if super::token::resolve_task(data)? == crate::token::Task::Tagging {
        return Err(Error::Config(format!(
            "{} holds token-level data (sequence labeling): `lf apply|analyze|bench`, `label-model fit|compare`, `train`, `cosine`, `run` and `predict` take it; this command does not yet (--task classification forces text classification)",
            data.path.as_deref().map_or_else(|| "the split files".to_string(), |p| p.display().to_string())
        )));
    }
    let with_lf_classes = |wrench: bool| {
        data.load.classes.clone().or_else(|| (!wrench).then(|| lf_classes.map(<[String]>::to_vec)).flatten())
    };
    // `one_file`: the data is one file holding one split (named by `--split`, or its file name).
    let (splits, one_file) = match (&data.path, data.splits.is_empty()) {
        (Some(path), false) => {
            return Err(Error::Config(format!(
                "data: both a path ({}) and split files are given; use one",
                path.display()
            )));
        }
        (None, false) => {
            let classes = with_lf_classes(false);
            let load = LoadOptions { classes, split: None, ..data.load.clone() };
            (data::load_split_files(&data.splits, &load)?, false)
        }
        (None, true) => (data::demo_splits(&DemoParams { seed: seeds.demo(), ..data.demo.clone() })?, false),
        (Some(path), true) => {
            let folder = path.is_dir();
            let wrench = matches!(data.load.format, Some(data::Format::Wrench))
                || path.join("label.json").is_file()
                || (folder && path.join(data::splits::CLASSES_FILE).is_file());
            let load = LoadOptions { classes: with_lf_classes(wrench), ..data.load.clone() };
            (data::load(path, &load)?, !folder)
        }
    };
    let mut splits = splits;
    if let Some(lf) = lf_classes.filter(|_| data.load.classes.is_none()) {
        // The one class rule (ids named by position, names matched in any order or case); data
        // it cannot align keeps its classes, and the caller's check (the LF files' classes when
        // votes are applied, the model's in `predict`) reports the mismatch.
        for ds in &mut splits.splits {
            if let Err(e) = data::align_classes(ds, lf) {
                tracing::debug!("classes not aligned: {e}");
            }
        }
    }
    match &data.load.split {
        Some(s) if one_file => {
            let path = data.path.as_deref().expect("one file");
            match data::splits::split_named_by(path) {
                Some(named) if named != s => Err(Error::Config(format!(
                    "{} holds the `{named}` split, not `{s}` (--split names the split of a file whose name does not)",
                    path.display()
                ))),
                _ => {
                    splits.splits.iter_mut().for_each(|d| d.split = s.clone());
                    Ok(splits)
                }
            }
        }
        Some(s) => Ok(Splits { splits: vec![splits.require(s)?.clone()] }),
        None => Ok(splits),
    }
}

/// Where a corpus's votes come from.
#[derive(Debug, Clone, Copy)]
pub enum VoteSource<'a> {
    /// LF files, applied now.
    Lfs(&'a CompiledLfs),
    /// A folder written by `weaksup lf apply` (`<split>.votes.parquet`).
    Saved(&'a Path),
    /// The votes that came with the data (WRENCH `weak_labels`, COSINE `major`).
    Stored,
}

/// One split's votes, with the LFs' fault counts and kinds when they were applied now.
#[derive(Debug, Clone)]
pub struct SplitVotes {
    pub matrix: LabelMatrix,
    pub faults: Option<Vec<u64>>,
    pub kinds: Option<Vec<&'static str>>,
}

/// The votes of every split of a corpus, in split order: the one type every stage reads votes from.
#[derive(Debug, Clone)]
pub struct Votes {
    pub splits: Vec<SplitVotes>,
}

impl Votes {
    /// The vote matrix of split `k`.
    pub fn of(&self, k: usize) -> &LabelMatrix {
        &self.splits[k].matrix
    }
    pub fn matrices(&self) -> Vec<&LabelMatrix> {
        self.splits.iter().map(|v| &v.matrix).collect()
    }
}

/// The votes of every split of `splits` from `source` (LFs are applied with `apply`). Every split
/// must be non-empty, and LFs and saved votes must be over the data's classes.
pub fn votes(
    splits: &Splits,
    source: VoteSource,
    apply: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Votes> {
    let mut out = Vec::with_capacity(splits.splits.len());
    for ds in &splits.splits {
        ds.require_non_empty()?;
        out.push(match source {
            VoteSource::Lfs(c) => {
                if c.classes() != ds.classes.as_slice() {
                    return Err(Error::Config(format!(
                        "the LF files' classes [{}] differ from the data's [{}] ({}): the data's classes must be the same names (any order or case) or ids 0..C; pass --classes or fix label.json / the LF file",
                        c.classes().join(", "),
                        ds.classes.join(", "),
                        ds.split
                    )));
                }
                let applied = c.apply(&ds.frame, apply, progress)?;
                let kinds = Some(c.kinds().to_vec());
                SplitVotes { matrix: applied.matrix, faults: Some(applied.faults), kinds }
            }
            VoteSource::Saved(dir) => {
                let path = dir.join(format!("{}.votes.parquet", ds.split));
                let (m, classes) = LabelMatrix::read_parquet(&path)?;
                if classes != ds.classes || m.n_rows() != ds.len() {
                    let why = format!(
                        "{} rows over [{}] do not match split `{}` ({} rows over [{}])",
                        m.n_rows(),
                        classes.join(", "),
                        ds.split,
                        ds.len(),
                        ds.classes.join(", ")
                    );
                    return Err(Error::invalid(path.display().to_string(), why));
                }
                SplitVotes { matrix: m, faults: None, kinds: None }
            }
            VoteSource::Stored => match &ds.votes {
                Some(m) => SplitVotes { matrix: m.clone(), faults: None, kinds: None },
                None => {
                    return Err(Error::Config(format!(
                        "split `{}` has no stored votes: give LF files (--lfs, [lfs] files) or saved votes (--votes)",
                        ds.split
                    )));
                }
            },
        });
    }
    Ok(Votes { splits: out })
}

/// Which split each stage uses: `train` (or the only split) to fit on, `valid` with gold labels
/// to choose on.
#[derive(Debug, Clone)]
pub struct Roles {
    pub train: usize,
    /// The dev split and its gold labels, when `valid` has any.
    pub dev: DevSplit,
}

/// The split roles of `splits` (see [`fit_and_dev_splits`]).
pub fn roles(splits: &Splits) -> Result<Roles> {
    let (train, dev) = fit_and_dev_splits(splits)?;
    Ok(Roles { train, dev })
}

/// The dev split (`valid`, when it has gold labels): its index and gold labels.
pub type DevSplit = Option<(usize, Vec<Option<u32>>)>;

/// The split to fit on (`train`, or the only split) and the dev split (`valid` with gold labels).
pub fn fit_and_dev_splits(splits: &Splits) -> Result<(usize, DevSplit)> {
    let train = splits
        .splits
        .iter()
        .position(|d| d.split == "train")
        .or_else(|| (splits.splits.len() == 1).then_some(0))
        .ok_or_else(|| {
            Error::Config(format!(
                "no `train` split to fit the label model on (splits: {})",
                splits.names().join(", ")
            ))
        })?;
    let dev = splits
        .splits
        .iter()
        .position(|d| d.split == "valid")
        .and_then(|k| splits.splits[k].gold().filter(|g| g.iter().any(Option::is_some)).map(|g| (k, g)));
    Ok((train, dev))
}

/// The label model's output on the training split, and what was asked for.
#[derive(Debug, Clone)]
pub struct WeakLabels {
    pub selected: Selected,
    pub requested: LabelModelChoice,
    /// Probabilities on the training split.
    pub proba: Proba,
    /// Whether each training row had a vote.
    pub covered: Vec<bool>,
}

/// Fits the label model of `cfg` on the training split's votes, choosing on the dev split when
/// it has gold labels.
pub fn weak_labels(cfg: &LabelModelConfig, votes: &Votes, roles: &Roles) -> Result<WeakLabels> {
    let train = votes.of(roles.train);
    let selected = cfg.fit(train, roles.dev.as_ref().map(|(k, g)| (votes.of(*k), g.as_slice())))?;
    let proba = selected.model.predict_proba(train)?;
    Ok(WeakLabels { selected, requested: cfg.model, proba, covered: train.covered() })
}

/// How a run's targets are made ([`Supervision::build`]).
#[derive(Debug, Clone, Copy)]
pub struct Supervise<'a> {
    pub targets: &'a Targets,
    /// Train on the label model's probabilities instead of its hard labels.
    pub soft: bool,
    /// Leave rows whose votes tie out of stage 1.
    pub drop_tied: bool,
}

/// Training rows with their target distributions, and the rows used for early stopping.
#[derive(Debug, Clone)]
pub struct Supervision {
    /// Split holding the training rows.
    pub split: usize,
    pub rows: Vec<usize>,
    /// `rows.len() × C` row-major distributions.
    pub targets: Vec<f32>,
    /// Early-stopping / selection rows with gold labels: (split, rows).
    pub dev: Option<(usize, Vec<usize>)>,
    /// LF coverage of the training split (for "train, covered rows" scores).
    pub covered: Option<Vec<bool>>,
}

fn one_hot(labels: impl Iterator<Item = u32>, c: usize) -> Vec<f32> {
    labels.flat_map(|l| (0..c).map(move |k| (k == l as usize) as u8 as f32)).collect()
}

fn labelled(gold: &[Option<u32>]) -> Vec<usize> {
    (0..gold.len()).filter(|&i| gold[i].is_some()).collect()
}

impl Supervision {
    /// Builds the supervision for `targets`. `train` / `dev` come from
    /// [`crate::run::fit_and_dev_splits`]; `weak` is the label model's probabilities on the
    /// train split with its coverage (needed for [`Targets::LabelModel`]).
    pub fn new(
        splits: &Splits,
        train: usize,
        dev: Option<usize>,
        targets: &Targets,
        weak: Option<(&Proba, &[bool])>,
        soft: bool,
        seed: u64,
    ) -> Result<Self> {
        let ds = &splits.splits[train];
        let c = ds.classes.len();
        let dev_rows = |k: usize| -> Option<(usize, Vec<usize>)> {
            splits.splits[k].gold().map(|g| (k, labelled(&g))).filter(|(_, r)| !r.is_empty())
        };
        let covered = weak.map(|(_, c)| c.to_vec());
        let (split, rows, t, dev) = match targets {
            Targets::LabelModel => {
                let (proba, covered) = weak.ok_or_else(|| {
                    Error::Config("targets label_model need votes and a label model".into())
                })?;
                // Uncovered rows are left out of the training targets.
                let rows: Vec<usize> = (0..covered.len()).filter(|&i| covered[i]).collect();
                let t = if soft {
                    rows.iter().flat_map(|&i| proba.row(i).iter().map(|&x| x as f32)).collect()
                } else {
                    one_hot(rows.iter().map(|&i| argmax(proba.row(i)) as u32), c)
                };
                (train, rows, t, dev.and_then(dev_rows))
            }
            Targets::Gold => {
                let gold = ds.gold().ok_or_else(|| {
                    Error::invalid(ds.describe(), "targets gold: the train split has no label column")
                })?;
                let rows = labelled(&gold);
                let t = one_hot(rows.iter().map(|&i| gold[i].unwrap_or(0)), c);
                (train, rows, t, dev.and_then(dev_rows))
            }
            Targets::Valid => {
                let k = dev.ok_or_else(|| {
                    Error::Config("targets valid: no `valid` split with gold labels".into())
                })?;
                let gold = splits.splits[k].gold().unwrap_or_default();
                let mut rows = labelled(&gold);
                rows.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
                let half = rows.len() / 2;
                let (mut a, mut b) = (rows[..half].to_vec(), rows[half..].to_vec());
                a.sort_unstable();
                b.sort_unstable();
                let t = one_hot(b.iter().map(|&i| gold[i].unwrap_or(0)), c);
                (k, b, t, (!a.is_empty()).then_some((k, a)))
            }
            Targets::Column(col) => {
                let s = ds.frame.column(col).map_err(|_| {
                    Error::invalid(ds.describe(), format!("targets column:{col}: no column `{col}`"))
                })?;
                let ids: Vec<Option<i64>> = match s.dtype() {
                    polars::prelude::DataType::String => s
                        .str()
                        .ctx(|| format!("column `{col}`"))?
                        .iter()
                        .map(|v| v.and_then(|v| ds.classes.iter().position(|c| c == v).map(|p| p as i64)))
                        .collect(),
                    _ => s
                        .cast(&polars::prelude::DataType::Int64)
                        .ctx(|| format!("column `{col}` as class ids"))?
                        .i64()
                        .ctx(|| format!("column `{col}`"))?
                        .iter()
                        .collect(),
                };
                let rows: Vec<usize> =
                    (0..ids.len()).filter(|&i| ids[i].is_some_and(|v| v >= 0 && (v as usize) < c)).collect();
                let t = one_hot(rows.iter().map(|&i| ids[i].unwrap_or(0) as u32), c);
                (train, rows, t, dev.and_then(dev_rows))
            }
        };
        if rows.is_empty() {
            return Err(Error::invalid(
                splits.splits[split].describe(),
                format!("no training rows with targets ({})", String::from(targets.clone())),
            ));
        }
        Ok(Self { split, rows, targets: t, dev, covered: if split == train { covered } else { None } })
    }

    /// The supervision of a run: `how.targets` on the split `roles`; for label-model targets the
    /// label model's hard labels (probabilities with `how.soft`) on covered rows, without the
    /// rows whose votes tie with `how.drop_tied`.
    pub fn build(
        splits: &Splits,
        roles: &Roles,
        how: &Supervise,
        weak: Option<&WeakLabels>,
        votes: Option<&Votes>,
        seeds: &Seeds,
    ) -> Result<Self> {
        if (how.soft || how.drop_tied) && *how.targets != Targets::LabelModel {
            return Err(Error::Config(format!(
                "`soft` and `drop_tied` (--soft, --drop-tied) shape the label model's labels; targets `{}` (--targets) has none",
                how.targets
            )));
        }
        let dev = roles.dev.as_ref().map(|(k, _)| *k);
        let sup = Self::new(
            splits,
            roles.train,
            dev,
            how.targets,
            weak.map(|w| (&w.proba, w.covered.as_slice())),
            how.soft,
            seeds.valid_halves(),
        )?;
        match votes {
            Some(v) if how.drop_tied => sup.drop_tied(true, how.targets, v.of(roles.train)),
            _ => Ok(sup),
        }
    }

    /// With `drop_tied` and label-model targets, leaves out of training the rows whose `votes`
    /// tie ([`Supervision::without_rows`] of [`LabelMatrix::tied`]); otherwise unchanged.
    pub fn drop_tied(self, drop_tied: bool, targets: &Targets, votes: &LabelMatrix) -> Result<Self> {
        if drop_tied && *targets == Targets::LabelModel {
            self.without_rows(&votes.tied(), "tied")
        } else {
            Ok(self)
        }
    }

    /// Drops the training rows where `drop[row]` holds (e.g. [`crate::matrix::LabelMatrix::tied`]:
    /// WRENCH's `cut_tied`, without its quirk of also dropping rows where every vote agrees).
    /// Errors when no training row is left.
    pub fn without_rows(mut self, drop: &[bool], why: &str) -> Result<Self> {
        let c = if self.rows.is_empty() { 0 } else { self.targets.len() / self.rows.len() };
        let keep: Vec<bool> = self.rows.iter().map(|&r| !drop.get(r).copied().unwrap_or(false)).collect();
        self.targets = self
            .targets
            .chunks(c.max(1))
            .zip(&keep)
            .filter(|(_, k)| **k)
            .flat_map(|(t, _)| t.iter().copied())
            .collect();
        self.rows = self.rows.iter().zip(&keep).filter(|(_, k)| **k).map(|(r, _)| *r).collect();
        if self.rows.is_empty() {
            return Err(Error::Config(format!("no training rows left after dropping {why} rows")));
        }
        Ok(self)
    }
}

fn argmax(p: &[f64]) -> usize {
    (0..p.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b })
}

/// Predictions and scores of one split.
#[derive(Debug, Clone, Serialize)]
pub struct SplitResult {
    pub split: String,
    /// `n × C` row-major probabilities.
    #[serde(skip)]
    pub proba: Vec<f32>,
    #[serde(skip)]
    pub pred: Vec<u32>,
    /// Scores on rows with gold labels.
    pub scores: Option<Scores>,
    /// Scores on LF-covered rows (the training split of weak supervision).
    pub covered_scores: Option<Scores>,
    /// `confusion[gold][predicted]` counts.
    pub confusion: Option<Vec<Vec<usize>>>,
}

/// What the end-model stage did.
#[derive(Debug, Clone, Serialize)]
pub struct EndModelRun {
    pub train_split: String,
    pub train_rows: usize,
    pub dev_rows: usize,
    pub stage1: TrainReport,
    /// Scores after stage 1 on every split but the training one (COSINE runs; stage 1 alone
    /// is then reported from the same run).
    pub stage1_scores: Vec<(String, Scores)>,
    pub cosine: Option<SelfTrainReport>,
    /// The validation whose weights were kept (none without a valid split with gold labels).
    pub chosen: Option<ChosenCheckpoint>,
    pub splits: Vec<SplitResult>,
    pub seconds: f64,
}

/// Where the kept weights come from: the stage, the COSINE round, the step within the stage and
/// on the curves' axis (stage-1 steps, then stage 2's), and the valid score that chose them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChosenCheckpoint {
    pub stage: u8,
    pub round: Option<usize>,
    pub step: usize,
    pub curve_step: usize,
    pub score: f64,
}

impl ChosenCheckpoint {
    /// The chosen validation of a run's stage-1 and stage-2 reports.
    pub fn of(stage1: &TrainReport, cosine: Option<&SelfTrainReport>) -> Option<Self> {
        if let Some(c) = cosine.filter(|c| c.best_in_stage2) {
            // A stage-2 checkpoint written before steps were recorded cannot say where: none.
            let (step, score) = (c.best_step?, c.best_score?);
            return Some(Self {
                stage: 2,
                round: c.best_round,
                step,
                curve_step: stage1.steps + step,
                score,
            });
        }
        let (step, score) = (stage1.best_step?, stage1.best_score?);
        Some(Self { stage: 1, round: None, step, curve_step: step, score })
    }

    /// `stage 2, round 3, step 150 (step 350 of the curves)`.
    pub fn describe(&self) -> String {
        match self.round {
            Some(r) if self.stage == 2 => {
                format!("stage 2, round {r}, step {} (step {} of the curves)", self.step, self.curve_step)
            }
            _ => format!("stage {}, step {}", self.stage, self.step),
        }
    }
}

/// What the end model reads from every row of `ds`.
pub fn model_texts(ds: &Dataset, input: ModelInput) -> Result<ModelTexts> {
    crate::data::model_texts(&ds.frame, input, &ds.describe())
}

/// Scores of `pred` on one split; with `covered`, also on covered rows.
fn split_result(ds: &Dataset, proba: Vec<f32>, c: usize, covered: Option<&[bool]>) -> SplitResult {
    let pred = crate::data::argmax_rows(&proba, c);
    let gold = ds.gold().filter(|g| g.iter().any(Option::is_some));
    let p16: Vec<i16> = pred.iter().map(|&p| p as i16).collect();
    let (scores_all, covered_scores, confusion) = match &gold {
        Some(g) => {
            let mut m = vec![vec![0usize; c]; c];
            for (gi, &p) in g.iter().zip(&pred) {
                if let Some(gi) = gi {
                    m[*gi as usize][p as usize] += 1;
                }
            }
            (Some(scores(&p16, g, |_| true, c)), covered.map(|cv| scores(&p16, g, |i| cv[i], c)), Some(m))
        }
        None => (None, None, None),
    };
    SplitResult { split: ds.split.clone(), proba, pred, scores: scores_all, covered_scores, confusion }
}

/// Where an end-model run checkpoints, and what it must match to resume.
#[derive(Debug, Clone, Copy)]
pub struct Checkpointing<'a> {
    pub dir: &'a Path,
    /// The model as configured (its source, precision, pooling and length are in the fingerprint).
    pub model: &'a EndModelConfig,
    /// Continue from the checkpoint in `dir` (refused unless it belongs to the same run);
    /// otherwise an old checkpoint there is removed.
    pub resume: bool,
}

/// What an end-model run depends on: every split's source, size and a hash of its texts and gold
/// labels, the class names, a hash of the training rows and targets, the model, the method and
/// every training setting but `checkpoint_every` (the device may change: a run killed on a GPU
/// can finish on the CPU, with last-digit differences).
pub fn fingerprint(
    splits: &Splits,
    sup: &Supervision,
    model: &EndModelConfig,
    method: Method,
    train: &TrainConfig,
    cosine: &CosineConfig,
) -> Result<Fingerprint> {
    use crate::data::{FNV_OFFSET, fnv1a64};
    let mut f: Vec<(String, String)> = Vec::new();
    for ds in &splits.splits {
        let k = format!("data.{}", ds.split);
        if let Some(p) = &ds.source {
            f.push((format!("{k}.path"), p.display().to_string()));
            let bytes = std::fs::metadata(p).map(|m| m.len().to_string()).unwrap_or_else(|_| "?".into());
            f.push((format!("{k}.bytes"), bytes));
        }
        f.push((format!("{k}.rows"), ds.len().to_string()));
        let mut h = FNV_OFFSET;
        for t in ds.texts()?.iter() {
            h = fnv1a64(t.unwrap_or("").as_bytes(), h);
            h = fnv1a64(&[0xff], h);
        }
        for g in ds.gold().unwrap_or_default() {
            h = fnv1a64(&g.map_or(-1i64, |g| g as i64).to_le_bytes(), h);
        }
        f.push((format!("{k}.content_fnv1a64"), format!("{h:016x}")));
    }
    f.push(("classes".into(), splits.splits.first().map(|d| d.classes.join(", ")).unwrap_or_default()));
    let mut h = FNV_OFFSET;
    for r in &sup.rows {
        h = fnv1a64(&(*r as u64).to_le_bytes(), h);
    }
    for t in &sup.targets {
        h = fnv1a64(&t.to_bits().to_le_bytes(), h);
    }
    f.push(("targets.split".into(), splits.splits[sup.split].split.clone()));
    f.push(("targets.rows".into(), sup.rows.len().to_string()));
    f.push(("targets.fnv1a64".into(), format!("{h:016x}")));
    f.push(("end_model.model".into(), model.model.to_string()));
    f.push(("end_model.precision".into(), model.precision.to_string()));
    f.push(("end_model.pooling".into(), model.pooling.to_string()));
    f.push(("end_model.input".into(), model.input.to_string()));
    f.push(("end_model.max_len".into(), model.max_len.to_string()));
    f.push(("method".into(), method.to_string()));
    f.push(("seed".into(), train.seed.to_string()));
    let train = TrainConfig { checkpoint_every: 0, ..train.clone() };
    f.push(("train".into(), json(&train)));
    if method == Method::Cosine {
        f.push(("cosine".into(), json(cosine)));
    }
    Ok(Fingerprint(f))
}

/// Compact JSON of a fingerprint value.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Trains `model` on `sup` with `method` (stage 1, or stage 1 + COSINE over every row of the
/// training split), then predicts every split. With `checkpoint`, training checkpoints there and
/// a rerun with `resume` continues (refused when the checkpoint belongs to another run).
pub fn fit(
    model: &mut EndModel,
    splits: &Splits,
    sup: &Supervision,
    training: Training,
    checkpoint: Option<Checkpointing>,
    progress: &dyn Progress,
) -> Result<EndModelRun> {
    let Training { method, train: train_cfg, cosine } = training;
    let started = Instant::now();
    if let Some(ck) = &checkpoint {
        fingerprint(splits, sup, ck.model, method, train_cfg, cosine)?.check_or_record(ck.dir, ck.resume)?;
    }
    let checkpoint_dir = checkpoint.map(|c| c.dir);
    if sup.dev.is_none() {
        tracing::warn!(
            "no valid split with gold labels: no early stopping (training runs all {} steps and keeps the final weights){}",
            train_cfg.max_steps,
            if method == Method::Cosine { "; COSINE keeps its last round" } else { "" }
        );
    }
    let c = model.n_classes() as usize;
    let train_ds = &splits.splits[sup.split];
    if train_ds.split != "train" && train_ds.gold().is_some() {
        tracing::warn!(
            split = %train_ds.split,
            "no `train` split: the end model is fitted on this split, so its scores there are training-set scores"
        );
    }
    let encoded: Vec<Encoded> = splits
        .splits
        .iter()
        .map(|d| model.encode_inputs(&model_texts(d, model.input())?))
        .collect::<Result<_>>()?;
    let enc = &encoded[sup.split];
    let dev = sup.dev.as_ref().map(|(k, rows)| {
        let g = splits.splits[*k].gold().unwrap_or_default();
        (encoded[*k].subset(rows), rows.iter().map(|&i| g[i].unwrap_or(0)).collect::<Vec<u32>>())
    });
    let valid = dev.as_ref().map(|(e, g)| EvalSet::rows(e, g.clone()));
    let set = TrainSet { encoded: enc, rows: sup.rows.clone(), targets: sup.targets.clone(), weights: None };
    let padding = train_cfg.padding;
    let predict_all = |model: &EndModel, skip: Option<usize>| -> Result<Vec<Option<Vec<f32>>>> {
        encoded
            .iter()
            .enumerate()
            .map(|(k, e)| {
                if Some(k) == skip || e.is_empty() {
                    return Ok(None);
                }
                let p = train::predict_proba(model, e, train_cfg.batch_size.max(64), padding)?;
                Ok(Some(Vec::<f32>::try_from(p.flatten(0, -1)).ctx(|| "probabilities".into())?))
            })
            .collect()
    };
    let (stage1, stage1_scores, cosine_report) = match method {
        Method::Cosine => {
            // Every row of the training split is pseudo-labelled, except dev rows held out there.
            let held: std::collections::HashSet<usize> = sup
                .dev
                .iter()
                .filter(|(k, _)| *k == sup.split)
                .flat_map(|(_, r)| r.iter().copied())
                .collect();
            let mut pool: Vec<usize> = (0..enc.len()).filter(|i| !held.contains(i)).collect();
            let mut gold = train_ds.gold();
            // With `cosine.unlabeled`, the `unlabeled` split's rows follow the training rows.
            let unlabeled = splits.splits.iter().position(|d| d.split == data::UNLABELED && cosine.unlabeled);
            if cosine.unlabeled && unlabeled.is_none() {
                tracing::warn!(
                    "cosine.unlabeled is set but the data has no `unlabeled` split: the pool is the training split"
                );
            }
            let joined = unlabeled.filter(|&k| k != sup.split).map(|k| {
                let extra = encoded[k].len();
                pool.extend(enc.len()..enc.len() + extra);
                gold = gold.take().map(|mut g| {
                    g.resize(enc.len() + extra, None);
                    g
                });
                enc.concat(&encoded[k])
            });
            let set = match &joined {
                Some(j) => TrainSet { encoded: j, ..set.clone() },
                None => set.clone(),
            };
            let data = CosineData { stage1: &set, pool: &pool, gold: gold.as_deref(), valid: valid.as_ref() };
            let run = CosineRun { train: train_cfg, cosine, checkpoint_dir, progress };
            // The other splits scored by the stage-1 model, before self-training changes it.
            let mut s1 = Vec::new();
            let mut score_stage1 = |model: &EndModel| -> Result<()> {
                for (p, ds) in predict_all(model, Some(sup.split))?.into_iter().zip(&splits.splits) {
                    if let Some(s) = p.and_then(|p| split_result(ds, p, c, None).scores) {
                        s1.push((ds.split.clone(), s));
                    }
                }
                Ok(())
            };
            let r = selftrain::cosine(model, data, run, &mut score_stage1)?;
            (r.stage1, s1, Some(r.stage2))
        }
        _ => {
            let dir = checkpoint_dir.map(|d| d.join("stage1"));
            let stage1 = train::train(model, &set, valid.as_ref(), train_cfg, dir.as_deref(), progress)?;
            (stage1, Vec::new(), None)
        }
    };
    let results = predict_all(model, None)?
        .into_iter()
        .zip(&splits.splits)
        .enumerate()
        .map(|(k, (p, ds))| {
            split_result(
                ds,
                p.unwrap_or_default(),
                c,
                if k == sup.split { sup.covered.as_deref() } else { None },
            )
        })
        .collect();
    let chosen = ChosenCheckpoint::of(&stage1, cosine_report.as_ref());
    Ok(EndModelRun {
        train_split: train_ds.split.clone(),
        train_rows: sup.rows.len(),
        dev_rows: sup.dev.as_ref().map_or(0, |(_, r)| r.len()),
        stage1,
        stage1_scores,
        chosen,
        cosine: cosine_report,
        splits: results,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How an end model is trained: the method and its settings.
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    pub method: Method,
    pub train: &'a TrainConfig,
    pub cosine: &'a CosineConfig,
}

/// A trained end model and what its training did.
pub struct FittedEndModel {
    pub model: EndModel,
    pub run: EndModelRun,
}

/// Builds the end model of `end_model` (initialised from `seeds`), trains it on `sup` as
/// `training` says and predicts every split. With `checkpoint` (`(folder, resume)`), training
/// checkpoints there, and `resume` continues a checkpoint of the same run.
pub fn fit_end_model(
    end_model: &ResolvedEndModel,
    splits: &Splits,
    sup: &Supervision,
    training: Training,
    seeds: &Seeds,
    checkpoint: Option<(&Path, bool)>,
    progress: &dyn Progress,
) -> Result<FittedEndModel> {
    if training.method == Method::None {
        return Err(Error::Config("method `none` trains no end model".into()));
    }
    let classes = splits.splits[sup.split].classes.len();
    let mut model = end_model.build(classes as i64, seeds.init())?;
    let train = TrainConfig { seed: seeds.trainer(), ..training.train.clone() };
    let checkpointing =
        checkpoint.map(|(dir, resume)| Checkpointing { dir, model: &end_model.config, resume });
    let run = fit(&mut model, splits, sup, Training { train: &train, ..training }, checkpointing, progress)?;
    Ok(FittedEndModel { model, run })
}
