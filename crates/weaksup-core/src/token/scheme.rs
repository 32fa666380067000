//! Tagging schemes and tag sets: IO, BIO (IOB2) and BIOES, conversion between them, well-formedness
//! checks, and chunking of tag sequences into spans.
//!
//! A [`TagSet`] is a scheme plus the entity types; tag ids are laid out by scheme:
//!
//! | scheme | id 0 | type `t` (0-based) |
//! |---|---|---|
//! | `io` | `O` | `1 + t` (`I-<type>`, written as the bare type name, as MIT-R does) |
//! | `bio` | `O` | `B-<type>` = `1 + 2t`, `I-<type>` = `2 + 2t` |
//! | `bioes` | `O` | `B` = `1 + 4t`, `I` = `2 + 4t`, `E` = `3 + 4t`, `S` = `4 + 4t` |
//!
//! Chunking ([`spans`]) follows seqeval: [`Chunking::Conlleval`] is seqeval's default (the
//! `conlleval` rules: an `I-X` after `O` or after another type starts a chunk), under which IO tags
//! chunk as maximal runs of one type (two adjacent entities of one type merge: IO cannot separate
//! them). [`Chunking::Strict`] is seqeval's `mode="strict"`: only well-formed chunks (`B I*` in
//! BIO, `B I* E` or `S` in BIOES) count; on IO it equals conlleval.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Label;

/// The id of the `O` (outside) tag in every scheme.
pub const OUTSIDE: Label = 0;

/// A tagging scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum TagScheme {
    /// Inside/outside only (MIT-R as the COSINE paper ships it).
    #[default]
    Io,
    /// Begin/inside/outside, IOB2 (CoNLL-2003 as usually distributed).
    #[value(alias = "iob2")]
    #[serde(alias = "iob2")]
    Bio,
    /// Begin/inside/end/single/outside.
    Bioes,
}

impl TagScheme {
    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            TagScheme::Io => "io",
            TagScheme::Bio => "bio",
            TagScheme::Bioes => "bioes",
        }
    }
    /// Tags per entity type.
    fn width(self) -> usize {
        match self {
            TagScheme::Io => 1,
            TagScheme::Bio => 2,
            TagScheme::Bioes => 4,
        }
    }
}

crate::cli_enum!(TagScheme => "tagging scheme", Chunking => "chunking");

/// The position a tag marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    O,
    B,
    I,
    E,
    S,
}

impl Prefix {
    fn letter(self) -> char {
        match self {
            Prefix::O => 'O',
            Prefix::B => 'B',
            Prefix::I => 'I',
            Prefix::E => 'E',
            Prefix::S => 'S',
        }
    }
}

/// A span of tokens `[start, end)` of one entity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// Entity type index into [`TagSet::types`].
    pub ty: usize,
}

/// How tag sequences are cut into spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Chunking {
    /// seqeval's default (`conlleval` rules): lenient, an `I-X` may open a chunk.
    #[default]
    Conlleval,
    /// seqeval `mode="strict"`: only well-formed chunks count.
    Strict,
}

/// A scheme and its entity types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSet {
    pub scheme: TagScheme,
    /// Entity types (without prefixes), in id order.
    pub types: Vec<String>,
}

impl TagSet {
    /// A tag set; types must be non-empty, unique, not `O` and without a scheme prefix.
    pub fn new(scheme: TagScheme, types: Vec<String>) -> Result<Self> {
        if types.is_empty() {
            return Err(Error::invalid("tag set", "no entity types"));
        }
        for (i, t) in types.iter().enumerate() {
            if t.is_empty() || t == "O" || types[..i].contains(t) || split_prefix(t).is_some() {
                return Err(Error::invalid(
                    "tag set",
                    format!("entity type `{t}` is empty, `O`, listed twice or carries a B-/I-/E-/S- prefix"),
                ));
            }
        }
        if 1 + types.len() * scheme.width() > Label::MAX as usize {
            return Err(Error::invalid("tag set", format!("{} entity types is too many", types.len())));
        }
        Ok(Self { scheme, types })
    }

