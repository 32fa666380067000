//! Sequence labeling from the command line: `lf apply|analyze|bench` and `label-model
//! fit|compare` on token data (a seeded CoNLL corpus written here, so no shared data is needed;
//! MIT-R where `../shared` exists), the task judged from the data, and clean refusals.

use std::fmt::Write as _;
use std::path::Path;

use crate::common::{self, fails, ok, s};

const CUISINES: [&str; 4] = ["thai", "mexican", "italian", "chinese"];
const PLACES: [&str; 3] = ["boston", "new york", "chicago"];

/// A BIO corpus of restaurant queries with known spans: `<cuisine> food in <place>` and fillers.
fn conll(n: usize, seed: u64) -> String {
    let mut state = seed;
    let mut next = |k: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % k as u64) as usize
    };
    let mut out = String::new();
    for _ in 0..n {
        let cuisine = CUISINES[next(CUISINES.len())];
        let place = PLACES[next(PLACES.len())];
        let mut tokens: Vec<(&str, String)> = vec![("any", "O".into())];
        tokens.push((cuisine, "B-CUISINE".into()));
        tokens.push(("food", "O".into()));
        if next(2) == 0 {
            tokens.push(("in", "O".into()));
            for (k, w) in place.split(' ').enumerate() {
                tokens.push((w, if k == 0 { "B-LOC".into() } else { "I-LOC".into() }));
            }
        }
        for (w, t) in tokens {
            writeln!(out, "{w}\t{t}").unwrap();
        }
        out.push('\n');
    }
    out
}

const LFS: &str = r#"
types = ["LOC", "CUISINE"]

[[lf]]
name = "places"
kind = "gazetteer"
tag = "LOC"
entries = ["boston", "new york"]

[[lf]]
name = "after_in"
kind = "regex"
tag = "LOC"
pattern = '\bin (?P<span>\w+)'

[[lf]]
name = "cuisines"
kind = "gazetteer"
tag = "CUISINE"
entries = ["thai", "mexican", "italian"]

[[lf]]
name = "before_food"
kind = "regex"
tag = "CUISINE"
pattern = '\b(?P<span>\w+) food'
"#;

fn corpus(dir: &Path) -> (String, String) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (split, n, seed) in [("train", 300, 1), ("valid", 80, 2), ("test", 80, 3)] {
        std::fs::write(data.join(format!("{split}.conll")), conll(n, seed)).unwrap();
    }
    let lfs = dir.join("lfs.toml");
    std::fs::write(&lfs, LFS).unwrap();
    (s(&data).to_string(), s(&lfs).to_string())
}

#[test]
fn token_lfs_and_label_models_end_to_end_on_a_conll_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let votes = dir.path().join("votes");
    let out = ok(&["lf", "apply", "--data", &data, "--lfs", &lfs, "--out", s(&votes)]);
    assert!(out.contains("train: 300 sentences") && out.contains("× 4 LFs"), "{out}");
    let (m, tags) = weaksup::LabelMatrix::read_parquet(&votes.join("train.votes.parquet")).unwrap();
    // Types in order of first appearance in the files.
    assert_eq!(tags, ["O", "B-CUISINE", "I-CUISINE", "B-LOC", "I-LOC"]);
    assert_eq!(m.n_lfs(), 4);

    // Saved votes and LFs applied now give the same analysis.
    let from_votes = ok(&["lf", "analyze", "--data", &data, "--votes", s(&votes)]);
    let from_lfs = ok(&["lf", "analyze", "--data", &data, "--lfs", &lfs]);
    let strip = |t: &str| {
        t.lines().map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>()
    };
    assert_eq!(strip(&from_votes).len(), strip(&from_lfs).len());
    assert!(from_lfs.contains("span_precision") && from_lfs.contains("places"), "{from_lfs}");
    // `cuisines` never marks "chinese" and is exact elsewhere: span precision 1.000.
    let row = from_lfs.lines().find(|l| l.starts_with("cuisines")).unwrap();
    assert!(row.contains("1.000"), "{row}");

    let fit = dir.path().join("lm");
    let out =
        ok(&["label-model", "fit", "--data", &data, "--lfs", &lfs, "--token-model", "hmm", "--out", s(&fit)]);
    assert!(out.contains("token label model `hmm`") && out.contains("test: span F1"), "{out}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fit.join("label_model.metrics.json")).unwrap())
            .unwrap();
    let test = metrics["splits"].as_array().unwrap().iter().find(|s| s[0] == "test").unwrap();
    let f1 = test[1]["span"]["micro"]["f1"].as_f64().unwrap();
    // Every LOC span is found (gazetteer or `in X`) and every cuisine but by `X food`: near-perfect.
    assert!(f1 > 0.9, "test span F1 {f1}");
    let soft = weaksup::data::read_parquet(&fit.join("test.soft_labels.parquet")).unwrap();
    assert_eq!(soft.height(), 80, "a row per sentence");
    for c in ["tokens", "tags", "pred", "prob_O", "prob_B-LOC"] {
        assert!(soft.column(c).is_ok(), "column {c}");
    }
    let model = weaksup::token::label_model::TokenFitted::load(&fit.join("label_model.json")).unwrap();
    assert_eq!(model.name(), "hmm");

    let table = ok(&["label-model", "compare", "--data", &data, "--lfs", &lfs]);
    for m in ["| mv |", "| ds |", "| hmm |"] {
        assert!(table.contains(m), "{table}");
    }
}

