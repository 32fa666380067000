//! The supervised trainer shared by weak-label training, the supervised baselines and COSINE:
//! mini-batches over soft (or one-hot) targets with optional per-example weights, AdamW with
//! linear warm-up and decay, gradient clipping, seeded shuffling, length-bucketed dynamic padding,
//! validation with early stopping (best weights restored), atomic checkpoints with resume, and
//! batched no-grad inference.

pub mod batch;
pub mod checkpoint;
mod optim;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

pub use batch::{Encoded, Input, Padding, Units, epoch_batches, inference_batches};
pub use optim::AdamW;

use crate::error::{Context, Error, Result};
use crate::metrics::{Metric, scores};
use crate::model::manual_seed;
use crate::progress::Progress;
use weaksup_core::seeds;

pub use crate::model::EndModel;
use crate::model::end_model::TRANSFORMER_LR;

/// What to do when a loss or gradient is NaN / infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum OnNonFinite {
    /// Stop with an error naming the step. Default.
    #[default]
    Error,
    /// Skip the batch (no update) and count it.
    Skip,
}

/// How the trainer weighs its rows by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every row weighs 1. Default.
    #[default]
    None,
    /// Rows of class c weigh prior_c / share_c (normalised to a mean of 1), where share_c is the
    /// class's share of the training targets and prior_c its share of the valid split's gold
    /// labels (add-one smoothed): the standard correction for a label shift between training
    /// targets and the data (e.g. a catch-all class the rules over-assign). Without a valid split
    /// with gold labels, no weights.
    ValidPrior,
}

/// Labels per class, `c` classes (a label ≥ `c` is not counted).
///
/// ```python
/// np.bincount(labels, minlength=C)[:C]
/// ```
pub fn class_counts(labels: impl IntoIterator<Item = u32>, c: usize) -> Vec<usize> {
    let mut counts = vec![0usize; c];
    for y in labels {
        if let Some(n) = counts.get_mut(y as usize) {
            *n += 1;
        }
    }
    counts
}

/// Row weights for [`ClassWeights::ValidPrior`].
///
/// ```python
/// share = targets.mean(0); prior = (np.bincount(gold, minlength=C) + 1) / (len(gold) + C)
/// w = targets @ np.where(share > 0, prior / share, 0); w = w / w.mean()
/// ```
///
/// # Shapes
/// `targets`: `rows × C` row-major → `rows`.
pub fn valid_prior_weights(targets: &[f32], c: usize, gold: &[u32]) -> Vec<f32> {
    let rows = targets.len() / c.max(1);
    let mut share = vec![0.0f64; c];
    for row in targets.chunks(c) {
        for (s, &t) in share.iter_mut().zip(row) {
            *s += t as f64 / rows.max(1) as f64;
        }
    }
    let prior: Vec<f64> = class_counts(gold.iter().copied(), c).iter().map(|&n| n as f64 + 1.0).collect();
    let total = (gold.len() + c) as f64;
    let ratio: Vec<f64> =
        share.iter().zip(&prior).map(|(&s, &p)| if s > 0.0 { p / total / s } else { 0.0 }).collect();
    let w: Vec<f64> =
        targets.chunks(c).map(|row| row.iter().zip(&ratio).map(|(&t, r)| t as f64 * r).sum()).collect();
    let mean = w.iter().sum::<f64>() / rows.max(1) as f64;
    w.iter().map(|&x| if mean > 0.0 { (x / mean) as f32 } else { 1.0 }).collect()
}

