//! Labeling functions: the [`LabelingFunction`] trait, built-in kinds (keyword, regex, SQL
//! expression, Rust closures), preprocessors, declarative LF files, the parallel applier and
//! Snorkel-style LF analysis.
//!
//! An [`LfSet`] keeps LFs in declared order (that order is the label matrix's column order) and
//! compiles them so that all keyword LFs over one column run as **one** Aho-Corasick pass and all
//! regex LFs over one column in one pass over the rows (each regex with its own literal
//! prefilter); SQL LFs are allow-listed expressions evaluated column-wise ([`sql`]); closures are
//! the escape hatch.

pub mod analysis;
mod apply;
mod builtin;
pub mod file;
mod registry;
pub(crate) mod sql;

use polars::prelude::DataFrame;

pub use crate::matrix::{ABSTAIN, Label, LabelMatrix};
pub use analysis::{LfAnalysis, LfStats, analyze};
pub use apply::{Applied, ApplyOptions, CompiledLfs};
pub(crate) use builtin::check_name;
pub use builtin::{
    FrameLf, KeywordLf, KeywordMatch, Lowercase, NormalizeWhitespace, REGEX_SIZE_LIMIT, RegexLf, RowLf,
    StripPunctuation, TextMap,
};
pub use file::LfFile;
pub use registry::{CustomLfSpec, CustomPreprocessorSpec, Registry};
pub use sql::{MAX_EXPR_BYTES, SqlLf};

use crate::error::{Error, Result};

/// A labeling function: votes a class id or [`ABSTAIN`] for every row of a frame.
///
/// Implement it for custom logic that needs the whole frame (several columns, captured
/// resources); for a function of one text column, [`RowLf`] is simpler.
pub trait LabelingFunction: Send + Sync {
    /// Unique name (the label matrix column).
    fn name(&self) -> &str;
    /// Exactly one vote per row of `frame`: a class id in `0..cardinality` or [`ABSTAIN`].
    fn apply(&self, frame: &DataFrame) -> Result<Vec<Label>>;
}

/// Derives a column from a frame once, before any LF runs (lower-casing, tokenisation...), so that
/// several LFs can share the work.
pub trait Preprocessor: Send + Sync {
    /// Name of the column it adds.
    fn name(&self) -> &str;
    /// The new column, one value per row of `frame`.
    fn apply(&self, frame: &DataFrame) -> Result<polars::prelude::Column>;
}

/// One entry of an [`LfSet`], in declared order.
pub(crate) enum LfEntry {
    Keyword(KeywordLf),
    Regex(RegexLf),
    Sql(SqlLf),
    Row(RowLf),
    Custom(Box<dyn LabelingFunction>),
}

impl LfEntry {
    pub(crate) fn name(&self) -> &str {
        match self {
            LfEntry::Keyword(l) => &l.name,
            LfEntry::Regex(l) => &l.name,
            LfEntry::Sql(l) => &l.name,
            LfEntry::Row(l) => l.name(),
            LfEntry::Custom(l) => l.name(),
        }
    }
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            LfEntry::Keyword(_) => "keyword",
            LfEntry::Regex(_) => "regex",
            LfEntry::Sql(_) => "sql",
            LfEntry::Row(_) | LfEntry::Custom(_) => "custom",
        }
    }
}

/// An ordered set of labeling functions over one class list, plus the preprocessors they share.
pub struct LfSet {
    classes: Vec<String>,
    preprocessors: Vec<Box<dyn Preprocessor>>,
    entries: Vec<LfEntry>,
}

impl LfSet {
    /// An empty set over `classes` (at least two).
    pub fn new(classes: Vec<String>) -> Result<Self> {
        if classes.len() < 2 {
            return Err(Error::Config(format!("an LF set needs at least 2 classes, got {}", classes.len())));
        }
        Ok(Self { classes, preprocessors: Vec::new(), entries: Vec::new() })
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// LF names in column order.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name().to_string()).collect()
    }
    /// LF kinds (`keyword`, `regex`, `sql`, `custom`) in column order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.entries.iter().map(LfEntry::kind).collect()
    }

    /// The id of class `name`.
    pub fn class_id(&self, name: &str) -> Result<Label> {
        self.classes.iter().position(|c| c == name).map(|i| i as Label).ok_or_else(|| {
            Error::Config(format!("unknown class `{name}` (classes: {})", self.classes.join(", ")))
        })
    }

    fn push(&mut self, entry: LfEntry, label: Label) -> Result<()> {
        let name = entry.name().to_string();
        if self.entries.iter().any(|e| e.name() == name) {
            return Err(Error::lf(name, "duplicate LF name"));
        }
        if label != ABSTAIN && (label < 0 || label as usize >= self.classes.len()) {
            return Err(Error::lf(name, format!("label {label} outside 0..{}", self.classes.len())));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds a keyword LF (compiled with every other keyword LF of its column into one automaton).
    pub fn add_keyword(&mut self, lf: KeywordLf) -> Result<&mut Self> {
        lf.validate()?;
        let label = lf.label;
        self.push(LfEntry::Keyword(lf), label)?;
        Ok(self)
    }
    /// Adds a regex LF (evaluated with every other regex LF of its column in one pass over the rows).
    pub fn add_regex(&mut self, lf: RegexLf) -> Result<&mut Self> {
        lf.validate()?;
        let label = lf.label;
        self.push(LfEntry::Regex(lf), label)?;
        Ok(self)
    }
    /// Adds a polars SQL expression LF.
    pub fn add_sql(&mut self, lf: SqlLf) -> Result<&mut Self> {
        lf.validate()?;
        let label = lf.label;
        self.push(LfEntry::Sql(lf), label)?;
        Ok(self)
    }
    /// Adds a closure over one text column; panics are counted per row in fault-tolerant mode.
    pub fn add_row(&mut self, lf: RowLf) -> Result<&mut Self> {
        self.push(LfEntry::Row(lf), ABSTAIN)?;
        Ok(self)
    }
    /// Adds any [`LabelingFunction`] (frame closures, user types).
    pub fn add(&mut self, lf: Box<dyn LabelingFunction>) -> Result<&mut Self> {
        self.push(LfEntry::Custom(lf), ABSTAIN)?;
        Ok(self)
    }
    /// Adds a preprocessor; its output column is computed once per frame before the LFs run.
    pub fn add_preprocessor(&mut self, p: Box<dyn Preprocessor>) -> Result<&mut Self> {
        if self.preprocessors.iter().any(|q| q.name() == p.name()) {
            return Err(Error::Config(format!("duplicate preprocessor `{}`", p.name())));
        }
        self.preprocessors.push(p);
        Ok(self)
    }

    /// Compiles the set for application (automata, regex sets, expressions).
    pub fn compile(self) -> Result<CompiledLfs> {
        CompiledLfs::new(self)
    }
}

impl std::fmt::Debug for LfSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LfSet")
            .field("classes", &self.classes)
            .field("preprocessors", &self.preprocessors.iter().map(|p| p.name()).collect::<Vec<_>>())
            .field("lfs", &self.names())
            .finish()
    }
}
