//! The COSINE loop: stage 1 (the trainer on weak labels, early-stopped) then stage 2, `t2` steps
//! of self-training in rounds of T3 steps, each round starting with a teacher pass over the pool.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{CosineConfig, classification_loss, confidence_regularizer, confidence_weights, contrastive_loss, selection_mask, soft_pseudo_labels};
use crate::error::{Context, Error, Result};
use crate::model::manual_seed;
use crate::progress::Progress;
use crate::train::{self, AdamW, EndModel, Encoded, EvalSet, TrainConfig, TrainReport, TrainSet, epoch_batches};

/// One round of stage 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: usize,
    pub step: usize,
    /// Fraction of the pool with ω > ξ.
    pub selected_fraction: f64,
    /// Accuracy of the pseudo-labels' argmax on selected rows with gold (diagnostic only).
    pub pseudo_accuracy: Option<f64>,
    pub loss_cls: f64,
    pub loss_con: f64,
    pub loss_conf: f64,
    /// Validation score at the end of the round.
    pub valid: Option<f64>,
}

/// What COSINE did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineReport {
    pub stage1: TrainReport,
    pub rounds: Vec<RoundRecord>,
    /// Best validation score over both stages, and whether stage 2 produced it.
    pub best_score: Option<f64>,
    pub best_in_stage2: bool,
}

