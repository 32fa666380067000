//! A hashed word / character n-gram classifier (fastText-like): each text becomes a bag of hashed
//! n-gram ids, averaged by an `EmbeddingBag`, then a one-hidden-layer MLP. Trains in seconds on
//! CPU; the default end model for quick runs, tests and huge corpora.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

use super::dropout::dropout;
use super::{Output, Precision, linear};
use crate::error::{Context, Error, Result};

/// Featurisation and size of the n-gram model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NgramConfig {
    /// Hash buckets (rows of the embedding table). Default 2^16: fastText uses 2·10^6 rows with
    /// sparse SGD, but the trainer's dense AdamW touches every row each step, so the table is kept
    /// small (4.2 M parameters at dim 64, 16 MiB: measured 10.8 ms a step on the demo corpus vs
    /// 42 ms at 2^17, whose 32 MiB buffers fall to mmap/munmap on every allocation).
    pub buckets: i64,
    /// Embedding size. Default 64.
    pub dim: i64,
    /// Hidden layer size of the MLP. Default 64.
    pub hidden: i64,
    /// Word n-gram orders. Default [1, 2] (fastText `-wordNgrams 2`).
    pub word_ngrams: Vec<usize>,
    /// Character n-gram lengths inside `<word>`. Default 3..=5 (fastText `-minn 3 -maxn 5`).
    pub char_ngrams: (usize, usize),
    /// Dropout on the bag and the hidden layer. Default 0.2.
    pub dropout: f64,
}

impl Default for NgramConfig {
    fn default() -> Self {
        Self {
            buckets: 1 << 16,
            dim: 64,
            hidden: 64,
            word_ngrams: vec![1, 2],
            char_ngrams: (3, 5),
            dropout: 0.2,
        }
    }
}

/// FNV-1a, stable across platforms and releases (unlike `std`'s hasher).
fn fnv(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl NgramConfig {
    /// Checks every value before any tensor is allocated (a corrupt `weaksup.json` is an error,
    /// not an abort on a 10¹⁵-element table).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: String| Err(Error::Config(format!("n-gram model `{field}`: {why}")));
        if !(1..=1 << 26).contains(&self.buckets) {
            return bad("buckets", format!("{} is outside 1..=2^26", self.buckets));
        }
        if !(1..=4096).contains(&self.dim) || !(1..=4096).contains(&self.hidden) {
            return bad("dim/hidden", format!("{} / {} outside 1..=4096", self.dim, self.hidden));
        }
        if self.buckets * self.dim > 1 << 30 {
            return bad(
                "buckets",
                format!("{} × dim {} is more than 2^30 parameters", self.buckets, self.dim),
            );
        }
        if self.word_ngrams.iter().any(|&n| !(1..=8).contains(&n)) {
            return bad("word_ngrams", format!("{:?}: orders must be in 1..=8", self.word_ngrams));
        }
        let (lo, hi) = self.char_ngrams;
        if lo > hi || hi > 16 {
            return bad("char_ngrams", format!("({lo}, {hi}): need lo ≤ hi ≤ 16 (0 turns them off)"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", format!("{} is outside [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// Hashed n-gram ids of one text (lower-cased, split on non-alphanumerics). Never empty: a text
    /// without words gets one id for the empty text.
    pub fn featurize(&self, text: &str) -> Vec<i64> {
        let lower = text.to_lowercase();
        let words: Vec<&str> =
            lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let b = self.buckets as u64;
        let mut ids = Vec::with_capacity(words.len() * 6);
        for &n in &self.word_ngrams {
            for w in words.windows(n.max(1)) {
                let joined = w.join(" ");
                ids.push((fnv(joined.as_bytes(), n as u64) % b) as i64);
            }
        }
        let (lo, hi) = self.char_ngrams;
        if hi > 0 {
            for w in &words {
                let chars: Vec<char> = format!("<{w}>").chars().collect();
                for n in lo.max(1)..=hi {
                    for g in chars.windows(n) {
                        let s: String = g.iter().collect();
                        ids.push((fnv(s.as_bytes(), 100 + n as u64) % b) as i64);
                    }
                }
            }
        }
        if ids.is_empty() {
            ids.push((fnv(b"", 0) % b) as i64);
        }
        ids
    }
}

/// A batch of bags: all ids concatenated, with each text's start offset.
///
/// # Shapes
/// `ids`: `[total]` int64, `offsets`: `[batch]` int64, on the model's device.
#[derive(Debug)]
pub struct BagBatch {
    pub ids: Tensor,
    pub offsets: Tensor,
}

impl BagBatch {
    pub fn new(bags: &[&[i64]], device: Device) -> Self {
        let mut offsets = Vec::with_capacity(bags.len());
        let mut ids = Vec::new();
        for b in bags {
            offsets.push(ids.len() as i64);
            ids.extend_from_slice(b);
        }
        Self {
            ids: Tensor::from_slice(&ids).to_device(device),
            offsets: Tensor::from_slice(&offsets).to_device(device),
        }
    }
}

/// The n-gram classifier.
pub struct NgramClassifier {
    pub vs: nn::VarStore,
    pub config: NgramConfig,
    pub n_classes: i64,
    pub precision: Precision,
    table: Tensor,
    hidden_w: Tensor,
    hidden_b: Tensor,
    out_w: Tensor,
    out_b: Tensor,
}

impl std::fmt::Debug for NgramClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NgramClassifier")
            .field("config", &self.config)
            .field("n_classes", &self.n_classes)
            .finish()
    }
}

impl NgramClassifier {
    pub fn new(
        config: NgramConfig,
        n_classes: i64,
        precision: Precision,
        device: Device,
        seed: u64,
    ) -> Result<Self> {
        config.validate()?;
        if n_classes < 2 {
            return Err(Error::Config(format!("{n_classes} classes: need at least 2")));
        }
        super::manual_seed(seed);
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let (d, h) = (config.dim, config.hidden);
        let table = (&p / "embedding").var(
            "weight",
            &[config.buckets, d],
            Init::Uniform { lo: -1.0 / d as f64, up: 1.0 / d as f64 },
        );
        let lin = |name: &str, i: i64, o: i64| {
            let bound = 1.0 / (i as f64).sqrt();
            (
                (&p / name).var("weight", &[o, i], Init::Uniform { lo: -bound, up: bound }),
                (&p / name).var("bias", &[o], Init::Const(0.0)),
            )
        };
        let (hidden_w, hidden_b) = lin("hidden", d, h);
        let (out_w, out_b) = lin("classifier", h, n_classes);
        Ok(Self { vs, config, n_classes, precision, table, hidden_w, hidden_b, out_w, out_b })
    }

    /// Logits and features (the hidden layer's activations).
    ///
    /// # Shapes
    /// → logits `[b, n_classes]`, features `[b, hidden]`.
    pub fn forward(&self, batch: &BagBatch, train: bool) -> Result<Output> {
        let (bag, _, _, _) = Tensor::f_embedding_bag(
            &self.table,
            &batch.ids,
            &batch.offsets,
            false,
            1,
            false,
            None::<Tensor>,
            false,
        )
        .ctx(|| "n-gram embedding bag".into())?;
        let bag = dropout(&bag.to_kind(Kind::Float), self.config.dropout, train);
        let features = linear(&bag, &self.hidden_w, Some(&self.hidden_b), self.precision).relu();
        let logits = linear(
            &dropout(&features, self.config.dropout, train),
            &self.out_w,
            Some(&self.out_b),
            self.precision,
        );
        Ok(Output { logits, features })
    }
}
