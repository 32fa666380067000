//! Property tests over seeded random inputs (ChaCha8; every case reproduces from its seed):
//! votes are bit-identical at any thread count and chunk size for random LF sets; label models
//! give probability distributions for random vote matrices; what is saved loads back equal.

use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weaksup_core::label_model::{FitOptions, Fitted, LabelModel, Params, SnorkelParams};
use weaksup_core::lf::{ApplyOptions, KeywordLf, KeywordMatch, LfSet, RegexLf, RowLf, SqlLf};
use weaksup_core::matrix::LabelMatrix;
use weaksup_core::progress::NoProgress;

const WORDS: &[&str] = &[
    "check",
    "out",
    "my",
    "channel",
    "free",
    "prize",
    "Click",
    "HERE",
    "song",
    "love",
    "ΟΔΟΣ",
    "σας",
    "café",
    "naïve",
    "http://x.y",
    "50%",
    "a_b",
    "(?)",
    "\u{feff}",
    "İstanbul",
    "ß",
    "12",
    "007",
    "",
    " ",
];

fn random_frame(rng: &mut ChaCha8Rng, n: usize) -> DataFrame {
    let text: Vec<String> = (0..n)
        .map(|_| (0..rng.gen_range(0..12)).map(|_| *WORDS.choose(rng).unwrap()).collect::<Vec<_>>().join(" "))
        .collect();
    let author: Vec<Option<String>> =
        (0..n).map(|_| rng.gen_bool(0.8).then(|| WORDS.choose(rng).unwrap().to_uppercase())).collect();
    let num: Vec<Option<i64>> = (0..n).map(|_| rng.gen_bool(0.9).then(|| rng.gen_range(-5..50))).collect();
    DataFrame::new_infer_height(vec![
        Column::new("text".into(), text),
        Column::new("AUTHOR".into(), author),
        Column::new("n".into(), num),
    ])
    .unwrap()
}

fn word(rng: &mut ChaCha8Rng) -> String {
    loop {
        let w = WORDS.choose(rng).unwrap().trim();
        if !w.is_empty() {
            return w.to_string();
        }
    }
}

/// A random set of keyword, regex, SQL and closure LFs over 3 classes.
fn random_lfs(rng: &mut ChaCha8Rng) -> LfSet {
    let mut set = LfSet::new(vec!["a".into(), "b".into(), "c".into()]).unwrap();
    for j in 0..rng.gen_range(1..10) {
        let label = rng.gen_range(0..3);
        let name = format!("lf{j}");
        match rng.gen_range(0..4) {
            0 => {
                let kws: Vec<String> = (0..rng.gen_range(1..4)).map(|_| word(rng)).collect();
                let lf = KeywordLf::new(name, kws, label)
                    .mode(if rng.gen_bool(0.3) { KeywordMatch::All } else { KeywordMatch::Any })
                    .case_sensitive(rng.gen_bool(0.3))
                    .word_boundary(rng.gen_bool(0.4))
                    .column(if rng.gen_bool(0.2) { "AUTHOR" } else { "text" });
                set.add_keyword(lf).unwrap();
            }
            1 => {
                let w = regex::escape(&word(rng));
                let pattern = [
                    format!(r"\b{w}\b"),
                    format!("(?i){w}.*{}", regex::escape(&word(rng))),
                    format!("^{w}"),
                    format!(r"{w}\s+\S"),
                ][rng.gen_range(0..4)]
                .clone();
                set.add_regex(RegexLf::new(name, pattern, label)).unwrap();
            }
            2 => {
                let w = word(rng).replace('\'', "''").to_lowercase();
                let expr = [
                    format!("length(text) < {}", rng.gen_range(0..40)),
                    format!("lower(text) LIKE '%{w}%'"),
                    format!("lower(AUTHOR) LIKE '{w}%' OR n > {}", rng.gen_range(0..40)),
                    format!(
                        "n BETWEEN {} AND {} AND text NOT LIKE '%{w}'",
                        rng.gen_range(-5..10),
                        rng.gen_range(10..40)
                    ),
                    format!("CASE WHEN n % 2 = 0 THEN lower(text) ILIKE '%{w}%' ELSE n IS NULL END"),
                ][rng.gen_range(0..5)]
                .clone();
                set.add_sql(SqlLf::new(name, expr, label)).unwrap();
            }
            _ => {
                let k = rng.gen_range(2..5);
                set.add_row(RowLf::new(
                    name,
                    move |t: &str| if t.chars().count().is_multiple_of(k) { label } else { -1 },
                ))
                .unwrap();
            }
        }
    }
    set
}

