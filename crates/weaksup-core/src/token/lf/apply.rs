//! The compiled token LF set and its parallel applier.
//!
//! Sentences are cut into work items of at least `ApplyOptions::chunk_size` tokens (whole
//! sentences, so a chunk boundary never splits one); every item writes its own row-major block of
//! votes and blocks are concatenated in token order, so the vote matrix is bit-identical at any
//! thread count. Per sentence, all gazetteers of one case sensitivity are one Aho-Corasick pass,
//! all sentence regexes are one `RegexSet` pass (then only the LFs that matched search for their
//! spans), all token regexes one `RegexSet` pass per token.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::{Applied, ApplyOptions, SpanTag, TokenLf, TokenLfFn, TokenLfSet};
use crate::error::{Error, Result, panic_message};
use crate::lf::REGEX_SIZE_LIMIT;
use crate::matrix::{ABSTAIN, Label, LabelMatrix};
use crate::progress::Progress;
use crate::token::TokenSplit;
use crate::token::label_model::check_offsets;
use crate::token::scheme::{OUTSIDE, TagSet};

/// Gazetteers of one case sensitivity.
struct GazetteerGroup {
    case_sensitive: bool,
    ac: AhoCorasick,
    /// Per automaton pattern: the group's LFs (indices into `lfs`) that list it.
    pattern_lfs: Vec<Vec<usize>>,
    /// Column and tag of each LF of the group.
    lfs: Vec<(usize, SpanTag)>,
}

/// Sentence regexes.
struct RegexGroup {
    set: RegexSet,
    /// Column, tag, the regex and the index of its group `span`, if any.
    lfs: Vec<(usize, SpanTag, Regex, Option<usize>)>,
}

/// Whole-token regexes.
struct TokenRegexGroup {
    set: RegexSet,
    /// Column, tag, merge runs.
    lfs: Vec<(usize, SpanTag, bool)>,
}

/// A token LF set ready to apply.
pub struct CompiledTokenLfs {
    tags: TagSet,
    names: Vec<String>,
    kinds: Vec<&'static str>,
    gazetteers: Vec<GazetteerGroup>,
    regexes: Option<RegexGroup>,
    token_regexes: Option<TokenRegexGroup>,
    customs: Vec<(usize, TokenLfFn)>,
}

impl std::fmt::Debug for CompiledTokenLfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledTokenLfs").field("tags", &self.tags).field("names", &self.names).finish()
    }
}

/// Lower-cases one token into `buf` (Unicode `to_lowercase`; no allocation for ASCII).
fn push_folded(buf: &mut String, token: &str) {
    if token.is_ascii() {
        let at = buf.len();
        buf.push_str(token);
        buf[at..].make_ascii_lowercase();
    } else {
        buf.push_str(&token.to_lowercase());
    }
}

/// A gazetteer entry as the automaton sees it: words joined by single spaces, folded per word
/// the way tokens are; `None` for a blank entry.
fn normalise_entry(entry: &str, case_sensitive: bool) -> Option<String> {
    let mut out = String::new();
    for (i, w) in entry.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if case_sensitive {
            out.push_str(w);
        } else {
            push_folded(&mut out, w);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn regex(name: &str, pattern: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::lf(name, format!("bad regex: {e}")))
}

fn regex_set(names: &[&str], patterns: &[String]) -> Result<RegexSet> {
    RegexSetBuilder::new(patterns)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::lf(names.join(", "), format!("regex set: {e}")))
}

/// One sentence joined by single spaces, with each token's byte range.
#[derive(Default)]
struct Joined {
    text: String,
    starts: Vec<usize>,
    ends: Vec<usize>,
}

