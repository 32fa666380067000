//! Loaders on the shared WRENCH / COSINE / UCI files (golden row counts) and on bad files.

use crate::common;

use std::path::Path;

use weaksup_core::data::{self, Format, LoadOptions};
use weaksup_core::lf::analyze;

fn load(path: &Path, opts: &LoadOptions) -> weaksup_core::Result<data::Splits> {
    data::load(path, opts)
}

fn err(path: &Path, opts: &LoadOptions) -> String {
    load(path, opts).expect_err("expected an error").to_string()
}

#[test]
fn wrench_youtube_sms_trec_golden_shapes() {
    for (name, rows, m, c) in [
        ("wrench_youtube", [1686, 120, 250], 10, 2),
        ("wrench_sms", [4571, 500, 500], 73, 2),
        ("wrench_trec", [5033, 500, 500], 68, 6),
    ] {
        let Some(dir) = common::dataset(name) else { return };
        let splits = data::load_wrench(&dir).unwrap();
        assert_eq!(splits.names(), vec!["train", "valid", "test"], "{name}");
        for (ds, n) in splits.splits.iter().zip(rows) {
            assert_eq!(ds.len(), n, "{name} {}", ds.split);
            assert_eq!(ds.classes.len(), c);
            let v = ds.votes.as_ref().unwrap();
            assert_eq!((v.n_rows(), v.n_lfs()), (n, m), "{name} {}", ds.split);
            assert_eq!(ds.gold().unwrap().iter().filter(|g| g.is_some()).count(), n);
        }
    }
}

#[test]
fn wrench_youtube_file_order_and_coverage() {
    let Some(dir) = common::dataset("wrench_youtube") else { return };
    let splits = data::load_wrench(&dir).unwrap();
    let train = splits.require("train").unwrap();
    assert_eq!(train.classes, vec!["HAM", "SPAM"]);
    // Row "0" of train.json: label 1, weak_labels [-1,-1,1,-1,-1,-1,-1,-1,-1,-1], text starts "pls http://"
    assert!(train.texts().unwrap().get(0).unwrap().starts_with("pls http://www10.vakinha"));
    assert_eq!(train.gold().unwrap()[0], Some(1));
    assert_eq!(train.votes.as_ref().unwrap().row(0), &[-1, -1, 1, -1, -1, -1, -1, -1, -1, -1]);
    // SOURCE.md: coverage (>= 1 non-abstain) train 0.893, valid 0.875, test 0.928.
    for (split, cov) in [("train", 0.893), ("valid", 0.875), ("test", 0.928)] {
        let ds = splits.require(split).unwrap();
        let a = analyze(ds.votes.as_ref().unwrap(), ds.gold().as_deref(), None, None);
        assert!((a.coverage - cov).abs() < 5e-4, "{split}: {}", a.coverage);
    }
}

#[test]
fn wrench_single_split_file_and_relation_fields() {
    let Some(dir) = common::dataset("wrench_chemprot") else { return };
    // chemprot has no train split: the folder loads valid + test.
    let splits = data::load_wrench(&dir).unwrap();
    assert_eq!(splits.names(), vec!["valid", "test"]);
    let valid = splits.require("valid").unwrap();
    assert_eq!(valid.len(), 1607);
    assert_eq!(valid.classes.len(), 10);
    assert_eq!(valid.votes.as_ref().unwrap().n_lfs(), 26);
    for c in ["entity1", "entity2", "span1_start", "span1_end", "span2_start", "span2_end"] {
        assert!(valid.frame.column(c).is_ok(), "{c}");
    }
    // First row (id 12409): span1 [96, 117] = "BK Channel β1-Subunit"
    let s1 = valid.frame.column("span1_start").unwrap().i64().unwrap().get(0);
    assert_eq!(s1, Some(96));
    assert!(splits.require("train").unwrap_err().to_string().contains("no split `train`"));

    let one = load(&dir.join("test.json"), &LoadOptions::default()).unwrap();
    assert_eq!(one.names(), vec!["test"]);
    assert_eq!(one.splits[0].len(), 1607);
}

