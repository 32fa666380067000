//! Compiled LF sets and the parallel applier.
//!
//! Rows are cut into chunks (`ApplyOptions::chunk_size`) processed in parallel on scoped worker
//! threads ([`crate::parallel`]); every chunk writes its own row-major block and blocks are
//! concatenated in row order, so the label matrix is bit-identical at any thread count and chunk
//! size. Every LF group runs under `catch_unwind`: a panic, ours or a dependency's, becomes an
//! error (or, fault-tolerant, a counted fault) naming the LF.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use aho_corasick::{AhoCorasick, MatchKind};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::builtin::{KeywordLf, KeywordMatch, REGEX_SIZE_LIMIT, RegexLf, RowLf, text_column};
use super::sql::{CompiledSql, SqlLf, add_lowered, lowered_name};
use super::{LabelingFunction, LfEntry, LfSet, Preprocessor};
use crate::error::{Error, Result, panic_message};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};
use crate::progress::Progress;

/// How to apply an LF set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplyOptions {
    /// Rows per parallel work item. Default 8192: large enough to amortise per-chunk set-up
    /// (preprocessors, SQL plans), small enough to balance two or more cores on 10⁴-row splits.
    pub chunk_size: usize,
    /// Count LF failures (errors, panics, out-of-range votes) per LF and abstain instead of
    /// stopping (Snorkel's `fault_tolerant=True`). Default false: the first failure is an error.
    pub fault_tolerant: bool,
    /// Worker threads; `None`: as many as rayon's global pool has (all cores, or
    /// `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { chunk_size: 8192, fault_tolerant: false, threads: None }
    }
}

impl ApplyOptions {
    /// Checks the values, naming the config key.
    pub fn validate(&self) -> Result<()> {
        if self.chunk_size == 0 {
            return Err(Error::Config("lfs.apply.chunk_size (--chunk-size) = 0: must be at least 1".into()));
        }
        if self.threads == Some(0) {
            return Err(Error::Config("lfs.apply.threads (--threads) = 0: must be at least 1".into()));
        }
        Ok(())
    }
}

/// The result of applying an LF set.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub matrix: LabelMatrix,
    /// Rows on which each LF failed (always zero unless fault-tolerant), in column order.
    pub faults: Vec<u64>,
}

/// Lower-cases like Python's `str.lower` (Rust's Unicode `to_lowercase`), without allocating for
/// ASCII text.
fn fold_into(text: &str, buf: &mut String) {
    buf.clear();
    if text.is_ascii() {
        buf.push_str(text);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&text.to_lowercase());
    }
}

fn is_word_char_at_end(hay: &str, end: usize) -> bool {
    hay[end..].chars().next().is_some_and(regex_syntax::is_word_character)
}
fn is_word_char_before(hay: &str, start: usize) -> bool {
    hay[..start].chars().next_back().is_some_and(regex_syntax::is_word_character)
}

struct KwLf {
    col: usize,
    patterns: Vec<usize>,
    mode: KeywordMatch,
    word_boundary: bool,
    label: Label,
}

/// All keyword LFs over one (column, case sensitivity): one Aho-Corasick automaton, one pass.
struct KeywordGroup {
    column: String,
    case_sensitive: bool,
    ac: AhoCorasick,
    n_patterns: usize,
    needs_boundary: Vec<bool>,
    lfs: Vec<KwLf>,
}

