//! Token labeling functions: each LF marks spans of tokens with an entity type (or `O`) and
//! abstains elsewhere; the applier encodes the spans in the corpus's tagging scheme (`I-T` on
//! every token under IO, `B-T I-T …` under BIO, `B/I/E/S` under BIOES), so one LF file serves a
//! corpus in any scheme.
//!
//! | kind | matches | vectorised as |
//! |---|---|---|
//! | `gazetteer` | phrases of one or more tokens (leftmost-longest, no overlaps) | one Aho-Corasick pass per sentence over all gazetteers |
//! | `regex` | a regex over the sentence's tokens joined by single spaces; the span is the match, or its group `span` | a `RegexSet` prefilter, then only the LFs that matched |
//! | `token_regex` | a regex that must match a whole token; runs of matching tokens merge into one span with `merge = true` | one `RegexSet` pass per token |
//! | `custom` | a compiled-in Rust closure over the sentence's tokens, registered in [`crate::lf::Registry`] | a call per sentence |
//!
//! Spans of `regex` and `gazetteer` LFs start and end on token boundaries: a match inside a token
//! is not a vote. Declarative LFs never read files, reach the network or run code; the regex
//! program size is bounded by [`crate::lf::REGEX_SIZE_LIMIT`].

mod analysis;
mod apply;
mod file;

use std::sync::Arc;

pub use analysis::{TokenLfAnalysis, TokenLfStats, analyze_tokens};
pub use apply::CompiledTokenLfs;
pub use file::TokenLfFile;

use crate::error::{Error, Result};
use crate::lf::REGEX_SIZE_LIMIT;
use crate::lf::check_name;
pub use crate::lf::{Applied, ApplyOptions};
use crate::matrix::Label;
use crate::token::scheme::TagSet;

/// A custom token LF: the sentence's tokens in, one tag id (of the LF set's [`TagSet`]) or
/// [`crate::matrix::ABSTAIN`] per token out.
pub type TokenLfFn = Arc<dyn Fn(&[String]) -> Vec<Label> + Send + Sync>;

/// What an LF file says about one custom token LF, for the factory that builds it.
#[derive(Debug, Clone, Copy)]
pub struct CustomTokenLfSpec<'a> {
    pub name: &'a str,
    /// The tag set the LF's votes are ids of.
    pub tags: &'a TagSet,
    pub params: &'a toml::Table,
}

/// What an LF votes on its spans: an entity type (index into the tag set's types) or `O`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanTag {
    Outside,
    Type(usize),
}

/// Phrases of one or more whitespace-separated tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct GazetteerLf {
    pub name: String,
    pub tag: SpanTag,
    pub entries: Vec<String>,
    /// Default false: entries and tokens are compared lower-cased (Unicode `to_lowercase`).
    pub case_sensitive: bool,
}

/// A regex over the sentence's tokens joined by single spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceRegexLf {
    pub name: String,
    pub tag: SpanTag,
    pub pattern: String,
}

/// A regex that must match a whole token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRegexLf {
    pub name: String,
    pub tag: SpanTag,
    pub pattern: String,
    /// Default false: each matching token is a span of its own; true: runs of matching tokens
    /// form one span (matters under BIO / BIOES).
    pub merge: bool,
}

/// One token LF of a set.
#[derive(Clone)]
pub enum TokenLf {
    Gazetteer(GazetteerLf),
    Regex(SentenceRegexLf),
    TokenRegex(TokenRegexLf),
    Custom { name: String, f: TokenLfFn },
}

impl std::fmt::Debug for TokenLf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenLf::Gazetteer(g) => g.fmt(f),
            TokenLf::Regex(r) => r.fmt(f),
            TokenLf::TokenRegex(r) => r.fmt(f),
            TokenLf::Custom { name, .. } => write!(f, "Custom({name})"),
        }
    }
}

impl TokenLf {
    pub fn name(&self) -> &str {
        match self {
            TokenLf::Gazetteer(g) => &g.name,
            TokenLf::Regex(r) => &r.name,
            TokenLf::TokenRegex(r) => &r.name,
            TokenLf::Custom { name, .. } => name,
        }
    }

