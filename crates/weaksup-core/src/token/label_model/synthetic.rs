//! Synthetic token votes with known truth, for the token label models' tests: IO tag sequences
//! from a known Markov chain (entities are multi-token runs) and LFs with known per-tag coverage
//! and accuracy, some firing per token, some only on an entity's first token, some deciding once
//! per entity so that their errors are correlated along the sequence.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};
use crate::token::scheme::{OUTSIDE, TagScheme, TagSet};

/// How an LF decides where to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfKind {
    /// Independently on every token.
    Token,
    /// Only on the first token of an entity (on entity tokens; false positives are per token).
    FirstToken,
    /// Once per entity: it tags all of the entity's tokens or none, with one vote for all of them
    /// (right or wrong for the whole entity).
    Span,
}

/// One synthetic LF.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLfSpec {
    pub kind: LfKind,
    /// P(fires | a token (or, for [`LfKind::Span`], an entity) of a type in `types`).
    pub coverage: f64,
    /// P(fires | an `O` token); it then votes a uniformly drawn type of `types`.
    pub false_positive: f64,
    /// P(votes the entity's type | it fires on an entity token); otherwise a uniformly drawn other
    /// type (of all types).
    pub accuracy: f64,
    /// Entity types (0-based) it fires on; empty means all. It never fires on other types.
    pub types: Vec<usize>,
}

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSyntheticSpec {
    pub n_sentences: usize,
    /// Sentence lengths, drawn uniformly from this inclusive range.
    pub sentence_len: (usize, usize),
    /// Entity types; tags are IO: `O` = 0, type `k` = `k + 1`.
    pub n_types: usize,
    /// P(O → an entity) at each token (the type drawn uniformly); also P(the first tag is one).
    pub p_enter: f64,
    /// P(an entity tag is followed by the same tag); else `O`. Mean entity length 1 / (1 − p_stay).
    pub p_stay: f64,
    pub lfs: Vec<TokenLfSpec>,
    pub seed: u64,
}

/// Generated votes with their truth.
#[derive(Debug, Clone)]
pub struct TokenSynthetic {
    pub votes: LabelMatrix,
    pub offsets: Vec<usize>,
    pub gold: Vec<Label>,
    /// IO tags of types `T0`, `T1`, ….
    pub tags: TagSet,
}

impl TokenSyntheticSpec {
    /// The true transition matrix, row-major `(n_types + 1)²`.
    pub fn transitions(&self) -> Vec<f64> {
        let t = self.n_types + 1;
        let mut a = vec![0.0; t * t];
        a[0] = 1.0 - self.p_enter;
        for k in 1..t {
            a[k] = self.p_enter / self.n_types as f64;
            a[k * t] = 1.0 - self.p_stay;
            a[k * t + k] = self.p_stay;
        }
        a
    }
}

