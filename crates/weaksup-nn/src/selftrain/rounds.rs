//! The COSINE loop: stage 1 (the trainer on weak labels, early-stopped) then stage 2, `t2` steps
//! of self-training in rounds of T3 steps, each round starting with a teacher pass over the pool.
//! Stage 2 checkpoints at every round's end, so a killed run resumes at the last finished round
//! and ends with the same weights as an uninterrupted one (CPU, same seed).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::rule::{Losses, RoundTargets, SelectContext};
use super::{CosineConfig, Student, Teacher, Variant};
use crate::error::{Context, Error, Result};
use crate::model::{Output, manual_seed};
use crate::progress::Progress;
use crate::train::checkpoint::{read_dir, write_dir};
use crate::train::{
    self, AdamW, Encoded, EndModel, EvalSet, TrainConfig, TrainReport, TrainSet, Units, epoch_batches,
};
use weaksup_core::seeds;

/// One round of stage 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: usize,
    /// Stage-2 steps done at the end of the round.
    pub step: usize,
    /// Pool rows the round's teacher labelled (the whole pool, or the round's draw of
    /// `pool_per_round` rows).
    #[serde(default)]
    pub pool_rows: usize,
    /// Units of those rows: the rows themselves, or for tagging their scored words. The
    /// fractions and counts below are of these units.
    #[serde(default)]
    pub pool_units: usize,
    /// Fraction of the round's pool units whose loss the round uses (ω > ξ; for `wrench`, the
    /// kept prefix).
    pub selected_fraction: f64,
    /// Accuracy of the pseudo-labels' argmax on selected units with gold (diagnostic only).
    pub pseudo_accuracy: Option<f64>,
    /// Accuracy of the teacher's argmax on every pool unit with gold (diagnostic only).
    #[serde(default)]
    pub teacher_accuracy: Option<f64>,
    /// Selected units per class of their pseudo-label (compare with the pool's gold classes in
    /// [`SelfTrainReport::pool_gold_classes`]).
    #[serde(default)]
    pub selected_classes: Vec<usize>,
    /// ω over the whole pool, in ten bins [0, 0.1), …, [0.9, 1].
    #[serde(default)]
    pub omega_histogram: Vec<usize>,
    /// Fraction of pool units whose teacher label (argmax) differs from the previous round's
    /// teacher: 1 − agreement of the previous round's teacher and student (none in round 0).
    #[serde(default)]
    pub flipped: Option<f64>,
    /// Stage-2 step of the weights that taught this round (0: the weights stage 1 kept): the
    /// previous round's end, or its best validation under `teacher = "best_in_round"`.
    #[serde(default)]
    pub teacher_step: usize,
    pub loss_cls: f64,
    pub loss_con: f64,
    pub loss_conf: f64,
    /// Validation score at the end of the round.
    pub valid: Option<f64>,
    /// Time of the round's teacher pass (pseudo-labels, selection and diagnostics).
    #[serde(default)]
    pub teacher_seconds: f64,
}

/// One stage-2 validation: on the trainer's cadence inside a round, or at its end. Every one of
/// them can give the kept weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage2Validation {
    pub round: usize,
    /// Stage-2 steps done.
    pub step: usize,
    pub score: f64,
    /// Taken at the end of the round (else on the cadence).
    pub end_of_round: bool,
    /// Time the validation took.
    #[serde(default)]
    pub seconds: f64,
}

/// What stage 2 did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfTrainReport {
    pub rounds: Vec<RoundRecord>,
    /// Rows pseudo-labelled each round (the training split, plus `unlabeled` when pooled).
    pub pool_rows: usize,
    /// Pool units with gold per gold class (the prior the selected classes are compared with).
    pub pool_gold_classes: Option<Vec<usize>>,
    pub steps: usize,
    /// Best validation score over both stages, and whether stage 2 produced it.
    pub best_score: Option<f64>,
    pub best_in_stage2: bool,
    /// Every stage-2 validation, in order.
    #[serde(default)]
    pub validations: Vec<Stage2Validation>,
    /// Round and stage-2 step of the kept weights, when stage 2 produced them.
    #[serde(default)]
    pub best_round: Option<usize>,
    #[serde(default)]
    pub best_step: Option<usize>,
    /// Round at which this process resumed from a checkpoint, if it did.
    pub resumed_at_round: Option<usize>,
    pub seconds: f64,
}

