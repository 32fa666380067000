//! Reliability and security, end to end through the `weaksup` binary: LF files are data (SQL LFs
//! cannot read files or reach the network), applying LFs over thousands of chunks cannot crash,
//! runs refuse to mix (checkpoints, predictions, output folders, batch inputs, bench grids),
//! every setting is checked before any work, errors keep their cause, and killed runs resume to
//! the results of uninterrupted ones. Each test reproduces a defect of an earlier version.

use crate::common::{self, fails, fails_with, ok, s, weaksup};

use std::path::Path;

use serde_json::Value;

fn repo(rel: &str) -> String {
    common::repo().join(rel).display().to_string()
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// An LF file of two classes with the given `[[lf]]` blocks.
fn lf_file(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("classes = [\"HAM\", \"SPAM\"]\n{body}")).unwrap();
    p.display().to_string()
}

#[test]
fn sql_lfs_that_read_files_or_reach_the_network_are_refused_when_the_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "text,label\nhello,0\nbuy now,1\n").unwrap();
    let forms = [
        "text IN (SELECT column_1 FROM read_csv('/etc/passwd'))",
        "read_json('/etc/passwd') IS NOT NULL",
        "read_parquet('/etc/passwd') IS NOT NULL",
        "EXISTS (SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet'))",
        "length(text) > (SELECT count(*) FROM read_csv('/etc/hostname'))",
    ];
    for (i, expr) in forms.iter().enumerate() {
        let lfs = lf_file(
            dir.path(),
            &format!("evil{i}.toml"),
            &format!("\n[[lf]]\nname = \"evil\"\nkind = \"sql\"\nlabel = \"SPAM\"\nexpr = \"{expr}\"\n"),
        );
        let e =
            fails(&["lf", "apply", "--data", s(&data), "--lfs", &lfs, "--out", s(&dir.path().join("out"))]);
        // The file, its line, the LF and the construct; nothing read from /etc/passwd.
        assert!(e.contains(&format!("evil{i}.toml:3")) && e.contains("LF `evil`"), "{e}");
        assert!(e.contains("not allowed") || e.contains("reads files"), "{e}");
        assert!(!e.contains("root") && !e.contains("column_1 ("), "no content of the file leaks: {e}");
    }
}

#[test]
fn two_sql_lfs_over_thousands_of_chunks_on_two_threads_do_not_overflow_the_stack() {
    // An earlier version aborted here ("has overflowed its stack", exit 134): each chunk's polars
    // evaluation, started from a rayon worker, ran the next chunks nested on the same stack.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let mut csv = String::from("text,label\n");
    for i in 0..9000 {
        csv.push_str(&format!("{} row {i},{}\n", if i % 3 == 0 { "free prize" } else { "see you" }, i % 2));
    }
    std::fs::write(&data, csv).unwrap();
    let lfs = lf_file(
        dir.path(),
        "sql.toml",
        "[[lf]]\nname = \"prize\"\nkind = \"sql\"\nlabel = \"SPAM\"\nexpr = \"lower(text) LIKE '%prize%'\"\n\
         [[lf]]\nname = \"short\"\nkind = \"sql\"\nlabel = \"HAM\"\nexpr = \"length(text) < 16 AND text NOT LIKE '%free%'\"\n",
    );
    let small = dir.path().join("small");
    ok(&[
        "lf",
        "apply",
        "--data",
        s(&data),
        "--lfs",
        &lfs,
        "--out",
        s(&small),
        "--chunk-size",
        "3",
        "--threads",
        "2",
        "-q",
    ]);
    let whole = dir.path().join("whole");
    ok(&["lf", "apply", "--data", s(&data), "--lfs", &lfs, "--out", s(&whole), "--threads", "1", "-q"]);
    let a = std::fs::read(small.join("d.votes.parquet")).unwrap();
    let b = std::fs::read(whole.join("d.votes.parquet")).unwrap();
    assert_eq!(a, b, "3,000 chunks of 3 rows on 2 threads give the votes of one chunk on one thread");
    let (m, _) = weaksup::matrix::LabelMatrix::read_parquet(&small.join("d.votes.parquet")).unwrap();
    assert_eq!(m.column(0).iter().filter(|&&v| v == 1).count(), 3000);
    assert_eq!(
        m.column(1).iter().filter(|&&v| v == 0).count(),
        666,
        "`see you row 999` is 15 characters: rows below 1000 not divisible by 3"
    );
}

