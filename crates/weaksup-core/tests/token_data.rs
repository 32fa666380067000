//! Token corpora: the COSINE-paper MIT-R folder (golden counts), CoNLL, JSON Lines and Parquet
//! loaders, scheme conversion on load, the prediction frame's round trip, and bad input.

use crate::common;

use std::path::{Path, PathBuf};

use weaksup_core::label_model::Proba;
use weaksup_core::token::data::token_frame;
use weaksup_core::token::{
    Label, TagScheme, TokenLoadOptions, evaluate_tags, load_token_corpus, load_token_files,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn files(pairs: &[(&str, &Path)]) -> Vec<(String, PathBuf)> {
    pairs.iter().map(|(s, p)| (s.to_string(), p.to_path_buf())).collect()
}

fn err(pairs: &[(&str, &Path)], opts: &TokenLoadOptions) -> String {
    load_token_files(&files(pairs), opts).expect_err("expected an error").to_string()
}

#[test]
fn mitr_folder_golden_counts_and_major_votes() {
    let Some(dir) = common::dataset("cosine/mitr") else { return };
    let c = load_token_corpus(&dir, &TokenLoadOptions::default()).unwrap();
    // Tag names from the readme's class description, in id order.
    assert_eq!(
        c.tags.tag_names(),
        ["O", "Location", "Hours", "Amenity", "Price", "Cuisine", "Dish", "Restaurant_Name", "Rating"]
    );
    assert_eq!(c.tags.scheme, TagScheme::Io);
    let names: Vec<_> = c.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(names, ["train", "valid", "test", "unlabeled"]);
    let sentences: Vec<_> = c.splits.iter().map(|s| s.n_sentences()).collect();
    assert_eq!(sentences, [4052, 1000, 1521, 2622]);
    let train = c.split("train").unwrap();
    // python: sum(len(r["label"]) for r in json.load(open("train_data.json"))) == 39554
    assert_eq!(train.n_tokens(), 39554);
    assert_eq!(train.sentence(1), ["when", "does", "taco", "bell", "close"]);
    assert_eq!(train.gold_of(1).unwrap(), [0, 0, 7, 7, 0]);
    let major = train.votes.as_ref().unwrap();
    assert_eq!(major.lf_names(), ["major"]);
    // python: sum(v != -1 for r in train for v in r["major"]) == 7822
    assert_eq!(major.votes().iter().filter(|&&v| v != -1).count(), 7822);
    // The stored majority vote, uncovered tokens read as O, against gold: the readme reports token
    // accuracy 0.1972 for majority voting with O included.
    let pred: Vec<Label> = major.votes().iter().map(|&v| v.max(0)).collect();
    let e = evaluate_tags(train.gold.as_ref().unwrap(), &pred, &train.offsets, &c.tags);
    assert!(e.token.micro.precision > 0.5 && e.span.micro.f1 > 0.0, "{e:?}");
    // As BIO: the IO runs become B-/I- chunks with the same spans.
    let bio = c.clone().convert(TagScheme::Bio).unwrap();
    assert_eq!(bio.tags.n_tags(), 17);
    let t = bio.split("train").unwrap();
    assert_eq!(bio.tags.tag_name(t.gold_of(1).unwrap()[2]), "B-Restaurant_Name");
    assert_eq!(bio.tags.tag_name(t.gold_of(1).unwrap()[3]), "I-Restaurant_Name");
    let e2 = evaluate_tags(t.gold.as_ref().unwrap(), t.gold.as_ref().unwrap(), &t.offsets, &bio.tags);
    assert_eq!(e2.span.micro.support, e.span.micro.support);
}

#[test]
fn conll_jsonl_and_parquet_agree() {
    let dir = tempfile::tempdir().unwrap();
    let conll = write(
        dir.path(),
        "train.conll",
        "-DOCSTART- -X- O\n\nJohn NNP B-PER\nlives VBZ O\nin IN O\nNew NNP B-LOC\nYork NNP I-LOC\n\nHi UH O\n",
    );
    let jsonl = write(
        dir.path(),
        "valid.jsonl",
        "{\"tokens\": [\"John\", \"lives\", \"in\", \"New\", \"York\"], \"tags\": [\"B-PER\", \"O\", \"O\", \"B-LOC\", \"I-LOC\"]}\n\n{\"tokens\": [\"Hi\"], \"tags\": [\"O\"]}\n",
    );
    let c = load_token_files(&files(&[("train", &conll), ("valid", &jsonl)]), &TokenLoadOptions::default())
        .unwrap();
    assert_eq!(c.tags.tag_names(), ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]);
    let (a, b) = (c.split("train").unwrap(), c.split("valid").unwrap());
    assert_eq!(
        (a.tokens.clone(), a.gold.clone(), a.offsets.clone()),
        (b.tokens.clone(), b.gold.clone(), b.offsets.clone())
    );
    assert_eq!(a.offsets, [0, 5, 6]);
    // Parquet written by token_frame loads back to the same tokens and tags.
    let pred: Vec<Label> = vec![1, 0, 0, 3, 3, 0];
    let proba = Proba::new(
        6,
        5,
        pred.iter().flat_map(|&p| (0..5).map(move |k| if k == p { 1.0 } else { 0.0 })).collect(),
    )
    .unwrap();
    let mut frame = token_frame(a, &c.tags, Some(&pred), Some(&proba)).unwrap();
    assert_eq!(frame.height(), 2);
    assert!(frame.column("prob_I-LOC").is_ok() && frame.column("pred").is_ok());
    let pq = dir.path().join("test.parquet");
    weaksup_core::io::write_parquet(&mut frame, &pq).unwrap();
    let back = load_token_files(&files(&[("test", &pq)]), &TokenLoadOptions::default()).unwrap();
    let t = back.split("test").unwrap();
    assert_eq!((&t.tokens, &t.offsets), (&a.tokens, &a.offsets));
    assert_eq!(back.tags.tag_names()[..3], ["O", "B-PER", "I-PER"]);
    // Converting on load: BIO -> BIOES.
    let opts = TokenLoadOptions { scheme: Some(TagScheme::Bioes), ..Default::default() };
    let c = load_token_files(&files(&[("train", &conll)]), &opts).unwrap();
    let g: Vec<String> = c.splits[0].gold.as_ref().unwrap().iter().map(|&t| c.tags.tag_name(t)).collect();
    assert_eq!(g, ["S-PER", "O", "O", "B-LOC", "E-LOC", "O"]);
    // Folder loading finds the split files by stem.
    let c = load_token_corpus(dir.path(), &TokenLoadOptions::default()).unwrap();
    let names: Vec<_> = c.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(names, ["train", "valid", "test"]);
}

