//! `weaksup-core`'s integration tests, one binary (it links polars once, and never libtorch).

mod common;

mod data_loaders;
mod label_models;
mod lf;
mod properties;
mod split_files;
mod token_data;
mod token_label_models;
mod token_lf;
