//! `weaksup run`: the main job. Loads a corpus (the built-in demo corpus by default), applies
//! the LF files and analyses them, fits the label model, fine-tunes the end model on its labels
//! (stage 1, then COSINE by default), and writes every artefact and a `report.md` to one folder.

pub mod pipeline;
mod report;
pub mod report_html;
pub mod token;

pub use report::write_end_model;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use pipeline::{DevSplit, EndModelRun, Method, SplitResult, Supervision, Targets, fit_and_dev_splits};

use crate::data::{self, LoadOptions, Splits, demo::DemoParams, with_suffix};
use crate::error::{Error, Result};
use crate::label_model::{
    Evaluation, FitInfo, LabelModel, LabelModelConfig, Metric, Params, PredictOptions, Selected, score,
    soft_label_frame,
};
use crate::lf::{ApplyOptions, LfAnalysis, Registry, analyze};
use crate::matrix::LabelMatrix;
use crate::model::{EndModelConfig, ResolvedEndModel};
use crate::progress::Progress;
use crate::selftrain::CosineConfig;
use crate::train::{TrainConfig, checkpoint_path};
use weaksup_core::seeds::Seeds;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct DataConfig {
    /// A dataset path (WRENCH or COSINE folder, a folder of `train.csv`/`valid.csv`/`test.csv`, or
    /// one CSV, Parquet, JSONL, COSINE JSON file); `None` (and no `splits`) = the demo corpus.
    pub path: Option<PathBuf>,
    /// Instead of `path`: the files of each split (`train`, `valid`, `test`, `unlabeled`), each
    /// entry a file, a folder or a glob.
    pub splits: data::SplitFiles,
    /// Column mapping and format for `path`.
    pub load: LoadOptions,
    /// Parameters of the built-in demo corpus (used when `path` is `None`); its `seed` is always
    /// the run's `seed`.
    pub demo: DemoParams,
    /// `classification`, `tagging` (sequence labeling), or `auto`: decided from the data
    /// ([`crate::token::is_token_data`]). Default `auto`.
    pub task: crate::token::Task,
    /// Tag names and scheme of token data (sequence labeling).
    pub tokens: crate::token::TokenLoadOptions,
}

impl DataConfig {
    /// Whether this is the built-in demo corpus (neither a path nor split files).
    pub fn is_demo(&self) -> bool {
        self.path.is_none() && self.splits.is_empty()
    }
}

/// Which labeling functions to apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LfConfig {
    /// LF files. Empty: the built-in demo LFs for the demo corpus, else the votes stored with
    /// the data (WRENCH `weak_labels`, COSINE `major`).
    pub files: Vec<PathBuf>,
    /// Instead of LF files: a folder of votes written by `weaksup lf apply`
    /// (`<split>.votes.parquet`).
    pub votes: Option<PathBuf>,
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
    /// Tagging: leave the words no LF voted on out of stage 1's loss (their tag is only the label
    /// model's guess, mostly `O`); they stay in COSINE's pseudo-label pool, as uncovered rows do
    /// for classification (the paper trains stage 1 on the covered data only). Default false.
    pub drop_uncovered: bool,
    pub end_model: EndModelConfig,
    /// Stage 1 / supervised training ([`TrainConfig`]'s defaults: at most 300 steps, validation
    /// every 25 steps, patience 4).
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
            drop_uncovered: false,
            end_model: EndModelConfig::default(),
            train: TrainConfig::default(),
            cosine: CosineConfig::default(),
        }
    }
}

/// A [`RunConfig`] with every `auto` decided and every value checked ([`RunConfig::resolve`]).
#[derive(Debug, Clone)]
pub struct ResolvedRun {
    /// The config with concrete values: what the run saves as `config.toml` and prints.
    pub config: RunConfig,
    /// The end model on this machine (`None` with `method = "none"`).
    pub end_model: Option<ResolvedEndModel>,
    pub seeds: Seeds,
}

