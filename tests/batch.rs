//! `weaksup batch label|predict|merge` end to end on the demo corpus cut into CSV / JSONL /
//! Parquet files: a killed-then-resumed run and the merge of N shards equal an uninterrupted
//! single-machine run byte for byte; malformed rows are counted and located; predictions equal
//! `weaksup predict`'s.

use crate::common::{fails, ok, s, weaksup};

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value;

/// A rejected row: file name, line, row, reason, field.
type Located = (String, Option<u64>, u64, String, Option<String>);

fn repo(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The demo corpus as three inputs (train → a.csv, valid → b.jsonl with one broken line, test →
/// c.parquet) and an MV label model over the demo LFs.
struct Corpus {
    _dir: tempfile::TempDir,
    root: PathBuf,
    input: PathBuf,
    lm: PathBuf,
}

fn corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let demo = root.join("demo");
    ok(&["data", "demo", "--out", s(&demo), "--ext", "csv"]);
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(demo.join("train.csv"), input.join("a.csv")).unwrap();
    let valid = weaksup::data::load(&demo.join("valid.csv"), &Default::default()).unwrap();
    let mut jsonl = String::new();
    for (i, t) in valid.splits[0].texts().unwrap().iter().enumerate() {
        jsonl.push_str(&serde_json::json!({ "text": t.unwrap(), "n": i }).to_string());
        jsonl.push('\n');
        if i == 100 {
            jsonl.push_str("{\"text\": \"cut off\n");
        }
    }
    std::fs::write(input.join("b.jsonl"), jsonl).unwrap();
    ok(&["data", "convert", "--data", s(&demo.join("test.csv")), "--out", s(&root.join("pq"))]);
    std::fs::rename(root.join("pq/test.parquet"), input.join("c.parquet")).unwrap();
    let lm = root.join("lm");
    ok(&["label-model", "fit", "--model", "mv", "--out", s(&lm), "-q"]);
    Corpus { _dir: dir, root, input, lm }
}

fn label_args<'a>(c: &'a Corpus, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let lfs: &'static str = Box::leak(repo("labeling_functions/demo_topics.toml").into_boxed_str());
    let mut a = vec![
        "batch",
        "label",
        "--lfs",
        lfs,
        "--label-model",
        s(&c.lm),
        "--input",
        s(&c.input),
        "--out",
        out,
        "--chunk-rows",
        "300",
    ];
    a.extend_from_slice(extra);
    a
}

