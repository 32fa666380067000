//! The hidden Markov model label model of Lison et al. (ACL 2020, "Named Entity Recognition without
//! Labelled Data: A Weak Supervision Approach"), as skweak implements it (`skweak.generative.HMM`,
//! which WRENCH's sequence `HMM` wraps).
//!
//! Hidden states are the tags; a sentence's tags follow a Markov chain (start probabilities and a
//! `T × T` transition matrix); every LF independently emits its output on a token (one of the `T`
//! tags, or abstain as outcome `T`) from a categorical distribution given the token's tag: a
//! `T × (T + 1)` matrix per LF ([`Emissions`]). Parameters are fitted by MAP-EM (Baum–Welch with
//! Dirichlet pseudo-counts added in every M-step), started from counts under the token majority
//! vote; the output is each token's posterior marginal P(tag | all votes of its sentence).
//!
//! Like skweak:
//! - the emission pseudo-counts favour an LF emitting the token's own tag (`concentration` on the
//!   diagonal, skweak's `_reset_counts`), with extra mass for false positives on `O` tokens
//!   (`fp_prior`) and for misses (`fn_prior`, on abstain, which plays the part of skweak's
//!   observation `O` for a source that did not tag the token); the strength is constant, as in
//!   skweak, not scaled by each LF's agreement with the majority vote (that agreement enters
//!   through the initial counts instead);
//! - a token's tag is restricted to `O` and the tags some LF voted on it (`restrict_to_voted`,
//!   skweak's "the probability of a state is zero if no labelling function votes for it");
//! - given a [`TagSet`] (in [`super::TokenFitOptions`]), starts and transitions the scheme forbids
//!   (BIO `O → I-X`, BIOES `B-X → O`, …) have probability 0 (skweak's
//!   `_do_sequence_labelling_checks`);
//! - sentences where no LF fires are left out of fitting (skweak's `_fit` drops documents without
//!   annotations).
//!
//! Not taken from skweak: its per-source `weights` and `redundancy_factor` (a down-weighting of
//! sources whose *names* mark them as variants of one another): weaksup's LFs carry no such
//! naming convention, so every LF's emissions count once.
//!
//! Forward–backward is scaled (Rabiner 1989, §V.A): each token's forward vector is normalised and
//! the log-likelihood is the sum of the logs of the normalisers; each token's emission scores are
//! computed in log space and shifted by their maximum over the reachable states before
//! exponentiation, so neither long sentences nor many LFs underflow.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::emission::{EmissionCounts, Emissions, LogEmissions};
use super::mv::mv_row;
use super::{TokenFitInfo, check_distribution};
use crate::error::{Error, Result};
use crate::label_model::{Proba, Votes};
use crate::token::scheme::{OUTSIDE, Prefix, TagScheme, TagSet};

/// HMM parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HmmParams {
    /// EM iterations at most. Default 4, skweak's `HMM.fit(n_iter=4)` (WRENCH's `HMM` stops after
    /// `n_epochs=5`). Measured on MIT-R's valid split with `labeling_functions/mitr.toml`: span F1
    /// 0.643 after 1 or 4 iterations, 0.554 with EM run to convergence (100; token MV 0.624): the
    /// LFs of one type cover disjoint phrases, so their abstentions are not independent given the
    /// tag, and EM on this misspecified model drifts toward `O` (recall 0.58 → 0.45). On data
    /// that fit the model, more iterations help (tests/token_label_models.rs).
    pub max_iter: usize,
    /// Stop when the log-likelihood changes by less than `tol` × |log-likelihood|. Default 1e-6
    /// (as `ds`; skweak's `tol=1e-2` is an absolute change, which depends on the corpus size).
    pub tol: f64,
    /// Dirichlet pseudo-count for an LF emitting the token's own tag (and, for `O` tokens, for
    /// abstaining). Default 1.0 (skweak `HMM._reset_counts(concentration=1)`).
    pub concentration: f64,
    /// False-positive prior: `fp_prior × concentration` is added to every output of an LF on `O`
    /// tokens. Default 0.1 (skweak `fp_prior=0.1`).
    pub fp_prior: f64,
    /// False-negative prior: `fn_prior × concentration` is added to abstaining on every tag.
    /// Default 0.3 (skweak `fn_prior=0.3`).
    pub fn_prior: f64,
    /// Pseudo-count on every emission cell, so none is 0. Default 1e-6 (skweak's `+= 0.000001`).
    pub smoothing: f64,
    /// Pseudo-count on every allowed start and transition. Default 1.0 (skweak adds its
    /// `concentration` (1) to the start and transition counts).
    pub transition_prior: f64,
    /// A token's tag is `O` or one voted on it by some LF (skweak's constraint). Default true;
    /// false lets the transitions carry an entity over tokens no LF tagged.
    pub restrict_to_voted: bool,
}

