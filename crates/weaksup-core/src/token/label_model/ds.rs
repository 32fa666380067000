//! Token Dawid–Skene: tokens as independent items, EM over per-LF confusion matrices (abstain as
//! an outcome, as in [`crate::label_model`]'s `ds`) and a tag prior, initialised from the token
//! majority vote (tokens no LF tagged start as `O`, not uniform as in the classification model).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::emission::{EmissionCounts, Emissions};
use super::mv::mv_row;
use super::{CHUNK, TokenFitInfo};
use crate::error::{Error, Result};
use crate::label_model::ds::normalize_log;
use crate::label_model::{Proba, Votes};

/// Token Dawid–Skene parameters (the defaults of [`crate::label_model::DsParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenDsParams {
    /// EM iterations at most. Default 100 (crowd-kit's `DawidSkene(n_iter=100)`, which WRENCH wraps).
    pub max_iter: usize,
    /// Stop when the log-likelihood changes by less than `tol` × |log-likelihood|. Default 1e-6.
    pub tol: f64,
    /// Pseudo-count added to every confusion-matrix cell (Laplace smoothing). Default 0.01 (as `ds`).
    pub smoothing: f64,
    /// Fit on tokens no LF tagged too (their all-abstain pattern is evidence). Default true (as `ds`).
    pub include_uncovered: bool,
}

impl Default for TokenDsParams {
    fn default() -> Self {
        Self { max_iter: 100, tol: 1e-6, smoothing: 0.01, include_uncovered: true }
    }
}

/// A fitted token Dawid–Skene model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDawidSkene {
    pub(crate) n_lfs: usize,
    pub(crate) n_tags: usize,
    /// P(tag = y).
    pub(crate) class_balance: Vec<f64>,
    pub(crate) emissions: Emissions,
    /// Log-likelihood per iteration.
    pub log_likelihood_history: Vec<f64>,
    pub info: TokenFitInfo,
}

impl TokenDsParams {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_iter == 0
            || self.tol.is_nan()
            || self.tol < 0.0
            || !(self.smoothing > 0.0 && self.smoothing.is_finite())
        {
            return Err(Error::Config(format!(
                "token ds: need max_iter > 0, tol >= 0, finite smoothing > 0 (got {self:?})"
            )));
        }
        Ok(())
    }

    pub(crate) fn fit(&self, votes: &Votes) -> Result<TokenDawidSkene> {
        self.validate()?;
        let (t, m) = (votes.cardinality, votes.n_lfs);
        let rows: Vec<usize> =
            if self.include_uncovered { (0..votes.n_rows).collect() } else { votes.covered() };
        let mut post = vec![0.0; rows.len() * t];
        for (r, &i) in rows.iter().enumerate() {
            mv_row(votes, i, &mut post[r * t..(r + 1) * t]);
        }
        let mut model = TokenDawidSkene {
            n_lfs: m,
            n_tags: t,
            class_balance: vec![1.0 / t as f64; t],
            emissions: Emissions::from_counts(m, t, vec![0.0; m * t * (t + 1)], &vec![0.0; t], |_, _, _| 1.0),
            log_likelihood_history: Vec::new(),
            info: TokenFitInfo::default(),
        };
        let mut prev = f64::NEG_INFINITY;
        for it in 0..self.max_iter {
            model.m_step(votes, &rows, &post, self.smoothing);
            let ll = model.e_step(votes, &rows, &mut post);
            model.log_likelihood_history.push(ll);
            tracing::debug!(iteration = it, log_likelihood = ll, "token dawid-skene");
            model.info.iterations = it + 1;
            if !ll.is_finite() {
                return Err(Error::invalid(
                    "token dawid-skene",
                    format!("log-likelihood became {ll} at iteration {it}"),
                ));
            }
            if (ll - prev).abs() <= self.tol * ll.abs() {
                model.info.converged = true;
                break;
            }
            prev = ll;
        }
        model.info.log_likelihood = model.log_likelihood_history.last().copied();
        Ok(model)
    }
}

impl TokenDawidSkene {
    fn m_step(&mut self, votes: &Votes, rows: &[usize], post: &[f64], alpha: f64) {
        let (t, m) = (self.n_tags, self.n_lfs);
        let partial: Vec<EmissionCounts> = rows
            .par_chunks(CHUNK)
            .zip(post.par_chunks(CHUNK * t))
            .map(|(chunk, p)| {
                let mut c = EmissionCounts::new(m, t);
                for (r, &i) in chunk.iter().enumerate() {
                    c.add(votes, i, &p[r * t..(r + 1) * t]);
                }
                c
            })
            .collect();
        let mut total = EmissionCounts::new(m, t);
        for p in &partial {
            total.merge(p);
        }
        let s: f64 = total.mass.iter().sum::<f64>() + t as f64 * 1e-6;
        self.class_balance = total.mass.iter().map(|x| (x + 1e-6) / s).collect();
        self.emissions = Emissions::from_counts(m, t, total.counts, &total.mass, |_, _, _| alpha);
    }

    /// Posteriors of `rows` into `post`; returns the log-likelihood (summed per chunk, in order).
    fn e_step(&self, votes: &Votes, rows: &[usize], post: &mut [f64]) -> f64 {
        let t = self.n_tags;
        let logs = self.emissions.logs();
        let prior: Vec<f64> = self.class_balance.iter().map(|p| p.ln()).collect();
        let lls: Vec<f64> = post
            .par_chunks_mut(CHUNK * t)
            .zip(rows.par_chunks(CHUNK))
            .map(|(out, chunk)| {
                let mut ll = 0.0;
                for (r, &i) in chunk.iter().enumerate() {
                    let p = &mut out[r * t..(r + 1) * t];
                    logs.score(votes, i, p);
                    p.iter_mut().zip(&prior).for_each(|(x, lp)| *x += lp);
                    ll += normalize_log(p);
                }
                ll
            })
            .collect();
        lls.iter().sum()
    }

    pub(crate) fn proba(&self, votes: &Votes) -> Result<Proba> {
        let rows: Vec<usize> = (0..votes.n_rows).collect();
        let mut post = vec![0.0; votes.n_rows * self.n_tags];
        self.e_step(votes, &rows, &mut post);
        Proba::new(votes.n_rows, self.n_tags, post)
    }

    /// P(tag = y) as estimated.
    pub fn class_balance(&self) -> &[f64] {
        &self.class_balance
    }
    /// The learned per-LF emission (confusion) matrices.
    pub fn emissions(&self) -> &Emissions {
        &self.emissions
    }

    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        self.emissions.check()?;
        if self.emissions.n_lfs() != self.n_lfs || self.emissions.n_tags() != self.n_tags {
            return Err("emissions do not match n_lfs × n_tags".into());
        }
        super::check_distribution("class_balance", &self.class_balance, self.n_tags)
    }
}
