//! Token LFs: gazetteer / regex / token-regex / custom semantics with golden votes in IO, BIO and
//! BIOES, the parallel applier (bit-identical at any thread count and chunk size, faults), LF
//! files (errors name file, line, LF and field; nothing declarative reaches the file system) and
//! the token LF analysis against hand-counted spans.

use std::path::Path;

use weaksup_core::lf::{ApplyOptions, Registry};
use weaksup_core::progress::NoProgress;
use weaksup_core::token::lf::{
    GazetteerLf, SentenceRegexLf, SpanTag, TokenLf, TokenLfFile, TokenLfSet, TokenRegexLf, analyze_tokens,
};
use weaksup_core::token::{ABSTAIN, Label, TagScheme, TagSet};

const A: Label = ABSTAIN;

fn tags(scheme: TagScheme) -> TagSet {
    TagSet::new(scheme, vec!["LOC".into(), "FOOD".into()]).unwrap()
}

fn corpus(sentences: &[&str]) -> (Vec<String>, Vec<usize>) {
    let mut tokens = Vec::new();
    let mut offsets = vec![0];
    for s in sentences {
        tokens.extend(s.split_whitespace().map(String::from));
        offsets.push(tokens.len());
    }
    (tokens, offsets)
}

fn apply(set: TokenLfSet, sentences: &[&str], opts: &ApplyOptions) -> Vec<Vec<Label>> {
    let (tokens, offsets) = corpus(sentences);
    let applied = set.compile().unwrap().apply(&tokens, &offsets, opts, &NoProgress).unwrap();
    let m = applied.matrix.n_lfs();
    (0..m).map(|j| applied.matrix.column(j)).collect()
}

fn gazetteer(name: &str, tag: SpanTag, entries: &[&str]) -> TokenLf {
    TokenLf::Gazetteer(GazetteerLf {
        name: name.into(),
        tag,
        entries: entries.iter().map(|s| s.to_string()).collect(),
        case_sensitive: false,
    })
}

#[test]
fn gazetteer_is_leftmost_longest_on_token_boundaries_in_every_scheme() {
    // "new york pizza" holds "new york" and "york pizza": leftmost-longest keeps "new york";
    // "thai" inside "thailand" is not a token match; case is folded.
    let sentences = ["Best New York pizza in Thailand", "thai food near new york"];
    let entries = ["new york", "york pizza", "thai", "new york city"];
    // IO: LOC = 1, FOOD = 2. BIO: B-LOC 1, I-LOC 2, B-FOOD 3, I-FOOD 4.
    // BIOES: B-LOC 1, I-LOC 2, E-LOC 3, S-LOC 4.
    let want = [
        (TagScheme::Io, vec![A, 1, 1, A, A, A, 1, A, A, 1, 1]),
        (TagScheme::Bio, vec![A, 1, 2, A, A, A, 1, A, A, 1, 2]),
        (TagScheme::Bioes, vec![A, 1, 3, A, A, A, 4, A, A, 1, 3]),
    ];
    for (scheme, expected) in want {
        let mut set = TokenLfSet::new(tags(scheme));
        set.add(gazetteer("places", SpanTag::Type(0), &entries)).unwrap();
        let cols = apply(set, &sentences, &ApplyOptions::default());
        assert_eq!(cols[0], expected, "{scheme:?}");
    }
    // Case-sensitive: only the exact spelling.
    let mut set = TokenLfSet::new(tags(TagScheme::Io));
    set.add(TokenLf::Gazetteer(GazetteerLf {
        name: "cs".into(),
        tag: SpanTag::Type(1),
        entries: vec!["Thai".into(), "pizza".into()],
        case_sensitive: true,
    }))
    .unwrap();
    let cols = apply(set, &["Thai pizza", "thai Pizza"], &ApplyOptions::default());
    assert_eq!(cols[0], [2, 2, A, A]);
}

#[test]
fn two_gazetteers_sharing_entries_each_vote_and_o_is_a_vote() {
    let mut set = TokenLfSet::new(tags(TagScheme::Bio));
    set.add(gazetteer("a", SpanTag::Type(1), &["pad thai", "thai"])).unwrap();
    set.add(gazetteer("b", SpanTag::Type(0), &["thai"])).unwrap();
    set.add(gazetteer("stop", SpanTag::Outside, &["the", "a"])).unwrap();
    let cols = apply(set, &["the pad thai a thai"], &ApplyOptions::default());
    assert_eq!(cols[0], [A, 3, 4, A, 3]);
    assert_eq!(cols[1], [A, A, 1, A, 1]);
    assert_eq!(cols[2], [0, A, A, 0, A]);
}

