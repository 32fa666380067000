//! Label models: turn the n × m vote matrix into one probability vector per row.
//!
//! Each model has separate *params* (serde, validated, documented defaults naming their source) and
//! *fitted* types (linfa's Fit/Predict split): [`Params::fit`] → [`Fitted`], which implements
//! [`LabelModel`] (`predict_proba`, learned parameters) and saves to / loads from JSON.
//!
//! | model | what it learns | source |
//! |---|---|---|
//! | `mv` | nothing: vote shares | Snorkel `MajorityLabelVoter` |
//! | `wmv` | votes weighted by a class prior | WRENCH `MajorityWeightedVoting` |
//! | `ds` | per-LF confusion matrices + class prior by EM | Dawid & Skene (1979) |
//! | `snorkel` | per-LF class-conditional vote probabilities from the LFs' agreement structure | Ratner et al. (2019), Snorkel 0.9 `LabelModel` |
//!
//! Rows where every LF abstains ("uncovered") are excluded from fitting and get the model's prior;
//! [`predict`] applies an explicit tie and uncovered-row policy. Every report counts them.

pub(crate) mod ds;
mod mv;
pub mod select;
mod snorkel;
mod sparse;
pub mod synthetic;

use std::path::Path;

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use crate::metrics::{Evaluation, Metric, Scores, evaluate};
pub use ds::{DawidSkene, DsParams};
pub use mv::{MajorityVote, MvParams, WeightedVote, WmvParams};
pub use select::{
    LabelModelConfig, Selected, default_grid, mean_evaluation, score, score_runs, select, soft_label_frame,
};
pub use snorkel::{Balance, Optimizer, SnorkelModel, SnorkelParams};

use crate::error::{Context, Error, Result};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};
pub(crate) use sparse::Votes;

/// Row-major `n × C` class probabilities; every row sums to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Proba {
    n: usize,
    c: usize,
    data: Vec<f64>,
}

impl Proba {
    /// Wraps row-major probabilities, checking shape and that rows are distributions.
    pub fn new(n: usize, c: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != n * c {
            return Err(Error::invalid("probabilities", format!("{} values for {n} × {c}", data.len())));
        }
        for (i, row) in data.chunks(c.max(1)).enumerate() {
            let s: f64 = row.iter().sum();
            if !s.is_finite() || (s - 1.0).abs() > 1e-6 || row.iter().any(|&p| p < 0.0) {
                return Err(Error::invalid(
                    "probabilities",
                    format!("row {i} is not a distribution: {row:?}"),
                ));
            }
        }
        Ok(Self { n, c, data })
    }
    pub fn n_rows(&self) -> usize {
        self.n
    }
    pub fn n_classes(&self) -> usize {
        self.c
    }
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.c..(i + 1) * self.c]
    }
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Keeps rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut data = Vec::with_capacity(idx.len() * self.c);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Self { n: idx.len(), c: self.c, data }
    }

    /// One `prob_<class>` Float64 column per class.
    pub fn to_frame(&self, classes: &[String]) -> Result<DataFrame> {
        let cols = (0..self.c)
            .map(|k| {
                let v: Vec<f64> = (0..self.n).map(|i| self.data[i * self.c + k]).collect();
                Column::new(format!("prob_{}", classes.get(k).map_or(k.to_string(), |s| s.clone())).into(), v)
            })
            .collect();
        DataFrame::new_infer_height(cols).ctx(|| "probabilities to frame".into())
    }
}

/// What to predict when several classes share the highest probability on a covered row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum TiePolicy {
    /// A seeded uniform draw among the tied classes (WRENCH, Snorkel `tie_break_policy="random"`).
    #[default]
    Random,
    /// The lowest class id among the tied.
    #[value(alias = "lowest-id")]
    LowestId,
    /// No prediction (`-1`); counted as wrong in all-row metrics.
    Abstain,
}