/// Trainer settings. Defaults follow BERT fine-tuning practice (Devlin et al. 2019; HF `Trainer`),
/// with the stage-1 budget and early stopping of the COSINE study on the paper's TREC data
/// (`docs/cosine.md`). `weaksup run`, `train`, `cosine` and `bench` all start from these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Default 32.
    pub batch_size: usize,
    /// Optimiser steps at most. Default 600, with early stopping (the cosine_trec study in
    /// `docs/cosine.md`, where it beat the official script's 150 on valid; WRENCH's COSINE runs
    /// use 300).
    pub max_steps: usize,
    /// Peak learning rate. Default: the model's ([`EndModel::default_lr`]: 5e-5 for transformers,
    /// BERT fine-tuning practice; 5e-3 for the n-gram model).
    pub lr: Option<f64>,
    /// AdamW decoupled weight decay, not applied to biases and LayerNorm. Default 0.01.
    pub weight_decay: f64,
    /// Fraction of `max_steps` of linear warm-up, then linear decay to 0. Default 0.1.
    pub warmup_ratio: f64,
    /// Global gradient-norm clip. Default 1.0.
    pub max_grad_norm: f64,
    /// Validate every this many steps. Default 50.
    pub eval_every: usize,
    /// Stop after this many validations without improvement. Default 4.
    pub patience: usize,
    /// Validation metric. Default accuracy.
    pub metric: Metric,
    pub padding: Padding,
    /// The trainer's seed ([`weaksup_core::seeds::Seeds::trainer`]): set by the run from its one
    /// seed, never read from or written to a config file.
    #[serde(skip)]
    pub seed: u64,
    pub on_nonfinite: OnNonFinite,
    /// Row weights by class. Default none: `valid_prior` lifts stage 1 on cosine_trec valid in
    /// every seed (+0.02 to +0.045) but not on the demo corpus, and hurts there with a short
    /// budget (`docs/cosine.md`).
    pub class_weights: ClassWeights,
    /// Write a checkpoint every this many steps (with a checkpoint folder). Default 100.
    pub checkpoint_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            max_steps: 600,
            lr: None,
            weight_decay: 0.01,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            eval_every: 50,
            patience: 4,
            metric: Metric::Accuracy,
            padding: Padding::Bucketed,
            class_weights: ClassWeights::None,
            seed: 42,
            on_nonfinite: OnNonFinite::Error,
            checkpoint_every: 100,
        }
    }
}

impl TrainConfig {
    /// Checks every value, naming the config key (and the flag) of the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, v: String, want: &str| {
            Err(Error::Config(format!("train.{key} (--{}) = {v}: {want}", key.replace('_', "-"))))
        };
        for (key, v) in [
            ("batch_size", self.batch_size),
            ("max_steps", self.max_steps),
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if v == 0 {
                return bad(key, "0".into(), "must be at least 1");
            }
        }
        if let Some(lr) = self.lr.filter(|lr| !(*lr > 0.0 && lr.is_finite())) {
            return bad("lr", lr.to_string(), "must be positive");
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad("warmup_ratio", self.warmup_ratio.to_string(), "must be in [0, 1]");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", self.weight_decay.to_string(), "must be at least 0");
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm <= 0.0 {
            return bad("max_grad_norm", self.max_grad_norm.to_string(), "must be positive");
        }
        Ok(())
    }
    /// This config with the learning rate resolved for `model`.
    pub fn resolved_for(&self, model: &EndModel) -> Self {
        Self { lr: Some(self.lr.unwrap_or_else(|| model.default_lr())), ..self.clone() }
    }
    /// Learning rate at `step` (0-based): linear warm-up, then linear decay to 0.
    pub fn lr_at(&self, step: usize) -> f64 {
        let lr = self.lr.unwrap_or(TRANSFORMER_LR);
        let warm = (self.warmup_ratio * self.max_steps as f64).round() as usize;
        if step < warm {
            lr * (step + 1) as f64 / warm as f64
        } else {
            lr * (self.max_steps - step) as f64 / (self.max_steps - warm).max(1) as f64
        }
    }
}

/// Training rows with their targets.
#[derive(Debug, Clone)]
pub struct TrainSet<'a> {
    pub encoded: &'a Encoded,
    /// Rows of `encoded` to train on.
    pub rows: Vec<usize>,
    /// `units × C` row-major target distributions (one-hot for hard labels), a unit being a
    /// row, or for tagging a scored word of a row ([`Units::of`]`(encoded, rows)`).
    pub targets: Vec<f32>,
    /// Optional per-unit weights (same order as `targets`).
    pub weights: Option<Vec<f32>>,
}

