//! Test helpers: the shared datasets and the workspace ([`paths`], one file for every crate).
#![allow(dead_code)]

#[path = "../../../../tests/common/paths.rs"]
mod paths;
#[allow(unused_imports)]
pub use paths::{dataset, repo, shared};