impl KeywordGroup {
    fn new(column: &str, case_sensitive: bool, lfs: &[(usize, &KeywordLf)]) -> Result<Self> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut needs_boundary = Vec::new();
        let mut out = Vec::new();
        for &(col, lf) in lfs {
            let mut pats = Vec::new();
            for kw in &lf.keywords {
                let key = if case_sensitive { kw.clone() } else { kw.to_lowercase() };
                let id = *ids.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    needs_boundary.push(false);
                    patterns.len() - 1
                });
                needs_boundary[id] |= lf.word_boundary;
                pats.push(id);
            }
            out.push(KwLf {
                col,
                patterns: pats,
                mode: lf.mode,
                word_boundary: lf.word_boundary,
                label: lf.label,
            });
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| Error::lf(&lfs[0].1.name, format!("keyword automaton: {e}")))?;
        Ok(Self {
            column: column.into(),
            case_sensitive,
            ac,
            n_patterns: patterns.len(),
            needs_boundary,
            lfs: out,
        })
    }

    /// `folded`: `texts` are already lower-cased (the chunk's shared copy, [`super::sql::add_lowered`]).
    ///
    /// # Shapes
    /// `texts`: one per chunk row; `block`: `rows × m` row-major, written at each LF's column.
    fn eval(&self, texts: &StringChunked, folded: bool, block: &mut [Label], m: usize) {
        let mut seen = vec![0u32; self.n_patterns];
        let mut seen_wb = vec![0u32; self.n_patterns];
        let mut buf = String::new();
        for (i, text) in texts.iter().enumerate() {
            let Some(text) = text else { continue };
            let hay: &str = if self.case_sensitive || folded {
                text
            } else {
                fold_into(text, &mut buf);
                &buf
            };
            let stamp = i as u32 + 1;
            let mut any = false;
            for mat in self.ac.find_overlapping_iter(hay) {
                let p = mat.pattern().as_usize();
                seen[p] = stamp;
                any = true;
                if self.needs_boundary[p]
                    && !is_word_char_before(hay, mat.start())
                    && !is_word_char_at_end(hay, mat.end())
                {
                    seen_wb[p] = stamp;
                }
            }
            if !any {
                continue;
            }
            for lf in &self.lfs {
                let marks = if lf.word_boundary { &seen_wb } else { &seen };
                let hit = |&p: &usize| marks[p] == stamp;
                let fires = match lf.mode {
                    KeywordMatch::Any => lf.patterns.iter().any(hit),
                    KeywordMatch::All => lf.patterns.iter().all(hit),
                };
                if fires {
                    block[i * m + lf.col] = lf.label;
                }
            }
        }
    }
}

/// All regex LFs over one column, evaluated in one pass over the rows: each text is tested by
/// every compiled regex while it is hot in cache.
///
/// Deliberately not a `RegexSet`: a set cannot use per-pattern literal prefilters, and with
/// Unicode `\b` / `\w` on non-ASCII text its lazy DFA gives up for the PikeVM. Measured on the
/// WRENCH texts (docs/results.md, "Why regex LFs are not a `RegexSet`"), `RegexSet::matches` ran
/// 7× slower than per-regex `is_match` on the 5 YouTube benchmark regexes and 10–19× slower on the
/// 68–73 SMS / TREC rules.
struct RegexGroup {
    column: String,
    regexes: Vec<regex_automata::meta::Regex>,
    lfs: Vec<(usize, Label)>,
}

