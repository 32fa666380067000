//! Labeling functions: built-in kinds on hand-made frames, LF files, the applier's determinism
//! and fault tolerance, and golden counts on WRENCH data.

use crate::common;

use std::path::Path;

use polars::prelude::*;
use weaksup_core::data::{self, demo::DemoParams};
use weaksup_core::lf::{
    ApplyOptions, FrameLf, KeywordLf, KeywordMatch, LabelingFunction, LfFile, LfSet, Lowercase, RegexLf,
    Registry, RowLf, SqlLf,
};
use weaksup_core::matrix::ABSTAIN;
use weaksup_core::progress::NoProgress;

const HAM: i16 = 0;
const SPAM: i16 = 1;

fn frame() -> DataFrame {
    df!(
        "text" => ["Check out my channel!", "I love this song", "MY VIDEO: http://x.y", "mystery novel", "Σίσυφος ΟΔΟΣ", "subscribe plz"],
        "stars" => [1i64, 5, 2, 4, 3, 1],
    )
    .unwrap()
}

fn classes() -> Vec<String> {
    vec!["HAM".into(), "SPAM".into()]
}

#[test]
fn keyword_any_all_case_and_word_boundary() {
    let f = frame();
    let any = KeywordLf::new("kw", ["my", "plz"], SPAM);
    assert_eq!(any.apply(&f).unwrap(), vec![SPAM, -1, SPAM, SPAM, -1, SPAM]);
    let wb = KeywordLf::new("kw_wb", ["my"], SPAM).word_boundary(true);
    // "mystery" no longer matches; "MY VIDEO" does after case folding.
    assert_eq!(wb.apply(&f).unwrap(), vec![SPAM, -1, SPAM, -1, -1, -1]);
    let cs = KeywordLf::new("kw_cs", ["MY"], SPAM).case_sensitive(true);
    assert_eq!(cs.apply(&f).unwrap(), vec![-1, -1, SPAM, -1, -1, -1]);
    let all = KeywordLf::new("kw_all", ["check", "channel"], SPAM).mode(KeywordMatch::All);
    assert_eq!(all.apply(&f).unwrap(), vec![SPAM, -1, -1, -1, -1, -1]);
    // Unicode lower-casing like Python: "ΟΔΟΣ".lower() == "οδος" (final sigma)
    let greek = KeywordLf::new("kw_greek", ["οδος"], HAM);
    assert_eq!(greek.apply(&f).unwrap(), vec![-1, -1, -1, -1, HAM, -1]);
    assert!(KeywordLf::new("empty", Vec::<String>::new(), SPAM).apply(&f).is_err());
}

#[test]
fn regex_sql_and_closures() {
    let f = frame();
    let re = RegexLf::new("re_url", r"(?i)https?://", SPAM);
    assert_eq!(re.apply(&f).unwrap(), vec![-1, -1, SPAM, -1, -1, -1]);
    let e = RegexLf::new("re_bad", r"(unclosed", SPAM).apply(&f).unwrap_err().to_string();
    assert!(e.contains("re_bad") && e.contains("bad regex"), "{e}");

    let short = SqlLf::new("short", "length(text) < 15", HAM);
    assert_eq!(short.apply(&f).unwrap(), vec![-1, -1, -1, HAM, HAM, HAM]);
    let stars = SqlLf::new("stars", "stars >= 4", HAM);
    assert_eq!(stars.apply(&f).unwrap(), vec![-1, HAM, -1, HAM, -1, -1]);
    let e = SqlLf::new("bad_col", "nope > 1", HAM).apply(&f).unwrap_err().to_string();
    assert!(e.contains("bad_col") && e.contains("nope"), "{e}");
    let e = SqlLf::new("bad_sql", "length(text <", HAM).apply(&f).unwrap_err().to_string();
    assert!(e.contains("bad_sql") && e.contains("cannot parse"), "{e}");

    let mut set = LfSet::new(classes()).unwrap();
    set.add_row(RowLf::new("excl", |t| if t.ends_with('!') { SPAM } else { ABSTAIN })).unwrap();
    let threshold = 3i64; // captured resource
    set.add(Box::new(FrameLf::new("stars_frame", move |df| {
        let s = df.column("stars").unwrap().i64().unwrap();
        Ok(s.iter().map(|v| if v.unwrap_or(0) > threshold { HAM } else { ABSTAIN }).collect())
    })))
    .unwrap();
    set.add_preprocessor(Box::new(Lowercase::new("lower", "text"))).unwrap();
    set.add_keyword(KeywordLf::new("kw_lower", ["my"], SPAM).column("lower").case_sensitive(true)).unwrap();
    let c = set.compile().unwrap();
    let out = c.apply(&f, &ApplyOptions::default(), &NoProgress).unwrap();
    assert_eq!(out.matrix.column(0), vec![SPAM, -1, -1, -1, -1, -1]);
    assert_eq!(out.matrix.column(1), vec![-1, HAM, -1, HAM, -1, -1]);
    assert_eq!(out.matrix.column(2), vec![SPAM, -1, SPAM, SPAM, -1, -1]);
    assert_eq!(c.kinds(), &["custom", "custom", "keyword"]);
}

