//! Dawid–Skene (1979): EM over per-LF confusion matrices and a class prior.
//!
//! Abstaining is one of each LF's outcomes (the confusion matrices are C × (C + 1)), not a missing
//! annotation: most LFs vote a single class, so *whether* an LF fires is all the evidence it gives,
//! and treating abstains as missing makes such LFs uninformative (EM then collapses to one class).
//! It also gives rows where every LF abstains an informed posterior.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{FitInfo, FitOptions, LabelModel, Proba, Votes, check_shape};
use crate::error::{Error, Result};
use crate::matrix::LabelMatrix;

/// Dawid–Skene parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DsParams {
    /// EM iterations at most. Default 100 (crowd-kit's `DawidSkene(n_iter=100)`, which WRENCH wraps).
    pub max_iter: usize,
    /// Stop when the log-likelihood changes by less than `tol` × |log-likelihood|. Default 1e-6.
    pub tol: f64,
    /// Pseudo-count added to every confusion-matrix cell (Laplace smoothing), so a label an LF never
    /// emitted for a class keeps a non-zero probability. Default 0.01.
    pub smoothing: f64,
    /// Fit on uncovered rows too (their all-abstain pattern is evidence under this model).
    /// Default true; false fits on covered rows only.
    pub include_uncovered: bool,
}

impl Default for DsParams {
    fn default() -> Self {
        Self { max_iter: 100, tol: 1e-6, smoothing: 0.01, include_uncovered: true }
    }
}

/// A fitted Dawid–Skene model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DawidSkene {
    n_lfs: usize,
    cardinality: usize,
    /// P(Y = y).
    class_balance: Vec<f64>,
    /// `confusion[(j * C + y) * (C + 1) + l]` = P(LF j outputs l | Y = y), `l = C` meaning abstain.
    confusion: Vec<f64>,
    /// Log-likelihood per iteration.
    pub loss_history: Vec<f64>,
    pub info: FitInfo,
}

/// Rows per parallel work item; partial sums are added in chunk order so results do not depend
/// on the thread count.
const CHUNK: usize = 4096;

impl DsParams {
    fn validate(&self) -> Result<()> {
        if self.max_iter == 0
            || self.tol.is_nan()
            || self.tol < 0.0
            || self.smoothing.is_nan()
            || self.smoothing <= 0.0
        {
            return Err(Error::Config(format!(
                "ds: need max_iter > 0, tol >= 0, smoothing > 0 (got {self:?})"
            )));
        }
        Ok(())
    }

    pub(crate) fn fit(&self, votes: &Votes, opts: &FitOptions) -> Result<DawidSkene> {
        self.validate()?;
        let (c, m) = (votes.cardinality, votes.n_lfs);
        let rows: Vec<usize> =
            if self.include_uncovered { (0..votes.n_rows).collect() } else { votes.covered() };
        // Initial posteriors: majority-vote shares (uniform on uncovered rows).
        let mut post: Vec<f64> = vec![0.0; rows.len() * c];
        for (r, &i) in rows.iter().enumerate() {
            let t = &mut post[r * c..(r + 1) * c];
            for (_, l) in votes.row(i) {
                t[l] += 1.0;
            }
            let s: f64 = t.iter().sum();
            if s > 0.0 {
                t.iter_mut().for_each(|x| *x /= s);
            } else {
                t.iter_mut().for_each(|x| *x = 1.0 / c as f64);
            }
        }
        let mut model = DawidSkene {
            n_lfs: m,
            cardinality: c,
            class_balance: vec![1.0 / c as f64; c],
            confusion: vec![0.0; m * c * (c + 1)],
            loss_history: Vec::new(),
            info: FitInfo::default(),
        };
        let mut prev = f64::NEG_INFINITY;
        for it in 0..self.max_iter {
            model.m_step(votes, &rows, &post, self.smoothing, opts.class_balance.as_deref());
            let ll = model.e_step(votes, &rows, &mut post);
            model.loss_history.push(ll);
            tracing::debug!(iteration = it, log_likelihood = ll, "dawid-skene");
            model.info.iterations = it + 1;
            if !ll.is_finite() {
                return Err(Error::invalid(
                    "dawid-skene",
                    format!("log-likelihood became {ll} at iteration {it}"),
                ));
            }
            if (ll - prev).abs() <= self.tol * ll.abs() {
                model.info.converged = true;
                break;
            }
            prev = ll;
        }
        model.info.final_loss = model.loss_history.last().map(|ll| -ll);
        Ok(model)
    }
}

