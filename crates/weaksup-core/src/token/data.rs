//! Token-level corpora and their loaders.
//!
//! | input | layout | tags |
//! |---|---|---|
//! | COSINE-paper folder (MIT-R) | `train_data.json`, `dev_data.json`, `test_data.json`, `unlabeled_data.json`: JSON arrays of `{text, label: [id per whitespace token], major: [rule tag or -1], len}` | ids; names from `--tags`, the folder's `tags.json` / `classes.json`, or the `'Name': id` class description of its `readme.md` |
//! | CoNLL columns (`.conll`, `.txt`, `.tsv`, `.bio`, `.iob`) | one token per line, first column the token, last column the tag; blank line between sentences; `-DOCSTART-` lines skipped | names (`O`, `B-PER`, bare types for IO) |
//! | JSON Lines (`.jsonl`) | `{"tokens": [...], "tags": [...]}` per line; `tags` optional; `votes` optional, one list of LF votes per token | names or ids |
//! | Parquet (`.parquet`) | list columns `tokens` (strings) and `tags` (strings or integers) | names or ids |
//!
//! A folder of split files (`train.*`, `dev.*` / `valid.*`, `test.*`, `unlabeled.*`) loads every
//! split it has. The tag set comes from `--tags` (names in id order) when given, else from the tag
//! names of all splits (scheme inferred, types in order of first appearance). The COSINE files'
//! `major` becomes a one-LF vote matrix named `major`; the MIT-R `unlabeled_data.json` carries gold
//! tags, which are kept for diagnostics and never trained on.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Deserialize;

use super::scheme::{OUTSIDE, TagScheme, TagSet};
use crate::error::{Context, Error, Result};
use crate::io::{json_error, read_utf8, strip_bom};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};

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
        if let Some(v) = &self.votes
            && (v.n_rows() != self.tokens.len() || v.cardinality() != tags.n_tags())
        {
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

/// How a token corpus is read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLoadOptions {
    /// Tag names in id order (`O` first), overriding what the files say.
    pub tags: Option<Vec<String>>,
    /// Convert gold tags (and file votes) to this scheme after loading.
    pub scheme: Option<TagScheme>,
}

/// What a dataset is for: one label per text, or one tag per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Task {
    /// Decided from the data ([`is_token_data`]).
    #[default]
    Auto,
    /// Text classification: a class per row.
    Classification,
    /// Sequence labeling: a tag per token.
    Tagging,
}

crate::cli_enum!(Task => "task");