    /// The kind as LF files spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenLf::Gazetteer(_) => "gazetteer",
            TokenLf::Regex(_) => "regex",
            TokenLf::TokenRegex(_) => "token_regex",
            TokenLf::Custom { .. } => "custom",
        }
    }

    fn tag(&self) -> Option<SpanTag> {
        match self {
            TokenLf::Gazetteer(g) => Some(g.tag),
            TokenLf::Regex(r) => Some(r.tag),
            TokenLf::TokenRegex(r) => Some(r.tag),
            TokenLf::Custom { .. } => None,
        }
    }

    fn validate(&self, tags: &TagSet) -> Result<()> {
        check_name(self.name())?;
        if let Some(SpanTag::Type(t)) = self.tag()
            && t >= tags.types.len()
        {
            return Err(Error::lf(
                self.name(),
                format!("type {t} is outside the tag set's {}", tags.types.len()),
            ));
        }
        let regex = |p: &str| {
            regex::RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| Error::lf(self.name(), format!("bad regex: {e}")))
        };
        match self {
            TokenLf::Gazetteer(g) => {
                if g.entries.iter().all(|e| e.split_whitespace().next().is_none()) {
                    return Err(Error::lf(&g.name, "a gazetteer needs at least one non-blank entry"));
                }
            }
            TokenLf::Regex(r) => {
                let re = regex(&r.pattern)?;
                if re.is_match("") {
                    return Err(Error::lf(&r.name, "the regex matches the empty string"));
                }
            }
            TokenLf::TokenRegex(r) => {
                let re = regex(&r.pattern)?;
                if re.is_match("") {
                    return Err(Error::lf(&r.name, "the regex matches the empty string"));
                }
            }
            TokenLf::Custom { .. } => {}
        }
        Ok(())
    }
}

/// Token LFs over one tag set, in column order.
#[derive(Debug, Clone)]
pub struct TokenLfSet {
    tags: TagSet,
    lfs: Vec<TokenLf>,
}

impl TokenLfSet {
    pub fn new(tags: TagSet) -> Self {
        Self { tags, lfs: Vec::new() }
    }
    pub fn tags(&self) -> &TagSet {
        &self.tags
    }
    pub fn lfs(&self) -> &[TokenLf] {
        &self.lfs
    }
    pub fn len(&self) -> usize {
        self.lfs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lfs.is_empty()
    }
    pub fn names(&self) -> Vec<String> {
        self.lfs.iter().map(|l| l.name().to_string()).collect()
    }
    pub fn kinds(&self) -> Vec<&'static str> {
        self.lfs.iter().map(TokenLf::kind).collect()
    }

    /// An LF's [`SpanTag`] from a type name of the set or `O`.
    pub fn span_tag(&self, name: &str) -> Result<SpanTag> {
        if name == "O" {
            return Ok(SpanTag::Outside);
        }
        self.tags.types.iter().position(|t| t == name).map(SpanTag::Type).ok_or_else(|| {
            Error::Config(format!("unknown entity type `{name}` (types: O, {})", self.tags.types.join(", ")))
        })
    }

    /// Adds an LF after checking its name (unique, letters, digits, `_.-`), tag and pattern.
    pub fn add(&mut self, lf: TokenLf) -> Result<&mut Self> {
        lf.validate(&self.tags)?;
        if self.lfs.iter().any(|l| l.name() == lf.name()) {
            return Err(Error::lf(lf.name(), "duplicate LF name"));
        }
        self.lfs.push(lf);
        Ok(self)
    }

    pub fn add_custom(
        &mut self,
        name: impl Into<String>,
        f: impl Fn(&[String]) -> Vec<Label> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        self.add(TokenLf::Custom { name: name.into(), f: Arc::new(f) })
    }

    /// Builds the automata and regex sets.
    pub fn compile(self) -> Result<CompiledTokenLfs> {
        if self.lfs.is_empty() {
            return Err(Error::Config("no token LFs to apply".into()));
        }
        CompiledTokenLfs::new(self)
    }
}