#[test]
fn votes_are_bit_identical_at_any_thread_count_and_chunk_size() {
    for case in 0..80u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(case);
        let n = rng.gen_range(1..400);
        let frame = random_frame(&mut rng, n);
        let compiled = random_lfs(&mut rng).compile().unwrap();
        let reference = compiled
            .apply(
                &frame,
                &ApplyOptions { threads: Some(1), chunk_size: 1 << 20, fault_tolerant: false },
                &NoProgress,
            )
            .unwrap();
        for threads in [1, 2, 3] {
            for chunk_size in [1, 7, 64] {
                let opts = ApplyOptions { threads: Some(threads), chunk_size, fault_tolerant: false };
                let got = compiled.apply(&frame, &opts, &NoProgress).unwrap();
                assert_eq!(
                    got,
                    reference,
                    "case {case}: {threads} threads, chunks of {chunk_size} ({:?})",
                    compiled.names()
                );
            }
        }
    }
}

/// A random vote matrix: `n` rows, `m` LFs over `c` classes, each LF abstaining at its own rate.
fn random_votes(rng: &mut ChaCha8Rng) -> LabelMatrix {
    let (n, m, c) = (rng.gen_range(1..150), rng.gen_range(1..8), rng.gen_range(2..5));
    let abstain: Vec<f64> = (0..m).map(|_| rng.gen_range(0.0..0.95)).collect();
    let votes: Vec<i16> = (0..n * m)
        .map(|k| if rng.gen_bool(abstain[k % m]) { -1 } else { rng.gen_range(0..c) as i16 })
        .collect();
    LabelMatrix::new(votes, n, (0..m).map(|j| format!("lf{j}")).collect(), c).unwrap()
}

#[test]
fn label_models_give_distributions_for_random_vote_matrices() {
    let mut fitted_any = 0;
    for case in 0..60u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + case);
        let votes = random_votes(&mut rng);
        let params = [
            Params::default_for("mv").unwrap(),
            Params::default_for("wmv").unwrap(),
            Params::default_for("ds").unwrap(),
            Params::Snorkel(SnorkelParams { epochs: 50, ..SnorkelParams::default() }),
        ];
        for p in params {
            // Fitting may refuse (every row uncovered); it must never give a non-distribution.
            let Ok(model) = p.fit_quiet(&votes, &FitOptions::default()) else { continue };
            fitted_any += 1;
            let proba = model.predict_proba(&votes).unwrap();
            for i in 0..votes.n_rows() {
                let row = proba.row(i);
                let sum: f64 = row.iter().sum();
                assert!(
                    row.iter().all(|p| p.is_finite() && *p >= 0.0) && (sum - 1.0).abs() < 1e-6,
                    "case {case}, {}: row {i} = {row:?}",
                    model.name()
                );
            }
        }
    }
    assert!(fitted_any > 150, "most random matrices fit ({fitted_any})");
}

#[test]
fn what_is_saved_loads_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    for case in 0..20u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(2000 + case);
        // Vote matrices through Parquet, with their class names.
        let votes = random_votes(&mut rng);
        let classes: Vec<String> = (0..votes.cardinality()).map(|k| format!("class {k} é")).collect();
        let p = dir.path().join(format!("v{case}.votes.parquet"));
        votes.write_parquet(&p, &classes).unwrap();
        let (back, back_classes) = LabelMatrix::read_parquet(&p).unwrap();
        assert_eq!((back, back_classes), (votes.clone(), classes.clone()), "case {case}");
        // Label models through JSON: the same probabilities.
        for name in ["mv", "ds", "snorkel"] {
            let Ok(model) = Params::default_for(name).unwrap().fit_quiet(&votes, &FitOptions::default())
            else {
                continue;
            };
            let path = dir.path().join(format!("lm{case}{name}.json"));
            model.save(&path).unwrap();
            let loaded = Fitted::load(&path).unwrap();
            assert_eq!(
                model.predict_proba(&votes).unwrap().data(),
                loaded.predict_proba(&votes).unwrap().data(),
                "case {case} {name}"
            );
        }
        // Datasets through Parquet and CSV (CSV has no empty string: non-text cells are null or text).
        let n = rng.gen_range(1..50);
        let frame = random_frame(&mut rng, n);
        let texts: Vec<String> = frame
            .column("text")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|t| format!("t {}", t.unwrap()))
            .collect();
        let mut frame = frame;
        frame.with_column(Column::new("text".into(), texts)).unwrap();
        let author = frame
            .column("AUTHOR")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|a| a.filter(|a| !a.is_empty()).map(str::to_string))
            .collect::<Vec<_>>();
        frame.with_column(Column::new("AUTHOR".into(), author)).unwrap();
        let frame = frame.select(["text", "AUTHOR"]).unwrap();
        let classes = vec!["x".to_string(), "y".to_string()];
        for ext in ["parquet", "csv"] {
            let path = dir.path().join(format!("d{case}.{ext}"));
            weaksup_core::data::write_frame(&mut frame.clone(), &path).unwrap();
            let ds = weaksup_core::data::load(
                &path,
                &weaksup_core::data::LoadOptions { classes: Some(classes.clone()), ..Default::default() },
            )
            .unwrap();
            assert!(
                ds.splits[0].frame.equals_missing(&frame),
                "case {case} {ext}:\n{}\nvs\n{frame}",
                ds.splits[0].frame
            );
        }
    }
}
