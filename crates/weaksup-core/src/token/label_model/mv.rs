//! Token majority vote: per token, the share of the LFs that fired voting each tag; a token where
//! no LF fired is `O` with probability 1.
//!
//! "No rule fired → outside" is WRENCH's and skweak's convention: WRENCH's sequence wrapper
//! (`wrench/seq_labelmodel/seq_wrapper.py`, `transform_labeling_function`) keeps a token's `O`
//! weak labels when no LF tagged it, so its class-level majority vote gives `O`; skweak's
//! `utils.spans_to_array` leaves tokens that no source covers at `O` (index 0). Ties stay soft (equal
//! shares); [`super::TokenFitted::predict`] breaks them towards the lowest tag id.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{CHUNK, TokenFitInfo};
use crate::label_model::{Proba, Votes};
use crate::token::scheme::OUTSIDE;

/// Token majority vote has no parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenMvParams {}

/// A "fitted" token majority vote: it only remembers the shape it was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenMajorityVote {
    pub(crate) n_lfs: usize,
    pub(crate) n_tags: usize,
    pub info: TokenFitInfo,
}

/// Vote shares of token `i` into `out` (`O` = 1 when no LF fired).
pub(crate) fn mv_row(votes: &Votes, i: usize, out: &mut [f64]) {
    out.iter_mut().for_each(|x| *x = 0.0);
    let mut n = 0.0;
    for (_, l) in votes.row(i) {
        out[l] += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        out.iter_mut().for_each(|x| *x /= n);
    } else {
        out[OUTSIDE as usize] = 1.0;
    }
}

/// Vote shares of every token, row-major `n_tokens × n_tags`.
pub(crate) fn mv_posteriors(votes: &Votes) -> Vec<f64> {
    let t = votes.cardinality;
    let mut post = vec![0.0; votes.n_rows * t];
    post.par_chunks_mut(CHUNK * t.max(1)).enumerate().for_each(|(k, out)| {
        for (r, row) in out.chunks_mut(t).enumerate() {
            mv_row(votes, k * CHUNK + r, row);
        }
    });
    post
}

impl TokenMajorityVote {
    pub(crate) fn proba(&self, votes: &Votes) -> crate::error::Result<Proba> {
        Proba::new(votes.n_rows, self.n_tags, mv_posteriors(votes))
    }
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.n_tags < 2 || self.n_tags > crate::matrix::Label::MAX as usize || self.n_lfs > 1_000_000 {
            return Err(format!("{} LFs × {} tags is implausible", self.n_lfs, self.n_tags));
        }
        Ok(())
    }
}
