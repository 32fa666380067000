//! Sequence labeling: token-level corpora, tagging schemes, token labeling functions, token label
//! models (majority vote, Dawid–Skene, a hidden Markov model) and span metrics.
//!
//! A token corpus is stored flattened, the way the label models consume it: a [`TokenSplit`] keeps
//! every token of every sentence in one vector, sentence `s` being `offsets[s]..offsets[s + 1]`;
//! gold tags and LF votes are per token in the same order, so a token vote matrix is a
//! [`LabelMatrix`] whose rows are tokens and whose classes are the tag set's tags.
//!
//! [`scheme`] (IO / BIO / BIOES, chunking, conversion) → [`data`] (loaders: COSINE-paper MIT-R
//! JSON, CoNLL columns, JSON Lines / Parquet with list columns) → [`lf`] (token LFs) →
//! [`label_model`] (token MV, DS, HMM) → [`metrics`] (span and token F1).

pub mod data;
pub mod demo;
pub mod label_model;
pub mod lf;
pub mod metrics;
pub mod scheme;

pub use data::{
    Task, TokenCorpus, TokenLoadOptions, TokenSplit, is_token_data, load_token_corpus, load_token_files,
};
pub use metrics::{Prf, SpanScores, TagEvaluation, TokenScores, evaluate_tags};
pub use scheme::{Chunking, OUTSIDE, Prefix, Span, TagScheme, TagSet, spans};

pub use crate::matrix::{ABSTAIN, Label, LabelMatrix};
