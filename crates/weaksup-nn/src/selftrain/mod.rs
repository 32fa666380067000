//! COSINE self-training (Yu et al., NAACL 2021, arXiv:2010.07835): the pieces of one round —
//! soft pseudo-labels from a frozen teacher, confidence weights and the sample mask, and the three
//! loss terms (confidence-weighted classification, contrastive and confidence regularisers).
//!
//! This module holds the math; [`rule`] holds what differs between the variants, and the
//! training loop over rounds ([`rounds`]) builds on [`crate::train`].

pub mod rounds;
pub mod rule;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use rounds::{
    CosineData, CosineReport, CosineRun, RoundRecord, SelfTrainReport, TimeSplit, cosine, self_train,
};
pub use rule::{Losses, RoundTargets, SelectContext, Stage2Rule};

use crate::error::{Error, Result};

/// Distance between student features in the contrastive term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Distance {
    /// ‖v_i − v_j‖ / √D (the paper's scaled Euclidean distance). Default.
    #[default]
    ScaledEuclidean,
    /// 1 − cos(v_i, v_j).
    Cosine,
}

/// Which semantics stage 2 follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Variant {
    /// The paper (arXiv:2010.07835, Alg. 1 and eqs. 3–9): soft pseudo-labels and ω over the
    /// whole pool, every row with ω > ξ, mean-reduced L_cls and R_conf, R_con on all pairs of
    /// the batch with W from the pseudo-labels, on the student's features. Default.
    #[default]
    Paper,
    /// WRENCH's `Cosine` end model (ws-benchmark 1.1.1), to reproduce its published numbers:
    /// the teacher's raw probabilities are stored, ω is the teacher's confidence, the *first*
    /// confident rows in dataset order are kept until batch size × T3 is passed, each batch
    /// applies softmax to those probabilities again, sharpens them over the batch only, sums
    /// (not averages) the weighted KL and the confidence term, pairs rows by a random
    /// permutation with W from the student's own argmax, and uses a constant learning rate
    /// without gradient clipping in stage 2.
    Wrench,
    /// The official implementation (github.com/yueyu1030/COSINE, `trainer.py`), whose code
    /// produced the paper's table: every pool row is drawn; per batch, ω comes from the teacher's
    /// raw probabilities with the entropy normalised by log of the *batch size*, rows with ω ≤ ξ
    /// are masked, targets are sharpened over the batch, the ω-weighted KL and −λ Σ_c log f_c
    /// of the kept rows are summed over the batch (per row that is λ·C·KL(u ‖ f_θ) up to a
    /// constant), and the contrastive term is computed on frozen features, so it carries no
    /// gradient (weaksup reports it on the student's detached features). Stage 2 decays the
    /// learning rate linearly from its peak without warm-up and clips gradients.
    Official,
}

/// Which rows of the pool a `paper` round trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Selection {
    /// Every row with ω > ξ (the paper).
    Threshold,
    /// As many rows as pass ξ, shared among the classes by the valid split's gold class balance
    /// (else, or for a class valid lacks, by the pseudo-labels' own shares), each class filled
    /// with its rows of highest ω (class-balanced self-training, Zou et al., ECCV 2018), so no
    /// class drops out of self-training because the teacher is less confident on it. Default
    /// (chosen on cosine_trec valid; see `docs/cosine.md`).
    #[default]
    Balanced,
}

/// How λ weighs the confidence regulariser of the `paper` variant against the classification
/// term (the `official` and `wrench` variants fix their own balance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum LambdaScale {
    /// λ · C · KL(u ‖ f_θ) per row: the balance of the official code, which subtracts
    /// λ Σ_c log f_c per row beside the per-row KL (so λ = 0.1 weighs 0.6 on 6 classes).
    /// Default (chosen on valid; see `docs/cosine.md`).
    #[default]
    Classes,
    /// λ · KL(u ‖ f_θ) per row, as the paper's eq. 8 reads.
    One,
}