#[test]
fn sentence_regex_uses_its_span_group_and_ignores_matches_inside_tokens() {
    let mut set = TokenLfSet::new(tags(TagScheme::Bio));
    set.add(TokenLf::Regex(SentenceRegexLf {
        name: "near".into(),
        tag: SpanTag::Type(0),
        pattern: r"(?i)\b(?:near|in) (?P<span>[a-z]+(?: [a-z]+)?) (?:please|now)".into(),
    }))
    .unwrap();
    set.add(TokenLf::Regex(SentenceRegexLf {
        name: "stars".into(),
        tag: SpanTag::Type(1),
        // "5-star" holds "star" inside a token: not a vote; "4 stars" is two tokens.
        pattern: r"\d+ stars?|star".into(),
    }))
    .unwrap();
    let cols = apply(
        set,
        &["pizza near central park please", "5-star food in Boston now", "4 stars"],
        &ApplyOptions::default(),
    );
    assert_eq!(cols[0], [A, A, 1, 2, A, A, A, A, 1, A, A, A]);
    assert_eq!(cols[1], [A, A, A, A, A, A, A, A, A, A, 3, 4]);
}

#[test]
fn token_regex_matches_whole_tokens_and_merges_runs_on_request() {
    let mk = |merge| {
        let mut set = TokenLfSet::new(tags(TagScheme::Bio));
        set.add(TokenLf::TokenRegex(TokenRegexLf {
            name: "num".into(),
            tag: SpanTag::Type(1),
            pattern: r"\d+|\$\d+".into(),
            merge,
        }))
        .unwrap();
        apply(set, &["under $20 12 30x 7", "5"], &ApplyOptions::default())
    };
    // "30x" is not a whole-token match.
    assert_eq!(mk(false)[0], [A, 3, 3, A, 3, 3]);
    assert_eq!(mk(true)[0], [A, 3, 4, A, 3, 3]);
}

#[test]
fn votes_are_bit_identical_at_any_thread_count_and_chunk_size() {
    let words = ["new", "york", "pizza", "thai", "near", "me", "cheap", "food", "12", "boston"];
    let mut state = 7u64;
    let sentences: Vec<String> = (0..3000)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (state >> 60) as usize;
            (0..len).map(|k| words[((state >> (k * 4 + 2)) % 10) as usize]).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let build = || {
        let mut set = TokenLfSet::new(tags(TagScheme::Bioes));
        set.add(gazetteer("g", SpanTag::Type(0), &["new york", "boston", "york"])).unwrap();
        set.add(TokenLf::Regex(SentenceRegexLf {
            name: "r".into(),
            tag: SpanTag::Type(1),
            pattern: r"(?:thai|cheap) (?P<span>food|pizza)".into(),
        }))
        .unwrap();
        set.add(TokenLf::TokenRegex(TokenRegexLf {
            name: "t".into(),
            tag: SpanTag::Type(1),
            pattern: r"\d+".into(),
            merge: true,
        }))
        .unwrap();
        set.add_custom("c", |t: &[String]| t.iter().map(|w| if w == "me" { 0 } else { ABSTAIN }).collect())
            .unwrap();
        set
    };
    let base =
        apply(build(), &refs, &ApplyOptions { chunk_size: 1 << 20, threads: Some(1), ..Default::default() });
    assert!(base.iter().all(|c| c.iter().any(|&v| v != A)), "every LF fires somewhere");
    for (chunk, threads) in [(1, 2), (7, 2), (100, 1), (100, 2)] {
        let got = apply(
            build(),
            &refs,
            &ApplyOptions { chunk_size: chunk, threads: Some(threads), ..Default::default() },
        );
        assert_eq!(got, base, "chunk {chunk}, threads {threads}");
    }
}