#[test]
fn lf_apply_and_batch_label_read_a_csv_the_same_way() {
    // '007' stays text in both paths (an earlier `lf apply` inferred the integer 7).
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "text,code,label\nfirst,007,0\nsecond,7,1\nthird,,0\n").unwrap();
    let lfs = lf_file(
        dir.path(),
        "code.toml",
        "[[lf]]\nname = \"code007\"\nkind = \"sql\"\nlabel = \"SPAM\"\nexpr = \"code = '007'\"\n\
         [[lf]]\nname = \"code_is_7\"\nkind = \"sql\"\nlabel = \"HAM\"\nexpr = \"CAST(code AS INTEGER) = 7\"\n\
         [[lf]]\nname = \"no_code\"\nkind = \"sql\"\nlabel = \"HAM\"\nexpr = \"code IS NULL\"\n",
    );
    let votes = dir.path().join("votes");
    ok(&["lf", "apply", "--data", s(&data), "--lfs", &lfs, "--out", s(&votes), "-q"]);
    let (m, _) = weaksup::matrix::LabelMatrix::read_parquet(&votes.join("d.votes.parquet")).unwrap();
    assert_eq!(m.column(0), vec![1, -1, -1]);
    assert_eq!(m.column(1), vec![0, 0, -1]);
    assert_eq!(m.column(2), vec![-1, -1, 0], "an empty CSV cell is null");
    let lm = dir.path().join("lm");
    ok(&["label-model", "fit", "--model", "mv", "--data", s(&data), "--lfs", &lfs, "--out", s(&lm), "-q"]);
    let out = dir.path().join("batch");
    ok(&[
        "batch",
        "label",
        "--lfs",
        &lfs,
        "--label-model",
        s(&lm),
        "--input",
        s(&data),
        "--out",
        s(&out),
        "-q",
    ]);
    let part = weaksup::data::read_parquet(&out.join("part-00000-000000.parquet")).unwrap();
    for (j, name) in ["code007", "code_is_7", "no_code"].iter().enumerate() {
        let col: Vec<i16> = part.column(name).unwrap().i16().unwrap().into_no_null_iter().collect();
        assert_eq!(col, m.column(j), "{name}: batch label reads the file as lf apply does");
    }
}

#[test]
fn a_preprocessor_cannot_replace_a_data_column() {
    let dir = tempfile::tempdir().unwrap();
    let lfs = lf_file(
        dir.path(),
        "pre.toml",
        "[[preprocessor]]\nname = \"text\"\nkind = \"lowercase\"\n[[lf]]\nname = \"kw\"\nkind = \"keyword\"\nlabel = \"SPAM\"\nkeywords = [\"x\"]\n",
    );
    let e = fails(&["lf", "apply", "--lfs", &lfs, "--out", s(&dir.path().join("o"))]);
    assert!(
        e.contains("pre.toml:2") && e.contains("preprocessor `text` would replace the data's column"),
        "{e}"
    );
    // A column that only this dataset has is caught when the LFs meet the data.
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "text,label,AUTHOR\na,0,x\n").unwrap();
    let lfs = lf_file(
        dir.path(),
        "pre2.toml",
        "[[preprocessor]]\nname = \"AUTHOR\"\nkind = \"lowercase\"\n[[lf]]\nname = \"kw\"\nkind = \"keyword\"\nlabel = \"SPAM\"\nkeywords = [\"x\"]\n",
    );
    let e = fails(&["lf", "apply", "--data", s(&data), "--lfs", &lfs, "--out", s(&dir.path().join("o2"))]);
    assert!(e.contains("preprocessor `AUTHOR` would replace"), "{e}");
}