/// What COSINE did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineReport {
    pub stage1: TrainReport,
    pub stage2: SelfTrainReport,
}

/// Where a COSINE run's time went, in seconds. Training includes batching and checkpoint
/// writes; over a resumed run it covers the processes' work as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    pub stage1_training: f64,
    pub stage1_validation: f64,
    pub teacher_passes: f64,
    pub stage2_training: f64,
    pub stage2_validation: f64,
}

impl SelfTrainReport {
    /// The split of this stage 2 and of `stage1` into training, validation and teacher passes.
    pub fn time_split(&self, stage1: &TrainReport) -> TimeSplit {
        let stage1_validation: f64 = stage1.history.iter().map(|e| e.seconds).sum();
        let teacher_passes: f64 = self.rounds.iter().map(|r| r.teacher_seconds).sum();
        let stage2_validation: f64 = self.validations.iter().map(|v| v.seconds).sum();
        TimeSplit {
            stage1_training: (stage1.seconds - stage1_validation).max(0.0),
            stage1_validation,
            teacher_passes,
            stage2_training: (self.seconds - teacher_passes - stage2_validation).max(0.0),
            stage2_validation,
        }
    }
}

/// Stage 2's checkpoint state (`state.json` beside the weights).
#[derive(Serialize, Deserialize)]
#[doc(hidden)]
pub struct Stage2State {
    adam_t: i64,
    step: usize,
    rounds: Vec<RoundRecord>,
    best_score: Option<f64>,
    best_in_stage2: bool,
    config: CosineConfig,
    seconds: f64,
    /// The last teacher's label per pool unit, −1 where it labelled none (for the flip count
    /// after a resume).
    #[serde(default)]
    last_teacher: Vec<i64>,
    /// Stage-2 step of the weights that teach the next round.
    #[serde(default)]
    next_teacher_step: usize,
    #[serde(default)]
    validations: Vec<Stage2Validation>,
    #[serde(default)]
    best_at: Option<(usize, usize)>,
}

/// What COSINE trains on.
#[derive(Clone, Copy)]
pub struct CosineData<'a> {
    /// Stage 1's rows and targets, over `stage1.encoded`.
    pub stage1: &'a TrainSet<'a>,
    /// Rows of `stage1.encoded` pseudo-labelled in every round of stage 2 (covered and uncovered).
    pub pool: &'a [usize],
    /// Gold label per unit of `stage1.encoded` (per row, or for tagging per scored word, rows
    /// one after another as [`Units::of`]`(encoded, 0..len)` lays them out); only the
    /// diagnostics read it.
    pub gold: Option<&'a [Option<u32>]>,
    /// Validation set for early stopping in stage 1 and the best weights of both stages.
    pub valid: Option<&'a EvalSet<'a>>,
}

/// How COSINE runs: the trainer's settings (stage 1, and stage 2's batches and schedule),
/// COSINE's, the checkpoint folder and progress.
#[derive(Clone, Copy)]
pub struct CosineRun<'a> {
    pub train: &'a TrainConfig,
    pub cosine: &'a CosineConfig,
    /// Stage 1 checkpoints under `stage1/`, stage 2 under `stage2/`; a rerun resumes.
    pub checkpoint_dir: Option<&'a Path>,
    pub progress: &'a dyn Progress,
}

/// Runs COSINE: stage 1 ([`train::train`] on `data.stage1`), `after_stage1` on the stage-1 model
/// (e.g. to score it), then [`self_train`].
pub fn cosine(
    model: &mut EndModel,
    data: CosineData,
    run: CosineRun,
    after_stage1: &mut dyn FnMut(&EndModel) -> Result<()>,
) -> Result<CosineReport> {
    check(data, run.cosine)?;
    let sub = |name: &str| run.checkpoint_dir.map(|d| d.join(name));
    // The weights stage 1 starts from, for students that restart each round.
    let init = (run.cosine.student == Student::Pretrained).then(|| train::snapshot(model));
    let stage1_dir = sub("stage1");
    let s1 = train::train(model, data.stage1, data.valid, run.train, stage1_dir.as_deref(), run.progress)?;
    after_stage1(model)?;
    let stage2_dir = sub("stage2");
    let run2 = CosineRun { checkpoint_dir: stage2_dir.as_deref(), ..run };
    let s2 = stage2(model, data, s1.best_score, run2, init.as_deref())?;
    Ok(CosineReport { stage1: s1, stage2: s2 })
}