/// How the `paper` variant turns the teacher's probabilities into soft pseudo-labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PseudoLabels {
    /// ỹ_j ∝ g_j^p / f_j with the soft frequency f_j = Σ_x g_j(x) over the pool (the paper's
    /// eq. 3): a class the teacher gives little mass overall gains. Default.
    #[default]
    Frequency,
    /// ỹ_j ∝ g_j^p: sharpening without the frequency, for tasks whose classes are imbalanced by
    /// nature (tagging, where `O` holds most of the mass and dividing by f_O moves doubtful
    /// words to entity tags).
    Power,
}

/// Where each stage-2 round's student starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Student {
    /// From the teacher's weights, with one optimiser and one learning-rate schedule over T2
    /// (the paper's Alg. 1 and the official code). Default.
    #[default]
    Continue,
    /// From the weights stage 1 started from (the pre-trained encoder and the seeded head), with
    /// a fresh optimiser and a warm-up/decay schedule over the round's T3 steps: each round
    /// trains a new student on the teacher's pseudo-labels (iterated distillation, as Noisy
    /// Student, Xie et al., CVPR 2020), so no round inherits the teacher's weights, only its
    /// labels. Needs rounds long enough to train a model (T3 near stage 1's length).
    Pretrained,
}

/// Which weights teach the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Teacher {
    /// The student as the round ends (the paper's Alg. 1 and the official code). Default.
    #[default]
    Last,
    /// The round's student at its best validation score (the validations on the trainer's
    /// cadence inside the round and at its end), so a student that starts to memorise its
    /// pseudo-labels late in a round does not teach the next one. Needs a valid split with gold
    /// labels; without one, the last student teaches.
    BestInRound,
}

/// COSINE hyper-parameters; defaults and their sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosineConfig {
    /// Confidence threshold ξ: rows with ω ≤ ξ are not used. Default 0.6 (official run scripts;
    /// WRENCH uses 0.7).
    pub xi: f64,
    /// Weight λ of the confidence regulariser. Default 0.1 (paper).
    pub lambda: f64,
    /// Weight μ of the contrastive regulariser. Default 0: chosen on cosine_trec valid, and the
    /// official code's term carries no gradient (paper: 1).
    pub mu: f64,
    /// Margin γ of the contrastive term. Default 1 (paper).
    pub gamma: f64,
    /// Tagging: the contrastive term pairs a seeded draw of this many of a batch's selected
    /// tokens (all pairs among them: 64 → 2,016 pairs), not all of them (a batch of 32 MIT-R
    /// sentences holds ~300 selected tokens, whose all-pairs term costs a `[300, 300, 384]`
    /// tensor per step). Default 64 (weaksup's choice: the paper reports its token version
    /// without saying how it pairs tokens, and the official code has no token version).
    pub con_tokens: usize,
    /// Steps between teacher refreshes, T3. Default 50 (the cosine_trec study in `docs/cosine.md`;
    /// beat 100 on valid; paper: 100, official script: 250).
    pub t3: usize,
    /// Power of the teacher probabilities in the soft pseudo-labels. Default 2 (paper).
    pub power: f64,
    /// Whether the soft pseudo-labels divide by the classes' soft frequencies (`paper` variant).
    pub pseudo_labels: PseudoLabels,
    pub distance: Distance,
    /// How λ scales with the number of classes (`paper` variant).
    pub lambda_scale: LambdaScale,
    /// Which rows a round trains on (`paper` variant).
    pub selection: Selection,
    /// Stage-2 steps, T2. Default 600 (the configuration of the cosine_trec study in
    /// `docs/cosine.md`; the official script uses 2500 on AGNews's 96k rows).
    pub t2: usize,
    /// Pool rows the teacher labels per round (a fresh seeded draw each round), so a round costs
    /// what the budget says, not what the corpus holds. Default (unset): 8 × T3 × batch size, as
    /// many rows as 8 passes of a round's steps draw (every pool of the paper's data and of the
    /// WRENCH grids is smaller, so they are labelled whole); a pool no larger than the budget is
    /// labelled whole.
    pub pool_per_round: Option<usize>,
    /// Where each round's student starts.
    pub student: Student,
    /// Which weights teach the next round.
    pub teacher: Teacher,
    pub variant: Variant,
    /// Whether the rows of a split named `unlabeled` (the COSINE paper's `unlabeled_data.json`)
    /// join stage 2's pseudo-label pool. Default false (the cosine_trec study was measured
    /// without them); the official code pools them (`ConcatDataset([train, unlabeled])`).
    pub unlabeled: bool,
}

