//! Label-model fit times: synthetic 100,000 × 50 (4 classes) and 100,000 × 500 (10 classes, each
//! LF firing on 1–9% of the rows) matrices, and the WRENCH youtube, sms and trec train matrices. Each fit runs to convergence (or its iteration cap) with the
//! model's default parameters. Then model selection at the scale of a relation set with many
//! sparse LFs (2,000 train × 200 valid rows, 164 LFs, 9 classes, each LF firing on 0.2–3% of the
//! rows): one 500-epoch Snorkel fit, and `auto` (every model's grid, 150 points, best on valid).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use weaksup::label_model::synthetic::{SyntheticSpec, generate};
use weaksup::label_model::{FitOptions, LabelModelConfig, Params, SnorkelParams};

fn bench(c: &mut Criterion) {
    let synth = generate(&SyntheticSpec {
        n_rows: 100_000,
        n_lfs: 50,
        cardinality: 4,
        class_balance: vec![0.4, 0.3, 0.2, 0.1],
        accuracy: (0.55, 0.9),
        propensity: (0.05, 0.3),
        seed: 1,
    })
    .unwrap();
    // The scale the label models must handle in seconds: 100,000 rows × 500 LFs × 10 classes.
    let wide = generate(&SyntheticSpec::wide(100_000)).unwrap();
    let mut matrices = vec![("synthetic_100k_x50", synth.votes), ("synthetic_100k_x500_c10", wide.votes)];
    let shared = std::env::var_os("WEAKSUP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    for name in ["wrench_youtube", "wrench_sms", "wrench_trec"] {
        match weaksup::data::load_wrench(&shared.join("datasets").join(name)) {
            Ok(s) => matrices.push((name, s.require("train").unwrap().votes.clone().unwrap())),
            Err(e) if std::env::var("WEAKSUP_REQUIRE_SHARED").is_ok_and(|v| v == "1") => panic!("{e}"),
            Err(e) => eprintln!("SKIPPED {name}: {e}"),
        }
    }
    let mut g = c.benchmark_group("label_model_fit");
    g.sample_size(10);
    for (name, m) in &matrices {
        for model in ["mv", "ds", "snorkel"] {
            let p = Params::default_for(model).unwrap();
            g.bench_function(format!("{model}/{name}"), |b| {
                b.iter(|| p.fit_quiet(m, &FitOptions::default()).unwrap())
            });
        }
    }
    g.finish();

    let relation = |n_rows, seed| {
        generate(&SyntheticSpec {
            n_rows,
            n_lfs: 164,
            cardinality: 9,
            class_balance: vec![],
            accuracy: (0.4, 0.9),
            propensity: (0.002, 0.03),
            seed,
        })
        .unwrap()
    };
    let (train, valid) = (relation(2_000, 2), relation(200, 3));
    let mut g = c.benchmark_group("label_model_select");
    g.sample_size(10);
    let snorkel = Params::Snorkel(SnorkelParams { epochs: 500, ..SnorkelParams::default() });
    g.bench_function("snorkel_500_epochs/relation_2k_x164_c9", |b| {
        b.iter(|| snorkel.fit_quiet(&train.votes, &FitOptions::default()).unwrap())
    });
    let auto = LabelModelConfig::default();
    g.bench_function("auto/relation_2k_x164_c9", |b| {
        b.iter(|| auto.fit(&train.votes, Some((&valid.votes, valid.gold.as_slice()))).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
