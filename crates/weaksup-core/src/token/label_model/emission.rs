//! Per-LF emission models shared by token Dawid–Skene and the HMM: LF `j` outputs one of the
//! `T` tags or abstains (outcome `T`), independently of the other LFs given the token's tag, with a
//! categorical `P(l | y)` per (LF, tag): a `T × (T + 1)` matrix per LF.

use serde::{Deserialize, Serialize};

use crate::label_model::Votes;

/// Learned emission probabilities of every LF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emissions {
    n_lfs: usize,
    n_tags: usize,
    /// `probs[(j * T + y) * (T + 1) + l]` = P(LF `j` outputs `l` | tag `y`); `l = T` is abstain.
    probs: Vec<f64>,
}

impl Emissions {
    pub fn n_lfs(&self) -> usize {
        self.n_lfs
    }
    pub fn n_tags(&self) -> usize {
        self.n_tags
    }
    /// P(LF `j` outputs `l` | tag `y`), `l = n_tags` meaning abstain. Indices must be in range.
    pub fn prob(&self, j: usize, y: usize, l: usize) -> f64 {
        self.probs[(j * self.n_tags + y) * (self.n_tags + 1) + l]
    }
    /// LF `j`'s `T × (T + 1)` matrix, row-major (rows: tags; columns: outputs, abstain last).
    pub fn matrix(&self, j: usize) -> &[f64] {
        let w = self.n_tags + 1;
        &self.probs[j * self.n_tags * w..(j + 1) * self.n_tags * w]
    }
    /// P(LF `j` fires | tag `y`).
    pub fn fire_rate(&self, j: usize, y: usize) -> f64 {
        1.0 - self.prob(j, y, self.n_tags)
    }
    /// P(LF `j` votes `y` | tag `y`, LF `j` fires); 0 where it (numerically) never fires on `y`.
    pub fn accuracy_given_fired(&self, j: usize, y: usize) -> f64 {
        let fires = self.fire_rate(j, y);
        if fires > 0.0 { self.prob(j, y, y) / fires } else { 0.0 }
    }
    /// Per LF, P(vote = the token's tag | the LF fires) when tags occur with frequencies `weights`:
    /// `Σ_y w_y P(y | y) / Σ_y w_y P(fires | y)` (0 for an LF that never fires).
    pub fn accuracies(&self, weights: &[f64]) -> Vec<f64> {
        (0..self.n_lfs)
            .map(|j| {
                let (mut hit, mut fired) = (0.0, 0.0);
                for (y, &w) in weights.iter().enumerate().take(self.n_tags) {
                    hit += w * self.prob(j, y, y);
                    fired += w * self.fire_rate(j, y);
                }
                if fired > 0.0 { hit / fired } else { 0.0 }
            })
            .collect()
    }

    pub(crate) fn from_raw(n_lfs: usize, n_tags: usize, probs: Vec<f64>) -> Self {
        Self { n_lfs, n_tags, probs }
    }

    /// Normalises expected counts plus pseudo-counts `prior(j, y, l)` into probabilities. `counts`
    /// holds the vote cells (`l < T`); the abstain cell is filled from `mass[y]` (the expected
    /// number of tokens of tag `y`) minus the votes.
    pub(crate) fn from_counts(
        n_lfs: usize,
        n_tags: usize,
        mut counts: Vec<f64>,
        mass: &[f64],
        prior: impl Fn(usize, usize, usize) -> f64,
    ) -> Self {
        let w = n_tags + 1;
        for j in 0..n_lfs {
            for y in 0..n_tags {
                let row = &mut counts[(j * n_tags + y) * w..(j * n_tags + y + 1) * w];
                let voted: f64 = row[..n_tags].iter().sum();
                row[n_tags] = (mass[y] - voted).max(0.0);
                for (l, x) in row.iter_mut().enumerate() {
                    *x += prior(j, y, l);
                }
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= s);
            }
        }
        Self { n_lfs, n_tags, probs: counts }
    }

    /// Logs of the probabilities and the all-abstain score per tag, for [`LogEmissions::score`].
    pub(crate) fn logs(&self) -> LogEmissions {
        let (t, w) = (self.n_tags, self.n_tags + 1);
        let log: Vec<f64> = self.probs.iter().map(|p| p.ln()).collect();
        let mut base = vec![0.0; t];
        for j in 0..self.n_lfs {
            for (y, b) in base.iter_mut().enumerate() {
                *b += log[(j * t + y) * w + t];
            }
        }
        LogEmissions { t, log, base }
    }

    /// Checks a model read from a file: the shape, and positive finite rows summing to 1.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.n_tags < 2 || self.n_tags > crate::matrix::Label::MAX as usize || self.n_lfs > 1_000_000 {
            return Err(format!("emissions: {} LFs × {} tags is implausible", self.n_lfs, self.n_tags));
        }
        let w = self.n_tags + 1;
        let want = self.n_lfs.checked_mul(self.n_tags * w).ok_or("emissions: shape overflows")?;
        if self.probs.len() != want {
            return Err(format!("emissions: {} values, expected {want}", self.probs.len()));
        }
        for (r, row) in self.probs.chunks(w).enumerate() {
            let s: f64 = row.iter().sum();
            if row.iter().any(|p| !(p.is_finite() && *p > 0.0)) || (s - 1.0).abs() > 1e-6 {
                return Err(format!(
                    "emissions of LF {} for tag {}: not positive probabilities summing to 1",
                    r / self.n_tags,
                    r % self.n_tags
                ));
            }
        }
        Ok(())
    }
}