impl Default for HmmParams {
    fn default() -> Self {
        Self {
            max_iter: 4,
            tol: 1e-6,
            concentration: 1.0,
            fp_prior: 0.1,
            fn_prior: 0.3,
            smoothing: 1e-6,
            transition_prior: 1.0,
            restrict_to_voted: true,
        }
    }
}

/// A fitted HMM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenMarkovModel {
    pub(crate) n_lfs: usize,
    pub(crate) n_tags: usize,
    /// P(first tag = y).
    pub(crate) start: Vec<f64>,
    /// `transitions[x * T + y]` = P(next tag = y | tag = x).
    pub(crate) transitions: Vec<f64>,
    pub(crate) emissions: Emissions,
    /// Expected tag frequencies over the fitted tokens under the final model.
    pub(crate) tag_balance: Vec<f64>,
    pub(crate) restrict_to_voted: bool,
    /// Log-likelihood per iteration (of the parameters fitted so far, before that iteration's
    /// M-step updates them).
    pub log_likelihood_history: Vec<f64>,
    pub info: TokenFitInfo,
}

/// Sentences per parallel work item; partial sums are added in chunk order, so results do not
/// depend on the thread count.
const SENTENCE_CHUNK: usize = 256;

/// Which starts and transitions a tag scheme allows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Allowed {
    pub start: Vec<bool>,
    /// `trans[x * T + y]`.
    pub trans: Vec<bool>,
}

impl Allowed {
    /// Every start and transition.
    pub(crate) fn all(t: usize) -> Self {
        Self { start: vec![true; t], trans: vec![true; t * t] }
    }

    /// The starts and transitions `tags`' scheme allows (skweak `utils.is_valid_start` /
    /// `is_valid_transition`): BIO forbids `I-X` except after `B-X` / `I-X`; BIOES also requires a
    /// chunk opened by `B-X` / `I-X` to continue with `I-X` / `E-X`, and starts only with `O`, `B`
    /// or `S`. IO allows everything.
    pub(crate) fn of(tags: &TagSet) -> Self {
        let t = tags.n_tags();
        let dec = |k: usize| tags.decode(k as crate::matrix::Label);
        let start = (0..t)
            .map(|y| match tags.scheme {
                TagScheme::Io => true,
                TagScheme::Bio => dec(y).0 != Prefix::I,
                TagScheme::Bioes => matches!(dec(y).0, Prefix::O | Prefix::B | Prefix::S),
            })
            .collect();
        let mut trans = vec![true; t * t];
        for x in 0..t {
            let (px, tx) = dec(x);
            for y in 0..t {
                let (py, ty) = dec(y);
                trans[x * t + y] = match tags.scheme {
                    TagScheme::Io => true,
                    TagScheme::Bio => py != Prefix::I || (matches!(px, Prefix::B | Prefix::I) && tx == ty),
                    TagScheme::Bioes => {
                        if matches!(px, Prefix::B | Prefix::I) {
                            matches!(py, Prefix::I | Prefix::E) && tx == ty
                        } else {
                            matches!(py, Prefix::O | Prefix::B | Prefix::S)
                        }
                    }
                };
            }
        }
        Self { start, trans }
    }
}

/// Expected sufficient statistics of a set of sentences.
struct Stats {
    start: Vec<f64>,
    trans: Vec<f64>,
    em: EmissionCounts,
    ll: f64,
}

impl Stats {
    fn new(m: usize, t: usize) -> Self {
        Self { start: vec![0.0; t], trans: vec![0.0; t * t], em: EmissionCounts::new(m, t), ll: 0.0 }
    }
    fn merge(&mut self, o: &Self) {
        self.start.iter_mut().zip(&o.start).for_each(|(a, b)| *a += b);
        self.trans.iter_mut().zip(&o.trans).for_each(|(a, b)| *a += b);
        self.em.merge(&o.em);
        self.ll += o.ll;
    }
}

