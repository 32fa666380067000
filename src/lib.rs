//! weaksup: weak supervision with contrastive self-training.
//!
//! Pipeline stages, each in its own module: [`data`] (polars datasets and loaders) → [`lf`]
//! (labeling functions, applier, analysis) → label models → end models → training → COSINE
//! self-training. The [`cli`] module is the `weaksup` command line, reusable from a user's own
//! binary with custom LFs registered ([`cli::main_with`]).

pub mod batch;
pub mod bench;
pub mod cli;
pub mod data;
pub mod error;
pub mod fuzz;
pub mod label_model;
pub mod lf;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod train;
pub mod parallel;
pub mod progress;
pub mod report;
pub mod run;
pub mod runtime;
pub mod selftrain;

pub use error::{Error, Result};
pub use matrix::{ABSTAIN, Label, LabelMatrix};