impl Default for CosineConfig {
    fn default() -> Self {
        Self {
            xi: 0.6,
            lambda: 0.1,
            mu: 0.0,
            gamma: 1.0,
            con_tokens: 64,
            t3: 50,
            power: 2.0,
            pseudo_labels: PseudoLabels::Frequency,
            distance: Distance::ScaledEuclidean,
            lambda_scale: LambdaScale::Classes,
            selection: Selection::Balanced,
            t2: 600,
            pool_per_round: None,
            student: Student::Continue,
            teacher: Teacher::Last,
            variant: Variant::Paper,
            unlabeled: false,
        }
    }
}

/// Rounds of 8 × T3 × batch-size pool rows by default: [`CosineConfig::pool_per_round`].
const POOL_PASSES_PER_ROUND: usize = 8;

impl CosineConfig {
    /// Pool rows the teacher labels each round, for batches of `batch_size`.
    pub fn pool_budget(&self, batch_size: usize) -> usize {
        self.pool_per_round.unwrap_or(POOL_PASSES_PER_ROUND * self.t3 * batch_size.max(1))
    }

    /// Checks every value, naming the config key (and the flag) of the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, flag: &str, v: String, want: &str| {
            Err(Error::Config(format!("cosine.{key} (--{flag}) = {v}: {want}")))
        };
        if !(0.0..=1.0).contains(&self.xi) {
            return bad("xi", "xi", self.xi.to_string(), "must be in [0, 1]");
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad("lambda", "lambda", self.lambda.to_string(), "must be at least 0");
        }
        if !(self.mu >= 0.0 && self.mu.is_finite()) {
            return bad("mu", "mu", self.mu.to_string(), "must be at least 0");
        }
        if !(self.gamma > 0.0 && self.gamma.is_finite()) {
            return bad("gamma", "gamma", self.gamma.to_string(), "must be positive");
        }
        if !(self.power > 0.0 && self.power.is_finite()) {
            return bad("power", "power", self.power.to_string(), "must be positive");
        }
        if self.con_tokens < 2 {
            return bad("con_tokens", "con-tokens", self.con_tokens.to_string(), "must be at least 2");
        }
        if self.t2 == 0 {
            return bad("t2", "t2", "0".into(), "must be at least 1");
        }
        if self.t3 == 0 {
            return bad("t3", "t3", "0".into(), "must be at least 1");
        }
        if let Some(n @ 0..2) = self.pool_per_round {
            return bad("pool_per_round", "pool-per-round", n.to_string(), "must be at least 2");
        }
        Ok(())
    }
}

/// Soft pseudo-labels ỹ_j(x) = (g_j(x)^p / f_j) / Σ_k (g_k(x)^p / f_k), with soft frequencies
/// f_j = Σ_x g_j(x) over the whole pool.
///
/// ```python
/// f = g.sum(0); w = g**p / f; y = w / w.sum(1, keepdim=True)
/// ```
///
/// # Shapes
/// `teacher`: `[n, C]` probabilities → `[n, C]`.
pub fn soft_pseudo_labels(teacher: &Tensor, power: f64) -> Tensor {
    let f = teacher.sum_dim_intlist(0, true, Kind::Float).clamp_min(1e-12);
    let w = teacher.pow_tensor_scalar(power) / f;
    &w / w.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-12)
}

/// Sharpened pseudo-labels without the frequency: ỹ_j(x) = g_j(x)^p / Σ_k g_k(x)^p.
///
/// ```python
/// w = g**p; y = w / w.sum(1, keepdim=True)
/// ```
///
/// # Shapes
/// `teacher`: `[n, C]` probabilities → `[n, C]`.
pub fn sharpened_pseudo_labels(teacher: &Tensor, power: f64) -> Tensor {
    let w = teacher.pow_tensor_scalar(power);
    &w / w.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-12)
}

