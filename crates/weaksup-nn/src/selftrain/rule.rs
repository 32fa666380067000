//! What differs between the stage-2 variants, as one small trait: which rows a round keeps and
//! with which targets, the three loss terms of a batch, and how the optimiser steps. The round
//! loop in [`super::rounds`] is shared and knows nothing of the variant beyond this trait.

use tch::{Kind, Tensor};

use super::{
    CosineConfig, LambdaScale, PseudoLabels, Selection, Variant, classification_loss, confidence_regularizer,
    confidence_weights, contrastive_loss, official_confidence, official_losses, selection_mask,
    sharpened_pseudo_labels, soft_pseudo_labels, wrench_losses,
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

/// What a round's selection may use besides the teacher's probabilities.
#[derive(Clone, Copy)]
pub struct SelectContext<'a> {
    /// The trainer's batch size.
    pub batch_size: usize,
    /// Class shares for [`Selection::Balanced`] (the valid split's gold class balance), if known.
    pub prior: Option<&'a [f64]>,
}

/// The per-variant rules of stage 2.
pub trait Stage2Rule {
    /// Keeps rows of the pool and their targets from the teacher's probabilities.
    ///
    /// # Shapes
    /// `teacher`: `[n_pool, C]` probabilities.
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, cx: SelectContext) -> Result<RoundTargets>;

    /// The loss terms of a batch. Called after the forward pass, so a rule that draws random
    /// numbers draws them after the model's dropout. `con_rows`, when given, are the rows the
    /// contrastive term pairs (a draw of a tagging batch's tokens); else it pairs every row.
    ///
    /// # Shapes
    /// `out.logits`: `[b, C]`, `out.features`: `[b, D]`, `targets`: `[b, C]`, `weights`: `[b]`,
    /// `con_rows`: `[m]` int64, all on the model's device.
    fn losses(
        &self,
        out: &Output,
        targets: &Tensor,
        weights: &Tensor,
        con_rows: Option<&Tensor>,
        cfg: &CosineConfig,
    ) -> Losses;

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

/// Class-balanced selection (CBST, Zou et al., ECCV 2018, with class shares from a prior): `quota`
/// rows in all, class c's share of them (its `prior` share; without a prior, or where the prior
/// is 0, its share of the pseudo-labels) filled with the rows labelled c of highest ω; a class
/// with fewer rows keeps all of them.
/// Returns pool positions in pool order.
///
/// ```python
/// share = np.bincount(labels, minlength=C) / len(labels)
/// if prior is not None: share = np.where(prior > 0, prior, share)
/// keep = [i for c in range(C) for i in sorted(np.flatnonzero(labels == c), key=lambda i: -w[i])[:round(share[c] * quota)]]
/// ```
fn balanced(labels: &[i64], w: &[f32], quota: usize, n_classes: usize, prior: Option<&[f64]>) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in labels.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    let n = labels.len().max(1) as f64;
    let mut selected = Vec::with_capacity(quota);
    for (c, rows) in by_class.iter_mut().enumerate() {
        // A class the prior lacks (absent from a small valid split) keeps its pseudo-label share
        // rather than dropping out of self-training.
        let share = match prior.and_then(|p| p.get(c).copied()) {
            Some(p) if p > 0.0 => p,
            _ => rows.len() as f64 / n,
        };
        let take = ((share * quota as f64).round() as usize).min(rows.len());
        // Highest ω first; ties by position, so the choice is deterministic.
        rows.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
        selected.extend_from_slice(&rows[..take]);
    }
    selected.sort_unstable();
    selected
}

/// The paper (Alg. 1, eqs. 3–9).
struct Paper;

