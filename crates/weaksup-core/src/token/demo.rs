//! A seeded synthetic token corpus for trying sequence labeling without data files: restaurant
//! queries ("any cheap thai food near boston") with `Cuisine`, `Location` and `Price` spans in BIO
//! tags. Some words of every type are rare or ambiguous, so rules written from the common words
//! (`labeling_functions/demo_tags.toml`) are incomplete, as real rules are.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::{TokenCorpus, TokenSplit};
use super::scheme::{Span, TagScheme, TagSet};
use crate::error::{Error, Result};

/// The demo corpus's entity types.
pub const DEMO_TYPES: [&str; 3] = ["Cuisine", "Location", "Price"];

const CUISINES: &[&str] = &[
    "thai",
    "mexican",
    "italian",
    "chinese",
    "indian",
    "greek",
    "korean",
    "french",
    "ethiopian",
    "peruvian",
    "fast food",
    "vegan",
    "sushi",
];
const LOCATIONS: &[&str] = &[
    "boston",
    "new york",
    "chicago",
    "seattle",
    "downtown",
    "near me",
    "nearby",
    "around here",
    "cambridge",
    "the north end",
];
const PRICES: &[&str] =
    &["cheap", "expensive", "affordable", "inexpensive", "pricey", "under 20 dollars", "budget"];
const OPENERS: &[&str] = &["any", "find", "show me", "i want", "is there", "where is", "looking for"];
const ARTICLES: &[&str] = &["a", "some", "the", ""];
const NOUNS: &[&str] = &["restaurant", "place", "food", "spot", "diner"];
const LINKS: &[&str] = &["in", "near", "around", "close to"];
const TAILS: &[&str] = &["", "", "please", "tonight", "with parking", "for lunch"];

/// One query: its words and the spans of its entities.
fn query(rng: &mut ChaCha8Rng) -> (Vec<String>, Vec<Span>) {
    let mut words: Vec<String> = Vec::new();
    let mut spans = Vec::new();
    let mut push = |words: &mut Vec<String>, phrase: &str, ty: Option<usize>| {
        let start = words.len();
        words.extend(phrase.split_whitespace().map(str::to_owned));
        if let Some(ty) = ty
            && words.len() > start
        {
            spans.push(Span { start, end: words.len(), ty });
        }
    };
    let pick = |rng: &mut ChaCha8Rng, list: &[&'static str]| *list.choose(rng).expect("non-empty list");
    push(&mut words, pick(rng, OPENERS), None);
    push(&mut words, pick(rng, ARTICLES), None);
    if rng.gen_bool(0.4) {
        push(&mut words, pick(rng, PRICES), Some(2));
    }
    if rng.gen_bool(0.8) {
        push(&mut words, pick(rng, CUISINES), Some(0));
    }
    push(&mut words, pick(rng, NOUNS), None);
    if rng.gen_bool(0.7) {
        let place = pick(rng, LOCATIONS);
        // "near me" and "nearby" are whole locations; cities follow a preposition.
        if !place.starts_with("near") && !place.starts_with("around") {
            push(&mut words, pick(rng, LINKS), None);
        }
        push(&mut words, place, Some(1));
    }
    push(&mut words, pick(rng, TAILS), None);
    (words, spans)
}

/// The demo corpus: `train`, `valid` and `test` splits of `n` queries each, BIO tags, seeded.
pub fn demo_token_corpus(seed: u64, n_train: usize, n_valid: usize, n_test: usize) -> Result<TokenCorpus> {
    let tags = TagSet::new(TagScheme::Bio, DEMO_TYPES.iter().map(|t| t.to_string()).collect())?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut splits = Vec::new();
    for (name, n) in [("train", n_train), ("valid", n_valid), ("test", n_test)] {
        let (mut sentences, mut gold) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let (words, spans) = query(&mut rng);
            gold.push(tags.encode_spans(&spans, words.len()));
            sentences.push(words);
        }
        splits.push(TokenSplit::from_sentences("demo_tags", name, sentences, Some(gold))?);
    }
    Ok(TokenCorpus { tags, splits })
}

/// Writes a split as CoNLL columns (token, tab, tag name; a blank line after each sentence),
/// which [`super::load_token_files`] reads back.
pub fn write_conll(split: &TokenSplit, tags: &TagSet, path: &Path) -> Result<()> {
    let gold = split
        .gold
        .as_ref()
        .ok_or_else(|| Error::invalid(split.describe(), "no gold tags to write as CoNLL"))?;
    let mut out = String::new();
    for s in 0..split.n_sentences() {
        for i in split.range(s) {
            out.push_str(&split.tokens[i]);
            out.push('\t');
            out.push_str(&tags.tag_name(gold[i]));
            out.push('\n');
        }
        out.push('\n');
    }
    crate::io::write_atomic(path, out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Chunking, spans};

    #[test]
    fn the_demo_is_seeded_well_formed_and_reads_back_from_conll() {
        let a = demo_token_corpus(7, 50, 10, 10).unwrap();
        assert_eq!(a, demo_token_corpus(7, 50, 10, 10).unwrap());
        assert_ne!(a.splits[0].tokens, demo_token_corpus(8, 50, 10, 10).unwrap().splits[0].tokens);
        let train = &a.splits[0];
        let gold = train.gold.as_ref().unwrap();
        let mut types = [0usize; 3];
        for s in 0..train.n_sentences() {
            let g = &gold[train.range(s)];
            assert!(a.tags.check(g).is_ok());
            for sp in spans(g, &a.tags, Chunking::Strict) {
                types[sp.ty] += 1;
            }
        }
        assert!(types.iter().all(|&n| n > 5), "{types:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.conll");
        write_conll(train, &a.tags, &path).unwrap();
        let back = crate::token::load_token_files(&[("train".into(), path)], &Default::default()).unwrap();
        assert_eq!(back.splits[0].tokens, train.tokens);
        assert_eq!(back.splits[0].offsets, train.offsets);
        let names = |c: &TokenCorpus, g: &[i16]| g.iter().map(|&t| c.tags.tag_name(t)).collect::<Vec<_>>();
        assert_eq!(names(&back, back.splits[0].gold.as_ref().unwrap()), names(&a, gold));
    }
}