#[test]
fn token_data_is_refused_cleanly_where_it_is_not_supported() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let out = dir.path().join("out");
    let e = fails(&[
        "label-model",
        "fit",
        "--data",
        &data,
        "--lfs",
        &lfs,
        "--model",
        "snorkel",
        "--out",
        s(&out),
    ]);
    assert!(e.contains("`snorkel`") && e.contains("--token-model"), "{e}");
    let e = fails(&[
        "cosine",
        "--data",
        &data,
        "--lfs",
        &lfs,
        "--model",
        "tiny_bert",
        "--variant",
        "official",
        "--out",
        s(&out),
    ]);
    assert!(e.contains("--variant") && e.contains("paper variant only"), "{e}");
    let e = fails(&["train", "--data", &data, "--lfs", &lfs, "--model", "ngram", "--out", s(&out)]);
    assert!(e.contains("cannot tag tokens"), "{e}");
    // An LF file whose type the corpus lacks.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "types = [\"PER\"]\n[[lf]]\nname = \"x\"\nkind = \"gazetteer\"\ntag = \"PER\"\nentries = [\"bob\"]\n",
    )
    .unwrap();
    let e = fails(&["lf", "apply", "--data", &data, "--lfs", s(&bad), "--out", s(&out)]);
    assert!(e.contains("bad.toml") && e.contains("`PER` is not among the corpus's types"), "{e}");
    // Forcing classification on token data reads it as a table and fails on that, not silently.
    let e = fails(&["lf", "analyze", "--data", &format!("{data}/train.conll"), "--task", "classification"]);
    assert!(e.contains("train.conll"), "{e}");
}

