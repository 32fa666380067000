//! `weaksup run`: the main job. Loads a corpus (the built-in demo corpus by default), applies
//! the LF files and analyses them, fits the label model, fine-tunes the end model on its labels
//! (stage 1, then COSINE by default), and writes every artefact and a `report.md` to one folder.

pub mod end_model;
mod report;

pub use report::write_end_model;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use end_model::{EndModelConfig, EndModelRun, Method, SplitResult, Supervision, Targets, minilm_dir};

use crate::data::{self, LoadOptions, Splits, demo::DemoParams, with_suffix};
use crate::error::{Error, Result};
use crate::label_model::{
    Evaluation, FitInfo, LabelModel, LabelModelConfig, Metric, Params, PredictOptions, Selected, score, soft_label_frame,
};
use crate::lf::{ApplyOptions, CompiledLfs, LfAnalysis, LfFile, LfSet, Registry, analyze};
use crate::matrix::LabelMatrix;
use crate::progress::Progress;
use crate::selftrain::CosineConfig;
use crate::train::{TrainConfig, checkpoint_path};

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct DataConfig {
    /// A dataset path (WRENCH folder, CSV, Parquet, JSONL, COSINE JSON); `None` = the demo corpus.
    pub path: Option<PathBuf>,
    /// Column mapping and format for `path`.
    pub load: LoadOptions,
    /// Parameters of the built-in demo corpus (used when `path` is `None`); its `seed` is always
    /// the run's `seed`.
    pub demo: DemoParams,
}


/// Which labeling functions to apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LfConfig {
    /// LF files. Empty: the built-in demo LFs for the demo corpus, else the votes stored with
    /// the data (WRENCH `weak_labels`, COSINE `major`).
    pub files: Vec<PathBuf>,
    /// Parallel application settings.
    pub apply: ApplyOptions,
}

/// The whole `weaksup run` configuration. Every section is optional; `weaksup run
/// --print-config` shows the resolved one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Seed for everything random (demo corpus, later training). Default 42.
    pub seed: u64,
    /// Output folder. Default `runs/demo`.
    pub out: PathBuf,
    pub data: DataConfig,
    pub lfs: LfConfig,
    pub label_model: LabelModelConfig,
    /// How the end model is trained: `none` (stop after the label model), `weak` (stage 1
    /// only) or `cosine`. Default `cosine`.
    pub method: Method,
    /// What the end model trains on: `label_model` (default), `gold`, `valid`, `column:<name>`.
    pub targets: Targets,
    /// Train on the label model's probabilities instead of its hard labels. Default false (the
    /// COSINE paper's stage 1 uses hard labels).
    pub soft: bool,
    /// Leave rows whose LF votes tie between classes out of stage 1 (their label is the label
    /// model's tie-break). Default false (the paper trains on every covered row); WRENCH's
    /// `Cosine.fit` drops them (`cut_tied=True`). They stay in stage 2's pseudo-label pool.
    pub drop_tied: bool,
    pub end_model: EndModelConfig,
    /// Stage 1 / supervised training. Run defaults: at most 300 steps (the WRENCH reference
    /// budget of issue 5), validation every 25 steps, patience 4; the rest as the trainer's.
    pub train: TrainConfig,
    /// COSINE stage 2 (`method = "cosine"`).
    pub cosine: CosineConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            out: PathBuf::from("runs/demo"),
            data: DataConfig::default(),
            lfs: LfConfig::default(),
            label_model: LabelModelConfig::default(),
            method: Method::Cosine,
            targets: Targets::LabelModel,
            soft: false,
            drop_tied: false,
            end_model: EndModelConfig::default(),
            train: run_train_defaults(),
            cosine: CosineConfig::default(),
        }
    }
}

/// The run's stage-1 defaults (see [`RunConfig::train`]).
pub fn run_train_defaults() -> TrainConfig {
    TrainConfig { max_steps: 300, eval_every: 25, patience: 4, ..TrainConfig::default() }
}