impl Joined {
    fn build(&mut self, tokens: &[String], fold: bool) {
        self.text.clear();
        self.starts.clear();
        self.ends.clear();
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                self.text.push(' ');
            }
            self.starts.push(self.text.len());
            if fold {
                push_folded(&mut self.text, t);
            } else {
                self.text.push_str(t);
            }
            self.ends.push(self.text.len());
        }
    }

    /// The tokens `[first, last + 1)` whose bytes are exactly `a..b`, if the range is aligned.
    fn tokens_of(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        if a >= b {
            return None;
        }
        let first = self.starts.binary_search(&a).ok()?;
        let last = self.ends.binary_search(&b).ok()?;
        (last >= first).then_some((first, last + 1))
    }
}

/// Writes one span's votes into column `col` of a block with `m` columns.
fn write_span(
    block: &mut [Label],
    m: usize,
    col: usize,
    tags: &TagSet,
    tag: SpanTag,
    start: usize,
    end: usize,
) {
    for k in start..end {
        block[k * m + col] = match tag {
            SpanTag::Outside => OUTSIDE,
            SpanTag::Type(t) => tags.span_tag(k - start, end - start, t),
        };
    }
}

/// Per-chunk scratch space.
#[derive(Default)]
struct Scratch {
    raw: Joined,
    folded: Joined,
    candidates: Vec<Vec<(usize, usize)>>,
    open: Vec<Option<usize>>,
}

impl CompiledTokenLfs {
    pub(super) fn new(set: TokenLfSet) -> Result<Self> {
        let names = set.names();
        let kinds = set.kinds();
        let mut gazetteers = Vec::new();
        for cs in [false, true] {
            let mut ids: HashMap<String, usize> = HashMap::new();
            let mut patterns: Vec<String> = Vec::new();
            let mut pattern_lfs: Vec<Vec<usize>> = Vec::new();
            let mut lfs = Vec::new();
            for (col, lf) in set.lfs.iter().enumerate() {
                let TokenLf::Gazetteer(g) = lf else { continue };
                if g.case_sensitive != cs {
                    continue;
                }
                let k = lfs.len();
                lfs.push((col, g.tag));
                for e in g.entries.iter().filter_map(|e| normalise_entry(e, cs)) {
                    let id = *ids.entry(e.clone()).or_insert_with(|| {
                        patterns.push(e);
                        pattern_lfs.push(Vec::new());
                        patterns.len() - 1
                    });
                    if pattern_lfs[id].last() != Some(&k) {
                        pattern_lfs[id].push(k);
                    }
                }
            }
            if lfs.is_empty() {
                continue;
            }
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| Error::lf(&names[lfs[0].0], format!("gazetteer automaton: {e}")))?;
            gazetteers.push(GazetteerGroup { case_sensitive: cs, ac, pattern_lfs, lfs });
        }

        let mut lfs = Vec::new();
        let (mut who, mut patterns) = (Vec::new(), Vec::new());
        for (col, lf) in set.lfs.iter().enumerate() {
            let TokenLf::Regex(r) = lf else { continue };
            let re = regex(&r.name, &r.pattern)?;
            let group = re.capture_names().position(|n| n == Some("span"));
            lfs.push((col, r.tag, re, group));
            who.push(r.name.as_str());
            patterns.push(r.pattern.clone());
        }
        let regexes =
            if lfs.is_empty() { None } else { Some(RegexGroup { set: regex_set(&who, &patterns)?, lfs }) };

        let mut lfs = Vec::new();
        let (mut who, mut patterns) = (Vec::new(), Vec::new());
        for (col, lf) in set.lfs.iter().enumerate() {
            let TokenLf::TokenRegex(r) = lf else { continue };
            regex(&r.name, &r.pattern)?;
            lfs.push((col, r.tag, r.merge));
            who.push(r.name.as_str());
            patterns.push(format!("^(?:{})$", r.pattern));
        }
        let token_regexes = if lfs.is_empty() {
            None
        } else {
            Some(TokenRegexGroup { set: regex_set(&who, &patterns)?, lfs })
        };