#[test]
fn cosine_paper_files() {
    let Some(dir) = common::dataset("cosine") else { return };
    let train = load(&dir.join("trec/train_data.json"), &LoadOptions::default()).unwrap();
    let ds = &train.splits[0];
    assert_eq!(ds.split, "train_data");
    assert_eq!(ds.len(), 4585);
    assert_eq!(ds.classes.len(), 6);
    let v = ds.votes.as_ref().unwrap();
    assert_eq!(v.lf_names(), &["major".to_string()]);
    // SOURCE.md: trec train weak coverage 1.000, MV accuracy on covered 0.540
    let a = analyze(v, ds.gold().as_deref(), None, None);
    assert_eq!(a.coverage, 1.0);
    assert!((a.lfs[0].emp_acc.unwrap() - 0.540).abs() < 5e-4, "{:?}", a.lfs[0].emp_acc);

    let unl = load(&dir.join("trec/unlabeled_data.json"), &LoadOptions::default()).unwrap();
    let ds = &unl.splits[0];
    assert_eq!(ds.len(), 242);
    assert_eq!(ds.classes.len(), 6, "class count from the sibling train file");
    assert!(ds.gold().is_none(), "placeholder labels are dropped: no gold at all");

    let e = err(&dir.join("mitr/train_data.json"), &LoadOptions::default());
    assert!(e.contains("token-level"), "{e}");
}

#[test]
fn cosine_wic_pairs_and_relation_inputs() {
    use data::{ModelInput, model_texts};
    let Some(dir) = common::dataset("cosine") else { return };
    let wic = load(&dir.join("wic"), &LoadOptions::default()).unwrap();
    assert_eq!(wic.names(), vec!["train", "valid", "test", "unlabeled"]);
    let rows: Vec<usize> = wic.splits.iter().map(|d| d.len()).collect();
    assert_eq!(rows, [3442, 638, 1400, 1986], "SOURCE.md row counts");
    assert!(wic.splits[3].gold().is_none(), "the unlabeled split keeps no gold");
    let train = &wic.splits[0];
    assert_eq!(train.classes, ["false", "true"]);
    // Python: sum(r["rule_label"] == r["label"] for r in rows) / len(rows) == 0.92853 on train.
    let a = analyze(train.votes.as_ref().unwrap(), train.gold().as_deref(), None, None);
    assert!((a.lfs[0].emp_acc.unwrap() - 0.928530).abs() < 1e-5, "{:?}", a.lfs[0].emp_acc);
    let t = model_texts(&train.frame, ModelInput::Pair, "wic").unwrap();
    // Row 0: {"word": "run", "sentence1": "Run rogue.", "sentence2": "She ran 10 miles that day.",
    //         "start1": 0, "end1": 3, "start2": 4, "end2": 7}
    assert_eq!(t.first[0], "[E1] Run [/E1] rogue.");
    assert_eq!(t.second.as_ref().unwrap()[0], "She [E2] ran [/E2] 10 miles that day.");
    assert_eq!(
        model_texts(&train.frame, ModelInput::Text, "wic").unwrap().first[0],
        "Run rogue. She ran 10 miles that day."
    );
    // A single WiC file is told from a WRENCH split by its `sentence1` field.
    let one = load(&dir.join("wic/dev_data.json"), &LoadOptions::default()).unwrap();
    assert_eq!(one.splits[0].len(), 638);
    // The text input has no pair columns to mark; a relation needs entities.
    let e = model_texts(&train.frame, ModelInput::Relation, "wic").unwrap_err().to_string();
    assert!(e.contains("row 0") && e.contains("found 0"), "{e}");

    // ChemProt (COSINE paper): inline tags; CHEMICAL is entity 1, GENE entity 2.
    let chem = load(&dir.join("chemprot/dev_data.json"), &LoadOptions::default()).unwrap();
    let t = model_texts(&chem.splits[0].frame, ModelInput::Relation, "chemprot").unwrap();
    assert_eq!(t.len(), 1607);
    for (i, m) in t.first.iter().enumerate() {
        for marker in data::ENTITY_MARKERS {
            assert_eq!(m.matches(marker).count(), 1, "row {i}: {m}");
        }
        assert!(!m.contains("CHEMICAL]") && !m.contains("GENE]"), "row {i}: {m}");
    }
}

#[test]
fn wrench_relation_spans_become_markers() {
    use data::{ModelInput, model_texts};
    let Some(dir) = common::dataset("wrench_chemprot") else { return };
    let s = load(&dir.join("valid.json"), &LoadOptions::default()).unwrap();
    let t = model_texts(&s.splits[0].frame, ModelInput::Relation, "chemprot").unwrap();
    // Row "0": entity1 'BK Channel β1-Subunit' (span1 [96, 117], character offsets), entity2
    // 'Steroid' (span2 [64, 71]).
    assert!(
        t.first[0].contains(
            "Cholane [E2] Steroid [/E2]-Recognition Site in the [E1] BK Channel β1-Subunit [/E1] by"
        ),
        "{}",
        t.first[0]
    );
    assert!(t.first.iter().all(|m| data::ENTITY_MARKERS.iter().all(|k| m.contains(k))));
}

