//! What differs between the stage-2 variants, as one small trait: which rows a round keeps and
//! with which targets, the three loss terms of a batch, and how the optimiser steps. The round
//! loop in [`super::rounds`] is shared and knows nothing of the variant beyond this trait.

use tch::{Kind, Tensor};

use super::{
    CosineConfig, LambdaScale, Variant, classification_loss, confidence_regularizer, confidence_weights,
    contrastive_loss, official_confidence, official_losses, selection_mask, soft_pseudo_labels, wrench_losses,
};
use crate::error::{Context, Result};
use crate::model::Output;
use crate::train::AdamW;

/// What a round keeps from the teacher pass.
///
/// # Shapes
/// `targets`: `[k, C]`, `weights`: `[k]` with k = `selected.len()`; `confidence`: `[n_pool]`; on
/// the CPU.
pub struct RoundTargets {
    /// Positions in the pool the round draws its batches from, in pool order.
    pub selected: Vec<usize>,
    /// The targets of the drawn rows.
    pub targets: Tensor,
    /// The confidence weight ω of each drawn row.
    pub weights: Tensor,
    /// ω of every pool row, as the variant defines it (diagnostics).
    pub confidence: Tensor,
    /// Positions in the pool whose loss the round uses: `selected` itself, or for a variant
    /// that masks inside each batch (`official`), the drawn rows that pass ξ.
    pub confident: Vec<usize>,
}

/// The loss terms of one batch: L = `cls` + μ `con` + λ `conf`.
pub struct Losses {
    pub cls: Tensor,
    pub con: Tensor,
    pub conf: Tensor,
}

/// The per-variant rules of stage 2.
pub trait Stage2Rule {
    /// Keeps rows of the pool and their targets from the teacher's probabilities.
    ///
    /// # Shapes
    /// `teacher`: `[n_pool, C]` probabilities.
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, batch_size: usize) -> Result<RoundTargets>;

    /// The loss terms of a batch. Called after the forward pass, so a rule that draws random
    /// numbers draws them after the model's dropout.
    ///
    /// # Shapes
    /// `out.logits`: `[b, C]`, `out.features`: `[b, D]`, `targets`: `[b, C]`, `weights`: `[b]`,
    /// all on the model's device.
    fn losses(&self, out: &Output, targets: &Tensor, weights: &Tensor, cfg: &CosineConfig) -> Losses;

    /// One optimiser update after `backward` at stage-2 step `step` (0-based); `schedule` is the
    /// trainer's configuration stretched over T2.
    fn update(&self, opt: &mut AdamW, schedule: &crate::train::TrainConfig, step: usize, default_lr: f64);
}

impl Variant {
    /// The rules this variant follows.
    pub fn rule(self) -> &'static dyn Stage2Rule {
        match self {
            Variant::Paper => &Paper,
            Variant::Wrench => &Wrench,
            Variant::Official => &Official,
        }
    }
}

/// Kept positions of a boolean mask over the pool.
fn kept(mask: &Tensor) -> Result<Vec<bool>> {
    Vec::<bool>::try_from(mask).ctx(|| "selection mask".into())
}

fn index(rows: &[usize]) -> Tensor {
    Tensor::from_slice(&rows.iter().map(|&k| k as i64).collect::<Vec<_>>())
}

/// The paper (Alg. 1, eqs. 3–9).
struct Paper;

impl Stage2Rule for Paper {
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, _batch_size: usize) -> Result<RoundTargets> {
        let pseudo = soft_pseudo_labels(teacher, cfg.power);
        let omega = confidence_weights(&pseudo);
        let keep = kept(&selection_mask(&omega, cfg.xi))?;
        let selected: Vec<usize> = (0..keep.len()).filter(|&k| keep[k]).collect();
        let idx = index(&selected);
        Ok(RoundTargets {
            targets: pseudo.index_select(0, &idx),
            weights: omega.index_select(0, &idx),
            confidence: omega,
            confident: selected.clone(),
            selected,
        })
    }

    fn losses(&self, out: &Output, targets: &Tensor, weights: &Tensor, cfg: &CosineConfig) -> Losses {
        let conf = confidence_regularizer(&out.logits);
        let conf = match cfg.lambda_scale {
            LambdaScale::One => conf,
            LambdaScale::Classes => conf * out.logits.size()[1] as f64,
        };
        Losses {
            cls: classification_loss(&out.logits, targets, weights),
            con: contrastive_loss(&out.features, targets, cfg.gamma, cfg.distance),
            conf,
        }
    }

    fn update(&self, opt: &mut AdamW, schedule: &crate::train::TrainConfig, step: usize, _default_lr: f64) {
        let _ = opt.clip_grad_norm(schedule.max_grad_norm);
        opt.step(schedule.lr_at(step));
    }
}

/// WRENCH's `Cosine` end model (see [`Variant::Wrench`]).
struct Wrench;