/// Confidence weights ω(x) = 1 − H(ỹ(x)) / log C (0 for a uniform row, 1 for a one-hot row).
///
/// ```python
/// w = 1 + (y * y.clamp_min(1e-12).log()).sum(1) / math.log(C)
/// ```
///
/// # Shapes
/// `pseudo`: `[n, C]` → `[n]`.
pub fn confidence_weights(pseudo: &Tensor) -> Tensor {
    let c = pseudo.size()[1] as f64;
    let neg_entropy = (pseudo * pseudo.clamp_min(1e-12).log()).sum_dim_intlist(1, false, Kind::Float);
    neg_entropy / c.ln() + 1.0
}

/// Rows used in a round: ω > ξ.
///
/// # Shapes
/// `weights`: `[n]` → `[n]` bool.
pub fn selection_mask(weights: &Tensor, xi: f64) -> Tensor {
    weights.gt(xi)
}

/// L_cls = mean over the batch of ω(x) · KL(ỹ(x) ‖ f_θ(x)).
///
/// ```python
/// kl = (y * (y.clamp_min(1e-12).log() - logits.log_softmax(-1))).sum(-1); loss = (w * kl).mean()
/// ```
///
/// # Shapes
/// `logits`, `pseudo`: `[b, C]`; `weights`: `[b]` → scalar.
pub fn classification_loss(logits: &Tensor, pseudo: &Tensor, weights: &Tensor) -> Tensor {
    let kl = (pseudo * (pseudo.clamp_min(1e-12).log() - logits.log_softmax(-1, Kind::Float)))
        .sum_dim_intlist(-1, false, Kind::Float);
    (weights * kl).mean(Kind::Float)
}

/// R_con: over all pairs i < j of the batch, W_ij = [argmax ỹ_i = argmax ỹ_j], d_ij the distance
/// between the **student's** features, ℓ_ij = W_ij d_ij² + (1 − W_ij) max(0, γ − d_ij)²; the mean.
///
/// ```python
/// d = torch.cdist(v, v) / math.sqrt(D)            # or 1 - cosine similarity
/// W = (y.argmax(1)[:, None] == y.argmax(1)[None, :]).float()
/// l = W * d**2 + (1 - W) * (gamma - d).clamp_min(0)**2
/// loss = l[torch.triu_indices(b, b, 1).unbind()].mean()
/// ```
///
/// # Shapes
/// `features`: `[b, D]`, `pseudo`: `[b, C]` → scalar (0 for b < 2).
pub fn contrastive_loss(features: &Tensor, pseudo: &Tensor, gamma: f64, distance: Distance) -> Tensor {
    let size = features.size();
    let (b, dim) = (size[0], size[1]);
    if b < 2 {
        return features.sum(Kind::Float) * 0.0;
    }
    let d = match distance {
        Distance::ScaledEuclidean => {
            // √(‖v_i − v_j‖² + ε): differentiable at i = j pairs, which are masked out anyway.
            let diff = features.unsqueeze(1) - features.unsqueeze(0);
            (diff.square().sum_dim_intlist(-1, false, Kind::Float) + 1e-12).sqrt() / (dim as f64).sqrt()
        }
        Distance::Cosine => {
            let n = features / features.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
            1.0 - n.matmul(&n.tr())
        }
    };
    let lab = pseudo.argmax(1, false);
    let same = lab.unsqueeze(1).eq_tensor(&lab.unsqueeze(0)).to_kind(Kind::Float);
    let l: Tensor = &same * d.square() + (1.0 - &same) * (gamma - &d).clamp_min(0.0).square();
    let upper = Tensor::ones([b, b], (Kind::Float, features.device())).triu(1);
    let total: Tensor = (l * &upper).sum(Kind::Float);
    total / (b * (b - 1) / 2) as f64
}

