//! Hugging Face `tokenizer.json` through the `tokenizers` crate: texts or sentence pairs → token
//! ids, truncated to a maximum length with the special tokens kept; entity markers added as
//! special tokens. Padding is the trainer's job (dynamic, per batch).

use std::path::Path;

use tokenizers::{AddedToken, EncodeInput, Tokenizer, TruncationParams};

use crate::error::{Error, Result};

enum Inner {
    Hf(Box<Tokenizer>),
    /// Lower-cased words hashed into `vocab - 4` ids after `[PAD] [UNK] [CLS] [SEP]`: no vocabulary
    /// file, for randomly initialised models (tests, the GPU smoke script). Added markers get the
    /// ids `vocab`, `vocab + 1`, … in order.
    Hash {
        vocab: i64,
        markers: Vec<String>,
    },
}

/// One encoded text or pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIds {
    pub ids: Vec<i64>,
    /// Pairs: where the second segment (token type 1) begins.
    pub segment: Option<usize>,
}

/// One pre-split sentence encoded for tagging: word pieces with the special tokens, and where
/// each word's first piece is (the position a token-classification head reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPieces {
    pub ids: Vec<i64>,
    /// Per word of the sentence: the position in `ids` of its first piece; `None` where
    /// truncation to `max_len` cut the word (or the tokenizer produced no piece for it).
    pub heads: Vec<Option<usize>>,
}

/// A loaded tokenizer with its special-token ids.
pub struct TextTokenizer {
    inner: Inner,
    pub pad_id: i64,
    pub max_len: usize,
    /// A byte-level BPE tokenizer (RoBERTa, GPT-2) that does not add a space before the first
    /// word: pre-split words get one each, as Hugging Face's `add_prefix_space=True` (which
    /// `is_split_into_words=True` requires) does, so every word is encoded as in running text.
    prefix_space: bool,
}