/// Whether `path` (a folder of split files, or one file) holds token-level data, judged from its
/// train file (or the file itself) without reading it whole: CoNLL-style files (`.conll`, `.bio`,
/// `.iob`), COSINE-paper JSON whose first `label` is a list, JSON Lines whose first record has a
/// `tokens` list, Parquet with a list column `tokens`. `.txt` / `.tsv` files are tables unless
/// the task is given.
pub fn is_token_data(path: &Path) -> Result<bool> {
    let file = if path.is_dir() {
        let found = SPLIT_STEMS
            .iter()
            .flat_map(|(_, stems)| stems.iter())
            .flat_map(|stem| EXTENSIONS.iter().map(move |ext| path.join(format!("{stem}.{ext}"))))
            .find(|p| p.is_file());
        match found {
            Some(p) => p,
            None => return Ok(false),
        }
    } else {
        path.to_path_buf()
    };
    // A glob, a missing file or anything else that is not one file: not judged here (the
    // loader that reads it reports what is wrong).
    if !file.is_file() {
        return Ok(false);
    }
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let head = || -> Result<String> {
        use std::io::Read;
        let mut buf = Vec::with_capacity(1 << 16);
        std::fs::File::open(&file)
            .and_then(|f| f.take(1 << 16).read_to_end(&mut buf))
            .map_err(|e| Error::io(&file, e))?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    Ok(match ext.as_str() {
        "conll" | "bio" | "iob" => true,
        "json" => {
            let h = head()?;
            h.find("\"label\"").is_some_and(|i| {
                let rest = h[i + 7..].trim_start();
                rest.strip_prefix(':').is_some_and(|r| r.trim_start().starts_with('['))
            })
        }
        "jsonl" | "ndjson" => {
            let h = head()?;
            let first = h.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            serde_json::from_str::<serde_json::Value>(first)
                .ok()
                .is_some_and(|v| v.get("tokens").is_some_and(|t| t.is_array()))
        }
        "parquet" => {
            // The schema only: a large table is not read to tell its task.
            let f = std::fs::File::open(&file).map_err(|e| Error::io(&file, e))?;
            let schema = ParquetReader::new(f).schema().ctx(|| format!("reading {}", file.display()))?;
            schema.get("tokens").is_some_and(|field| {
                matches!(
                    field.dtype(),
                    ArrowDataType::List(_) | ArrowDataType::LargeList(_) | ArrowDataType::FixedSizeList(..)
                )
            })
        }
        _ => false,
    })
}

/// Split names and the file stems that load into them.
const SPLIT_STEMS: [(&str, &[&str]); 4] = [
    ("train", &["train", "train_data"]),
    ("valid", &["dev", "valid", "validation", "dev_data", "valid_data"]),
    ("test", &["test", "test_data"]),
    ("unlabeled", &["unlabeled", "unlabeled_data", "train_unlabeled_data"]),
];
const EXTENSIONS: [&str; 8] = ["json", "jsonl", "parquet", "conll", "txt", "tsv", "bio", "iob"];

/// Loads a token corpus from a folder of split files (see the module table).
pub fn load_token_corpus(dir: &Path, opts: &TokenLoadOptions) -> Result<TokenCorpus> {
    if !dir.is_dir() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "not a folder; pass a folder of split files, or the split files one by one",
        ));
    }
    let mut files = Vec::new();
    for (split, stems) in SPLIT_STEMS {
        let found = stems
            .iter()
            .flat_map(|stem| EXTENSIONS.iter().map(move |ext| dir.join(format!("{stem}.{ext}"))))
            .find(|p| p.is_file());
        if let Some(p) = found {
            files.push((split.to_string(), p));
        }
    }
    if !files.iter().any(|(s, _)| s == "train") {
        return Err(Error::invalid(
            dir.display().to_string(),
            format!("no train file (looked for train.{{{}}} and train_data.json)", EXTENSIONS.join(",")),
        ));
    }
    let mut opts = opts.clone();
    if opts.tags.is_none() {
        opts.tags = folder_tag_names(dir)?;
    }
    load_token_files(&files, &opts)
}

/// Loads named split files (`(split, path)`), e.g. `--train a.conll --valid b.conll`.
pub fn load_token_files(files: &[(String, PathBuf)], opts: &TokenLoadOptions) -> Result<TokenCorpus> {
    let raws: Vec<Raw> = files.iter().map(|(split, p)| read_raw(p, split)).collect::<Result<_>>()?;
    let name = files
        .first()
        .and_then(|(_, p)| {
            let parent = p.parent().and_then(|d| d.file_name()).and_then(|s| s.to_str());
            parent.or_else(|| p.file_stem().and_then(|s| s.to_str())).map(str::to_owned)
        })
        .unwrap_or_else(|| "corpus".into());
    let tags = match &opts.tags {
        Some(names) => {
            if names.first().map(String::as_str) != Some("O") {
                return Err(Error::invalid("--tags", format!("the first tag must be `O` (got {names:?})")));
            }
            let set = TagSet::from_tag_names(names)?;
            if set.tag_names() != *names {
                return Err(Error::invalid(
                    "--tags",
                    format!("tags must be in the scheme's id order: {}", set.tag_names().join(",")),
                ));
            }
            set
        }
        None => {
            let mut names: Vec<String> = Vec::new();
            for r in &raws {
                if r.has_ids {
                    return Err(Error::invalid(
                        r.path.display().to_string(),
                        "tags are ids without names: pass the tag names (--tags O,Location,...), or put them in \
                         the folder's tags.json",
                    ));
                }
                for t in r.tag_names.iter().flatten().flatten() {
                    if !names.contains(t) {
                        names.push(t.clone());
                    }
                }
            }
            TagSet::from_tag_names(&names)
                .map_err(|e| Error::invalid(name.clone(), format!("tag names: {e}")))?
        }
    };
    let mut splits = Vec::with_capacity(raws.len());
    for r in raws {
        splits.push(r.finish(&name, &tags)?);
    }
    let mut corpus = TokenCorpus { tags, splits };
    if let Some(to) = opts.scheme {
        corpus = corpus.convert(to)?;
    }
    Ok(corpus)
}