impl<'a> TrainSet<'a> {
    /// One-hot targets from hard labels.
    pub fn hard(encoded: &'a Encoded, rows: Vec<usize>, labels: &[u32], c: usize) -> Self {
        let mut targets = vec![0.0; rows.len() * c];
        for (r, &l) in labels.iter().enumerate() {
            targets[r * c + l as usize] = 1.0;
        }
        Self { encoded, rows, targets, weights: None }
    }
}

/// A validation set: rows (for tagging, units) with gold labels.
#[derive(Debug, Clone)]
pub struct EvalSet<'a> {
    pub encoded: &'a Encoded,
    /// A gold label per unit: per row, or for tagging per scored word.
    pub gold: Vec<u32>,
    /// Tagging: score span F1 over every word (words cut by truncation count as `O`) instead
    /// of the metric over units.
    pub spans: Option<SpanEval<'a>>,
}

impl<'a> EvalSet<'a> {
    /// Rows with a gold label each.
    pub fn rows(encoded: &'a Encoded, gold: Vec<u32>) -> Self {
        Self { encoded, gold, spans: None }
    }
}

/// What span F1 needs: the tag set, and every word's gold tag, the rows' words cut by `offsets`
/// (row `i` of the encoded set is words `offsets[i]..offsets[i + 1]`).
#[derive(Debug, Clone, Copy)]
pub struct SpanEval<'a> {
    pub tags: &'a weaksup_core::token::TagSet,
    pub offsets: &'a [usize],
    pub gold: &'a [weaksup_core::matrix::Label],
}

/// One validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub step: usize,
    pub train_loss: f64,
    pub score: f64,
    /// Time the validation took.
    #[serde(default)]
    pub seconds: f64,
}

/// What training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub steps: usize,
    pub best_step: Option<usize>,
    pub best_score: Option<f64>,
    pub history: Vec<EvalRecord>,
    /// Loss per step.
    pub losses: Vec<f64>,
    pub skipped_batches: usize,
    pub stopped_early: bool,
    pub seconds: f64,
    pub examples_per_second: f64,
}

/// Mean over the batch of `w · CE(target, softmax(logits))`.
///
/// ```python
/// loss = (w * -(targets * logits.log_softmax(-1)).sum(-1)).mean()
/// ```
///
/// # Shapes
/// `logits`, `targets`: `[b, C]`; `weights`: `[b]` → scalar.
pub fn soft_cross_entropy(logits: &Tensor, targets: &Tensor, weights: Option<&Tensor>) -> Tensor {
    let per = -(targets * logits.log_softmax(-1, Kind::Float)).sum_dim_intlist(-1, false, Kind::Float);
    match weights {
        Some(w) => (per * w).mean(Kind::Float),
        None => per.mean(Kind::Float),
    }
}