#[test]
fn duplicate_names_and_missing_columns_are_errors() {
    let mut set = LfSet::new(classes()).unwrap();
    set.add_keyword(KeywordLf::new("a", ["x"], SPAM)).unwrap();
    assert!(set.add_regex(RegexLf::new("a", "x", SPAM)).unwrap_err().to_string().contains("duplicate"));
    set.add_regex(RegexLf::new("b", "x", SPAM).column("body")).unwrap();
    let e = set
        .compile()
        .unwrap()
        .apply(&frame(), &ApplyOptions::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`b`") && e.contains("no column `body`"), "{e}");
    assert!(LfSet::new(vec!["one".into()]).is_err());
}

fn demo_set() -> LfSet {
    let file = LfFile::load(&common::repo().join("labeling_functions/demo_topics.toml")).unwrap();
    let mut set = LfSet::new(file.classes().to_vec()).unwrap();
    file.add_to(&mut set, &Registry::new()).unwrap();
    set
}

#[test]
fn applier_is_bit_identical_across_threads_and_chunk_sizes() {
    let splits = data::demo_splits(&DemoParams::default()).unwrap();
    let train = splits.require("train").unwrap();
    let compiled = demo_set().compile().unwrap();
    let reference = compiled
        .apply(
            &train.frame,
            &ApplyOptions { threads: Some(1), chunk_size: 1 << 20, ..Default::default() },
            &NoProgress,
        )
        .unwrap();
    let covered = reference.matrix.rows().filter(|r| r.iter().any(|&v| v != ABSTAIN)).count();
    assert!(covered > train.len() / 2, "demo LFs cover most rows ({covered})");
    for threads in [1, 2, 4] {
        for chunk_size in [1, 7, 256, 8192] {
            let out = compiled
                .apply(
                    &train.frame,
                    &ApplyOptions { threads: Some(threads), chunk_size, ..Default::default() },
                    &NoProgress,
                )
                .unwrap();
            assert_eq!(out, reference, "threads {threads}, chunk {chunk_size}");
        }
    }
}

#[test]
fn fault_tolerant_mode_counts_panics_and_strict_mode_reports_them() {
    let f = frame();
    let build = || {
        let mut set = LfSet::new(classes()).unwrap();
        set.add_row(RowLf::new("fragile", |t| if t.contains("song") { panic!("boom") } else { HAM }))
            .unwrap();
        set.add_row(RowLf::new("out_of_range", |t| if t.contains("plz") { 7 } else { ABSTAIN })).unwrap();
        set.add(Box::new(FrameLf::new("frame_err", |_| {
            Err(weaksup_core::Error::Config("model not loaded".into()))
        })))
        .unwrap();
        set.add_keyword(KeywordLf::new("fine", ["my"], SPAM)).unwrap();
        set.compile().unwrap()
    };
    let c = build();
    let tolerant = ApplyOptions { fault_tolerant: true, chunk_size: 4, ..Default::default() };
    let out = c.apply(&f, &tolerant, &NoProgress).unwrap();
    assert_eq!(out.faults, vec![1, 1, 6, 0]);
    assert_eq!(out.matrix.column(0), vec![HAM, -1, HAM, HAM, HAM, HAM]);
    assert_eq!(out.matrix.column(1), vec![-1; 6]);
    assert_eq!(out.matrix.column(3), vec![SPAM, -1, SPAM, SPAM, -1, -1]);

    let e = c.apply(&f, &ApplyOptions::default(), &NoProgress).unwrap_err().to_string();
    assert!(e.contains("`fragile`") && e.contains("row 1") && e.contains("boom"), "{e}");
}

fn write_lf_file(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("lfs.toml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn lf_file_errors_name_file_line_and_lf() {
    let dir = tempfile::tempdir().unwrap();
    let head = "classes = [\"HAM\", \"SPAM\"]\n\n";
    let cases = [
        (
            "[[lf]]\nname = \"a\"\nkind = \"keyword\"\nlabel = \"SPAMM\"\nkeywords = [\"x\"]\n",
            "lfs.toml:3",
            "unknown label `SPAMM`",
        ),
        (
            "[[lf]]\nname = \"a\"\nkind = \"regex\"\nlabel = \"SPAM\"\npattern = \"(x\"\n",
            "lfs.toml:3",
            "bad regex",
        ),
        (
            "[[lf]]\nname = \"a\"\nkind = \"keyword\"\nlabel = \"SPAM\"\nkeywords = [\"x\"]\ncolour = 1\n",
            "lfs.toml:",
            "unknown field `colour`",
        ),
        (
            "[[lf]]\nname = \"a\"\nkind = \"keyword\"\nlabel = \"SPAM\"\npattern = \"x\"\n",
            "lfs.toml:3",
            "`pattern` does not apply",
        ),
        ("[[lf]]\nname = \"a\"\nkind = \"regex\"\nlabel = \"SPAM\"\n", "lfs.toml:3", "needs `pattern`"),
        (
            "[[lf]]\nname = \"a\"\nkind = \"sql\"\nlabel = \"SPAM\"\nexpr = \"x\"\n[[lf]]\nname = \"a\"\nkind = \"sql\"\nlabel = \"SPAM\"\nexpr = \"y\"\n",
            "lfs.toml:8",
            "duplicate LF name",
        ),
        (
            "[[lf]]\nname = \"a\"\nkind = \"custom\"\nlabel = \"SPAM\"\nfunction = \"textblob\"\n",
            "lfs.toml:3",
            "no custom function `textblob`",
        ),
        (
            "[[lf]]\nname = \"a\"\nkind = \"magic\"\nlabel = \"SPAM\"\n",
            "lfs.toml:",
            "unknown variant `magic`",
        ),
    ];
    for (body, place, msg) in cases {
        let p = write_lf_file(dir.path(), &format!("{head}{body}"));
        let e = LfFile::load_set(&[p], &Registry::new()).expect_err(msg).to_string();
        assert!(e.contains(place) && e.contains(msg), "want {place} / {msg}, got: {e}");
        if place.ends_with(":3") {
            assert!(e.contains("LF `a`"), "{e}");
        }
    }
}

#[test]
fn custom_lfs_from_a_registry_run_from_lf_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_lf_file(
        dir.path(),
        "classes = [\"HAM\", \"SPAM\"]\n[[preprocessor]]\nname = \"shout\"\nkind = \"custom\"\nfunction = \"upper\"\n\
         [[lf]]\nname = \"exclaims\"\nkind = \"custom\"\nlabel = \"SPAM\"\nfunction = \"has_bang\"\n\
         [[lf]]\nname = \"loud_song\"\nkind = \"keyword\"\nlabel = \"HAM\"\ncolumn = \"shout\"\nkeywords = [\"SONG\"]\ncase_sensitive = true\n\
         [[lf]]\nname = \"many_stars\"\nkind = \"custom\"\nlabel = \"HAM\"\nfunction = \"stars_at_least\"\nparams = { min = 4 }\n",
    );
    let registry = Registry::new()
        .with_predicate("has_bang", |t| t.contains('!'))
        .with_text_preprocessor("upper", |t| t.to_uppercase())
        .with_lf("stars_at_least", |spec| {
            let min = spec.params.get("min").and_then(|v| v.as_integer()).unwrap_or(5);
            let label = spec.label;
            Ok(Box::new(FrameLf::new(spec.name, move |df| {
                let s = df.column("stars").unwrap().i64().unwrap();
                Ok(s.iter().map(|v| if v.unwrap_or(0) >= min { label } else { ABSTAIN }).collect())
            })))
        });
    let (set, _) = LfFile::load_set(&[p], &registry).unwrap();
    let out = set.compile().unwrap().apply(&frame(), &ApplyOptions::default(), &NoProgress).unwrap();
    assert_eq!(out.matrix.column(0), vec![SPAM, -1, -1, -1, -1, -1]);
    assert_eq!(out.matrix.column(1), vec![-1, HAM, -1, -1, -1, -1]);
    assert_eq!(out.matrix.column(2), vec![-1, HAM, -1, HAM, -1, -1]);
}

#[test]
fn every_shipped_lf_file_loads() {
    let dir = common::repo().join("labeling_functions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            // Token LF files (sequence labeling) declare `types` instead of `classes`.
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            if table.contains_key("types") {
                let (set, _) = weaksup_core::token::lf::TokenLfFile::load_set(
                    std::slice::from_ref(&p),
                    None,
                    weaksup_core::token::TagScheme::Bio,
                    &Registry::new(),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                set.compile().unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            } else {
                let (set, _) = LfFile::load_set(std::slice::from_ref(&p), &Registry::new())
                    .unwrap_or_else(|e| panic!("{e}"));
                set.compile().unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
            n += 1;
        }
    }
    assert!(n >= 6, "{n} LF files");
}

#[test]
fn bench15_golden_counts_on_wrench_youtube_train() {
    let Some(dir) = common::dataset("wrench_youtube") else { return };
    let train = data::load_wrench(&dir).unwrap().require("train").unwrap().clone();
    let (set, _) =
        LfFile::load_set(&[common::repo().join("labeling_functions/youtube_bench15.toml")], &Registry::new())
            .unwrap();
    let out = set.compile().unwrap().apply(&train.frame, &ApplyOptions::default(), &NoProgress).unwrap();
    let expected = [
        ("kw_check_out", 362),
        ("kw_subscribe", 216),
        ("kw_my_channel", 117),
        ("kw_http", 199),
        ("kw_please", 170),
        ("kw_plz", 18),
        ("kw_my", 337),
        ("kw_song", 241),
        ("kw_love", 153),
        ("kw_billion", 53),
        ("re_check_out", 400),
        ("re_url", 199),
        ("re_my_channel_video", 158),
        ("re_sub", 193),
        ("re_views_billion", 117),
    ];
    for (j, (name, count)) in expected.iter().enumerate() {
        assert_eq!(&out.matrix.lf_names()[j], name);
        let fired = out.matrix.column(j).iter().filter(|&&v| v != ABSTAIN).count();
        assert_eq!(fired, *count, "{name}");
    }
}

#[test]
fn sms_and_trec_lf_files_reproduce_wrench_train_votes() {
    for (name, file) in [("wrench_sms", "sms_spam.toml"), ("wrench_trec", "trec.toml")] {
        let Some(dir) = common::dataset(name) else { return };
        let train = data::load_wrench(&dir).unwrap().require("train").unwrap().clone();
        let (set, _) =
            LfFile::load_set(&[common::repo().join("labeling_functions").join(file)], &Registry::new())
                .unwrap();
        let out = set.compile().unwrap().apply(&train.frame, &ApplyOptions::default(), &NoProgress).unwrap();
        assert_eq!(out.matrix.votes(), train.votes.as_ref().unwrap().votes(), "{file} vs {name} weak_labels");
    }
}
