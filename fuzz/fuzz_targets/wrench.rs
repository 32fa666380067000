#![no_main]
//! `cargo fuzz run wrench`: see `weaksup::fuzz::wrench`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::wrench(data));