/// Class probabilities for every unit of `encoded` (every row, or for tagging every scored
/// word), in row order (eval mode, no grad).
///
/// # Shapes
/// → `[units, C]` fp32 on the CPU.
pub fn predict_proba(
    model: &EndModel,
    encoded: &Encoded,
    batch_size: usize,
    padding: Padding,
) -> Result<Tensor> {
    let lengths: Vec<usize> = encoded.items.iter().map(Vec::len).collect();
    let batches = inference_batches(encoded.len(), &lengths, batch_size, padding);
    let c = model.n_classes();
    let units = Units::of(encoded, 0..encoded.len());
    let mut out = Tensor::zeros([units.total() as i64, c], (Kind::Float, Device::Cpu));
    tch::no_grad(|| -> Result<()> {
        for idx in &batches {
            let index: Vec<i64> = idx.iter().flat_map(|&i| units.range(i)).map(|u| u as i64).collect();
            if index.is_empty() {
                continue;
            }
            let input = encoded.collate(idx, padding, model.device());
            let probs = model.forward(&input, false)?.logits.softmax(-1, Kind::Float).to_device(Device::Cpu);
            let _ = out.index_copy_(0, &Tensor::from_slice(&index), &probs);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Hard predictions (argmax).
pub fn predict(model: &EndModel, encoded: &Encoded, batch_size: usize, padding: Padding) -> Result<Vec<u32>> {
    let p = predict_proba(model, encoded, batch_size, padding)?;
    Ok(Vec::<i64>::try_from(p.argmax(-1, false))
        .ctx(|| "predictions".into())?
        .into_iter()
        .map(|x| x as u32)
        .collect())
}

/// Scores `model` on a labelled set under `metric`.
pub fn evaluate(
    model: &EndModel,
    set: &EvalSet,
    batch_size: usize,
    padding: Padding,
    metric: Metric,
) -> Result<f64> {
    let pred = predict(model, set.encoded, batch_size, padding)?;
    if let Some(sp) = &set.spans {
        return Ok(span_f1(set.encoded, &pred, sp));
    }
    let pred: Vec<i16> = pred.iter().map(|&p| p as i16).collect();
    let gold: Vec<Option<u32>> = set.gold.iter().map(|&g| Some(g)).collect();
    Ok(metric.of(&scores(&pred, &gold, |_| true, model.n_classes() as usize)))
}

/// Per word of every row: the predicted tag of its unit, `O` for a word without one (cut by
/// truncation).
pub fn word_tags(encoded: &Encoded, unit_pred: &[u32], n_words: usize) -> Vec<weaksup_core::matrix::Label> {
    let mut out = vec![weaksup_core::token::OUTSIDE; n_words];
    let mut u = 0;
    let mut base = 0;
    for i in 0..encoded.len() {
        for w in encoded.scored_words(i) {
            out[base + w] = unit_pred[u] as weaksup_core::matrix::Label;
            u += 1;
        }
        base += encoded.heads.as_ref().map_or(1, |h| h[i].len());
    }
    out
}

/// Span F1 (seqeval's default chunking) of unit predictions against every word's gold tag.
fn span_f1(encoded: &Encoded, unit_pred: &[u32], sp: &SpanEval) -> f64 {
    let pred = word_tags(encoded, unit_pred, sp.gold.len());
    weaksup_core::token::evaluate_tags(sp.gold, &pred, sp.offsets, sp.tags).span.micro.f1
}

/// Snapshot of every variable (for best-weight restore).
pub(crate) fn snapshot(model: &EndModel) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> =
        model.vs().variables().into_iter().map(|(n, t)| (n, t.detach().copy())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Copies `tensors` into every variable of `model`; a variable without a tensor is an error
/// naming `source`.
pub(crate) fn copy_into(
    model: &EndModel,
    tensors: &std::collections::HashMap<String, Tensor>,
    source: &str,
) -> Result<()> {
    let mut vars = model.vs().variables();
    tch::no_grad(|| -> Result<()> {
        for (name, var) in vars.iter_mut() {
            let src = tensors
                .get(name)
                .ok_or_else(|| Error::invalid(source, format!("no tensor `{name}` (a different model?)")))?;
            var.f_copy_(src).ctx(|| format!("{source}: loading `{name}`"))?;
        }
        Ok(())
    })
}

pub(crate) fn restore(model: &mut EndModel, snap: &[(String, Tensor)]) -> Result<()> {
    let map = snap.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
    copy_into(model, &map, "best weights")
}

/// Trains `model` on `train`, validating on `valid` every `eval_every` steps with early stopping;
/// the best weights are restored at the end. With `checkpoint_dir`, state is written there every
/// `checkpoint_every` steps and a rerun resumes from it (same result as an uninterrupted run on CPU).
pub fn train(
    model: &mut EndModel,
    train: &TrainSet,
    valid: Option<&EvalSet>,
    cfg: &TrainConfig,
    checkpoint_dir: Option<&Path>,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    cfg.validate()?;
    let cfg = &cfg.resolved_for(model);
    let c = model.n_classes() as usize;
    if train.rows.is_empty() {
        return Err(Error::invalid("train", "no training rows"));
    }
    let units = Units::of(train.encoded, train.rows.iter().copied());
    if train.targets.len() != units.total() * c
        || train.weights.as_ref().is_some_and(|w| w.len() != units.total())
    {
        return Err(Error::invalid(
            "train",
            format!(
                "{} target values (and {} weights) for {} units × {c} classes",
                train.targets.len(),
                train.weights.as_ref().map_or(0, Vec::len),
                units.total()
            ),
        ));
    }
    if let Some(k) = (0..train.rows.len()).find(|&k| units.range(k).is_empty()) {
        return Err(Error::invalid(
            "train",
            format!("training row {} has no word to tag (drop empty sentences)", train.rows[k]),
        ));
    }
    let device = model.device();
    // Class weights multiply the set's own row weights.
    let class_weighted = match (cfg.class_weights, valid) {
        (ClassWeights::ValidPrior, Some(v)) if !v.gold.is_empty() => {
            let w = valid_prior_weights(&train.targets, c, &v.gold);
            Some(match &train.weights {
                Some(own) => own.iter().zip(&w).map(|(a, b)| a * b).collect(),
                None => w,
            })
        }
        (ClassWeights::ValidPrior, _) => {
            tracing::warn!("class_weights = valid_prior without a valid split with gold labels: no weights");
            None
        }
        (ClassWeights::None, Some(v)) if !v.gold.is_empty() => {
            // Say so when the targets' class mix is far from valid's: a label shift the weights
            // would correct (e.g. a catch-all class the rules over-assign).
            let w = valid_prior_weights(&train.targets, c, &v.gold);
            let (lo, hi) = w.iter().fold((f32::MAX, 0.0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            if lo > 0.0 && hi / lo > 4.0 {
                tracing::warn!(
                    ratio = f64::from(hi / lo),
                    "the training targets' class shares differ from the valid split's gold class balance \
                     (rows would weigh {lo:.2} to {hi:.2}); --class-weights valid_prior corrects this"
                );
            }
            None
        }
        (ClassWeights::None, _) => None,
    };
    let row_weights = class_weighted.as_ref().or(train.weights.as_ref());
    let lengths: Vec<usize> = train.encoded.items.iter().map(Vec::len).collect();
    // Position of each encoded row in `train.rows`, for target lookup.
    let mut slot = vec![usize::MAX; train.encoded.len()];
    for (k, &r) in train.rows.iter().enumerate() {
        slot[r] = k;
    }
    let names: Vec<String> = snapshot(model).into_iter().map(|(n, _)| n).collect();
    let mut opt = AdamW::new(model.vs(), &names, cfg.weight_decay, EndModel::no_decay);
    let mut state = checkpoint::State::fresh();
    if let Some(dir) = checkpoint_dir
        && let Some(s) = checkpoint::load(dir, model, &mut opt)?
    {
        tracing::info!(step = s.step, dir = %dir.display(), "resuming from checkpoint");
        state = s;
    }
    let started = Instant::now();
    let mut seen = 0usize;
    progress.start("training", cfg.max_steps as u64);
    progress.advance(state.step as u64);
    // A finished (or early-stopped) checkpoint trains no further.
    'outer: while state.step < cfg.max_steps && !state.stopped_early {
        let batches = epoch_batches(
            &train.rows,
            &lengths,
            cfg.batch_size,
            cfg.padding,
            seeds::shuffle(cfg.seed, state.epoch),
        );
        while state.batch_in_epoch < batches.len() {
            let idx = &batches[state.batch_in_epoch];
            state.batch_in_epoch += 1;
            // Dropout draws depend on (seed, step) only, so a resumed run replays them.
            manual_seed(seeds::dropout(cfg.seed, state.step));
            let input = train.encoded.collate(idx, cfg.padding, device);
            let mut t = Vec::with_capacity(idx.len() * c);
            let mut w = Vec::with_capacity(idx.len());
            for &i in idx {
                for u in units.range(slot[i]) {
                    t.extend_from_slice(&train.targets[u * c..(u + 1) * c]);
                    w.push(row_weights.map_or(1.0, |ws| ws[u]));
                }
            }
            let targets = Tensor::from_slice(&t).view([w.len() as i64, c as i64]).to_device(device);
            let weights = row_weights.map(|_| Tensor::from_slice(&w).to_device(device));
            let out = model.forward(&input, true)?;
            let loss = soft_cross_entropy(&out.logits, &targets, weights.as_ref());
            let lv = loss.double_value(&[]);
            opt.zero_grad();
            // Clipping measures the global gradient norm once; a non-finite norm skips the update.
            let finite = lv.is_finite() && {
                loss.backward();
                opt.clip_grad_norm(cfg.max_grad_norm).is_finite()
            };
            if !finite {
                match cfg.on_nonfinite {
                    OnNonFinite::Error => {
                        return Err(Error::invalid(
                            "train",
                            format!(
                                "non-finite loss or gradient at step {} (loss {lv}); lower the learning rate or use --on-nonfinite skip",
                                state.step
                            ),
                        ));
                    }
                    OnNonFinite::Skip => {
                        tracing::warn!(
                            step = state.step,
                            loss = lv,
                            "skipping a batch with a non-finite loss or gradient"
                        );
                        state.skipped += 1;
                        opt.zero_grad();
                        continue;
                    }
                }
            }
            opt.step(cfg.lr_at(state.step));
            tracing::debug!(step = state.step, loss = lv, lr = cfg.lr_at(state.step), "train step");
            state.losses.push(lv);
            state.step += 1;
            seen += idx.len();
            progress.advance(1);
            if state.step.is_multiple_of(cfg.eval_every) || state.step == cfg.max_steps {
                let window = &state.losses[state.losses.len().saturating_sub(cfg.eval_every)..];
                let train_loss = window.iter().sum::<f64>() / window.len() as f64;
                match valid {
                    Some(v) => {
                        let timer = Instant::now();
                        let score = evaluate(model, v, cfg.batch_size.max(64), cfg.padding, cfg.metric)?;
                        let seconds = timer.elapsed().as_secs_f64();
                        tracing::info!(step = state.step, train_loss, score, "validation");
                        progress.message(&format!(
                            "loss {train_loss:.4} valid {score:.3} {:.0} ex/s",
                            seen as f64 / started.elapsed().as_secs_f64().max(1e-9)
                        ));
                        state.history.push(EvalRecord { step: state.step, train_loss, score, seconds });
                        if state.best_score.is_none_or(|b| score > b) {
                            state.best_score = Some(score);
                            state.best_step = Some(state.step);
                            state.best = Some(snapshot(model));
                            state.bad_evals = 0;
                        } else {
                            state.bad_evals += 1;
                        }
                    }
                    None => {
                        progress.message(&format!(
                            "loss {train_loss:.4} {:.0} ex/s",
                            seen as f64 / started.elapsed().as_secs_f64().max(1e-9)
                        ));
                        state.history.push(EvalRecord {
                            step: state.step,
                            train_loss,
                            score: f64::NAN,
                            seconds: 0.0,
                        });
                    }
                }
            }
            if let Some(dir) = checkpoint_dir
                && state.step.is_multiple_of(cfg.checkpoint_every)
            {
                checkpoint::save(dir, model, &opt, &state, cfg)?;
            }
            if valid.is_some() && state.bad_evals >= cfg.patience {
                state.stopped_early = true;
                break 'outer;
            }
            if state.step >= cfg.max_steps {
                break 'outer;
            }
        }
        state.epoch += 1;
        state.batch_in_epoch = 0;
    }
    progress.finish();
    if let Some(best) = &state.best {
        restore(model, best)?;
    }
    if let Some(dir) = checkpoint_dir {
        checkpoint::save(dir, model, &opt, &state, cfg)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(TrainReport {
        steps: state.step,
        best_step: state.best_step,
        best_score: state.best_score,
        history: state.history.clone(),
        losses: state.losses.clone(),
        skipped_batches: state.skipped,
        stopped_early: state.stopped_early,
        seconds,
        examples_per_second: seen as f64 / seconds.max(1e-9),
    })
}

/// Where a run's checkpoint lives.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint")
}

weaksup_core::cli_enum!(OnNonFinite => "non-finite policy", ClassWeights => "class weights");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_warms_up_linearly_then_decays_linearly() {
        // 10 steps, warm-up round(0.2 × 10) = 2 steps, peak 1.0:
        // step s < 2: (s + 1) / 2; else (10 − s) / (10 − 2).
        let cfg = TrainConfig { lr: Some(1.0), max_steps: 10, warmup_ratio: 0.2, ..TrainConfig::default() };
        let lrs: Vec<f64> = (0..10).map(|s| cfg.lr_at(s)).collect();
        let want = [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125];
        for (got, want) in lrs.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{lrs:?}");
        }
        // No warm-up: the first step already takes the peak rate.
        let flat = TrainConfig { warmup_ratio: 0.0, ..cfg.clone() };
        assert_eq!(flat.lr_at(0), 1.0);
        // A one-step run with full warm-up still steps at the peak rate.
        let one = TrainConfig { max_steps: 1, warmup_ratio: 1.0, ..cfg };
        assert_eq!(one.lr_at(0), 1.0);
    }

    #[test]
    fn valid_prior_weights_correct_the_class_shift() {
        // 4 rows, hard targets [0, 0, 0, 1]: share = [0.75, 0.25]. Gold on valid [0, 1, 1, 1]:
        // prior = ([1, 3] + 1) / (4 + 2) = [1/3, 2/3]. Ratio = [0.444, 2.667]; rows weigh
        // [0.444, 0.444, 0.444, 2.667] / mean 1.0 = the same (mean is 1.0).
        // numpy: w = t @ (prior / share); w / w.mean()
        let t = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let w = valid_prior_weights(&t, 2, &[0, 1, 1, 1]);
        let want = [4.0 / 9.0, 4.0 / 9.0, 4.0 / 9.0, 8.0 / 3.0];
        assert!(w.iter().zip(want).all(|(a, b)| (*a as f64 - b).abs() < 1e-6), "{w:?}");
        // Soft targets mix the ratios; a class without training targets gets no weight.
        let soft = valid_prior_weights(&[0.5, 0.5, 0.0], 3, &[2, 2]);
        assert_eq!(soft, vec![1.0]);
    }

    #[test]
    fn validation_names_the_key_and_flag() {
        let err = |cfg: TrainConfig| cfg.validate().unwrap_err().to_string();
        let d = TrainConfig::default();
        assert!(d.validate().is_ok());
        assert_eq!(
            err(TrainConfig { eval_every: 0, ..d.clone() }),
            "config: train.eval_every (--eval-every) = 0: must be at least 1"
        );
        assert!(err(TrainConfig { lr: Some(f64::NAN), ..d.clone() }).contains("train.lr (--lr) = NaN"));
        assert!(err(TrainConfig { warmup_ratio: 1.5, ..d.clone() }).contains("train.warmup_ratio"));
        assert!(err(TrainConfig { max_grad_norm: 0.0, ..d }).contains("train.max_grad_norm"));
    }

    #[test]
    fn hard_targets_are_one_hot_rows_in_row_order() {
        let enc = Encoded::tokens(vec![vec![1], vec![2], vec![3]], 0, 4);
        let set = TrainSet::hard(&enc, vec![2, 0], &[1, 0], 3);
        assert_eq!(set.rows, [2, 0]);
        assert_eq!(set.targets, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert!(set.weights.is_none());
    }
}
