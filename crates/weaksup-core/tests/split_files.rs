//! Splits from separate files: globs, folders, one class rule across files, dataset folders that
//! load back as written, `data split`'s row assignment, and class alignment with LF files.

use std::path::{Path, PathBuf};

use weaksup_core::data::{self, FolderColumns, LoadOptions, OutputFormat, SplitFiles, SplitParams};
use weaksup_core::matrix::LabelMatrix;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn files(train: &[&Path], valid: &[&Path], test: &[&Path]) -> SplitFiles {
    let v = |x: &[&Path]| x.iter().map(|p| p.to_path_buf()).collect();
    SplitFiles { train: v(train), valid: v(valid), test: v(test), unlabeled: Vec::new() }
}

fn labels(ds: &data::Dataset) -> Vec<Option<String>> {
    ds.gold().unwrap().into_iter().map(|g| g.map(|c| ds.classes[c as usize].clone())).collect()
}

#[test]
fn a_glob_concatenates_files_in_name_order_and_classes_come_from_all_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "parts/b.csv", "text,label\nthird,c\n");
    write(d, "parts/a.csv", "text,label\nfirst,a\nsecond,b\n");
    // valid lacks class `a` and names its labels in another file type: same ids as train.
    let valid = write(
        d,
        "valid.jsonl",
        "{\"text\": \"v1\", \"label\": \"c\"}\n{\"text\": \"v2\", \"label\": \"b\"}\n",
    );
    let glob = d.join("parts/*.csv");
    let s = data::load_split_files(&files(&[&glob], &[&valid], &[]), &LoadOptions::default()).unwrap();
    assert_eq!(s.names(), vec!["train", "valid"]);
    let (train, valid) = (&s.splits[0], &s.splits[1]);
    assert_eq!(train.classes, vec!["a", "b", "c"]);
    assert_eq!(valid.classes, train.classes);
    let texts: Vec<&str> = train.texts().unwrap().iter().flatten().collect();
    assert_eq!(texts, vec!["first", "second", "third"]);
    assert_eq!(train.gold().unwrap(), vec![Some(0), Some(1), Some(2)]);
    assert_eq!(valid.gold().unwrap(), vec![Some(2), Some(1)]);
    assert_eq!(train.name, "parts", "the corpus is named after the first file's folder");

    // A folder entry is its data files in name order, the same rows as the glob.
    let folder = d.join("parts");
    let f = data::load_split_files(&files(&[&folder], &[], &[]), &LoadOptions::default()).unwrap();
    assert_eq!(f.splits[0].frame, train.frame);
}

#[test]
fn split_files_that_disagree_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write(d, "a.csv", "text,label\nx,1\n");
    let b = write(d, "b.csv", "text,label,extra\ny,0,z\n");
    let e =
        data::load_split_files(&files(&[&a, &b], &[], &[]), &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("b.csv") && e.contains("extra") && e.contains("share their columns"), "{e}");

    let e = data::load_split_files(&files(&[&d.join("nothing-*.csv")], &[], &[]), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing-*.csv") && e.contains("matches no file"), "{e}");

    // No file has gold labels: the classes must be given.
    let t = write(d, "t.csv", "text\nhello\n");
    let e = data::load_split_files(&files(&[], &[], &[&t]), &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("t.csv") && e.contains("--classes"), "{e}");
    let given = LoadOptions { classes: Some(vec!["neg".into(), "pos".into()]), ..LoadOptions::default() };
    let s = data::load_split_files(&files(&[], &[], &[&t]), &given).unwrap();
    assert_eq!((s.names(), s.splits[0].gold()), (vec!["test"], None));

    // Types that differ between the files of one split are read as text, not dropped.
    let p1 = write(d, "typed/p1.csv", "text,label,n\nx,a,1\ny,b,2\n");
    let mut f = data::load_split_files(&files(&[&p1], &[], &[]), &LoadOptions::default()).unwrap();
    let mut frame = f.splits.remove(0).frame;
    frame.replace("n", polars::prelude::Column::new("n".into(), [1i64, 2])).unwrap();
    let pq = d.join("typed/p0.parquet");
    data::write_parquet(&mut frame, &pq).unwrap();
    // The Parquet file holds ids, the CSV names: the classes must be given to tell them apart.
    let e = data::load_split_files(&files(&[&pq, &p1], &[], &[]), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("p1.csv") && e.contains("p0.parquet gives ids") && e.contains("--classes"), "{e}");
    let ab = LoadOptions { classes: Some(vec!["a".into(), "b".into()]), ..LoadOptions::default() };
    let s = data::load_split_files(&files(&[&pq, &p1], &[], &[]), &ab).unwrap();
    assert_eq!(s.splits[0].gold().unwrap(), vec![Some(0), Some(1), Some(0), Some(1)]);
    let n = s.splits[0].frame.column("n").unwrap();
    assert_eq!(n.dtype(), &polars::prelude::DataType::String);
    assert_eq!(n.str().unwrap().iter().flatten().collect::<Vec<_>>(), vec!["1", "2", "1", "2"]);
}