impl Stage2Rule for Paper {
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, cx: SelectContext) -> Result<RoundTargets> {
        let pseudo = match cfg.pseudo_labels {
            PseudoLabels::Frequency => soft_pseudo_labels(teacher, cfg.power),
            PseudoLabels::Power => sharpened_pseudo_labels(teacher, cfg.power),
        };
        let omega = confidence_weights(&pseudo);
        let keep = kept(&selection_mask(&omega, cfg.xi))?;
        let selected: Vec<usize> = match cfg.selection {
            Selection::Threshold => (0..keep.len()).filter(|&k| keep[k]).collect(),
            Selection::Balanced => {
                let labels = Vec::<i64>::try_from(pseudo.argmax(1, false)).ctx(|| "pseudo labels".into())?;
                let w = Vec::<f32>::try_from(&omega).ctx(|| "confidence".into())?;
                let quota = keep.iter().filter(|&&k| k).count();
                balanced(&labels, &w, quota, pseudo.size()[1] as usize, cx.prior)
            }
        };
        let idx = index(&selected);
        Ok(RoundTargets {
            targets: pseudo.index_select(0, &idx),
            weights: omega.index_select(0, &idx),
            confidence: omega,
            confident: selected.clone(),
            selected,
        })
    }

    fn losses(
        &self,
        out: &Output,
        targets: &Tensor,
        weights: &Tensor,
        con_rows: Option<&Tensor>,
        cfg: &CosineConfig,
    ) -> Losses {
        let conf = confidence_regularizer(&out.logits);
        let conf = match cfg.lambda_scale {
            LambdaScale::One => conf,
            LambdaScale::Classes => conf * out.logits.size()[1] as f64,
        };
        let con = match con_rows {
            Some(r) => contrastive_loss(
                &out.features.index_select(0, r),
                &targets.index_select(0, r),
                cfg.gamma,
                cfg.distance,
            ),
            None => contrastive_loss(&out.features, targets, cfg.gamma, cfg.distance),
        };
        Losses { cls: classification_loss(&out.logits, targets, weights), con, conf }
    }

    fn update(&self, opt: &mut AdamW, schedule: &crate::train::TrainConfig, step: usize, _default_lr: f64) {
        let _ = opt.clip_grad_norm(schedule.max_grad_norm);
        opt.step(schedule.lr_at(step));
    }
}

/// WRENCH's `Cosine` end model (see [`Variant::Wrench`]).
struct Wrench;

