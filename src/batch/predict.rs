//! `batch predict`: a model written by `weaksup train` (n-gram or transformer) over a corpus,
//! chunk by chunk, with no-grad, length-bucketed batches on the CPU or a CUDA device. Every part
//! holds `file`, `row`, the id column (if any), `prob_<class>` (Float32) and `prediction` (Int32).

use std::path::PathBuf;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{BatchRun, Columns, Job, Summary, fingerprint};
use crate::error::{Error, Result, TorchContext};
use crate::model::DeviceChoice;
use crate::progress::Progress;
use crate::train::{self, EndModel, Padding};

/// What `batch predict` runs; saved in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PredictOptions {
    /// The folder written by `weaksup train` (or its `model/` subfolder).
    pub model: PathBuf,
    /// `cpu`, `cuda` or `cuda:N`. Default `cpu`.
    pub device: DeviceChoice,
    /// Examples per forward pass (batches are formed from rows of similar length). Default 256.
    pub batch_size: usize,
    /// The corpus's class names, when given: checked against the model's before any work.
    pub classes: Option<Vec<String>>,
    /// `(model class, corpus class)` pairs when the names differ ([`crate::data::class_mapping`]).
    pub class_map: Vec<(String, String)>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            model: PathBuf::from("model"),
            device: DeviceChoice::Cpu,
            batch_size: 256,
            classes: None,
            class_map: Vec::new(),
        }
    }
}

struct PredictJob {
    model: EndModel,
    /// Output class names (the corpus's when given).
    classes: Vec<String>,
    /// For each model class, its output column.
    to_out: Vec<usize>,
    batch_size: usize,
}

/// Runs `batch predict` over `target` (resuming a run recorded in its output folder).
pub fn predict(opts: &PredictOptions, target: &BatchRun, progress: &dyn Progress) -> Result<Summary> {
    if opts.batch_size == 0 {
        return Err(Error::Config("batch_size must be at least 1".into()));
    }
    if let Some(t) = target.control.threads {
        tch::set_num_threads(t.max(1) as i32);
    }
    let device = opts.device.device()?;
    let dir = if opts.model.join("model/weaksup.json").is_file() {
        opts.model.join("model")
    } else {
        opts.model.clone()
    };
    let (model, model_classes) = EndModel::load(&dir, device)?;
    let tagger = model.head() == crate::model::Head::Token;
    if tagger && !opts.class_map.is_empty() {
        return Err(Error::Config("--class-map is for text classifiers; a tagger's tags are its own".into()));
    }
    if let (true, Some(data)) = (tagger, &opts.classes)
        && *data != model_classes
    {
        return Err(Error::Config(format!(
            "the tagger's tags [{}] differ from --classes [{}]",
            model_classes.join(", "),
            data.join(", ")
        )));
    }
    let (classes, to_out) = match &opts.classes {
        Some(data) => (data.clone(), crate::data::class_mapping(&model_classes, data, &opts.class_map)?),
        None => (model_classes.clone(), (0..model_classes.len()).collect()),
    };
    if target.options.id_col.as_deref().is_some_and(|id| {
        ["prediction", "pred", "tokens", "file", "row"].contains(&id) || id.starts_with("prob_")
    }) {
        return Err(Error::Config(
            "the id column clashes with an output column (prediction, pred, tokens, prob_*)".into(),
        ));
    }
    let mut files = vec![fingerprint(&dir.join("weaksup.json"))?];
    for f in ["model.safetensors", "tokenizer.json"] {
        if dir.join(f).is_file() {
            files.push(fingerprint(&dir.join(f))?);
        }
    }
    let settings = serde_json::json!({
        "model": files,
        "classes": classes,
        "class_map": opts.class_map,
        "device": opts.device,
        "batch_size": opts.batch_size,
    });
    if tagger {
        let mut settings = settings;
        settings["task"] = serde_json::json!("tokens");
        let mut job =
            super::token::TokenPredictJob { model, tags: model_classes, batch_size: opts.batch_size };
        return super::run(&mut job, ("predict", settings), target, progress);
    }
    let mut job = PredictJob { model, classes, to_out, batch_size: opts.batch_size };
    super::run(&mut job, ("predict", settings), target, progress)
}

impl Job for PredictJob {
    fn columns(&self) -> Columns {
        // Relation and pair models read span or sentence columns besides the text.
        if self.model.input() == crate::data::ModelInput::Text {
            Columns::Named(Vec::new())
        } else {
            Columns::All
        }
    }
    fn process(&mut self, frame: &DataFrame, _part: (usize, u64)) -> Result<Vec<Column>> {
        let n = frame.height();
        let flat: Vec<f32> = if n == 0 {
            Vec::new()
        } else {
            let texts = crate::data::model_texts(frame, self.model.input(), "batch input")?;
            let enc = self.model.encode_inputs(&texts)?;
            let proba = train::predict_proba(&self.model, &enc, self.batch_size, Padding::Bucketed)?;
            Vec::<f32>::try_from(proba.flatten(0, -1)).ctx(|| "probabilities".into())?
        };
        let c = self.classes.len();
        let mut out = vec![0f32; flat.len()];
        for (i, row) in flat.chunks(c).enumerate() {
            for (m, &p) in row.iter().enumerate() {
                out[i * c + self.to_out[m]] = p;
            }
        }
        Ok(crate::data::prediction_columns(&out, &self.classes).0)
    }
}