/// A WRENCH folder whose valid split carries no gold labels.
fn wrench_without_valid_gold(dir: &Path) -> std::path::PathBuf {
    let w = dir.join("wrench");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(w.join("label.json"), r#"{"0": "HAM", "1": "SPAM"}"#).unwrap();
    let rows = |labelled: bool| {
        let items: Vec<String> = (0..40)
            .map(|i| {
                let label = if labelled { (i % 2).to_string() } else { "null".into() };
                let second = if i % 3 == 0 { -1 } else { 1 - i % 2 };
                let votes = format!("[{}, {second}]", i % 2);
                format!("\"{i}\": {{\"label\": {label}, \"weak_labels\": {votes}, \"data\": {{\"text\": \"text {i}\"}}}}")
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    };
    std::fs::write(w.join("train.json"), rows(true)).unwrap();
    std::fs::write(w.join("valid.json"), rows(false)).unwrap();
    std::fs::write(w.join("test.json"), rows(true)).unwrap();
    w
}

#[test]
fn a_valid_split_without_gold_is_said_and_never_scored() {
    let dir = tempfile::tempdir().unwrap();
    let w = wrench_without_valid_gold(dir.path());
    let out = weaksup(&[
        "label-model",
        "fit",
        "--model",
        "auto",
        "--data",
        s(&w),
        "--out",
        s(&dir.path().join("lm")),
    ]);
    assert!(out.status.success());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        stderr.contains("no model selection") && stderr.contains("majority vote"),
        "said once, at the start: {stderr}"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("valid")),
        "no score line for a split without gold: {stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("test")), "{stdout}");
    let metrics = json(&dir.path().join("lm/label_model.metrics.json"));
    let valid = metrics["splits"].as_array().unwrap().iter().find(|s| s[0] == "valid").unwrap();
    assert!(valid[1].is_null(), "no evaluation of valid: {valid}");
}

#[test]
fn a_checkpoint_of_another_run_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base =
        ["train", "--model", "ngram", "--max-steps", "40", "--eval-every", "20", "-q", "--out", s(&out)];
    ok(&base);
    assert!(out.join("checkpoint/fingerprint.json").is_file());
    // Same run: resumes (the finished checkpoint trains no further).
    let mut same = base.to_vec();
    same.push("--resume");
    ok(&same);
    // Another demo corpus (seed 7): the data's content differs.
    let mut other = same.clone();
    other.extend(["--seed", "7"]);
    let e = fails(&other);
    assert!(e.contains("belongs to another run") && e.contains("`data.train.content_fnv1a64`"), "{e}");
    // Another setting.
    let mut lr = same.clone();
    lr.extend(["--lr", "0.01"]);
    let e = fails(&lr);
    assert!(e.contains("belongs to another run") && e.contains("`train`"), "{e}");
    // Another dataset altogether (WRENCH youtube): refused, naming the first difference.
    if let Some(yt) = common::dataset("wrench_youtube") {
        let mut yt_args = same.clone();
        yt_args.extend(["--data", s(&yt)]);
        let e = fails(&yt_args);
        assert!(e.contains("belongs to another run") && e.contains("`data.train."), "{e}");
    }
}

#[test]
fn predict_refuses_data_whose_classes_differ_unless_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    ok(&["train", "--model", "ngram", "--max-steps", "20", "--eval-every", "10", "-q", "--out", s(&model)]);
    let classes: Vec<String> = json(&model.join("model/weaksup.json"))["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(classes.len(), 4);
    // The demo test split with its classes renamed, as a WRENCH folder names them in label.json.
    let w = dir.path().join("w");
    std::fs::create_dir_all(&w).unwrap();
    let renamed: Vec<String> = classes.iter().map(|c| format!("x_{c}")).collect();
    let label_json: serde_json::Map<String, Value> =
        renamed.iter().enumerate().map(|(i, c)| (i.to_string(), Value::String(c.clone()))).collect();
    std::fs::write(w.join("label.json"), Value::Object(label_json).to_string()).unwrap();
    let demo = weaksup::data::demo_splits(&Default::default()).unwrap();
    let test = demo.require("test").unwrap();
    let rows: serde_json::Map<String, Value> = test
        .texts()
        .unwrap()
        .iter()
        .zip(test.gold().unwrap())
        .enumerate()
        .map(|(i, (t, g))| (i.to_string(), serde_json::json!({"label": g, "data": {"text": t}})))
        .collect();
    std::fs::write(w.join("test.json"), Value::Object(rows).to_string()).unwrap();
    let e = fails(&["predict", "--model", s(&model), "--data", s(&w), "--out", s(&dir.path().join("p"))]);
    assert!(e.contains("the model predicts [") && e.contains("x_") && e.contains("--class-map"), "{e}");
    assert!(!dir.path().join("p").exists(), "nothing written before the check");
    let map: Vec<String> = classes.iter().zip(&renamed).map(|(a, b)| format!("{a}={b}")).collect();
    let mapped = ok(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&w),
        "--out",
        s(&dir.path().join("p")),
        "--class-map",
        &map.join(","),
    ]);
    let plain = ok(&["predict", "--model", s(&model), "--split", "test", "--out", s(&dir.path().join("p2"))]);
    let acc = |t: &str| t.split("(accuracy ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(acc(&mapped), acc(&plain), "mapped classes score as the model's own: {mapped} / {plain}");
    let preds = weaksup::data::read_parquet(&dir.path().join("p/test.predictions.parquet")).unwrap();
    assert!(preds.column(&format!("prob_{}", renamed[0])).is_ok(), "columns use the data's names");
    let bad = fails(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&w),
        "--out",
        s(&dir.path().join("p3")),
        "--class-map",
        "nope=x",
    ]);
    assert!(bad.contains("--class-map"), "{bad}");
}

