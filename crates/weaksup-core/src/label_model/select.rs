//! Model selection on a small gold dev set (the valid split), and side-by-side comparison.
//! Test labels are never used to choose anything.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::snorkel::{Balance, Optimizer};
use super::{
    DsParams, Evaluation, FitOptions, Fitted, LabelModel, LabelModelChoice, LabelModelKind, Params,
    PredictOptions, SnorkelParams, evaluate, predict,
};
use crate::error::{Error, Result};
use crate::matrix::LabelMatrix;
use crate::metrics::Metric;

/// The hyper-parameter grid searched for a model when a dev set is given (one point for models
/// without hyper-parameters).
pub fn default_grid(model: LabelModelKind) -> Vec<Params> {
    match model {
        LabelModelKind::Ds => [0.001, 0.01, 0.1, 1.0]
            .into_iter()
            .map(|smoothing| Params::Ds(DsParams { smoothing, ..DsParams::default() }))
            .collect(),
        LabelModelKind::Snorkel => {
            let mut g = Vec::new();
            for balance in [Balance::Uniform, Balance::Mv] {
                for (optimizer, lrs) in
                    [(Optimizer::Sgd, [1e-4, 1e-3, 1e-2]), (Optimizer::Adam, [1e-3, 3e-3, 1e-2])]
                {
                    for lr in lrs {
                        for l2 in [0.0, 0.1] {
                            for epochs in [100, 500] {
                                // Snorkel draws the initial scale at random in [0, 1); searching it
                                // on valid makes that choice deliberate. WRENCH TREC's best valid
                                // points start small (0.25 · μ₀ with prec_init 0.9) and barely move
                                // (SGD, lr 1e-4: Snorkel's "tuned" regime).
                                for (init_scale, prec_init) in [(1.0, 0.7), (0.5, 0.7), (0.25, 0.9)] {
                                    g.push(Params::Snorkel(SnorkelParams {
                                        epochs,
                                        lr,
                                        l2,
                                        optimizer,
                                        balance,
                                        init_scale,
                                        prec_init,
                                        ..SnorkelParams::default()
                                    }));
                                }
                            }
                        }
                    }
                }
            }
            g
        }
        other => vec![Params::defaults(other)],
    }
}

/// Scores a fitted model on `votes` against `gold`. `all`-row scores with random policies are
/// averaged over `policy_seeds` draws so that one lucky draw does not decide a comparison.
pub fn score(
    model: &Fitted,
    votes: &LabelMatrix,
    gold: &[Option<u32>],
    opts: &PredictOptions,
    policy_seeds: u64,
) -> Result<Evaluation> {
    Ok(mean_evaluation(&score_runs(model, votes, gold, opts, policy_seeds)?))
}

/// One evaluation per policy seed (`opts.seed`, `opts.seed + 1`, ...): the spread of all-row
/// scores under random policies, for comparing with single-run published numbers.
pub fn score_runs(
    model: &Fitted,
    votes: &LabelMatrix,
    gold: &[Option<u32>],
    opts: &PredictOptions,
    policy_seeds: u64,
) -> Result<Vec<Evaluation>> {
    let proba = model.predict_proba(votes)?;
    let cov = votes.covered();
    let c = votes.cardinality();
    Ok((0..policy_seeds.max(1))
        .map(|s| {
            let o = PredictOptions { seed: opts.seed.wrapping_add(s), ..*opts };
            evaluate(&predict(&proba, &cov, model.class_balance(), &o), &cov, gold, c)
        })
        .collect())
}

/// The mean of several evaluations (counts from the first).
pub fn mean_evaluation(runs: &[Evaluation]) -> Evaluation {
    let k = runs.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Evaluation) -> f64| runs.iter().map(f).sum::<f64>() / k;
    let mut e = runs[0].clone();
    e.covered.accuracy = mean(&|e| e.covered.accuracy);
    e.covered.macro_f1 = mean(&|e| e.covered.macro_f1);
    e.covered.binary_f1 = e.covered.binary_f1.map(|_| mean(&|e| e.covered.binary_f1.unwrap_or(0.0)));
    e.all.accuracy = mean(&|e| e.all.accuracy);
    e.all.macro_f1 = mean(&|e| e.all.macro_f1);
    e.all.binary_f1 = e.all.binary_f1.map(|_| mean(&|e| e.all.binary_f1.unwrap_or(0.0)));
    e
}

