//! `weaksup label-model fit|compare`, and how the LF commands get their votes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::args::{DataArgs, PolicyArgs, VotesArgs};
use super::progress::Bars;
use crate::data::{self, Splits};
use crate::label_model::{
    Evaluation, FitOptions, Fitted, LabelModelChoice, LabelModelConfig, LabelModelKind, Metric, Params,
    PredictOptions, default_grid, mean_evaluation, score_runs, select,
};
use crate::lf::Registry;
use crate::run::pipeline::{self, VoteSource, Votes};
use crate::run::{both, fit_and_dev_splits, write_label_model};
use crate::token::label_model::{TokenLabelModelChoice, TokenLabelModelKind};
use weaksup_core::seeds::Seeds;

#[derive(Subcommand, Debug)]
pub(super) enum LabelModelCommand {
    /// Fit a label model on the train split; write the model, soft labels per split and metrics.
    Fit(LmFitArgs),
    /// Fit every label model (hyper-parameters chosen on valid) and print them side by side.
    Compare(LmCompareArgs),
}

#[derive(Args, Debug)]
pub(super) struct LmFitArgs {
    /// The model, or `auto` (every model's grid, the best on valid).
    #[arg(long, default_value_t = LabelModelChoice::Auto)]
    model: LabelModelChoice,
    /// Token data: the token label model (`auto`: each, the best span F1 on valid; default: --model
    /// where it is `auto`, `mv` or `ds`).
    #[arg(long)]
    token_model: Option<TokenLabelModelChoice>,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output folder: label_model.json, <split>.soft_labels.parquet, label_model.metrics.json.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct LmCompareArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    votes: VotesArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Models to compare.
    #[arg(long, value_delimiter = ',', default_values_t = LabelModelKind::ALL)]
    models: Vec<LabelModelKind>,
    /// Token data: token label models to compare.
    #[arg(long, value_delimiter = ',', default_values_t = TokenLabelModelKind::ALL)]
    token_models: Vec<TokenLabelModelKind>,
    /// Also write compare.md / compare.json here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn cmd_label_model(c: LabelModelCommand, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    match c {
        LabelModelCommand::Fit(a) => cmd_lm_fit(a, registry, quiet),
        LabelModelCommand::Compare(a) => cmd_lm_compare(a, registry, quiet),
    }
}

/// Loads the data and the votes of each of its splits (LF files, a votes folder, or stored
/// votes; the demo corpus comes with its LF file), through the pipeline's stages.
pub(super) fn load_with_votes(
    data: &DataArgs,
    seed: u64,
    v: &VotesArgs,
    registry: &Registry,
    quiet: bool,
) -> Result<(Splits, Votes)> {
    let (data, lfs) = (data.config(), v.config());
    let set = if v.votes.is_none() { pipeline::lf_set(&lfs, &data, registry)? } else { None };
    let splits = pipeline::load_data(&data, &Seeds::new(seed), set.as_ref().map(|s| s.classes()))?;
    let compiled = set.map(|s| s.compile()).transpose()?;
    let source = match (&compiled, &lfs.votes) {
        (Some(c), _) => VoteSource::Lfs(c),
        (None, Some(dir)) => VoteSource::Saved(dir),
        (None, None) => VoteSource::Stored,
    };
    let votes = pipeline::votes(&splits, source, &lfs.apply, &Bars::new(quiet))?;
    Ok((splits, votes))
}

fn parse_policy(a: &PolicyArgs) -> (PredictOptions, Metric, FitOptions) {
    let seed = Seeds::new(a.seed).policy();
    (
        PredictOptions { tie: a.tie, uncovered: a.uncovered, seed },
        a.metric,
        FitOptions { class_balance: a.class_balance.clone(), seed },
    )
}

/// The fit split and, unless disabled, the dev split.
fn fit_and_dev(splits: &Splits, no_select: bool) -> Result<(usize, crate::run::DevSplit)> {
    let (train, dev) = fit_and_dev_splits(splits)?;
    Ok((train, dev.filter(|_| !no_select)))
}

