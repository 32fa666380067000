//! Declarative token LF files (TOML); see `labeling_functions/README.md`. Every error names the
//! file, the line and the LF. A file lists its entity types; its LFs vote on spans, and the
//! votes are encoded in the corpus's scheme when the file is built against the corpus's tag set.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{CustomTokenLfSpec, GazetteerLf, SentenceRegexLf, SpanTag, TokenLf, TokenLfSet, TokenRegexLf};
use crate::error::{Error, Result};
use crate::lf::Registry;
use crate::lf::file::{LfInfo, Parsed, bare_message, registered};
use crate::token::scheme::{TagScheme, TagSet};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: Option<String>,
    description: Option<String>,
    /// Entity types (without prefixes).
    types: Vec<String>,
    #[serde(default)]
    lf: Vec<Spanned<LfSpec>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Gazetteer,
    Regex,
    TokenRegex,
    Custom,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gazetteer => "gazetteer",
            Kind::Regex => "regex",
            Kind::TokenRegex => "token_regex",
            Kind::Custom => "custom",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LfSpec {
    name: String,
    kind: Kind,
    /// An entity type of the file, or `O`; not for custom LFs (they return tag ids).
    tag: Option<String>,
    description: Option<String>,
    entries: Option<Vec<String>>,
    case_sensitive: Option<bool>,
    pattern: Option<String>,
    merge: Option<bool>,
    function: Option<String>,
    params: Option<toml::Table>,
}

/// A parsed, checked token LF file.
#[derive(Debug, Clone)]
pub struct TokenLfFile {
    f: Parsed<FileSpec>,
}

impl TokenLfFile {
    /// Reads and parses `path`; syntax errors and unknown keys name the line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = crate::io::read_utf8(path)?;
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
    /// The entity types the file declares.
    pub fn types(&self) -> &[String] {
        &self.f.spec.types
    }

    /// Name, kind, description and line of each LF, in file order.
    pub fn lfs(&self) -> Vec<LfInfo> {
        self.f
            .spec
            .lf
            .iter()
            .map(|s| LfInfo {
                name: s.get_ref().name.clone(),
                kind: s.get_ref().kind.name().into(),
                description: s.get_ref().description.clone(),
                line: self.f.line(s.span().start),
            })
            .collect()
    }

    /// Structural checks that need neither a corpus nor a registry.
    fn check(&self) -> Result<()> {
        let s = &self.f.spec;
        TagSet::new(TagScheme::Io, s.types.clone())
            .map_err(|e| Error::parse(&self.f.path, None, Some("types"), bare_message(e)))?;
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
            crate::lf::check_name(name)
                .map_err(|e| self.f.err(off, Some(name), Some("name"), bare_message(e)))?;
            let allowed: &[&str] = match spec.kind {
                Kind::Gazetteer => &["tag", "entries", "case_sensitive"],
                Kind::Regex => &["tag", "pattern"],
                Kind::TokenRegex => &["tag", "pattern", "merge"],
                Kind::Custom => &["function", "params"],
            };
            let present = [
                ("tag", spec.tag.is_some()),
                ("entries", spec.entries.is_some()),
                ("case_sensitive", spec.case_sensitive.is_some()),
                ("pattern", spec.pattern.is_some()),
                ("merge", spec.merge.is_some()),
                ("function", spec.function.is_some()),
                ("params", spec.params.is_some()),
            ];
            let required: &[(&str, bool)] = match spec.kind {
                Kind::Gazetteer => &[("tag", spec.tag.is_some()), ("entries", spec.entries.is_some())],
                Kind::Regex | Kind::TokenRegex => {
                    &[("tag", spec.tag.is_some()), ("pattern", spec.pattern.is_some())]
                }
                Kind::Custom => &[("function", spec.function.is_some())],
            };
            self.f.check_fields(off, name, spec.kind.name(), allowed, &present, required)?;
            if let Some(tag) = &spec.tag
                && tag != "O"
                && !s.types.contains(tag)
            {
                return Err(self.f.err(
                    off,
                    Some(name),
                    Some("tag"),
                    format!("unknown tag `{tag}` (types of this file: O, {})", s.types.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Adds this file's LFs to `set`, whose tag set must contain every type the file declares.
    pub fn add_to(&self, set: &mut TokenLfSet, registry: &Registry) -> Result<()> {
        let tags = set.tags().clone();
        if let Some(missing) = self.f.spec.types.iter().find(|t| !tags.types.contains(t)) {
            return Err(Error::parse(
                &self.f.path,
                None,
                Some("types"),
                format!("type `{missing}` is not among the corpus's types ({})", tags.types.join(", ")),
            ));
        }
        let empty = toml::Table::new();
        for lf in &self.f.spec.lf {
            let (spec, off) = (lf.get_ref(), lf.span().start);
            let wrap = |e: Error| self.f.err(off, Some(&spec.name), None, bare_message(e));
            let tag = match &spec.tag {
                Some(t) => set.span_tag(t).map_err(wrap)?,
                None => SpanTag::Outside,
            };
            let name = spec.name.clone();
            let built = match spec.kind {
                Kind::Gazetteer => TokenLf::Gazetteer(GazetteerLf {
                    name,
                    tag,
                    entries: spec.entries.clone().unwrap_or_default(),
                    case_sensitive: spec.case_sensitive.unwrap_or(false),
                }),
                Kind::Regex => TokenLf::Regex(SentenceRegexLf {
                    name,
                    tag,
                    pattern: spec.pattern.clone().unwrap_or_default(),
                }),
                Kind::TokenRegex => TokenLf::TokenRegex(TokenRegexLf {
                    name,
                    tag,
                    pattern: spec.pattern.clone().unwrap_or_default(),
                    merge: spec.merge.unwrap_or(false),
                }),
                Kind::Custom => {
                    let function = spec.function.as_deref().unwrap_or_default();
                    let cs = CustomTokenLfSpec {
                        name: &spec.name,
                        tags: &tags,
                        params: spec.params.as_ref().unwrap_or(&empty),
                    };
                    let f = registry
                        .build_token_lf(function, &cs)
                        .unwrap_or_else(|| {
                            Err(Error::Config(format!(
                                "no custom token LF function `{function}` is registered ({})",
                                registered(&registry.token_lf_functions())
                            )))
                        })
                        .map_err(|e| self.f.err(off, Some(&spec.name), Some("function"), bare_message(e)))?;
                    TokenLf::Custom { name, f }
                }
            };
            set.add(built).map_err(wrap)?;
        }
        Ok(())
    }

    /// Loads the files at `paths` into one LF set over `tags` (the corpus's tag set; `None`: the
    /// first file's types under `scheme`).
    pub fn load_set(
        paths: &[PathBuf],
        tags: Option<&TagSet>,
        scheme: TagScheme,
        registry: &Registry,
    ) -> Result<(TokenLfSet, Vec<TokenLfFile>)> {
        let files = paths.iter().map(|p| TokenLfFile::load(p)).collect::<Result<Vec<_>>>()?;
        let first = files.first().ok_or_else(|| Error::Config("no token LF file given".into()))?;
        let tags = match tags {
            Some(t) => t.clone(),
            None => TagSet::new(scheme, first.types().to_vec())?,
        };
        let mut set = TokenLfSet::new(tags);
        for f in &files {
            f.add_to(&mut set, registry)?;
        }
        Ok((set, files))
    }
}