    /// Infers the scheme and the types from a list of tag names (`O` first or anywhere; `B-`/`I-`/
    /// `E-`/`S-` prefixes, or bare type names for IO). Any `E-`/`S-` tag means BIOES, else any `B-`
    /// means BIO, else IO. Types keep their order of first appearance.
    pub fn from_tag_names(names: &[String]) -> Result<Self> {
        let mut scheme = TagScheme::Io;
        let mut types: Vec<String> = Vec::new();
        for n in names {
            if n == "O" {
                continue;
            }
            let (p, t) = split_prefix(n).unwrap_or((Prefix::I, n.as_str()));
            match p {
                Prefix::E | Prefix::S => scheme = TagScheme::Bioes,
                Prefix::B if scheme == TagScheme::Io => scheme = TagScheme::Bio,
                _ => {}
            }
            if !types.iter().any(|x| x == t) {
                types.push(t.to_owned());
            }
        }
        Self::new(scheme, types)
    }

    /// Tags in this set (including `O`).
    pub fn n_tags(&self) -> usize {
        1 + self.types.len() * self.scheme.width()
    }

    /// The id of `prefix` + type `ty`; `None` where the scheme has no such prefix.
    pub fn encode(&self, prefix: Prefix, ty: usize) -> Option<Label> {
        if prefix == Prefix::O {
            return Some(OUTSIDE);
        }
        let off = match (self.scheme, prefix) {
            (TagScheme::Io, Prefix::I) => 0,
            (TagScheme::Bio, Prefix::B) => 0,
            (TagScheme::Bio, Prefix::I) => 1,
            (TagScheme::Bioes, Prefix::B) => 0,
            (TagScheme::Bioes, Prefix::I) => 1,
            (TagScheme::Bioes, Prefix::E) => 2,
            (TagScheme::Bioes, Prefix::S) => 3,
            _ => return None,
        };
        (ty < self.types.len()).then(|| (1 + ty * self.scheme.width() + off) as Label)
    }

    /// The prefix and type of a tag id (`None` type for `O`). Ids must be below [`n_tags`](Self::n_tags).
    pub fn decode(&self, tag: Label) -> (Prefix, Option<usize>) {
        if tag <= OUTSIDE {
            return (Prefix::O, None);
        }
        let k = tag as usize - 1;
        let w = self.scheme.width();
        let prefix = match (self.scheme, k % w) {
            (TagScheme::Io, _) => Prefix::I,
            (TagScheme::Bio, 0) | (TagScheme::Bioes, 0) => Prefix::B,
            (TagScheme::Bio, _) | (TagScheme::Bioes, 1) => Prefix::I,
            (TagScheme::Bioes, 2) => Prefix::E,
            _ => Prefix::S,
        };
        (prefix, Some(k / w))
    }

    /// The entity type of a tag id (`None` for `O`).
    pub fn type_of(&self, tag: Label) -> Option<usize> {
        self.decode(tag).1
    }

    /// A tag's name: `O`, the bare type for IO, `B-<type>` etc. otherwise.
    pub fn tag_name(&self, tag: Label) -> String {
        match self.decode(tag) {
            (_, None) => "O".into(),
            (_, Some(t)) if self.scheme == TagScheme::Io => self.types[t].clone(),
            (p, Some(t)) => format!("{}-{}", p.letter(), self.types[t]),
        }
    }

    /// Every tag name in id order.
    pub fn tag_names(&self) -> Vec<String> {
        (0..self.n_tags()).map(|k| self.tag_name(k as Label)).collect()
    }

    /// The id of a tag name; IO also accepts `I-<type>`.
    pub fn parse(&self, name: &str) -> Option<Label> {
        if name == "O" {
            return Some(OUTSIDE);
        }
        let (p, t) = match split_prefix(name) {
            Some(pt) => pt,
            None if self.scheme == TagScheme::Io => (Prefix::I, name),
            None => return None,
        };
        let ty = self.types.iter().position(|x| x == t)?;
        self.encode(p, ty)
    }