#[test]
fn a_dataset_folder_loads_back_as_written_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = write(d, "src.csv", "text,label,span\n\"a, b\",spam,3\nhello,ham,12\nno label,,7\n");
    let mut s =
        data::load(&src, &LoadOptions { split: Some("train".into()), ..LoadOptions::default() }).unwrap();
    let ds = &mut s.splits[0];
    let span = ds.frame.column("span").unwrap().cast(&polars::prelude::DataType::Int64).unwrap();
    ds.frame.replace("span", span).unwrap();
    // Stored votes: 2 LFs over [ham, spam].
    ds.votes = Some(LabelMatrix::new(vec![1, -1, 0, 0, -1, 1], 3, vec!["k".into(), "r".into()], 2).unwrap());
    for format in [OutputFormat::Parquet, OutputFormat::Csv, OutputFormat::Jsonl] {
        let out = d.join(format!("out-{}", format.ext()));
        std::fs::create_dir_all(&out).unwrap();
        data::write_folder(&s, &out, format, &FolderColumns::default()).unwrap();
        let back = data::load(&out, &LoadOptions::default()).unwrap();
        let (a, b) = (&s.splits[0], &back.splits[0]);
        assert_eq!(back.names(), vec!["train"], "{format}");
        assert_eq!(b.classes, a.classes, "{format}");
        assert_eq!(b.frame, a.frame, "{format}: columns, types and values");
        assert_eq!(b.votes, a.votes, "{format}: stored votes");
    }
    // A sidecar that lies about a type is an error naming the column and row.
    let out = d.join("out-csv");
    std::fs::write(out.join("columns.json"), "[[\"text\", \"i64\"]]").unwrap();
    let e = data::load(&out, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("column `text`") && e.contains("row 0") && e.contains("columns.json"), "{e}");
}

#[test]
fn split_rows_is_deterministic_stratified_and_keeps_every_row_once() {
    // 100 rows of class 0, 20 of class 1, 10 without gold.
    let gold: Vec<Option<u32>> = (0..130)
        .map(|i| {
            if i < 100 {
                Some(0)
            } else if i < 120 {
                Some(1)
            } else {
                None
            }
        })
        .collect();
    let p = SplitParams { valid: 0.1, test: 0.2, stratify: true, seed: 7 };
    let a = data::splits::split_rows(Some(&gold), gold.len(), &p).unwrap();
    assert_eq!(a, data::splits::split_rows(Some(&gold), gold.len(), &p).unwrap(), "same seed, same split");
    let count = |class: Option<u32>, split: u8| {
        gold.iter().zip(&a).filter(|(g, s)| **g == class && **s == split).count()
    };
    // round(n · fraction) of each class: 10/20/70 of class 0, 2/4/14 of class 1, 1/2/7 without gold.
    assert_eq!((count(Some(0), 1), count(Some(0), 2), count(Some(0), 0)), (10, 20, 70));
    assert_eq!((count(Some(1), 1), count(Some(1), 2), count(Some(1), 0)), (2, 4, 14));
    assert_eq!((count(None, 1), count(None, 2), count(None, 0)), (1, 2, 7));
    let other = data::splits::split_rows(Some(&gold), gold.len(), &SplitParams { seed: 8, ..p }).unwrap();
    assert_ne!(a, other, "another seed, another split");

    let e = data::splits::split_rows(None, 10, &p).unwrap_err().to_string();
    assert!(e.contains("--stratify needs gold labels"), "{e}");
    let e =
        data::splits::split_rows(None, 10, &SplitParams { valid: 0.6, test: 0.4, stratify: false, seed: 1 })
            .unwrap_err()
            .to_string();
    assert!(e.contains("leave rows for train"), "{e}");
}

#[test]
fn split_dataset_keeps_row_order_and_votes_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (0..20).map(|i| format!("row {i},{}\n", if i % 4 == 0 { "b" } else { "a" })).collect();
    let src = write(dir.path(), "all.csv", &format!("text,label\n{body}"));
    let mut s = data::load(&src, &LoadOptions::default()).unwrap();
    let ds = &mut s.splits[0];
    // One LF that votes each row's index parity: its votes must follow their rows.
    let votes: Vec<i16> = (0..20).map(|i| (i % 2) as i16).collect();
    ds.votes = Some(LabelMatrix::new(votes, 20, vec!["parity".into()], 2).unwrap());
    let parts =
        data::split_dataset(ds, &SplitParams { valid: 0.25, test: 0.25, stratify: true, seed: 3 }).unwrap();
    assert_eq!(parts.names(), vec!["train", "valid", "test"]);
    let mut seen = Vec::new();
    for p in &parts.splits {
        let idx: Vec<usize> = p
            .texts()
            .unwrap()
            .iter()
            .flatten()
            .map(|t| t.trim_start_matches("row ").parse().unwrap())
            .collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "{}: file order kept", p.split);
        let v = p.votes.as_ref().unwrap();
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(v.row(k)[0], (i % 2) as i16, "{}: row {i}'s vote", p.split);
        }
        assert_eq!(
            labels(p).iter().filter(|l| l.as_deref() == Some("b")).count(),
            idx.iter().filter(|i| *i % 4 == 0).count()
        );
        seen.extend(idx);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>(), "every row in exactly one split");
}

