//! The COSINE loop: stage 1 (the trainer on weak labels, early-stopped) then stage 2, `t2` steps
//! of self-training in rounds of T3 steps, each round starting with a teacher pass over the pool.
//! Stage 2 checkpoints at every round's end, so a killed run resumes at the last finished round
//! and ends with the same weights as an uninterrupted one (CPU, same seed).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{
    CosineConfig, Variant, classification_loss, confidence_regularizer, confidence_weights, contrastive_loss, selection_mask, soft_pseudo_labels,
    wrench_losses,
};
use crate::error::{Context, Error, Result};
use crate::model::manual_seed;
use crate::progress::Progress;
use crate::train::checkpoint::{read_dir, write_dir};
use crate::train::{self, AdamW, EndModel, Encoded, EvalSet, TrainConfig, TrainReport, TrainSet, epoch_batches};

/// One round of stage 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: usize,
    /// Stage-2 steps done at the end of the round.
    pub step: usize,
    /// Fraction of the pool used in the round (ω > ξ; for `wrench`, the kept prefix).
    pub selected_fraction: f64,
    /// Accuracy of the pseudo-labels' argmax on selected rows with gold (diagnostic only).
    pub pseudo_accuracy: Option<f64>,
    pub loss_cls: f64,
    pub loss_con: f64,
    pub loss_conf: f64,
    /// Validation score at the end of the round.
    pub valid: Option<f64>,
}

/// What stage 2 did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfTrainReport {
    pub rounds: Vec<RoundRecord>,
    pub steps: usize,
    /// Best validation score over both stages, and whether stage 2 produced it.
    pub best_score: Option<f64>,
    pub best_in_stage2: bool,
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
}

/// Runs COSINE: stage 1 ([`train::train`] on `stage1`), then [`self_train`]. With a checkpoint
/// folder, stage 1 checkpoints under `stage1/` and stage 2 under `stage2/`, and a rerun resumes.
#[allow(clippy::too_many_arguments)]
pub fn cosine(
    model: &mut EndModel,
    stage1: &TrainSet,
    pool: &[usize],
    gold: Option<&[Option<u32>]>,
    valid: Option<&EvalSet>,
    train_cfg: &TrainConfig,
    cfg: &CosineConfig,
    checkpoint_dir: Option<&Path>,
    progress: &dyn Progress,
) -> Result<CosineReport> {
    cfg.validate()?;
    let s1 = train::train(model, stage1, valid, train_cfg, checkpoint_dir.map(|d| d.join("stage1")).as_deref(), progress)?;
    let s2 = self_train(model, stage1.encoded, pool, gold, valid, train_cfg, cfg, s1.best_score, checkpoint_dir.map(|d| d.join("stage2")).as_deref(), progress)?;
    Ok(CosineReport { stage1: s1, stage2: s2 })
}

