#![no_main]
//! `cargo fuzz run csv`: see `weaksup::fuzz::csv`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::csv(data));