/// COSINE stage 2 from the model's current weights: `cfg.t2` steps in rounds of `cfg.t3` over
/// `data.pool` (`data.stage1`'s rows and targets are not used); `stage1_best` is the validation
/// score to beat (the best weights of either stage are kept). Checkpoints in
/// `run.checkpoint_dir` itself. Students that restart each round (`Student::Pretrained`) restart
/// from the model's weights as they are on entry.
pub fn self_train(
    model: &mut EndModel,
    data: CosineData,
    stage1_best: Option<f64>,
    run: CosineRun,
) -> Result<SelfTrainReport> {
    check(data, run.cosine)?;
    let init = (run.cosine.student == Student::Pretrained).then(|| train::snapshot(model));
    stage2(model, data, stage1_best, run, init.as_deref())
}

/// The config, and what token data (tagging) allows: the `paper` variant (the others'
/// per-batch rules are defined over sequences), and gold per unit.
fn check(data: CosineData, cfg: &CosineConfig) -> Result<()> {
    cfg.validate()?;
    let enc = data.stage1.encoded;
    if enc.heads.is_some() && cfg.variant != Variant::Paper {
        return Err(Error::Config(format!(
            "cosine.variant (--variant) = {}: on token data (tagging) COSINE follows the paper variant only",
            cfg.variant
        )));
    }
    let units = Units::of(enc, 0..enc.len()).total();
    if let Some(g) = data.gold
        && g.len() != units
    {
        return Err(Error::invalid("cosine", format!("{} gold labels for {units} units", g.len())));
    }
    Ok(())
}

