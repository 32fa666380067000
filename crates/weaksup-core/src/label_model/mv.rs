//! Majority vote and class-balanced weighted vote.

use serde::{Deserialize, Serialize};

use super::{FitInfo, FitOptions, LabelModel, Proba, Votes, check_shape, mv_balance};
use crate::error::Result;
use crate::matrix::LabelMatrix;

/// Majority vote (Snorkel's `MajorityLabelVoter`): nothing to learn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MvParams {}

/// A fitted majority vote: probabilities are vote shares; uncovered rows are uniform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MajorityVote {
    n_lfs: usize,
    /// Used only by the `prior` uncovered-row policy: given, or the smoothed MV class frequencies.
    class_balance: Vec<f64>,
    pub info: FitInfo,
}

impl MvParams {
    pub(crate) fn fit(&self, votes: &Votes, opts: &FitOptions) -> Result<MajorityVote> {
        Ok(MajorityVote {
            n_lfs: votes.n_lfs,
            class_balance: opts.class_balance.clone().unwrap_or_else(|| mv_balance(votes)),
            info: FitInfo { converged: true, ..FitInfo::default() },
        })
    }
}

/// Row-normalised per-class weighted vote counts; rows without votes are uniform.
///
/// # Shapes
/// returns `[n_rows, C]`.
fn weighted_shares(votes: &Votes, weight: &[f64]) -> Result<Proba> {
    let c = votes.cardinality;
    let mut data = vec![0.0; votes.n_rows * c];
    for i in 0..votes.n_rows {
        let row = &mut data[i * c..(i + 1) * c];
        for (_, l) in votes.row(i) {
            row[l] += weight[l];
        }
        let s: f64 = row.iter().sum();
        if s > 0.0 {
            row.iter_mut().for_each(|p| *p /= s);
        } else {
            row.iter_mut().for_each(|p| *p = 1.0 / c as f64);
        }
    }
    Proba::new(votes.n_rows, c, data)
}

impl LabelModel for MajorityVote {
    fn name(&self) -> &'static str {
        "mv"
    }
    fn predict_proba(&self, m: &LabelMatrix) -> Result<Proba> {
        check_shape("mv", m, self.n_lfs, self.class_balance.len())?;
        weighted_shares(&Votes::new(m), &vec![1.0; self.class_balance.len()])
    }
    fn class_balance(&self) -> &[f64] {
        &self.class_balance
    }
    fn lf_accuracies(&self) -> Option<Vec<f64>> {
        None
    }
}

/// Class-balanced weighted vote (WRENCH's `MajorityWeightedVoting`): a vote for class k counts
/// `balance[k]`, so ties and near-ties lean to the more frequent class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WmvParams {}

/// A fitted weighted vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedVote {
    n_lfs: usize,
    /// Given, or estimated from the majority vote of covered rows (WRENCH estimates it from
    /// the valid labels when given them; pass those as the class balance to do the same).
    class_balance: Vec<f64>,
    pub info: FitInfo,
}

impl WmvParams {
    pub(crate) fn fit(&self, votes: &Votes, opts: &FitOptions) -> Result<WeightedVote> {
        Ok(WeightedVote {
            n_lfs: votes.n_lfs,
            class_balance: opts.class_balance.clone().unwrap_or_else(|| mv_balance(votes)),
            info: FitInfo { converged: true, ..FitInfo::default() },
        })
    }
}

impl LabelModel for WeightedVote {
    fn name(&self) -> &'static str {
        "wmv"
    }
    fn predict_proba(&self, m: &LabelMatrix) -> Result<Proba> {
        check_shape("wmv", m, self.n_lfs, self.class_balance.len())?;
        weighted_shares(&Votes::new(m), &self.class_balance)
    }
    fn class_balance(&self) -> &[f64] {
        &self.class_balance
    }
    fn lf_accuracies(&self) -> Option<Vec<f64>> {
        None
    }
}

impl MajorityVote {
    /// Checks a model read from a file ([`super::check_saved_shape`] and its own arrays).
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        super::check_saved_shape(&self.class_balance, self.n_lfs).map(|_| ())
    }
}

impl WeightedVote {
    /// Checks a model read from a file ([`super::check_saved_shape`] and its own arrays).
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        super::check_saved_shape(&self.class_balance, self.n_lfs).map(|_| ())
    }
}
