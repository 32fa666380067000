//! Fuzz targets: every parser of untrusted input, driven by arbitrary bytes. Each function must
//! return (with an error or not) and never panic, abort or hang, whatever the bytes. They are
//! run by libFuzzer (`fuzz/`, `cargo fuzz run <name>`) and, briefly, by the test suite
//! (`tests/fuzz_smoke.rs`: the seed corpus under `fuzz/corpus/` plus seeded mutations).
//!
//! They call the inner functions, below the `catch_unwind` safety nets of the loaders and the LF
//! applier, so that a panic is found rather than turned into an error.

#![doc(hidden)]

use std::path::PathBuf;

use weaksup_core::fuzz::write;
pub use weaksup_core::fuzz::{cosine, csv, jsonl, lf_toml, sql, wrench};

/// The names of the targets, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` spell them.
pub const TARGETS: &[&str] =
    &["csv", "jsonl", "wrench", "cosine", "lf_toml", "sql", "tokenizer", "model_meta"];

/// Runs target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "csv" => csv(data),
        "jsonl" => jsonl(data),
        "wrench" => wrench(data),
        "cosine" => cosine(data),
        "lf_toml" => lf_toml(data),
        "sql" => sql(data),
        "tokenizer" => tokenizer(data),
        "model_meta" => model_meta(data),
        other => panic!("no fuzz target `{other}`"),
    }
}

/// Text through the tokenizers the end models use: the hashing tokenizer, the n-gram featuriser
/// and, when set-up installed it (`$WEAKSUP_MINILM`), MiniLM's WordPiece tokenizer.
pub fn tokenizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let texts = [text.as_ref(), "", text.as_ref()];
    if let Ok(t) = crate::model::tokenizer::TextTokenizer::hashing(1000, 16) {
        let _ = t.encode_batch(&texts);
    }
    let _ = crate::model::ngram::NgramConfig::default().featurize(&text);
    static MINILM: std::sync::OnceLock<Option<crate::model::tokenizer::TextTokenizer>> =
        std::sync::OnceLock::new();
    let hf = MINILM.get_or_init(|| {
        let dir = std::env::var_os("WEAKSUP_MINILM").map(PathBuf::from)?;
        crate::model::tokenizer::TextTokenizer::from_file(&dir.join("tokenizer.json"), 64).ok()
    });
    if let Some(t) = hf {
        let _ = t.encode_batch(&texts);
    }
}

/// Model and run metadata: `weaksup.json`, a Hugging Face `config.json`, a label model, a batch
/// manifest, a checkpoint fingerprint and the trainer's and COSINE's checkpoint states, parsed and checked as loading does, without tensors.
pub fn model_meta(data: &[u8]) {
    let p = write("meta.json", data);
    if let Ok(meta) = crate::data::read_json::<crate::model::SavedModel>(&p) {
        let _ = meta.validate();
    }
    if let Ok(cfg) = crate::data::read_json::<crate::model::transformer::TransformerConfig>(&p) {
        let _ = cfg.validate();
    }
    let _ = crate::label_model::Fitted::load(&p);
    let _ = crate::data::read_json::<crate::batch::Manifest>(&p);
    let _ = crate::data::read_json::<crate::train::checkpoint::Fingerprint>(&p);
    let _ = crate::data::read_json::<crate::train::checkpoint::StateFile>(&p);
    let _ = crate::data::read_json::<crate::selftrain::rounds::Stage2State>(&p);
}