    /// The same types under another scheme.
    pub fn with_scheme(&self, scheme: TagScheme) -> TagSet {
        TagSet { scheme, types: self.types.clone() }
    }

    /// The first position where `tags` is not well formed under this scheme, with why: an id
    /// outside the set, or (BIO) an `I-X` not preceded by `B-X`/`I-X`, or (BIOES) a chunk not of
    /// the form `B I* E` / `S`. IO sequences are always well formed.
    pub fn check(&self, tags: &[Label]) -> std::result::Result<(), (usize, String)> {
        let n = self.n_tags() as Label;
        if let Some(i) = tags.iter().position(|&t| t < 0 || t >= n) {
            return Err((i, format!("tag id {} outside 0..{n}", tags[i])));
        }
        let mut prev = (Prefix::O, None);
        for (i, &t) in tags.iter().enumerate() {
            let cur = self.decode(t);
            let bad = match self.scheme {
                TagScheme::Io => None,
                TagScheme::Bio => {
                    (cur.0 == Prefix::I && prev.1 != cur.1).then_some("I- without a B- of its type before it")
                }
                TagScheme::Bioes => {
                    let open = matches!(prev.0, Prefix::B | Prefix::I);
                    match cur.0 {
                        Prefix::I | Prefix::E if !open || prev.1 != cur.1 => {
                            Some("I-/E- without a B-/I- of its type before it")
                        }
                        Prefix::O | Prefix::B | Prefix::S if open => {
                            Some("chunk opened by B-/I- is not closed by E-")
                        }
                        _ => None,
                    }
                }
            };
            if let Some(why) = bad {
                return Err((i, format!("`{}` after `{}`: {why}", self.tag_name(t), self.name_of(prev))));
            }
            prev = cur;
        }
        if self.scheme == TagScheme::Bioes && matches!(prev.0, Prefix::B | Prefix::I) {
            return Err((tags.len(), "the last chunk opened by B-/I- is not closed by E-".into()));
        }
        Ok(())
    }

    fn name_of(&self, (p, t): (Prefix, Option<usize>)) -> String {
        t.and_then(|t| self.encode(p, t)).map_or_else(|| "O".into(), |id| self.tag_name(id))
    }

    /// Encodes spans (non-overlapping, sorted) as a tag sequence of length `len` in this scheme.
    pub fn encode_spans(&self, spans: &[Span], len: usize) -> Vec<Label> {
        let mut out = vec![OUTSIDE; len];
        for s in spans {
            for (k, slot) in out[s.start..s.end].iter_mut().enumerate() {
                *slot = self.span_tag(k, s.end - s.start, s.ty);
            }
        }
        out
    }

    /// The tag of token `k` (0-based) of a span of `len` tokens of type `ty` in this scheme:
    /// IO `I`; BIO `B` then `I`; BIOES `S` alone, else `B`, `I`…, `E`.
    pub fn span_tag(&self, k: usize, len: usize, ty: usize) -> Label {
        let p = match self.scheme {
            TagScheme::Io => Prefix::I,
            TagScheme::Bio if k == 0 => Prefix::B,
            TagScheme::Bio => Prefix::I,
            TagScheme::Bioes => match (k == 0, k + 1 == len) {
                (true, true) => Prefix::S,
                (true, false) => Prefix::B,
                (false, true) => Prefix::E,
                (false, false) => Prefix::I,
            },
        };
        self.encode(p, ty).unwrap_or(OUTSIDE)
    }

    /// Converts a tag sequence to `to` (same types): chunk with [`Chunking::Conlleval`], re-encode.
    /// Converting to IO merges adjacent chunks of one type.
    pub fn convert(&self, tags: &[Label], to: &TagSet) -> Result<Vec<Label>> {
        if to.types != self.types {
            return Err(Error::invalid(
                "tag conversion",
                format!("types differ: {:?} vs {:?}", self.types, to.types),
            ));
        }
        Ok(to.encode_spans(&spans(tags, self, Chunking::Conlleval), tags.len()))
    }
}