#[test]
fn an_output_folder_never_keeps_outputs_of_an_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("votes");
    let lfs = repo("labeling_functions/demo_topics.toml");
    // Demo corpus: train, valid, test votes.
    ok(&["lf", "apply", "--lfs", &lfs, "--out", s(&out), "-q"]);
    assert!(out.join("valid.votes.parquet").is_file());
    // A failed write left a temporary file behind (a full disk, a kill).
    std::fs::write(out.join(".test.votes.parquet.weaksup-tmp"), b"half").unwrap();
    // Now one split only: the old train/valid votes must not look current.
    let demo = dir.path().join("demo");
    ok(&["data", "demo", "--out", s(&demo), "--ext", "csv", "--seed", "3"]);
    ok(&["lf", "apply", "--data", s(&demo.join("test.csv")), "--lfs", &lfs, "--out", s(&out), "-q"]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![".weaksup-outputs.json", "test.votes.parquet", "test.votes.parquet.json"]);
    // Outputs of another command are kept; files weaksup did not write make it refuse.
    ok(&[
        "label-model",
        "fit",
        "--model",
        "mv",
        "--data",
        s(&demo.join("test.csv")),
        "--lfs",
        &lfs,
        "--out",
        s(&out),
        "-q",
    ]);
    assert!(out.join("test.votes.parquet").is_file() && out.join("label_model.json").is_file());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let e = fails(&["lf", "apply", "--lfs", &lfs, "--out", s(&out), "-q"]);
    assert!(e.contains("notes.txt") && e.contains("did not write here"), "{e}");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn settings_are_checked_before_any_work_and_name_the_flag_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("o")).to_string();
    // Data that does not exist: a settings error must come first.
    let nodata = ["--data", "/nonexistent/data.csv"];
    for (flag, value, want) in [
        ("--xi", "1.5", "--xi"),
        ("--t3", "0", "--t3"),
        ("--batch-size", "0", "--batch-size"),
        ("--lr", "0", "--lr"),
    ] {
        let mut args = vec!["cosine", "--out", &out, flag, value];
        args.extend(nodata);
        let e = fails_with(2, &args);
        assert!(e.contains(want), "{flag}: {e}");
    }
    for (flag, value) in [
        ("--label-model", "flyingsquid"),
        ("--precision", "fp16"),
        ("--device", "tpu"),
        ("--targets", "silver"),
    ] {
        let mut args = vec!["train", "--out", &out, flag, value];
        args.extend(nodata);
        let e = fails_with(2, &args);
        assert!(e.contains(&format!("invalid value '{value}' for '{flag}")), "{e}");
    }
    let e = fails_with(2, &["predict", "--model", "/nonexistent", "--batch-size", "0", "--out", &out]);
    assert!(e.contains("--batch-size"), "{e}");
    let cfg = dir.path().join("run.toml");
    std::fs::write(&cfg, "[data]\npath = \"/nonexistent/data.csv\"\n[cosine]\nxi = 1.5\n").unwrap();
    let e = fails(&["run", "--config", s(&cfg)]);
    assert!(e.contains("cosine.xi") && e.contains("1.5"), "{e}");
    std::fs::write(
        &cfg,
        "[data]\npath = \"/nonexistent/data.csv\"\n[label_model]\nmodel = \"flyingsquid\"\n",
    )
    .unwrap();
    let e = fails(&["run", "--config", s(&cfg), "--method", "none"]);
    assert!(
        e.contains("run.toml:4") && e.contains("unknown variant `flyingsquid`") && e.contains("`snorkel`"),
        "a misspelt name fails while the config is read: {e}"
    );
}

