//! Word ↔ word-piece alignment for tagging: each word's first piece (the position a
//! token-classification head reads), golden values from Hugging Face `tokenizers`, truncation,
//! byte-level BPE's prefix space, and the hashing tokenizer.

use crate::common;

use weaksup_nn::model::tokenizer::{TextTokenizer, WordPieces};

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

#[test]
fn minilm_word_heads_match_hugging_face() {
    let Some(dir) = common::shared().map(|s| s.join("models/all-minilm-l6-v2")) else { return };
    let path = dir.join("tokenizer.json");
    // python: t = tokenizers.Tokenizer.from_file(path); t.enable_truncation(128)
    //         e = t.encode(words, is_pretokenized=True); e.ids, e.word_ids
    let tok = TextTokenizer::from_file(&path, 128).unwrap();
    let a = words(&["New", "York-based", "chefs"]);
    let b = words(&["cheapest", "pizzeria", "---", "near", "me"]);
    let got = tok.encode_words(&[&a, &b]).unwrap();
    // word_ids [None, 0, 1, 1, 1, 2, None]
    assert_eq!(
        got[0],
        WordPieces {
            ids: vec![101, 2047, 2259, 1011, 2241, 27828, 102],
            heads: vec![Some(1), Some(2), Some(5)]
        }
    );
    // word_ids [None, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, None]
    assert_eq!(got[1].ids, [101, 10036, 4355, 14255, 13213, 11610, 1011, 1011, 1011, 2379, 2033, 102]);
    assert_eq!(got[1].heads, [Some(1), Some(3), Some(6), Some(9), Some(10)]);
    // t.enable_truncation(6): ids [101, 2047, 2259, 1011, 2241, 102], word_ids [None, 0, 1, 1, 1, None]
    let short = TextTokenizer::from_file(&path, 6).unwrap();
    let got = short.encode_words(&[&a]).unwrap();
    assert_eq!(
        got[0],
        WordPieces { ids: vec![101, 2047, 2259, 1011, 2241, 102], heads: vec![Some(1), Some(2), None] }
    );
}

/// A byte-level BPE tokenizer whose pre-tokenizer adds no prefix space (as RoBERTa's), with the
/// pieces `a`, `b` and their space-prefixed forms `Ġa`, `Ġb`.
const BYTE_LEVEL: &str = r#"{
  "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": null, "decoder": null,
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "vocab": {"Ġ": 0, "a": 1, "b": 2, "Ġa": 3, "Ġb": 4}, "merges": ["Ġ a", "Ġ b"]}
}"#;

#[test]
fn byte_level_words_get_the_prefix_space_of_running_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, BYTE_LEVEL).unwrap();
    let tok = TextTokenizer::from_file(&path, 16).unwrap();
    // Running text "a b" is [a, Ġb]; split into words, Hugging Face needs add_prefix_space=True
    // and gives [Ġa, Ġb]: every word as it would appear after a space.
    assert_eq!(tok.encode_batch(&["a b"]).unwrap()[0], [1, 4]);
    let got = tok.encode_words(&[&words(&["a", "b"])]).unwrap();
    assert_eq!(got[0], WordPieces { ids: vec![3, 4], heads: vec![Some(0), Some(1)] });
}

#[test]
fn hashing_tokenizer_gives_every_kept_word_a_head() {
    let tok = TextTokenizer::hashing(64, 6).unwrap();
    // [CLS] new york based ([UNK] for "---") … [SEP]: 4 pieces fit in max_len 6.
    let s = words(&["New", "York-based", "---", "chefs"]);
    let got = tok.encode_words(&[&s]).unwrap();
    let plain = tok.encode_batch(&["New York-based"]).unwrap();
    assert_eq!(got[0].ids[..4], plain[0][..4], "the same pieces as running text");
    assert_eq!(got[0].ids[4], 1, "a word without letters or digits is [UNK]");
    assert_eq!(got[0].ids.len(), 6);
    assert_eq!(*got[0].ids.last().unwrap(), 3);
    assert_eq!(got[0].heads, [Some(1), Some(2), Some(4), None]);
    // An empty sentence is [CLS] [SEP].
    assert_eq!(tok.encode_words(&[&[]]).unwrap()[0], WordPieces { ids: vec![2, 3], heads: vec![] });
}