/// Work buffers of [`forward_backward`], reused across the sentences of a chunk.
#[derive(Default)]
pub(crate) struct Scratch {
    alpha: Vec<f64>,
    b: Vec<f64>,
    scale: Vec<f64>,
    beta: Vec<f64>,
    beta_prev: Vec<f64>,
    w: Vec<f64>,
    pred: Vec<f64>,
}

/// Scaled forward–backward over one sentence of `len = logp.len() / T` tokens.
///
/// `logp[s * T + y]` = log P(observations of token `s` | tag `y`); `allowed[s * T + y]` (when
/// given) restricts token `s` to some tags; where none of them is reachable from the previous
/// token the restriction is lifted for that token (a dead end such as BIO `O` followed by a token
/// voted only `I-X`). Writes the posterior marginals into `gamma` (`len × T`), adds the expected
/// transition counts into `xi` (`T × T`) when given, and returns log P(observations); `None` when
/// the numbers are not finite (which valid parameters do not produce).
pub(crate) fn forward_backward(
    start: &[f64],
    trans: &[f64],
    logp: &[f64],
    allowed: Option<&[bool]>,
    gamma: &mut [f64],
    mut xi: Option<&mut [f64]>,
    sc: &mut Scratch,
) -> Option<f64> {
    let t = start.len();
    let len = logp.len() / t;
    if len == 0 {
        return Some(0.0);
    }
    sc.alpha.clear();
    sc.alpha.resize(len * t, 0.0);
    sc.b.clear();
    sc.b.resize(len * t, 0.0);
    sc.scale.clear();
    sc.scale.resize(len, 0.0);
    sc.pred.resize(t, 0.0);
    let mut ll = 0.0;
    for s in 0..len {
        if s == 0 {
            sc.pred.copy_from_slice(start);
        } else {
            sc.pred.iter_mut().for_each(|p| *p = 0.0);
            let prev = &sc.alpha[(s - 1) * t..s * t];
            for (x, &a) in prev.iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                for (p, &tr) in sc.pred.iter_mut().zip(&trans[x * t..(x + 1) * t]) {
                    *p += a * tr;
                }
            }
        }
        let lp = &logp[s * t..(s + 1) * t];
        let ok = |y: usize, restrict: bool| {
            sc.pred[y] > 0.0 && lp[y].is_finite() && (!restrict || allowed.is_none_or(|a| a[s * t + y]))
        };
        let mut restrict = true;
        let mut mx = (0..t).filter(|&y| ok(y, true)).map(|y| lp[y]).fold(f64::NEG_INFINITY, f64::max);
        if mx == f64::NEG_INFINITY {
            restrict = false;
            mx = (0..t).filter(|&y| ok(y, false)).map(|y| lp[y]).fold(f64::NEG_INFINITY, f64::max);
            if mx == f64::NEG_INFINITY {
                return None;
            }
        }
        let mut c = 0.0;
        for (y, &l) in lp.iter().enumerate() {
            let b = if ok(y, restrict) { (l - mx).exp() } else { 0.0 };
            sc.b[s * t + y] = b;
            let a = b * sc.pred[y];
            sc.alpha[s * t + y] = a;
            c += a;
        }
        if !(c > 0.0 && c.is_finite()) {
            return None;
        }
        sc.alpha[s * t..(s + 1) * t].iter_mut().for_each(|a| *a /= c);
        sc.scale[s] = c;
        ll += c.ln() + mx;
    }
    // Backward: beta[s] scaled by the same normalisers, so gamma[s] = alpha[s] ⊙ beta[s].
    sc.beta.clear();
    sc.beta.resize(t, 1.0);
    sc.beta_prev.resize(t, 0.0);
    sc.w.resize(t, 0.0);
    gamma[(len - 1) * t..len * t].copy_from_slice(&sc.alpha[(len - 1) * t..len * t]);
    for s in (1..len).rev() {
        for y in 0..t {
            sc.w[y] = sc.b[s * t + y] * sc.beta[y] / sc.scale[s];
        }
        let prev = &sc.alpha[(s - 1) * t..s * t];
        for x in 0..t {
            let row = &trans[x * t..(x + 1) * t];
            let mut acc = 0.0;
            for (tr, w) in row.iter().zip(&sc.w) {
                acc += tr * w;
            }
            sc.beta_prev[x] = acc;
            if let Some(xi) = xi.as_deref_mut()
                && prev[x] > 0.0
            {
                for (y, (tr, w)) in row.iter().zip(&sc.w).enumerate() {
                    xi[x * t + y] += prev[x] * tr * w;
                }
            }
        }
        std::mem::swap(&mut sc.beta, &mut sc.beta_prev);
        for x in 0..t {
            gamma[(s - 1) * t + x] = prev[x] * sc.beta[x];
        }
    }
    for row in gamma[..len * t].chunks_mut(t) {
        let sum: f64 = row.iter().sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return None;
        }
        row.iter_mut().for_each(|g| *g /= sum);
    }
    ll.is_finite().then_some(ll)
}

