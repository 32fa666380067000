#![no_main]
//! `cargo fuzz run jsonl`: see `weaksup::fuzz::jsonl`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::jsonl(data));
