//! `weaksup run`, `train`, `cosine` and `predict`. The first three are the same pipeline over one
//! [`RunConfig`] (a config file, the defaults, or both, with each flag overriding one key):
//! `run` writes every stage's outputs and `report.md`; `train` and `cosine` write the end model and
//! its reports, with the method `weak` (or `--method`) and `cosine`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use polars::prelude::*;
use serde::Serialize;

use super::args::{DataArgs, PipelineArgs};
use super::progress::{Bars, KillAt};
use crate::data;
use crate::label_model::{LabelModel, LabelModelChoice, PredictOptions};
use crate::lf::Registry;
use crate::metrics::Metric;
use crate::model::{DeviceChoice, EndModel};
use crate::run::pipeline::{self, EndModelRun, Supervise, Supervision, Targets, Training, VoteSource};
use crate::run::{self, Method, RunConfig};
use crate::train::{self, Padding};
use weaksup_core::seeds::Seeds;

#[derive(Args, Debug)]
pub(super) struct RunArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// End-model method: none (stop after the label model), weak (stage 1 only) or cosine.
    #[arg(long)]
    method: Option<Method>,
}

#[derive(Args, Debug)]
pub(super) struct TrainArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// `weak` (stage 1 only: the trainer on the targets) or `cosine` (stage 1, then COSINE).
    #[arg(long, default_value_t = Method::Weak)]
    method: Method,
}

#[derive(Args, Debug)]
pub(super) struct CosineArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Args, Debug)]
pub(super) struct PredictArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the demo corpus (when --data is omitted).
    #[arg(long, default_value_t = RunConfig::default().seed)]
    seed: u64,
    /// A folder written by `weaksup train` (its model/ subfolder, or the model folder itself).
    #[arg(long)]
    model: PathBuf,
    /// Output: <split>.predictions.parquet per split.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    #[arg(long, default_value_t = 64, value_parser = super::positive)]
    batch_size: usize,
    /// When the data's class names differ from the model's: MODEL_CLASS=DATA_CLASS pairs,
    /// comma-separated (e.g. HAM=ham,SPAM=spam). Predictions then use the data's names.
    #[arg(long, value_delimiter = ',')]
    class_map: Vec<String>,
}

