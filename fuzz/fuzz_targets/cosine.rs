#![no_main]
//! `cargo fuzz run cosine`: see `weaksup::fuzz::cosine`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::cosine(data));
