//! COSINE end to end on the demo corpus with the n-gram model: self-training beats stage 1, the
//! `wrench` variant runs, and a run killed in stage 2 resumes to the same weights.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use tch::Device;
use weaksup_core::data::{self, demo::DemoParams};
use weaksup_core::label_model::{FitOptions, LabelModel, Params};
use weaksup_core::metrics::Metric;
use weaksup_core::progress::{NoProgress, Progress};
use weaksup_nn::model::Precision;
use weaksup_nn::model::ngram::{NgramClassifier, NgramConfig};
use weaksup_nn::selftrain::{
    CosineConfig, CosineData, CosineReport, CosineRun, RoundRecord, Student, Teacher, Variant, cosine,
};
use weaksup_nn::train::{self, Encoded, EndModel, EvalSet, TrainConfig, TrainSet};

struct Demo {
    enc: Encoded,
    venc: Encoded,
    tenc: Encoded,
    yva: Vec<u32>,
    yte: Vec<u32>,
    gold: Vec<Option<u32>>,
    covered: Vec<usize>,
    labels: Vec<u32>,
}

fn ngram() -> EndModel {
    EndModel::Ngram(NgramClassifier::new(NgramConfig::default(), 4, Precision::Fp32, Device::Cpu, 1).unwrap())
}

fn demo() -> Demo {
    let splits = data::demo_splits(&DemoParams::default()).unwrap();
    let (set, _) = weaksup_core::lf::LfFile::load_set(
        &[crate::common::repo().join("labeling_functions/demo_topics.toml")],
        &weaksup_core::lf::Registry::new(),
    )
    .unwrap();
    let train_ds = splits.require("train").unwrap();
    let votes =
        set.compile().unwrap().apply(&train_ds.frame, &Default::default(), &NoProgress).unwrap().matrix;
    let mv = Params::default_for("mv").unwrap().fit(&votes, &FitOptions::default()).unwrap();
    let proba = mv.predict_proba(&votes).unwrap();
    let cov = votes.covered();
    let covered: Vec<usize> = (0..cov.len()).filter(|&i| cov[i]).collect();
    let labels: Vec<u32> = covered
        .iter()
        .map(|&i| (0..4).fold(0, |b, k| if proba.row(i)[k] > proba.row(i)[b] { k } else { b }) as u32)
        .collect();
    let model = ngram();
    let texts = |name: &str| -> (Encoded, Vec<u32>) {
        let ds = splits.require(name).unwrap();
        let t: Vec<&str> = ds.texts().unwrap().iter().map(|t| t.unwrap()).collect();
        (model.encode(&t).unwrap(), ds.gold().unwrap().into_iter().map(|g| g.unwrap()).collect())
    };
    let (enc, ytr) = texts("train");
    let (venc, yva) = texts("valid");
    let (tenc, yte) = texts("test");
    Demo { enc, venc, tenc, yva, yte, gold: ytr.into_iter().map(Some).collect(), covered, labels }
}

fn stage1_cfg() -> TrainConfig {
    TrainConfig { lr: Some(5e-3), max_steps: 300, eval_every: 25, patience: 4, seed: 3, ..Default::default() }
}

fn run_cosine(
    d: &Demo,
    model: &mut EndModel,
    c: &CosineConfig,
    ckpt: Option<&std::path::Path>,
    progress: &dyn Progress,
) -> CosineReport {
    let set = TrainSet::hard(&d.enc, d.covered.clone(), &d.labels, 4);
    let valid = EvalSet::rows(&d.venc, d.yva.clone());
    let pool: Vec<usize> = (0..d.enc.len()).collect();
    let data = CosineData { stage1: &set, pool: &pool, gold: Some(&d.gold), valid: Some(&valid) };
    let run = CosineRun { train: &stage1_cfg(), cosine: c, checkpoint_dir: ckpt, progress };
    cosine(model, data, run, &mut |_| Ok(())).unwrap()
}

fn test_accuracy(d: &Demo, model: &EndModel) -> f64 {
    train::evaluate(
        model,
        &EvalSet::rows(&d.tenc, d.yte.clone()),
        64,
        train::Padding::Bucketed,
        Metric::Accuracy,
    )
    .unwrap()
}