/// COSINE stage 2 from the model's current weights: `cfg.t2` steps in rounds of `cfg.t3`.
/// `pool` are the rows of `encoded` pseudo-labelled each round (covered and uncovered); `gold`
/// (per encoded row) only feeds the pseudo-label diagnostic; `stage1_best` is the validation
/// score to beat (the best weights of either stage are kept).
#[allow(clippy::too_many_arguments)]
pub fn self_train(
    model: &mut EndModel,
    encoded: &Encoded,
    pool: &[usize],
    gold: Option<&[Option<u32>]>,
    valid: Option<&EvalSet>,
    train_cfg: &TrainConfig,
    cfg: &CosineConfig,
    stage1_best: Option<f64>,
    checkpoint_dir: Option<&Path>,
    progress: &dyn Progress,
) -> Result<SelfTrainReport> {
    cfg.validate()?;
    let train_cfg = &train_cfg.resolved_for(model);
    let t2 = cfg.t2;
    let started = Instant::now();
    let names: Vec<String> = model.vs().variables().into_keys().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut opt = AdamW::new(model.vs(), &names, train_cfg.weight_decay, EndModel::no_decay);
    let mut state = Stage2State { adam_t: 0, step: 0, rounds: Vec::new(), best_score: stage1_best, best_in_stage2: false, config: cfg.clone(), seconds: 0.0 };
    let mut best = valid.map(|_| train::snapshot(model));
    let mut resumed_at_round = None;
    if let Some(dir) = checkpoint_dir
        && let Some((s, b)) = read_dir::<Stage2State>(dir, model, &mut opt, |s| s.adam_t)? {
            if s.config != *cfg {
                return Err(Error::Config(format!("{}: this stage-2 checkpoint was written with another COSINE config; remove it or use the same settings", dir.display())));
            }
            tracing::info!(round = s.rounds.len(), step = s.step, dir = %dir.display(), "resuming COSINE stage 2");
            resumed_at_round = Some(s.rounds.len());
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
    let wrench = cfg.variant == Variant::Wrench;
    progress.start("COSINE stage 2", t2 as u64);
    progress.advance(state.step as u64);
    // The pool's token ids, gathered once for every round's teacher pass.
    let pool_enc = Encoded { items: pool.iter().map(|&i| enc.items[i].clone()).collect(), pad_id: enc.pad_id, max_len: enc.max_len };
    let n_pool = pool.len();
    // Scores `model` on valid; a strictly better score keeps its weights.
    let validate = |model: &EndModel, state: &mut Stage2State, best: &mut Option<Vec<(String, Tensor)>>| -> Result<Option<f64>> {
        let Some(v) = valid else { return Ok(None) };
        let s = train::evaluate(model, v, train_cfg.batch_size.max(64), train_cfg.padding, train_cfg.metric)?;
        if state.best_score.is_none_or(|b| s > b) {
            state.best_score = Some(s);
            *best = Some(train::snapshot(model));
            state.best_in_stage2 = true;
        }
        Ok(Some(s))
    };
    let mut last_eval: Option<(usize, f64)> = None;
    while state.step < t2 {
        // Teacher pass: the current student, frozen, over the whole pool.
        let g = train::predict_proba(model, &pool_enc, train_cfg.batch_size.max(64), train_cfg.padding)?;
        // Targets stored for the round (pool positions `selected`, rows of `targets`, weights ω).
        let (selected, targets, omega) = if wrench {
            let conf: Vec<bool> = Vec::<bool>::try_from(selection_mask(&confidence_weights(&g), cfg.xi)).ctx(|| "selection mask".into())?;
            // The first confident rows in pool order, whole inference batches, until more than
            // batch size × T3 are kept (WRENCH's `_get_new_dataset`).
            let n_max = train_cfg.batch_size * cfg.t3;
            let mut sel = Vec::new();
            for chunk in (0..n_pool).collect::<Vec<_>>().chunks(train_cfg.batch_size) {
                sel.extend(chunk.iter().copied().filter(|&k| conf[k]));
                if sel.len() > n_max {
                    break;
                }
            }
            let idx = Tensor::from_slice(&sel.iter().map(|&k| k as i64).collect::<Vec<_>>());
            let t = g.index_select(0, &idx);
            let w = confidence_weights(&t);
            (sel, t, w)
        } else {
            let pseudo = soft_pseudo_labels(&g, cfg.power);
            let omega = confidence_weights(&pseudo);
            let keep: Vec<bool> = Vec::<bool>::try_from(selection_mask(&omega, cfg.xi)).ctx(|| "selection mask".into())?;
            let sel: Vec<usize> = (0..n_pool).filter(|&k| keep[k]).collect();
            let idx = Tensor::from_slice(&sel.iter().map(|&k| k as i64).collect::<Vec<_>>());
            (sel.clone(), pseudo.index_select(0, &idx), omega.index_select(0, &idx))
        };
        let selected_fraction = selected.len() as f64 / n_pool.max(1) as f64;
        let argmax: Vec<i64> = Vec::<i64>::try_from(targets.argmax(1, false)).ctx(|| "pseudo labels".into())?;
        let pseudo_accuracy = gold.and_then(|g| {
            let (n, ok) = selected.iter().zip(&argmax).filter_map(|(&k, &a)| g[pool[k]].map(|y| y as i64 == a)).fold((0usize, 0usize), |(n, ok), x| (n + 1, ok + x as usize));
            (n > 0).then(|| ok as f64 / n as f64)
        });
        if selected.len() < 2 {
            tracing::warn!(step = state.step, selected = selected.len(), "COSINE: no confident pseudo-labels above xi; stopping stage 2");
            break;
        }
        // Slot of each encoded row among the selected rows.
        let rows: Vec<usize> = selected.iter().map(|&k| pool[k]).collect();
        let mut slot = vec![usize::MAX; enc.len()];
        for (s, &r) in rows.iter().enumerate() {
            slot[r] = s;
        }
        let (mut sum_cls, mut sum_con, mut sum_conf, mut n) = (0.0, 0.0, 0.0, 0usize);
        let round = state.rounds.len();
        let mut batches = epoch_batches(&rows, &lengths, train_cfg.batch_size, train_cfg.padding, train_cfg.seed.wrapping_add(1000 + round as u64));
        let mut b = 0;
        for _ in 0..cfg.t3.min(t2 - state.step) {
            if b == batches.len() {
                batches = epoch_batches(&rows, &lengths, train_cfg.batch_size, train_cfg.padding, train_cfg.seed.wrapping_add(2000 + state.step as u64));
                b = 0;
            }
            let idx = &batches[b];
            b += 1;
            manual_seed(train_cfg.seed.wrapping_mul(7_919).wrapping_add(state.step as u64));
            let input = enc.collate(idx, train_cfg.padding, device);
            let bi = Tensor::from_slice(&idx.iter().map(|&i| slot[i] as i64).collect::<Vec<_>>());
            let y = targets.index_select(0, &bi).to_device(device);
            let out = model.forward(&input, true)?;
            let (l_cls, r_con, r_conf) = if wrench {
                let perm = Tensor::randperm(idx.len() as i64, (Kind::Int64, device));
                wrench_losses(&out.logits, &out.features, &y, &perm, cfg.gamma)
            } else {
                let w = omega.index_select(0, &bi).to_device(device);
                (classification_loss(&out.logits, &y, &w), contrastive_loss(&out.features, &y, cfg.gamma, cfg.distance), confidence_regularizer(&out.logits))
            };
            let loss = &l_cls + &r_con * cfg.mu + &r_conf * cfg.lambda;
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(Error::invalid("cosine", format!("non-finite loss at stage-2 step {}", state.step)));
            }
            opt.zero_grad();
            loss.backward();
            if wrench {
                opt.step(train_cfg.lr.unwrap_or_else(|| model.default_lr()));
            } else {
                let _ = opt.clip_grad_norm(train_cfg.max_grad_norm);
                opt.step(s2_cfg.lr_at(state.step));
            }
            sum_cls += l_cls.double_value(&[]);
            sum_con += r_con.double_value(&[]);
            sum_conf += r_conf.double_value(&[]);
            n += 1;
            state.step += 1;
            progress.advance(1);
            // Validation on the trainer's cadence too, so stage 2 has as many chances as stage 1.
            if state.step.is_multiple_of(train_cfg.eval_every)
                && let Some(s) = validate(model, &mut state, &mut best)? {
                    last_eval = Some((state.step, s));
                    tracing::debug!(step = state.step, score = s, "COSINE validation");
                }
        }
        let score = match last_eval {
            Some((at, s)) if at == state.step => Some(s),
            _ => validate(model, &mut state, &mut best)?,
        };
        let k = n.max(1) as f64;
        let rec = RoundRecord { round, step: state.step, selected_fraction, pseudo_accuracy, loss_cls: sum_cls / k, loss_con: sum_con / k, loss_conf: sum_conf / k, valid: score };
        tracing::info!(round, step = state.step, selected_fraction, pseudo_accuracy = ?pseudo_accuracy, loss_cls = rec.loss_cls, loss_con = rec.loss_con, loss_conf = rec.loss_conf, valid = ?score, "COSINE round");
        progress.message(&format!("round {round} selected {:.0}% valid {}", 100.0 * selected_fraction, score.map_or("-".into(), |s| format!("{s:.3}"))));
        state.rounds.push(rec);
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
    Ok(SelfTrainReport {
        steps: state.step,
        rounds: state.rounds,
        best_score: state.best_score,
        best_in_stage2: state.best_in_stage2,
        resumed_at_round,
        seconds: prior_seconds + started.elapsed().as_secs_f64(),
    })
}
