//! The error type of every weaksup crate (`weaksup-core`'s), with the two `ctx` helpers in scope:
//! polars errors (core's [`Context`]) and libtorch errors (`weaksup-nn`'s [`TorchContext`]).

pub use weaksup_core::error::*;
pub use weaksup_nn::error::Context as TorchContext;