/// The outcome of a selection.
#[derive(Debug, Clone)]
pub struct Selected {
    pub params: Params,
    pub model: Fitted,
    /// Dev score (covered rows, the selection metric), when a dev set was given.
    pub dev_score: Option<f64>,
    /// Dev score of the chosen model's default setting (fitted for the comparison when the grid
    /// lacks it), when a grid of several settings was searched: whether the choice mattered.
    pub default_score: Option<f64>,
    pub candidates: usize,
    pub fit_seconds: f64,
}

/// Fits every point of `grid` on `train` and keeps the best on the dev set's covered rows under
/// `metric` (the first point when there is no dev set). Ties keep the earlier point. The points
/// are fitted in parallel (one fit per worker, as many workers as rayon's global pool has); each
/// fit is deterministic, and the choice is made in grid order, so it is the same at any thread
/// count.
pub fn select(
    grid: &[Params],
    train: &LabelMatrix,
    dev: Option<(&LabelMatrix, &[Option<u32>])>,
    metric: Metric,
    fit: &FitOptions,
    predict_opts: &PredictOptions,
) -> Result<Selected> {
    let grid = if dev.is_none() { &grid[..1.min(grid.len())] } else { grid };
    let t = Instant::now();
    let ticker = std::sync::Mutex::new(crate::progress::Ticker::new("label-model grid", grid.len() as u64));
    // One fitted model and dev score per point, or the point's own error (a point that diverges,
    // e.g. a non-finite loss at a large step size, is skipped unless it is the only one).
    let fitted = crate::parallel::map_ordered(grid.len(), rayon::current_num_threads(), |k| {
        let p = &grid[k];
        let r = p.fit_quiet(train, fit).and_then(|model| {
            let s = match dev {
                Some((votes, gold)) => metric.of(&score(&model, votes, gold, predict_opts, 5)?.covered),
                None => 0.0,
            };
            Ok((model, s))
        });
        match &r {
            Ok((_, s)) => tracing::debug!(?p, dev_score = s, "candidate"),
            Err(e) => tracing::debug!(?p, error = %e, "candidate failed; skipped"),
        }
        ticker.lock().unwrap_or_else(|e| e.into_inner()).advance(1);
        Ok(r)
    })?;
    ticker.into_inner().unwrap_or_else(|e| e.into_inner()).finish();
    let mut best: Option<(Params, Fitted, f64)> = None;
    let mut failed: Option<Error> = None;
    let mut scored: Vec<(&Params, f64)> = Vec::with_capacity(grid.len());
    for (p, r) in grid.iter().zip(fitted) {
        match r {
            Ok((model, s)) => {
                scored.push((p, s));
                if best.as_ref().is_none_or(|(_, _, b)| s > *b) {
                    best = Some((p.clone(), model, s));
                }
            }
            Err(e) if grid.len() > 1 => failed = failed.or(Some(e)),
            Err(e) => return Err(e),
        }
    }
    let (params, model, s) = match (best, failed) {
        (Some(b), _) => b,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(Error::Config("empty hyper-parameter grid".into())),
    };
    model.warn_if_unhealthy(dev.is_some() && grid.len() > 1);
    // The chosen model's default setting on the same dev rows, to say whether the search mattered.
    let default_score = match dev {
        Some((votes, gold)) if grid.len() > 1 => {
            let d = Params::default_for(params.name())?;
            match scored.iter().find(|(p, _)| **p == d) {
                Some((_, v)) => Some(*v),
                None => d
                    .fit_quiet(train, fit)
                    .and_then(|m| score(&m, votes, gold, predict_opts, 5))
                    .map(|e| metric.of(&e.covered))
                    .ok(),
            }
        }
        _ => None,
    };
    Ok(Selected {
        params,
        model,
        dev_score: dev.map(|_| s),
        default_score,
        candidates: grid.len(),
        fit_seconds: t.elapsed().as_secs_f64(),
    })
}

