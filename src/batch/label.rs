//! `batch label`: LF files + a fitted label model over a corpus, chunk by chunk. Every part holds
//! `file`, `row`, the id column (if any), one Int16 vote column per LF (-1 = abstain),
//! `prob_<class>` (Float64 soft labels), `label` (Int32 hard label, -1 = none) and `covered`.

use std::path::PathBuf;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{BatchRun, Columns, Job, Summary, fingerprint};
use crate::error::{Error, Result};
use crate::label_model::{Fitted, LabelModel, PredictOptions, TiePolicy, UncoveredPolicy, soft_label_frame};
use crate::lf::{ApplyOptions, CompiledLfs, LfFile, Registry};
use crate::matrix::LabelMatrix;
use crate::progress::{NoProgress, Progress};
use weaksup_core::seeds::part as part_seed;

/// What `batch label` applies; saved in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelOptions {
    /// LF files (TOML), applied in order; they must share their classes.
    pub lfs: Vec<PathBuf>,
    /// `label_model.json` written by `weaksup label-model fit` (or the folder holding it).
    pub label_model: PathBuf,
    /// Hard-label policies. Defaults: ties drawn at random (seeded per part, so reruns and shards
    /// agree), rows where every LF abstains get no label (`-1`): a large unlabeled corpus is
    /// better filtered on `covered` than given random labels.
    pub predict: PredictOptions,
    /// Count LF failures and abstain instead of stopping (default false).
    pub fault_tolerant: bool,
    /// Seed of the random policies' draws, mixed with each part's coordinates. Default 0.
    pub seed: u64,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self {
            lfs: Vec::new(),
            label_model: PathBuf::from("label_model.json"),
            predict: PredictOptions { tie: TiePolicy::Random, uncovered: UncoveredPolicy::Abstain, seed: 0 },
            fault_tolerant: false,
            seed: 0,
        }
    }
}

struct LabelJob {
    compiled: CompiledLfs,
    model: Fitted,
    opts: LabelOptions,
    apply: ApplyOptions,
}

/// Runs `batch label` over `target` (resuming a run recorded in its output folder).
pub fn label(
    opts: &LabelOptions,
    registry: &Registry,
    target: &BatchRun,
    progress: &dyn Progress,
) -> Result<Summary> {
    if opts.lfs.is_empty() {
        return Err(Error::Config("batch label needs at least one LF file".into()));
    }
    let lm_path = if opts.label_model.is_dir() {
        opts.label_model.join("label_model.json")
    } else {
        opts.label_model.clone()
    };
    if super::token::is_token_lf_file(&opts.lfs[0])? {
        let apply = ApplyOptions {
            fault_tolerant: opts.fault_tolerant,
            threads: target.control.threads,
            ..ApplyOptions::default()
        };
        let (mut job, mut settings) =
            super::token::TokenLabelJob::load(&opts.lfs, &lm_path, registry, apply)?;
        if let Some(id) = target.options.id_col.as_deref()
            && job.output_names().iter().any(|n| n == id || n == "file" || n == "row")
        {
            return Err(Error::Config(format!("the id column `{id}` clashes with an output column")));
        }
        let files = opts.lfs.iter().map(|p| fingerprint(p)).collect::<Result<Vec<_>>>()?;
        settings["lfs"] = serde_json::json!(files);
        settings["fault_tolerant"] = serde_json::json!(opts.fault_tolerant);
        return super::run(&mut job, ("label", settings), target, progress);
    }
    let (set, _) = LfFile::load_set(&opts.lfs, registry)?;
    let compiled = set.compile()?;
    // A token model fails to load here; say so rather than which JSON field it lacks.
    let model = Fitted::load(&lm_path).map_err(|e| {
        match crate::token::label_model::TokenFitted::load(&lm_path) {
            Ok(_) => Error::invalid(
                lm_path.display().to_string(),
                "a token label model: it labels with token LF files (a header with `types`), not text LF files",
            ),
            Err(_) => e,
        }
    })?;
    let classes = compiled.classes().to_vec();
    let names = compiled.names().to_vec();
    // Fails now, not on the first chunk, when the model was fitted on other LFs.
    model
        .predict_proba(&LabelMatrix::new(Vec::new(), 0, names.clone(), classes.len())?)
        .map_err(|e| Error::invalid(lm_path.display().to_string(), e.to_string()))?;
    let reserved = ["file", "row", "label", "covered"];
    if let Some(n) = names.iter().find(|n| {
        reserved.contains(&n.as_str())
            || n.starts_with("prob_")
            || target.options.id_col.as_deref() == Some(n.as_str())
    }) {
        return Err(Error::Config(format!(
            "LF `{n}`: the name clashes with an output column; rename the LF"
        )));
    }
    let files = opts.lfs.iter().map(|p| fingerprint(p)).collect::<Result<Vec<_>>>()?;
    let settings = serde_json::json!({
        "lfs": files,
        "label_model": fingerprint(&lm_path)?,
        "lf_names": names,
        "classes": classes,
        "model": model.name(),
        "predict": opts.predict,
        "fault_tolerant": opts.fault_tolerant,
    });
    let apply = ApplyOptions {
        fault_tolerant: opts.fault_tolerant,
        threads: target.control.threads,
        ..ApplyOptions::default()
    };
    let mut job = LabelJob { compiled, model, opts: opts.clone(), apply };
    super::run(&mut job, ("label", settings), target, progress)
}

impl Job for LabelJob {
    fn columns(&self) -> Columns {
        match self.compiled.input_columns() {
            Some(c) => Columns::Named(c),
            None => Columns::All,
        }
    }
    fn process(&mut self, frame: &DataFrame, part: (usize, u64)) -> Result<Vec<Column>> {
        let classes = self.compiled.classes();
        let matrix = if frame.height() == 0 {
            LabelMatrix::new(Vec::new(), 0, self.compiled.names().to_vec(), classes.len())?
        } else {
            self.compiled.apply(frame, &self.apply, &NoProgress)?.matrix
        };
        let popts = PredictOptions { seed: part_seed(self.opts.seed, part), ..self.opts.predict };
        let soft = soft_label_frame(&self.model, &matrix, classes, &popts)?;
        let mut cols = matrix.to_frame()?.into_columns();
        cols.extend(soft.into_columns());
        Ok(cols)
    }
}