#[test]
fn bad_pair_and_relation_rows_name_line_row_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pairs.json");
    std::fs::write(
        &p,
        "{\"sentence1\": \"a b\", \"sentence2\": \"c d\", \"label\": true, \"rule_label\": false, \"start1\": 0, \"end1\": 1, \"start2\": 0, \"end2\": 1}\n{\"sentence1\": \"x\"}\n",
    )
    .unwrap();
    let e = err(&p, &LoadOptions::default());
    assert!(
        e.contains("pairs.json:2:") && e.contains("missing field `sentence2`") && !e.contains("line 1"),
        "{e}"
    );
    std::fs::write(
        &p,
        "{\"sentence1\": \"a b\", \"sentence2\": \"c d\", \"label\": true, \"rule_label\": null, \"start1\": 0, \"end1\": 9, \"start2\": 0, \"end2\": 1}\n",
    )
    .unwrap();
    let s = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(
        s.splits[0].votes.as_ref().unwrap().row(0),
        [weaksup_core::ABSTAIN],
        "null rule_label abstains"
    );
    let e =
        data::model_texts(&s.splits[0].frame, data::ModelInput::Pair, "pairs.json").unwrap_err().to_string();
    assert!(
        e.contains("pairs.json") && e.contains("row 0") && e.contains("start1/end1") && e.contains("outside"),
        "{e}"
    );
}

