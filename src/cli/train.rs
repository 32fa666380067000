//! `weaksup train` and `weaksup predict`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use polars::prelude::*;
use serde::Serialize;

use super::label_model::load_with_votes;
use super::progress::{Bars, KillAt};
use super::{DataArgs, VotesArgs, load_data};
use crate::data;
use crate::label_model::{LabelModel, LabelModelConfig};
use crate::lf::Registry;
use crate::metrics::Metric;
use crate::model::parse_device;
use crate::run::end_model::{self, EndModelConfig, EndModelRun, Method, Supervision, Targets};
use crate::run::fit_and_dev_splits;
use crate::selftrain::CosineConfig;
use crate::train::{self, EndModel, OnNonFinite, Padding, TrainConfig};

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
    /// Training targets: `label-model` (weak labels from the votes), `gold` (supervised), `valid`
    /// (half of the clean validation set trains, half early-stops), or `column:<name>` (class ids or names).
    #[arg(long, default_value = "label-model")]
    targets: String,
    /// Label model for `--targets label-model`: auto, mv, wmv, ds, snorkel.
    #[arg(long, default_value = "auto")]
    label_model: String,
    /// Train on the label model's probabilities instead of its hard labels.
    #[arg(long)]
    soft: bool,
    /// Leave rows whose LF votes tie between classes out of stage 1 (WRENCH's `cut_tied`); they
    /// stay in COSINE's pseudo-label pool.
    #[arg(long)]
    drop_tied: bool,
    /// Output folder: model/, train.json, metrics.json, curves (training_loss.svg, validation.svg, curves.csv), <split>.confusion.csv, <split>.predictions.parquet, checkpoint/.
    #[arg(long)]
    out: PathBuf,
    /// auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// auto (bf16 for transformers on CUDA or CPUs with AVX512-BF16), fp32 or bf16.
    #[arg(long, default_value = "auto")]
    precision: String,
    /// Maximum tokens per text (transformers).
    #[arg(long, default_value_t = 128, value_parser = super::positive)]
    max_len: usize,
    /// mean or cls (transformers).
    #[arg(long, default_value = "mean")]
    pooling: String,
    #[arg(long, default_value_t = 32, value_parser = super::positive)]
    batch_size: usize,
    #[arg(long, default_value_t = 1000, value_parser = super::positive)]
    max_steps: usize,
    /// Peak learning rate (default: 2e-5 for transformers, 5e-3 for the n-gram model).
    #[arg(long, value_parser = super::positive_f64)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 50, value_parser = super::positive)]
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
    /// Test hook: end the process abruptly after this many training steps (stage 1 and 2).
    #[arg(long, hide = true)]
    kill_after_steps: Option<u64>,
    /// `weak` (stage 1 only: the trainer on the targets) or `cosine` (stage 1, then COSINE self-training).
    #[arg(long, default_value = "weak")]
    pub(super) method: String,
    /// COSINE stage-2 steps (T2).
    #[arg(long, default_value_t = 300, value_parser = super::positive)]
    t2: usize,
    /// COSINE steps per round (T3; teacher refresh period).
    #[arg(long, default_value_t = 100, value_parser = super::positive)]
    t3: usize,
    /// COSINE confidence threshold ξ.
    #[arg(long, default_value_t = 0.6, value_parser = super::unit_interval)]
    xi: f64,
    /// COSINE confidence-regulariser weight λ.
    #[arg(long, default_value_t = 0.1, value_parser = super::non_negative_f64)]
    lambda: f64,
    /// COSINE contrastive-regulariser weight μ.
    #[arg(long, default_value_t = 1.0, value_parser = super::non_negative_f64)]
    mu: f64,
    /// COSINE contrastive margin γ.
    #[arg(long, default_value_t = 1.0, value_parser = super::positive_f64)]
    gamma: f64,
    /// COSINE semantics: paper (default) or wrench (reproduces WRENCH's published numbers).
    #[arg(long, default_value = "paper")]
    variant: String,
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
    #[arg(long, default_value_t = 64, value_parser = super::positive)]
    batch_size: usize,
    /// When the data's class names differ from the model's: MODEL_CLASS=DATA_CLASS pairs,
    /// comma-separated (e.g. HAM=ham,SPAM=spam). Predictions then use the data's names.
    #[arg(long, value_delimiter = ',')]
    class_map: Vec<String>,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).with_context(|| format!("--{what} {v}"))
}

