#![no_main]
//! `cargo fuzz run lf_toml`: see `weaksup::fuzz::lf_toml`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::lf_toml(data));