/// What to predict on rows where every LF abstained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum UncoveredPolicy {
    /// A seeded uniform draw over all classes (WRENCH's evaluation protocol).
    #[default]
    Random,
    /// The model's prior: the argmax of its class balance (ties by the tie policy). For `mv` and
    /// `wmv` that balance is the share of the LF votes per class, not the data's class balance,
    /// unless `--class-balance` (`label_model.class_balance`) gives one; `ds` and `snorkel`
    /// estimate it from the votes (or use the given one).
    Prior,
    /// The lowest class id.
    #[value(alias = "lowest-id")]
    LowestId,
    /// No prediction (`-1`).
    Abstain,
    /// The model's own posterior for the all-abstain pattern (ties by the tie policy). Informative
    /// for models that treat abstaining as evidence (Dawid–Skene); the prior for the others.
    Model,
}

/// The prediction policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PredictOptions {
    pub tie: TiePolicy,
    pub uncovered: UncoveredPolicy,
    /// The seed of the random draws ([`crate::seeds::Seeds::policy`] of the run's or the
    /// command's `--seed`; per part in batch runs); not part of a config file.
    #[serde(skip)]
    pub seed: u64,
}

/// Hard labels from probabilities under `opts`; `covered[i]` says whether row `i` had a vote and
/// `prior` is the model's class balance (for [`UncoveredPolicy::Prior`]).
pub fn predict(proba: &Proba, covered: &[bool], prior: &[f64], opts: &PredictOptions) -> Vec<Label> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let c = proba.n_classes();
    let argmax = |p: &[f64], tie: TiePolicy, rng: &mut ChaCha8Rng| -> Label {
        let best = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Probabilities within 1e-9 of the best are ties (float noise from normalisation).
        let tied: Vec<usize> = (0..p.len()).filter(|&k| p[k] >= best - 1e-9).collect();
        match (tied.len(), tie) {
            (1, _) => tied[0] as Label,
            (_, TiePolicy::Random) => tied[rng.gen_range(0..tied.len())] as Label,
            (_, TiePolicy::LowestId) => tied[0] as Label,
            (_, TiePolicy::Abstain) => ABSTAIN,
        }
    };
    (0..proba.n_rows())
        .map(|i| {
            if covered[i] {
                return argmax(proba.row(i), opts.tie, &mut rng);
            }
            match opts.uncovered {
                UncoveredPolicy::Random => rng.gen_range(0..c) as Label,
                UncoveredPolicy::Prior => argmax(prior, opts.tie, &mut rng),
                UncoveredPolicy::LowestId => 0,
                UncoveredPolicy::Abstain => ABSTAIN,
                UncoveredPolicy::Model => argmax(proba.row(i), opts.tie, &mut rng),
            }
        })
        .collect()
}

/// A fitted label model.
pub trait LabelModel {
    /// `mv`, `wmv`, `ds` or `snorkel`.
    fn name(&self) -> &'static str;
    /// Class probabilities for every row of `votes` (uncovered rows get the prior).
    fn predict_proba(&self, votes: &LabelMatrix) -> Result<Proba>;
    /// The class balance the model uses (given or estimated).
    fn class_balance(&self) -> &[f64];
    /// Learned per-LF accuracy, P(vote = y | Y = y, LF votes), averaged over the class balance;
    /// `None` for models that learn none.
    fn lf_accuracies(&self) -> Option<Vec<f64>>;
}

/// How a fit went: iterations, convergence, final loss, collapse. Iterative fits warn (tracing)
/// when they did not converge or collapsed to a constant prediction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    pub iterations: usize,
    pub converged: bool,
    pub final_loss: Option<f64>,
    /// Rows fitted on (covered rows) and left out (uncovered rows).
    pub n_fit: usize,
    pub n_uncovered: usize,
    /// The fitted model predicts one class on (nearly) every covered training row.
    pub collapsed: bool,
}

/// Options shared by every fit.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// A known class balance; `None` estimates it (per model; see each model's params).
    pub class_balance: Option<Vec<f64>>,
    pub seed: u64,
}

