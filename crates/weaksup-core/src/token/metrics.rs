//! Sequence-labeling metrics: span-level precision / recall / F1 (seqeval semantics, see
//! [`Chunking`]) and token-level micro F1 over entity tokens.
//!
//! Token F1 compares entity *types* per token, ignoring the B/I/E/S prefix: a predicted token
//! counts as correct when gold and prediction name the same type; `O` tokens are excluded from
//! both precision's and recall's denominators (token micro F1 "excluding O").

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::scheme::{Chunking, Span, TagSet, spans};
use crate::matrix::Label;

/// Precision, recall and F1 from counts; 0 where a denominator is 0 (seqeval's `zero_division=0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold items (spans or entity tokens).
    pub support: usize,
}

impl Prf {
    pub fn from_counts(correct: usize, predicted: usize, gold: usize) -> Self {
        let div = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (p, r) = (div(correct, predicted), div(correct, gold));
        let f1 = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
        Self { precision: p, recall: r, f1, support: gold }
    }
}

/// Span-level scores: micro over all types, and per type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanScores {
    pub chunking: Chunking,
    pub micro: Prf,
    /// Per entity type, in the tag set's type order.
    pub per_type: Vec<(String, Prf)>,
}

/// Token-level micro scores over entity tokens (type match, `O` excluded), and accuracy over all tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenScores {
    pub micro: Prf,
    /// Exact tag matches over all tokens, `O` included.
    pub accuracy: f64,
    pub n_tokens: usize,
}

/// Everything reported for a tagger or label model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagEvaluation {
    /// seqeval's default chunking (conlleval rules).
    pub span: SpanScores,
    /// seqeval `mode="strict"`.
    pub span_strict: SpanScores,
    pub token: TokenScores,
    pub n_sentences: usize,
}

impl TagEvaluation {
    /// One line: span F1 (conlleval, strict), span precision / recall, token F1.
    pub fn summary(&self) -> String {
        format!(
            "span F1 {:.3} (strict {:.3}; P {:.3}, R {:.3}), token F1 {:.3}, {} sentences",
            self.span.micro.f1,
            self.span_strict.micro.f1,
            self.span.micro.precision,
            self.span.micro.recall,
            self.token.micro.f1,
            self.n_sentences
        )
    }
}

/// Scores predicted against gold tags, per sentence (`offsets` as in [`super::TokenSplit`]).
/// Predictions of `-1` (no tag) count as `O`.
pub fn evaluate_tags(gold: &[Label], pred: &[Label], offsets: &[usize], tags: &TagSet) -> TagEvaluation {
    assert_eq!(gold.len(), pred.len(), "gold and predicted tags differ in length");
    let pred: Vec<Label> = pred.iter().map(|&p| p.max(0)).collect();
    let span = |mode| span_scores(gold, &pred, offsets, tags, mode);
    TagEvaluation {
        span: span(Chunking::Conlleval),
        span_strict: span(Chunking::Strict),
        token: token_scores(gold, &pred, tags),
        n_sentences: offsets.len().saturating_sub(1),
    }
}

fn span_scores(
    gold: &[Label],
    pred: &[Label],
    offsets: &[usize],
    tags: &TagSet,
    mode: Chunking,
) -> SpanScores {
    let t = tags.types.len();
    let (mut correct, mut n_pred, mut n_gold) = (vec![0; t], vec![0; t], vec![0; t]);
    for w in offsets.windows(2) {
        let (a, b) = (w[0], w[1]);
        let g: BTreeSet<Span> = spans(&gold[a..b], tags, mode).into_iter().collect();
        let p: BTreeSet<Span> = spans(&pred[a..b], tags, mode).into_iter().collect();
        for s in &g {
            n_gold[s.ty] += 1;
        }
        for s in &p {
            n_pred[s.ty] += 1;
            if g.contains(s) {
                correct[s.ty] += 1;
            }
        }
    }
    let sum = |v: &[usize]| v.iter().sum::<usize>();
    SpanScores {
        chunking: mode,
        micro: Prf::from_counts(sum(&correct), sum(&n_pred), sum(&n_gold)),
        per_type: (0..t)
            .map(|k| (tags.types[k].clone(), Prf::from_counts(correct[k], n_pred[k], n_gold[k])))
            .collect(),
    }
}

fn token_scores(gold: &[Label], pred: &[Label], tags: &TagSet) -> TokenScores {
    let (mut correct, mut n_pred, mut n_gold, mut exact) = (0, 0, 0, 0);
    for (&g, &p) in gold.iter().zip(pred) {
        let (gt, pt) = (tags.type_of(g), tags.type_of(p));
        n_gold += gt.is_some() as usize;
        n_pred += pt.is_some() as usize;
        correct += (gt.is_some() && gt == pt) as usize;
        exact += (g == p) as usize;
    }
    let n = gold.len();
    TokenScores {
        micro: Prf::from_counts(correct, n_pred, n_gold),
        accuracy: if n == 0 { 0.0 } else { exact as f64 / n as f64 },
        n_tokens: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::scheme::TagScheme;

    #[test]
    fn span_f1_matches_seqeval() {
        // from seqeval.metrics import f1_score, precision_score, recall_score
        // y_true = [["B-PER","I-PER","O","B-LOC"], ["B-LOC","I-LOC","O"]]
        // y_pred = [["B-PER","I-PER","O","O"],     ["B-LOC","O","B-PER"]]
        // precision_score = 1/3, recall_score = 1/3 -> f1 = 1/3 (PER matches; LOC[0:2] vs LOC[0:1] no)
        let s = TagSet::new(TagScheme::Bio, vec!["PER".into(), "LOC".into()]).unwrap();
        let p = |x: &str| x.split_whitespace().map(|n| s.parse(n).unwrap()).collect::<Vec<_>>();
        let gold = p("B-PER I-PER O B-LOC B-LOC I-LOC O");
        let pred = p("B-PER I-PER O O B-LOC O B-PER");
        let e = evaluate_tags(&gold, &pred, &[0, 4, 7], &s);
        assert!((e.span.micro.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.span.micro.recall - 1.0 / 3.0).abs() < 1e-12);
        // PER: 1 correct of 2 predicted, 1 gold -> f1 = 2/3.
        assert!((e.span.per_type[0].1.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.span.per_type[1].1.f1, 0.0);
        // Token level (types, O excluded): gold entity tokens 5, predicted 4, correct 3 (PER, PER, LOC).
        assert!((e.token.micro.precision - 3.0 / 4.0).abs() < 1e-12);
        assert!((e.token.micro.recall - 3.0 / 5.0).abs() < 1e-12);
        assert!((e.token.accuracy - 4.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn spans_do_not_cross_sentences_and_empty_is_zero() {
        let s = TagSet::new(TagScheme::Io, vec!["X".into()]).unwrap();
        // One X at the end of sentence 0 and one at the start of sentence 1: two spans, not one.
        let e = evaluate_tags(&[0, 1, 1, 0], &[0, 1, 1, 0], &[0, 2, 4], &s);
        assert_eq!(e.span.micro.support, 2);
        assert_eq!(e.span.micro.f1, 1.0);
        let e = evaluate_tags(&[0, 0], &[0, 0], &[0, 2], &s);
        assert_eq!(e.span.micro.f1, 0.0);
    }
}