        let customs = set
            .lfs
            .iter()
            .enumerate()
            .filter_map(|(col, lf)| match lf {
                TokenLf::Custom { f, .. } => Some((col, f.clone())),
                _ => None,
            })
            .collect();
        Ok(Self { tags: set.tags, names, kinds, gazetteers, regexes, token_regexes, customs })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }
    pub fn tags(&self) -> &TagSet {
        &self.tags
    }

    /// Applies every LF to the split's sentences.
    pub fn apply_split(
        &self,
        split: &TokenSplit,
        opts: &ApplyOptions,
        progress: &dyn Progress,
    ) -> Result<Applied> {
        self.apply(&split.tokens, &split.offsets, opts, progress)
    }

    /// Applies every LF to every sentence (`offsets`: `n_sentences + 1` token offsets). The
    /// result has one row per token and one column per LF; its classes are the tag set's tags.
    /// Faults (fault-tolerant mode, custom LFs only) count sentences.
    pub fn apply(
        &self,
        tokens: &[String],
        offsets: &[usize],
        opts: &ApplyOptions,
        progress: &dyn Progress,
    ) -> Result<Applied> {
        opts.validate()?;
        check_offsets(offsets, tokens.len())?;
        let m = self.names.len();
        let n_sent = offsets.len() - 1;
        // Work items: runs of whole sentences of at least chunk_size tokens.
        let mut cuts = vec![0usize];
        for s in 1..n_sent {
            if offsets[s] - offsets[*cuts.last().unwrap_or(&0)] >= opts.chunk_size {
                cuts.push(s);
            }
        }
        cuts.push(n_sent);
        progress.start("applying token LFs", tokens.len() as u64);
        let threads = opts.threads.unwrap_or_else(rayon::current_num_threads);
        let blocks = crate::parallel::map_ordered(cuts.len() - 1, threads, |k| {
            let (s0, s1) = (cuts[k], cuts[k + 1]);
            let out = self.apply_chunk(tokens, offsets, s0, s1, opts.fault_tolerant);
            progress.advance((offsets[s1] - offsets[s0]) as u64);
            out
        })?;
        progress.finish();
        let mut votes = Vec::with_capacity(tokens.len() * m);
        let mut faults = vec![0u64; m];
        for (block, f) in blocks {
            votes.extend_from_slice(&block);
            faults.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        let matrix = LabelMatrix::new(votes, tokens.len(), self.names.clone(), self.tags.n_tags())?;
        tracing::debug!(
            sentences = n_sent,
            tokens = tokens.len(),
            lfs = m,
            faults = faults.iter().sum::<u64>(),
            "applied token LFs"
        );
        Ok(Applied { matrix, faults })
    }

    fn apply_chunk(
        &self,
        tokens: &[String],
        offsets: &[usize],
        s0: usize,
        s1: usize,
        tolerant: bool,
    ) -> Result<(Vec<Label>, Vec<u64>)> {
        let m = self.names.len();
        let base = offsets[s0];
        let mut block = vec![ABSTAIN; (offsets[s1] - base) * m];
        let mut faults = vec![0u64; m];
        let mut sc = Scratch::default();
        let declarative = catch_unwind(AssertUnwindSafe(|| {
            for s in s0..s1 {
                let (a, b) = (offsets[s], offsets[s + 1]);
                if a == b {
                    continue;
                }
                let toks = &tokens[a..b];
                let out = &mut block[(a - base) * m..(b - base) * m];
                self.eval_declarative(toks, out, &mut sc);
            }
        }));
        if let Err(p) = declarative {
            let who: Vec<&str> =
                (0..m).filter(|&j| self.kinds[j] != "custom").map(|j| self.names[j].as_str()).collect();
            return Err(Error::lf(
                who.join(", "),
                format!("matching panicked on sentences {s0}..{s1}: {}", panic_message(&p)),
            ));
        }
        let c = self.tags.n_tags() as Label;
        for (j, f) in &self.customs {
            for s in s0..s1 {
                let (a, b) = (offsets[s], offsets[s + 1]);
                let failure = match catch_unwind(AssertUnwindSafe(|| f(&tokens[a..b]))) {
                    Ok(v) if v.len() != b - a => {
                        Some(format!("returned {} votes for {} tokens", v.len(), b - a))
                    }
                    Ok(v) => match v.iter().position(|&x| x != ABSTAIN && !(0..c).contains(&x)) {
                        Some(i) => Some(format!("token {i}: tag {} outside -1..{c}", v[i])),
                        None => {
                            for (i, &x) in v.iter().enumerate() {
                                block[(a - base + i) * m + j] = x;
                            }
                            None
                        }
                    },
                    Err(p) => Some(format!("panicked: {}", panic_message(&p))),
                };
                if let Some(msg) = failure {
                    if !tolerant {
                        return Err(Error::lf(&self.names[*j], format!("sentence {s}: {msg}")));
                    }
                    faults[*j] += 1;
                }
            }
        }
        Ok((block, faults))
    }

    /// The declarative LFs on one sentence; `out` is its `len × m` block.
    fn eval_declarative(&self, toks: &[String], out: &mut [Label], sc: &mut Scratch) {
        let m = self.names.len();
        let tags = &self.tags;
        let raw_needed = self.regexes.is_some() || self.gazetteers.iter().any(|g| g.case_sensitive);
        if raw_needed {
            sc.raw.build(toks, false);
        }
        for g in &self.gazetteers {
            let joined = if g.case_sensitive {
                &sc.raw
            } else {
                sc.folded.build(toks, true);
                &sc.folded
            };
            sc.candidates.resize_with(g.lfs.len(), Vec::new);
            sc.candidates.iter_mut().for_each(Vec::clear);
            let mut any = false;
            for hit in g.ac.find_overlapping_iter(joined.text.as_str()) {
                let Some((first, end)) = joined.tokens_of(hit.start(), hit.end()) else { continue };
                for &k in &g.pattern_lfs[hit.pattern().as_usize()] {
                    sc.candidates[k].push((first, end));
                    any = true;
                }
            }
            if !any {
                continue;
            }
            for (k, &(col, tag)) in g.lfs.iter().enumerate() {
                let cands = &mut sc.candidates[k];
                if cands.is_empty() {
                    continue;
                }
                // Leftmost-longest, without overlaps.
                cands.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
                let mut free = 0;
                for &(a, b) in cands.iter() {
                    if a >= free {
                        write_span(out, m, col, tags, tag, a, b);
                        free = b;
                    }
                }
            }
        }
        if let Some(r) = &self.regexes {
            let text = sc.raw.text.as_str();
            for k in r.set.matches(text).iter() {
                let (col, tag, re, group) = &r.lfs[k];
                let mut take = |a: usize, b: usize| {
                    if let Some((first, end)) = sc.raw.tokens_of(a, b) {
                        write_span(out, m, *col, tags, *tag, first, end);
                    }
                };
                match group {
                    Some(g) => {
                        for caps in re.captures_iter(text) {
                            if let Some(x) = caps.get(*g) {
                                take(x.start(), x.end());
                            }
                        }
                    }
                    None => re.find_iter(text).for_each(|x| take(x.start(), x.end())),
                }
            }
        }
        if let Some(r) = &self.token_regexes {
            sc.open.clear();
            sc.open.resize(r.lfs.len(), None);
            let n = toks.len();
            for (i, t) in toks.iter().enumerate() {
                let hits = r.set.matches(t);
                for (k, &(col, tag, merge)) in r.lfs.iter().enumerate() {
                    let hit = hits.matched(k);
                    if !merge {
                        if hit {
                            write_span(out, m, col, tags, tag, i, i + 1);
                        }
                        continue;
                    }
                    match (hit, sc.open[k]) {
                        (true, None) => sc.open[k] = Some(i),
                        (false, Some(a)) => {
                            write_span(out, m, col, tags, tag, a, i);
                            sc.open[k] = None;
                        }
                        _ => {}
                    }
                }
            }
            for (k, &(col, tag, _)) in r.lfs.iter().enumerate() {
                if let Some(a) = sc.open[k] {
                    write_span(out, m, col, tags, tag, a, n);
                }
            }
        }
    }
}