impl TokenCorpus {
    /// The corpus with gold tags (and file votes) converted to `scheme` (see [`TagSet::convert`]).
    pub fn convert(self, scheme: TagScheme) -> Result<Self> {
        if scheme == self.tags.scheme {
            return Ok(self);
        }
        let to = self.tags.with_scheme(scheme);
        let mut splits = Vec::with_capacity(self.splits.len());
        for mut s in self.splits {
            if let Some(g) = &s.gold {
                let mut out = Vec::with_capacity(g.len());
                for w in s.offsets.windows(2) {
                    out.extend(self.tags.convert(&g[w[0]..w[1]], &to)?);
                }
                s.gold = Some(out);
            }
            if let Some(v) = &s.votes {
                // Each LF's votes convert as a tag sequence of their own (abstains read as `O`
                // and stay abstains).
                let (n, m) = (v.n_rows(), v.n_lfs());
                let mut cols = Vec::with_capacity(m);
                for j in 0..m {
                    let col = v.column(j);
                    let mut out = Vec::with_capacity(n);
                    for w in s.offsets.windows(2) {
                        let seq: Vec<Label> = col[w[0]..w[1]].iter().map(|&x| x.max(OUTSIDE)).collect();
                        let conv = self.tags.convert(&seq, &to)?;
                        out.extend(
                            conv.iter()
                                .zip(&col[w[0]..w[1]])
                                .map(|(&c, &o)| if o == ABSTAIN { ABSTAIN } else { c }),
                        );
                    }
                    cols.push(out);
                }
                s.votes = Some(LabelMatrix::from_columns(&cols, v.lf_names().to_vec(), to.n_tags())?);
            }
            splits.push(s);
        }
        Ok(Self { tags: to, splits })
    }
}

/// Tag names from a folder's `tags.json` / `classes.json` (a JSON list of names), or from the
/// `'Name': id` pairs of its `readme.md` (the COSINE release's class description), when present.
fn folder_tag_names(dir: &Path) -> Result<Option<Vec<String>>> {
    for f in ["tags.json", "classes.json"] {
        let p = dir.join(f);
        if p.is_file() {
            return crate::io::read_json::<Vec<String>>(&p).map(Some);
        }
    }
    let readme = dir.join("readme.md");
    let readme = if readme.is_file() { readme } else { dir.join("README.md") };
    if !readme.is_file() {
        return Ok(None);
    }
    let text = read_utf8(&readme)?;
    let re = regex::Regex::new(r"'([^'\n]+)'\s*:\s*(\d+)").expect("static regex");
    let mut pairs: Vec<(usize, String)> =
        re.captures_iter(&text).filter_map(|c| Some((c[2].parse().ok()?, c[1].to_string()))).collect();
    pairs.sort();
    pairs.dedup();
    let ok = !pairs.is_empty() && pairs.iter().enumerate().all(|(i, (id, _))| *id == i) && pairs[0].1 == "O";
    Ok(ok.then(|| pairs.into_iter().map(|(_, n)| n).collect()))
}

/// Votes of a file as read: per sentence, per token, per LF.
type SentenceVotes = Vec<Vec<Vec<i64>>>;

/// A file as read, before tags are resolved: tags as names or ids per sentence.
struct Raw {
    path: PathBuf,
    split: String,
    sentences: Vec<Vec<String>>,
    /// 1-based line (CoNLL, JSONL) or 0-based row (JSON array, Parquet) of each sentence.
    places: Vec<usize>,
    place_kind: &'static str,
    tag_names: Option<Vec<Vec<String>>>,
    tag_ids: Option<Vec<Vec<i64>>>,
    has_ids: bool,
    /// Per sentence, per token, per LF.
    votes: Option<(Vec<String>, SentenceVotes)>,
}