pub(super) fn cmd_run(a: RunArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let cfg = a.pipeline.config(a.method)?;
    let resolved = cfg.resolve()?;
    if a.pipeline.print_config {
        print!("{}", resolved.config.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let bars = Bars::new(quiet);
    let bars = KillAt::new(&bars, &["training", "COSINE stage 2"], a.pipeline.kill_after_steps);
    let t = Instant::now();
    if super::is_tagging(&resolved.config.data)? {
        let outputs = run::token::run_tokens(&resolved, registry, a.pipeline.resume, &bars)?;
        if !quiet {
            print!("{}", super::token::run_summary(&outputs));
            println!(
                "wrote {} in {:.1}s (report: {})",
                outputs.out.display(),
                t.elapsed().as_secs_f64(),
                outputs.out.join("report.md").display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let outputs = run::run(&resolved, registry, a.pipeline.resume, &bars)?;
    if !quiet {
        let c = &resolved.config;
        for r in &outputs.splits {
            println!("== LFs on {} ==\n{}", r.split, r.analysis.to_table(&outputs.classes));
        }
        print!("{}", outputs.label_model.summary("train"));
        if let Some(r) = &outputs.end_model {
            println!(
                "== end model `{}` ({}, {}) ==",
                c.end_model.model, c.end_model.precision, c.end_model.device
            );
            print_summary(r, c.train.metric);
        }
        println!(
            "wrote {} in {:.1}s (report: {})",
            outputs.out.display(),
            t.elapsed().as_secs_f64(),
            outputs.out.join("report.md").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn cmd_train(a: TrainArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    fit(a.pipeline, a.method, registry, quiet)
}

pub(super) fn cmd_cosine(a: CosineArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    fit(a.pipeline, Method::Cosine, registry, quiet)
}

/// What `train.json` records: the resolved config, the label model asked for and chosen, and
/// what training did.
#[derive(Serialize)]
struct TrainOutput<'a> {
    config: &'a RunConfig,
    label_model: Option<LabelModelRecord>,
    run: &'a EndModelRun,
}

#[derive(Serialize)]
struct LabelModelRecord {
    requested: LabelModelChoice,
    chosen: &'static str,
}

/// `train` and `cosine`: the pipeline up to the end model, then its outputs.
fn fit(p: PipelineArgs, method: Method, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    if method == Method::None {
        bail!("--method none trains nothing: use weak or cosine");
    }
    let cfg = p.config(Some(method))?;
    let resolved = cfg.resolve()?;
    let cfg = &resolved.config;
    if p.print_config {
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    if p.out.is_none() {
        bail!("--out is required: the folder for the model and its reports");
    }
    if super::is_tagging(&cfg.data)? {
        return super::token::train_tagger(&resolved, registry, p.resume, p.kill_after_steps, quiet);
    }
    if cfg.drop_uncovered {
        bail!(
            "--drop-uncovered is for token data: on classification data stage 1 trains on covered rows only already"
        );
    }
    let seeds = &resolved.seeds;
    let weak_targets = cfg.targets == Targets::LabelModel;
    let lfs = if weak_targets { pipeline::lf_set(&cfg.lfs, &cfg.data, registry)? } else { None };
    let splits = pipeline::load_data(&cfg.data, seeds, lfs.as_ref().map(|s| s.classes()))?;
    let roles = pipeline::roles(&splits)?;
    let classes = splits.splits[roles.train].classes.clone();
    let bars = Bars::new(quiet);
    let (votes, weak) = if weak_targets {
        let compiled = lfs.map(|s| s.compile()).transpose()?;
        let source = match (&compiled, &cfg.lfs.votes) {
            (Some(c), _) => VoteSource::Lfs(c),
            (None, Some(dir)) => VoteSource::Saved(dir),
            (None, None) => VoteSource::Stored,
        };
        let votes = pipeline::votes(&splits, source, &cfg.lfs.apply, &bars)?;
        let lm = crate::label_model::LabelModelConfig {
            predict: PredictOptions { seed: seeds.policy(), ..cfg.label_model.predict },
            ..cfg.label_model.clone()
        };
        let weak = pipeline::weak_labels(&lm, &votes, &roles)?;
        if !quiet {
            println!(
                "weak labels: label model `{}` on the covered rows of `{}`",
                weak.selected.model.name(),
                splits.splits[roles.train].split
            );
        }
        (Some(votes), Some(weak))
    } else {
        (None, None)
    };
    let how = Supervise { targets: &cfg.targets, soft: cfg.soft, drop_tied: cfg.drop_tied };
    let sup = Supervision::build(&splits, &roles, &how, weak.as_ref(), votes.as_ref(), seeds)?;
    if cfg.drop_tied && !quiet {
        let covered = weak.as_ref().map_or(0, |w| w.covered.iter().filter(|&&c| c).count());
        println!(
            "stage 1: {} of {covered} weakly labelled rows left out (their votes tie)",
            covered - sup.rows.len()
        );
    }
    let out_dir = data::OutputDir::prepare(&cfg.out, "train", if p.resume { &["*"] } else { &[] })?;
    let ckpt = train::checkpoint_path(&cfg.out);
    let bars = KillAt::new(&bars, &["training", "COSINE stage 2"], p.kill_after_steps);
    let end_model = resolved.end_model.as_ref().expect("a training method resolves an end model");
    let training = Training { method: cfg.method, train: &cfg.train, cosine: &cfg.cosine };
    let fitted =
        pipeline::fit_end_model(end_model, &splits, &sup, training, seeds, Some((&ckpt, p.resume)), &bars)?;
    fitted.model.save(&cfg.out.join("model"), &classes)?;
    let label_model =
        weak.as_ref().map(|w| LabelModelRecord { requested: w.requested, chosen: w.selected.model.name() });
    data::write_json(
        &cfg.out.join("train.json"),
        &TrainOutput { config: cfg, label_model, run: &fitted.run },
    )?;
    // metrics.json, curves (CSV + SVG), confusion matrices and predictions, as `weaksup run` writes.
    run::write_end_model(&fitted.run, &splits, &classes, cfg.train.metric, &cfg.out)?;
    out_dir.finish()?;
    if !quiet {
        print_summary(&fitted.run, cfg.train.metric);
        println!("wrote {}", cfg.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Stage 1, COSINE rounds and per-split scores, for terminals.
pub(super) fn print_summary(r: &EndModelRun, metric: Metric) {
    let s1 = &r.stage1;
    // Without a valid split with gold labels nothing is chosen: say what is kept instead.
    let no_valid = s1.best_score.is_none();
    println!(
        "{}trained {} steps on {} rows in {:.1}s ({:.1} examples/s){}; {}",
        if r.cosine.is_some() { "stage 1: " } else { "" },
        s1.steps,
        r.train_rows,
        s1.seconds,
        s1.examples_per_second,
        if s1.stopped_early { ", stopped early" } else { "" },
        match (s1.best_score, s1.best_step) {
            (Some(s), Some(step)) => format!("best valid {s:.3} at step {step}"),
            _ => "no valid split with gold labels: the final weights".into(),
        }
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
                match (round.pseudo_accuracy, round.teacher_accuracy) {
                    (Some(p), Some(t)) => format!(", pseudo-label accuracy {p:.3} (pool {t:.3}; diagnostic)"),
                    _ => String::new(),
                },
                round.loss_cls,
                round.loss_con,
                round.loss_conf,
                round.valid.map_or(String::new(), |v| format!(", valid {v:.3}"))
            );
        }
        println!(
            "COSINE: {} rounds over a pool of {} rows in {:.1}s; {}",
            c.rounds.len(),
            c.pool_rows,
            c.seconds,
            match c.best_score {
                _ if no_valid => "no valid split with gold labels: the last round's weights".to_string(),
                Some(s) => format!(
                    "best valid {s:.3} ({})",
                    if c.best_in_stage2 { "from stage 2" } else { "stage 1 stayed best" }
                ),
                None => "—".to_string(),
            }
        );
    }
    if let Some(ch) = &r.chosen {
        println!("kept weights: valid {} {:.3} at {}", metric.name(), ch.score, ch.describe());
    }
    for res in &r.splits {
        if let Some(s) = &res.covered_scores {
            println!("{:<8} {} {:.3} (LF-covered rows)", res.split, metric.name(), metric.of(s));
        }
        if let Some(s) = &res.scores {
            // A split the model was fitted on (the only split, when there is no `train`) scores
            // its own training rows: said so, never reported as if held out.
            let trained = res.split == r.train_split && res.split != "train";
            println!(
                "{:<8} {} {:.3}{}",
                res.split,
                metric.name(),
                metric.of(s),
                if trained { " (TRAINING-SET score: the model was fitted on these rows)" } else { "" }
            );
        }
    }
    println!("end model: {:.1}s in all", r.seconds);
}

pub(super) fn cmd_predict(a: PredictArgs) -> Result<ExitCode> {
    let map = data::parse_class_map(&a.class_map)?;
    let device = a.device.device()?;
    let dir =
        if a.model.join("model/weaksup.json").is_file() { a.model.join("model") } else { a.model.clone() };
    let (model, classes) = EndModel::load(&dir, device)?;
    let data_cfg = a.data.config();
    let tagger = model.head() == crate::model::Head::Token;
    if tagger != super::is_tagging(&data_cfg)? {
        bail!(
            "{} is a {} but the data holds {}",
            dir.display(),
            if tagger { "tagger (a tag per word)" } else { "text classifier" },
            if tagger { "texts to classify (use --task tagging if it is token data)" } else { "token data" }
        );
    }
    if tagger {
        return super::token::predict_tags(&model, &classes, &data_cfg, &a.out, a.batch_size);
    }
    let splits = pipeline::load_data(&data_cfg, &Seeds::new(a.seed), Some(&classes))?;
    // Every split's classes against the model's, before any prediction is written.
    let maps = splits
        .splits
        .iter()
        .map(|ds| data::class_mapping(&classes, &ds.classes, &map).with_context(|| ds.describe()))
        .collect::<Result<Vec<_>>>()?;
    let out = data::OutputDir::prepare(&a.out, "predict", &[])?;
    for (ds, to_data) in splits.splits.iter().zip(&maps) {
        let enc = model.encode_inputs(&pipeline::model_texts(ds, model.input())?)?;
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
            let (n, ok) = g
                .iter()
                .zip(&pred)
                .filter_map(|(g, p)| g.map(|g| g == *p))
                .fold((0, 0), |(n, ok), x| (n + 1, ok + x as usize));
            (ok as f64 / n.max(1) as f64, n)
        });
        println!(
            "{}: {} rows → {}{}",
            ds.split,
            ds.len(),
            path.display(),
            acc.map_or(String::new(), |(a, n)| format!(" (accuracy {a:.3} on {n} labelled rows)"))
        );
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