/// [`self_train`] with the weights a restarting student starts each round from (`init`; none
/// for `Student::Continue`).
fn stage2(
    model: &mut EndModel,
    data: CosineData,
    stage1_best: Option<f64>,
    run: CosineRun,
    init: Option<&[(String, Tensor)]>,
) -> Result<SelfTrainReport> {
    let CosineData { stage1, pool, gold, valid } = data;
    let CosineRun { train: train_cfg, cosine: cfg, checkpoint_dir, progress } = run;
    let encoded: &Encoded = stage1.encoded;
    cfg.validate()?;
    let train_cfg = &train_cfg.resolved_for(model);
    let t2 = cfg.t2;
    let started = Instant::now();
    let names: Vec<String> =
        model.vs().variables().into_keys().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let new_opt = |m: &EndModel| AdamW::new(m.vs(), &names, train_cfg.weight_decay, EndModel::no_decay);
    let mut opt = new_opt(model);
    let mut state = Stage2State {
        adam_t: 0,
        step: 0,
        rounds: Vec::new(),
        best_score: stage1_best,
        best_in_stage2: false,
        config: cfg.clone(),
        seconds: 0.0,
        last_teacher: Vec::new(),
        next_teacher_step: 0,
        validations: Vec::new(),
        best_at: None,
    };
    let mut best = valid.map(|_| train::snapshot(model));
    let mut resumed_at_round = None;
    if let Some(dir) = checkpoint_dir
        && let Some((s, b)) = read_dir::<Stage2State>(dir, model, &mut opt, |s| s.adam_t)?
    {
        if s.config != *cfg {
            return Err(Error::Config(format!(
                "{}: this stage-2 checkpoint was written with another COSINE config; remove it or use the same settings",
                dir.display()
            )));
        }
        resumed_at_round = Some(s.rounds.len());
        tracing::info!(round = s.rounds.len(), step = s.step, dir = %dir.display(), "resuming COSINE stage 2");
        state = s;
        if b.is_some() {
            best = b;
        }
    }
    let prior_seconds = state.seconds;
    let device = model.device();
    let enc = encoded;
    let lengths: Vec<usize> = enc.items.iter().map(Vec::len).collect();
    // Stage 2's schedule: the trainer's warm-up and decay over T2 (paper); constant for `wrench`.
    let s2_cfg = TrainConfig { max_steps: t2, ..train_cfg.clone() };
    let rule = cfg.variant.rule();
    progress.start("COSINE stage 2", t2 as u64);
    progress.advance(state.step as u64);
    // The pool's token ids, gathered once for every round's teacher pass.
    let pool_enc = enc.subset(pool);
    let n_pool = pool.len();
    // Where each pool row's units lie among the pool's, and each encoded row's gold.
    let pool_units = Units::of(enc, pool.iter().copied());
    let all_units = Units::of(enc, 0..enc.len());
    let tagging = enc.heads.is_some();
    // The valid split's gold class balance, for class-balanced selection.
    let n_classes = model.n_classes() as usize;
    let prior: Option<Vec<f64>> = valid.filter(|v| !v.gold.is_empty()).map(|v| {
        let counts = train::class_counts(v.gold.iter().copied(), n_classes);
        counts.iter().map(|&n| n as f64 / v.gold.len() as f64).collect()
    });
    // Scores `model` on valid (recorded: every validation can win); a strictly better score keeps
    // its weights.
    let validate = |model: &EndModel,
                    state: &mut Stage2State,
                    best: &mut Option<Vec<(String, Tensor)>>,
                    end_of_round: bool|
     -> Result<Option<f64>> {
        let Some(v) = valid else { return Ok(None) };
        let timer = Instant::now();
        let s = train::evaluate(model, v, train_cfg.batch_size.max(64), train_cfg.padding, train_cfg.metric)?;
        let (round, seconds) = (state.rounds.len(), timer.elapsed().as_secs_f64());
        state.validations.push(Stage2Validation { round, step: state.step, score: s, end_of_round, seconds });
        if state.best_score.is_none_or(|b| s > b) {
            state.best_score = Some(s);
            *best = Some(train::snapshot(model));
            state.best_in_stage2 = true;
            state.best_at = Some((round, state.step));
        }
        Ok(Some(s))
    };
    let mut last_eval: Option<(usize, f64)> = None;
    let keep_round_best = cfg.teacher == Teacher::BestInRound && valid.is_some();
    if cfg.teacher == Teacher::BestInRound && !keep_round_best {
        tracing::warn!("COSINE teacher = best_in_round needs a valid split; the last student teaches");
    }
    // Keeps the round's best-scoring student (score, weights): the next teacher under
    // `best_in_round`.
    type RoundBest = Option<(f64, usize, Vec<(String, Tensor)>)>;
    let offer = |model: &EndModel, s: Option<f64>, step: usize, round_best: &mut RoundBest| {
        if let Some(s) = s
            && keep_round_best
            && round_best.as_ref().is_none_or(|(b, _, _)| s > *b)
        {
            *round_best = Some((s, step, train::snapshot(model)));
        }
    };
    let budget = cfg.pool_budget(train_cfg.batch_size);
    while state.step < t2 {
        let round = state.rounds.len();
        let mut round_best: RoundBest = None;
        let teacher_step = state.next_teacher_step;
        // The pool positions this round's teacher labels: all of them, or a seeded draw of
        // `budget` (in pool order) when the pool is larger.
        let drawn =
            (budget < n_pool).then(|| draw(n_pool, budget, seeds::stage2_pool(train_cfg.seed, round)));
        let round_enc = drawn.as_ref().map(|d| pool_enc.subset(d));
        let positions: Vec<usize> = drawn.unwrap_or_else(|| (0..n_pool).collect());
        let round_pool: Vec<usize> = positions.iter().map(|&k| pool[k]).collect();
        // The round's units (pool rows' units, one row after another) and where they lie among
        // the whole pool's units.
        let round_units = Units::of(enc, round_pool.iter().copied());
        let unit_positions: Vec<usize> = positions.iter().flat_map(|&k| pool_units.range(k)).collect();
        let round_gold: Option<Vec<Option<u32>>> =
            gold.map(|g| round_pool.iter().flat_map(|&r| g[all_units.range(r)].iter().copied()).collect());
        // Teacher pass: the current student, frozen, over the round's pool.
        let timer = Instant::now();
        let g = train::predict_proba(
            model,
            round_enc.as_ref().unwrap_or(&pool_enc),
            train_cfg.batch_size.max(64),
            train_cfg.padding,
        )?;
        let RoundTargets { selected, targets, weights: omega, confidence, confident } = rule.select(
            &g,
            cfg,
            SelectContext { batch_size: train_cfg.batch_size, prior: prior.as_deref() },
        )?;
        let diag = Diagnostics::of(&g, &targets, &selected, &confident, &confidence, round_gold.as_deref())?;
        let teacher_seconds = timer.elapsed().as_secs_f64();
        // Labels that changed since the last teacher, over the rows both labelled.
        let flipped = (state.last_teacher.len() == pool_units.total())
            .then(|| {
                let (mut both, mut changed) = (0usize, 0usize);
                for (&k, &now) in unit_positions.iter().zip(&diag.teacher) {
                    let before = state.last_teacher[k];
                    if before >= 0 {
                        both += 1;
                        changed += usize::from(before != now);
                    }
                }
                (both > 0).then(|| changed as f64 / both as f64)
            })
            .flatten();
        let selected_fraction = confident.len() as f64 / round_units.total().max(1) as f64;
        if selected.len() < 2 {
            tracing::warn!(
                step = state.step,
                selected = selected.len(),
                "COSINE: no confident pseudo-labels above xi; stopping stage 2"
            );
            break;
        }
        // Slot of each round unit among the selected units (`usize::MAX`: not selected); the
        // round trains on the rows with a selected unit, scoring only their selected units.
        let mut slot = vec![usize::MAX; round_units.total()];
        for (s, &u) in selected.iter().enumerate() {
            slot[u] = s;
        }
        let mut row_at = vec![usize::MAX; enc.len()];
        let mut rows = Vec::new();
        for (k, &r) in round_pool.iter().enumerate() {
            row_at[r] = k;
            if round_units.range(k).any(|u| slot[u] != usize::MAX) {
                rows.push(r);
            }
        }
        let (mut sum_cls, mut sum_con, mut sum_conf, mut n) = (0.0, 0.0, 0.0, 0usize);
        let round_steps = cfg.t3.min(t2 - state.step);
        // A restarting student: the initial weights, fresh optimiser moments, and its own
        // warm-up and decay over the round (step counted from the round's start).
        let (round_cfg, round_start) = match init {
            Some(w) => {
                train::restore(model, w)?;
                opt = new_opt(model);
                (TrainConfig { max_steps: round_steps, ..s2_cfg.clone() }, state.step)
            }
            None => (s2_cfg.clone(), 0),
        };
        let mut batches = epoch_batches(
            &rows,
            &lengths,
            train_cfg.batch_size,
            train_cfg.padding,
            seeds::stage2_batches(train_cfg.seed, round),
        );
        let mut b = 0;
        for _ in 0..round_steps {
            if b == batches.len() {
                batches = epoch_batches(
                    &rows,
                    &lengths,
                    train_cfg.batch_size,
                    train_cfg.padding,
                    seeds::stage2_reshuffle(train_cfg.seed, state.step),
                );
                b = 0;
            }
            let idx = &batches[b];
            b += 1;
            manual_seed(seeds::stage2_dropout(train_cfg.seed, state.step));
            let input = enc.collate(idx, train_cfg.padding, device);
            let (local, picked) = batch_units(idx, &round_units, &row_at, &slot);
            let bi = Tensor::from_slice(&picked);
            let y = targets.index_select(0, &bi).to_device(device);
            let out = gather(model.forward(&input, true)?, local.as_deref());
            let w = omega.index_select(0, &bi).to_device(device);
            // Tagging: the contrastive term pairs a seeded draw of the batch's selected tokens.
            let con_rows = (tagging && picked.len() > cfg.con_tokens).then(|| {
                let d = draw(picked.len(), cfg.con_tokens, seeds::stage2_pairs(train_cfg.seed, state.step));
                Tensor::from_slice(&d.iter().map(|&k| k as i64).collect::<Vec<_>>()).to_device(device)
            });
            let Losses { cls: l_cls, con: r_con, conf: r_conf } =
                rule.losses(&out, &y, &w, con_rows.as_ref(), cfg);
            let loss = &l_cls + &r_con * cfg.mu + &r_conf * cfg.lambda;
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(Error::invalid(
                    "cosine",
                    format!("non-finite loss at stage-2 step {}", state.step),
                ));
            }
            opt.zero_grad();
            loss.backward();
            rule.update(&mut opt, &round_cfg, state.step - round_start, model.default_lr());
            sum_cls += l_cls.double_value(&[]);
            sum_con += r_con.double_value(&[]);
            sum_conf += r_conf.double_value(&[]);
            n += 1;
            state.step += 1;
            progress.advance(1);
            // Validation on the trainer's cadence too, so stage 2 has as many chances as stage 1.
            let round_end = state.step.is_multiple_of(cfg.t3) || state.step == t2;
            if state.step.is_multiple_of(train_cfg.eval_every)
                && let Some(s) = validate(model, &mut state, &mut best, round_end)?
            {
                last_eval = Some((state.step, s));
                offer(model, Some(s), state.step, &mut round_best);
                tracing::debug!(step = state.step, score = s, "COSINE validation");
            }
        }
        let score = match last_eval {
            Some((at, s)) if at == state.step => Some(s),
            _ => {
                let s = validate(model, &mut state, &mut best, true)?;
                offer(model, s, state.step, &mut round_best);
                s
            }
        };
        let k = n.max(1) as f64;
        let rec = RoundRecord {
            round,
            step: state.step,
            pool_rows: round_pool.len(),
            pool_units: round_units.total(),
            selected_fraction,
            pseudo_accuracy: diag.pseudo_accuracy,
            teacher_accuracy: diag.teacher_accuracy,
            selected_classes: diag.selected_classes,
            omega_histogram: diag.omega_histogram,
            flipped,
            teacher_step,
            loss_cls: sum_cls / k,
            loss_con: sum_con / k,
            loss_conf: sum_conf / k,
            valid: score,
            teacher_seconds,
        };
        tracing::info!(
            round,
            step = state.step,
            selected_fraction,
            pseudo_accuracy = ?rec.pseudo_accuracy,
            teacher_accuracy = ?rec.teacher_accuracy,
            flipped = ?rec.flipped,
            selected_classes = ?rec.selected_classes,
            loss_cls = rec.loss_cls,
            loss_con = rec.loss_con,
            loss_conf = rec.loss_conf,
            valid = ?score,
            "COSINE round"
        );
        progress.message(&format!(
            "round {round} selected {:.0}% valid {}",
            100.0 * selected_fraction,
            score.map_or("-".into(), |s| format!("{s:.3}"))
        ));
        state.rounds.push(rec);
        state.last_teacher = vec![-1; pool_units.total()];
        for (&k, &label) in unit_positions.iter().zip(&diag.teacher) {
            state.last_teacher[k] = label;
        }
        state.next_teacher_step = state.step;
        if let Some((s, at, w)) = round_best.take() {
            tracing::debug!(round, score = s, step = at, "the round's best student teaches the next round");
            train::restore(model, &w)?;
            state.next_teacher_step = at;
        }
        if let Some(dir) = checkpoint_dir {
            state.adam_t = opt.t;
            state.seconds = prior_seconds + started.elapsed().as_secs_f64();
            write_dir(dir, model, &opt, best.as_deref(), &state)?;
        }
    }
    progress.finish();
    if let Some(b) = &best {
        train::restore(model, b)?;
    }
    let pool_gold_classes = gold.map(|g| {
        train::class_counts(
            pool.iter().flat_map(|&r| g[all_units.range(r)].iter().filter_map(|&y| y)),
            n_classes,
        )
    });
    Ok(SelfTrainReport {
        pool_rows: n_pool,
        pool_gold_classes,
        steps: state.step,
        rounds: state.rounds,
        best_score: state.best_score,
        best_in_stage2: state.best_in_stage2,
        validations: state.validations,
        best_round: state.best_at.map(|(r, _)| r),
        best_step: state.best_at.map(|(_, s)| s),
        resumed_at_round,
        seconds: prior_seconds + started.elapsed().as_secs_f64(),
    })
}

