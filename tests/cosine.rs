//! COSINE end to end on the demo corpus with the n-gram model: self-training beats stage 1.

use tch::Device;
use weaksup::data::{self, demo::DemoParams};
use weaksup::label_model::{FitOptions, LabelModel, Params};
use weaksup::metrics::Metric;
use weaksup::model::Precision;
use weaksup::model::ngram::{NgramClassifier, NgramConfig};
use weaksup::progress::NoProgress;
use weaksup::selftrain::{CosineConfig, cosine};
use weaksup::train::{self, EndModel, EvalSet, TrainConfig, TrainSet};

#[test]
fn cosine_beats_stage_one_on_the_demo_corpus() {
    let splits = data::demo_splits(&DemoParams::default()).unwrap();
    let (set, _) = weaksup::lf::LfFile::load_set(
        &[std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labeling_functions/demo_topics.toml")],
        &weaksup::lf::Registry::new(),
    )
    .unwrap();
    let compiled = set.compile().unwrap();
    let train_ds = splits.require("train").unwrap();
    let votes = compiled.apply(&train_ds.frame, &Default::default(), &NoProgress).unwrap().matrix;
    let mv = Params::default_for("mv").unwrap().fit(&votes, &FitOptions::default()).unwrap();
    let proba = mv.predict_proba(&votes).unwrap();
    let covered: Vec<usize> = votes.rows().enumerate().filter(|(_, r)| r.iter().any(|&v| v >= 0)).map(|(i, _)| i).collect();
    let labels: Vec<u32> = covered.iter().map(|&i| (0..4).fold(0, |b, k| if proba.row(i)[k] > proba.row(i)[b] { k } else { b }) as u32).collect();

    let texts = |name: &str| -> (Vec<String>, Vec<u32>) {
        let ds = splits.require(name).unwrap();
        (ds.texts().unwrap().iter().map(|t| t.unwrap().to_string()).collect(), ds.gold().unwrap().into_iter().map(|g| g.unwrap()).collect())
    };
    let run = |t2: usize| -> f64 {
        let mut model = EndModel::Ngram(NgramClassifier::new(NgramConfig::default(), 4, Precision::Fp32, Device::Cpu, 1).unwrap());
        let (tr, gold_tr) = texts("train");
        let enc = model.encode(&tr.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        let (va, yva) = texts("valid");
        let venc = model.encode(&va.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        let (te, yte) = texts("test");
        let tenc = model.encode(&te.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        let set = TrainSet::hard(&enc, covered.clone(), &labels, 4);
        let valid = EvalSet { encoded: &venc, gold: yva };
        let cfg = TrainConfig { lr: 5e-3, max_steps: 300, eval_every: 25, patience: 4, seed: 3, ..Default::default() };
        let pool: Vec<usize> = (0..enc.len()).collect();
        let gold: Vec<Option<u32>> = gold_tr.iter().map(|&g| Some(g)).collect();
        if t2 == 0 {
            train::train(&mut model, &set, Some(&valid), &cfg, None, &NoProgress).unwrap();
        } else {
            let c = CosineConfig { t3: 50, ..Default::default() };
            let r = cosine(&mut model, &set, &pool, Some(&gold), Some(&valid), &cfg, t2, &c, &NoProgress).unwrap();
            eprintln!("{:?}", r.rounds);
        }
        train::evaluate(&model, &EvalSet { encoded: &tenc, gold: yte }, 64, train::Padding::Bucketed, Metric::Accuracy).unwrap()
    };
    let stage1 = run(0);
    let cos = run(300);
    eprintln!("stage 1 {stage1:.3}, COSINE {cos:.3}");
    assert!(cos > stage1, "COSINE {cos:.3} vs stage 1 {stage1:.3}");
}
