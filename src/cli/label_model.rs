//! `weaksup label-model fit|compare`, and how every command gets its votes.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use serde::Serialize;

use super::progress::Bars;
use super::{DataArgs, LmCompareArgs, LmFitArgs, PolicyArgs, VotesArgs, check_classes, load_data};
use crate::data::{self, Splits};
use crate::label_model::{
    Evaluation, FitOptions, Fitted, LabelModelConfig, Metric, Params, PredictOptions, TiePolicy, UncoveredPolicy, default_grid,
    mean_evaluation, score_runs, select,
};
use crate::run::{fit_and_dev_splits, write_label_model};
use crate::lf::{LfFile, Registry};
use crate::matrix::LabelMatrix;

/// One split's votes, with fault counts and LF kinds when LF files were applied.
pub(super) struct SplitVotes {
    pub matrix: LabelMatrix,
    pub faults: Option<Vec<u64>>,
    pub kinds: Option<Vec<&'static str>>,
}

/// Loads the data and the votes of each of its splits (LF files, a votes folder, or stored votes).
pub(super) fn load_with_votes(data: &DataArgs, v: &VotesArgs, registry: &Registry, quiet: bool) -> Result<(Splits, Vec<SplitVotes>)> {
    let lfs = if !v.lfs.is_empty() {
        Some(LfFile::load_set(&v.lfs, registry)?.0)
    } else if data.data.is_none() && v.votes.is_none() {
        // The built-in demo corpus comes with its LF file.
        let file = LfFile::parse(Path::new("<built-in>/labeling_functions/demo_topics.toml"), crate::data::demo::DEMO_LF_TOML.to_string())?;
        let mut set = crate::lf::LfSet::new(file.classes().to_vec())?;
        file.add_to(&mut set, registry)?;
        Some(set)
    } else {
        None
    };
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
    let (tie, uncovered) = (parse_tie(&a.tie)?, parse_uncovered(&a.uncovered)?);
    let metric: Metric = a.metric.parse()?;
    Ok((PredictOptions { tie, uncovered, seed: a.policy_seed }, metric, FitOptions { class_balance: a.class_balance.clone(), seed: a.policy_seed }))
}

/// `--tie`: random, lowest-id, abstain.
pub(super) fn parse_tie(s: &str) -> Result<TiePolicy> {
    Ok(match s {
        "random" => TiePolicy::Random,
        "lowest-id" | "lowest_id" => TiePolicy::LowestId,
        "abstain" => TiePolicy::Abstain,
        o => bail!("--tie {o}: expected random, lowest-id or abstain"),
    })
}

/// `--uncovered`: random, prior, model, lowest-id, abstain.
pub(super) fn parse_uncovered(s: &str) -> Result<UncoveredPolicy> {
    Ok(match s {
        "random" => UncoveredPolicy::Random,
        "prior" => UncoveredPolicy::Prior,
        "lowest-id" | "lowest_id" => UncoveredPolicy::LowestId,
        "abstain" => UncoveredPolicy::Abstain,
        "model" => UncoveredPolicy::Model,
        o => bail!("--uncovered {o}: expected random, prior, model, lowest-id or abstain"),
    })
}

/// The fit split and, unless disabled, the dev split.
fn fit_and_dev(splits: &Splits, no_select: bool) -> Result<(usize, crate::run::DevSplit)> {
    let (train, dev) = fit_and_dev_splits(splits)?;
    Ok((train, dev.filter(|_| !no_select)))
}

use crate::run::both;

pub(super) fn cmd_lm_fit(a: LmFitArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (popts, metric, fopts) = parse_policy(&a.policy)?;
    let config = LabelModelConfig {
        model: a.model.clone(),
        metric,
        predict: popts,
        class_balance: fopts.class_balance,
        select_on_valid: !a.policy.no_select,
    };
    config.validate()?;
    let (splits, votes) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice()));
    let sel = config.fit(&votes[train].matrix, dev_ref)?;
    let out = data::OutputDir::prepare(&a.out, "label-model fit", &[])?;
    let report = write_label_model(&sel, &config, &splits, &votes.iter().map(|v| &v.matrix).collect::<Vec<_>>(), train, &a.out)?;
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
    fit_seconds: f64,
    collapsed: bool,
    converged: bool,
    valid: Option<Evaluation>,
    test: Option<Evaluation>,
    /// Lowest and highest all-row test score over the 10 policy seeds.
    test_all_range: Option<(f64, f64)>,
}

pub(super) fn cmd_lm_compare(a: LmCompareArgs, registry: &Registry, quiet: bool) -> Result<ExitCode> {
    let (popts, metric, fopts) = parse_policy(&a.policy)?;
    for name in &a.models {
        LabelModelConfig { model: name.clone(), ..LabelModelConfig::default() }.validate().map_err(|_| anyhow::anyhow!("--models: unknown label model `{name}` (mv, wmv, ds, snorkel)"))?;
    }
    let (splits, votes) = load_with_votes(&a.data, &a.votes, registry, quiet)?;
    let (train, dev) = fit_and_dev(&splits, a.policy.no_select)?;
    let dev_ref = dev.as_ref().map(|(k, g)| (&votes[*k].matrix, g.as_slice()));
    // Mean over 10 policy seeds, with the range of the all-row metric across them.
    let eval_on = |name: &str, model: &Fitted| -> Result<Option<(Evaluation, f64, f64)>> {
        let Some(k) = splits.splits.iter().position(|d| d.split == name) else { return Ok(None) };
        let Some(g) = splits.splits[k].gold() else { return Ok(None) };
        let runs = score_runs(model, &votes[k].matrix, &g, &popts, 10)?;
        let all: Vec<f64> = runs.iter().map(|e| metric.of(&e.all)).collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        Ok(Some((mean_evaluation(&runs), lo, hi)))
    };
    let mut rows = Vec::new();
    for name in &a.models {
        let grid = default_grid(name)?;
        let sel = select(&grid, &votes[train].matrix, dev_ref, metric, &fopts, &popts)?;
        // Time one fit of the chosen setting alone (the selection time covers the whole grid).
        let t = Instant::now();
        sel.params.fit_quiet(&votes[train].matrix, &fopts)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        let test = eval_on("test", &sel.model)?;
        rows.push(CompareRow {
            model: name.clone(),
            params: sel.params.clone(),
            dev_score: sel.dev_score,
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
        "{} — {} covered / all rows (ties: {:?}, uncovered: {:?}; all-row scores averaged over 10 policy seeds, test range across them); hyper-parameters chosen on {}\n\n| model | valid | test | test all-row range | fit (s) | notes |\n|---|---|---|---|---|---|\n",
        ds.name,
        metric.name(),
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