impl Stage2Rule for Wrench {
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, cx: SelectContext) -> Result<RoundTargets> {
        let batch_size = cx.batch_size;
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

    fn losses(
        &self,
        out: &Output,
        targets: &Tensor,
        _weights: &Tensor,
        _con_rows: Option<&Tensor>,
        cfg: &CosineConfig,
    ) -> Losses {
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
    fn select(&self, teacher: &Tensor, cfg: &CosineConfig, cx: SelectContext) -> Result<RoundTargets> {
        let batch_size = cx.batch_size;
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

    fn losses(
        &self,
        out: &Output,
        targets: &Tensor,
        _weights: &Tensor,
        _con_rows: Option<&Tensor>,
        cfg: &CosineConfig,
    ) -> Losses {
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

    fn cx(batch_size: usize) -> SelectContext<'static> {
        SelectContext { batch_size, prior: None }
    }

    #[test]
    fn balanced_selection_fills_class_quotas_with_the_most_confident_rows() {
        // 8 rows; labels: six of class 0, two of class 1.
        let labels = [0, 0, 1, 0, 0, 1, 0, 0];
        let w = [0.9, 0.8, 0.7, 0.95, 0.5, 0.6, 0.85, 0.4];
        // Prior 50/50, quota 4: two of class 0 (ω 0.95, 0.9 → rows 3, 0), both of class 1.
        assert_eq!(balanced(&labels, &w, 4, 2, Some(&[0.5, 0.5])), vec![0, 2, 3, 5]);
        // Without a prior, the pseudo-labels' shares (6/8, 2/8): 3 of class 0, 1 of class 1.
        assert_eq!(balanced(&labels, &w, 4, 2, None), vec![0, 2, 3, 6]);
        // A class with fewer rows than its quota keeps all of them; the rest is not refilled.
        assert_eq!(balanced(&labels, &w, 8, 2, Some(&[0.25, 0.75])), vec![0, 2, 3, 5]);
        // A class missing from the prior keeps its pseudo-label share (2/8 of 4: one row).
        assert_eq!(balanced(&labels, &w, 4, 2, Some(&[1.0, 0.0])), vec![0, 1, 2, 3, 6]);
        // Through the rule: the same teacher as below with ξ = 0.3 keeps rows 0, 2, 3, 5
        // (quota 4). Sharpening labels the two uniform rows 1 and 4 class 1 (f = [3.91, 2.09]).
        // A prior of (0.5, 0.5): class 0 keeps rows 5 (0.96) and 0 (0.95, first of a tie),
        // class 1 keeps row 3 and row 1 (the first of two equal, less confident rows).
        let p: Vec<f32> = [0.95, 0.5, 0.95, 0.05, 0.5, 0.96].iter().flat_map(|&a| [a, 1.0 - a]).collect();
        let g = Tensor::from_slice(&p).view([6, 2]);
        let cfg = CosineConfig { xi: 0.3, selection: Selection::Balanced, ..CosineConfig::default() };
        let prior = [0.5, 0.5];
        let r = Variant::Paper
            .rule()
            .select(&g, &cfg, SelectContext { batch_size: 2, prior: Some(&prior) })
            .unwrap();
        assert_eq!(r.selected, vec![0, 1, 3, 5]);
        let threshold = CosineConfig { selection: Selection::Threshold, ..cfg };
        assert_eq!(Variant::Paper.rule().select(&g, &threshold, cx(2)).unwrap().selected, vec![0, 2, 3, 5]);
    }

    #[test]
    fn paper_keeps_every_confident_row_and_wrench_the_first_batches() {
        // 6 rows: confident (0.95) except rows 1 and 4 (0.5).
        let p: Vec<f32> = [0.95, 0.5, 0.95, 0.05, 0.5, 0.95].iter().flat_map(|&a| [a, 1.0 - a]).collect();
        let g = Tensor::from_slice(&p).view([6, 2]);
        let cfg = CosineConfig { xi: 0.3, t3: 1, selection: Selection::Threshold, ..CosineConfig::default() };
        let paper = Variant::Paper.rule().select(&g, &cfg, cx(2)).unwrap();
        assert_eq!(paper.selected, vec![0, 2, 3, 5]);
        assert_eq!(paper.targets.size(), vec![4, 2]);
        // WRENCH: batches of 2 until more than 2 × 1 rows are kept: [0], [2, 3] → stop.
        let wrench = Variant::Wrench.rule().select(&g, &cfg, cx(2)).unwrap();
        assert_eq!(wrench.selected, vec![0, 2, 3]);
        // WRENCH stores the teacher's raw probabilities, not sharpened ones.
        let t: Vec<f32> = Vec::try_from(wrench.targets.flatten(0, -1)).unwrap();
        let want = [0.95, 0.05, 0.95, 0.05, 0.05, 0.95];
        assert!(t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{t:?}");
        // Official: every row is drawn; ω normalises the entropy by log of the batch size
        // (2 here, where log C = log 2 too), so the confident rows are those of `paper`'s raw ω.
        let official = Variant::Official.rule().select(&g, &cfg, cx(2)).unwrap();
        assert_eq!(official.selected, (0..6).collect::<Vec<_>>());
        assert_eq!(official.confident, vec![0, 2, 3, 5]);
        // With batches of 32 the same entropies weigh less: row 1 (p = 0.5) passes ξ = 0.3.
        let wide = Variant::Official.rule().select(&g, &cfg, cx(32)).unwrap();
        assert_eq!(wide.confident, (0..6).collect::<Vec<_>>());
    }
}
