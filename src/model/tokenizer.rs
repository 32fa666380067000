//! Hugging Face `tokenizer.json` through the `tokenizers` crate: texts → token ids, truncated to a
//! maximum length with the special tokens kept. Padding is the trainer's job (dynamic, per batch).

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};

/// A loaded tokenizer with its special-token ids.
pub struct TextTokenizer {
    inner: Tokenizer,
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
        let mut inner = Tokenizer::from_file(path).map_err(|e| Error::parse(path, None, None, format!("tokenizer: {e}")))?;
        if max_len < 2 {
            return Err(Error::Config(format!("max sequence length {max_len}: need at least 2")));
        }
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..TruncationParams::default() }))
            .map_err(|e| Error::Config(format!("tokenizer truncation: {e}")))?;
        let pad_id = ["[PAD]", "<pad>"].iter().find_map(|t| inner.token_to_id(t)).unwrap_or(0) as i64;
        Ok(Self { inner, pad_id, max_len })
    }

    /// Token ids of each text, special tokens included, at most `max_len` each.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        let enc = self
            .inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Config(format!("tokenizing: {e}")))?;
        Ok(enc.iter().map(|e| e.get_ids().iter().map(|&i| i as i64).collect()).collect())
    }

    /// Writes the tokenizer as `tokenizer.json` (for a Hugging Face export).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.inner.save(path, false).map_err(|e| Error::invalid(path.display().to_string(), format!("saving tokenizer: {e}")))
    }
}