/// The label-model stage of a run: which model (or `auto`), how to select and how to predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelModelConfig {
    /// `mv`, `wmv`, `ds`, `snorkel`, or `auto` (every model's grid, best on valid). Default `auto`.
    pub model: LabelModelChoice,
    /// Selection metric on the valid split's covered rows. Default accuracy.
    pub metric: Metric,
    /// Tie and uncovered-row policies for hard labels and all-row metrics. Default: random ties,
    /// random uncovered rows (WRENCH's protocol).
    pub predict: PredictOptions,
    /// A known class balance; default: estimated by each model.
    pub class_balance: Option<Vec<f64>>,
    /// Choose hyper-parameters (and, for `auto`, the model) on valid when it has gold labels.
    /// Default true.
    pub select_on_valid: bool,
    /// The token label model of sequence-labeling data: `mv`, `ds`, `hmm`, or `auto` (each,
    /// the best span F1 on valid). Default `auto`.
    pub token_model: crate::token::label_model::TokenLabelModelChoice,
}

impl Default for LabelModelConfig {
    fn default() -> Self {
        Self {
            model: LabelModelChoice::Auto,
            metric: Metric::Accuracy,
            predict: PredictOptions::default(),
            class_balance: None,
            select_on_valid: true,
            token_model: Default::default(),
        }
    }
}

impl LabelModelConfig {
    /// Checks the class balance before any work, naming the config key (the model is an enum:
    /// a misspelt name fails when the config or the flag is parsed).
    pub fn validate(&self) -> Result<()> {
        if let Some(b) = &self.class_balance
            && (b.iter().any(|x| !(*x > 0.0 && x.is_finite())) || (b.iter().sum::<f64>() - 1.0).abs() > 1e-3)
        {
            return Err(Error::Config(format!(
                "label_model.class_balance (--class-balance) = {b:?}: positive shares summing to 1"
            )));
        }
        Ok(())
    }

    /// The grid this config searches.
    pub fn grid(&self) -> Result<Vec<Params>> {
        Ok(match self.model.kind() {
            Some(k) => default_grid(k),
            None => LabelModelKind::ALL.into_iter().flat_map(default_grid).collect(),
        })
    }

    /// Fits on `train`, selecting on `dev` when given and enabled.
    pub fn fit(&self, train: &LabelMatrix, dev: Option<(&LabelMatrix, &[Option<u32>])>) -> Result<Selected> {
        self.validate()?;
        let fit = FitOptions { class_balance: self.class_balance.clone(), seed: self.predict.seed };
        let dev = dev.filter(|_| self.select_on_valid);
        if dev.is_none() {
            // Said once, plainly: without gold on valid nothing is chosen, the defaults are used.
            let what = match self.model.kind() {
                None => {
                    "`auto` uses majority vote (`mv`), the model with no parameters to fit wrong".to_string()
                }
                Some(k) => format!("`{k}` uses its default settings"),
            };
            tracing::warn!(
                "no model selection (no valid split with gold labels{}): {what}",
                if self.select_on_valid { "" } else { ", or selection turned off" }
            );
        }
        select(&self.grid()?, train, dev, self.metric, &fit, &self.predict)
    }
}

/// Soft labels of every row as a frame: `prob_<class>` columns, the hard `label` under `opts`
/// (`-1` where the policy abstains) and `covered`.
pub fn soft_label_frame(
    model: &Fitted,
    votes: &LabelMatrix,
    classes: &[String],
    opts: &PredictOptions,
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let proba = model.predict_proba(votes)?;
    let cov = votes.covered();
    let hard = predict(&proba, &cov, model.class_balance(), opts);
    let mut frame = proba.to_frame(classes)?;
    let ctx = |e: PolarsError| Error::Polars { context: "soft labels".into(), source: e };
    frame
        .with_column(Column::new("label".into(), hard.iter().map(|&x| x as i32).collect::<Vec<_>>()))
        .map_err(ctx)?;
    frame.with_column(Column::new("covered".into(), cov)).map_err(ctx)?;
    Ok(frame)
}