#[derive(Deserialize)]
struct CosineRow {
    text: String,
    label: Vec<i64>,
    major: Option<Vec<i64>>,
}

fn read_raw(path: &Path, split: &str) -> Result<Raw> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut raw = match ext.as_str() {
        "json" => read_cosine(path)?,
        "jsonl" | "ndjson" => read_jsonl(path)?,
        "parquet" => read_token_parquet(path)?,
        _ => read_conll(path)?,
    };
    raw.split = split.into();
    Ok(raw)
}

fn empty_raw(path: &Path, place_kind: &'static str) -> Raw {
    Raw {
        path: path.to_path_buf(),
        split: String::new(),
        sentences: Vec::new(),
        places: Vec::new(),
        place_kind,
        tag_names: None,
        tag_ids: None,
        has_ids: false,
        votes: None,
    }
}

/// A COSINE-paper token file: tokens are the text split on whitespace.
fn read_cosine(path: &Path) -> Result<Raw> {
    let text = read_utf8(path)?;
    let rows: Vec<CosineRow> = serde_json::from_str(strip_bom(&text)).map_err(|e| {
        let mut err = json_error(path, &e);
        if let Error::Parse { message, .. } = &mut err {
            message.push_str(" (expected a JSON array of {text, label: [tag id per token], major: [...]})");
        }
        err
    })?;
    let mut raw = empty_raw(path, "row");
    let (mut ids, mut votes) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    let mut any_major = false;
    for (i, r) in rows.into_iter().enumerate() {
        let toks: Vec<String> = r.text.split_whitespace().map(str::to_owned).collect();
        if r.label.len() != toks.len() {
            return Err(Error::parse(
                path,
                None,
                Some("label"),
                format!(
                    "row {i}: {} tags for {} whitespace tokens of `{}`",
                    r.label.len(),
                    toks.len(),
                    r.text
                ),
            ));
        }
        let major = match r.major {
            Some(m) if m.len() != toks.len() => {
                return Err(Error::parse(
                    path,
                    None,
                    Some("major"),
                    format!("row {i}: {} votes for {} tokens", m.len(), toks.len()),
                ));
            }
            Some(m) => {
                any_major = true;
                m
            }
            None => vec![-1; toks.len()],
        };
        votes.push(major.into_iter().map(|v| vec![v]).collect());
        ids.push(r.label);
        raw.sentences.push(toks);
        raw.places.push(i);
    }
    raw.tag_ids = Some(ids);
    raw.has_ids = true;
    if any_major {
        raw.votes = Some((vec!["major".into()], votes));
    }
    Ok(raw)
}

/// CoNLL columns: first column the token, last the tag (a single column: tokens only).
fn read_conll(path: &Path) -> Result<Raw> {
    let text = read_utf8(path)?;
    let mut raw = empty_raw(path, "line");
    let (mut toks, mut tags) = (Vec::new(), Vec::new());
    let mut start = 0;
    let mut width: Option<usize> = None;
    let mut names = Vec::new();
    let mut flush = |toks: &mut Vec<String>, tags: &mut Vec<String>, start: usize, raw: &mut Raw| {
        if !toks.is_empty() {
            raw.sentences.push(std::mem::take(toks));
            names.push(std::mem::take(tags));
            raw.places.push(start);
        }
    };
    for (k, line) in strip_bom(&text).lines().enumerate() {
        let line_no = k + 1;
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            flush(&mut toks, &mut tags, start, &mut raw);
            continue;
        }
        if cols[0] == "-DOCSTART-" {
            continue;
        }
        match width {
            None => width = Some(cols.len()),
            Some(w) if (w == 1) != (cols.len() == 1) => {
                return Err(Error::parse(
                    path,
                    Some(line_no),
                    None,
                    format!(
                        "{} columns where earlier lines have {w}: every token line needs its tag",
                        cols.len()
                    ),
                ));
            }
            _ => {}
        }
        if toks.is_empty() {
            start = line_no;
        }
        toks.push(cols[0].to_owned());
        if cols.len() > 1 {
            tags.push(cols[cols.len() - 1].to_owned());
        }
    }
    flush(&mut toks, &mut tags, start, &mut raw);
    if width.unwrap_or(1) > 1 {
        raw.tag_names = Some(names);
    }
    Ok(raw)
}

