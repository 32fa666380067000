//! Declarative LF files (TOML). See `labeling_functions/README.md` for the format; every error
//! names the file, the line and the LF.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::builtin::{KeywordLf, KeywordMatch, Lowercase, NormalizeWhitespace, RegexLf, StripPunctuation};
use super::registry::{Built, CustomLfSpec, CustomPreprocessorSpec, Registry};
use super::sql::SqlLf;
use super::{LfSet, Preprocessor};
use crate::data::TEXT;
use crate::error::{Error, Result};
use crate::matrix::Label;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: Option<String>,
    description: Option<String>,
    classes: Vec<String>,
    #[serde(default = "default_text")]
    text_column: String,
    #[serde(default)]
    preprocessor: Vec<Spanned<PreSpec>>,
    #[serde(default)]
    lf: Vec<Spanned<LfSpec>>,
}

fn default_text() -> String {
    TEXT.into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PreKind {
    Lowercase,
    NormalizeWhitespace,
    StripPunctuation,
    Custom,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreSpec {
    name: String,
    kind: PreKind,
    column: Option<String>,
    function: Option<String>,
    params: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LfKind {
    Keyword,
    Regex,
    Sql,
    Custom,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LfSpec {
    name: String,
    kind: LfKind,
    label: String,
    column: Option<String>,
    description: Option<String>,
    keywords: Option<Vec<String>>,
    #[serde(rename = "match")]
    mode: Option<KeywordMatch>,
    case_sensitive: Option<bool>,
    word_boundary: Option<bool>,
    pattern: Option<String>,
    expr: Option<String>,
    function: Option<String>,
    params: Option<toml::Table>,
}

/// An error's message without the prefix naming its kind (the file error adds file, line and LF).
pub(crate) fn bare_message(e: Error) -> String {
    match e {
        Error::Lf { message, .. } => message,
        Error::Config(m) => m,
        other => other.to_string(),
    }
}

/// "registered: a, b", or how to register when nothing is.
pub(crate) fn registered(names: &[&str]) -> String {
    if names.is_empty() {
        "none registered: register it with weaksup::lf::Registry in your own binary, see examples/custom_lfs.rs".into()
    } else {
        format!("registered: {}", names.join(", "))
    }
}

/// A declarative TOML file as read: its path and text (errors name the line of a span) and its
/// parsed spec. LF files of both kinds (classification, [`crate::token::lf`]) are one of these.
#[derive(Debug, Clone)]
pub(crate) struct Parsed<S> {
    pub path: PathBuf,
    pub text: String,
    pub spec: S,
}

impl<S: serde::de::DeserializeOwned> Parsed<S> {
    /// Parses TOML text (`path` is used in messages only); syntax errors and unknown keys name
    /// the line.
    pub fn parse(path: &Path, text: String) -> Result<Self> {
        let spec: S = crate::data::parse_toml(path, &text)?;
        Ok(Self { path: path.to_path_buf(), text, spec })
    }
}

impl<S> Parsed<S> {
    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        crate::data::line_of(&self.text, offset)
    }

    /// An error naming the file, the line of `offset`, the LF and the field.
    pub fn err(&self, offset: usize, lf: Option<&str>, field: Option<&str>, msg: impl Into<String>) -> Error {
        let msg = msg.into();
        let msg = match lf {
            Some(n) => format!("LF `{n}`: {msg}"),
            None => msg,
        };
        Error::parse(&self.path, Some(self.line(offset)), field, msg)
    }

    /// Checks the optional fields of LF `lf` (of kind `kind`, at `offset`) against its kind: a
    /// `present` field the kind does not take is an error, and so is a `required` one that is
    /// absent; each error names the field.
    pub fn check_fields(
        &self,
        offset: usize,
        lf: &str,
        kind: &str,
        allowed: &[&str],
        present: &[(&str, bool)],
        required: &[(&str, bool)],
    ) -> Result<()> {
        if let Some((field, _)) = present.iter().find(|(f, is)| *is && !allowed.contains(f)) {
            return Err(self.err(
                offset,
                Some(lf),
                Some(field),
                format!("`{field}` does not apply to kind `{kind}`"),
            ));
        }
        if let Some((field, _)) = required.iter().find(|(_, is)| !is) {
            return Err(self.err(offset, Some(lf), Some(field), format!("kind `{kind}` needs `{field}`")));
        }
        Ok(())
    }
}

/// One LF as written in a file, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfInfo {
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    pub line: usize,
}

/// A parsed, checked LF file.
#[derive(Debug, Clone)]
pub struct LfFile {
    f: Parsed<FileSpec>,
}

impl LfFile {
    /// Reads and parses `path`; syntax errors and unknown keys name the line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = crate::data::read_utf8(path)?;
        Self::parse(path, text)
    }

    /// Parses TOML text (`path` is used in messages only).
    pub fn parse(path: &Path, text: String) -> Result<Self> {
        let file = Self { f: Parsed::parse(path, text)? };
        file.check()?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.f.path
    }
    pub fn name(&self) -> Option<&str> {
        self.f.spec.name.as_deref()
    }
    pub fn description(&self) -> Option<&str> {
        self.f.spec.description.as_deref()
    }
    pub fn classes(&self) -> &[String] {
        &self.f.spec.classes
    }

    /// Name, kind, description and line of each LF, in file order.
    pub fn lfs(&self) -> Vec<LfInfo> {
        self.f
            .spec
            .lf
            .iter()
            .map(|s| LfInfo {
                name: s.get_ref().name.clone(),
                kind: format!("{:?}", s.get_ref().kind).to_lowercase(),
                description: s.get_ref().description.clone(),
                line: self.f.line(s.span().start),
            })
            .collect()
    }

    fn label_id(&self, spec: &LfSpec, offset: usize) -> Result<Label> {
        self.f.spec.classes.iter().position(|c| *c == spec.label).map(|i| i as Label).ok_or_else(|| {
            self.f.err(
                offset,
                Some(&spec.name),
                Some("label"),
                format!("unknown label `{}` (classes: {})", spec.label, self.f.spec.classes.join(", ")),
            )
        })
    }

    /// Structural checks that need no registry: classes, names, per-kind fields, labels.
    fn check(&self) -> Result<()> {
        let s = &self.f.spec;
        if s.classes.len() < 2 {
            return Err(Error::parse(&self.f.path, None, Some("classes"), "at least two classes are needed"));
        }
        if let Some(dup) = s.classes.iter().enumerate().find(|(i, c)| s.classes[..*i].contains(c)) {
            return Err(Error::parse(
                &self.f.path,
                None,
                Some("classes"),
                format!("class `{}` listed twice", dup.1),
            ));
        }
        if s.lf.is_empty() {
            return Err(Error::parse(&self.f.path, None, Some("lf"), "no [[lf]] entries"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for lf in &s.lf {
            let (spec, off) = (lf.get_ref(), lf.span().start);
            let name = spec.name.as_str();
            if seen.contains(&name) {
                return Err(self.f.err(off, Some(name), Some("name"), "duplicate LF name"));
            }
            seen.push(name);
            super::builtin::check_name(name)
                .map_err(|e| self.f.err(off, Some(name), Some("name"), e.to_string()))?;
            self.label_id(spec, off)?;
            let allowed: &[&str] = match spec.kind {
                LfKind::Keyword => &["keywords", "match", "case_sensitive", "word_boundary", "column"],
                LfKind::Regex => &["pattern", "column"],
                LfKind::Sql => &["expr"],
                LfKind::Custom => &["function", "params", "column"],
            };
            let present = [
                ("keywords", spec.keywords.is_some()),
                ("match", spec.mode.is_some()),
                ("case_sensitive", spec.case_sensitive.is_some()),
                ("word_boundary", spec.word_boundary.is_some()),
                ("pattern", spec.pattern.is_some()),
                ("expr", spec.expr.is_some()),
                ("function", spec.function.is_some()),
                ("params", spec.params.is_some()),
                ("column", spec.column.is_some()),
            ];
            let required = match spec.kind {
                LfKind::Keyword => ("keywords", spec.keywords.is_some()),
                LfKind::Regex => ("pattern", spec.pattern.is_some()),
                LfKind::Sql => ("expr", spec.expr.is_some()),
                LfKind::Custom => ("function", spec.function.is_some()),
            };
            let kind = format!("{:?}", spec.kind).to_lowercase();
            self.f.check_fields(off, name, &kind, allowed, &present, &[required])?;
        }
        for p in &s.preprocessor {
            let (spec, off) = (p.get_ref(), p.span().start);
            super::builtin::check_name(&spec.name)
                .map_err(|e| self.f.err(off, None, Some("name"), format!("preprocessor: {e}")))?;
            if spec.name == s.text_column || spec.name == crate::data::TEXT || spec.name == crate::data::LABEL
            {
                return Err(self.f.err(
                    off,
                    None,
                    Some("name"),
                    format!(
                        "preprocessor `{}` would replace the data's column `{}`; give it another name",
                        spec.name, spec.name
                    ),
                ));
            }
            if s.preprocessor
                .iter()
                .take_while(|q| q.span() != p.span())
                .any(|q| q.get_ref().name == spec.name)
            {
                return Err(self.f.err(
                    off,
                    None,
                    Some("name"),
                    format!("preprocessor `{}` is defined twice", spec.name),
                ));
            }
            if (spec.kind == PreKind::Custom) != spec.function.is_some() {
                return Err(self.f.err(
                    off,
                    None,
                    Some("function"),
                    format!(
                        "preprocessor `{}`: `function` is required for kind custom and only there",
                        spec.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Adds this file's preprocessors and LFs to `set` (whose classes must equal the file's).
    pub fn add_to(&self, set: &mut LfSet, registry: &Registry) -> Result<()> {
        if set.classes() != self.f.spec.classes.as_slice() {
            return Err(Error::parse(
                &self.f.path,
                None,
                Some("classes"),
                format!(
                    "classes [{}] differ from those of the other LF files [{}]",
                    self.f.spec.classes.join(", "),
                    set.classes().join(", ")
                ),
            ));
        }
        let empty = toml::Table::new();
        for p in &self.f.spec.preprocessor {
            let (spec, off) = (p.get_ref(), p.span().start);
            let input = spec.column.clone().unwrap_or_else(|| self.f.spec.text_column.clone());
            let pre: Box<dyn Preprocessor> = match spec.kind {
                PreKind::Lowercase => Box::new(Lowercase::new(&spec.name, input)),
                PreKind::NormalizeWhitespace => Box::new(NormalizeWhitespace::new(&spec.name, input)),
                PreKind::StripPunctuation => Box::new(StripPunctuation::new(&spec.name, input)),
                PreKind::Custom => {
                    let function = spec.function.as_deref().unwrap_or_default();
                    let cs = CustomPreprocessorSpec {
                        name: &spec.name,
                        input: &input,
                        params: spec.params.as_ref().unwrap_or(&empty),
                    };
                    registry
                        .build_preprocessor(function, &cs)
                        .unwrap_or_else(|| {
                            Err(Error::Config(format!(
                                "no custom preprocessor `{function}` is registered ({})",
                                registered(&registry.preprocessor_functions())
                            )))
                        })
                        .map_err(|e| {
                            self.f.err(
                                off,
                                None,
                                Some("function"),
                                format!("preprocessor `{}`: {}", spec.name, bare_message(e)),
                            )
                        })?
                }
            };
            set.add_preprocessor(pre).map_err(|e| self.f.err(off, None, Some("name"), e.to_string()))?;
        }
        for lf in &self.f.spec.lf {
            let (spec, off) = (lf.get_ref(), lf.span().start);
            let label = self.label_id(spec, off)?;
            let column = spec.column.clone().unwrap_or_else(|| self.f.spec.text_column.clone());
            let wrap = |e: Error| self.f.err(off, Some(&spec.name), None, bare_message(e));
            match spec.kind {
                LfKind::Keyword => {
                    let lf = KeywordLf::new(&spec.name, spec.keywords.clone().unwrap_or_default(), label)
                        .column(column)
                        .mode(spec.mode.unwrap_or_default())
                        .case_sensitive(spec.case_sensitive.unwrap_or(false))
                        .word_boundary(spec.word_boundary.unwrap_or(false));
                    set.add_keyword(lf).map_err(wrap)?;
                }
                LfKind::Regex => {
                    set.add_regex(
                        RegexLf::new(&spec.name, spec.pattern.clone().unwrap_or_default(), label)
                            .column(column),
                    )
                    .map_err(wrap)?;
                }
                LfKind::Sql => {
                    set.add_sql(SqlLf::new(&spec.name, spec.expr.clone().unwrap_or_default(), label))
                        .map_err(wrap)?;
                }
                LfKind::Custom => {
                    let function = spec.function.as_deref().unwrap_or_default();
                    let cs = CustomLfSpec {
                        name: &spec.name,
                        label,
                        column: &column,
                        params: spec.params.as_ref().unwrap_or(&empty),
                        classes: &self.f.spec.classes,
                    };
                    let built = registry.build_lf(function, &cs).unwrap_or_else(|| {
                        Err(Error::Config(format!(
                            "no custom function `{function}` is registered ({})",
                            registered(&registry.lf_functions())
                        )))
                    });
                    match built.map_err(wrap)? {
                        Built::Row(r) => set.add_row(r).map_err(wrap)?,
                        Built::Frame(f) => set.add(f).map_err(wrap)?,
                    };
                }
            }
        }
        Ok(())
    }

    /// Loads the files at `paths` into one LF set (they must share their class list).
    pub fn load_set(paths: &[PathBuf], registry: &Registry) -> Result<(LfSet, Vec<LfFile>)> {
        let files = paths.iter().map(|p| LfFile::load(p)).collect::<Result<Vec<_>>>()?;
        let first = files.first().ok_or_else(|| Error::Config("no LF file given".into()))?;
        let mut set = LfSet::new(first.classes().to_vec())?;
        for f in &files {
            f.add_to(&mut set, registry)?;
        }
        Ok((set, files))
    }
}