impl RegexGroup {
    fn new(column: &str, lfs: &[(usize, &RegexLf)]) -> Result<Self> {
        // `regex::Regex`'s engine and limits, without its shared cache pool: `is_match` from
        // several rayon threads made the pool's slow path 4% of a `batch label` profile.
        let config = regex_automata::meta::Config::new()
            .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
            .hybrid_cache_capacity(REGEX_SIZE_LIMIT);
        let regexes = lfs
            .iter()
            .map(|(_, l)| {
                regex_automata::meta::Regex::builder()
                    .configure(config.clone())
                    .build(&l.pattern)
                    .map_err(|e| Error::lf(&l.name, format!("bad regex: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { column: column.into(), regexes, lfs: lfs.iter().map(|(c, l)| (*c, l.label)).collect() })
    }

    /// # Shapes
    /// `texts`: one per chunk row; `block`: `rows × m` row-major, written at each LF's column.
    fn eval(&self, texts: &StringChunked, block: &mut [Label], m: usize) {
        let mut caches: Vec<_> = self.regexes.iter().map(|r| r.create_cache()).collect();
        for (i, text) in texts.iter().enumerate() {
            let Some(text) = text else { continue };
            for ((re, cache), &(col, label)) in self.regexes.iter().zip(&mut caches).zip(&self.lfs) {
                if re.search_half_with(cache, &regex_automata::Input::new(text).earliest(true)).is_some() {
                    block[i * m + col] = label;
                }
            }
        }
    }
}

/// A keyword LF keyed by its group (column, case sensitivity), with its matrix column.
type KeywordKey<'a> = ((String, bool), (usize, &'a KeywordLf));

/// An LF set ready to apply.
pub struct CompiledLfs {
    classes: Vec<String>,
    names: Vec<String>,
    kinds: Vec<&'static str>,
    preprocessors: Vec<Box<dyn Preprocessor>>,
    keyword_groups: Vec<KeywordGroup>,
    regex_groups: Vec<RegexGroup>,
    sql: Vec<(usize, SqlLf, CompiledSql)>,
    /// Columns of which SQL LFs read a lower-cased copy, first-seen order.
    lowered: Vec<String>,
    rows: Vec<(usize, RowLf)>,
    customs: Vec<(usize, Box<dyn LabelingFunction>)>,
}

/// Groups `(column, item)` pairs by key, keeping first-seen order of keys.
fn group_by_key<K: PartialEq + Clone, T: Copy>(items: &[(K, T)]) -> Vec<(K, Vec<T>)> {
    let mut out: Vec<(K, Vec<T>)> = Vec::new();
    for (k, t) in items {
        match out.iter_mut().find(|(g, _)| g == k) {
            Some((_, v)) => v.push(*t),
            None => out.push((k.clone(), vec![*t])),
        }
    }
    out
}

impl CompiledLfs {
    pub(crate) fn new(set: LfSet) -> Result<Self> {
        let names = set.names();
        let kinds = set.kinds();
        let mut kw: Vec<KeywordKey> = Vec::new();
        let mut rx: Vec<(String, (usize, &RegexLf))> = Vec::new();
        for (j, e) in set.entries.iter().enumerate() {
            match e {
                LfEntry::Keyword(l) => kw.push(((l.column.clone(), l.case_sensitive), (j, l))),
                LfEntry::Regex(l) => rx.push((l.column.clone(), (j, l))),
                _ => {}
            }
        }
        let keyword_groups = group_by_key(&kw)
            .into_iter()
            .map(|((col, cs), lfs)| KeywordGroup::new(&col, cs, &lfs))
            .collect::<Result<Vec<_>>>()?;
        let regex_groups = group_by_key(&rx)
            .into_iter()
            .map(|(col, lfs)| RegexGroup::new(&col, &lfs))
            .collect::<Result<Vec<_>>>()?;
        let mut sql = Vec::new();
        let mut rows = Vec::new();
        let mut customs = Vec::new();
        for (j, e) in set.entries.into_iter().enumerate() {
            match e {
                LfEntry::Sql(l) => {
                    let c = l.compile()?;
                    sql.push((j, l, c));
                }
                LfEntry::Row(l) => rows.push((j, l)),
                LfEntry::Custom(l) => customs.push((j, l)),
                LfEntry::Keyword(_) | LfEntry::Regex(_) => {}
            }
        }
        let mut lowered: Vec<String> = Vec::new();
        for c in sql.iter().flat_map(|(_, _, c)| c.lowered()) {
            if !lowered.contains(&c) {
                lowered.push(c);
            }
        }
        Ok(Self {
            classes: set.classes,
            names,
            kinds,
            preprocessors: set.preprocessors,
            keyword_groups,
            regex_groups,
            sql,
            lowered,
            rows,
            customs,
        })
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// The source columns the LFs read, for readers that load only those: the columns of keyword,
    /// regex, row and SQL LFs. `None` when preprocessors or custom LFs make it unknowable.
    pub fn input_columns(&self) -> Option<Vec<String>> {
        if !self.preprocessors.is_empty() || !self.customs.is_empty() {
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let named = self
            .keyword_groups
            .iter()
            .map(|g| g.column.clone())
            .chain(self.regex_groups.iter().map(|g| g.column.clone()))
            .chain(self.rows.iter().map(|(_, r)| r.column.clone()))
            .chain(self.sql.iter().flat_map(|(_, _, c)| c.columns()));
        for c in named {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Some(out)
    }

    /// Checks that every column an LF reads exists in `frame` or is made by a preprocessor.
    fn check_columns(&self, frame: &DataFrame) -> Result<()> {
        let made: Vec<&str> = self.preprocessors.iter().map(|p| p.name()).collect();
        let has = |c: &str| frame.column(c).is_ok() || made.contains(&c);
        let cols = self
            .keyword_groups
            .iter()
            .flat_map(|g| g.lfs.iter().map(move |l| (l.col, g.column.as_str())))
            .chain(self.regex_groups.iter().flat_map(|g| g.lfs.iter().map(move |l| (l.0, g.column.as_str()))))
            .chain(self.rows.iter().map(|(j, r)| (*j, r.column.as_str())));
        let sql_cols: Vec<(usize, String)> =
            self.sql.iter().flat_map(|(j, _, c)| c.columns().into_iter().map(move |col| (*j, col))).collect();
        let cols = cols.chain(sql_cols.iter().map(|(j, c)| (*j, c.as_str())));
        for p in &self.preprocessors {
            if frame.column(p.name()).is_ok() {
                return Err(Error::Config(format!(
                    "preprocessor `{}` would replace the data's column `{}`; give it another name",
                    p.name(),
                    p.name()
                )));
            }
        }
        for (j, c) in cols {
            if !has(c) {
                return Err(Error::lf(
                    &self.names[j],
                    format!("no column `{c}` (columns: {})", crate::data::column_list(frame)),
                ));
            }
        }
        Ok(())
    }

    /// Applies every LF to every row of `frame`.
    pub fn apply(&self, frame: &DataFrame, opts: &ApplyOptions, progress: &dyn Progress) -> Result<Applied> {
        opts.validate()?;
        self.check_columns(frame)?;
        let n = frame.height();
        let m = self.names.len();
        progress.start("applying LFs", n as u64);
        let starts: Vec<usize> = (0..n).step_by(opts.chunk_size).collect();
        let threads = opts.threads.unwrap_or_else(rayon::current_num_threads);
        let blocks = crate::parallel::map_ordered(starts.len(), threads, |k| {
            let start = starts[k];
            let len = opts.chunk_size.min(n - start);
            let out = self.apply_chunk(frame, start, len, opts.fault_tolerant);
            progress.advance(len as u64);
            out
        })?;
        progress.finish();
        let mut votes = Vec::with_capacity(n * m);
        let mut faults = vec![0u64; m];
        for (block, f) in blocks {
            votes.extend_from_slice(&block);
            faults.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        let matrix = LabelMatrix::new(votes, n, self.names.clone(), self.classes.len())?;
        tracing::debug!(rows = n, lfs = m, faults = faults.iter().sum::<u64>(), "applied LFs");
        Ok(Applied { matrix, faults })
    }

    fn apply_chunk(
        &self,
        frame: &DataFrame,
        start: usize,
        len: usize,
        tolerant: bool,
    ) -> Result<(Vec<Label>, Vec<u64>)> {
        let m = self.names.len();
        let c = self.classes.len() as Label;
        let mut chunk = frame.slice(start as i64, len);
        for p in &self.preprocessors {
            let col = catch_unwind(AssertUnwindSafe(|| p.apply(&chunk)))
                .unwrap_or_else(|e| Err(Error::Config(format!("panicked: {}", panic_message(&e)))))
                .map_err(|e| Error::Config(format!("preprocessor `{}`: {}", p.name(), bare(e))))?;
            chunk.with_column(col).map_err(|e| Error::Config(format!("preprocessor `{}`: {e}", p.name())))?;
        }
        let mut block = vec![ABSTAIN; len * m];
        let mut faults = vec![0u64; m];
        // Lower-cased copies read by the SQL LFs; a column that cannot be lower-cased is left
        // out, and its LFs fail with a message naming the column's type.
        for c in &self.lowered {
            let _ = add_lowered(&mut chunk, c);
        }
        for g in &self.keyword_groups {
            let who = || g.lfs.iter().map(|l| self.names[l.col].as_str()).collect::<Vec<_>>().join(", ");
            let shared = if g.case_sensitive { None } else { chunk.column(&lowered_name(&g.column)).ok() };
            let texts = match shared.and_then(|c| c.str().ok()) {
                Some(folded) => (folded, true),
                None => (text_column(&chunk, &g.column, &self.names[g.lfs[0].col])?, false),
            };
            catch_unwind(AssertUnwindSafe(|| g.eval(texts.0, texts.1, &mut block, m))).map_err(|p| {
                Error::lf(
                    who(),
                    format!(
                        "keyword matching panicked on rows {start}..{}: {}",
                        start + len,
                        panic_message(&p)
                    ),
                )
            })?;
        }
        for g in &self.regex_groups {
            let who = || g.lfs.iter().map(|l| self.names[l.0].as_str()).collect::<Vec<_>>().join(", ");
            let texts = text_column(&chunk, &g.column, &self.names[g.lfs[0].0])?;
            catch_unwind(AssertUnwindSafe(|| g.eval(texts, &mut block, m))).map_err(|p| {
                Error::lf(
                    who(),
                    format!(
                        "regex matching panicked on rows {start}..{}: {}",
                        start + len,
                        panic_message(&p)
                    ),
                )
            })?;
        }
        for (j, lf, compiled) in &self.sql {
            let votes = catch_unwind(AssertUnwindSafe(|| compiled.votes(&chunk, start, &lf.expr)))
                .unwrap_or_else(|p| {
                    Err(format!("panicked on rows {start}..{}: {}", start + len, panic_message(&p)))
                });
            match votes {
                Ok(v) => v.iter().enumerate().for_each(|(i, &x)| block[i * m + j] = x),
                Err(msg) if tolerant => {
                    tracing::warn!(lf = %lf.name, error = %msg, "SQL LF failed on a chunk");
                    faults[*j] += len as u64;
                }
                Err(msg) => return Err(Error::lf(&lf.name, msg)),
            }
        }
        for (j, lf) in &self.rows {
            let texts = text_column(&chunk, &lf.column, lf.name())?;
            for (i, text) in texts.iter().enumerate() {
                let Some(text) = text else { continue };
                let vote = catch_unwind(AssertUnwindSafe(|| (lf.f)(text)));
                let failure = match vote {
                    Ok(v) if v == ABSTAIN || (0..c).contains(&v) => {
                        block[i * m + j] = v;
                        None
                    }
                    Ok(v) => Some(format!("vote {v} outside -1..{c}")),
                    Err(p) => Some(format!("panicked: {}", panic_message(&p))),
                };
                if let Some(msg) = failure {
                    if !tolerant {
                        return Err(Error::lf(lf.name(), format!("row {}: {msg}", start + i)));
                    }
                    faults[*j] += 1;
                }
            }
        }
        for (j, lf) in &self.customs {
            let result = catch_unwind(AssertUnwindSafe(|| lf.apply(&chunk)));
            let failure = match result {
                Ok(Ok(v)) if v.len() != len => Some(format!("returned {} votes for {len} rows", v.len())),
                Ok(Ok(v)) => match v.iter().position(|&x| x != ABSTAIN && !(0..c).contains(&x)) {
                    Some(i) => Some(format!("row {}: vote {} outside -1..{c}", start + i, v[i])),
                    None => {
                        v.iter().enumerate().for_each(|(i, &x)| block[i * m + j] = x);
                        None
                    }
                },
                Ok(Err(e)) => Some(e.to_string()),
                Err(p) => Some(format!("panicked on rows {start}..{}: {}", start + len, panic_message(&p))),
            };
            if let Some(msg) = failure {
                if !tolerant {
                    return Err(Error::lf(&self.names[*j], msg));
                }
                faults[*j] += len as u64;
            }
        }
        Ok((block, faults))
    }
}

/// A library error's message without the prefix naming its kind.
fn bare(e: Error) -> String {
    match e {
        Error::Config(m) | Error::Lf { message: m, .. } => m,
        other => other.to_string(),
    }
}

/// Applies a single built-in LF (compiled as a set of one) to a frame.
fn apply_single(set: LfSet, frame: &DataFrame) -> Result<Vec<Label>> {
    let compiled = set.compile()?;
    let applied = compiled.apply(frame, &ApplyOptions::default(), &crate::progress::NoProgress)?;
    Ok(applied.matrix.column(0))
}

/// Classes `"0"..="label"` so a lone LF's own label is in range.
fn classes_for(label: Label) -> Vec<String> {
    (0..=label.max(1)).map(|i| i.to_string()).collect()
}

macro_rules! standalone {
    ($ty:ty, $add:ident) => {
        impl LabelingFunction for $ty {
            fn name(&self) -> &str {
                &self.name
            }
            fn apply(&self, frame: &DataFrame) -> Result<Vec<Label>> {
                let mut set = LfSet::new(classes_for(self.label))?;
                set.$add(self.clone())?;
                apply_single(set, frame)
            }
        }
    };
}
standalone!(KeywordLf, add_keyword);
standalone!(RegexLf, add_regex);
standalone!(SqlLf, add_sql);

impl std::fmt::Debug for CompiledLfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledLfs").field("classes", &self.classes).field("lfs", &self.names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(name: &str, keywords: &[&str], mode: KeywordMatch, word_boundary: bool, label: Label) -> KeywordLf {
        KeywordLf { mode, word_boundary, ..KeywordLf::new(name, keywords.iter().copied(), label) }
    }

    fn run_group(group: &KeywordGroup, texts: &[Option<&str>], m: usize) -> Vec<Label> {
        let ca = StringChunked::new("text".into(), texts);
        let mut block = vec![ABSTAIN; texts.len() * m];
        group.eval(&ca, false, &mut block, m);
        block
    }

    #[test]
    fn fold_into_lowers_like_python() {
        let mut buf = String::from("left over");
        fold_into("Check OUT", &mut buf);
        assert_eq!(buf, "check out");
        // Python: "ΟΔΟΣ Straße İ".lower() == "οδος straße i̇" (final sigma, ß kept, İ → i + U+0307).
        fold_into("ΟΔΟΣ Straße İ", &mut buf);
        assert_eq!(buf, "οδος straße i\u{307}");
    }

    #[test]
    fn word_boundaries_see_unicode_word_characters() {
        // Bytes: x 0, ' ' 1, c 2, a 3, f 4, é 5..7, _ 7, y 8, ' ' 9, é 10..12.
        let hay = "x café_y é";
        assert!(is_word_char_before(hay, 3), "'c' precedes byte 3");
        assert!(!is_word_char_before(hay, 2), "' ' precedes byte 2");
        // '_' right after the two-byte 'é' is a word character.
        assert!(is_word_char_at_end(hay, 7));
        assert!(!is_word_char_at_end(hay, 9));
        assert!(!is_word_char_at_end(hay, hay.len()));
        assert!(is_word_char_before(hay, hay.len()), "ends in é");
    }

    #[test]
    fn keyword_group_shares_patterns_and_respects_mode_and_boundaries() {
        let lfs = [
            kw("sub", &["cat"], KeywordMatch::Any, false, 0),
            kw("word", &["Cat"], KeywordMatch::Any, true, 1),
            kw("both", &["cat", "dog"], KeywordMatch::All, false, 2),
            kw("overlap", &["he", "she"], KeywordMatch::Any, true, 3),
        ];
        let with_cols: Vec<(usize, &KeywordLf)> = lfs.iter().enumerate().collect();
        let g = KeywordGroup::new("text", false, &with_cols).unwrap();
        // "cat" and "Cat" fold to one pattern, needed with and without a boundary.
        assert_eq!(g.n_patterns, 4);
        let texts = [Some("concatenate"), Some("A CAT and a dog"), Some("she said"), None, Some("the dog")];
        let m = lfs.len();
        let block = run_group(&g, &texts, m);
        let rows: Vec<&[Label]> = block.chunks(m).collect();
        assert_eq!(rows[0], [0, ABSTAIN, ABSTAIN, ABSTAIN], "substring only");
        assert_eq!(rows[1], [0, 1, 2, ABSTAIN]);
        // Overlapping matches: "he" inside "she" has no boundary before it, "she" does.
        assert_eq!(rows[2], [ABSTAIN, ABSTAIN, ABSTAIN, 3]);
        assert_eq!(rows[3], [ABSTAIN; 4], "null text abstains");
        assert_eq!(
            rows[4],
            [ABSTAIN, ABSTAIN, ABSTAIN, ABSTAIN],
            "all-mode needs every keyword; 'the' is not 'he'"
        );
    }

    #[test]
    fn case_sensitive_group_does_not_fold() {
        let lfs = [KeywordLf { case_sensitive: true, ..kw("loud", &["SONG"], KeywordMatch::Any, false, 1) }];
        let g = KeywordGroup::new("text", true, &[(0, &lfs[0])]).unwrap();
        assert_eq!(run_group(&g, &[Some("my SONG"), Some("my song")], 1), [1, ABSTAIN]);
    }

    #[test]
    fn group_by_key_keeps_first_seen_order() {
        let items = [("b", 0), ("a", 1), ("b", 2), ("c", 3), ("a", 4)];
        assert_eq!(group_by_key(&items), vec![("b", vec![0, 2]), ("a", vec![1, 4]), ("c", vec![3])]);
    }
}
