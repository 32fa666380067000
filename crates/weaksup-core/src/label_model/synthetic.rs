//! Synthetic vote matrices with known truth, for convergence tests and benchmarks: each LF fires
//! with a per-class propensity and, when it fires, votes the true class with its accuracy and a
//! uniformly chosen wrong class otherwise (conditionally independent LFs, the label models'
//! assumption).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    pub n_rows: usize,
    pub n_lfs: usize,
    pub cardinality: usize,
    /// P(Y = y); uniform when empty.
    pub class_balance: Vec<f64>,
    /// Per-LF accuracy range (uniform draw), e.g. (0.6, 0.9).
    pub accuracy: (f64, f64),
    /// Per-LF firing propensity range, e.g. (0.1, 0.5).
    pub propensity: (f64, f64),
    pub seed: u64,
}

impl SyntheticSpec {
    /// The wide shape the label-model benchmarks scale over: `n_rows` × 500 LFs × 10 balanced
    /// classes, LF accuracy 0.5–0.9, each LF firing on 1–9% of the rows (seed 4).
    pub fn wide(n_rows: usize) -> Self {
        Self {
            n_rows,
            n_lfs: 500,
            cardinality: 10,
            class_balance: vec![],
            accuracy: (0.5, 0.9),
            propensity: (0.01, 0.09),
            seed: 4,
        }
    }
}

/// A generated matrix with its truth.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub votes: LabelMatrix,
    pub gold: Vec<Option<u32>>,
    /// Each LF's accuracy when it fires.
    pub accuracy: Vec<f64>,
    pub propensity: Vec<f64>,
    pub class_balance: Vec<f64>,
}

pub fn generate(spec: &SyntheticSpec) -> Result<Synthetic> {
    let (n, m, c) = (spec.n_rows, spec.n_lfs, spec.cardinality);
    if c < 2 || m == 0 || n == 0 {
        return Err(Error::Config("synthetic votes need ≥ 2 classes, ≥ 1 LF and ≥ 1 row".into()));
    }
    let balance =
        if spec.class_balance.is_empty() { vec![1.0 / c as f64; c] } else { spec.class_balance.clone() };
    if balance.len() != c {
        return Err(Error::Config(format!("{} class balance values for {c} classes", balance.len())));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let accuracy: Vec<f64> = (0..m).map(|_| rng.gen_range(spec.accuracy.0..=spec.accuracy.1)).collect();
    let propensity: Vec<f64> = (0..m).map(|_| rng.gen_range(spec.propensity.0..=spec.propensity.1)).collect();
    let mut votes = Vec::with_capacity(n * m);
    let mut gold = Vec::with_capacity(n);
    for _ in 0..n {
        let u: f64 = rng.r#gen();
        let mut acc = 0.0;
        let y = balance.iter().position(|&p| {
            acc += p;
            u < acc
        });
        let y = y.unwrap_or(c - 1);
        gold.push(Some(y as u32));
        for j in 0..m {
            if rng.r#gen::<f64>() >= propensity[j] {
                votes.push(ABSTAIN);
            } else if rng.r#gen::<f64>() < accuracy[j] {
                votes.push(y as Label);
            } else {
                let wrong = rng.gen_range(0..c - 1);
                votes.push(if wrong >= y { wrong + 1 } else { wrong } as Label);
            }
        }
    }
    let votes = LabelMatrix::new(votes, n, (0..m).map(|j| format!("lf_{j}")).collect(), c)?;
    Ok(Synthetic { votes, gold, accuracy, propensity, class_balance: balance })
}
