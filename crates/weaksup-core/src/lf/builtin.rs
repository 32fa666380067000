//! Built-in labeling-function kinds and preprocessors.

use std::sync::Arc;

use polars::prelude::*;

use super::{LabelingFunction, Preprocessor};
use crate::data::TEXT;
use crate::error::{Error, Result};
use crate::matrix::Label;

/// Regexes of one set are compiled under this size limit (bytes of compiled program), so a
/// pathological pattern fails with a clear error instead of exhausting memory.
pub const REGEX_SIZE_LIMIT: usize = 32 << 20;

pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(Error::lf(name, "names use only letters, digits, `_`, `.`, `-`"));
    }
    Ok(())
}

/// Whether a keyword LF needs one or all of its keywords.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum KeywordMatch {
    /// Fires when any keyword occurs.
    #[default]
    Any,
    /// Fires when every keyword occurs.
    All,
}

/// Votes `label` when its keywords occur in a text column.
///
/// By default matching is case-insensitive (both sides Unicode lower-cased, as Python's
/// `str.lower`) and by substring; `word_boundary` requires that an occurrence is neither preceded
/// nor followed by a word character (Unicode `\w`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordLf {
    pub name: String,
    pub column: String,
    pub keywords: Vec<String>,
    pub mode: KeywordMatch,
    pub case_sensitive: bool,
    pub word_boundary: bool,
    pub label: Label,
}

impl KeywordLf {
    /// An `any`, case-insensitive, substring keyword LF over `text`.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        keywords: impl IntoIterator<Item = S>,
        label: Label,
    ) -> Self {
        Self {
            name: name.into(),
            column: TEXT.into(),
            keywords: keywords.into_iter().map(Into::into).collect(),
            mode: KeywordMatch::Any,
            case_sensitive: false,
            word_boundary: false,
            label,
        }
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }
    pub fn mode(mut self, mode: KeywordMatch) -> Self {
        self.mode = mode;
        self
    }
    pub fn case_sensitive(mut self, yes: bool) -> Self {
        self.case_sensitive = yes;
        self
    }
    pub fn word_boundary(mut self, yes: bool) -> Self {
        self.word_boundary = yes;
        self
    }
    pub(crate) fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        if self.keywords.is_empty() {
            return Err(Error::lf(&self.name, "no keywords"));
        }
        if self.keywords.iter().any(String::is_empty) {
            return Err(Error::lf(&self.name, "empty keyword"));
        }
        Ok(())
    }
}

/// Votes `label` when `pattern` matches anywhere in a text column (Rust `regex` syntax,
/// unanchored; case-insensitive only through `(?i)`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegexLf {
    pub name: String,
    pub column: String,
    pub pattern: String,
    pub label: Label,
}

impl RegexLf {
    pub fn new(name: impl Into<String>, pattern: impl Into<String>, label: Label) -> Self {
        Self { name: name.into(), column: TEXT.into(), pattern: pattern.into(), label }
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }
    pub(crate) fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        regex::RegexBuilder::new(&self.pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| Error::lf(&self.name, format!("bad regex: {e}")))?;
        Ok(())
    }
}

type RowFn = dyn Fn(&str) -> Label + Send + Sync;

/// A Rust closure over one text column: `|text| if text.len() < 5 { HAM } else { ABSTAIN }`.
/// Null cells abstain. In fault-tolerant mode a panic abstains and is counted per row.
#[derive(Clone)]
pub struct RowLf {
    name: String,
    pub(crate) column: String,
    pub(crate) f: Arc<RowFn>,
}

impl RowLf {
    pub fn new(name: impl Into<String>, f: impl Fn(&str) -> Label + Send + Sync + 'static) -> Self {
        Self { name: name.into(), column: TEXT.into(), f: Arc::new(f) }
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

type FrameFn = dyn Fn(&DataFrame) -> Result<Vec<Label>> + Send + Sync;

/// A Rust closure over a whole (chunk of a) frame, for logic that needs several columns or
/// vectorised polars code. It must return one vote per row.
#[derive(Clone)]
pub struct FrameLf {
    name: String,
    f: Arc<FrameFn>,
}

impl FrameLf {
    pub fn new(
        name: impl Into<String>,
        f: impl Fn(&DataFrame) -> Result<Vec<Label>> + Send + Sync + 'static,
    ) -> Self {
        Self { name: name.into(), f: Arc::new(f) }
    }
}

impl LabelingFunction for FrameLf {
    fn name(&self) -> &str {
        &self.name
    }
    fn apply(&self, frame: &DataFrame) -> Result<Vec<Label>> {
        (self.f)(frame)
    }
}

/// Reads a String column of `frame`, with an error naming `who` when it is missing or not text.
pub(crate) fn text_column<'a>(frame: &'a DataFrame, column: &str, who: &str) -> Result<&'a StringChunked> {
    let c = frame.column(column).map_err(|_| {
        Error::lf(who, format!("no column `{column}` (columns: {})", crate::data::column_list(frame)))
    })?;
    c.str().map_err(|_| Error::lf(who, format!("column `{column}` holds {}, not text", c.dtype())))
}

type MapFn = dyn Fn(&str) -> String + Send + Sync;

/// A preprocessor mapping one text column to a new one with a Rust function.
#[derive(Clone)]
pub struct TextMap {
    name: String,
    input: String,
    f: Arc<MapFn>,
}

impl TextMap {
    pub fn new(
        name: impl Into<String>,
        input: impl Into<String>,
        f: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        Self { name: name.into(), input: input.into(), f: Arc::new(f) }
    }
}

impl Preprocessor for TextMap {
    fn name(&self) -> &str {
        &self.name
    }
    fn apply(&self, frame: &DataFrame) -> Result<Column> {
        let ca = text_column(frame, &self.input, &self.name)?;
        let out: StringChunked = ca.iter().map(|s| s.map(|s| (self.f)(s))).collect();
        Ok(out.with_name(self.name.as_str().into()).into_column())
    }
}

macro_rules! text_preprocessor {
    ($(#[$doc:meta])* $ty:ident, $f:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            pub name: String,
            pub input: String,
        }
        impl $ty {
            pub fn new(name: impl Into<String>, input: impl Into<String>) -> Self {
                Self { name: name.into(), input: input.into() }
            }
        }
        impl Preprocessor for $ty {
            fn name(&self) -> &str {
                &self.name
            }
            fn apply(&self, frame: &DataFrame) -> Result<Column> {
                TextMap::new(self.name.clone(), self.input.clone(), $f).apply(frame)
            }
        }
    };
}

text_preprocessor!(
    /// Unicode lower-casing (Python `str.lower` semantics).
    Lowercase, |s: &str| s.to_lowercase()
);
text_preprocessor!(
    /// Collapses runs of whitespace to one space and trims both ends.
    NormalizeWhitespace, |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ")
);
text_preprocessor!(
    /// Replaces punctuation and symbols with spaces (letters, digits, marks and whitespace stay).
    StripPunctuation,
    |s: &str| s.chars().map(|c| if c.is_alphanumeric() || c.is_whitespace() || c == '_' { c } else { ' ' })
        .collect::<String>()
);

crate::cli_enum!(KeywordMatch => "keyword match");