/// A label model by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum LabelModelKind {
    /// Majority vote.
    Mv,
    /// Majority vote weighted by the class balance.
    Wmv,
    /// Dawid–Skene.
    Ds,
    /// Snorkel-style matrix completion.
    Snorkel,
}

/// What a label-model stage fits: one model, or `auto` (every model's grid, the best on valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum LabelModelChoice {
    #[default]
    Auto,
    Mv,
    Wmv,
    Ds,
    Snorkel,
}

impl LabelModelChoice {
    /// The one model chosen, `None` for `auto`.
    pub fn kind(self) -> Option<LabelModelKind> {
        match self {
            LabelModelChoice::Auto => None,
            LabelModelChoice::Mv => Some(LabelModelKind::Mv),
            LabelModelChoice::Wmv => Some(LabelModelKind::Wmv),
            LabelModelChoice::Ds => Some(LabelModelKind::Ds),
            LabelModelChoice::Snorkel => Some(LabelModelKind::Snorkel),
        }
    }
}

impl LabelModelKind {
    /// Every model, in the order `auto` searches them.
    pub const ALL: [LabelModelKind; 4] =
        [LabelModelKind::Mv, LabelModelKind::Wmv, LabelModelKind::Ds, LabelModelKind::Snorkel];
}

crate::cli_enum!(LabelModelKind => "label model", LabelModelChoice => "label model");

/// The parameters of any model, tagged by `model = "..."` in TOML/JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase", deny_unknown_fields)]
pub enum Params {
    Mv(MvParams),
    Wmv(WmvParams),
    Ds(DsParams),
    Snorkel(SnorkelParams),
}

impl Params {
    /// The default params of `name` (`mv`, `wmv`, `ds`, `snorkel`).
    pub fn default_for(name: &str) -> Result<Self> {
        Ok(Self::defaults(name.parse()?))
    }
    /// The default params of a model.
    pub fn defaults(kind: LabelModelKind) -> Self {
        match kind {
            LabelModelKind::Mv => Params::Mv(MvParams::default()),
            LabelModelKind::Wmv => Params::Wmv(WmvParams::default()),
            LabelModelKind::Ds => Params::Ds(DsParams::default()),
            LabelModelKind::Snorkel => Params::Snorkel(SnorkelParams::default()),
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Params::Mv(_) => "mv",
            Params::Wmv(_) => "wmv",
            Params::Ds(_) => "ds",
            Params::Snorkel(_) => "snorkel",
        }
    }

    /// Fits on `votes`, warning (tracing) when the fit did not converge or collapsed.
    pub fn fit(&self, votes: &LabelMatrix, opts: &FitOptions) -> Result<Fitted> {
        let fitted = self.fit_quiet(votes, opts)?;
        fitted.warn_if_unhealthy(false);
        Ok(fitted)
    }

    /// [`Params::fit`] without warnings (for grid searches, which warn about the winner only).
    pub fn fit_quiet(&self, votes: &LabelMatrix, opts: &FitOptions) -> Result<Fitted> {
        if let Some(b) = &opts.class_balance {
            check_balance(b, votes.cardinality())?;
        }
        let sparse = Votes::new(votes);
        let covered = sparse.covered().len();
        if covered == 0 {
            return Err(Error::invalid(
                "label model",
                format!("all {} rows are uncovered (every LF abstains): nothing to fit", votes.n_rows()),
            ));
        }
        let mut fitted = match self {
            Params::Mv(p) => Fitted::Mv(p.fit(&sparse, opts)?),
            Params::Wmv(p) => Fitted::Wmv(p.fit(&sparse, opts)?),
            Params::Ds(p) => Fitted::Ds(p.fit(&sparse, opts)?),
            Params::Snorkel(p) => Fitted::Snorkel(p.fit(&sparse, opts)?),
        };
        let proba = fitted.predict_proba(votes)?;
        let info = fitted.info_mut();
        info.n_fit = covered;
        info.n_uncovered = votes.n_rows() - covered;
        info.collapsed = collapsed(&proba, &sparse);
        Ok(fitted)
    }
}

