//! Token-level corpora and their loaders.

use std::path::{Path, PathBuf};

use super::scheme::TagSet;
use crate::error::{Error, Result};
use crate::matrix::{Label, LabelMatrix};

/// One split of a token corpus, flattened: sentence `s` is tokens `offsets[s]..offsets[s + 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSplit {
    /// Corpus name (folder or file stem).
    pub name: String,
    /// `train`, `valid`, `test`, `unlabeled`.
    pub split: String,
    /// Where it was read from.
    pub source: Option<PathBuf>,
    /// `n_sentences + 1` non-decreasing token offsets, starting at 0.
    pub offsets: Vec<usize>,
    /// Every token, sentence after sentence.
    pub tokens: Vec<String>,
    /// Gold tag id per token (ids of the corpus's [`TagSet`]), when known.
    pub gold: Option<Vec<Label>>,
    /// LF votes per token (rows = tokens, classes = tags), when they came with the data.
    pub votes: Option<LabelMatrix>,
}

impl TokenSplit {
    /// A split from sentences of tokens and optional per-sentence gold tags; checks lengths.
    pub fn from_sentences(
        name: impl Into<String>,
        split: impl Into<String>,
        sentences: Vec<Vec<String>>,
        gold: Option<Vec<Vec<Label>>>,
    ) -> Result<Self> {
        let (name, split) = (name.into(), split.into());
        let mut offsets = Vec::with_capacity(sentences.len() + 1);
        offsets.push(0);
        let mut tokens = Vec::new();
        for s in sentences {
            tokens.extend(s);
            offsets.push(tokens.len());
        }
        let gold = match gold {
            None => None,
            Some(g) => {
                if g.len() + 1 != offsets.len() {
                    return Err(Error::invalid(
                        format!("{name} ({split})"),
                        format!("{} tag sequences for {} sentences", g.len(), offsets.len() - 1),
                    ));
                }
                let mut flat = Vec::with_capacity(tokens.len());
                for (s, tags) in g.into_iter().enumerate() {
                    let n = offsets[s + 1] - offsets[s];
                    if tags.len() != n {
                        return Err(Error::invalid(
                            format!("{name} ({split})"),
                            format!("sentence {s}: {} tags for {n} tokens", tags.len()),
                        ));
                    }
                    flat.extend(tags);
                }
                Some(flat)
            }
        };
        Ok(Self { name, split, source: None, offsets, tokens, gold, votes: None })
    }

    pub fn describe(&self) -> String {
        match &self.source {
            Some(p) => format!("{} ({})", p.display(), self.split),
            None => format!("{} ({})", self.name, self.split),
        }
    }
    /// Sentences in the split.
    pub fn n_sentences(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    /// Tokens in the split.
    pub fn n_tokens(&self) -> usize {
        self.tokens.len()
    }
    /// Token index range of sentence `s`.
    pub fn range(&self, s: usize) -> std::ops::Range<usize> {
        self.offsets[s]..self.offsets[s + 1]
    }
    /// The tokens of sentence `s`.
    pub fn sentence(&self, s: usize) -> &[String] {
        &self.tokens[self.range(s)]
    }
    /// Gold tags of sentence `s`, when known.
    pub fn gold_of(&self, s: usize) -> Option<&[Label]> {
        self.gold.as_deref().map(|g| &g[self.range(s)])
    }

    /// Checks offsets, gold ids against `tags` (and well-formedness under its scheme) and the vote
    /// matrix's shape; errors name the sentence and token.
    pub fn validate(&self, tags: &TagSet) -> Result<()> {
        let ctx = self.describe();
        if self.offsets.first() != Some(&0)
            || self.offsets.last() != Some(&self.tokens.len())
            || self.offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(Error::invalid(ctx, "sentence offsets do not partition the tokens"));
        }
        if let Some(g) = &self.gold {
            if g.len() != self.tokens.len() {
                return Err(Error::invalid(
                    ctx,
                    format!("{} gold tags for {} tokens", g.len(), self.tokens.len()),
                ));
            }
            for s in 0..self.n_sentences() {
                if let Err((t, why)) = tags.check(&g[self.range(s)]) {
                    return Err(Error::invalid(ctx, format!("sentence {s}, token {t}: {why}")));
                }
            }
        }
        if let Some(v) = &self.votes {
            if v.n_rows() != self.tokens.len() || v.cardinality() != tags.n_tags() {
                return Err(Error::invalid(
                    ctx,
                    format!(
                        "votes for {} tokens × {} tags, expected {} tokens × {} tags",
                        v.n_rows(),
                        v.cardinality(),
                        self.tokens.len(),
                        tags.n_tags()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A token corpus: its tag set and splits.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenCorpus {
    pub tags: TagSet,
    pub splits: Vec<TokenSplit>,
}

impl TokenCorpus {
    /// The split named `name`.
    pub fn split(&self, name: &str) -> Option<&TokenSplit> {
        self.splits.iter().find(|s| s.split == name)
    }
}

/// Placeholder until the loaders land.
pub fn load_token_corpus(path: &Path) -> Result<TokenCorpus> {
    Err(Error::invalid(path.display().to_string(), "token loaders are being written"))
}