/// WRENCH's stage-2 loss terms (variant `wrench`), returned as (L_cls, R_con, R_conf) so that
/// the loss is L_cls + μ R_con + λ R_conf. `teacher` holds the teacher's stored probabilities
/// for the batch; `perm` pairs row i with row perm[i].
///
/// ```python
/// t = teacher.softmax(1)                                   # softmax of probabilities
/// w = 1 - (-(t + 1e-6).log() * t).sum(1) / math.log(C)
/// q = t**2 / t.sum(0); q = q + 1e-10; q = q / q.sum(1, keepdim=True)   # batch-only sharpening
/// lp = logits.log_softmax(-1)
/// cls = (w[:, None] * q * (q.log() - lp)).sum()           # KLDivLoss(reduction='none'), summed
/// conf = -(lp.sum() + math.log(C) * C)
/// a = (lp.argmax(1) == lp[perm].argmax(1)).float()
/// d = (v - v[perm]).pow(2).mean(1)
/// con = (0.5 * (a * d + (1 - a) * (gamma - (d + 1e-9).sqrt()).clamp_min(0) ** 2)).mean()
/// ```
///
/// # Shapes
/// `logits`, `teacher`: `[b, C]`; `features`: `[b, D]`; `perm`: `[b]` int64 → three scalars.
pub fn wrench_losses(
    logits: &Tensor,
    features: &Tensor,
    teacher: &Tensor,
    perm: &Tensor,
    gamma: f64,
) -> (Tensor, Tensor, Tensor) {
    let c = logits.size()[1] as f64;
    let t = teacher.softmax(1, Kind::Float);
    let w = -(-(&t + 1e-6).log() * &t).sum_dim_intlist(1, false, Kind::Float) / c.ln() + 1.0;
    let q = t.square() / t.sum_dim_intlist(0, true, Kind::Float) + 1e-10;
    let q = &q / q.sum_dim_intlist(1, true, Kind::Float);
    let lp = logits.log_softmax(-1, Kind::Float);
    let cls = (w.unsqueeze(1) * &q * (q.log() - &lp)).sum(Kind::Float);
    let conf = -(lp.sum(Kind::Float) + c.ln() * c);
    let a = lp.argmax(1, false).eq_tensor(&lp.index_select(0, perm).argmax(1, false)).to_kind(Kind::Float);
    let d = (features - features.index_select(0, perm)).square().mean_dim(1, false, Kind::Float);
    let pair: Tensor = &a * &d + (1.0 - &a) * (gamma - (&d + 1e-9).sqrt()).clamp_min(0.0).square();
    let con = (pair * 0.5).mean(Kind::Float);
    (cls, con, conf)
}