pub fn generate(spec: &TokenSyntheticSpec) -> Result<TokenSynthetic> {
    let p_ok = |p: f64| (0.0..=1.0).contains(&p);
    if spec.n_types == 0
        || spec.lfs.is_empty()
        || spec.sentence_len.0 > spec.sentence_len.1
        || !p_ok(spec.p_enter)
        || !p_ok(spec.p_stay)
        || spec.lfs.iter().any(|l| {
            !p_ok(l.coverage)
                || !p_ok(l.false_positive)
                || !p_ok(l.accuracy)
                || l.types.iter().any(|&k| k >= spec.n_types)
        })
    {
        return Err(Error::Config(format!("synthetic token votes: inconsistent spec {spec:?}")));
    }
    let tags = TagSet::new(TagScheme::Io, (0..spec.n_types).map(|k| format!("T{k}")).collect())?;
    let (nt, m) = (spec.n_types, spec.lfs.len());
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let (mut gold, mut offsets, mut votes) = (Vec::new(), vec![0], Vec::new());
    let entity = |rng: &mut ChaCha8Rng| (1 + rng.gen_range(0..nt)) as Label;
    for _ in 0..spec.n_sentences {
        let len = rng.gen_range(spec.sentence_len.0..=spec.sentence_len.1);
        let start = gold.len();
        let mut prev = OUTSIDE;
        for _ in 0..len {
            let u: f64 = rng.r#gen();
            let y = if prev == OUTSIDE {
                if u < spec.p_enter { entity(&mut rng) } else { OUTSIDE }
            } else if u < spec.p_stay {
                prev
            } else {
                OUTSIDE
            };
            gold.push(y);
            prev = y;
        }
        let sent = &gold[start..];
        let mut block = vec![ABSTAIN; len * m];
        for (j, lf) in spec.lfs.iter().enumerate() {
            let targets =
                |y: Label| y != OUTSIDE && (lf.types.is_empty() || lf.types.contains(&(y as usize - 1)));
            let wrong = |rng: &mut ChaCha8Rng, y: Label| {
                if nt == 1 {
                    return y;
                }
                let k = rng.gen_range(0..nt - 1) as Label + 1;
                if k >= y { k + 1 } else { k }
            };
            let fp_vote = |rng: &mut ChaCha8Rng| {
                if lf.types.is_empty() {
                    entity(rng)
                } else {
                    lf.types[rng.gen_range(0..lf.types.len())] as Label + 1
                }
            };
            let mut s = 0;
            while s < len {
                let y = sent[s];
                if y == OUTSIDE {
                    if rng.r#gen::<f64>() < lf.false_positive {
                        block[s * m + j] = fp_vote(&mut rng);
                    }
                    s += 1;
                    continue;
                }
                let end = (s..len).find(|&e| sent[e] != y).unwrap_or(len);
                if targets(y) {
                    match lf.kind {
                        LfKind::Token | LfKind::FirstToken => {
                            let last = if lf.kind == LfKind::Token { end } else { s + 1 };
                            for e in s..last {
                                if rng.r#gen::<f64>() < lf.coverage {
                                    let ok = rng.r#gen::<f64>() < lf.accuracy;
                                    block[e * m + j] = if ok { y } else { wrong(&mut rng, y) };
                                }
                            }
                        }
                        LfKind::Span => {
                            if rng.r#gen::<f64>() < lf.coverage {
                                let ok = rng.r#gen::<f64>() < lf.accuracy;
                                let v = if ok { y } else { wrong(&mut rng, y) };
                                (s..end).for_each(|e| block[e * m + j] = v);
                            }
                        }
                    }
                }
                s = end;
            }
        }
        votes.extend(block);
        offsets.push(gold.len());
    }
    let names = (0..m).map(|j| format!("lf_{j}")).collect();
    let votes = LabelMatrix::new(votes, gold.len(), names, nt + 1)?;
    Ok(TokenSynthetic { votes, offsets, gold, tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_votes_follow_the_spec() {
        let lf = |kind, types: Vec<usize>| TokenLfSpec {
            kind,
            coverage: 0.7,
            false_positive: 0.02,
            accuracy: 0.8,
            types,
        };
        let spec = TokenSyntheticSpec {
            n_sentences: 3000,
            sentence_len: (5, 20),
            n_types: 3,
            p_enter: 0.1,
            p_stay: 0.7,
            lfs: vec![lf(LfKind::Token, vec![]), lf(LfKind::FirstToken, vec![0]), lf(LfKind::Span, vec![])],
            seed: 1,
        };
        let s = generate(&spec).unwrap();
        assert_eq!(s.offsets.len(), 3001);
        assert_eq!(*s.offsets.last().unwrap(), s.gold.len());
        let (mut fired, mut right, mut ent) = ([0usize; 3], [0usize; 3], 0usize);
        for (i, &y) in s.gold.iter().enumerate() {
            if y == OUTSIDE {
                continue;
            }
            ent += 1;
            for j in 0..3 {
                let v = s.votes.row(i)[j];
                if v != ABSTAIN {
                    fired[j] += 1;
                    right[j] += (v == y) as usize;
                }
            }
        }
        let rate = |j: usize| right[j] as f64 / fired[j] as f64;
        for j in 0..3 {
            assert!((rate(j) - 0.8).abs() < 0.03, "LF {j} accuracy {}", rate(j));
        }
        assert!((fired[0] as f64 / ent as f64 - 0.7).abs() < 0.02);
        // The first-token LF fires on type 0 only, and never on a token continuing an entity.
        for w in 1..s.gold.len() {
            let v = s.votes.row(w)[1];
            if v != ABSTAIN && s.gold[w] != OUTSIDE {
                assert!((s.gold[w] == 1 && s.gold[w - 1] != 1) || s.offsets.contains(&w));
            }
        }
        // Deterministic per seed.
        assert_eq!(generate(&spec).unwrap().votes, s.votes);
    }
}