/// Log-emissions laid out for scoring a token in O(its votes).
pub(crate) struct LogEmissions {
    t: usize,
    log: Vec<f64>,
    /// `Σ_j log P(abstain | y)`.
    base: Vec<f64>,
}

impl LogEmissions {
    /// `out[y]` = log P(the votes of token `i` | tag `y`) = base[y] + Σ_{j votes l} (log P(l | y) −
    /// log P(abstain | y)).
    pub(crate) fn score(&self, votes: &Votes, i: usize, out: &mut [f64]) {
        let (t, w) = (self.t, self.t + 1);
        out.copy_from_slice(&self.base);
        for (j, l) in votes.row(i) {
            for (y, o) in out.iter_mut().enumerate() {
                let k = (j * t + y) * w;
                *o += self.log[k + l] - self.log[k + t];
            }
        }
    }
}

/// Expected emission counts: vote cells per (LF, tag) and the mass per tag.
#[derive(Debug, Clone)]
pub(crate) struct EmissionCounts {
    pub counts: Vec<f64>,
    pub mass: Vec<f64>,
    t: usize,
}

impl EmissionCounts {
    pub(crate) fn new(n_lfs: usize, n_tags: usize) -> Self {
        Self { counts: vec![0.0; n_lfs * n_tags * (n_tags + 1)], mass: vec![0.0; n_tags], t: n_tags }
    }
    /// Adds token `i` with tag posterior `gamma`.
    pub(crate) fn add(&mut self, votes: &Votes, i: usize, gamma: &[f64]) {
        let (t, w) = (self.t, self.t + 1);
        for (m, g) in self.mass.iter_mut().zip(gamma) {
            *m += g;
        }
        for (j, l) in votes.row(i) {
            for (y, g) in gamma.iter().enumerate() {
                self.counts[(j * t + y) * w + l] += g;
            }
        }
    }
    /// Adds another chunk's counts.
    pub(crate) fn merge(&mut self, other: &Self) {
        self.counts.iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
        self.mass.iter_mut().zip(&other.mass).for_each(|(a, b)| *a += b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::LabelMatrix;

    #[test]
    fn counts_normalise_with_abstain_from_mass_and_score_matches_the_product() {
        // 2 LFs, 2 tags; token 0: LF0 votes 1, LF1 abstains; token 1: both abstain.
        let m = LabelMatrix::new(vec![1, -1, -1, -1], 2, vec!["a".into(), "b".into()], 2).unwrap();
        let votes = Votes::new(&m);
        let mut c = EmissionCounts::new(2, 2);
        c.add(&votes, 0, &[0.25, 0.75]);
        c.add(&votes, 1, &[1.0, 0.0]);
        let e = Emissions::from_counts(2, 2, c.counts.clone(), &c.mass, |_, _, _| 0.5);
        // LF0, tag 0: votes [0, 0.25], abstain 1.25 - 0.25 = 1.0; + 0.5 each → [0.5, 0.75, 1.5] / 2.75
        assert!((e.prob(0, 0, 1) - 0.75 / 2.75).abs() < 1e-15);
        assert!((e.prob(0, 0, 2) - 1.5 / 2.75).abs() < 1e-15);
        // LF0, tag 1: votes [0, 0.75], abstain 0 → [0.5, 1.25, 0.5] / 2.25
        assert!((e.prob(0, 1, 1) - 1.25 / 2.25).abs() < 1e-15);
        assert!((e.accuracy_given_fired(0, 1) - 1.25 / 1.75).abs() < 1e-15);
        assert!(e.check().is_ok());
        let logs = e.logs();
        let mut out = [0.0; 2];
        logs.score(&votes, 0, &mut out);
        for (y, o) in out.iter().enumerate() {
            let want = (e.prob(0, y, 1) * e.prob(1, y, 2)).ln();
            assert!((o - want).abs() < 1e-12, "tag {y}: {o} vs {want}");
        }
    }
}