#[test]
fn cosine_beats_stage_one_on_the_demo_corpus() {
    let _g = crate::common::torch_lock();
    let d = demo();
    let mut m1 = ngram();
    let set = TrainSet::hard(&d.enc, d.covered.clone(), &d.labels, 4);
    train::train(
        &mut m1,
        &set,
        Some(&EvalSet::rows(&d.venc, d.yva.clone())),
        &stage1_cfg(),
        None,
        &NoProgress,
    )
    .unwrap();
    let stage1 = test_accuracy(&d, &m1);
    let mut m2 = ngram();
    let r = run_cosine(&d, &mut m2, &CosineConfig { t3: 50, ..Default::default() }, None, &NoProgress);
    let cos = test_accuracy(&d, &m2);
    eprintln!("stage 1 {stage1:.3}, COSINE {cos:.3}; {:?}", r.stage2.rounds);
    assert_eq!(r.stage2.steps, CosineConfig::default().t2);
    assert!(cos > stage1, "COSINE {cos:.3} vs stage 1 {stage1:.3}");
}

#[test]
fn wrench_variant_keeps_a_bounded_prefix_and_trains() {
    let _g = crate::common::torch_lock();
    let d = demo();
    let mut m = ngram();
    let c = CosineConfig { t3: 20, t2: 60, xi: 0.3, variant: Variant::Wrench, ..Default::default() };
    let r = run_cosine(&d, &mut m, &c, None, &NoProgress);
    // WRENCH sums R_conf over the batch, so with the n-gram model's learning rate it can push the
    // student towards uniform outputs until nothing passes ξ, and stage 2 stops early; the best
    // weights of either stage are kept.
    assert!((1..=3).contains(&r.stage2.rounds.len()), "{:?}", r.stage2.rounds);
    // At most batch × T3 = 640 rows (plus the rest of one inference batch) of 2,000 are kept.
    for round in &r.stage2.rounds {
        assert!(round.selected_fraction <= (640.0 + 32.0) / 2000.0, "{round:?}");
        assert!(round.selected_fraction > 0.0 && round.loss_cls.is_finite() && round.loss_con.is_finite());
    }
    assert!(test_accuracy(&d, &m) > 0.6);
}

/// Panics (a simulated kill) once `limit` steps have been reported.
struct KillAfter {
    steps: AtomicU64,
    limit: u64,
}

impl Progress for KillAfter {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, n: u64) {
        if self.steps.fetch_add(n, Ordering::SeqCst) + n >= self.limit {
            panic!("simulated kill");
        }
    }
    fn message(&self, _: &str) {}
    fn finish(&self) {}
}

#[test]
fn killed_in_stage_two_resumes_to_the_same_weights() {
    let _g = crate::common::torch_lock();
    let d = demo();
    let c = CosineConfig { t3: 40, t2: 120, ..Default::default() };
    let full = assert_resumes(&d, &c);
    // A checkpoint written with other settings is refused.
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint");
    run_cosine(&d, &mut ngram(), &CosineConfig { t2: 40, ..c.clone() }, Some(&ckpt), &NoProgress);
    let mut other = ngram();
    let set = TrainSet::hard(&d.enc, d.covered.clone(), &d.labels, 4);
    let pool: Vec<usize> = (0..d.enc.len()).collect();
    let data = CosineData { stage1: &set, pool: &pool, gold: None, valid: None };
    let changed = CosineConfig { xi: 0.5, ..c.clone() };
    let run = CosineRun {
        train: &stage1_cfg(),
        cosine: &changed,
        checkpoint_dir: Some(&ckpt),
        progress: &NoProgress,
    };
    let e = cosine(&mut other, data, run, &mut |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("another COSINE config"), "{e}");
    assert_eq!(full.stage2.rounds.len(), 3);
    // The demo's 2,000-row pool is under the default budget (8 × T3 × batch = 10,240): every
    // round labels all of it.
    assert!(full.stage2.rounds.iter().all(|r| r.pool_rows == 2000), "{:?}", full.stage2.rounds);
}

#[test]
fn a_round_labels_a_fresh_draw_of_its_pool_budget_and_resumes() {
    let _g = crate::common::torch_lock();
    let d = demo();
    let c = CosineConfig { t3: 40, t2: 120, pool_per_round: Some(500), ..Default::default() };
    let r = assert_resumes(&d, &c).stage2;
    assert_eq!(r.pool_rows, 2000);
    for round in &r.rounds {
        assert_eq!(round.pool_rows, 500);
        assert!(round.selected_classes.iter().sum::<usize>() <= 500, "{round:?}");
        assert_eq!(round.omega_histogram.iter().sum::<usize>(), 500);
    }
    // Flips are counted over the rows two consecutive draws share (about 500 · 500 / 2000).
    assert!(r.rounds[1..].iter().all(|x| x.flipped.is_some()));
}