#[derive(Deserialize)]
struct JsonlRow {
    tokens: Vec<String>,
    #[serde(default, alias = "ner_tags", alias = "labels")]
    tags: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    votes: Option<Vec<Vec<i64>>>,
}

fn read_jsonl(path: &Path) -> Result<Raw> {
    let text = read_utf8(path)?;
    let mut raw = empty_raw(path, "line");
    let (mut names, mut ids, mut votes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut n_named, mut n_ids) = (0usize, 0usize);
    for (k, line) in strip_bom(&text).lines().enumerate() {
        let line_no = k + 1;
        if line.trim().is_empty() {
            continue;
        }
        let row: JsonlRow = serde_json::from_str(line).map_err(|e| {
            Error::parse(
                path,
                Some(line_no),
                None,
                format!("{e} (expected {{\"tokens\": [...], \"tags\": [...]}})"),
            )
        })?;
        let n = row.tokens.len();
        if let Some(t) = &row.tags {
            if t.len() != n {
                return Err(Error::parse(
                    path,
                    Some(line_no),
                    Some("tags"),
                    format!("{} tags for {n} tokens", t.len()),
                ));
            }
            let (mut sn, mut si) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for (i, v) in t.iter().enumerate() {
                match v {
                    serde_json::Value::String(s) => sn.push(s.clone()),
                    serde_json::Value::Number(x) if x.is_i64() => si.push(x.as_i64().unwrap_or_default()),
                    other => {
                        return Err(Error::parse(
                            path,
                            Some(line_no),
                            Some("tags"),
                            format!("token {i}: tag {other} is neither a name nor an integer id"),
                        ));
                    }
                }
            }
            n_named += !sn.is_empty() as usize;
            n_ids += !si.is_empty() as usize;
            names.push(sn);
            ids.push(si);
        }
        if let Some(v) = row.votes {
            if v.len() != n {
                return Err(Error::parse(
                    path,
                    Some(line_no),
                    Some("votes"),
                    format!("{} vote lists for {n} tokens", v.len()),
                ));
            }
            votes.push(v);
        }
        raw.sentences.push(row.tokens);
        raw.places.push(line_no);
    }
    let n = raw.sentences.len();
    if !names.is_empty() && names.len() != n {
        return Err(Error::parse(path, None, Some("tags"), "some lines have `tags` and others do not"));
    }
    if n_named > 0 && n_ids > 0 {
        return Err(Error::parse(path, None, Some("tags"), "tags mix names and integer ids"));
    }
    if n_ids > 0 {
        raw.tag_ids = Some(ids);
        raw.has_ids = true;
    } else if !names.is_empty() {
        raw.tag_names = Some(names);
    }
    if !votes.is_empty() {
        if votes.len() != n {
            return Err(Error::parse(path, None, Some("votes"), "some lines have `votes` and others do not"));
        }
        let m = votes.iter().flatten().next().map_or(0, Vec::len);
        raw.votes = Some(((0..m).map(|j| format!("lf_{j}")).collect(), votes));
    }
    Ok(raw)
}

