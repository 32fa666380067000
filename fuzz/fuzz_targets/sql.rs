#![no_main]
//! `cargo fuzz run sql`: see `weaksup::fuzz::sql`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::sql(data));