/// The official implementation's stage-2 loss terms (variant `official`), returned as
/// (L_cls, R_con, R_conf) so that the loss is L_cls + μ R_con + λ R_conf. `teacher` holds the
/// teacher's probabilities for the batch, `features` the (detached) features R_con is computed
/// on, and `perm` pairs the i-th kept row with the perm[i]-th kept row.
///
/// ```python
/// b, C = teacher.shape                                      # trainer.py, calc_loss
/// w = 1 - (-(teacher + 1e-6).log() * teacher).sum(1) / math.log(b)   # log of the batch size
/// m = (w > xi).float()
/// t = teacher**p / teacher.sum(0) + 1e-10; t = t / t.sum(1, keepdim=True)   # soft_frequency
/// lp = logits.log_softmax(-1)
/// cls = (nn.KLDivLoss(reduction='none')(lp, t) * m[:, None] * w[:, None]).sum()
/// conf = -((lp * m[:, None]).sum() + math.log(C) * C)
/// k = m.bool(); x, v = lp[k], features[k]                   # contrastive_loss, metric 'cos'
/// a = (x.argmax(1) == x[perm].argmax(1)).float()
/// d = 1 - (v * v[perm]).sum(-1) / ((v**2).sum(1) * (v[perm]**2).sum(1)).sqrt()
/// con = (a * d**2 + (1 - a) * (1 - d).clamp_min(0)**2).sum() / 2 / len(x)
/// ```
/// With `Distance::ScaledEuclidean` d is the official `l2` metric, √(Σ (v − v[perm])² / D).
///
/// # Shapes
/// `logits`, `teacher`: `[b, C]`; `features`: `[b, D]`; `perm`: `[k]` int64 over the kept rows
/// → three scalars.
pub fn official_losses(
    logits: &Tensor,
    features: &Tensor,
    teacher: &Tensor,
    perm: &Tensor,
    cfg: &CosineConfig,
) -> (Tensor, Tensor, Tensor) {
    let (b, c) = (logits.size()[0] as f64, logits.size()[1] as f64);
    let w = official_confidence(teacher, b as usize);
    let m = w.gt(cfg.xi).to_kind(Kind::Float);
    let t = teacher.pow_tensor_scalar(cfg.power) / teacher.sum_dim_intlist(0, true, Kind::Float) + 1e-10;
    let t = &t / t.sum_dim_intlist(1, true, Kind::Float);
    let lp = logits.log_softmax(-1, Kind::Float);
    let kl = (&t * (t.log() - &lp)).sum_dim_intlist(1, false, Kind::Float);
    let cls = (kl * &m * &w).sum(Kind::Float);
    let conf = -((&lp * m.unsqueeze(1)).sum(Kind::Float) + c.ln() * c);
    let kept = m.gt(0.5).nonzero().squeeze_dim(1);
    let con = if kept.size()[0] == 0 {
        logits.sum(Kind::Float) * 0.0
    } else {
        let x = lp.index_select(0, &kept);
        let v = features.index_select(0, &kept);
        let (xp, vp) = (x.index_select(0, perm), v.index_select(0, perm));
        let a = x.argmax(1, false).eq_tensor(&xp.argmax(1, false)).to_kind(Kind::Float);
        let d = match cfg.distance {
            Distance::Cosine => {
                let dot = (&v * &vp).sum_dim_intlist(-1, false, Kind::Float);
                let norms = (v.square().sum_dim_intlist(1, false, Kind::Float)
                    * vp.square().sum_dim_intlist(1, false, Kind::Float))
                .sqrt()
                .clamp_min(1e-12);
                1.0 - dot / norms
            }
            Distance::ScaledEuclidean => {
                ((&v - &vp).square().sum_dim_intlist(1, false, Kind::Float) / v.size()[1] as f64).sqrt()
            }
        };
        let l: Tensor = &a * d.square() + (1.0 - &a) * (cfg.gamma - &d).clamp_min(0.0).square();
        l.sum(Kind::Float) / 2.0 / kept.size()[0] as f64
    };
    (cls, con, conf)
}

/// The official code's ω: 1 − H(p) / log(`batch`), the entropy normalised by log of the batch
/// size (where the paper has log C).
///
/// # Shapes
/// `teacher`: `[n, C]` probabilities → `[n]`.
pub fn official_confidence(teacher: &Tensor, batch: usize) -> Tensor {
    let h = (-(teacher + 1e-6).log() * teacher).sum_dim_intlist(1, false, Kind::Float);
    1.0 - h / (batch.max(2) as f64).ln()
}

/// R_conf = mean over the batch of KL(u ‖ f_θ(x)), u uniform over C.
///
/// ```python
/// loss = (-math.log(C) - logits.log_softmax(-1).mean(-1)).mean()
/// ```
///
/// # Shapes
/// `logits`: `[b, C]` → scalar.
pub fn confidence_regularizer(logits: &Tensor) -> Tensor {
    let c = logits.size()[1] as f64;
    (-c.ln() - logits.log_softmax(-1, Kind::Float).mean_dim(-1, false, Kind::Float)).mean(Kind::Float)
}

weaksup_core::cli_enum!(Distance => "distance", PseudoLabels => "pseudo-labels", Variant => "COSINE variant", LambdaScale => "lambda scale", Selection => "selection", Student => "student", Teacher => "teacher");

#[cfg(test)]
mod tests {
    use super::*;