pub(super) fn cmd_lm_fit(a: LmFitArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let data_cfg = a.data.config();
    if super::is_tagging(&data_cfg)? {
        let lfs = a.votes.config();
        return super::token::lm_fit(
            &data_cfg,
            &lfs,
            a.model,
            a.token_model,
            &a.policy,
            &a.out,
            registry,
            quiet,
        );
    }
    let (popts, metric, fopts) = parse_policy(&a.policy);
    let config = LabelModelConfig {
        model: a.model,
        metric,
        predict: popts,
        class_balance: fopts.class_balance,
        select_on_valid: !a.policy.no_select,
        ..LabelModelConfig::default()
    };
    config.validate()?;
    let (splits, votes) = load_with_votes(&a.data, a.policy.seed, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (votes.of(*k), g.as_slice()));
    let sel = config.fit(votes.of(train), dev_ref)?;
    let out = data::OutputDir::prepare(&a.out, "label-model fit", &[])?;
    let report = write_label_model(&sel, &config, &splits, &votes.matrices(), train, &a.out)?;
    out.finish()?;
    if !quiet {
        print!("{}", report.summary(&splits.splits[train].split));
        println!("wrote {}", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct CompareRow {
    model: String,
    params: Params,
    dev_score: Option<f64>,
    /// Valid score of the model's default setting, when a grid was searched.
    default_score: Option<f64>,
    candidates: usize,
    fit_seconds: f64,
    collapsed: bool,
    converged: bool,
    valid: Option<Evaluation>,
    test: Option<Evaluation>,
    /// Lowest and highest all-row test score over the 10 policy seeds.
    test_all_range: Option<(f64, f64)>,
}

pub(super) fn cmd_lm_compare(a: LmCompareArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let data_cfg = a.data.config();
    if super::is_tagging(&data_cfg)? {
        let lfs = a.votes.config();
        return super::token::lm_compare(&data_cfg, &lfs, &a.token_models, a.out.as_deref(), registry, quiet);
    }
    let (popts, metric, fopts) = parse_policy(&a.policy);
    let (splits, votes) = load_with_votes(&a.data, a.policy.seed, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (votes.of(*k), g.as_slice()));
    // Mean over 10 policy seeds, with the range of the all-row metric across them.
    let eval_on = |name: &str, model: &Fitted| -> Result<Option<(Evaluation, f64, f64)>> {
        let Some(k) = splits.splits.iter().position(|d| d.split == name) else { return Ok(None) };
        let Some(g) = splits.splits[k].gold() else { return Ok(None) };
        let runs = score_runs(model, votes.of(k), &g, &popts, 10)?;
        let all: Vec<f64> = runs.iter().map(|e| metric.of(&e.all)).collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        Ok(Some((mean_evaluation(&runs), lo, hi)))
    };
    let mut rows = Vec::new();
    for &name in &a.models {
        let grid = default_grid(name);
        let sel = select(&grid, votes.of(train), dev_ref, metric, &fopts, &popts)?;
        // Time one fit of the chosen setting alone (the selection time covers the whole grid).
        let t = Instant::now();
        sel.params.fit_quiet(votes.of(train), &fopts)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        let test = eval_on("test", &sel.model)?;
        rows.push(CompareRow {
            model: name.to_string(),
            params: sel.params.clone(),
            dev_score: sel.dev_score,
            default_score: sel.default_score,
            candidates: sel.candidates,
            fit_seconds,
            collapsed: sel.model.info().collapsed,
            converged: sel.model.info().converged,
            valid: eval_on("valid", &sel.model)?.map(|(e, _, _)| e),
            test_all_range: test.as_ref().map(|(_, lo, hi)| (*lo, *hi)),
            test: test.map(|(e, _, _)| e),
        });
    }
    let ds = &splits.splits[train];
    let mut md = format!(
        "{} — {} covered / all rows (ties: {}, uncovered: {}; all-row scores averaged over 10 policy seeds, test range across them); hyper-parameters chosen on {}\n\n| model | valid | test | test all-row range | fit (s) | notes |\n|---|---|---|---|---|---|\n",
        ds.name,
        metric.name(),
        popts.tie,
        popts.uncovered,
        if dev.is_some() { "valid (covered rows)" } else { "nothing (defaults)" }
    );
    for r in &rows {
        let grid = match (r.dev_score, r.default_score) {
            (Some(d), Some(x)) if (d - x).abs() < 5e-4 => Some(format!(
                "best of {} settings = the default's valid score: the search did not matter",
                r.candidates
            )),
            (Some(d), Some(x)) => {
                Some(format!("best of {} settings, valid {d:.3} vs the default's {x:.3}", r.candidates))
            }
            _ => None,
        };
        let notes = [(r.collapsed, "collapsed".to_string()), (!r.converged, "not converged".to_string())]
            .into_iter()
            .filter(|(b, _)| *b)
            .map(|(_, s)| s)
            .chain(grid)
            .collect::<Vec<_>>()
            .join("; ");
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {} |\n",
            r.model,
            r.valid.as_ref().map_or("-".into(), |e| both(e, metric)),
            r.test.as_ref().map_or("-".into(), |e| both(e, metric)),
            r.test_all_range.map_or("-".into(), |(lo, hi)| format!("{lo:.3}–{hi:.3}")),
            r.fit_seconds,
            notes
        ));
    }
    if !quiet {
        print!("{md}");
    }
    if let Some(out) = &a.out {
        let dir = data::OutputDir::prepare(out, "label-model compare", &[])?;
        data::write_atomic(&out.join("compare.md"), md.as_bytes())?;
        data::write_json(&out.join("compare.json"), &rows)?;
        dir.finish()?;
    }
    Ok(ExitCode::SUCCESS)
}