fn read_token_parquet(path: &Path) -> Result<Raw> {
    let df = crate::io::read_parquet(path)?;
    let ctx = || path.display().to_string();
    let mut raw = empty_raw(path, "row");
    let list = |name: &str| -> Result<Option<Vec<Option<Series>>>> {
        match df.column(name) {
            Err(_) => Ok(None),
            Ok(c) => {
                let l = c.list().map_err(|_| {
                    Error::parse(
                        path,
                        None,
                        Some(name),
                        format!("column `{name}` is {}, expected a list", c.dtype()),
                    )
                })?;
                Ok(Some((0..l.len()).map(|i| l.get_as_series(i)).collect()))
            }
        }
    };
    let tokens = list("tokens")?.ok_or_else(|| Error::MissingColumn {
        context: ctx(),
        column: "tokens".into(),
        available: df.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    for (i, t) in tokens.iter().enumerate() {
        let t = t
            .as_ref()
            .ok_or_else(|| Error::parse(path, None, Some("tokens"), format!("row {i}: missing tokens")))?;
        let s = t.str().ctx(|| format!("{}: row {i}, column `tokens`", ctx()))?;
        let toks: Option<Vec<String>> = s.iter().map(|x| x.map(str::to_owned)).collect();
        raw.sentences.push(
            toks.ok_or_else(|| Error::parse(path, None, Some("tokens"), format!("row {i}: a null token")))?,
        );
        raw.places.push(i);
    }
    if let Some(tags) = list("tags")? {
        let (mut names, mut ids) = (Vec::new(), Vec::new());
        for (i, t) in tags.iter().enumerate() {
            let t = t
                .as_ref()
                .ok_or_else(|| Error::parse(path, None, Some("tags"), format!("row {i}: missing tags")))?;
            if t.len() != raw.sentences[i].len() {
                return Err(Error::parse(
                    path,
                    None,
                    Some("tags"),
                    format!("row {i}: {} tags for {} tokens", t.len(), raw.sentences[i].len()),
                ));
            }
            if t.dtype() == &DataType::String {
                let v: Option<Vec<String>> = t.str().ctx(ctx)?.iter().map(|x| x.map(str::to_owned)).collect();
                names.push(
                    v.ok_or_else(|| Error::parse(path, None, Some("tags"), format!("row {i}: a null tag")))?,
                );
            } else {
                let c = t.cast(&DataType::Int64).ctx(|| format!("{}: row {i}, column `tags`", ctx()))?;
                let v: Option<Vec<i64>> = c.i64().ctx(ctx)?.iter().collect();
                ids.push(
                    v.ok_or_else(|| Error::parse(path, None, Some("tags"), format!("row {i}: a null tag")))?,
                );
            }
        }
        if !ids.is_empty() {
            raw.tag_ids = Some(ids);
            raw.has_ids = true;
        } else {
            raw.tag_names = Some(names);
        }
    }
    Ok(raw)
}

impl Raw {
    fn where_(&self, s: usize) -> (Option<usize>, String) {
        match self.place_kind {
            "line" => (Some(self.places[s]), format!("sentence {s}")),
            _ => (None, format!("row {}", self.places[s])),
        }
    }

    /// Resolves tags against `tags`, checks them and builds the split.
    fn finish(self, name: &str, tags: &TagSet) -> Result<TokenSplit> {
        let n_tags = tags.n_tags() as i64;
        let mut gold: Option<Vec<Vec<Label>>> = None;
        if let Some(names) = &self.tag_names {
            let mut out = Vec::with_capacity(names.len());
            for (s, seq) in names.iter().enumerate() {
                let mut ids = Vec::with_capacity(seq.len());
                for (t, n) in seq.iter().enumerate() {
                    let id = tags.parse(n).ok_or_else(|| {
                        let (line, at) = self.where_(s);
                        let line = line.map(|l| l + t);
                        Error::parse(
                            &self.path,
                            line,
                            Some("tags"),
                            format!(
                                "{at}, token {t} (`{}`): unknown tag `{n}` (tags: {})",
                                self.sentences[s][t],
                                tags.tag_names().join(", ")
                            ),
                        )
                    })?;
                    ids.push(id);
                }
                out.push(ids);
            }
            gold = Some(out);
        }
        if let Some(ids) = &self.tag_ids {
            let mut out = Vec::with_capacity(ids.len());
            for (s, seq) in ids.iter().enumerate() {
                if let Some((t, &v)) = seq.iter().enumerate().find(|(_, v)| **v < 0 || **v >= n_tags) {
                    let (line, at) = self.where_(s);
                    return Err(Error::parse(
                        &self.path,
                        line,
                        Some("label"),
                        format!(
                            "{at}, token {t} (`{}`): tag id {v} outside 0..{n_tags} ({})",
                            self.sentences[s][t],
                            tags.tag_names().join(", ")
                        ),
                    ));
                }
                out.push(seq.iter().map(|&v| v as Label).collect());
            }
            gold = Some(out);
        }
        if let Some(g) = &gold {
            for (s, seq) in g.iter().enumerate() {
                if let Err((t, why)) = tags.check(seq) {
                    let (line, at) = self.where_(s);
                    return Err(Error::parse(
                        &self.path,
                        line.map(|l| l + t.min(seq.len().saturating_sub(1))),
                        Some("tags"),
                        format!("{at}, token {t}: ill-formed {} tags: {why}", tags.scheme.name()),
                    ));
                }
            }
        }
        let votes = match &self.votes {
            None => None,
            Some((lf_names, per_sentence)) => {
                let m = lf_names.len();
                let mut flat = Vec::new();
                for (s, sent) in per_sentence.iter().enumerate() {
                    for (t, v) in sent.iter().enumerate() {
                        if v.len() != m || v.iter().any(|&x| x < -1 || x >= n_tags) {
                            let (line, at) = self.where_(s);
                            return Err(Error::parse(
                                &self.path,
                                line,
                                Some("votes"),
                                format!("{at}, token {t}: votes {v:?}: need {m} values in -1..{n_tags}"),
                            ));
                        }
                        flat.extend(v.iter().map(|&x| x as Label));
                    }
                }
                let n = flat.len() / m.max(1);
                Some(LabelMatrix::new(flat, n, lf_names.clone(), tags.n_tags())?)
            }
        };
        let mut split = TokenSplit::from_sentences(name, self.split, self.sentences, gold)?;
        split.source = Some(self.path);
        split.votes = votes;
        split.validate(tags)?;
        Ok(split)
    }
}

/// One sentence per row, per-token values as list columns: `tokens`, `tags` (gold names, when
/// known), `pred` (predicted tag names, when given) and `prob_<tag>` (each tag's probability per
/// token, when given) — the same layout as the sentence-level `prob_<class>` columns, a list
/// per row. The file loads back with [`load_token_files`] (tokens and gold tags).
pub fn token_frame(
    split: &TokenSplit,
    tags: &TagSet,
    pred: Option<&[Label]>,
    proba: Option<&crate::label_model::Proba>,
) -> Result<DataFrame> {
    let n = split.n_tokens();
    let ctx = || format!("{}: predictions", split.describe());
    if pred.is_some_and(|p| p.len() != n)
        || proba.is_some_and(|p| p.n_rows() != n || p.n_classes() != tags.n_tags())
    {
        return Err(Error::invalid(
            ctx(),
            format!("predictions do not match {n} tokens × {} tags", tags.n_tags()),
        ));
    }
    let names = tags.tag_names();
    let strings = |f: &dyn Fn(usize) -> String| -> Vec<Series> {
        (0..split.n_sentences())
            .map(|s| {
                let v: Vec<String> = split.range(s).map(f).collect();
                Series::new("".into(), v)
            })
            .collect()
    };
    let mut cols = vec![Column::new("tokens".into(), strings(&|i| split.tokens[i].clone()))];
    if let Some(g) = &split.gold {
        cols.push(Column::new("tags".into(), strings(&|i| names[g[i] as usize].clone())));
    }
    if let Some(p) = pred {
        cols.push(Column::new("pred".into(), strings(&|i| names[p[i].max(0) as usize].clone())));
    }
    if let Some(p) = proba {
        for (k, name) in names.iter().enumerate() {
            let v: Vec<Series> = (0..split.n_sentences())
                .map(|s| Series::new("".into(), split.range(s).map(|i| p.row(i)[k]).collect::<Vec<f64>>()))
                .collect();
            cols.push(Column::new(format!("prob_{name}").into(), v));
        }
    }
    DataFrame::new_infer_height(cols).ctx(ctx)
}