    fn t(rows: &[[f32; 2]]) -> Tensor {
        Tensor::from_slice(&rows.concat()).view([rows.len() as i64, 2])
    }
    fn close(a: &Tensor, want: &[f64]) {
        let got: Vec<f32> = Vec::try_from(a.flatten(0, -1)).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    // Teacher probabilities of 3 rows, 2 classes; f = g.sum(0) = [1.7, 1.3].
    fn teacher() -> Tensor {
        t(&[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    }

    #[test]
    fn pseudo_labels_and_confidence_weights() {
        // torch: w = g**2 / g.sum(0); y = w / w.sum(1, keepdim=True)
        // row 0: [0.81/1.7, 0.01/1.3] = [0.476471, 0.007692] → [0.984112, 0.015888]
        let y = soft_pseudo_labels(&teacher(), 2.0);
        close(&y, &[0.984112, 0.015888, 0.632432, 0.367568, 0.045614, 0.954386]);
        // Without the frequency: row 1 = [0.36, 0.16] / 0.52 = [0.692308, 0.307692].
        let s = sharpened_pseudo_labels(&teacher(), 2.0);
        close(&s, &[0.987805, 0.012195, 0.692308, 0.307692, 0.058824, 0.941176]);
        // ω = 1 + Σ y log y / log 2
        let w = confidence_weights(&y);
        close(&w, &[0.882317, 0.051214, 0.732535]);
        let mask = selection_mask(&w, 0.6);
        assert_eq!(Vec::<bool>::try_from(mask).unwrap(), vec![true, false, true]);
        // A uniform row has weight 0, a one-hot row 1.
        close(&confidence_weights(&t(&[[0.5, 0.5], [1.0, 0.0]])), &[0.0, 1.0]);
    }

    #[test]
    fn classification_and_confidence_losses() {
        let y = soft_pseudo_labels(&teacher(), 2.0);
        let w = confidence_weights(&y);
        let logits = t(&[[2.0, -1.0], [0.5, 0.5], [-1.0, 1.5]]);
        // torch: kl = (y * (y.log() - logits.log_softmax(-1))).sum(-1); (w * kl).mean() = 0.0067624
        close(&classification_loss(&logits, &y, &w), &[0.0067624]);
        // torch: (-log 2 - logits.log_softmax(-1).mean(-1)).mean() = 0.4970609
        close(&confidence_regularizer(&logits), &[0.4970609]);
    }

    #[test]
    fn contrastive_term_on_three_rows() {
        // Pseudo-label argmax: rows 0, 1 → class 0, row 2 → class 1.
        let y = soft_pseudo_labels(&teacher(), 2.0);
        // v0 = (0, 0), v1 = (0.6, 0.8), v2 = (1.2, 1.6); d = ‖·‖ / √2:
        // (0,1) agree, d = 1/√2 → d² = 0.5
        // (0,2) disagree, d = 2/√2 = 1.414 > γ = 1 → margin inactive, 0
        // (1,2) disagree, d = 1/√2 < 1 → (1 − 0.707107)² = 0.085786
        // mean over 3 pairs = 0.195262
        let v = t(&[[0.0, 0.0], [0.6, 0.8], [1.2, 1.6]]);
        close(&contrastive_loss(&v, &y, 1.0, Distance::ScaledEuclidean), &[0.195262]);
        // Cosine: v1 ∥ v2 → distance 0 (disagree, margin active: (1 − 0)² = 1); v0 = 0 vector
        // is normalised to 0 → distance 1 to both (agree with v1: 1; disagree with v2: 0).
        close(&contrastive_loss(&v, &y, 1.0, Distance::Cosine), &[(1.0 + 0.0 + 1.0) / 3.0]);
        assert_eq!(
            contrastive_loss(&v.narrow(0, 0, 1), &y.narrow(0, 0, 1), 1.0, Distance::ScaledEuclidean)
                .double_value(&[]),
            0.0
        );
    }

    #[test]
    fn wrench_variant_losses() {
        // Values from the Python block in `wrench_losses`'s docs (torch 2.11, float32), on the
        // teacher and logits above, features v and the permutation [1, 2, 0]:
        // cls = 0.0191709 (equal to nn.KLDivLoss(reduction='none') weighted and summed),
        // con = 0.0976311, conf = 5.7549543.
        let logits = t(&[[2.0, -1.0], [0.5, 0.5], [-1.0, 1.5]]);
        let v = t(&[[0.0, 0.0], [0.6, 0.8], [1.2, 1.6]]);
        let perm = Tensor::from_slice(&[1i64, 2, 0]);
        let (cls, con, conf) = wrench_losses(&logits, &v, &teacher(), &perm, 1.0);
        close(&cls, &[0.0191709]);
        close(&con, &[0.0976311]);
        close(&conf, &[5.7549543]);
    }

    #[test]
    fn official_variant_losses() {
        // Values from the Python block in `official_losses`'s docs (torch 2.11, float32), on the
        // teacher and logits above, ξ = 0.5: ω = [0.7041, 0.3874, 0.5445] with log 3, so rows 0
        // and 2 are kept and paired by perm [1, 0] (they disagree).
        let logits = t(&[[2.0, -1.0], [0.5, 0.5], [-1.0, 1.5]]);
        let v = t(&[[1.0, 0.0], [0.6, 0.8], [1.2, 1.6]]);
        close(&official_confidence(&teacher(), 3), &[0.7040985, 0.3874003, 0.5445159]);
        let perm = Tensor::from_slice(&[1i64, 0]);
        let cfg = CosineConfig { xi: 0.5, distance: Distance::Cosine, ..CosineConfig::default() };
        let (cls, con, conf) = official_losses(&logits, &v, &teacher(), &perm, &cfg);
        close(&cls, &[0.0144370]);
        close(&con, &[0.18]);
        close(&conf, &[4.3686600]);
        // The `l2` metric, √(Σ diff² / D), with γ = 2: (2 − √1.3)² summed over both
        // orderings / 2 / 2 = 0.3696491.
        let l2 = CosineConfig { distance: Distance::ScaledEuclidean, gamma: 2.0, ..cfg };
        close(&official_losses(&logits, &v, &teacher(), &perm, &l2).1, &[0.3696491]);
        // No row above ξ: no contrastive pairs and no classification loss.
        let none = CosineConfig { xi: 0.99, ..CosineConfig::default() };
        let (cls, con, _) = official_losses(&logits, &v, &teacher(), &Tensor::from_slice(&[0i64; 0]), &none);
        close(&cls, &[0.0]);
        close(&con, &[0.0]);
    }

    #[test]
    fn lambda_scale_classes_is_the_official_per_row_balance() {
        // −Σ_c log f_c = C · (KL(u ‖ f) + log C): the official per-row term is C times ours
        // up to a constant, so `classes` multiplies R_conf by C.
        let logits = t(&[[2.0, -1.0], [0.5, 0.5], [-1.0, 1.5]]);
        let out = crate::model::Output { logits: logits.shallow_clone(), features: logits.shallow_clone() };
        let y = soft_pseudo_labels(&teacher(), 2.0);
        let w = confidence_weights(&y);
        let one = CosineConfig { lambda_scale: LambdaScale::One, ..CosineConfig::default() };
        let classes = CosineConfig { lambda_scale: LambdaScale::Classes, ..CosineConfig::default() };
        let a = Variant::Paper.rule().losses(&out, &y, &w, None, &one).conf.double_value(&[]);
        let b = Variant::Paper.rule().losses(&out, &y, &w, None, &classes).conf.double_value(&[]);
        assert!((b - 2.0 * a).abs() < 1e-6, "{a} {b}");
    }

    #[test]
    fn contrastive_term_moves_the_student() {
        // Features come from a linear student; one gradient step on μ·R_con alone changes its
        // weights and lowers R_con (it would not if the features were detached, as in the
        // official code's frozen-teacher features).
        tch::manual_seed(0);
        let w = Tensor::randn([2, 4], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let x = t(&[[1.0, 0.2], [0.9, 0.1], [0.1, 1.0]]);
        let y = soft_pseudo_labels(&teacher(), 2.0);
        let loss = |w: &Tensor| contrastive_loss(&x.matmul(w), &y, 1.0, Distance::ScaledEuclidean);
        let before = loss(&w);
        before.backward();
        let g = w.grad();
        assert!(g.abs().sum(Kind::Float).double_value(&[]) > 0.0, "R_con has a gradient into the student");
        let stepped = tch::no_grad(|| &w - g * 0.5);
        assert!(loss(&stepped).double_value(&[]) < before.double_value(&[]));
    }
}