/// Whether `t` is byte-level BPE without a prefix space (see [`TextTokenizer::prefix_space`]).
fn needs_prefix_space(t: &Tokenizer) -> bool {
    use tokenizers::PreTokenizerWrapper as P;
    fn any(p: &P) -> bool {
        match p {
            P::ByteLevel(b) => !b.add_prefix_space,
            P::Sequence(seq) => seq.as_ref().iter().any(any),
            _ => false,
        }
    }
    t.get_pre_tokenizer().is_some_and(any)
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
        let prefix_space = needs_prefix_space(&inner);
        Ok(Self { inner: Inner::Hf(Box::new(inner)), pad_id, max_len, prefix_space })
    }

    /// The hashing tokenizer over `vocab` ids (`[PAD]` 0, `[UNK]` 1, `[CLS]` 2, `[SEP]` 3).
    pub fn hashing(vocab: i64, max_len: usize) -> Result<Self> {
        if vocab < 8 || max_len < 2 {
            return Err(Error::Config(format!(
                "hashing tokenizer: vocab {vocab} < 8 or max_len {max_len} < 2"
            )));
        }
        Ok(Self {
            inner: Inner::Hash { vocab, markers: Vec::new() },
            pad_id: 0,
            max_len,
            prefix_space: false,
        })
    }

    /// The hashing tokenizer's vocabulary size, if this is one.
    pub fn hash_vocab(&self) -> Option<i64> {
        match self.inner {
            Inner::Hash { vocab, .. } => Some(vocab),
            Inner::Hf(_) => None,
        }
    }

    /// Adds `markers` as special tokens (never split, never lower-cased) and returns their ids;
    /// markers already known keep their ids.
    pub fn add_markers(&mut self, markers: &[&str]) -> Vec<i64> {
        match &mut self.inner {
            Inner::Hf(t) => {
                let new: Vec<AddedToken> = markers
                    .iter()
                    .filter(|m| t.token_to_id(m).is_none())
                    .map(|m| AddedToken::from(m.to_string(), true))
                    .collect();
                t.add_special_tokens(&new);
            }
            Inner::Hash { markers: have, .. } => {
                for m in markers {
                    if !have.iter().any(|h| h == m) {
                        have.push(m.to_string());
                    }
                }
            }
        }
        markers.iter().map(|m| self.token_id(m).expect("marker just added")).collect()
    }

    /// The id of a token of the vocabulary (or an added marker).
    pub fn token_id(&self, token: &str) -> Option<i64> {
        match &self.inner {
            Inner::Hf(t) => t.token_to_id(token).map(i64::from),
            Inner::Hash { vocab, markers } => {
                markers.iter().position(|m| m == token).map(|k| vocab + k as i64)
            }
        }
    }

    /// The ids of `text`'s tokens without special tokens (for initialising marker embeddings).
    pub fn word_ids(&self, text: &str) -> Result<Vec<i64>> {
        match &self.inner {
            Inner::Hf(t) => {
                let enc = t.encode(text, false).map_err(|e| Error::Config(format!("tokenizing: {e}")))?;
                Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
            }
            Inner::Hash { .. } => Ok(self.hash_words(text)),
        }
    }

    /// Token ids of each text, special tokens included, at most `max_len` each.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        Ok(self.encode(texts, None)?.into_iter().map(|t| t.ids).collect())
    }

    /// Token ids of each text, or of each pair (`first[i]`, `second[i]`) as one sequence
    /// (`[CLS] a [SEP] b [SEP]`, or the tokenizer's own pair form), special tokens included, at
    /// most `max_len` each (the longer side of a pair is cut first).
    pub fn encode(&self, first: &[&str], second: Option<&[&str]>) -> Result<Vec<TokenIds>> {
        if let Some(b) = second.filter(|b| b.len() != first.len()) {
            return Err(Error::Config(format!(
                "{} first sentences but {} second ones",
                first.len(),
                b.len()
            )));
        }
        match &self.inner {
            Inner::Hf(t) => {
                let inputs: Vec<EncodeInput> = match second {
                    None => first.iter().map(|&a| EncodeInput::from(a)).collect(),
                    Some(b) => first.iter().zip(b).map(|(&a, &b)| EncodeInput::from((a, b))).collect(),
                };
                let enc =
                    t.encode_batch(inputs, true).map_err(|e| Error::Config(format!("tokenizing: {e}")))?;
                Ok(enc
                    .iter()
                    .map(|e| TokenIds {
                        ids: e.get_ids().iter().map(|&i| i as i64).collect(),
                        segment: second.and_then(|_| e.get_type_ids().iter().position(|&t| t == 1)),
                    })
                    .collect())
            }
            Inner::Hash { .. } => Ok(first
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut a = self.hash_words(a);
                    let Some(b) = second else {
                        a.truncate(self.max_len - 2);
                        let mut ids = vec![2i64];
                        ids.extend(a);
                        ids.push(3);
                        return TokenIds { ids, segment: None };
                    };
                    let mut b = self.hash_words(b[i]);
                    // Longest first, as the Hugging Face default.
                    while a.len() + b.len() > self.max_len.saturating_sub(3)
                        && !(a.is_empty() && b.is_empty())
                    {
                        if a.len() >= b.len() {
                            a.pop()
                        } else {
                            b.pop()
                        };
                    }
                    let mut ids = vec![2i64];
                    ids.extend(a);
                    ids.push(3);
                    let segment = ids.len();
                    ids.extend(b);
                    ids.push(3);
                    TokenIds { ids, segment: Some(segment) }
                })
                .collect()),
        }
    }

    /// Encodes sentences given as words (tagging): each word is tokenized on its own, as
    /// Hugging Face's `tokenizer(words, is_split_into_words=True)`, special tokens included, at
    /// most `max_len` pieces (words past the cut get no head). The hashing tokenizer gives a
    /// word without letters or digits the `[UNK]` piece, so every word it keeps has a head.
    pub fn encode_words(&self, sentences: &[&[String]]) -> Result<Vec<WordPieces>> {
        match &self.inner {
            Inner::Hf(t) => {
                let inputs: Vec<EncodeInput> = sentences
                    .iter()
                    .map(|words| {
                        let w: Vec<String> = if self.prefix_space {
                            words.iter().map(|w| format!(" {w}")).collect()
                        } else {
                            words.to_vec()
                        };
                        EncodeInput::from(w)
                    })
                    .collect();
                let enc =
                    t.encode_batch(inputs, true).map_err(|e| Error::Config(format!("tokenizing: {e}")))?;
                Ok(enc
                    .iter()
                    .zip(sentences)
                    .map(|(e, words)| {
                        let mut heads = vec![None; words.len()];
                        for (pos, w) in e.get_word_ids().iter().enumerate() {
                            if let Some(w) = w
                                && let Some(h) = heads.get_mut(*w as usize)
                                && h.is_none()
                            {
                                *h = Some(pos);
                            }
                        }
                        WordPieces { ids: e.get_ids().iter().map(|&i| i as i64).collect(), heads }
                    })
                    .collect())
            }
            Inner::Hash { .. } => Ok(sentences
                .iter()
                .map(|words| {
                    let budget = self.max_len - 2;
                    let mut ids = vec![2i64];
                    let mut heads = Vec::with_capacity(words.len());
                    for w in words.iter() {
                        let mut pieces = self.hash_words(w);
                        if pieces.is_empty() {
                            pieces.push(1);
                        }
                        let room = budget + 1 - ids.len();
                        if room == 0 {
                            heads.push(None);
                            continue;
                        }
                        heads.push(Some(ids.len()));
                        ids.extend(pieces.into_iter().take(room));
                    }
                    ids.push(3);
                    WordPieces { ids, heads }
                })
                .collect()),
        }
    }

    /// The hashing tokenizer's ids of a text's words and markers (no special tokens).
    fn hash_words(&self, text: &str) -> Vec<i64> {
        let Inner::Hash { vocab, markers } = &self.inner else { return Vec::new() };
        let hash = |w: &str| {
            4 + (w
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
                % (*vocab as u64 - 4)) as i64
        };
        let words = |s: &str, out: &mut Vec<i64>| {
            let lower = s.to_lowercase();
            out.extend(lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(hash));
        };
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            let next = markers
                .iter()
                .enumerate()
                .filter_map(|(k, m)| rest.find(m.as_str()).map(|at| (at, k, m.len())))
                .min();
            match next {
                Some((at, k, len)) => {
                    words(&rest[..at], &mut out);
                    out.push(vocab + k as i64);
                    rest = &rest[at + len..];
                }
                None => {
                    words(rest, &mut out);
                    return out;
                }
            }
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
