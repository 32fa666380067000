//! `weaksup label-model fit|compare`, and how every command gets its votes.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use polars::prelude::*;
use serde::Serialize;

use super::progress::Bars;
use super::{DataArgs, LmCompareArgs, LmFitArgs, PolicyArgs, VotesArgs, check_classes, load_data};
use crate::data::{self, Splits};
use crate::label_model::{
    Evaluation, FitInfo, FitOptions, Fitted, LabelModel, Metric, Params, PredictOptions, TiePolicy, UncoveredPolicy, default_grid,
    predict, score, select,
};
use crate::lf::{LfFile, Registry};
use crate::matrix::{ABSTAIN, LabelMatrix};

/// One split's votes, with fault counts and LF kinds when LF files were applied.
pub(super) struct SplitVotes {
    pub matrix: LabelMatrix,
    pub faults: Option<Vec<u64>>,
    pub kinds: Option<Vec<&'static str>>,
}

/// Loads the data and the votes of each of its splits (LF files, a votes folder, or stored votes).
pub(super) fn load_with_votes(data: &DataArgs, v: &VotesArgs, registry: &Registry, quiet: bool) -> Result<(Splits, Vec<SplitVotes>)> {
    let lfs = if v.lfs.is_empty() { None } else { Some(LfFile::load_set(&v.lfs, registry)?.0) };
    let splits = load_data(data, lfs.as_ref().map(|s| s.classes()))?;
    if let Some(set) = &lfs {
        check_classes(set.classes(), &splits)?;
    }
    let compiled = lfs.map(|s| s.compile()).transpose()?;
    let bars = Bars::new(quiet);
    let mut out = Vec::new();
    for ds in &splits.splits {
        out.push(match (&compiled, &v.votes) {
            (Some(c), _) => {
                let applied = c.apply(&ds.frame, &v.apply.options(), &bars)?;
                SplitVotes { matrix: applied.matrix, faults: Some(applied.faults), kinds: Some(c.kinds().to_vec()) }
            }
            (None, Some(dir)) => {
                let path = dir.join(format!("{}.votes.parquet", ds.split));
                let (m, classes) = LabelMatrix::read_parquet(&path)?;
                if classes != ds.classes || m.n_rows() != ds.len() {
                    bail!(
                        "{}: {} rows over [{}] do not match split `{}` ({} rows over [{}])",
                        path.display(),
                        m.n_rows(),
                        classes.join(", "),
                        ds.split,
                        ds.len(),
                        ds.classes.join(", ")
                    );
                }
                SplitVotes { matrix: m, faults: None, kinds: None }
            }
            (None, None) => match &ds.votes {
                Some(m) => SplitVotes { matrix: m.clone(), faults: None, kinds: None },
                None => bail!("split `{}` has no stored votes: pass --lfs or --votes", ds.split),
            },
        });
    }
    Ok((splits, out))
}

fn parse_policy(a: &PolicyArgs) -> Result<(PredictOptions, Metric, FitOptions)> {
    let tie = match a.tie.as_str() {
        "random" => TiePolicy::Random,
        "lowest-id" | "lowest_id" => TiePolicy::LowestId,
        "abstain" => TiePolicy::Abstain,
        o => bail!("--tie {o}: expected random, lowest-id or abstain"),
    };
    let uncovered = match a.uncovered.as_str() {
        "random" => UncoveredPolicy::Random,
        "prior" => UncoveredPolicy::Prior,
        "lowest-id" | "lowest_id" => UncoveredPolicy::LowestId,
        "abstain" => UncoveredPolicy::Abstain,
        "model" => UncoveredPolicy::Model,
        o => bail!("--uncovered {o}: expected random, prior, model, lowest-id or abstain"),
    };
    let metric: Metric = a.metric.parse()?;
    Ok((PredictOptions { tie, uncovered, seed: a.policy_seed }, metric, FitOptions { class_balance: a.class_balance.clone(), seed: a.policy_seed }))
}

/// The fit split (train) and the dev split (valid, when it has gold and selection is on).
fn fit_and_dev(splits: &Splits, no_select: bool) -> Result<(usize, Option<(usize, Vec<Option<u32>>)>)> {
    let train = splits
        .splits
        .iter()
        .position(|d| d.split == "train")
        .or_else(|| (splits.splits.len() == 1).then_some(0))
        .context("no `train` split to fit on (use a dataset with a train split, or one split only)")?;
    let dev = (!no_select)
        .then(|| splits.splits.iter().position(|d| d.split == "valid"))
        .flatten()
        .and_then(|k| splits.splits[k].gold().filter(|g| g.iter().any(Option::is_some)).map(|g| (k, g)));
    Ok((train, dev))
}

/// "0.840 / 0.812": the metric on covered rows and on all rows.
fn both(e: &Evaluation, metric: Metric) -> String {
    format!("{:.3} / {:.3}", metric.of(&e.covered), metric.of(&e.all))
}

#[derive(Serialize)]
struct FitReport<'a> {
    model: &'a str,
    params: &'a Params,
    dev_score: Option<f64>,
    candidates: usize,
    fit_seconds: f64,
    info: &'a FitInfo,
    class_balance: &'a [f64],
    lf_names: &'a [String],
    lf_accuracies: Option<Vec<f64>>,
    predict: PredictOptions,
    metric: Metric,
    splits: Vec<(String, Option<Evaluation>)>,
}