impl RunConfig {
    /// Reads a TOML config; unknown keys are errors naming the line.
    pub fn load(path: &Path) -> Result<Self> {
        data::read_toml(path)
    }
    /// Makes derived values consistent and explicit: the run's `seed` seeds the demo corpus,
    /// the label model's random policies and training; `auto` end-model settings become what
    /// they mean on this machine. Then validates.
    pub fn resolve(&mut self) -> Result<()> {
        self.data.demo.seed = self.seed;
        self.label_model.predict.seed = self.seed;
        self.train.seed = self.seed;
        self.label_model.validate()?;
        self.lfs.apply.validate()?;
        if (self.soft || self.drop_tied) && self.targets != Targets::LabelModel {
            return Err(Error::Config(format!("`soft` and `drop_tied` shape the label model's labels; targets = \"{}\" has none", String::from(self.targets.clone()))));
        }
        if self.method != Method::None {
            end_model::resolve_training(&mut self.end_model, &self.train, &self.cosine)?;
        }
        Ok(())
    }
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Per split: its label matrix and LF analysis.
#[derive(Debug, Clone)]
pub struct SplitReport {
    pub split: String,
    pub matrix: LabelMatrix,
    pub analysis: LfAnalysis,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutputs {
    pub out: PathBuf,
    pub classes: Vec<String>,
    pub splits: Vec<SplitReport>,
    pub label_model: LabelModelReport,
    pub end_model: Option<EndModelRun>,
}

/// What the label-model stage wrote to `label_model.metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct LabelModelReport {
    pub model: String,
    pub params: Params,
    /// Selection score on valid (covered rows), when selection ran.
    pub dev_score: Option<f64>,
    pub candidates: usize,
    pub selection_seconds: f64,
    pub info: FitInfo,
    pub class_balance: Vec<f64>,
    pub lf_names: Vec<String>,
    pub lf_accuracies: Option<Vec<f64>>,
    pub predict: PredictOptions,
    pub metric: Metric,
    /// Per split: scores on covered rows and on all rows (None without gold labels).
    pub splits: Vec<(String, Option<Evaluation>)>,
}

/// "0.840 / 0.812": a metric on covered rows and on all rows.
pub fn both(e: &Evaluation, metric: Metric) -> String {
    format!("{:.3} / {:.3}", metric.of(&e.covered), metric.of(&e.all))
}

impl LabelModelReport {
    /// A few lines for terminals and `report.md`.
    pub fn summary(&self, fit_split: &str) -> String {
        let mut s = format!(
            "label model `{}`: fitted on {} rows of `{fit_split}` ({} uncovered){}{}{}\n",
            self.model,
            self.info.n_fit,
            self.info.n_uncovered,
            self.dev_score.map_or(String::new(), |d| format!(", chosen among {} settings on valid ({} {d:.3})", self.candidates, self.metric.name())),
            if self.info.collapsed { "; COLLAPSED to one class" } else { "" },
            if self.info.converged { "" } else { "; did not converge" },
        );
        s.push_str(&format!("{:<8} {:>6} {:>8}  {} (covered / all rows)\n", "split", "rows", "coverage", self.metric.name()));
        for (split, e) in &self.splits {
            if let Some(e) = e {
                s.push_str(&format!("{split:<8} {:>6} {:>8.3}  {}\n", e.all.n, e.coverage, both(e, self.metric)));
            }
        }
        s
    }
}

/// Writes `label_model.json`, `<split>.soft_labels.parquet` and `label_model.metrics.json`.
pub fn write_label_model(
    sel: &Selected,
    config: &LabelModelConfig,
    splits: &Splits,
    votes: &[&LabelMatrix],
    train: usize,
    out: &Path,
) -> Result<LabelModelReport> {
    sel.model.save(&out.join("label_model.json"))?;
    let mut evals = Vec::new();
    for (ds, v) in splits.splits.iter().zip(votes) {
        let mut frame = soft_label_frame(&sel.model, v, &ds.classes, &config.predict)?;
        data::write_parquet(&mut frame, &out.join(format!("{}.soft_labels.parquet", ds.split)))?;
        let eval = ds.gold().map(|g| score(&sel.model, v, &g, &config.predict, 10)).transpose()?;
        evals.push((ds.split.clone(), eval));
    }
    let report = LabelModelReport {
        model: sel.model.name().to_string(),
        params: sel.params.clone(),
        dev_score: sel.dev_score,
        candidates: sel.candidates,
        selection_seconds: sel.fit_seconds,
        info: sel.model.info().clone(),
        class_balance: sel.model.class_balance().to_vec(),
        lf_names: votes[train].lf_names().to_vec(),
        lf_accuracies: sel.model.lf_accuracies(),
        predict: config.predict,
        metric: config.metric,
        splits: evals,
    };
    data::write_json(&out.join("label_model.metrics.json"), &report)?;
    Ok(report)
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
        .ok_or_else(|| Error::Config(format!("no `train` split to fit the label model on (splits: {})", splits.names().join(", "))))?;
    let dev = splits
        .splits
        .iter()
        .position(|d| d.split == "valid")
        .and_then(|k| splits.splits[k].gold().filter(|g| g.iter().any(Option::is_some)).map(|g| (k, g)));
    Ok((train, dev))
}

/// Loads the configured corpus.
pub fn load_data(cfg: &RunConfig) -> Result<Splits> {
    match &cfg.data.path {
        Some(p) => data::load(p, &cfg.data.load),
        None => data::demo_splits(&DemoParams { seed: cfg.seed, ..cfg.data.demo.clone() }),
    }
}

/// Builds the configured LF set, or `None` to use the votes stored with the data.
pub fn load_lfs(cfg: &RunConfig, registry: &Registry) -> Result<Option<LfSet>> {
    if !cfg.lfs.files.is_empty() {
        return LfFile::load_set(&cfg.lfs.files, registry).map(|(s, _)| Some(s));
    }
    if cfg.data.path.is_none() {
        let file = LfFile::parse(Path::new("<built-in>/labeling_functions/demo_topics.toml"), data::demo::DEMO_LF_TOML.to_string())?;
        let mut set = LfSet::new(file.classes().to_vec())?;
        file.add_to(&mut set, registry)?;
        return Ok(Some(set));
    }
    Ok(None)
}

/// Per split: its votes, and the LFs' fault counts and kinds when LFs were applied (`compiled`)
/// rather than read from the data's stored votes.
#[allow(clippy::type_complexity)]
pub fn split_votes(splits: &Splits, compiled: Option<&CompiledLfs>, apply: &ApplyOptions, progress: &dyn Progress) -> Result<Vec<(LabelMatrix, Option<Vec<u64>>, Option<Vec<&'static str>>)>> {
    splits
        .splits
        .iter()
        .map(|ds| {
            ds.require_non_empty()?;
            match compiled {
                Some(c) => {
                    if c.classes() != ds.classes.as_slice() {
                        return Err(Error::Config(format!("the LF files' classes [{}] differ from the data's [{}]", c.classes().join(", "), ds.classes.join(", "))));
                    }
                    let applied = c.apply(&ds.frame, apply, progress)?;
                    Ok((applied.matrix, Some(applied.faults), Some(c.kinds().to_vec())))
                }
                None => match &ds.votes {
                    Some(v) => Ok((v.clone(), None, None)),
                    None => Err(Error::Config(format!("split `{}` has no stored votes: give LF files ([lfs] files)", ds.split))),
                },
            }
        })
        .collect()
}

/// Runs the pipeline and writes its outputs under `cfg.out` (`cfg` resolved with
/// [`RunConfig::resolve`]). With `resume`, end-model training continues from `<out>/checkpoint`.
pub fn run(cfg: &RunConfig, registry: &Registry, resume: bool, progress: &dyn Progress) -> Result<RunOutputs> {
    let splits = load_data(cfg)?;
    let lfs = load_lfs(cfg, registry)?;
    let out = data::OutputDir::prepare(&cfg.out, "run", if resume { &["*"] } else { &[] })?;
    data::write_atomic(&cfg.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let compiled = lfs.map(|s| s.compile()).transpose()?;
    let mut reports = Vec::new();
    let classes = splits.splits.first().map(|d| d.classes.clone()).unwrap_or_default();
    for (ds, (matrix, faults, kinds)) in splits.splits.iter().zip(split_votes(&splits, compiled.as_ref(), &cfg.lfs.apply, progress)?) {
        let gold = ds.gold();
        let analysis = analyze(&matrix, gold.as_deref(), kinds.as_deref(), faults.as_deref());
        let stem = cfg.out.join(&ds.split);
        matrix.write_parquet(&with_suffix(&stem, ".votes.parquet"), &ds.classes)?;
        write_analysis(&analysis, &ds.classes, &stem)?;
        reports.push(SplitReport { split: ds.split.clone(), matrix, analysis });
    }
    let (train, dev) = fit_and_dev_splits(&splits)?;
    let matrices: Vec<&LabelMatrix> = reports.iter().map(|r| &r.matrix).collect();
    let sel = cfg.label_model.fit(matrices[train], dev.as_ref().map(|(k, g)| (matrices[*k], g.as_slice())))?;
    let lm = write_label_model(&sel, &cfg.label_model, &splits, &matrices, train, &cfg.out)?;
    let end = match cfg.method {
        Method::None => None,
        method => {
            let covered = matrices[train].covered();
            let proba = sel.model.predict_proba(matrices[train])?;
            let sup = Supervision::new(&splits, train, dev.as_ref().map(|(k, _)| *k), &cfg.targets, Some((&proba, &covered)), cfg.soft, cfg.seed)?
                .drop_tied(cfg.drop_tied, &cfg.targets, matrices[train])?;
            let mut model = cfg.end_model.build(classes.len() as i64, cfg.seed)?;
            let ckpt = checkpoint_path(&cfg.out);
            let checkpointing = end_model::Checkpointing { dir: &ckpt, model: &cfg.end_model, resume };
            let r = end_model::fit(&mut model, &splits, &sup, method, &cfg.train, &cfg.cosine, Some(checkpointing), progress)?;
            model.save(&cfg.out.join("model"), &classes)?;
            report::write_end_model(&r, &splits, &classes, cfg.train.metric, &cfg.out)?;
            Some(r)
        }
    };
    let text = report::render(cfg, &classes, &reports, &lm, &splits.splits[train].split, end.as_ref());
    data::write_atomic(&cfg.out.join("report.md"), text.as_bytes())?;
    out.finish()?;
    Ok(RunOutputs { out: cfg.out.clone(), classes, splits: reports, label_model: lm, end_model: end })
}


/// Writes `<stem>.lf_summary.{txt,csv,json,svg}`.
pub fn write_analysis(a: &LfAnalysis, classes: &[String], stem: &Path) -> Result<()> {
    data::write_atomic(&with_suffix(stem, ".lf_summary.txt"), a.to_table(classes).as_bytes())?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.csv"), a.to_csv(classes).as_bytes())?;
    data::write_json(&with_suffix(stem, ".lf_summary.json"), a)?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.svg"), a.to_svg().as_bytes())
}

