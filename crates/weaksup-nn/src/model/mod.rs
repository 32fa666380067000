//! End models in libtorch (`tch`): pre-trained transformer encoders loaded from Hugging Face
//! files, a hashed n-gram model, and what they share (devices, precision, pooling, outputs).
//!
//! This module sees tensors and token ids only; data frames stay upstream.

pub(crate) mod dropout;
pub mod end_model;
pub mod ngram;
pub mod tokenizer;
pub mod transformer;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::Result;

pub use end_model::{
    DeviceChoice, EndModel, EndModelConfig, ModelSource, PrecisionChoice, ResolvedEndModel, SavedModel,
    minilm_dir,
};

/// Arithmetic of matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in fp32.
    #[default]
    Fp32,
    /// Matrix products (linear layers, attention) in bf16 with fp32 master weights; LayerNorm,
    /// softmax and losses in fp32. Done in the model code, so it works on CPU (AVX512-BF16 via
    /// oneDNN) as well as CUDA; autograd carries the casts back to the fp32 weights.
    Bf16,
}

impl Precision {
    /// The kind matrix products run in.
    pub fn compute_kind(&self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
        }
    }
}

/// How token states become one vector per text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Pooling {
    /// The first token's state (`[CLS]` / `<s>`), as BERT / RoBERTa classification heads.
    Cls,
    /// The mean of the real (unmasked) tokens' states, as sentence-transformers.
    #[default]
    Mean,
    /// The states of the `[E1]` and `[E2]` markers, concatenated (Baldini Soares et al. 2019,
    /// "Matching the Blanks": entity-start pooling); for `relation` and marked `pair` inputs.
    Entity,
}

/// `auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N` ([`DeviceChoice`]).
pub fn parse_device(s: &str) -> Result<Device> {
    s.parse::<DeviceChoice>()?.device()
}

/// A classifier's forward output.
#[derive(Debug)]
pub struct Output {
    /// `[batch, classes]`, fp32.
    pub logits: Tensor,
    /// `[batch, dim]` pooled features (COSINE's contrastive term uses them), fp32.
    pub features: Tensor,
}

/// What a transformer's head classifies: the whole sequence (pooled), or each word (tagging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// One output row per sequence, from the pooled features.
    #[default]
    Sequence,
    /// One output row per scored word, from the hidden state of its first word piece (Hugging
    /// Face's `*ForTokenClassification` with labels only on first pieces).
    Token,
}

/// A batch of token ids with an attention mask, and for sentence pairs the token types, for
/// entity pooling the marker positions, for tagging the first piece of every scored word.
///
/// # Shapes
/// `ids`, `mask`, `types`: `[batch, seq]` int64 on the model's device; `mask` is 1 for real
/// tokens, `types` 1 for the second sentence's. `anchors`: `[batch, 2]` int64 positions.
/// `heads`: `[batch, units]` int64 positions of each row's scored words' first pieces, padded
/// with 0; `unit_mask`: `[batch, units]` bool, true where `heads` holds a word.
#[derive(Debug)]
pub struct TokenBatch {
    pub ids: Tensor,
    pub mask: Tensor,
    pub types: Option<Tensor>,
    pub anchors: Option<Tensor>,
    pub heads: Option<Tensor>,
    pub unit_mask: Option<Tensor>,
}

impl TokenBatch {
    /// A batch of single texts (no token types, no anchors, no word heads).
    pub fn plain(ids: Tensor, mask: Tensor) -> Self {
        Self { ids, mask, types: None, anchors: None, heads: None, unit_mask: None }
    }
}

/// `x · wᵀ + b` in the given precision, the result left in the compute kind (bf16 stays bf16), for
/// chaining into another matrix product (attention, the feed-forward pair) without a round trip
/// through fp32.
///
/// # Shapes
/// `x`: `[..., in]`, `w`: `[out, in]`, `b`: `[out]` → `[..., out]`.
pub(crate) fn linear_keep(x: &Tensor, w: &Tensor, b: Option<&Tensor>, precision: Precision) -> Tensor {
    match precision {
        Precision::Fp32 => x.linear(w, b),
        Precision::Bf16 => {
            let k = Kind::BFloat16;
            let b = b.map(|b| b.to_kind(k));
            x.to_kind(k).linear(&w.to_kind(k), b.as_ref())
        }
    }
}

/// `x · wᵀ + b` in the given precision; the result is fp32.
///
/// # Shapes
/// `x`: `[..., in]`, `w`: `[out, in]`, `b`: `[out]` → `[..., out]`.
pub(crate) fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>, precision: Precision) -> Tensor {
    linear_keep(x, w, b, precision).to_kind(Kind::Float)
}

/// Seeds libtorch's generators (CPU and CUDA) for reproducible initialisation and dropout.
pub fn manual_seed(seed: u64) {
    tch::manual_seed(seed as i64);
}

weaksup_core::cli_enum!(Precision => "precision", Pooling => "pooling");
