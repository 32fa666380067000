//! Classification metrics shared by label models and end models. Label-model scores are always
//! reported two ways: on covered rows only (Snorkel's default, which flatters models on
//! low-coverage LF sets) and on all rows with the uncovered-row policy applied.

use serde::{Deserialize, Serialize};

use crate::matrix::Label;

/// The metric a model is selected and reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Metric {
    #[default]
    #[value(alias = "acc")]
    Accuracy,
    /// F1 of class 1 (two-class tasks: the positive / spam class).
    #[value(alias = "f1")]
    BinaryF1,
    MacroF1,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryF1 => "binary F1",
            Metric::MacroF1 => "macro F1",
        }
    }
    pub fn of(&self, s: &Scores) -> f64 {
        match self {
            Metric::Accuracy => s.accuracy,
            Metric::BinaryF1 => s.binary_f1.unwrap_or(0.0),
            Metric::MacroF1 => s.macro_f1,
        }
    }
}

/// Scores of hard predictions against gold labels; a `-1` prediction is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Rows scored (rows with a gold label in the subset).
    pub n: usize,
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// F1 of class 1 (the positive class: SPAM in the spam tasks), for two-class tasks.
    pub binary_f1: Option<f64>,
}

/// Scores on covered rows and on all rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub covered: Scores,
    pub all: Scores,
    /// Fraction of rows with at least one vote.
    pub coverage: f64,
    pub n_uncovered: usize,
}

/// Scores `pred` against `gold` over rows where `keep` holds and gold is known.
///
/// Per class k: F1 = 2·tp / (2·tp + fp + fn) (sklearn's `f1_score`, 0 when undefined).
pub fn scores(pred: &[Label], gold: &[Option<u32>], keep: impl Fn(usize) -> bool, c: usize) -> Scores {
    let (mut tp, mut fp, mut fneg) = (vec![0u64; c], vec![0u64; c], vec![0u64; c]);
    let (mut n, mut correct) = (0usize, 0usize);
    for (i, (&p, g)) in pred.iter().zip(gold).enumerate() {
        let Some(g) = *g else { continue };
        if !keep(i) {
            continue;
        }
        n += 1;
        let g = g as usize;
        if p >= 0 && p as usize == g {
            correct += 1;
            tp[g] += 1;
        } else {
            fneg[g] += 1;
            if p >= 0 {
                fp[p as usize] += 1;
            }
        }
    }
    let f1 = |k: usize| {
        let d = 2 * tp[k] + fp[k] + fneg[k];
        if d == 0 { 0.0 } else { 2.0 * tp[k] as f64 / d as f64 }
    };
    Scores {
        n,
        accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 },
        macro_f1: (0..c).map(f1).sum::<f64>() / c.max(1) as f64,
        binary_f1: (c == 2).then(|| f1(1)),
    }
}

/// Both views: covered rows only, and all rows.
pub fn evaluate(pred: &[Label], covered: &[bool], gold: &[Option<u32>], c: usize) -> Evaluation {
    let n = pred.len();
    let n_cov = covered.iter().filter(|&&x| x).count();
    Evaluation {
        covered: scores(pred, gold, |i| covered[i], c),
        all: scores(pred, gold, |_| true, c),
        coverage: if n == 0 { 0.0 } else { n_cov as f64 / n as f64 },
        n_uncovered: n - n_cov,
    }
}

crate::cli_enum!(Metric => "metric");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_scores() {
        // sklearn: f1_score([1,0,1,1,0], [1,0,0,-1,1], pos_label=1) with -1 as a third class
        // class 1: tp 1 (row 0), fp 1 (row 4), fn 2 (rows 2, 3) → F1 = 2/(2+1+2) = 0.4
        // class 0: tp 1 (row 1), fp 1 (row 2), fn 1 (row 4) → F1 = 2/(2+1+1) = 0.5
        let pred = [1, 0, 0, -1, 1];
        let gold = [Some(1), Some(0), Some(1), Some(1), Some(0)];
        let s = scores(&pred, &gold, |_| true, 2);
        assert_eq!(s.n, 5);
        assert!((s.accuracy - 0.4).abs() < 1e-12);
        assert!((s.binary_f1.unwrap() - 0.4).abs() < 1e-12);
        assert!((s.macro_f1 - 0.45).abs() < 1e-12);

        let e = evaluate(&pred, &[true, true, true, false, true], &gold, 2);
        assert_eq!(e.n_uncovered, 1);
        assert_eq!(e.covered.n, 4);
        assert!((e.covered.accuracy - 0.5).abs() < 1e-12);
        assert!((e.coverage - 0.8).abs() < 1e-12);
    }
}