impl Stage2Rule for Wrench {
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, batch_size: usize) -> Result<RoundTargets> {
        let conf = kept(&selection_mask(&confidence_weights(teacher), cfg.xi))?;
        // The first confident rows in pool order, whole inference batches, until more than
        // batch size × T3 are kept (WRENCH's `_get_new_dataset`).
        let n_max = batch_size * cfg.t3;
        let mut selected = Vec::new();
        for start in (0..conf.len()).step_by(batch_size.max(1)) {
            selected.extend((start..(start + batch_size).min(conf.len())).filter(|&k| conf[k]));
            if selected.len() > n_max {
                break;
            }
        }
        let targets = teacher.index_select(0, &index(&selected));
        let weights = confidence_weights(&targets);
        Ok(RoundTargets {
            confidence: confidence_weights(teacher),
            confident: selected.clone(),
            selected,
            targets,
            weights,
        })
    }

    fn losses(&self, out: &Output, targets: &Tensor, _weights: &Tensor, cfg: &CosineConfig) -> Losses {
        let b = out.logits.size()[0];
        let perm = Tensor::randperm(b, (Kind::Int64, out.logits.device()));
        let (cls, con, conf) = wrench_losses(&out.logits, &out.features, targets, &perm, cfg.gamma);
        Losses { cls, con, conf }
    }

    fn update(&self, opt: &mut AdamW, schedule: &crate::train::TrainConfig, _step: usize, default_lr: f64) {
        opt.step(schedule.lr.unwrap_or(default_lr));
    }
}

/// The official implementation (see [`Variant::Official`]).
struct Official;

impl Stage2Rule for Official {
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, batch_size: usize) -> Result<RoundTargets> {
        // Every row is drawn; the mask is applied inside each batch. `confident` counts the rows
        // a full batch would keep.
        let n = teacher.size()[0] as usize;
        let confidence = official_confidence(teacher, batch_size);
        let keep = kept(&selection_mask(&confidence, cfg.xi))?;
        Ok(RoundTargets {
            selected: (0..n).collect(),
            targets: teacher.shallow_clone(),
            weights: confidence.shallow_clone(),
            confident: (0..n).filter(|&k| keep[k]).collect(),
            confidence,
        })
    }

    fn losses(&self, out: &Output, targets: &Tensor, _weights: &Tensor, cfg: &CosineConfig) -> Losses {
        let b = targets.size()[0];
        let kept = official_confidence(targets, b as usize).gt(cfg.xi).sum(Kind::Int64).int64_value(&[]);
        let perm = Tensor::randperm(kept, (Kind::Int64, out.logits.device()));
        let (cls, con, conf) = official_losses(&out.logits, &out.features.detach(), targets, &perm, cfg);
        Losses { cls, con, conf }
    }

    fn update(&self, opt: &mut AdamW, schedule: &crate::train::TrainConfig, step: usize, _default_lr: f64) {
        let _ = opt.clip_grad_norm(schedule.max_grad_norm);
        // `get_linear_schedule_with_warmup(num_warmup_steps=0)` over T2.
        let decay = crate::train::TrainConfig { warmup_ratio: 0.0, ..schedule.clone() };
        opt.step(decay.lr_at(step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_keeps_every_confident_row_and_wrench_the_first_batches() {
        // 6 rows: confident (0.95) except rows 1 and 4 (0.5).
        let p: Vec<f32> = [0.95, 0.5, 0.95, 0.05, 0.5, 0.95].iter().flat_map(|&a| [a, 1.0 - a]).collect();
        let g = Tensor::from_slice(&p).view([6, 2]);
        let cfg = CosineConfig { xi: 0.3, t3: 1, ..CosineConfig::default() };
        let paper = Variant::Paper.rule().select(&g, &cfg, 2).unwrap();
        assert_eq!(paper.selected, vec![0, 2, 3, 5]);
        assert_eq!(paper.targets.size(), vec![4, 2]);
        // WRENCH: batches of 2 until more than 2 × 1 rows are kept: [0], [2, 3] → stop.
        let wrench = Variant::Wrench.rule().select(&g, &cfg, 2).unwrap();
        assert_eq!(wrench.selected, vec![0, 2, 3]);
        // WRENCH stores the teacher's raw probabilities, not sharpened ones.
        let t: Vec<f32> = Vec::try_from(wrench.targets.flatten(0, -1)).unwrap();
        let want = [0.95, 0.05, 0.95, 0.05, 0.05, 0.95];
        assert!(t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{t:?}");
        // Official: every row is drawn; ω normalises the entropy by log of the batch size
        // (2 here, where log C = log 2 too), so the confident rows are those of `paper`'s raw ω.
        let official = Variant::Official.rule().select(&g, &cfg, 2).unwrap();
        assert_eq!(official.selected, (0..6).collect::<Vec<_>>());
        assert_eq!(official.confident, vec![0, 2, 3, 5]);
        // With batches of 32 the same entropies weigh less: row 1 (p = 0.5) passes ξ = 0.3.
        let wide = Variant::Official.rule().select(&g, &cfg, 32).unwrap();
        assert_eq!(wide.confident, (0..6).collect::<Vec<_>>());
    }
}
