#![no_main]
//! `cargo fuzz run tokenizer`: see `weaksup::fuzz::tokenizer`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::tokenizer(data));