pub(super) fn cmd_lm_fit(a: LmFitArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (popts, metric, fopts) = parse_policy(&a.policy)?;
    let (splits, votes) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let grid = default_grid(&a.model)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice()));
    let sel = select(&grid, &votes[train].matrix, dev_ref, metric, &fopts, &popts)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    sel.model.save(&a.out.join("model.json"))?;
    let mut rows = Vec::new();
    for (ds, v) in splits.splits.iter().zip(&votes) {
        let proba = sel.model.predict_proba(&v.matrix)?;
        let covered: Vec<bool> = v.matrix.rows().map(|r| r.iter().any(|&x| x != ABSTAIN)).collect();
        let hard = predict(&proba, &covered, sel.model.class_balance(), &popts);
        let mut frame = proba.to_frame(&ds.classes)?;
        frame.with_column(Column::new("label".into(), hard.iter().map(|&x| x as i32).collect::<Vec<_>>()))?;
        frame.with_column(Column::new("covered".into(), covered))?;
        data::write_parquet(&mut frame, &a.out.join(format!("{}.soft_labels.parquet", ds.split)))?;
        let eval = ds.gold().map(|g| score(&sel.model, &v.matrix, &g, &popts, 10)).transpose()?;
        rows.push((ds.split.clone(), eval));
    }
    let report = FitReport {
        model: sel.model.name(),
        params: &sel.params,
        dev_score: sel.dev_score,
        candidates: sel.candidates,
        fit_seconds: sel.fit_seconds,
        info: sel.model.info(),
        class_balance: sel.model.class_balance(),
        lf_names: votes[train].matrix.lf_names(),
        lf_accuracies: sel.model.lf_accuracies(),
        predict: popts,
        metric,
        splits: rows,
    };
    data::write_json(&a.out.join("metrics.json"), &report)?;
    if !quiet {
        println!(
            "{}: fitted on {} covered rows of `{}` ({} uncovered left out){}; {}",
            report.model,
            report.info.n_fit,
            splits.splits[train].split,
            report.info.n_uncovered,
            sel.dev_score.map_or(String::new(), |s| format!(", chosen among {} settings on valid ({s:.3})", sel.candidates)),
            if report.info.collapsed { "COLLAPSED to one class" } else { "ok" }
        );
        println!("{:<8} {:>6} {:>8}  {} covered / all rows", "split", "rows", "coverage", metric_name(metric));
        for (split, e) in &report.splits {
            if let Some(e) = e {
                println!("{split:<8} {:>6} {:>8.3}  {}", e.all.n, e.coverage, both(e, metric));
            }
        }
        println!("wrote {}", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Accuracy => "accuracy",
        Metric::BinaryF1 => "binary F1",
        Metric::MacroF1 => "macro F1",
    }
}

#[derive(Serialize)]
struct CompareRow {
    model: String,
    params: Params,
    dev_score: Option<f64>,
    fit_seconds: f64,
    collapsed: bool,
    converged: bool,
    valid: Option<Evaluation>,
    test: Option<Evaluation>,
}

pub(super) fn cmd_lm_compare(a: LmCompareArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (popts, metric, fopts) = parse_policy(&a.policy)?;
    let (splits, votes) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice()));
    let eval_on = |name: &str, model: &Fitted| -> Result<Option<Evaluation>> {
        let Some(k) = splits.splits.iter().position(|d| d.split == name) else { return Ok(None) };
        let Some(g) = splits.splits[k].gold() else { return Ok(None) };
        Ok(Some(score(model, &votes[k].matrix, &g, &popts, 10)?))
    };
    let mut rows = Vec::new();
    for name in &a.models {
        let grid = default_grid(name)?;
        let sel = select(&grid, &votes[train].matrix, dev_ref, metric, &fopts, &popts)?;
        // Time one fit of the chosen setting alone (the selection time covers the whole grid).
        let t = Instant::now();
        sel.params.fit_quiet(&votes[train].matrix, &fopts)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        rows.push(CompareRow {
            model: name.clone(),
            params: sel.params.clone(),
            dev_score: sel.dev_score,
            fit_seconds,
            collapsed: sel.model.info().collapsed,
            converged: sel.model.info().converged,
            valid: eval_on("valid", &sel.model)?,
            test: eval_on("test", &sel.model)?,
        });
    }
    let ds = &splits.splits[train];
    let mut md = format!(
        "{} — {} covered / all rows (ties: {:?}, uncovered: {:?}; all-row scores averaged over 10 policy seeds); hyper-parameters chosen on {}\n\n| model | valid | test | fit (s) | notes |\n|---|---|---|---|---|\n",
        ds.name,
        metric_name(metric),
        popts.tie,
        popts.uncovered,
        if dev.is_some() { "valid (covered rows)" } else { "nothing (defaults)" }
    );
    for r in &rows {
        let notes = [(r.collapsed, "collapsed"), (!r.converged, "not converged")]
            .iter()
            .filter(|(b, _)| *b)
            .map(|(_, s)| *s)
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {} |\n",
            r.model,
            r.valid.as_ref().map_or("-".into(), |e| both(e, metric)),
            r.test.as_ref().map_or("-".into(), |e| both(e, metric)),
            r.fit_seconds,
            notes
        ));
    }
    if !quiet {
        print!("{md}");
    }
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        data::write_atomic(&out.join("compare.md"), md.as_bytes())?;
        data::write_json(&out.join("compare.json"), &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}