impl HmmParams {
    pub(crate) fn validate(&self) -> Result<()> {
        let nonneg = |x: f64| x >= 0.0 && x.is_finite();
        let pos = |x: f64| x > 0.0 && x.is_finite();
        if self.max_iter == 0
            || self.tol.is_nan()
            || self.tol < 0.0
            || !nonneg(self.concentration)
            || !nonneg(self.fp_prior)
            || !nonneg(self.fn_prior)
            || !pos(self.smoothing)
            || !pos(self.transition_prior)
        {
            return Err(Error::Config(format!(
                "hmm: need max_iter > 0, tol >= 0, finite concentration, fp_prior, fn_prior >= 0 and \
                 smoothing, transition_prior > 0 (got {self:?})"
            )));
        }
        Ok(())
    }

    /// Emission pseudo-count of LF output `l` on tag `y` (see the module docs).
    fn emission_prior(&self, t: usize, y: usize, l: usize) -> f64 {
        let c = self.concentration;
        let mut p = self.smoothing;
        if l == y {
            p += c;
        }
        if l == t {
            p += self.fn_prior * c;
        }
        if y == OUTSIDE as usize {
            p += self.fp_prior * c;
            if l == t {
                p += c;
            }
        }
        p
    }

    pub(crate) fn fit(
        &self,
        votes: &Votes,
        offsets: &[usize],
        allowed: &Allowed,
    ) -> Result<HiddenMarkovModel> {
        self.validate()?;
        let (t, m) = (votes.cardinality, votes.n_lfs);
        // Sentences with at least one vote (skweak drops documents without annotations).
        let fit: Vec<usize> = (0..offsets.len() - 1)
            .filter(|&s| (offsets[s]..offsets[s + 1]).any(|i| votes.is_covered(i)))
            .collect();
        let mut model = HiddenMarkovModel {
            n_lfs: m,
            n_tags: t,
            start: vec![0.0; t],
            transitions: vec![0.0; t * t],
            emissions: Emissions::from_counts(m, t, vec![0.0; m * t * (t + 1)], &vec![0.0; t], |_, _, _| 1.0),
            tag_balance: vec![1.0 / t as f64; t],
            restrict_to_voted: self.restrict_to_voted,
            log_likelihood_history: Vec::new(),
            info: TokenFitInfo::default(),
        };
        let mut stats = mv_stats(votes, offsets, &fit);
        let mut prev = f64::NEG_INFINITY;
        for it in 0..self.max_iter {
            self.m_step(&mut model, &stats, allowed);
            let (next, _) = model.e_step(votes, offsets, &fit, false)?;
            stats = next;
            let ll = stats.ll;
            model.log_likelihood_history.push(ll);
            tracing::debug!(iteration = it, log_likelihood = ll, "hmm");
            model.info.iterations = it + 1;
            let s: f64 = stats.em.mass.iter().sum();
            if s > 0.0 {
                model.tag_balance = stats.em.mass.iter().map(|x| x / s).collect();
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

    fn m_step(&self, model: &mut HiddenMarkovModel, st: &Stats, allowed: &Allowed) {
        let (t, m) = (model.n_tags, model.n_lfs);
        let tp = self.transition_prior;
        let norm = |v: &mut [f64]| {
            let s: f64 = v.iter().sum();
            v.iter_mut().for_each(|x| *x /= s);
        };
        model.start = (0..t).map(|y| if allowed.start[y] { st.start[y] + tp } else { 0.0 }).collect();
        norm(&mut model.start);
        model.transitions =
            (0..t * t).map(|k| if allowed.trans[k] { st.trans[k] + tp } else { 0.0 }).collect();
        for row in model.transitions.chunks_mut(t) {
            norm(row);
        }
        model.emissions = Emissions::from_counts(m, t, st.em.counts.clone(), &st.em.mass, |_, y, l| {
            self.emission_prior(t, y, l)
        });
    }
}

/// Counts under the token majority vote (the initial "E-step"): skweak's `_add_mv_counts`.
fn mv_stats(votes: &Votes, offsets: &[usize], sentences: &[usize]) -> Stats {
    let (t, m) = (votes.cardinality, votes.n_lfs);
    let partial: Vec<Stats> = sentences
        .par_chunks(SENTENCE_CHUNK)
        .map(|chunk| {
            let mut st = Stats::new(m, t);
            let (mut cur, mut prev) = (vec![0.0; t], vec![0.0; t]);
            for &s in chunk {
                for (k, i) in (offsets[s]..offsets[s + 1]).enumerate() {
                    mv_row(votes, i, &mut cur);
                    if k == 0 {
                        st.start.iter_mut().zip(&cur).for_each(|(a, b)| *a += b);
                    } else {
                        for (x, px) in prev.iter().enumerate() {
                            for (y, cy) in cur.iter().enumerate() {
                                st.trans[x * t + y] += px * cy;
                            }
                        }
                    }
                    st.em.add(votes, i, &cur);
                    std::mem::swap(&mut cur, &mut prev);
                }
            }
            st
        })
        .collect();
    let mut total = Stats::new(m, t);
    for p in &partial {
        total.merge(p);
    }
    total
}

impl HiddenMarkovModel {
    /// Forward–backward over `sentences` (indices into `offsets`): the summed statistics and,
    /// when `want_post`, the posteriors of their tokens in order.
    fn e_step(
        &self,
        votes: &Votes,
        offsets: &[usize],
        sentences: &[usize],
        want_post: bool,
    ) -> Result<(Stats, Vec<f64>)> {
        let (t, m) = (self.n_tags, self.n_lfs);
        let logs = self.emissions.logs();
        let partial: Vec<Result<(Stats, Vec<f64>)>> = sentences
            .par_chunks(SENTENCE_CHUNK)
            .map(|chunk| self.e_chunk(votes, offsets, chunk, &logs, want_post, m, t))
            .collect();
        let mut total = Stats::new(m, t);
        let mut post = Vec::with_capacity(if want_post { votes.n_rows * t } else { 0 });
        for p in partial {
            let (st, pp) = p?;
            total.merge(&st);
            post.extend_from_slice(&pp);
        }
        Ok((total, post))
    }

    #[allow(clippy::too_many_arguments)]
    fn e_chunk(
        &self,
        votes: &Votes,
        offsets: &[usize],
        chunk: &[usize],
        logs: &LogEmissions,
        want_post: bool,
        m: usize,
        t: usize,
    ) -> Result<(Stats, Vec<f64>)> {
        let mut st = Stats::new(m, t);
        let mut out = Vec::new();
        let (mut logp, mut allowed, mut gamma) = (Vec::new(), Vec::new(), Vec::new());
        let mut sc = Scratch::default();
        for &s in chunk {
            let (a, b) = (offsets[s], offsets[s + 1]);
            let len = b - a;
            if len == 0 {
                continue;
            }
            logp.clear();
            logp.resize(len * t, 0.0);
            gamma.clear();
            gamma.resize(len * t, 0.0);
            for (k, i) in (a..b).enumerate() {
                logs.score(votes, i, &mut logp[k * t..(k + 1) * t]);
            }
            if self.restrict_to_voted {
                allowed.clear();
                allowed.resize(len * t, false);
                for (k, i) in (a..b).enumerate() {
                    allowed[k * t + OUTSIDE as usize] = true;
                    for (_, l) in votes.row(i) {
                        allowed[k * t + l] = true;
                    }
                }
            }
            let restrict = self.restrict_to_voted.then_some(allowed.as_slice());
            let ll = forward_backward(
                &self.start,
                &self.transitions,
                &logp,
                restrict,
                &mut gamma,
                Some(&mut st.trans),
                &mut sc,
            )
            .ok_or_else(|| {
                Error::invalid(
                    "hmm",
                    format!("sentence {s} (tokens {a}..{b}): forward-backward gave non-finite probabilities"),
                )
            })?;
            st.ll += ll;
            st.start.iter_mut().zip(&gamma[..t]).for_each(|(x, g)| *x += g);
            for (k, i) in (a..b).enumerate() {
                st.em.add(votes, i, &gamma[k * t..(k + 1) * t]);
            }
            if want_post {
                out.extend_from_slice(&gamma);
            }
        }
        Ok((st, out))
    }

    pub(crate) fn proba(&self, votes: &Votes, offsets: &[usize]) -> Result<Proba> {
        let all: Vec<usize> = (0..offsets.len() - 1).collect();
        let (_, post) = self.e_step(votes, offsets, &all, true)?;
        Proba::new(votes.n_rows, self.n_tags, post)
    }

    /// P(first tag = y).
    pub fn start_probs(&self) -> &[f64] {
        &self.start
    }
    /// Row-major `T × T`: `[x * T + y]` = P(next tag = y | tag = x).
    pub fn transitions(&self) -> &[f64] {
        &self.transitions
    }
    /// The learned per-LF emission matrices.
    pub fn emissions(&self) -> &Emissions {
        &self.emissions
    }
    /// Expected tag frequencies over the fitted tokens.
    pub fn tag_balance(&self) -> &[f64] {
        &self.tag_balance
    }
    /// Whether tags are restricted to `O` and the voted ones.
    pub fn restrict_to_voted(&self) -> bool {
        self.restrict_to_voted
    }

    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        self.emissions.check()?;
        let t = self.n_tags;
        if self.emissions.n_lfs() != self.n_lfs || self.emissions.n_tags() != t {
            return Err("emissions do not match n_lfs × n_tags".into());
        }
        check_distribution("start", &self.start, t)?;
        check_distribution("tag_balance", &self.tag_balance, t)?;
        if self.transitions.len() != t * t {
            return Err(format!("transitions: {} values for {t} × {t}", self.transitions.len()));
        }
        for (x, row) in self.transitions.chunks(t).enumerate() {
            check_distribution(&format!("transitions from tag {x}"), row, t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all `T^len` paths: posterior marginals and log P(obs).
    fn brute(start: &[f64], trans: &[f64], e: &[f64], t: usize) -> (Vec<f64>, f64) {
        let len = e.len() / t;
        let mut marg = vec![0.0; len * t];
        let mut z = 0.0;
        for code in 0..t.pow(len as u32) {
            let path: Vec<usize> = (0..len).map(|s| code / t.pow(s as u32) % t).collect();
            let mut p = start[path[0]] * e[path[0]];
            for s in 1..len {
                p *= trans[path[s - 1] * t + path[s]] * e[s * t + path[s]];
            }
            z += p;
            for (s, &y) in path.iter().enumerate() {
                marg[s * t + y] += p;
            }
        }
        marg.iter_mut().for_each(|x| *x /= z);
        (marg, z.ln())
    }

    #[test]
    fn forward_backward_matches_brute_force_on_three_states_and_four_tokens() {
        let t = 3;
        let start = [0.5, 0.3, 0.2];
        let trans = [0.7, 0.2, 0.1, 0.3, 0.6, 0.1, 0.25, 0.25, 0.5];
        let e = [0.9, 0.05, 0.05, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4, 0.6, 0.1, 0.3];
        let logp: Vec<f64> = e.iter().map(|x: &f64| x.ln() - 50.0).collect(); // a shift cancels
        let mut gamma = vec![0.0; e.len()];
        let mut xi = vec![0.0; t * t];
        let ll =
            forward_backward(&start, &trans, &logp, None, &mut gamma, Some(&mut xi), &mut Scratch::default())
                .unwrap();
        let (want, lz) = brute(&start, &trans, &e, t);
        assert!((ll - (lz - 4.0 * 50.0)).abs() < 1e-10, "{ll} vs {lz}");
        for (g, w) in gamma.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{gamma:?} vs {want:?}");
        }
        // Expected transitions sum to len − 1, and each row's from-mass is the marginal of s < 3.
        assert!((xi.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        for x in 0..t {
            let from: f64 = xi[x * t..(x + 1) * t].iter().sum();
            let want: f64 = (0..3).map(|s| gamma[s * t + x]).sum();
            assert!((from - want).abs() < 1e-12);
        }
    }

    #[test]
    fn restriction_zeroes_excluded_tags_and_lifts_at_dead_ends() {
        let t = 2;
        let start = [1.0, 0.0]; // only tag 0 may start
        let trans = [0.0, 1.0, 0.5, 0.5]; // 0 → 1 always
        let logp = vec![0.0; 3 * t];
        // token 1 allows only tag 0, unreachable after tag 0: the restriction is lifted there.
        let allowed = [true, true, true, false, true, true];
        let mut gamma = vec![0.0; 3 * t];
        let ll = forward_backward(
            &start,
            &trans,
            &logp,
            Some(&allowed),
            &mut gamma,
            None,
            &mut Scratch::default(),
        )
        .unwrap();
        assert_eq!(&gamma[..4], &[1.0, 0.0, 0.0, 1.0]);
        assert!((gamma[4] - 0.5).abs() < 1e-15 && ll.abs() < 1e-12, "{gamma:?} {ll}");
    }

    #[test]
    fn long_sentences_and_many_lfs_stay_finite() {
        // 20,000 tokens whose emissions differ by e^±300 between tags: no under- or overflow.
        let t = 3;
        let start = [0.4, 0.3, 0.3];
        let trans = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8];
        let len = 20_000;
        let logp: Vec<f64> =
            (0..len * t).map(|k| if (k / t + k % t) % 3 == 0 { -5.0 } else { -305.0 }).collect();
        let mut gamma = vec![0.0; len * t];
        let ll =
            forward_backward(&start, &trans, &logp, None, &mut gamma, None, &mut Scratch::default()).unwrap();
        assert!(ll.is_finite() && ll < 0.0);
        assert!(gamma.iter().all(|g| g.is_finite() && *g >= 0.0));
        for row in gamma.chunks(t) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn scheme_constraints_follow_skweak() {
        let bio = TagSet::new(TagScheme::Bio, vec!["PER".into(), "LOC".into()]).unwrap();
        let a = Allowed::of(&bio);
        let id = |n: &str| bio.parse(n).unwrap() as usize;
        let t = bio.n_tags();
        assert!(!a.start[id("I-PER")] && a.start[id("B-PER")] && a.start[id("O")]);
        assert!(a.trans[id("B-PER") * t + id("I-PER")] && a.trans[id("I-PER") * t + id("I-PER")]);
        assert!(!a.trans[id("O") * t + id("I-PER")] && !a.trans[id("B-LOC") * t + id("I-PER")]);
        let bioes = bio.with_scheme(TagScheme::Bioes);
        let a = Allowed::of(&bioes);
        let id = |n: &str| bioes.parse(n).unwrap() as usize;
        let t = bioes.n_tags();
        assert!(!a.start[id("E-PER")] && a.start[id("S-PER")]);
        assert!(!a.trans[id("B-PER") * t + id("O")] && a.trans[id("B-PER") * t + id("E-PER")]);
        assert!(a.trans[id("E-PER") * t + id("S-LOC")] && !a.trans[id("E-PER") * t + id("I-PER")]);
        assert_eq!(Allowed::of(&bio.with_scheme(TagScheme::Io)), Allowed::all(3));
    }

    #[test]
    fn emission_prior_matches_skweak_reset_counts() {
        let p = HmmParams::default();
        // T = 3 tags (O, A, B), abstain = 3.
        let t = 3;
        let e = 1e-6;
        assert!((p.emission_prior(t, 1, 1) - (1.0 + e)).abs() < 1e-15); // own tag
        assert!((p.emission_prior(t, 1, 2) - e).abs() < 1e-15); // type confusion
        assert!((p.emission_prior(t, 1, 3) - (0.3 + e)).abs() < 1e-15); // a miss
        assert!((p.emission_prior(t, 0, 2) - (0.1 + e)).abs() < 1e-15); // a false positive
        assert!((p.emission_prior(t, 0, 3) - (1.0 + 0.3 + 0.1 + e)).abs() < 1e-15); // O, no vote
    }
}