#[test]
fn uci_youtube_csv_with_bom_and_column_mapping() {
    let Some(dir) = common::dataset("youtube_spam_raw") else { return };
    let path = dir.join("Youtube01-Psy.csv");
    let opts =
        LoadOptions { text_col: "CONTENT".into(), label_col: Some("CLASS".into()), ..LoadOptions::default() };
    let s = load(&path, &opts).unwrap();
    let ds = &s.splits[0];
    assert_eq!(ds.len(), 350);
    assert_eq!(ds.classes, vec!["0", "1"]);
    let gold = ds.gold().unwrap();
    assert_eq!(gold.iter().filter(|g| **g == Some(1)).count(), 175);
    assert!(ds.frame.column("COMMENT_ID").is_ok(), "BOM stripped from the first header");
    assert!(ds.frame.column("AUTHOR").is_ok());
    assert!(ds.texts().unwrap().get(0).unwrap().starts_with("Huh, anyway check out"));

    let named = LoadOptions { classes: Some(vec!["HAM".into(), "SPAM".into()]), ..opts.clone() };
    assert_eq!(load(&path, &named).unwrap().splits[0].classes, vec!["HAM", "SPAM"]);

    let e = err(&path, &LoadOptions { text_col: "BODY".into(), ..opts });
    assert!(e.contains("no column `BODY`") && e.contains("CONTENT"), "{e}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn tabular_formats_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let csv =
        write(dir.path(), "d.csv", b"text,label,stars\nhello world,pos,5\n\"bad, really\",neg,1\nmeh,,3\n");
    let s = load(&csv, &LoadOptions::default()).unwrap();
    let ds = &s.splits[0];
    assert_eq!(ds.classes, vec!["neg", "pos"], "sorted label names");
    assert_eq!(ds.gold().unwrap(), vec![Some(1), Some(0), None]);
    assert_eq!(ds.texts().unwrap().get(1), Some("bad, really"));

    // Parquet and CSV writers round-trip the frame.
    let mut frame = ds.frame.clone();
    let pq = dir.path().join("d.parquet");
    data::write_frame(&mut frame, &pq).unwrap();
    let back =
        load(&pq, &LoadOptions { classes: Some(ds.classes.clone()), ..LoadOptions::default() }).unwrap();
    assert!(back.splits[0].frame.equals_missing(&ds.frame));
    let csv2 = dir.path().join("d2.csv");
    data::write_frame(&mut frame, &csv2).unwrap();
    let back =
        load(&csv2, &LoadOptions { classes: Some(ds.classes.clone()), ..LoadOptions::default() }).unwrap();
    assert!(back.splits[0].frame.equals_missing(&ds.frame));

    let jsonl = write(dir.path(), "d.jsonl", b"{\"body\": \"a\", \"y\": 1}\n{\"body\": \"b\", \"y\": 0}\n");
    let opts = LoadOptions { text_col: "body".into(), label_col: Some("y".into()), ..LoadOptions::default() };
    let s = load(&jsonl, &opts).unwrap();
    assert_eq!(s.splits[0].gold().unwrap(), vec![Some(1), Some(0)]);
    assert_eq!(s.splits[0].classes, vec!["0", "1"]);
}

#[test]
fn bad_inputs_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let opts = LoadOptions::default();

    let e = err(&d.join("nope.csv"), &opts);
    assert!(e.contains("nope.csv"), "{e}");

    let p = write(d, "ragged.csv", b"text,label\na,0\nb,1,extra\nc,0\n");
    let e = err(&p, &opts);
    assert!(e.contains("ragged.csv:3") && e.contains("3 fields"), "{e}");

    let p = write(d, "latin1.csv", b"text,label\nok,0\ncaf\xe9,1\n");
    let e = err(&p, &opts);
    assert!(e.contains("latin1.csv:3") && e.contains("invalid UTF-8"), "{e}");

    let p = write(d, "unknown.csv", b"text,label\na,HAM\nb,SPAMM\n");
    let e = err(&p, &LoadOptions { classes: Some(vec!["HAM".into(), "SPAM".into()]), ..opts.clone() });
    assert!(e.contains("row 1") && e.contains("unknown label `SPAMM`") && e.contains("`label`"), "{e}");

    let p = write(d, "range.csv", b"text,label\na,0\nb,7\n");
    let e = err(&p, &LoadOptions { classes: Some(vec!["HAM".into(), "SPAM".into()]), ..opts.clone() });
    assert!(e.contains("row 1") && e.contains("label 7 outside"), "{e}");

    let p = write(d, "nulltext.csv", b"text,label\na,0\n,1\n");
    let e = err(&p, &opts);
    assert!(e.contains("row 1") && e.contains("missing text"), "{e}");

    let p = write(d, "bad.jsonl", b"{\"text\": \"a\"}\n{\"text\": \"b\"\n");
    let e = err(&p, &LoadOptions { classes: Some(vec!["a".into(), "b".into()]), ..opts.clone() });
    assert!(e.contains("bad.jsonl:2") && e.contains("malformed JSON"), "{e}");

    let p = write(d, "empty.csv", b"text,label\n");
    let e = err(&p, &LoadOptions { classes: Some(vec!["a".into(), "b".into()]), ..opts.clone() });
    assert!(e.contains("empty.csv") && e.contains("no data rows"), "a header-only CSV names the file: {e}");

    let p = write(d, "x.weird", b"text\n");
    assert!(err(&p, &opts).contains("--format"));

    // WRENCH: malformed JSON (line named), uneven vote width, label outside label.json.
    let w = d.join("wrench");
    std::fs::create_dir_all(&w).unwrap();
    write(&w, "label.json", br#"{"0": "HAM", "1": "SPAM"}"#);
    write(&w, "train.json", b"{\n\"0\": {\"label\": 0, \"weak_labels\": [0, -1], \"data\": {\"text\": \"a\"}},\n\"1\": {\"label\": 1, \"weak_labels\": [1], \"data\": {\"text\": \"b\"}}\n}\n");
    let e = err(&w, &opts);
    assert!(
        e.contains("train.json:3")
            && e.contains("row id 1")
            && e.contains("1 votes, but the first row has 2")
            && e.contains("weak_labels"),
        "{e}"
    );
    write(
        &w,
        "train.json",
        b"{\n\"0\": {\"label\": 5, \"weak_labels\": [0], \"data\": {\"text\": \"a\"}}\n}\n",
    );
    let e = err(&w, &opts);
    assert!(e.contains("label 5 outside the 2 classes"), "{e}");
    write(&w, "train.json", b"{\n\"0\": {\"label\": 0, \"weak_labels\": [0], \"data\": {\"text\": \"a\"}},\n\"1\": {\"label\": 0 \"data\": {}}\n}\n");
    let e = err(&w, &opts);
    assert!(e.contains("train.json:3"), "{e}");
    write(&w, "train.json", b"{\"0\": {\"label\": 0, \"weak_labels\": [3], \"data\": {\"text\": \"a\"}}}");
    let e = err(&w, &opts);
    assert!(e.contains("vote 3 of LF 0 outside -1..2"), "{e}");

    let e = err(&w, &LoadOptions { format: Some(Format::Csv), ..opts.clone() });
    assert!(!e.is_empty());
}
