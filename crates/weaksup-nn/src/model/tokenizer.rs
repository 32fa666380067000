//! Hugging Face `tokenizer.json` through the `tokenizers` crate: texts → token ids, truncated to a
//! maximum length with the special tokens kept. Padding is the trainer's job (dynamic, per batch).

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};

enum Inner {
    Hf(Box<Tokenizer>),
    /// Lower-cased words hashed into `vocab - 4` ids after `[PAD] [UNK] [CLS] [SEP]`: no vocabulary
    /// file, for randomly initialised models (tests, the GPU smoke script).
    Hash {
        vocab: i64,
    },
}

/// A loaded tokenizer with its special-token ids.
pub struct TextTokenizer {
    inner: Inner,
    pub pad_id: i64,
    pub max_len: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").field("pad_id", &self.pad_id).field("max_len", &self.max_len).finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, switching off its own padding and setting truncation to `max_len`.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| Error::parse(path, None, None, format!("tokenizer: {e}")))?;
        if max_len < 2 {
            return Err(Error::Config(format!("max sequence length {max_len}: need at least 2")));
        }
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..TruncationParams::default() }))
            .map_err(|e| Error::Config(format!("tokenizer truncation: {e}")))?;
        let pad_id = ["[PAD]", "<pad>"].iter().find_map(|t| inner.token_to_id(t)).unwrap_or(0) as i64;
        Ok(Self { inner: Inner::Hf(Box::new(inner)), pad_id, max_len })
    }

    /// The hashing tokenizer over `vocab` ids (`[PAD]` 0, `[UNK]` 1, `[CLS]` 2, `[SEP]` 3).
    pub fn hashing(vocab: i64, max_len: usize) -> Result<Self> {
        if vocab < 8 || max_len < 2 {
            return Err(Error::Config(format!(
                "hashing tokenizer: vocab {vocab} < 8 or max_len {max_len} < 2"
            )));
        }
        Ok(Self { inner: Inner::Hash { vocab }, pad_id: 0, max_len })
    }

    /// The hashing tokenizer's vocabulary size, if this is one.
    pub fn hash_vocab(&self) -> Option<i64> {
        match self.inner {
            Inner::Hash { vocab } => Some(vocab),
            Inner::Hf(_) => None,
        }
    }

    /// Token ids of each text, special tokens included, at most `max_len` each.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        match &self.inner {
            Inner::Hf(t) => {
                let enc = t
                    .encode_batch(texts.to_vec(), true)
                    .map_err(|e| Error::Config(format!("tokenizing: {e}")))?;
                Ok(enc.iter().map(|e| e.get_ids().iter().map(|&i| i as i64).collect()).collect())
            }
            Inner::Hash { vocab } => Ok(texts
                .iter()
                .map(|t| {
                    let lower = t.to_lowercase();
                    let mut ids = vec![2i64];
                    ids.extend(
                        lower
                            .split(|c: char| !c.is_alphanumeric())
                            .filter(|w| !w.is_empty())
                            .take(self.max_len - 2)
                            .map(|w| {
                                4 + (w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                                    (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
                                }) % (*vocab as u64 - 4)) as i64
                            }),
                    );
                    ids.push(3);
                    ids
                })
                .collect()),
        }
    }

    /// Writes the tokenizer as `tokenizer.json` (for a Hugging Face export).
    /// (A hashing tokenizer has no file; `weaksup.json` records it.)
    pub fn save(&self, path: &Path) -> Result<()> {
        match &self.inner {
            Inner::Hf(t) => t
                .save(path, false)
                .map_err(|e| Error::invalid(path.display().to_string(), format!("saving tokenizer: {e}"))),
            Inner::Hash { .. } => Ok(()),
        }
    }
}