/// The units a batch of rows `idx` trains on: their positions among the batch's output rows
/// (`None` when that is every output row, in order) and their slots among the round's selected
/// units. `units` lays out the round's rows, `row_at` maps an encoded row to its position there,
/// `slot` a round unit to its selected slot (`usize::MAX`: not selected).
fn batch_units(
    idx: &[usize],
    units: &Units,
    row_at: &[usize],
    slot: &[usize],
) -> (Option<Vec<i64>>, Vec<i64>) {
    let (mut local, mut picked) = (Vec::new(), Vec::new());
    let mut offset = 0i64;
    for &i in idx {
        for (j, u) in units.range(row_at[i]).enumerate() {
            if slot[u] != usize::MAX {
                local.push(offset + j as i64);
                picked.push(slot[u] as i64);
            }
        }
        offset += units.range(row_at[i]).len() as i64;
    }
    let every = local.len() as i64 == offset;
    ((!every).then_some(local), picked)
}

/// The output rows at `local` (all of them when `None`).
///
/// # Shapes
/// `out.logits`: `[u, C]`, `out.features`: `[u, D]` → `[m, C]`, `[m, D]` with m = `local.len()`.
fn gather(out: Output, local: Option<&[i64]>) -> Output {
    match local {
        Some(l) => {
            let l = Tensor::from_slice(l).to_device(out.logits.device());
            Output { logits: out.logits.index_select(0, &l), features: out.features.index_select(0, &l) }
        }
        None => out,
    }
}