#[derive(Serialize)]
struct TrainOutput<'a> {
    model: &'a EndModelConfig,
    targets: &'a str,
    /// For `--targets label-model`: the label model asked for and the one chosen on valid.
    label_model: Option<LabelModelChoice<'a>>,
    /// Trained on the label model's probabilities (`--soft`) rather than its hard labels.
    soft: bool,
    /// Rows whose votes tie were left out of stage 1 (`--drop-tied`).
    drop_tied: bool,
    method: &'a str,
    config: &'a TrainConfig,
    cosine: Option<&'a CosineConfig>,
    metric: Metric,
    /// Stage 1's report, COSINE's rounds, and every split's scores.
    run: &'a EndModelRun,
}

#[derive(Serialize)]
struct LabelModelChoice<'a> {
    requested: &'a str,
    chosen: &'a str,
}

pub(super) fn cmd_train(a: TrainArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let metric: Metric = a.metric.parse()?;
    let method: Method = a.method.parse()?;
    if method == Method::None {
        bail!("--method none trains nothing: use weak or cosine");
    }
    let targets: Targets = a.targets.parse()?;
    if (a.soft || a.drop_tied) && targets != Targets::LabelModel {
        bail!("--soft and --drop-tied shape the label model's labels; --targets {} has none", a.targets);
    }
    let mut em = EndModelConfig { model: a.model.clone(), precision: a.precision.clone(), pooling: parse("pooling", &a.pooling)?, max_len: a.max_len, device: a.device.clone() };
    em.resolve()?;
    // Every setting is checked before any data is read.
    let cfg = TrainConfig {
        batch_size: a.batch_size,
        max_steps: a.max_steps,
        lr: a.lr,
        eval_every: a.eval_every,
        patience: a.patience,
        metric,
        padding: parse("padding", &a.padding)?,
        seed: a.data.seed,
        on_nonfinite: parse::<OnNonFinite>("on-nonfinite", &a.on_nonfinite)?,
        ..TrainConfig::default()
    };
    cfg.validate()?;
    let ccfg = CosineConfig { t2: a.t2, t3: a.t3, xi: a.xi, lambda: a.lambda, mu: a.mu, gamma: a.gamma, variant: parse("variant", &a.variant)?, ..CosineConfig::default() };
    ccfg.validate()?;
    let lm_config = LabelModelConfig { model: a.label_model.clone(), metric, ..LabelModelConfig::default() };
    lm_config.validate()?;
    let (splits, votes) = if targets == Targets::LabelModel {
        let (s, v) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
        (s, Some(v))
    } else {
        (load_data(&a.data, None)?, None)
    };
    let (train_k, dev) = fit_and_dev_splits(&splits)?;
    let classes = splits.splits[train_k].classes.clone();
    let weak = match &votes {
        Some(votes) => {
            let sel = lm_config.fit(&votes[train_k].matrix, dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice())))?;
            if !quiet {
                println!("weak labels: label model `{}` on the covered rows of `{}`", sel.model.name(), splits.splits[train_k].split);
            }
            Some((sel.model.predict_proba(&votes[train_k].matrix)?, votes[train_k].matrix.covered(), sel.model.name()))
        }
        None => None,
    };
    let sup = Supervision::new(&splits, train_k, dev.as_ref().map(|(k, _)| *k), &targets, weak.as_ref().map(|(p, c, _)| (p, c.as_slice())), a.soft, a.data.seed)?;
    let sup = match &votes {
        Some(v) if a.drop_tied => {
            let before = sup.rows.len();
            let sup = sup.drop_tied(true, &targets, &v[train_k].matrix)?;
            if !quiet {
                println!("stage 1: {} of {before} weakly labelled rows left out (their votes tie)", before - sup.rows.len());
            }
            sup
        }
        _ => sup,
    };
    let mut model = em.build(classes.len() as i64, a.data.seed)?;
    let out_dir = data::OutputDir::prepare(&a.out, "train", if a.resume { &["*"] } else { &[] })?;
    let ckpt = train::checkpoint_path(&a.out);
    let bars = Bars::new(quiet);
    let bars = KillAt::new(&bars, &["training", "COSINE stage 2"], a.kill_after_steps);
    let checkpointing = end_model::Checkpointing { dir: &ckpt, model: &em, resume: a.resume };
    let r = end_model::fit(&mut model, &splits, &sup, method, &cfg, &ccfg, Some(checkpointing), &bars)?;
    model.save(&a.out.join("model"), &classes)?;
    let label_model = weak.as_ref().map(|(_, _, chosen)| LabelModelChoice { requested: &a.label_model, chosen });
    let out = TrainOutput { model: &em, targets: &a.targets, label_model, soft: a.soft, drop_tied: a.drop_tied, method: &a.method, config: &cfg, cosine: r.cosine.as_ref().map(|_| &ccfg), metric, run: &r };
    data::write_json(&a.out.join("train.json"), &out)?;
    // metrics.json, curves (CSV + SVG), confusion matrices and predictions, as `weaksup run` writes.
    crate::run::write_end_model(&r, &splits, &classes, metric, &a.out)?;
    out_dir.finish()?;
    if !quiet {
        print_summary(&r, metric);
        println!("wrote {}", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Stage 1, COSINE rounds and per-split scores, for terminals.
pub(super) fn print_summary(r: &EndModelRun, metric: Metric) {
    let s1 = &r.stage1;
    println!(
        "{}trained {} steps on {} rows in {:.1}s ({:.1} examples/s){}; best valid {} at step {}",
        if r.cosine.is_some() { "stage 1: " } else { "" },
        s1.steps,
        r.train_rows,
        s1.seconds,
        s1.examples_per_second,
        if s1.stopped_early { ", stopped early" } else { "" },
        s1.best_score.map_or("-".into(), |s| format!("{s:.3}")),
        s1.best_step.map_or("-".into(), |s| s.to_string())
    );
    if let Some(c) = &r.cosine {
        for (split, s) in &r.stage1_scores {
            println!("  stage 1 alone: {split:<8} {} {:.3}", metric.name(), metric.of(s));
        }
        for round in &c.rounds {
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
        println!(
            "COSINE: {} rounds in {:.1}s; best valid {} ({})",
            c.rounds.len(),
            c.seconds,
            c.best_score.map_or("-".into(), |s| format!("{s:.3}")),
            if c.best_in_stage2 { "from stage 2" } else { "stage 1 stayed best" }
        );
    }
    for res in &r.splits {
        if let Some(s) = &res.covered_scores {
            println!("{:<8} {} {:.3} (LF-covered rows)", res.split, metric.name(), metric.of(s));
        }
        if let Some(s) = &res.scores {
            println!("{:<8} {} {:.3}", res.split, metric.name(), metric.of(s));
        }
    }
    println!("end model: {:.1}s in all", r.seconds);
}

pub(super) fn cmd_predict(a: PredictArgs) -> Result<ExitCode> {
    let map = data::parse_class_map(&a.class_map)?;
    let device = parse_device(&a.device)?;
    let dir = if a.model.join("model/weaksup.json").is_file() { a.model.join("model") } else { a.model.clone() };
    let (model, classes) = EndModel::load(&dir, device)?;
    let splits = load_data(&a.data, Some(&classes))?;
    // Every split's classes against the model's, before any prediction is written.
    let maps = splits.splits.iter().map(|ds| data::class_mapping(&classes, &ds.classes, &map).with_context(|| ds.describe())).collect::<Result<Vec<_>>>()?;
    let out = data::OutputDir::prepare(&a.out, "predict", &[])?;
    for (ds, to_data) in splits.splits.iter().zip(&maps) {
        let texts: Vec<&str> = ds.texts()?.iter().map(|t| t.unwrap_or("")).collect();
        let enc = model.encode(&texts)?;
        let proba = train::predict_proba(&model, &enc, a.batch_size, Padding::Bucketed)?;
        let flat: Vec<f32> = Vec::try_from(proba.flatten(0, -1))?;
        // Columns in the data's class order and names.
        let c = classes.len();
        let mut in_data = vec![0f32; flat.len()];
        for (i, row) in flat.chunks(c).enumerate() {
            for (m, &p) in row.iter().enumerate() {
                in_data[i * c + to_data[m]] = p;
            }
        }
        let (cols, pred) = data::prediction_columns(&in_data, &ds.classes);
        let mut frame = DataFrame::new_infer_height(cols)?;
        let path = out.path().join(format!("{}.predictions.parquet", ds.split));
        data::write_parquet(&mut frame, &path)?;
        let acc = ds.gold().map(|g| {
            let (n, ok) = g.iter().zip(&pred).filter_map(|(g, p)| g.map(|g| g == *p)).fold((0, 0), |(n, ok), x| (n + 1, ok + x as usize));
            (ok as f64 / n.max(1) as f64, n)
        });
        println!("{}: {} rows → {}{}", ds.split, ds.len(), path.display(), acc.map_or(String::new(), |(a, n)| format!(" (accuracy {a:.3} on {n} labelled rows)")));
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