/// Runs COSINE. `pool` are the rows pseudo-labelled in stage 2 (covered and uncovered);
/// `gold` (per encoded row) only feeds the pseudo-label diagnostic.
#[allow(clippy::too_many_arguments)]
pub fn cosine(
    model: &mut EndModel,
    stage1: &TrainSet,
    pool: &[usize],
    gold: Option<&[Option<u32>]>,
    valid: Option<&EvalSet>,
    train_cfg: &TrainConfig,
    t2: usize,
    cfg: &CosineConfig,
    progress: &dyn Progress,
) -> Result<CosineReport> {
    cfg.validate()?;
    let enc: &Encoded = stage1.encoded;
    let s1 = train::train(model, stage1, valid, train_cfg, None, progress)?;
    let mut best_score = s1.best_score;
    let mut best = valid.map(|_| train::snapshot(model));
    let mut best_in_stage2 = false;
    let device = model.device();
    let names: Vec<String> = train::snapshot(model).into_iter().map(|(n, _)| n).collect();
    let mut opt = AdamW::new(model.vs(), &names, train_cfg.weight_decay, EndModel::no_decay);
    let lengths: Vec<usize> = enc.items.iter().map(Vec::len).collect();
    let mut rounds = Vec::new();
    let mut step = 0usize;
    let s2_cfg = TrainConfig { max_steps: t2.max(1), ..train_cfg.clone() };
    progress.start("COSINE stage 2", t2 as u64);
    // The pool's token ids, gathered once for every round's teacher pass.
    let pool_enc = Encoded { items: pool.iter().map(|&i| enc.items[i].clone()).collect(), pad_id: enc.pad_id, max_len: enc.max_len };
    while step < t2 {
        // Teacher pass: the current student, frozen, over the whole pool.
        let g = train::predict_proba(model, &pool_enc, train_cfg.batch_size.max(64), train_cfg.padding)?;
        let pseudo = soft_pseudo_labels(&g, cfg.power);
        let omega = confidence_weights(&pseudo);
        let keep: Vec<bool> = Vec::<bool>::try_from(selection_mask(&omega, cfg.xi)).ctx(|| "selection mask".into())?;
        let selected: Vec<usize> = (0..pool.len()).filter(|&k| keep[k]).collect();
        let selected_fraction = selected.len() as f64 / pool.len().max(1) as f64;
        let argmax: Vec<i64> = Vec::<i64>::try_from(pseudo.argmax(1, false)).ctx(|| "pseudo labels".into())?;
        let pseudo_accuracy = gold.and_then(|g| {
            let (n, ok) = selected.iter().filter_map(|&k| g[pool[k]].map(|y| y as i64 == argmax[k])).fold((0usize, 0usize), |(n, ok), x| (n + 1, ok + x as usize));
            (n > 0).then(|| ok as f64 / n as f64)
        });
        if selected.len() < 2 {
            tracing::warn!(step, selected = selected.len(), "COSINE: no confident pseudo-labels above xi; stopping stage 2");
            break;
        }
        // Slot of each pool position among the selected rows.
        let rows: Vec<usize> = selected.iter().map(|&k| pool[k]).collect();
        let mut slot = vec![usize::MAX; enc.len()];
        for (s, &k) in selected.iter().enumerate() {
            slot[pool[k]] = s;
        }
        let sel_idx = Tensor::from_slice(&selected.iter().map(|&k| k as i64).collect::<Vec<_>>());
        let sel_pseudo = pseudo.index_select(0, &sel_idx);
        let sel_omega = omega.index_select(0, &sel_idx);
        let (mut sum_cls, mut sum_con, mut sum_conf, mut n) = (0.0, 0.0, 0.0, 0usize);
        let round = rounds.len();
        let mut batches = epoch_batches(&rows, &lengths, train_cfg.batch_size, train_cfg.padding, train_cfg.seed.wrapping_add(1000 + round as u64));
        let mut b = 0;
        for _ in 0..cfg.t3.min(t2 - step) {
            if b == batches.len() {
                batches = epoch_batches(&rows, &lengths, train_cfg.batch_size, train_cfg.padding, train_cfg.seed.wrapping_add(2000 + step as u64));
                b = 0;
            }
            let idx = &batches[b];
            b += 1;
            manual_seed(train_cfg.seed.wrapping_mul(7_919).wrapping_add(step as u64));
            let input = enc.collate(idx, train_cfg.padding, device);
            let bi = Tensor::from_slice(&idx.iter().map(|&i| slot[i] as i64).collect::<Vec<_>>());
            let y = sel_pseudo.index_select(0, &bi).to_device(device);
            let w = sel_omega.index_select(0, &bi).to_device(device);
            let out = model.forward(&input, true)?;
            let l_cls = classification_loss(&out.logits, &y, &w);
            let r_con = contrastive_loss(&out.features, &y, cfg.gamma, cfg.distance);
            let r_conf = confidence_regularizer(&out.logits);
            let loss = &l_cls + &r_con * cfg.mu + &r_conf * cfg.lambda;
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(Error::invalid("cosine", format!("non-finite loss at stage-2 step {step}")));
            }
            opt.zero_grad();
            loss.backward();
            let _ = opt.clip_grad_norm(train_cfg.max_grad_norm);
            opt.step(s2_cfg.lr_at(step));
            sum_cls += l_cls.double_value(&[]);
            sum_con += r_con.double_value(&[]);
            sum_conf += r_conf.double_value(&[]);
            n += 1;
            step += 1;
            progress.advance(1);
        }
        let score = match valid {
            Some(v) => {
                let s = train::evaluate(model, v, train_cfg.batch_size.max(64), train_cfg.padding, train_cfg.metric)?;
                if best_score.is_none_or(|b| s > b) {
                    best_score = Some(s);
                    best = Some(train::snapshot(model));
                    best_in_stage2 = true;
                }
                Some(s)
            }
            None => None,
        };
        let k = n.max(1) as f64;
        let rec = RoundRecord { round, step, selected_fraction, pseudo_accuracy, loss_cls: sum_cls / k, loss_con: sum_con / k, loss_conf: sum_conf / k, valid: score };
        tracing::info!(round, step, selected_fraction, pseudo_accuracy = ?pseudo_accuracy, loss_cls = rec.loss_cls, loss_con = rec.loss_con, loss_conf = rec.loss_conf, valid = ?score, "COSINE round");
        progress.message(&format!("round {round} selected {:.0}% valid {}", 100.0 * selected_fraction, score.map_or("-".into(), |s| format!("{s:.3}"))));
        rounds.push(rec);
    }
    progress.finish();
    if let Some(b) = &best {
        train::restore(model, b)?;
    }
    Ok(CosineReport { stage1: s1, rounds, best_score, best_in_stage2 })
}