impl DawidSkene {
    /// Class prior and confusion matrices from the current posteriors.
    fn m_step(
        &mut self,
        votes: &Votes,
        rows: &[usize],
        post: &[f64],
        alpha: f64,
        fixed_balance: Option<&[f64]>,
    ) {
        let (c, m) = (self.cardinality, self.n_lfs);
        let w = c + 1;
        // counts[(j*C + y)*(C+1) + l] for votes l < C, and prior mass per class; summed per chunk
        // then added in chunk order.
        let partial: Vec<(Vec<f64>, Vec<f64>)> = rows
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(k, chunk)| {
                let mut counts = vec![0.0; m * c * w];
                let mut mass = vec![0.0; c];
                for (r, &i) in chunk.iter().enumerate() {
                    let t = &post[(k * CHUNK + r) * c..(k * CHUNK + r + 1) * c];
                    for y in 0..c {
                        mass[y] += t[y];
                    }
                    for (j, l) in votes.row(i) {
                        for y in 0..c {
                            counts[(j * c + y) * w + l] += t[y];
                        }
                    }
                }
                (counts, mass)
            })
            .collect();
        let mut counts = vec![0.0; m * c * w];
        let mut mass = vec![0.0; c];
        for (pc, pm) in partial {
            counts.iter_mut().zip(pc).for_each(|(a, b)| *a += b);
            mass.iter_mut().zip(pm).for_each(|(a, b)| *a += b);
        }
        for j in 0..m {
            for y in 0..c {
                let row = &mut counts[(j * c + y) * w..(j * c + y + 1) * w];
                let voted: f64 = row[..c].iter().sum();
                row[c] = (mass[y] - voted).max(0.0);
                row.iter_mut().for_each(|x| *x += alpha);
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= s);
            }
        }
        self.confusion = counts;
        self.class_balance = match fixed_balance {
            Some(b) => b.to_vec(),
            None => {
                let s: f64 = mass.iter().sum::<f64>() + c as f64 * 1e-6;
                mass.iter().map(|x| (x + 1e-6) / s).collect()
            }
        };
    }

    /// Posteriors of `rows` into `post`; returns the log-likelihood.
    ///
    /// log P(y, λ) = log p_y + Σ_j log π_j[y][abstain] + Σ_{j votes l} (log π_j[y][l] − log π_j[y][abstain]),
    /// so the cost is O(votes), not O(rows × LFs).
    fn e_step(&self, votes: &Votes, rows: &[usize], post: &mut [f64]) -> f64 {
        let (c, m) = (self.cardinality, self.n_lfs);
        let w = c + 1;
        let log_conf: Vec<f64> = self.confusion.iter().map(|p| p.ln()).collect();
        let mut base: Vec<f64> = self.class_balance.iter().map(|p| p.ln()).collect();
        for j in 0..m {
            for y in 0..c {
                base[y] += log_conf[(j * c + y) * w + c];
            }
        }
        let lls: Vec<f64> = post
            .par_chunks_mut(CHUNK * c)
            .zip(rows.par_chunks(CHUNK))
            .map(|(out, chunk)| {
                let mut ll = 0.0;
                for (r, &i) in chunk.iter().enumerate() {
                    let t = &mut out[r * c..(r + 1) * c];
                    t.copy_from_slice(&base);
                    for (j, l) in votes.row(i) {
                        for (y, ty) in t.iter_mut().enumerate() {
                            let k = (j * c + y) * w;
                            *ty += log_conf[k + l] - log_conf[k + c];
                        }
                    }
                    ll += normalize_log(t);
                }
                ll
            })
            .collect();
        lls.iter().sum()
    }
}

/// Turns log-scores into probabilities in place; returns log Σ exp.
pub(crate) fn normalize_log(t: &mut [f64]) -> f64 {
    let max = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for x in t.iter_mut() {
        *x = (*x - max).exp();
        s += *x;
    }
    t.iter_mut().for_each(|x| *x /= s);
    max + s.ln()
}

impl LabelModel for DawidSkene {
    fn name(&self) -> &'static str {
        "ds"
    }
    fn predict_proba(&self, m: &LabelMatrix) -> Result<Proba> {
        check_shape("ds", m, self.n_lfs, self.cardinality)?;
        let votes = Votes::new(m);
        let rows: Vec<usize> = (0..m.n_rows()).collect();
        let mut post = vec![0.0; m.n_rows() * self.cardinality];
        self.e_step(&votes, &rows, &mut post);
        Proba::new(m.n_rows(), self.cardinality, post)
    }
    fn class_balance(&self) -> &[f64] {
        &self.class_balance
    }
    fn lf_accuracies(&self) -> Option<Vec<f64>> {
        let c = self.cardinality;
        Some(super::balanced_accuracies(self.n_lfs, &self.class_balance, |j, y, l| {
            self.confusion[(j * c + y) * (c + 1) + l]
        }))
    }
}

impl DawidSkene {
    /// Checks a model read from a file ([`super::check_saved_shape`] and its own arrays).
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let c = super::check_saved_shape(&self.class_balance, self.n_lfs)?;
        if self.cardinality != c {
            return Err(format!("cardinality {} but {c} class shares", self.cardinality));
        }
        let want = self.n_lfs.checked_mul(c * (c + 1)).ok_or("shape overflows")?;
        if self.confusion.len() != want || self.confusion.iter().any(|p| !p.is_finite()) {
            return Err(format!("confusion has {} finite values, expected {want}", self.confusion.len()));
        }
        Ok(())
    }
}
