//! `weaksup-nn`'s integration tests, one binary: end models, the trainer and COSINE.

mod common;

mod cosine;
mod models;
mod word_pieces;