fn check_balance(b: &[f64], c: usize) -> Result<()> {
    if b.len() != c
        || b.iter().any(|&p| !(p.is_finite() && p > 0.0))
        || (b.iter().sum::<f64>() - 1.0).abs() > 1e-6
    {
        return Err(Error::Config(format!("class balance {b:?}: need {c} positive values summing to 1")));
    }
    Ok(())
}

/// True when one class takes > 99% of the covered rows' argmax while the votes on those rows use
/// at least two classes.
fn collapsed(proba: &Proba, votes: &Votes) -> bool {
    let c = proba.n_classes();
    let mut pred = vec![0usize; c];
    let mut voted = vec![false; c];
    let mut n = 0usize;
    for i in 0..votes.n_rows {
        if !votes.is_covered(i) {
            continue;
        }
        n += 1;
        let row = proba.row(i);
        let k = (0..c).fold(0, |b, k| if row[k] > row[b] { k } else { b });
        pred[k] += 1;
        for (_, l) in votes.row(i) {
            voted[l] = true;
        }
    }
    let top = pred.iter().copied().max().unwrap_or(0);
    voted.iter().filter(|&&v| v).count() >= 2 && n >= 20 && top as f64 > 0.99 * n as f64
}

/// Any fitted model; saved as JSON tagged by `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Fitted {
    Mv(MajorityVote),
    Wmv(WeightedVote),
    Ds(DawidSkene),
    Snorkel(SnorkelModel),
}

impl Fitted {
    fn inner(&self) -> &dyn LabelModel {
        match self {
            Fitted::Mv(m) => m,
            Fitted::Wmv(m) => m,
            Fitted::Ds(m) => m,
            Fitted::Snorkel(m) => m,
        }
    }
    fn info_mut(&mut self) -> &mut FitInfo {
        match self {
            Fitted::Mv(m) => &mut m.info,
            Fitted::Wmv(m) => &mut m.info,
            Fitted::Ds(m) => &mut m.info,
            Fitted::Snorkel(m) => &mut m.info,
        }
    }
    /// How the fit went.
    pub fn info(&self) -> &FitInfo {
        match self {
            Fitted::Mv(m) => &m.info,
            Fitted::Wmv(m) => &m.info,
            Fitted::Ds(m) => &m.info,
            Fitted::Snorkel(m) => &m.info,
        }
    }
    /// Emits tracing warnings for a fit that did not converge or collapsed to one class.
    /// `chosen_on_valid`: the iteration cap
    /// and learning rate were selected on a dev set among others, so stopping early was the
    /// better-scoring choice (as Snorkel's fixed epoch budget), which the message says.
    pub fn warn_if_unhealthy(&self, chosen_on_valid: bool) {
        let info = self.info();
        if !info.converged {
            if chosen_on_valid {
                tracing::warn!(
                    model = self.name(),
                    iterations = info.iterations,
                    "the label model did not converge within its iteration cap; this stopped-early setting scored best on valid among the grid's settings"
                );
            } else {
                tracing::warn!(
                    model = self.name(),
                    iterations = info.iterations,
                    "the label model did not converge; raise its iteration cap or learning rate"
                );
            }
        }
        if info.collapsed {
            tracing::warn!(
                model = self.name(),
                "the label model collapsed: it predicts one class on over 99% of covered rows although the LFs vote for several classes"
            );
        }
    }

    /// Hard labels under `opts` (see [`predict`]).
    pub fn predict(&self, votes: &LabelMatrix, opts: &PredictOptions) -> Result<Vec<Label>> {
        let proba = self.predict_proba(votes)?;
        Ok(predict(&proba, &votes.covered(), self.class_balance(), opts))
    }
    /// Writes the model as pretty JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::data::write_json(path, self)
    }
    /// Reads a model written by [`Fitted::save`], checking its arrays against its shape.
    pub fn load(path: &Path) -> Result<Self> {
        let m: Self = crate::data::read_json(path)?;
        let checked = match &m {
            Fitted::Mv(x) => x.check(),
            Fitted::Wmv(x) => x.check(),
            Fitted::Ds(x) => x.check(),
            Fitted::Snorkel(x) => x.check(),
        };
        checked
            .map_err(|msg| Error::parse(path, None, None, format!("not a consistent label model: {msg}")))?;
        Ok(m)
    }
}