#[test]
fn run_writes_every_stage_of_the_token_pipeline_in_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let out = dir.path().join("run");
    let said = ok(&[
        "run",
        "--data",
        &data,
        "--lfs",
        &lfs,
        "--method",
        "weak",
        "--model",
        "tiny_bert",
        "--lr",
        "0.002",
        "--max-len",
        "16",
        "--max-steps",
        "40",
        "--eval-every",
        "20",
        "--seed",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(said.contains("== LFs on valid ==") && said.contains("tagger on train"), "{said}");
    for f in [
        "config.toml",
        "train.votes.parquet",
        "valid.lf_summary.csv",
        "label_model.json",
        "train.soft_labels.parquet",
        "test.predictions.parquet",
        "metrics.json",
        "model/weaksup.json",
        "report.md",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## LFs on train") && report.contains("| weak | test | span F1"), "{report}");
    // The votes written are the LFs' votes on every token of the split: 4 LFs wide.
    let votes = weaksup::data::read_parquet(&out.join("train.votes.parquet")).unwrap();
    assert_eq!(votes.width(), 4);
    // `--method none` stops after the label model.
    let lm_only = dir.path().join("lm_only");
    ok(&["run", "--data", &data, "--lfs", &lfs, "--method", "none", "-q", "--out", s(&lm_only)]);
    assert!(lm_only.join("label_model.json").is_file() && !lm_only.join("model").exists());
}

#[test]
fn mitr_rules_and_stored_votes() {
    let Some(mitr) = common::dataset("cosine/mitr") else { return };
    let lfs = common::repo().join("labeling_functions/mitr.toml");
    let d = s(&mitr);
    // The paper's stored `major` votes: one LF, train token coverage 7822 / 39554 = 0.198.
    let stored = ok(&["lf", "analyze", "--data", d, "--split", "train"]);
    assert!(stored.contains("major") && stored.contains("coverage 0.198"), "{stored}");
    let table = ok(&["lf", "analyze", "--data", d, "--split", "valid", "--lfs", s(&lfs)]);
    assert!(table.contains("rating_adjectives") && table.contains("gold spans"), "{table}");
    let out = ok(&["lf", "bench", "--data", d, "--lfs", s(&lfs), "--rows", "2000", "--repeat", "1"]);
    assert!(out.starts_with("2000 sentences"), "{out}");
}

#[test]
fn train_fits_a_tagger_on_weak_or_gold_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let out = dir.path().join("tagger");
    let args = [
        "--model",
        "tiny_bert",
        "--lr",
        "0.002",
        "--max-len",
        "16",
        "--max-steps",
        "120",
        "--eval-every",
        "40",
        "--seed",
        "1",
    ];
    let mut cmd = vec!["train", "--data", &data, "--lfs", &lfs, "--out", s(&out)];
    cmd.extend(args);
    let stdout = ok(&cmd);
    assert!(stdout.contains("tagger on train (label_model of `"), "{stdout}");
    assert!(stdout.contains("test: span F1"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["train_sentences"], 300);
    let saved = std::fs::read_to_string(out.join("model/weaksup.json")).unwrap();
    assert!(saved.contains("\"head\": \"token\""), "{saved}");
    let pred = weaksup::data::read_parquet(&out.join("test.predictions.parquet")).unwrap();
    assert_eq!(pred.height(), 80);
    assert!(pred.column("pred").is_ok() && pred.column("tokens").is_ok());
    // `predict` with the saved tagger gives the same test predictions as training wrote.
    let preds = dir.path().join("preds");
    let said = ok(&["predict", "--model", s(&out), "--data", &data, "--split", "test", "--out", s(&preds)]);
    assert!(said.contains("test: 80 sentences") && said.contains("span F1"), "{said}");
    let again = weaksup::data::read_parquet(&preds.join("test.predictions.parquet")).unwrap();
    assert!(again.column("pred").unwrap().equals(pred.column("pred").unwrap()));
    // The weak tags miss "chinese" (no LF) but the words around it are the same as for the
    // other cuisines: the tagger learns the tags of the rules' words at least.
    let f1 = |m: &serde_json::Value, split: &str| {
        let e = m["splits"].as_array().unwrap().iter().find(|s| s[0] == split).unwrap();
        e[1]["span"]["micro"]["f1"].as_f64().unwrap()
    };
    assert!(f1(&metrics, "test") > 0.5, "{}", f1(&metrics, "test"));
    // Gold targets: the supervised ceiling on the same data.
    let gold_out = dir.path().join("gold");
    let mut cmd = vec!["train", "--data", &data, "--targets", "gold", "--out", s(&gold_out)];
    cmd.extend(args);
    ok(&cmd);
    let gm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gold_out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(gm["targets"], "gold");
    assert!(f1(&gm, "test") > 0.5, "{}", f1(&gm, "test"));
    // `--drop-uncovered`: stage 1 weighs only the words an LF voted on. Here the LFs vote on
    // exactly the entity words (every cuisine precedes "food"; every place follows "in" or is in
    // the gazetteer), so those are the train split's non-`O` gold tags.
    let dropped = dir.path().join("dropped");
    let mut cmd =
        vec!["train", "--data", &data, "--lfs", &lfs, "--drop-uncovered", "-q", "--out", s(&dropped)];
    cmd.extend(args);
    let k = cmd.iter().position(|a| *a == "--max-steps").unwrap();
    cmd[k + 1] = "2";
    ok(&cmd);
    let dm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dropped.join("metrics.json")).unwrap()).unwrap();
    let train = std::fs::read_to_string(Path::new(&data).join("train.conll")).unwrap();
    let entities = train.lines().filter(|l| !l.is_empty() && !l.ends_with("\tO")).count();
    assert_eq!(dm["train_words"].as_u64().unwrap() as usize, entities);
    assert!(entities < metrics["train_words"].as_u64().unwrap() as usize);
    // Classification data has no uncovered words to drop: the flag is refused, not ignored.
    let e = fails(&["train", "--drop-uncovered", "--model", "ngram", "--out", s(&dir.path().join("cls"))]);
    assert!(e.contains("--drop-uncovered is for token data"), "{e}");
}

