//! `weaksup run`: the main job. Today it loads a corpus (the built-in demo corpus by default),
//! applies the LF files, analyses them and writes everything to one output folder; later stages
//! (label model, end model, COSINE) attach here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::{self, LoadOptions, Splits, demo::DemoParams, with_suffix};
use crate::error::{Error, Result};
use crate::label_model::{
    Evaluation, FitInfo, LabelModel, LabelModelConfig, Metric, Params, PredictOptions, Selected, score, soft_label_frame,
};
use crate::lf::{ApplyOptions, LfAnalysis, LfFile, LfSet, Registry, analyze};
use crate::matrix::LabelMatrix;
use crate::progress::Progress;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A dataset path (WRENCH folder, CSV, Parquet, JSONL, COSINE JSON); `None` = the demo corpus.
    pub path: Option<PathBuf>,
    /// Column mapping and format for `path`.
    pub load: LoadOptions,
    /// Parameters of the built-in demo corpus (used when `path` is `None`); its `seed` is always
    /// the run's `seed`.
    pub demo: DemoParams,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { path: None, load: LoadOptions::default(), demo: DemoParams::default() }
    }
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
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            out: PathBuf::from("runs/demo"),
            data: DataConfig::default(),
            lfs: LfConfig::default(),
            label_model: LabelModelConfig::default(),
        }
    }
}

impl RunConfig {
    /// Reads a TOML config; unknown keys are errors naming the line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = data::read_utf8(path)?;
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| data::line_of(&text, s.start));
            Error::parse(path, line, None, e.message().to_string())
        })
    }
    /// Makes derived values consistent: the demo corpus and the label model's random policies
    /// are seeded by the run's `seed`.
    pub fn resolve(&mut self) {
        self.data.demo.seed = self.seed;
        self.label_model.predict.seed = self.seed;
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

/// The split to fit on (`train`, or the only split) and the dev split (`valid` with gold labels).
pub fn fit_and_dev_splits(splits: &Splits) -> Result<(usize, Option<(usize, Vec<Option<u32>>)>)> {
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

/// Runs the pipeline and writes its outputs under `cfg.out`.
pub fn run(cfg: &RunConfig, registry: &Registry, progress: &dyn Progress) -> Result<RunOutputs> {
    let splits = load_data(cfg)?;
    let lfs = load_lfs(cfg, registry)?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    data::write_atomic(&cfg.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let compiled = lfs.map(|s| s.compile()).transpose()?;
    let mut reports = Vec::new();
    let classes = splits.splits.first().map(|d| d.classes.clone()).unwrap_or_default();
    for ds in &splits.splits {
        ds.require_non_empty()?;
        let (matrix, faults, kinds) = match &compiled {
            Some(c) => {
                if c.classes() != ds.classes.as_slice() {
                    return Err(Error::Config(format!(
                        "the LF files' classes [{}] differ from the data's [{}]",
                        c.classes().join(", "),
                        ds.classes.join(", ")
                    )));
                }
                let applied = c.apply(&ds.frame, &cfg.lfs.apply, progress)?;
                (applied.matrix, Some(applied.faults), Some(c.kinds().to_vec()))
            }
            None => match &ds.votes {
                Some(v) => (v.clone(), None, None),
                None => return Err(Error::Config(format!("split `{}` has no stored votes: give LF files ([lfs] files)", ds.split))),
            },
        };
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
    let report = render_report(cfg, &classes, &reports, &lm, &splits.splits[train].split);
    data::write_atomic(&cfg.out.join("report.md"), report.as_bytes())?;
    Ok(RunOutputs { out: cfg.out.clone(), classes, splits: reports, label_model: lm })
}


/// Writes `<stem>.lf_summary.{txt,csv,json,svg}`.
pub fn write_analysis(a: &LfAnalysis, classes: &[String], stem: &Path) -> Result<()> {
    data::write_atomic(&with_suffix(stem, ".lf_summary.txt"), a.to_table(classes).as_bytes())?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.csv"), a.to_csv(classes).as_bytes())?;
    data::write_json(&with_suffix(stem, ".lf_summary.json"), a)?;
    data::write_atomic(&with_suffix(stem, ".lf_summary.svg"), a.to_svg().as_bytes())
}

fn render_report(cfg: &RunConfig, classes: &[String], reports: &[SplitReport], lm: &LabelModelReport, fit_split: &str) -> String {
    let mut s = String::from("# weaksup run\n\n");
    s.push_str(&format!(
        "Data: {}. Classes: {}. Seed: {}. Resolved config: [config.toml](config.toml).\n\n",
        cfg.data.path.as_ref().map_or("built-in demo corpus".to_string(), |p| format!("`{}`", p.display())),
        classes.join(", "),
        cfg.seed
    ));
    s.push_str(&format!(
        "## Label model\n\nModel: [label_model.json](label_model.json); metrics: [label_model.metrics.json](label_model.metrics.json); soft labels: `<split>.soft_labels.parquet`.\n\n```\n{}```\n\n",
        lm.summary(fit_split)
    ));
    for r in reports {
        s.push_str(&format!(
            "## LFs on {} ({} rows, {} LFs)\n\nVotes: [{0}.votes.parquet]({0}.votes.parquet). Summary: [CSV]({0}.lf_summary.csv), [JSON]({0}.lf_summary.json).\n\n```\n{}```\n\n![LF chart]({0}.lf_summary.svg)\n\n",
            r.split,
            r.matrix.n_rows(),
            r.matrix.n_lfs(),
            r.analysis.to_table(classes)
        ));
    }
    s
}