impl LabelModel for Fitted {
    fn name(&self) -> &'static str {
        self.inner().name()
    }
    fn predict_proba(&self, votes: &LabelMatrix) -> Result<Proba> {
        self.inner().predict_proba(votes)
    }
    fn class_balance(&self) -> &[f64] {
        self.inner().class_balance()
    }
    fn lf_accuracies(&self) -> Option<Vec<f64>> {
        self.inner().lf_accuracies()
    }
}

/// Checks the parts every saved label model has (a corrupt `label_model.json` is an error, not an
/// index panic at prediction time): 2 to 10,000 finite, non-negative class shares and a plausible
/// LF count. Returns the number of classes.
pub(crate) fn check_saved_shape(class_balance: &[f64], n_lfs: usize) -> std::result::Result<usize, String> {
    let c = class_balance.len();
    if !(2..=10_000).contains(&c) || class_balance.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
        return Err(format!("class_balance {class_balance:?}: 2 to 10,000 finite shares"));
    }
    if n_lfs > 1_000_000 {
        return Err(format!("n_lfs {n_lfs} is implausible"));
    }
    Ok(c)
}

/// Checks that `votes` fits a model trained on `n_lfs` LFs over `cardinality` classes.
pub(crate) fn check_shape(model: &str, votes: &LabelMatrix, n_lfs: usize, cardinality: usize) -> Result<()> {
    if votes.n_lfs() != n_lfs || votes.cardinality() != cardinality {
        return Err(Error::invalid(
            format!("label model `{model}`"),
            format!(
                "fitted on {n_lfs} LFs × {cardinality} classes, given {} × {}",
                votes.n_lfs(),
                votes.cardinality()
            ),
        ));
    }
    Ok(())
}

/// Per-LF accuracy P(vote = y | Y = y, the LF votes), averaged over the class balance, from
/// `p(j, y, l)` = P(LF j votes l | Y = y) (unnormalised over l is fine).
pub(crate) fn balanced_accuracies(
    n_lfs: usize,
    balance: &[f64],
    p: impl Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let c = balance.len();
    (0..n_lfs)
        .map(|j| {
            (0..c)
                .map(|y| {
                    let fires: f64 = (0..c).map(|l| p(j, y, l)).sum();
                    balance[y] * if fires > 0.0 { p(j, y, y) / fires } else { 0.0 }
                })
                .sum()
        })
        .collect()
}

/// Class frequencies of the majority vote over covered rows (ties split evenly), smoothed so no
/// class has zero mass: the class balance estimate when none is given.
pub(crate) fn mv_balance(votes: &Votes) -> Vec<f64> {
    let c = votes.cardinality;
    let mut counts = vec![1.0; c]; // add-one smoothing
    let mut tally = vec![0u32; c];
    for i in 0..votes.n_rows {
        if !votes.is_covered(i) {
            continue;
        }
        tally.iter_mut().for_each(|t| *t = 0);
        for (_, l) in votes.row(i) {
            tally[l] += 1;
        }
        let best = *tally.iter().max().unwrap_or(&0);
        let k = tally.iter().filter(|&&t| t == best).count() as f64;
        for (cnt, &t) in counts.iter_mut().zip(&tally) {
            if t == best {
                *cnt += 1.0 / k;
            }
        }
    }
    let s: f64 = counts.iter().sum();
    counts.into_iter().map(|x| x / s).collect()
}

crate::cli_enum!(TiePolicy => "tie policy", UncoveredPolicy => "uncovered-row policy");