#[test]
fn custom_lf_failures_name_the_lf_and_sentence_or_count_as_faults() {
    let (tokens, offsets) = corpus(&["a b", "boom", "c d e", "short"]);
    let f = |t: &[String]| -> Vec<Label> {
        match t[0].as_str() {
            "boom" => panic!("kaboom"),
            "short" => vec![1, 1],
            "c" => vec![1, 99, 0],
            _ => vec![1; t.len()],
        }
    };
    let mut set = TokenLfSet::new(tags(TagScheme::Io));
    set.add_custom("risky", f).unwrap();
    let compiled = set.compile().unwrap();
    let e = compiled.apply(&tokens, &offsets, &ApplyOptions::default(), &NoProgress).unwrap_err().to_string();
    assert!(e.contains("risky") && e.contains("sentence 1") && e.contains("kaboom"), "{e}");
    let tolerant = ApplyOptions { fault_tolerant: true, ..Default::default() };
    let applied = compiled.apply(&tokens, &offsets, &tolerant, &NoProgress).unwrap();
    assert_eq!(applied.faults, [3]);
    assert_eq!(applied.matrix.column(0), [1, 1, A, A, A, A, A]);
    // Bad offsets are an error, not a panic.
    let e = compiled.apply(&tokens, &[0, 3, 2, 7], &ApplyOptions::default(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("offsets"), "{e}");
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("lfs.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const FILE: &str = r#"
name = "food"
types = ["LOC", "FOOD"]

[[lf]]
name = "cities"
kind = "gazetteer"
tag = "LOC"
entries = ["new york", "boston"]

[[lf]]
name = "dish"
kind = "regex"
tag = "FOOD"
pattern = '(?i)\b(?P<span>pizza|pad thai)\b'

[[lf]]
name = "price"
kind = "token_regex"
tag = "O"
pattern = '\$\d+'

[[lf]]
name = "me"
kind = "custom"
function = "me_is_loc"
"#;

#[test]
fn lf_file_builds_against_the_corpus_tag_set_and_custom_lfs_come_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), FILE);
    let registry = Registry::new().with_token_lf_factory("me_is_loc", |spec| {
        let loc = spec.tags.parse("B-LOC").unwrap_or(1);
        Ok(std::sync::Arc::new(move |t: &[String]| {
            t.iter().map(|w| if w == "me" { loc } else { ABSTAIN }).collect()
        }))
    });
    // The corpus has its types in another order and one more; votes use the corpus's ids.
    let corpus_tags = TagSet::new(TagScheme::Bio, vec!["FOOD".into(), "MISC".into(), "LOC".into()]).unwrap();
    let (set, files) =
        TokenLfFile::load_set(std::slice::from_ref(&path), Some(&corpus_tags), TagScheme::Io, &registry)
            .unwrap();
    assert_eq!(files[0].lfs().iter().map(|l| l.line).collect::<Vec<_>>(), [5, 11, 17, 23]);
    assert_eq!(set.kinds(), ["gazetteer", "regex", "token_regex", "custom"]);
    let cols = apply(set, &["pad thai near me in new york for $12"], &ApplyOptions::default());
    // B-FOOD 1, I-FOOD 2, B-LOC 5, I-LOC 6.
    assert_eq!(cols[0], [A, A, A, A, A, 5, 6, A, A]);
    assert_eq!(cols[1], [1, 2, A, A, A, A, A, A, A]);
    assert_eq!(cols[2], [A, A, A, A, A, A, A, A, 0]);
    assert_eq!(cols[3], [A, A, A, 5, A, A, A, A, A]);
    // Without a corpus tag set: the file's types under the given scheme.
    let (set, _) = TokenLfFile::load_set(&[path], None, TagScheme::Io, &registry).unwrap();
    assert_eq!(set.tags().tag_names(), ["O", "LOC", "FOOD"]);
}

