//! `weaksup`'s integration tests, one binary: the CLI end to end, batch runs, reliability and
//! security, and the fuzz targets' smoke run.

mod common;

mod batch;
mod cli;
mod data_in;
mod fuzz_smoke;
mod reliability;
mod tokens;
