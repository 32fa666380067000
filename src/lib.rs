//! weaksup: weak supervision with contrastive self-training.
//!
//! The pipeline is composed once, here: [`run`] (the main job and its config; `run::pipeline`
//! owns the stage API every command uses), [`bench`] (grids against supervised baselines),
//! [`batch`] (streamed, resumable, sharded runs over large corpora) and [`cli`] (the `weaksup`
//! command line, reusable from a user's own binary with custom LFs: [`cli::main_with`]). The
//! stages come from `weaksup-core` (data, LFs, label models; re-exported here) and `weaksup-nn`
//! (end models, trainer, COSINE).

pub mod batch;
pub mod bench;
pub mod cli;
pub mod error;
pub mod fuzz;
pub mod run;
pub mod runtime;

pub use weaksup_core::{data, io, label_model, lf, matrix, metrics, parallel, progress, report, token};
pub use weaksup_nn::{model, selftrain, train};

pub use error::{Error, Result};
pub use matrix::{ABSTAIN, Label, LabelMatrix};