impl RunConfig {
    /// Reads a TOML config; unknown keys are errors naming the line.
    pub fn load(path: &Path) -> Result<Self> {
        data::read_toml(path)
    }
    /// Checks every value (naming its key) and decides what `auto` means on this machine,
    /// before any data is read. The run's one `seed` gives every random stream ([`Seeds`]).
    pub fn resolve(&self) -> Result<ResolvedRun> {
        let mut config = self.clone();
        config.label_model.validate()?;
        config.lfs.apply.validate()?;
        config.data.demo.validate().map_err(|e| Error::Config(format!("data.demo: {e}")))?;
        if (config.soft || config.drop_tied || config.drop_uncovered) && config.targets != Targets::LabelModel
        {
            return Err(Error::Config(format!(
                "`soft`, `drop_tied` and `drop_uncovered` (--soft, --drop-tied, --drop-uncovered) shape the label model's labels; targets `{}` (--targets) has none",
                config.targets
            )));
        }
        let end_model = if config.method != Method::None {
            config.train.validate()?;
            config.cosine.validate()?;
            let resolved = config.end_model.resolve()?;
            config.end_model = resolved.config.clone();
            Some(resolved)
        } else {
            None
        };
        Ok(ResolvedRun { config, end_model, seeds: Seeds::new(self.seed) })
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
    /// Valid score of the chosen model's default setting, when a grid was searched.
    pub default_score: Option<f64>,
    pub candidates: usize,
    pub selection_seconds: f64,
    pub info: FitInfo,
    pub class_balance: Vec<f64>,
    pub lf_names: Vec<String>,
    pub lf_accuracies: Option<Vec<f64>>,
    pub predict: PredictOptions,
    /// The seed of the policies' random draws (the run's label-model stream).
    pub policy_seed: u64,
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
                self.dev_score.map_or(String::new(), |d| format!(
                    ", chosen among {} settings on valid ({} {d:.3}{})",
                    self.candidates,
                    self.metric.name(),
                    match self.default_score {
                        Some(x) if (x - d).abs() < 5e-4 =>
                            "; the model's default setting scores the same: the search did not matter"
                                .to_string(),
                        Some(x) => format!("; its default setting: {x:.3}"),
                        None => String::new(),
                    }
                )),
                if self.info.collapsed { "; COLLAPSED to one class" } else { "" },
                if self.info.converged { "" } else { "; did not converge" },
            );
        s.push_str(&format!(
            "{:<8} {:>6} {:>8}  {} (covered / all rows)\n",
            "split",
            "rows",
            "coverage",
            self.metric.name()
        ));
        for (split, e) in &self.splits {
            if let Some(e) = e {
                s.push_str(&format!(
                    "{split:<8} {:>6} {:>8.3}  {}\n",
                    e.all.n,
                    e.coverage,
                    both(e, self.metric)
                ));
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
        default_score: sel.default_score,
        candidates: sel.candidates,
        selection_seconds: sel.fit_seconds,
        info: sel.model.info().clone(),
        class_balance: sel.model.class_balance().to_vec(),
        lf_names: votes[train].lf_names().to_vec(),
        lf_accuracies: sel.model.lf_accuracies(),
        predict: config.predict,
        policy_seed: config.predict.seed,
        metric: config.metric,
        splits: evals,
    };
    data::write_json(&out.join("label_model.metrics.json"), &report)?;
    Ok(report)
}

/// Runs the pipeline of a resolved config and writes its outputs under `config.out`. With
/// `resume`, end-model training continues from `<out>/checkpoint` (a checkpoint of the same run).
pub fn run(
    resolved: &ResolvedRun,
    registry: &Registry,
    resume: bool,
    progress: &dyn Progress,
) -> Result<RunOutputs> {
    let (cfg, seeds) = (&resolved.config, &resolved.seeds);
    let lfs = pipeline::lf_set(&cfg.lfs, &cfg.data, registry)?;
    let splits = pipeline::load_data(&cfg.data, seeds, lfs.as_ref().map(|s| s.classes()))?;
    if cfg.drop_uncovered {
        return Err(Error::Config(
            "drop_uncovered (--drop-uncovered) is for token data: on classification data stage 1 trains on covered rows only already".into(),
        ));
    }
    let out = data::OutputDir::prepare(&cfg.out, "run", if resume { &["*"] } else { &[] })?;
    data::write_atomic(&cfg.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let compiled = lfs.map(|s| s.compile()).transpose()?;
    let source = match (&compiled, &cfg.lfs.votes) {
        (Some(c), _) => pipeline::VoteSource::Lfs(c),
        (None, Some(dir)) => pipeline::VoteSource::Saved(dir),
        (None, None) => pipeline::VoteSource::Stored,
    };
    let votes = pipeline::votes(&splits, source, &cfg.lfs.apply, progress)?;
    let classes = splits.splits.first().map(|d| d.classes.clone()).unwrap_or_default();
    let mut reports = Vec::new();
    for (ds, v) in splits.splits.iter().zip(&votes.splits) {
        let analysis = analyze(&v.matrix, ds.gold().as_deref(), v.kinds.as_deref(), v.faults.as_deref());
        let stem = cfg.out.join(&ds.split);
        v.matrix.write_parquet(&with_suffix(&stem, ".votes.parquet"), &ds.classes)?;
        write_analysis(&analysis, &ds.classes, &stem)?;
        reports.push(SplitReport { split: ds.split.clone(), matrix: v.matrix.clone(), analysis });
    }
    let roles = pipeline::roles(&splits)?;
    let label_model = LabelModelConfig {
        predict: PredictOptions { seed: seeds.policy(), ..cfg.label_model.predict },
        ..cfg.label_model.clone()
    };
    let weak = pipeline::weak_labels(&label_model, &votes, &roles)?;
    let lm =
        write_label_model(&weak.selected, &label_model, &splits, &votes.matrices(), roles.train, &cfg.out)?;
    let end = match &resolved.end_model {
        None => None,
        Some(end_model) => {
            let how = pipeline::Supervise { targets: &cfg.targets, soft: cfg.soft, drop_tied: cfg.drop_tied };
            let sup = Supervision::build(&splits, &roles, &how, Some(&weak), Some(&votes), seeds)?;
            let training = pipeline::Training { method: cfg.method, train: &cfg.train, cosine: &cfg.cosine };
            let ckpt = checkpoint_path(&cfg.out);
            let fitted = pipeline::fit_end_model(
                end_model,
                &splits,
                &sup,
                training,
                seeds,
                Some((&ckpt, resume)),
                progress,
            )?;
            fitted.model.save(&cfg.out.join("model"), &classes)?;
            report::write_end_model(&fitted.run, &splits, &classes, cfg.train.metric, &cfg.out)?;
            Some(fitted.run)
        }
    };
    let text = report::render(cfg, &classes, &reports, &lm, &splits.splits[roles.train].split, end.as_ref());
    data::write_atomic(&cfg.out.join("report.md"), text.as_bytes())?;
    let html = report_html::render(&report_html::HtmlInputs {
        cfg,
        classes: &classes,
        splits: &splits,
        reports: &reports,
        lm: &lm,
        fit_split: roles.train,
        end: end.as_ref(),
    })?;
    data::write_atomic(&cfg.out.join("report.html"), html.as_bytes())?;
    out.finish()?;
    Ok(RunOutputs { out: cfg.out.clone(), classes, splits: reports, label_model: lm, end_model: end })
}

/// Writes `<stem>.lf_summary.{txt,csv,json,svg}`.
pub fn write_analysis(a: &LfAnalysis, classes: &[String], stem: &Path) -> Result<()> {
    data::write_atomic(&with_suffix(stem, ".lf_summary.txt"), a.to_table(classes).as_bytes())?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.csv"), a.to_csv(classes).as_bytes())?;
    data::write_json(&with_suffix(stem, ".lf_summary.json"), a)?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.svg"), a.to_svg(classes).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_section_keeps_the_other_defaults() {
        // Each section's defaults are its type's `Default`, whether the section is absent or
        // names only some keys: no second set of defaults can drift from the first.
        let cfg: RunConfig = toml::from_str("[train]\nbatch_size = 16\n[cosine]\nxi = 0.5\n").unwrap();
        let d = RunConfig::default();
        assert_eq!(cfg.train, TrainConfig { batch_size: 16, ..d.train.clone() });
        assert_eq!(cfg.cosine, CosineConfig { xi: 0.5, ..d.cosine.clone() });
        assert_eq!(cfg.train.max_steps, 600);
        assert_eq!(RunConfig { train: d.train.clone(), cosine: d.cosine.clone(), ..cfg }, d);
    }

    #[test]
    fn the_printed_config_reads_back_as_the_same_config() {
        let cfg = RunConfig { seed: 7, method: Method::Weak, drop_tied: true, ..RunConfig::default() };
        let back: RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        // Only the run's seed is shown: the derived ones are not settable.
        assert_eq!(cfg.to_toml().matches("seed").count(), 1, "{}", cfg.to_toml());
    }

    #[test]
    fn resolve_names_the_key_and_flag_of_a_bad_value() {
        let bad = |cfg: RunConfig| cfg.resolve().unwrap_err().to_string();
        let mut cfg = RunConfig { method: Method::Weak, ..RunConfig::default() };
        cfg.end_model.model = "ngram".parse().unwrap();
        cfg.train.batch_size = 0;
        assert!(bad(cfg.clone()).contains("train.batch_size (--batch-size) = 0"));
        cfg.train.batch_size = 8;
        cfg.cosine.t3 = 0;
        assert!(bad(cfg.clone()).contains("cosine.t3 (--t3)"));
        cfg.cosine.t3 = 10;
        cfg.targets = Targets::Gold;
        cfg.soft = true;
        assert!(bad(cfg.clone()).contains("--soft"));
        // `none` trains nothing, so the trainer's settings are not checked and no model resolves.
        let none = RunConfig {
            method: Method::None,
            train: TrainConfig { batch_size: 0, ..TrainConfig::default() },
            ..RunConfig::default()
        };
        assert!(none.resolve().unwrap().end_model.is_none());
    }

    #[test]
    fn one_seed_gives_every_stream() {
        let r = RunConfig { seed: 9, ..RunConfig::default() };
        let r = RunConfig { method: Method::None, ..r }.resolve().unwrap();
        assert_eq!(r.seeds, Seeds::new(9));
        assert_ne!(Seeds::new(9).init(), Seeds::new(10).init());
    }
}