#[test]
fn errors_keep_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lfs = repo("labeling_functions/demo_topics.toml");
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop")).unwrap();
    let e = fails(&["data", "info", "--data", s(&d.join("loop"))]);
    assert!(e.contains("symlink loop"), "{e}");
    let e = fails(&["lf", "apply", "--lfs", s(&d.join("loop")), "--out", s(&d.join("o"))]);
    assert!(e.contains("symlink loop"), "{e}");
    let header_only = d.join("header.csv");
    std::fs::write(&header_only, "text,label\n").unwrap();
    let e = fails(&["data", "info", "--data", s(&header_only)]);
    assert!(e.contains("header.csv") && e.contains("no data rows"), "{e}");
    let data = d.join("d.csv");
    std::fs::write(&data, "text,label\na,x\nb,x\n").unwrap();
    let e = fails(&["data", "info", "--data", s(&data), "--classes", "x,x"]);
    assert!(e.contains("class `x` is listed twice"), "{e}");
    let w = d.join("w");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(w.join("label.json"), r#"{"0": "HAM", "1": "HAM"}"#).unwrap();
    std::fs::write(w.join("train.json"), r#"{"0": {"label": 0, "data": {"text": "a"}}}"#).unwrap();
    let e = fails(&["data", "info", "--data", s(&w)]);
    assert!(e.contains("class `HAM` is listed twice"), "{e}");
    let _ = lfs;
}

#[test]
fn a_batch_input_edited_in_place_is_noticed_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("corpus.csv");
    let mut csv = String::from("text\n");
    for i in 0..300 {
        csv.push_str(&format!("check out my channel {i}\n"));
    }
    std::fs::write(&data, &csv).unwrap();
    let lfs = repo("labeling_functions/youtube_bench15.toml");
    let lm = dir.path().join("lm");
    ok(&[
        "label-model",
        "fit",
        "--model",
        "mv",
        "--data",
        s(&data),
        "--classes",
        "HAM,SPAM",
        "--lfs",
        &lfs,
        "--out",
        s(&lm),
        "-q",
    ]);
    let out = dir.path().join("out");
    let args = [
        "batch",
        "label",
        "--lfs",
        &lfs,
        "--label-model",
        s(&lm),
        "--input",
        s(&data),
        "--chunk-rows",
        "100",
        "--out",
        s(&out),
        "-q",
    ];
    let mut killed = args.to_vec();
    killed.extend(["--stop-after-parts", "1"]);
    fails(&killed);
    // Same size, other content: `check` → `chock` in the first row.
    std::fs::write(&data, csv.replacen("check", "chock", 1)).unwrap();
    let e = fails(&args);
    assert!(e.contains("holds another run") && e.contains("changed content"), "{e}");
}

#[test]
fn a_bench_folder_refuses_cells_of_another_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let grid = |max_steps: u32| {
        let cfg = dir.path().join(format!("grid{max_steps}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "out = \"{}\"\nseeds = [1]\nmethods = [\"label_model\"]\n[[datasets]]\nname = \"demo\"\ndata = {{ demo = {{ n_train = 200, n_valid = 50, n_test = 50 }} }}\n[end_model]\nmodel = \"ngram\"\n[train]\nmax_steps = {max_steps}\n",
                out.display()
            ),
        )
        .unwrap();
        cfg.display().to_string()
    };
    ok(&["bench", "--config", &grid(20), "-q"]);
    let e = fails(&["bench", "--config", &grid(30), "-q"]);
    assert!(e.contains("holds cells of another grid") && e.contains("`train` differs"), "{e}");
    // More seeds extend the same grid.
    ok(&["bench", "--config", &grid(20), "--seeds", "1,2", "-q"]);
}