#[test]
fn align_classes_names_ids_and_reorders_names_like_the_lf_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "d.csv", "text,label\nx,spam\ny,ham\nz,\n");
    let mut ds = data::load(&src, &LoadOptions::default()).unwrap().splits.remove(0);
    ds.votes = Some(LabelMatrix::new(vec![1, 0, -1], 3, vec!["lf".into()], 2).unwrap());
    assert_eq!(ds.classes, vec!["ham", "spam"]);
    // Same names in another order and case: labels and votes renumbered by name.
    let target = vec!["SPAM".to_string(), "HAM".to_string()];
    data::align_classes(&mut ds, &target).unwrap();
    assert_eq!(ds.classes, target);
    assert_eq!(ds.gold().unwrap(), vec![Some(0), Some(1), None]);
    assert_eq!(ds.votes.as_ref().unwrap().votes(), &[0, 1, -1]);

    // Bare ids take the LF file's names by position.
    let ids = write(dir.path(), "i.csv", "text,label\nx,1\ny,0\n");
    let mut ds = data::load(&ids, &LoadOptions::default()).unwrap().splits.remove(0);
    data::align_classes(&mut ds, &["HAM".into(), "SPAM".into()]).unwrap();
    assert_eq!(
        (ds.classes.clone(), ds.gold().unwrap()),
        (vec!["HAM".into(), "SPAM".into()], vec![Some(1), Some(0)])
    );

    // Other names are an error listing both.
    let e = data::align_classes(&mut ds, &["neg".into(), "pos".into()]).unwrap_err().to_string();
    assert!(e.contains("[neg, pos]") && e.contains("[HAM, SPAM]"), "{e}");
}

#[test]
fn wrench_data_fields_beyond_text_become_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "w/label.json", r#"{"0": "no", "1": "yes"}"#);
    let row = |text: &str, author: &str, likes: &str, extra: &str| {
        format!(
            r#"{{"label": 1, "weak_labels": [1], "data": {{"text": "{text}", "AUTHOR": "{author}", "likes": {likes}, "score": 0.5, "tokens": ["a", "b"], "person1_word_idx": [3, 4], "meta": {{"k": 1}}{extra}}}}}"#
        )
    };
    let rows = format!(
        "{{\"7\": {}, \"9\": {}}}",
        row("first", "Ann", "3", ", \"DATE\": \"2013-11-07\""),
        row("second", "Bob", "null", ", \"label\": \"x\"")
    );
    write(d, "w/train.json", &rows);
    let ds = data::load(&d.join("w"), &LoadOptions::default()).unwrap().splits.remove(0);
    let names: Vec<&str> = ds.frame.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "id",
            "text",
            "label",
            "AUTHOR",
            "DATE",
            "likes",
            "meta",
            "person1_word_idx",
            "score",
            "tokens",
            "data_label"
        ],
        "extra fields in name order"
    );
    let col = |n: &str| ds.frame.column(n).unwrap();
    use polars::prelude::DataType;
    assert_eq!(col("AUTHOR").str().unwrap().get(1), Some("Bob"));
    assert_eq!(col("likes").dtype(), &DataType::Int64);
    assert_eq!(col("likes").i64().unwrap().iter().collect::<Vec<_>>(), vec![Some(3), None]);
    assert_eq!(col("score").dtype(), &DataType::Float64);
    assert_eq!(col("tokens").dtype(), &DataType::List(Box::new(DataType::String)));
    assert_eq!(col("person1_word_idx").dtype(), &DataType::List(Box::new(DataType::Int64)));
    assert_eq!(col("meta").str().unwrap().get(0), Some(r#"{"k":1}"#), "objects kept as their JSON text");
    assert_eq!(col("DATE").str().unwrap().iter().collect::<Vec<_>>(), vec![Some("2013-11-07"), None]);
    assert_eq!(col("data_label").str().unwrap().get(1), Some("x"), "a name the frame uses is prefixed");
    // A SQL LF reads the extra columns.
    let lf = write(
        d,
        "lf.toml",
        "classes = [\"no\", \"yes\"]\n[[lf]]\nname = \"ann\"\nkind = \"sql\"\nlabel = \"yes\"\nexpr = \"AUTHOR = 'Ann' AND likes > 2\"\n",
    );
    let (set, _) = weaksup_core::lf::LfFile::load_set(&[lf], &weaksup_core::lf::Registry::default()).unwrap();
    let votes = set
        .compile()
        .unwrap()
        .apply(&ds.frame, &Default::default(), &weaksup_core::progress::NoProgress)
        .unwrap();
    assert_eq!(votes.matrix.votes(), &[1, -1]);
}