/// `k` of the positions `0..n`, drawn without replacement from `seed`, ascending.
fn draw(n: usize, k: usize, seed: u64) -> Vec<usize> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = rng.gen_range(i..n);
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

/// What a teacher pass says about the round, against gold where there is gold.
struct Diagnostics {
    /// The teacher's argmax per pool row.
    teacher: Vec<i64>,
    pseudo_accuracy: Option<f64>,
    teacher_accuracy: Option<f64>,
    selected_classes: Vec<usize>,
    omega_histogram: Vec<usize>,
}

impl Diagnostics {
    /// `gold`: per unit of the round's pool.
    ///
    /// # Shapes
    /// `g`: `[n_pool, C]` teacher probabilities; `targets`: `[selected.len(), C]`;
    /// `confidence`: `[n_pool]`.
    fn of(
        g: &Tensor,
        targets: &Tensor,
        selected: &[usize],
        confident: &[usize],
        confidence: &Tensor,
        gold: Option<&[Option<u32>]>,
    ) -> Result<Self> {
        let n_classes = g.size()[1] as usize;
        let teacher = Vec::<i64>::try_from(g.argmax(1, false)).ctx(|| "teacher labels".into())?;
        let pseudo = Vec::<i64>::try_from(targets.argmax(1, false)).ctx(|| "pseudo labels".into())?;
        let omega = Vec::<f32>::try_from(confidence.to_kind(tch::Kind::Float)).ctx(|| "confidence".into())?;
        // Slot of each pool position among the drawn rows, for the pseudo-labels of `confident`.
        let mut slot = vec![usize::MAX; teacher.len()];
        for (s, &k) in selected.iter().enumerate() {
            slot[k] = s;
        }
        let labelled: Vec<(usize, i64)> =
            confident.iter().filter(|&&k| slot[k] != usize::MAX).map(|&k| (k, pseudo[slot[k]])).collect();
        let selected_classes = train::class_counts(labelled.iter().map(|&(_, c)| c as u32), n_classes);
        let accuracy = |pairs: &mut dyn Iterator<Item = (usize, i64)>| {
            let g = gold?;
            let (n, ok) = pairs
                .filter_map(|(k, a)| g[k].map(|y| y as i64 == a))
                .fold((0usize, 0usize), |(n, ok), x| (n + 1, ok + x as usize));
            (n > 0).then(|| ok as f64 / n as f64)
        };
        let mut omega_histogram = vec![0usize; 10];
        for w in &omega {
            omega_histogram[((w.clamp(0.0, 1.0) * 10.0) as usize).min(9)] += 1;
        }
        Ok(Self {
            pseudo_accuracy: accuracy(&mut labelled.iter().copied()),
            teacher_accuracy: accuracy(&mut teacher.iter().copied().enumerate()),
            teacher,
            selected_classes,
            omega_histogram,
        })
    }
}