#[test]
fn jsonl_votes_and_ids_with_tag_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "train.jsonl",
        "{\"tokens\": [\"cheap\", \"thai\"], \"tags\": [4, 5], \"votes\": [[4, -1], [-1, 5]]}\n",
    );
    let e = err(&[("train", &p)], &TokenLoadOptions::default());
    assert!(e.contains("pass the tag names"), "{e}");
    let names: Vec<String> =
        ["O", "Location", "Hours", "Amenity", "Price", "Cuisine"].iter().map(|s| s.to_string()).collect();
    let c = load_token_files(&files(&[("train", &p)]), &TokenLoadOptions { tags: Some(names), scheme: None })
        .unwrap();
    let v = c.splits[0].votes.as_ref().unwrap();
    assert_eq!((v.n_rows(), v.n_lfs()), (2, 2));
    assert_eq!(v.votes(), [4, -1, -1, 5]);
}

#[test]
fn bad_token_files_name_file_place_and_token() {
    let dir = tempfile::tempdir().unwrap();
    // Length mismatch in JSONL: file, line and field.
    let p = write(
        dir.path(),
        "a.jsonl",
        "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n",
    );
    let e = err(&[("train", &p)], &TokenLoadOptions::default());
    assert!(e.contains("a.jsonl:2") && e.contains("1 tags for 2 tokens") && e.contains("`tags`"), "{e}");
    // Ill-formed BIO in CoNLL: the line of the offending token.
    let p = write(dir.path(), "b.conll", "x B-PER\ny O\n\nz O\nw I-LOC\n");
    let e = err(&[("train", &p)], &TokenLoadOptions::default());
    assert!(e.contains("b.conll:5") && e.contains("token 1") && e.contains("`I-LOC` after `O`"), "{e}");
    // Unknown tag against the given tag set.
    let p = write(dir.path(), "c.conll", "x B-PER\ny B-ORG\n");
    let tags: Vec<String> = ["O", "B-PER", "I-PER"].iter().map(|s| s.to_string()).collect();
    let e = err(&[("train", &p)], &TokenLoadOptions { tags: Some(tags), scheme: None });
    assert!(e.contains("c.conll:2") && e.contains("unknown tag `B-ORG`") && e.contains("(`y`)"), "{e}");
    // A token line without its tag.
    let p = write(dir.path(), "d.conll", "x B-PER\ny\n");
    let e = err(&[("train", &p)], &TokenLoadOptions::default());
    assert!(e.contains("d.conll:2") && e.contains("needs its tag"), "{e}");
    // COSINE JSON: tags and whitespace tokens disagree.
    let p = write(
        dir.path(),
        "train_data.json",
        "[{\"text\": \"a b\", \"label\": [0], \"major\": [-1, -1], \"len\": 2}]",
    );
    let e =
        err(&[("train", &p)], &TokenLoadOptions { tags: Some(vec!["O".into(), "X".into()]), scheme: None });
    assert!(
        e.contains("train_data.json") && e.contains("row 0") && e.contains("1 tags for 2 whitespace tokens"),
        "{e}"
    );
    // A tag id outside the set.
    let p = write(
        dir.path(),
        "e.json",
        "[{\"text\": \"a b\", \"label\": [0, 9], \"major\": [-1, -1], \"len\": 2}]",
    );
    let e =
        err(&[("train", &p)], &TokenLoadOptions { tags: Some(vec!["O".into(), "X".into()]), scheme: None });
    assert!(e.contains("row 0, token 1 (`b`): tag id 9 outside 0..2"), "{e}");
    // --tags out of the scheme's order.
    let e =
        err(&[("train", &p)], &TokenLoadOptions { tags: Some(vec!["X".into(), "O".into()]), scheme: None });
    assert!(e.contains("first tag must be `O`"), "{e}");
    // A folder without train.
    let empty = tempfile::tempdir().unwrap();
    let e = load_token_corpus(empty.path(), &TokenLoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("no train file"), "{e}");
}