#[test]
fn restarting_students_start_each_round_anew_and_resume_to_the_same_weights() {
    let _g = crate::common::torch_lock();
    let d = demo();
    // Stage 1 early-stops near 175 steps; rounds of 150 steps let a new student learn.
    let c = CosineConfig { t3: 150, t2: 300, student: Student::Pretrained, ..Default::default() };
    let r = assert_resumes(&d, &c);
    // Validations every 25 steps: 150 closes round 0, 175 is 25 steps into round 1, whose
    // student restarted from the seeded initial weights (with its own warm-up) and has not yet
    // caught up; a continuing student would be at least as good as at 150.
    let at = |step: usize| r.stage2.validations.iter().find(|v| v.step == step).map(|v| v.score).unwrap();
    assert!(at(175) < at(150) - 0.15, "the round-1 student restarted: {:?}", r.stage2.validations);
    // By the end of each round the new student has learned the teacher's labels.
    assert_eq!(r.stage2.rounds.len(), 2);
    for round in &r.stage2.rounds {
        assert!(round.valid.unwrap() > 0.7, "{round:?}");
    }
}

/// Runs `c` whole, then killed T3 + 10 steps into stage 2 (round 0 checkpointed, round 1 lost
/// mid-way) and resumed: the rounds and the final weights must be the same. Returns the
/// whole run's report.
fn assert_resumes(d: &Demo, c: &CosineConfig) -> CosineReport {
    let mut whole = ngram();
    let full = run_cosine(d, &mut whole, c, None, &NoProgress);

    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint");
    // Stage 1 takes `full.stage1.steps` steps (+1 progress tick for its checkpoint resume).
    let kill = KillAfter { steps: AtomicU64::new(0), limit: (full.stage1.steps + c.t3 + 10) as u64 };
    let mut first = ngram();
    let crashed = catch_unwind(AssertUnwindSafe(|| run_cosine(d, &mut first, c, Some(&ckpt), &kill)));
    assert!(
        crashed.is_err(),
        "the simulated kill happened: stage 1 {} steps, {:?}",
        full.stage1.steps,
        full.stage2
    );
    assert!(ckpt.join("stage2/state.json").is_file());

    let mut resumed = ngram();
    let r = run_cosine(d, &mut resumed, c, Some(&ckpt), &NoProgress);
    assert_eq!(r.stage2.resumed_at_round, Some(1));
    assert_eq!(
        untimed(&r.stage2.rounds),
        untimed(&full.stage2.rounds),
        "same rounds as the uninterrupted run"
    );
    let a = train::predict_proba(&whole, &d.tenc, 64, train::Padding::Bucketed).unwrap();
    let b = train::predict_proba(&resumed, &d.tenc, 64, train::Padding::Bucketed).unwrap();
    assert_eq!(
        Vec::<f32>::try_from(a.flatten(0, -1)).unwrap(),
        Vec::<f32>::try_from(b.flatten(0, -1)).unwrap()
    );
    full
}

/// Round records without their wall-clock times (the only field two identical runs may differ in).
fn untimed(rounds: &[RoundRecord]) -> Vec<RoundRecord> {
    rounds.iter().map(|r| RoundRecord { teacher_seconds: 0.0, ..r.clone() }).collect()
}

#[test]
fn the_best_student_of_a_round_can_teach_the_next() {
    let _g = crate::common::torch_lock();
    let d = demo();
    let base = CosineConfig { t3: 40, t2: 200, ..Default::default() };
    let last = run_cosine(&d, &mut ngram(), &base, None, &NoProgress).stage2;
    let c = CosineConfig { teacher: Teacher::BestInRound, ..base.clone() };
    let best = run_cosine(&d, &mut ngram(), &c, None, &NoProgress).stage2;
    assert_eq!(best.rounds.len(), 5);
    for k in 0..best.rounds.len() {
        // `last`: the previous round's end teaches (stage 1's weights teach round 0).
        let end = if k == 0 { 0 } else { last.rounds[k - 1].step };
        assert_eq!(last.rounds[k].teacher_step, end);
        // `best_in_round`: the previous round's first best validation (every 25 steps and at
        // the round's end).
        let want = if k == 0 {
            0
        } else {
            let vals: Vec<_> = best.validations.iter().filter(|v| v.round == k - 1).collect();
            let top = vals.iter().map(|v| v.score).fold(f64::NEG_INFINITY, f64::max);
            vals.iter().find(|v| v.score == top).unwrap().step
        };
        assert_eq!(best.rounds[k].teacher_step, want, "round {k}: {:?}", best.validations);
    }
    // The same rounds until a mid-round student teaches; from then on the teacher differs.
    let first = (1..best.rounds.len())
        .find(|&k| best.rounds[k].teacher_step != best.rounds[k - 1].step)
        .expect("some round's best validation came before its end");
    assert_eq!(untimed(&best.rounds[..first]), untimed(&last.rounds[..first]));
    assert_ne!(best.rounds[first].loss_cls, last.rounds[first].loss_cls);
}