#[cfg(test)]
mod tests {
    use tch::Tensor;

    use super::super::rule::SelectContext;
    use super::super::{CosineConfig, Selection, Variant};
    use crate::model::Output;
    use crate::train::{Encoded, Units};

    fn t(rows: &[[f32; 2]]) -> Tensor {
        Tensor::from_slice(&rows.concat()).view([rows.len() as i64, 2])
    }
    fn close(a: &Tensor, want: &[f64]) {
        let got: Vec<f32> = Vec::try_from(a.flatten(0, -1)).unwrap();
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn token_rounds_select_score_and_pair_tokens() {
        // Two sentences: 3 scored words, and 3 words of which truncation cut the middle one
        // (2 units). Pool units in order: s0 → 0, 1, 2; s1 → 3, 4.
        let enc = Encoded {
            heads: Some(vec![vec![1, 2, 3], vec![1, -1, 2]]),
            ..Encoded::tokens(vec![vec![101, 7, 8, 9, 102], vec![101, 7, 9, 102]], 0, 8)
        };
        let units = Units::of(&enc, [0, 1]);
        assert_eq!((units.total(), units.range(1)), (5, 3..5));
        // The teacher per token; the paper's rule sharpens with f over all pool tokens:
        // f = g.sum(0); w = g**2 / f; y = w / w.sum(1); ω = 1 + (y * y.log()).sum(1) / log 2
        // ω = [0.85527, 0.01387, 0.77918, 0.95693, 0.04933] → tokens 0, 2, 3 pass ξ = 0.6.
        let g = t(&[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05], [0.5, 0.5]]);
        let cfg = CosineConfig { xi: 0.6, selection: Selection::Threshold, ..CosineConfig::default() };
        let rule = Variant::Paper.rule();
        let r = rule.select(&g, &cfg, SelectContext { batch_size: 2, prior: None }).unwrap();
        assert_eq!(r.selected, vec![0, 2, 3]);
        close(&r.weights, &[0.8552693, 0.7791797, 0.9569322]);
        let mut slot = vec![usize::MAX; 5];
        for (s, &u) in r.selected.iter().enumerate() {
            slot[u] = s;
        }
        // A batch of s1 then s0: output rows are units 3, 4, 0, 1, 2; the selected ones sit at
        // rows 0, 2, 4 and are selected slots 2, 0, 1.
        let (local, picked) = super::batch_units(&[1, 0], &units, &[0, 1], &slot);
        assert_eq!(local.as_deref(), Some(&[0i64, 2, 4][..]));
        assert_eq!(picked, vec![2, 0, 1]);
        // Every unit selected: no gather.
        assert_eq!(super::batch_units(&[0], &units, &[0, 1], &[0, 1, 2, usize::MAX, usize::MAX]).0, None);
        let logits = t(&[[1.0, -1.0], [0.2, 0.1], [2.0, -1.0], [0.5, 0.5], [-1.0, 1.5]]);
        let features = t(&[[0.0, 0.0], [9.0, 9.0], [5.0, 5.0], [7.0, 7.0], [0.6, 0.8]]);
        let out = super::gather(Output { logits, features }, local.as_deref());
        let bi = Tensor::from_slice(&picked);
        let (y, w) = (r.targets.index_select(0, &bi), r.weights.index_select(0, &bi));
        // L_cls: the mean over the 3 selected tokens of ω · KL(ỹ ‖ softmax(logits)) = 0.0405459;
        // R_conf: C · the mean over them of (−log C − mean_c log_softmax) = 1.2833090.
        // R_con on the drawn rows 0 and 2 (tokens 3 and 2, pseudo-labels 0 and 1, so they
        // disagree): d = ‖(0, 0) − (0.6, 0.8)‖ / √2 = 0.70711 < γ → (1 − 0.70711)² = 0.0857864.
        let pair = Tensor::from_slice(&[0i64, 2]);
        let l = rule.losses(&out, &y, &w, Some(&pair), &cfg);
        close(&l.cls, &[0.0405459]);
        close(&l.conf, &[1.2833090]);
        close(&l.con, &[0.0857864]);
    }

    #[test]
    fn draws_are_seeded_distinct_and_in_pool_order() {
        let a = super::draw(1000, 100, 7);
        assert_eq!(a, super::draw(1000, 100, 7));
        assert_ne!(a, super::draw(1000, 100, 8));
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[99] < 1000);
        assert_eq!(super::draw(5, 9, 1), vec![0, 1, 2, 3, 4]);
    }
}
