#![no_main]
//! `cargo fuzz run model_meta`: see `weaksup::fuzz::model_meta`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| weaksup::fuzz::model_meta(data));