/// Every part and rejection file of an output folder, with its bytes, by name.
fn parts(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_str().unwrap().starts_with("part-") || p.ends_with("rejected.jsonl")
        })
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The parts of `dir` for input `file`, concatenated in row order.
fn frame_of(dir: &Path, file: usize) -> DataFrame {
    let mut out: Option<DataFrame> = None;
    for (name, _) in parts(dir) {
        if name.starts_with(&format!("part-{file:05}-")) && name.ends_with(".parquet") {
            let f = weaksup::data::read_parquet(&dir.join(&name)).unwrap();
            out = Some(match out {
                None => f,
                Some(mut o) => {
                    o.vstack_mut(&f).unwrap();
                    o
                }
            });
        }
    }
    out.unwrap()
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_output() {
    let c = corpus();
    let full = c.root.join("full");
    let printed = ok(&label_args(&c, s(&full), &[]));
    // 2000 + 250 (+1 broken line) + 500 records in parts of 300 rows: 7 + 1 + 2 parts.
    assert!(
        printed.contains("batch label: 10 parts, 2751 rows in, 2750 rows out, 1 rejected (malformed_json 1"),
        "{printed}"
    );
    let m = manifest(&full);
    assert_eq!(m["complete"], true);
    assert_eq!(
        m["inputs"].as_array().unwrap().iter().map(|f| f["rows"].as_u64().unwrap()).collect::<Vec<_>>(),
        vec![2000, 251, 500]
    );

    // Killed after 3 parts; then a part written but not yet recorded (killed between the two
    // renames) and a half-written temporary file lie in the folder.
    let resumed = c.root.join("resumed");
    let e = fails(&label_args(&c, s(&resumed), &["--stop-after-parts", "3"]));
    assert!(e.contains("stopped after 3 parts"), "{e}");
    let m = manifest(&resumed);
    assert_eq!((m["complete"].as_bool(), m["parts"].as_array().unwrap().len()), (Some(false), 3));
    std::fs::write(resumed.join("part-00000-000003.parquet"), b"half a part").unwrap();
    std::fs::write(resumed.join("part-00000-000004.parquet.tmp999"), b"garbage").unwrap();
    let printed = ok(&label_args(&c, s(&resumed), &[]));
    assert!(printed.contains("this run: 7 parts, 1851 rows"), "{printed}");
    std::fs::remove_file(resumed.join("part-00000-000004.parquet.tmp999")).unwrap();
    assert_eq!(parts(&full), parts(&resumed), "resumed output differs from the uninterrupted one");
    assert_eq!(manifest(&full)["parts"], manifest(&resumed)["parts"]);

    // A finished folder reruns as a no-op; other options are refused.
    let printed = ok(&label_args(&c, s(&resumed), &[]));
    assert!(printed.contains("this run: 0 parts"), "{printed}");
    let e = fails(&label_args(&c, s(&resumed), &["--uncovered", "random"]));
    assert!(e.contains("holds another run") && e.contains("different options"), "{e}");
}

#[test]
fn batch_labels_equal_lf_apply_and_the_label_model() {
    let c = corpus();
    let out = c.root.join("out");
    ok(&label_args(&c, s(&out), &["--tie", "lowest-id", "--uncovered", "abstain"]));
    let votes_dir = c.root.join("votes");
    ok(&[
        "lf",
        "apply",
        "--data",
        s(&c.input.join("a.csv")),
        "--lfs",
        &repo("labeling_functions/demo_topics.toml"),
        "--classes",
        "billing,shipping,technical,account",
        "--out",
        s(&votes_dir),
    ]);
    let (votes, _) = weaksup::LabelMatrix::read_parquet(&votes_dir.join("a.votes.parquet")).unwrap();
    let batch = frame_of(&out, 0);
    assert_eq!(batch.height(), 2000);
    let rows: Vec<u64> = batch.column("row").unwrap().u64().unwrap().into_no_null_iter().collect();
    assert_eq!(rows, (0..2000).collect::<Vec<u64>>());
    for (j, name) in votes.lf_names().iter().enumerate() {
        let col: Vec<i16> = batch.column(name).unwrap().i16().unwrap().into_no_null_iter().collect();
        assert_eq!(col, votes.column(j), "LF {name}");
    }
    // Soft labels are the label model's; the hard label is their argmax (lowest id on ties), -1 when uncovered.
    let soft = weaksup::data::read_parquet(&c.lm.join("train.soft_labels.parquet")).unwrap();
    for k in ["prob_billing", "prob_account"] {
        let v = |f: &DataFrame| f.column(k).unwrap().f64().unwrap().into_no_null_iter().collect::<Vec<f64>>();
        assert_eq!(v(&batch), v(&soft), "{k}");
    }
    let covered: Vec<bool> =
        batch.column("covered").unwrap().bool().unwrap().iter().map(|b| b.unwrap()).collect();
    let labels: Vec<i32> = batch.column("label").unwrap().i32().unwrap().into_no_null_iter().collect();
    let n_cov = covered.iter().filter(|&&c| c).count();
    assert!((1400..1700).contains(&n_cov), "demo train coverage {n_cov}/2000");
    assert!(covered.iter().zip(&labels).all(|(&c, &l)| c == (l >= 0)));
}

#[test]
fn the_union_of_shards_equals_the_single_machine_output() {
    let c = corpus();
    let full = c.root.join("full");
    ok(&label_args(&c, s(&full), &[]));
    let shard_dirs: Vec<PathBuf> = (0..3).map(|k| c.root.join(format!("shard{k}"))).collect();
    let mut parts_per_shard = Vec::new();
    for (k, d) in shard_dirs.iter().enumerate() {
        let shard = format!("{k}/3");
        ok(&label_args(&c, s(d), &["--shard", &shard]));
        parts_per_shard.push(manifest(d)["parts"].as_array().unwrap().len());
    }
    // (file + chunk) mod 3 over files of 7, 1 and 2 chunks.
    assert_eq!(parts_per_shard, vec![4, 3, 3]);
    let merged = c.root.join("merged");
    let printed =
        ok(&["batch", "merge", "--out", s(&merged), s(&shard_dirs[0]), s(&shard_dirs[1]), s(&shard_dirs[2])]);
    assert!(printed.contains("10 parts, 2751 rows in, 2750 rows out, 1 rejected"), "{printed}");
    assert_eq!(parts(&full), parts(&merged), "merged shards differ from the single-machine output");
    assert_eq!(manifest(&full)["parts"], manifest(&merged)["parts"]);
    assert_eq!(manifest(&full)["inputs"], manifest(&merged)["inputs"]);

    // A missing shard, a shard given twice, an unfinished shard: errors that say which.
    let e = fails(&["batch", "merge", "--out", s(&c.root.join("m2")), s(&shard_dirs[0]), s(&shard_dirs[2])]);
    assert!(
        e.contains("3 missing parts") && e.contains("part-00000-000001.parquet") && e.contains("shard 1/3"),
        "{e}"
    );
    let copy = c.root.join("shard0_copy");
    std::fs::create_dir_all(&copy).unwrap();
    for (name, bytes) in parts(&shard_dirs[0]) {
        std::fs::write(copy.join(name), bytes).unwrap();
    }
    std::fs::copy(shard_dirs[0].join("manifest.json"), copy.join("manifest.json")).unwrap();
    let e = fails(&[
        "batch",
        "merge",
        "--out",
        s(&c.root.join("m3")),
        s(&shard_dirs[0]),
        s(&shard_dirs[1]),
        s(&shard_dirs[2]),
        s(&copy),
    ]);
    assert!(e.contains("duplicate part part-00000-000000.parquet"), "{e}");
    let partial = c.root.join("partial");
    fails(&label_args(&c, s(&partial), &["--shard", "1/3", "--stop-after-parts", "1"]));
    let e = fails(&[
        "batch",
        "merge",
        "--out",
        s(&c.root.join("m4")),
        s(&shard_dirs[0]),
        s(&partial),
        s(&shard_dirs[2]),
    ]);
    assert!(e.contains("shard 1/3 is not finished"), "{e}");
    let bad_shard = weaksup(&label_args(&c, s(&c.root.join("x")), &["--shard", "3/3"]));
    let e = String::from_utf8_lossy(&bad_shard.stderr);
    assert!(!bad_shard.status.success() && e.contains("--shard 3/3: expected K/N with 0 <= K < N"), "{e}");
}

#[test]
fn malformed_rows_are_counted_and_located() {
    let c = corpus();
    let bad = c.root.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut csv = b"id,text\n1,my refund please\n2,\"bad \xff byte\"\n3,\n4,too,many\n5,\"two\nlines about my password\"\n6,fine\n".to_vec();
    csv.extend_from_slice(b"7,last one\n");
    std::fs::write(bad.join("a.csv"), &csv).unwrap();
    let mut jsonl = b"{\"text\": \"my package never arrived\", \"id\": 1}\n\n{\"text\": \"broken\"\n{\"id\": 3}\n{\"text\": null}\n{\"text\": 5}\n".to_vec();
    jsonl.extend_from_slice(b"{\"text\": \"caf\xe9\"}\n[1, 2]\n{\"text\": \"password reset\", \"id\": 9, \"extra\": {\"a\": [1]}}\n");
    std::fs::write(bad.join("b.jsonl"), &jsonl).unwrap();
    let mut frame = df!("id" => [1i64, 2, 3], "text" => [Some("the invoice"), None, Some("")]).unwrap();
    weaksup::data::write_parquet(&mut frame, &bad.join("c.parquet")).unwrap();

    let lfs = repo("labeling_functions/demo_topics.toml");
    let out = c.root.join("out");
    let base = ["batch", "label", "--lfs", &lfs, "--label-model", s(&c.lm), "--id-col", "id"];
    let mut args = base.to_vec();
    args.extend(["--input", s(&bad), "--out", s(&out)]);
    let printed = ok(&args);
    // 7 + 8 + 3 records; blank lines are not records.
    assert!(
        printed.contains("18 rows in, 7 rows out, 11 rejected (invalid_utf8 2, malformed_csv 1, malformed_json 2, missing_text 6;"),
        "{printed}"
    );
    let rejected: Vec<Value> = std::fs::read_to_string(out.join("rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let located: Vec<Located> = rejected
        .iter()
        .map(|r| {
            let file =
                Path::new(r["file"].as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string();
            (
                file,
                r["line"].as_u64(),
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
                r["field"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let t = Some("text".to_string());
    let want = vec![
        ("a.csv".to_string(), Some(3), 1, "invalid_utf8".to_string(), t.clone()),
        ("a.csv".into(), Some(4), 2, "missing_text".into(), t.clone()),
        ("a.csv".into(), Some(5), 3, "malformed_csv".into(), None),
        ("b.jsonl".into(), Some(3), 1, "malformed_json".into(), None),
        ("b.jsonl".into(), Some(4), 2, "missing_text".into(), t.clone()),
        ("b.jsonl".into(), Some(5), 3, "missing_text".into(), t.clone()),
        ("b.jsonl".into(), Some(6), 4, "missing_text".into(), t.clone()),
        ("b.jsonl".into(), Some(7), 5, "invalid_utf8".into(), None),
        ("b.jsonl".into(), Some(8), 6, "malformed_json".into(), None),
        ("c.parquet".into(), None, 1, "missing_text".into(), t.clone()),
        ("c.parquet".into(), None, 2, "missing_text".into(), t.clone()),
    ];
    assert_eq!(located, want);
    // The kept rows, with their ids and record indices; the two-line CSV record is one row.
    let csv_rows = frame_of(&out, 0);
    assert_eq!(
        csv_rows.column("row").unwrap().u64().unwrap().into_no_null_iter().collect::<Vec<_>>(),
        vec![0, 4, 5, 6]
    );
    assert_eq!(
        csv_rows.column("id").unwrap().str().unwrap().iter().map(|v| v.unwrap()).collect::<Vec<_>>(),
        vec!["1", "5", "6", "7"]
    );
    let m = manifest(&out);
    assert_eq!(m["summary"]["rejected"]["missing_text"], 6);

    // Fail fast: the first bad row stops the run, naming file, line and field.
    let (bad_csv, bad_pq) = (bad.join("a.csv"), bad.join("c.parquet"));
    let (failed, failed2, failed3) = (c.root.join("failed"), c.root.join("failed2"), c.root.join("failed3"));
    let mut args = base.to_vec();
    args.extend(["--input", s(&bad_csv), "--out", s(&failed), "--on-bad-row", "fail"]);
    let e = fails(&args);
    assert!(
        e.contains("a.csv:3 (field `text`): row 1: invalid UTF-8") && e.contains("--on-bad-row skip"),
        "{e}"
    );
    let mut args = base.to_vec();
    args.extend(["--input", s(&bad_pq), "--out", s(&failed2), "--on-bad-row", "fail"]);
    let e = fails(&args);
    assert!(e.contains("c.parquet (field `text`): row 1: missing text"), "{e}");
    let mut args = base.to_vec();
    args.extend(["--input", s(&bad), "--out", s(&failed3), "--text-col", "body"]);
    let e = fails(&args);
    assert!(e.contains("a.csv:1 (field `body`): no column `body` (columns: id, text)"), "{e}");
}

#[test]
fn batch_predict_with_an_ngram_model_equals_predict() {
    let c = corpus();
    let model = c.root.join("ngram");
    ok(&[
        "train",
        "--model",
        "ngram",
        "--device",
        "cpu",
        // 150 steps: at 60 the demo test accuracy still moves with the dropout stream (0.55-0.74
        // over seeds); at 150 it is 0.78-0.80.
        "--max-steps",
        "150",
        "--eval-every",
        "50",
        "--out",
        s(&model),
        "-q",
    ]);
    let single = c.root.join("single");
    ok(&["predict", "--model", s(&model), "--device", "cpu", "--split", "test", "--out", s(&single)]);
    let want = weaksup::data::read_parquet(&single.join("test.predictions.parquet")).unwrap();

    let test_csv = c.root.join("demo/test.csv");
    let out = c.root.join("batch");
    let printed = ok(&[
        "batch",
        "predict",
        "--model",
        s(&model),
        "--input",
        s(&test_csv),
        "--out",
        s(&out),
        "--chunk-rows",
        "128",
        "--batch-size",
        "32",
    ]);
    assert!(printed.contains("batch predict: 4 parts, 500 rows in, 500 rows out, 0 rejected"), "{printed}");
    let got = frame_of(&out, 0);
    assert_eq!(got.height(), 500);
    let pred = |f: &DataFrame| {
        f.column("prediction").unwrap().i32().unwrap().into_no_null_iter().collect::<Vec<_>>()
    };
    assert_eq!(pred(&got), pred(&want));
    for k in ["prob_billing", "prob_shipping", "prob_technical", "prob_account"] {
        let (a, b) = (got.column(k).unwrap().f32().unwrap(), want.column(k).unwrap().f32().unwrap());
        let max =
            a.into_no_null_iter().zip(b.into_no_null_iter()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(max < 1e-5, "{k}: max difference {max}");
    }
    let gold = weaksup::data::load(&test_csv, &Default::default()).unwrap().splits[0].gold().unwrap();
    let acc = pred(&got).iter().zip(&gold).filter(|(p, g)| Some(**p as u32) == **g).count() as f64 / 500.0;
    assert!(acc > 0.7, "demo test accuracy {acc}");

    // Two shards merged give the same parts.
    let shards: Vec<PathBuf> = (0..2).map(|k| c.root.join(format!("p{k}"))).collect();
    for (k, d) in shards.iter().enumerate() {
        let shard = format!("{k}/2");
        ok(&[
            "batch",
            "predict",
            "--model",
            s(&model),
            "--input",
            s(&test_csv),
            "--out",
            s(d),
            "--chunk-rows",
            "128",
            "--batch-size",
            "32",
            "--shard",
            &shard,
        ]);
    }
    let merged = c.root.join("pmerged");
    ok(&["batch", "merge", "--out", s(&merged), s(&shards[0]), s(&shards[1])]);
    assert_eq!(parts(&out), parts(&merged));
}