/// `B-PER` → `(B, "PER")`; also `B_PER`. `None` without a one-letter B/I/E/S prefix.
fn split_prefix(name: &str) -> Option<(Prefix, &str)> {
    let b = name.as_bytes();
    if b.len() < 3 || !(b[1] == b'-' || b[1] == b'_') {
        return None;
    }
    let p = match b[0] {
        b'B' => Prefix::B,
        b'I' => Prefix::I,
        b'E' => Prefix::E,
        b'S' => Prefix::S,
        _ => return None,
    };
    Some((p, &name[2..]))
}

/// The spans of a tag sequence. Conlleval follows seqeval's `get_entities` (`start_of_chunk` /
/// `end_of_chunk`); strict keeps only well-formed chunks.
pub fn spans(tags: &[Label], set: &TagSet, mode: Chunking) -> Vec<Span> {
    match mode {
        Chunking::Conlleval => conlleval_spans(tags, set),
        Chunking::Strict => strict_spans(tags, set),
    }
}

fn conlleval_spans(tags: &[Label], set: &TagSet) -> Vec<Span> {
    use Prefix::*;
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (start, type)
    let mut prev: (Prefix, Option<usize>) = (O, None);
    // A sentinel O closes the last chunk.
    for i in 0..=tags.len() {
        let cur = if i < tags.len() { set.decode(tags[i]) } else { (O, None) };
        let (pp, pt) = prev;
        let (cp, ct) = cur;
        let end =
            matches!(pp, E | S) || (matches!(pp, B | I) && matches!(cp, B | S | O)) || (pp != O && pt != ct);
        let start =
            matches!(cp, B | S) || (matches!(pp, E | S | O) && matches!(cp, E | I)) || (cp != O && pt != ct);
        if end && let Some((s, ty)) = open.take() {
            out.push(Span { start: s, end: i, ty });
        }
        if start {
            if let Some((s, ty)) = open.take() {
                out.push(Span { start: s, end: i, ty });
            }
            open = ct.map(|t| (i, t));
        }
        prev = cur;
    }
    out
}