/// `metrics.json` without the fields that measure time.
fn without_timing(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !(k.contains("seconds") || k.contains("per_second") || k == "resumed_at_round")
                });
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn a_cosine_run_killed_in_stage_two_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "cosine",
            "--model",
            "ngram",
            "--max-steps",
            "60",
            "--eval-every",
            "20",
            "--t2",
            "60",
            "--t3",
            "20",
            "-q",
            "--out",
            s(out),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let run = |extra: &[&str], out: &Path| {
        weaksup(&args(out).iter().map(String::as_str).chain(extra.iter().copied()).collect::<Vec<_>>())
    };
    let whole = dir.path().join("whole");
    assert!(run(&[], &whole).status.success());
    let stage1_steps = json(&whole.join("metrics.json"))["stage1"]["steps"].as_u64().unwrap();
    // Killed (exit 137, no clean-up) 30 steps into stage 2: round 0 is checkpointed, round 1 is not.
    let resumed = dir.path().join("resumed");
    let kill_at = (stage1_steps + 30).to_string();
    let killed = run(&["--kill-after-steps", &kill_at], &resumed);
    assert_eq!(killed.status.code(), Some(137), "{}", String::from_utf8_lossy(&killed.stderr));
    assert!(resumed.join("checkpoint/stage2/state.json").is_file() && !resumed.join("metrics.json").exists());
    let again = run(&["--resume"], &resumed);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let (a, b) = (json(&whole.join("metrics.json")), json(&resumed.join("metrics.json")));
    assert_eq!(b["cosine"]["resumed_at_round"], 1);
    assert_eq!(without_timing(a), without_timing(b), "same scores, rounds and curves");
    assert_eq!(
        std::fs::read(whole.join("model/model.safetensors")).unwrap(),
        std::fs::read(resumed.join("model/model.safetensors")).unwrap(),
        "same weights"
    );
}

#[test]
fn the_same_seed_gives_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<Value> = ["a", "b"]
        .iter()
        .map(|name| {
            let out = dir.path().join(name);
            ok(&["run", "--model", "ngram", "--seed", "5", "--out", s(&out), "-q"]);
            without_timing(json(&out.join("metrics.json")))
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn a_bench_run_killed_between_cells_resumes_to_the_uninterrupted_tables() {
    let dir = tempfile::tempdir().unwrap();
    let grid = |out: &Path| {
        let cfg = dir.path().join(format!("{}.toml", out.file_name().unwrap().to_string_lossy()));
        std::fs::write(
            &cfg,
            format!(
                "out = \"{}\"\nseeds = [1, 2]\nmethods = [\"label_model\", \"weak\"]\n[[datasets]]\nname = \"demo\"\ndata = {{ demo = {{ n_train = 300, n_valid = 60, n_test = 60 }} }}\n[end_model]\nmodel = \"ngram\"\n[train]\nmax_steps = 30\neval_every = 10\n",
                out.display()
            ),
        )
        .unwrap();
        cfg.display().to_string()
    };
    let whole = dir.path().join("whole");
    ok(&["bench", "--config", &grid(&whole), "-q"]);
    let resumed = dir.path().join("resumed");
    let cfg = grid(&resumed);
    let killed = weaksup(&["bench", "--config", &cfg, "-q", "--kill-after-cells", "3"]);
    assert_eq!(killed.status.code(), Some(137));
    assert_eq!(std::fs::read_dir(resumed.join("cells")).unwrap().count(), 3);
    ok(&["bench", "--config", &cfg, "-q"]);
    let cells = |d: &Path| {
        let v = json(&d.join("results.json"));
        let mut c: Vec<Value> = v["cells"].as_array().unwrap().iter().cloned().map(without_timing).collect();
        c.sort_by_key(|c| (c["method"].to_string(), c["seed"].as_u64()));
        c
    };
    assert_eq!(cells(&whole), cells(&resumed));
}
