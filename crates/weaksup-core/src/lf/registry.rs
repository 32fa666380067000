//! Custom Rust labeling functions and preprocessors, registered by name so LF files can use them
//! (`kind = "custom"`, `function = "..."`) without forking weaksup. Token LFs (sequence labeling,
//! [`crate::token::lf`]) are registered here too, under their own names.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::builtin::{RowLf, TextMap};
use super::{LabelingFunction, Preprocessor};
use crate::error::Result;
use crate::matrix::{ABSTAIN, Label};
use crate::token::lf::{CustomTokenLfSpec, TokenLfFn};

/// What an LF file says about one custom LF.
#[derive(Debug, Clone, Copy)]
pub struct CustomLfSpec<'a> {
    /// The LF's name in the file.
    pub name: &'a str,
    /// The class id it votes.
    pub label: Label,
    /// The input column (`column`, or the file's `text_column`).
    pub column: &'a str,
    /// The file's `params` table (empty when absent).
    pub params: &'a toml::Table,
    /// The file's class names.
    pub classes: &'a [String],
}

/// What an LF file says about one custom preprocessor.
#[derive(Debug, Clone, Copy)]
pub struct CustomPreprocessorSpec<'a> {
    pub name: &'a str,
    pub input: &'a str,
    pub params: &'a toml::Table,
}

type TokenFactory = dyn Fn(&CustomTokenLfSpec) -> Result<TokenLfFn> + Send + Sync;
type FrameFactory = dyn Fn(&CustomLfSpec) -> Result<Box<dyn LabelingFunction>> + Send + Sync;
type Predicate = dyn Fn(&str) -> bool + Send + Sync;
type PreFactory = dyn Fn(&CustomPreprocessorSpec) -> Result<Box<dyn Preprocessor>> + Send + Sync;

#[derive(Clone)]
pub(crate) enum Factory {
    Frame(Arc<FrameFactory>),
    Predicate(Arc<Predicate>),
}

pub(crate) enum Built {
    Row(RowLf),
    Frame(Box<dyn LabelingFunction>),
}

/// Named custom LFs and preprocessors, handed to the LF-file loader and to
/// [`crate::cli::main_with`].
#[derive(Clone, Default)]
pub struct Registry {
    lfs: BTreeMap<String, Factory>,
    preprocessors: BTreeMap<String, Arc<PreFactory>>,
    token_lfs: BTreeMap<String, Arc<TokenFactory>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a text predicate: the LF votes the file's `label` where `f(text)` is true and
    /// abstains elsewhere. Panics are counted per row by the fault-tolerant applier.
    pub fn with_predicate(
        mut self,
        function: &str,
        f: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.lfs.insert(function.into(), Factory::Predicate(Arc::new(f)));
        self
    }

    /// Registers a factory that builds any [`LabelingFunction`] from the file's spec (captured
    /// resources, several columns, `params`).
    pub fn with_lf(
        mut self,
        function: &str,
        factory: impl Fn(&CustomLfSpec) -> Result<Box<dyn LabelingFunction>> + Send + Sync + 'static,
    ) -> Self {
        self.lfs.insert(function.into(), Factory::Frame(Arc::new(factory)));
        self
    }

    /// Registers a text → text preprocessor.
    pub fn with_text_preprocessor(
        mut self,
        function: &str,
        f: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        let f = Arc::new(f);
        self.preprocessors.insert(
            function.into(),
            Arc::new(move |spec: &CustomPreprocessorSpec| {
                let f = f.clone();
                Ok(Box::new(TextMap::new(spec.name, spec.input, move |s| f(s))) as Box<dyn Preprocessor>)
            }),
        );
        self
    }

    /// Registers a factory for any [`Preprocessor`].
    pub fn with_preprocessor(
        mut self,
        function: &str,
        factory: impl Fn(&CustomPreprocessorSpec) -> Result<Box<dyn Preprocessor>> + Send + Sync + 'static,
    ) -> Self {
        self.preprocessors.insert(function.into(), Arc::new(factory));
        self
    }

    /// Registers a token LF closure for token LF files (`kind = "custom"`): called once per
    /// sentence with its tokens, it returns one tag id (of the file's tag set) or [`ABSTAIN`] per
    /// token. A panic, a vote vector of the wrong length or a tag outside the set is counted as a
    /// fault of that sentence (whose tokens then abstain).
    pub fn with_token_lf(
        mut self,
        function: &str,
        f: impl Fn(&[String]) -> Vec<Label> + Send + Sync + 'static,
    ) -> Self {
        let f: TokenLfFn = Arc::new(f);
        self.token_lfs.insert(function.into(), Arc::new(move |_: &CustomTokenLfSpec| Ok(f.clone())));
        self
    }

    /// Registers a factory that builds a token LF closure from the file's spec (its tag set, to
    /// encode tags, and its `params`); an error it returns names the file, line and LF.
    pub fn with_token_lf_factory(
        mut self,
        function: &str,
        factory: impl Fn(&CustomTokenLfSpec) -> Result<TokenLfFn> + Send + Sync + 'static,
    ) -> Self {
        self.token_lfs.insert(function.into(), Arc::new(factory));
        self
    }

    /// Registered token LF function names.
    pub fn token_lf_functions(&self) -> Vec<&str> {
        self.token_lfs.keys().map(String::as_str).collect()
    }

    /// Registered LF function names.
    pub fn lf_functions(&self) -> Vec<&str> {
        self.lfs.keys().map(String::as_str).collect()
    }
    /// Registered preprocessor function names.
    pub fn preprocessor_functions(&self) -> Vec<&str> {
        self.preprocessors.keys().map(String::as_str).collect()
    }

    pub(crate) fn build_lf(&self, function: &str, spec: &CustomLfSpec) -> Option<Result<Built>> {
        let f = self.lfs.get(function)?;
        Some(match f {
            Factory::Predicate(p) => {
                let p = p.clone();
                let label = spec.label;
                Ok(Built::Row(
                    RowLf::new(spec.name, move |t| if p(t) { label } else { ABSTAIN }).column(spec.column),
                ))
            }
            Factory::Frame(f) => f(spec).map(Built::Frame),
        })
    }

    pub(crate) fn build_token_lf(
        &self,
        function: &str,
        spec: &CustomTokenLfSpec,
    ) -> Option<Result<TokenLfFn>> {
        self.token_lfs.get(function).map(|f| f(spec))
    }

    pub(crate) fn build_preprocessor(
        &self,
        function: &str,
        spec: &CustomPreprocessorSpec,
    ) -> Option<Result<Box<dyn Preprocessor>>> {
        self.preprocessors.get(function).map(|f| f(spec))
    }
}
