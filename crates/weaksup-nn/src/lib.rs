//! weaksup-nn: end models on libtorch (`tch`) and how they are trained.
//!
//! [`model`] (transformer encoders from Hugging Face files, the hashed n-gram model, the
//! [`model::EndModel`] that wraps either with its persistence and factory) → [`train`] (the
//! supervised trainer: batching, AdamW, checkpoints, early stopping) → [`selftrain`] (COSINE:
//! rounds of teacher pseudo-labelling with its loss terms). Models see token ids and tensors, never
//! data frames.

pub mod error;
pub mod model;
pub mod selftrain;
pub mod train;

// The core modules this crate builds on, under the paths its code uses.
pub use error::{Error, Result};
pub use weaksup_core::{data, io, metrics, progress};
