//! weaksup-core: the stages of weak supervision that need no neural network, and no libtorch.
//!
//! [`data`] (polars datasets, loaders, writers, the demo corpus) → [`lf`] (labeling functions,
//! the parallel applier, analysis) → [`label_model`] (majority vote, Dawid–Skene, Snorkel-style;
//! selection on valid). [`matrix`] is the hand-off between LFs and label models; [`io`] the file
//! helpers every stage shares; [`metrics`] and [`report`] the scores and charts. The end models
//! and COSINE live in `weaksup-nn`, the pipeline and the CLI in `weaksup`.

pub mod choice;
pub mod data;
pub mod error;
pub mod fuzz;
pub mod io;
pub mod label_model;
pub mod lf;
pub mod matrix;
pub mod metrics;
pub mod parallel;
pub mod progress;
pub mod report;
pub mod seeds;
pub mod token;

pub use error::{Error, Result};
pub use matrix::{ABSTAIN, Label, LabelMatrix};