#[test]
fn the_task_is_judged_from_the_head_of_the_data() {
    use weaksup_core::token::is_token_data;
    let dir = tempfile::tempdir().unwrap();
    let conll = write(dir.path(), "a.conll", "x\tO\n\n");
    let cosine_cls = write(dir.path(), "c.json", "[{\"text\": \"hi\", \"label\": 1, \"major\": 0}]");
    let cosine_tok = write(dir.path(), "t.json", "[{\"text\": \"hi\", \"label\" : [0], \"major\": [-1]}]");
    let jsonl = write(dir.path(), "j.jsonl", "\n{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n");
    let jsonl_cls = write(dir.path(), "k.jsonl", "{\"text\": \"a\", \"label\": 0}\n");
    let csv = write(dir.path(), "d.csv", "text,label\nhi,0\n");
    assert!(is_token_data(&conll).unwrap());
    assert!(is_token_data(&cosine_tok).unwrap());
    assert!(is_token_data(&jsonl).unwrap());
    assert!(!is_token_data(&cosine_cls).unwrap());
    assert!(!is_token_data(&jsonl_cls).unwrap());
    assert!(!is_token_data(&csv).unwrap());
    // A glob or a missing file is left to the loader.
    assert!(!is_token_data(&dir.path().join("*.json")).unwrap());
    if let Some(mitr) = common::dataset("cosine/mitr") {
        assert!(is_token_data(&mitr).unwrap());
    }
    if let Some(trec) = common::dataset("cosine/trec") {
        assert!(!is_token_data(&trec).unwrap());
    }
}