#[test]
fn cosine_self_trains_a_tagger_on_token_pseudo_labels_and_resumes_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let args = |out: &Path| {
        let rest = [
            "--max-steps",
            "80",
            "--t2",
            "60",
            "--t3",
            "20",
            "--mu",
            "1",
            "--con-tokens",
            "16",
            "--seed",
            "2",
        ];
        tagger_cmd("cosine", &data, &lfs, out, &rest)
    };
    let run = |out: &Path, extra: &[&str]| weaksup_with(args(out), extra);
    let whole = dir.path().join("whole");
    let done = run(&whole, &[]);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(stdout.contains("COSINE stage 2: 3 rounds, 60 steps over a pool of 300 sentences"), "{stdout}");
    assert!(stdout.contains("stage 1 test: span F1") && stdout.contains("\n  test: span F1"), "{stdout}");
    let m = metrics(&whole);
    assert_eq!(m["method"], "cosine");
    let rounds = m["cosine"]["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3);
    // The teacher labels every word of the 300 training sentences (3–6 words each); its
    // pseudo-labels are scored against the words' gold tags, so a unit/word misalignment shows
    // as low accuracy here.
    let units = rounds[0]["pool_units"].as_u64().unwrap();
    assert!((900..=1800).contains(&units), "{units}");
    for r in rounds {
        assert!(r["selected_fraction"].as_f64().unwrap() > 0.3, "{r}");
        assert!(r["pseudo_accuracy"].as_f64().unwrap() > 0.8, "{r}");
        assert!(r["loss_con"].as_f64().unwrap() > 0.0, "{r}");
    }
    let f1 = |m: &serde_json::Value, key: &str, split: &str| {
        let e = m[key].as_array().unwrap().iter().find(|s| s[0] == split).unwrap();
        e[1]["span"]["micro"]["f1"].as_f64().unwrap()
    };
    assert!(f1(&m, "stage1_splits", "test") > 0.5 && f1(&m, "splits", "test") > 0.5, "{m}");
    let stage1 = weaksup::data::read_parquet(&whole.join("test.stage1.predictions.parquet")).unwrap();
    assert_eq!(stage1.height(), 80);
    // Killed 30 steps into stage 2: resumes at the last finished round to the same weights.
    let kill_at = (m["stage1"]["steps"].as_u64().unwrap() + 30).to_string();
    let resumed = dir.path().join("resumed");
    let killed = run(&resumed, &["--kill-after-steps", &kill_at]);
    assert_eq!(killed.status.code(), Some(137), "{}", String::from_utf8_lossy(&killed.stderr));
    let again = run(&resumed, &["--resume", "-q"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let r = metrics(&resumed);
    assert_eq!(r["cosine"]["resumed_at_round"], 1);
    assert_eq!(m["cosine"]["rounds"][2]["loss_cls"], r["cosine"]["rounds"][2]["loss_cls"]);
    same_run(&whole, &resumed);
}

#[test]
fn a_killed_tagger_run_resumes_to_the_same_weights_and_refuses_another_runs_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let args =
        |out: &Path| tagger_cmd("train", &data, &lfs, out, &["--max-steps", "160", "--seed", "3", "-q"]);
    let run = |out: &Path, extra: &[&str]| weaksup_with(args(out), extra);
    let whole = dir.path().join("whole");
    assert!(run(&whole, &[]).status.success());
    // Killed at step 130 (exit 137, no clean-up): the step-100 checkpoint is there, no outputs.
    let resumed = dir.path().join("resumed");
    let killed = run(&resumed, &["--kill-after-steps", "130"]);
    assert_eq!(killed.status.code(), Some(137), "{}", String::from_utf8_lossy(&killed.stderr));
    assert!(resumed.join("checkpoint/fingerprint.json").is_file() && !resumed.join("metrics.json").exists());
    // Another run (other seed) refuses this checkpoint, naming what differs.
    let mut other = args(&resumed);
    let k = other.iter().position(|a| a == "--seed").unwrap();
    other[k + 1] = "4".into();
    let e = weaksup_with(other, &["--resume"]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another run") && stderr.contains("`seed`"), "{stderr}");
    let again = run(&resumed, &["--resume"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let (a, b) = (metrics(&whole), metrics(&resumed));
    assert_eq!(a["stage1"]["best_step"], b["stage1"]["best_step"]);
    assert_eq!(a["stage1"]["losses"], b["stage1"]["losses"]);
    same_run(&whole, &resumed);
}

/// A tagger command on the test corpus with tiny_bert's settings, then `rest`.
fn tagger_cmd(cmd: &str, data: &str, lfs: &str, out: &Path, rest: &[&str]) -> Vec<String> {
    let head =
        [cmd, "--data", data, "--lfs", lfs, "--model", "tiny_bert", "--lr", "0.002", "--max-len", "16"];
    let tail = ["--eval-every", "40", "--out", s(out)];
    head.iter().chain(rest).chain(&tail).map(|x| x.to_string()).collect()
}

fn weaksup_with(mut args: Vec<String>, extra: &[&str]) -> std::process::Output {
    args.extend(extra.iter().map(|x| x.to_string()));
    common::weaksup(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn metrics(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap()
}

/// A resumed run ended where the uninterrupted one did: same scores, same weights.
fn same_run(whole: &Path, resumed: &Path) {
    assert_eq!(metrics(whole)["splits"], metrics(resumed)["splits"], "same scores");
    assert_eq!(
        std::fs::read(whole.join("model/model.safetensors")).unwrap(),
        std::fs::read(resumed.join("model/model.safetensors")).unwrap(),
        "same weights"
    );
}

#[test]
fn the_demo_token_corpus_and_its_lf_file_run_without_shared_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let said =
        ok(&["data", "demo", "--task", "tagging", "--n-train", "300", "--seed", "3", "--out", s(&out)]);
    assert!(said.contains("train: 300 sentences"), "{said}");
    let lfs = common::repo().join("labeling_functions/demo_tags.toml");
    let table = ok(&["label-model", "compare", "--data", s(&out), "--lfs", s(&lfs)]);
    // The rules are precise but incomplete: every model's valid span precision is high.
    for row in
        table.lines().filter(|l| l.starts_with("| mv") || l.starts_with("| ds") || l.starts_with("| hmm"))
    {
        let p: f64 = row.split("(P ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(p > 0.85, "{row}");
    }
}

/// `label-model fit` of the token HMM into `out`.
fn fit_hmm(data: &str, lfs: &str, out: &Path) {
    ok(&["label-model", "fit", "--data", data, "--lfs", lfs, "--token-model", "hmm", "-q", "--out", s(out)]);
}

/// The sentences of a CoNLL file, a token list each.
fn sentences(conll: &str) -> Vec<Vec<String>> {
    conll
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| b.lines().map(|l| l.split('\t').next().unwrap().to_string()).collect())
        .collect()
}

/// A list column's values, a list of strings per row.
fn string_lists(frame: &polars::prelude::DataFrame, col: &str) -> Vec<Vec<String>> {
    let l = frame.column(col).unwrap().list().unwrap().clone();
    (0..l.len())
        .map(|i| {
            let s = l.get_as_series(i).unwrap();
            s.str().unwrap().iter().map(|x| x.unwrap().to_string()).collect()
        })
        .collect()
}

/// A batch output folder's parts, concatenated in part order.
fn batch_frame(dir: &Path) -> polars::prelude::DataFrame {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    names.sort();
    let mut frames = names.iter().map(|p| weaksup::data::read_parquet(p).unwrap());
    let mut all = frames.next().unwrap();
    for f in frames {
        all.vstack_mut(&f).unwrap();
    }
    all
}

#[test]
fn batch_label_and_predict_tag_token_corpora_like_the_single_machine_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let fit = dir.path().join("lm");
    fit_hmm(&data, &lfs, &fit);
    // The test sentences as a corpus: JSON Lines with token arrays (and one whitespace-joined
    // string), plus bad records; the same sentences as CSV text.
    let test = sentences(&std::fs::read_to_string(Path::new(&data).join("test.conll")).unwrap());
    assert_eq!(test.len(), 80);
    let mut jsonl = String::new();
    for (i, t) in test.iter().enumerate() {
        let text = if i == 5 { serde_json::json!(t.join(" ")) } else { serde_json::json!(t) };
        writeln!(jsonl, "{}", serde_json::json!({ "id": format!("s{i}"), "text": text })).unwrap();
        if i == 10 {
            jsonl.push_str("{\"id\": \"bad1\", \"text\": [1, 2]}\n{\"id\": \"bad2\", \"text\": []}\n");
        }
    }
    let corpus_dir = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus_dir).unwrap();
    std::fs::write(corpus_dir.join("a.jsonl"), &jsonl).unwrap();
    let mut csv = String::from("text\n");
    for t in &test {
        writeln!(csv, "{}", t.join(" ")).unwrap();
    }
    std::fs::write(corpus_dir.join("b.csv"), &csv).unwrap();
    let input = s(&corpus_dir).to_string();
    let label = |out: &Path, extra: &[&str]| {
        let mut args = vec!["batch", "label", "--input", &input, "--lfs", &lfs, "--label-model", s(&fit)];
        args.extend(["--id-col", "id", "--chunk-rows", "30", "-q", "--out", s(out)]);
        args.extend(extra);
        common::weaksup(&args)
    };
    // The id column exists in the JSON Lines file only: the CSV file is refused by name.
    let e = label(&dir.path().join("refused"), &[]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && stderr.contains("b.csv") && stderr.contains("`id`"), "{stderr}");
    std::fs::remove_file(corpus_dir.join("b.csv")).unwrap();

    let whole = dir.path().join("labels");
    assert!(label(&whole, &[]).status.success());
    let frame = batch_frame(&whole);
    assert_eq!(frame.height(), 80, "the two bad records are left out");
    assert_eq!(string_lists(&frame, "tokens"), test);
    // The same tags and distributions as `label-model fit` wrote for the test split.
    let soft = weaksup::data::read_parquet(&fit.join("test.soft_labels.parquet")).unwrap();
    assert_eq!(string_lists(&frame, "label"), string_lists(&soft, "pred"));
    assert!(frame.column("prob_B-LOC").unwrap().equals(soft.column("prob_B-LOC").unwrap()));
    for c in ["places", "after_in", "cuisines", "before_food", "covered", "id"] {
        assert!(frame.column(c).is_ok(), "column {c}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["summary"]["rejected"]["missing_text"], 2, "{manifest}");
    let rejected = std::fs::read_to_string(whole.join("rejected.jsonl")).unwrap();
    assert!(rejected.contains("\"line\":12") && rejected.contains("list of strings"), "{rejected}");
    assert!(rejected.contains("\"line\":13") && rejected.contains("no tokens"), "{rejected}");
    // Killed after one part, resumed: the same parts.
    let resumed = dir.path().join("resumed");
    assert!(!label(&resumed, &["--stop-after-parts", "1"]).status.success());
    assert!(label(&resumed, &[]).status.success());
    assert_eq!(batch_frame(&whole), batch_frame(&resumed));
    // LFs other than the model's, and text LF files with a token model, are refused by name.
    let subset = dir.path().join("subset.toml");
    std::fs::write(&subset, &LFS[..LFS.find("[[lf]]\nname = \"after_in\"").unwrap()]).unwrap();
    let mixed = |lfs: &str| {
        let args = ["batch", "label", "--input", &input, "--lfs", lfs, "--label-model", s(&fit)];
        fails(&[&args[..], &["--out", s(&dir.path().join("mixed"))]].concat())
    };
    let e = mixed(s(&subset));
    assert!(e.contains("fitted on the LFs [places, after_in") && e.contains("given [places]"), "{e}");
    let e = mixed(s(&common::repo().join("labeling_functions/youtube_spam.toml")));
    assert!(e.contains("label_model.json") && e.contains("token LF files"), "{e}");

    // A tagger over the same corpus: `batch predict` tags as `predict` does.
    let tagger = dir.path().join("tagger");
    let args = tagger_cmd("train", &data, &lfs, &tagger, &["--max-steps", "40", "--seed", "1", "-q"]);
    assert!(weaksup_with(args, &[]).status.success());
    let preds = dir.path().join("preds");
    ok(&["predict", "--model", s(&tagger), "--data", &data, "--split", "test", "--out", s(&preds)]);
    let single = weaksup::data::read_parquet(&preds.join("test.predictions.parquet")).unwrap();
    let batch = dir.path().join("batch_preds");
    ok(&[
        "batch",
        "predict",
        "--input",
        &input,
        "--model",
        s(&tagger),
        "--chunk-rows",
        "25",
        "-q",
        "--out",
        s(&batch),
    ]);
    let frame = batch_frame(&batch);
    assert_eq!(string_lists(&frame, "pred"), string_lists(&single, "pred"));
    assert!(frame.column("prob_O").is_ok() && frame.column("prob_I-LOC").is_ok());
}

#[test]
fn bench_scores_token_datasets_by_span_f1_and_pairs_cosine_with_stage_1() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lfs) = corpus(dir.path());
    let grid = |metric: &str, out: &Path| {
        let cfg = dir.path().join(format!("grid_{metric}.toml"));
        let text = format!(
            r#"out = "{}"
seeds = [1, 2]
methods = ["label_model", "weak", "cosine", "gold", "valid"]
[[datasets]]
name = "conll"
metric = "{metric}"
data = {{ path = "{data}" }}
lfs = {{ files = ["{lfs}"] }}
[label_model]
token_model = "hmm"
[end_model]
model = "tiny_bert"
max_len = 16
[train]
lr = 0.002
max_steps = 40
eval_every = 20
[cosine]
t2 = 20
t3 = 10
lambda_scale = "one"
"#,
            out.display()
        );
        std::fs::write(&cfg, text).unwrap();
        common::weaksup(&["bench", "--config", s(&cfg), "-q"])
    };
    // A classification metric on token data: every cell fails, naming the fix.
    let wrong = dir.path().join("wrong");
    let e = grid("accuracy", &wrong);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && stderr.contains("span_f1"), "{stderr}");

    let out = dir.path().join("bench");
    let e = grid("span_f1", &out);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    // `valid` (the clean-valid baseline) is not built for taggers: 4 methods × 2 seeds.
    assert_eq!(std::fs::read_dir(out.join("cells")).unwrap().count(), 8);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    let cell = |m: &str, seed: u64| cells.iter().find(|c| c["method"] == m && c["seed"] == seed).unwrap();
    for c in cells {
        // The score is the test span F1 of the cell's own evaluation.
        assert_eq!(c["metric"], "span_f1");
        assert_eq!(c["score"], c["tags"]["span"]["micro"]["f1"], "{c}");
    }
    // The label model is fitted without a seed: the same cell for both seeds; its span F1 equals
    // `label-model fit`'s on test.
    assert_eq!(cell("label_model", 1)["tags"], cell("label_model", 2)["tags"]);
    let fit = dir.path().join("lm");
    fit_hmm(&data, &lfs, &fit);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fit.join("label_model.metrics.json")).unwrap())
            .unwrap();
    let test = m["splits"].as_array().unwrap().iter().find(|x| x[0] == "test").unwrap();
    assert_eq!(cell("label_model", 1)["tags"], test[1]);
    // Gold tags use train + valid sentences (300 + 80); the others valid only.
    assert_eq!(cell("gold", 1)["labelled_rows"], 380);
    assert_eq!(cell("weak", 1)["labelled_rows"], 80);
    let pairs = json["cosine_vs_weak"].as_array().unwrap();
    assert_eq!(pairs.len(), 1);
    let diffs = pairs[0]["test_diff"].as_array().unwrap();
    for (k, seed) in [1u64, 2].into_iter().enumerate() {
        let d =
            cell("cosine", seed)["score"].as_f64().unwrap() - cell("weak", seed)["score"].as_f64().unwrap();
        assert!((diffs[k].as_f64().unwrap() - d).abs() < 1e-12, "{pairs:?}");
    }
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| conll | span F1 | COSINE |"), "{md}");
}