#[test]
fn lf_file_errors_name_file_line_lf_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let corpus_tags = tags(TagScheme::Io);
    let err = |text: &str| {
        let p = write(dir.path(), text);
        TokenLfFile::load_set(&[p], Some(&corpus_tags), TagScheme::Io, &registry).unwrap_err().to_string()
    };
    let head = "types = [\"LOC\", \"FOOD\"]\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "[[lf]]\nname = \"x\"\nkind = \"gazetteer\"\ntag = \"PER\"\nentries = [\"a\"]\n",
            &["lfs.toml:2", "`x`", "tag", "unknown tag `PER`"],
        ),
        (
            "[[lf]]\nname = \"x\"\nkind = \"gazetteer\"\ntag = \"LOC\"\npattern = \"a\"\nentries = [\"a\"]\n",
            &["lfs.toml:2", "pattern", "does not apply"],
        ),
        ("[[lf]]\nname = \"x\"\nkind = \"regex\"\ntag = \"LOC\"\n", &["lfs.toml:2", "needs `pattern`"]),
        (
            "[[lf]]\nname = \"x\"\nkind = \"regex\"\ntag = \"LOC\"\npattern = \"(\"\n",
            &["lfs.toml:2", "`x`", "bad regex"],
        ),
        (
            "[[lf]]\nname = \"x\"\nkind = \"regex\"\ntag = \"LOC\"\npattern = \"a*\"\n",
            &["lfs.toml:2", "empty string"],
        ),
        (
            "[[lf]]\nname = \"x\"\nkind = \"custom\"\nfunction = \"nope\"\n",
            &["lfs.toml:2", "`x`", "no custom token LF function `nope`"],
        ),
        (
            "[[lf]]\nname = \"x\"\nkind = \"gazetteer\"\ntag = \"LOC\"\nentries = [\" \"]\n",
            &["lfs.toml:2", "non-blank"],
        ),
        // Nothing declarative may point at a file: there is no such key.
        (
            "[[lf]]\nname = \"x\"\nkind = \"gazetteer\"\ntag = \"LOC\"\nentries_file = \"/etc/passwd\"\n",
            &["lfs.toml:6", "entries_file"],
        ),
        ("[[lf]]\nname = \"x\"\nkind = \"shell\"\ntag = \"LOC\"\n", &["lfs.toml:4", "shell"]),
        (
            "[[lf]]\nname = \"x y\"\nkind = \"regex\"\ntag = \"LOC\"\npattern = \"a\"\n",
            &["lfs.toml:2", "names use only"],
        ),
    ];
    for (body, needles) in cases {
        let e = err(&format!("{head}{body}"));
        for n in *needles {
            assert!(e.contains(n), "`{n}` missing from: {e}");
        }
    }
    let e = err(
        "types = [\"LOC\", \"PER\"]\n[[lf]]\nname = \"x\"\nkind = \"regex\"\ntag = \"PER\"\npattern = \"a\"\n",
    );
    assert!(e.contains("types") && e.contains("`PER` is not among the corpus's types"), "{e}");
    let e = err(
        "types = [\"LOC\", \"LOC\"]\n[[lf]]\nname = \"x\"\nkind = \"regex\"\ntag = \"LOC\"\npattern = \"a\"\n",
    );
    assert!(e.contains("types") && e.contains("`LOC`"), "{e}");
}

#[test]
fn analysis_counts_spans_precision_and_recall_against_gold() {
    // BIO; gold: [B-LOC I-LOC O B-FOOD] [B-FOOD O].
    let t = tags(TagScheme::Bio);
    let gold: Vec<Label> = vec![1, 2, 0, 3, 3, 0];
    let offsets = [0, 4, 6];
    // LF 0 marks "B-LOC I-LOC" (exact) and a one-token LOC at token 4 (wrong): 2 spans, 1 correct;
    // gold LOC spans: 1, found 1 → recall 1.0.
    // LF 1 marks FOOD at 3 (exact) and nothing else: precision 1, recall 1/2.
    // LF 2 votes O on token 2: no spans.
    let cols: Vec<Vec<Label>> = vec![vec![1, 2, A, A, 1, A], vec![A, A, A, 3, A, A], vec![A, A, 0, A, A, A]];
    let m =
        weaksup_core::token::LabelMatrix::from_columns(&cols, vec!["a".into(), "b".into(), "c".into()], 5)
            .unwrap();
    let an = analyze_tokens(&m, &offsets, &t, Some(&gold), None, None);
    assert_eq!(an.gold_spans, Some(vec![1, 2]));
    let (a, b, c) = (&an.lfs[0], &an.lfs[1], &an.lfs[2]);
    assert_eq!((a.spans, a.span_correct, a.types.as_slice()), (2, Some(1), &[0][..]));
    assert_eq!((a.span_precision, a.span_recall), (Some(0.5), Some(1.0)));
    assert_eq!((b.spans, b.span_precision, b.span_recall), (1, Some(1.0), Some(0.5)));
    assert_eq!((c.spans, c.span_precision, c.span_recall), (0, None, None));
    // Token level as Snorkel: LF 0 votes 3 tokens, 2 of them right (token 4 is B-FOOD).
    assert_eq!(a.tokens.emp_acc, Some(2.0 / 3.0));
    assert_eq!(c.tokens.emp_acc, Some(1.0));
    // 2 of 3 gold spans are found by some LF; 6 tokens, 5 voted (not token 5).
    assert_eq!(an.span_recall, Some(2.0 / 3.0));
    assert!((an.coverage - 5.0 / 6.0).abs() < 1e-12);
    let table = an.to_table(&t);
    assert!(table.contains("span_precision") && table.contains("gold spans 3"), "{table}");
}