fn strict_spans(tags: &[Label], set: &TagSet) -> Vec<Span> {
    use Prefix::*;
    if set.scheme == TagScheme::Io {
        return conlleval_spans(tags, set);
    }
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    for (i, &t) in tags.iter().enumerate() {
        let (p, ty) = set.decode(t);
        match (p, ty, open) {
            (B, Some(ty), _) => {
                if set.scheme == TagScheme::Bio
                    && let Some((s, oty)) = open
                {
                    out.push(Span { start: s, end: i, ty: oty });
                }
                open = Some((i, ty));
            }
            (I, Some(ty), Some((_, oty))) if ty == oty => {}
            (E, Some(ty), Some((s, oty))) if ty == oty => {
                out.push(Span { start: s, end: i + 1, ty });
                open = None;
            }
            (S, Some(ty), _) => {
                out.push(Span { start: i, end: i + 1, ty });
                open = None;
            }
            _ => {
                if set.scheme == TagScheme::Bio
                    && let Some((s, oty)) = open
                {
                    out.push(Span { start: s, end: i, ty: oty });
                }
                open = None;
            }
        }
    }
    if set.scheme == TagScheme::Bio
        && let Some((s, ty)) = open
    {
        out.push(Span { start: s, end: tags.len(), ty });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scheme: TagScheme) -> TagSet {
        TagSet::new(scheme, vec!["PER".into(), "LOC".into()]).unwrap()
    }
    fn ids(set: &TagSet, names: &str) -> Vec<Label> {
        names.split_whitespace().map(|n| set.parse(n).unwrap()).collect()
    }

    #[test]
    fn layout_and_names_round_trip() {
        for scheme in [TagScheme::Io, TagScheme::Bio, TagScheme::Bioes] {
            let s = set(scheme);
            let names = s.tag_names();
            assert_eq!(names.len(), s.n_tags());
            assert_eq!(TagSet::from_tag_names(&names).unwrap(), s);
            for (k, n) in names.iter().enumerate() {
                assert_eq!(s.parse(n), Some(k as Label), "{n}");
            }
        }
        assert_eq!(set(TagScheme::Bio).tag_names(), ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]);
        assert_eq!(set(TagScheme::Io).parse("I-LOC"), Some(2));
        assert!(TagSet::new(TagScheme::Io, vec!["B-X".into()]).is_err());
    }

    #[test]
    fn conlleval_chunks_like_seqeval() {
        // seqeval.metrics.sequence_labeling.get_entities(
        //   ["B-PER","I-PER","O","I-LOC","I-LOC","B-LOC","I-PER","O","B-PER"])
        // == [("PER",0,1),("LOC",3,4),("LOC",5,5),("PER",6,6),("PER",8,8)]  (inclusive ends)
        let s = set(TagScheme::Bio);
        let t = ids(&s, "B-PER I-PER O I-LOC I-LOC B-LOC I-PER O B-PER");
        let got: Vec<_> = spans(&t, &s, Chunking::Conlleval).iter().map(|x| (x.ty, x.start, x.end)).collect();
        assert_eq!(got, [(0, 0, 2), (1, 3, 5), (1, 5, 6), (0, 6, 7), (0, 8, 9)]);
        // Strict (seqeval mode="strict", IOB2): the I-LOC run and the stray I-PER are not chunks.
        let got: Vec<_> = spans(&t, &s, Chunking::Strict).iter().map(|x| (x.ty, x.start, x.end)).collect();
        assert_eq!(got, [(0, 0, 2), (1, 5, 6), (0, 8, 9)]);
    }

    #[test]
    fn io_chunks_are_runs_of_one_type() {
        let s = set(TagScheme::Io);
        let t = ids(&s, "PER PER LOC O LOC PER");
        let got: Vec<_> = spans(&t, &s, Chunking::Conlleval).iter().map(|x| (x.ty, x.start, x.end)).collect();
        assert_eq!(got, [(0, 0, 2), (1, 2, 3), (1, 4, 5), (0, 5, 6)]);
        assert_eq!(spans(&t, &s, Chunking::Strict), spans(&t, &s, Chunking::Conlleval));
    }

    #[test]
    fn bioes_chunks_and_conversion_round_trip() {
        let bioes = set(TagScheme::Bioes);
        let t = ids(&bioes, "B-PER E-PER S-LOC O B-LOC I-LOC E-LOC S-PER");
        assert!(bioes.check(&t).is_ok());
        let got: Vec<_> =
            spans(&t, &bioes, Chunking::Strict).iter().map(|x| (x.ty, x.start, x.end)).collect();
        assert_eq!(got, [(0, 0, 2), (1, 2, 3), (1, 4, 7), (0, 7, 8)]);
        assert_eq!(spans(&t, &bioes, Chunking::Conlleval), spans(&t, &bioes, Chunking::Strict));
        let bio = set(TagScheme::Bio);
        let as_bio = bioes.convert(&t, &bio).unwrap();
        assert_eq!(as_bio, ids(&bio, "B-PER I-PER B-LOC O B-LOC I-LOC I-LOC B-PER"));
        assert_eq!(bio.convert(&as_bio, &bioes).unwrap(), t);
        // IO cannot tell the adjacent PER/LOC apart from one another only when types match.
        let io = set(TagScheme::Io);
        assert_eq!(bio.convert(&as_bio, &io).unwrap(), ids(&io, "PER PER LOC O LOC LOC LOC PER"));
    }

    #[test]
    fn ill_formed_sequences_name_the_token() {
        let bio = set(TagScheme::Bio);
        let (i, why) = bio.check(&ids(&bio, "O B-PER I-LOC")).unwrap_err();
        assert_eq!(i, 2);
        assert!(why.contains("`I-LOC` after `B-PER`"), "{why}");
        let bioes = set(TagScheme::Bioes);
        assert_eq!(bioes.check(&ids(&bioes, "B-PER I-PER O")).unwrap_err().0, 2);
        assert_eq!(bioes.check(&ids(&bioes, "B-PER")).unwrap_err().0, 1);
        assert_eq!(bio.check(&[7]).unwrap_err().0, 0);
    }
}
