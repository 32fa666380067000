//! A Snorkel-style label model (Ratner et al., "Training Complex Models with Multi-Task Weak
//! Supervision", AAAI 2019; Snorkel 0.9 `LabelModel`): per-LF class-conditional vote
//! probabilities μ are fitted to the LFs' agreement structure, without labels.
//!
//! With the one-hot vote matrix Λ (n × mC, abstain = all zeros), O = ΛᵀΛ / n and P = diag(class
//! balance), conditionally independent LFs satisfy O = μ P μᵀ off the LF-diagonal blocks. The fit
//! minimises, by full-batch gradient descent,
//!
//! `‖(O − μPμᵀ) ⊙ M‖²_F + ‖μP1 − diag(O)‖² + l2 ‖μ − μ₀‖²`
//!
//! (M masks out each LF's own block), from μ₀[jC + y, y] = clamp(O[jC+y, jC+y] · prec_init / p_y, 0, 1).
//! μ is clamped into [ε, 1 − ε] once after the last epoch (optionally after every step).
//! Prediction: P(Y = y | λ) ∝ p_y ∏_{j votes} μ[jC + λ_j, y] (optionally clipped, `predict_clip`).

use serde::{Deserialize, Serialize};

use super::ds::normalize_log;
use super::{FitInfo, FitOptions, LabelModel, Proba, Votes, check_shape, mv_balance};
use crate::error::{Error, Result};
use crate::matrix::LabelMatrix;

/// The optimiser of the μ fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with momentum 0.9 (Snorkel 0.9's default optimiser).
    Sgd,
    /// Adam (β = 0.9, 0.999).
    Adam,
}

/// Where the class balance comes from when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Balance {
    /// Uniform (Snorkel's default when `class_balance` is not passed).
    Uniform,
    /// The smoothed class frequencies of the majority vote on covered rows.
    Mv,
}

/// Snorkel-style model parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnorkelParams {
    /// Epochs (full-batch steps) at most; the fit stops earlier when the loss moves by less than
    /// 1e-7 (relative) over 10 epochs. Default 100 (Snorkel `n_epochs=100`).
    pub epochs: usize,
    /// Learning rate. Default 0.01 (Snorkel `lr=0.01`).
    pub lr: f64,
    /// L2 pull towards μ₀. Default 0 (Snorkel `l2=0.0`).
    pub l2: f64,
    /// Initial precision of every LF. Default 0.7 (Snorkel `prec_init=0.7`).
    pub prec_init: f64,
    /// Default `sgd` (Snorkel's default).
    pub optimizer: Optimizer,
    /// Class balance when none is given. Default `uniform` (Snorkel).
    pub balance: Balance,
    /// Divide ΛᵀΛ by all rows, uncovered included (Snorkel), rather than by the covered rows.
    /// Default true.
    pub all_rows_in_o: bool,
    /// The optimisation starts from `init_scale · μ₀` (Snorkel draws this scale uniformly from
    /// [0, 1) per fit). Default 1.
    pub init_scale: f64,
    /// Clamp μ into [ε, 1 − ε] after every step instead of once after the last (Snorkel 0.9–0.10
    /// clamp once, in `fit` after the loop: μ may leave [0, 1] while it is optimised, which
    /// changes the fit; on WRENCH TREC, lr 1e-4 and 100 epochs give 0.564 valid accuracy that way
    /// against 0.494 when clamping every step). Default false.
    pub clamp_every_step: bool,
    /// Prediction clips μ into [clip, 1 − clip] before taking logs. Default 0: μ as fitted (it is
    /// already in [ε, 1 − ε], ε = min(0.01, 10^−⌈log10 n⌉)), as Snorkel 0.10's `predict_proba`;
    /// Snorkel 0.9.0 clipped to [0.01, 0.99], which caps every vote's weight at log 99 and
    /// turns LFs with μ below 0.01 into ties (WRENCH TREC: 0.481 vs 0.564 valid accuracy for the
    /// same fit).
    pub predict_clip: f64,
}

impl Default for SnorkelParams {
    fn default() -> Self {
        Self {
            epochs: 100,
            lr: 0.01,
            l2: 0.0,
            prec_init: 0.7,
            optimizer: Optimizer::Sgd,
            balance: Balance::Uniform,
            all_rows_in_o: true,
            init_scale: 1.0,
            clamp_every_step: false,
            predict_clip: 0.0,
        }
    }
}

/// A fitted Snorkel-style model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnorkelModel {
    n_lfs: usize,
    cardinality: usize,
    class_balance: Vec<f64>,
    /// Row-major `(m·C) × C`: `mu[(j*C + l)*C + y]` = P(LF j votes l | Y = y).
    mu: Vec<f64>,
    /// μ is clipped into [clip, 1 − clip] for prediction (0.01 in files written before this
    /// field existed).
    #[serde(default = "legacy_clip")]
    predict_clip: f64,
    /// Loss per epoch.
    pub loss_history: Vec<f64>,
    pub info: FitInfo,
}

fn legacy_clip() -> f64 {
    0.01
}

impl SnorkelParams {
    fn validate(&self) -> Result<()> {
        let ok = self.epochs > 0
            && self.lr.is_finite()
            && self.lr > 0.0
            && self.l2.is_finite()
            && self.l2 >= 0.0
            && self.prec_init > 0.0
            && self.prec_init <= 1.0
            && self.init_scale > 0.0
            && self.init_scale <= 1.0
            && (0.0..0.5).contains(&self.predict_clip);
        if !ok {
            return Err(Error::Config(format!(
                "snorkel: need epochs > 0, lr > 0, l2 >= 0, 0 < prec_init <= 1, 0 < init_scale <= 1, 0 <= predict_clip < 0.5 (got {self:?})"
            )));
        }
        Ok(())
    }

    pub(crate) fn fit(&self, votes: &Votes, opts: &FitOptions) -> Result<SnorkelModel> {
        self.validate()?;
        let (c, m) = (votes.cardinality, votes.n_lfs);
        let d = m * c;
        let p: Vec<f64> = match (&opts.class_balance, self.balance) {
            (Some(b), _) => b.clone(),
            (None, Balance::Uniform) => vec![1.0 / c as f64; c],
            (None, Balance::Mv) => mv_balance(votes),
        };
        // O = ΛᵀΛ / n. Uncovered rows add nothing to ΛᵀΛ; whether they count in n is a choice:
        // Snorkel divides by all rows.
        let rows = votes.covered();
        let n = if self.all_rows_in_o { votes.n_rows } else { rows.len() } as f64;
        let mut o = vec![0.0; d * d];
        let mut idx: Vec<usize> = Vec::new();
        for &i in &rows {
            idx.clear();
            idx.extend(votes.row(i).map(|(j, l)| j * c + l));
            for &a in &idx {
                for &b in &idx {
                    o[a * d + b] += 1.0;
                }
            }
        }
        o.iter_mut().for_each(|x| *x /= n);
        let mu0: Vec<f64> = (0..d * c)
            .map(|k| {
                let (a, y) = (k / c, k % c);
                if a % c == y { (o[a * d + a] * self.prec_init / p[y]).clamp(0.0, 1.0) } else { 0.0 }
            })
            .collect();
        // Snorkel starts from μ₀ times a random scale in [0, 1); a fixed scale makes that choice
        // explicit (and searchable on valid) instead of seed-dependent.
        let mut mu: Vec<f64> = mu0.iter().map(|x| x * self.init_scale).collect();
        // Snorkel: mu_eps = min(0.01, 1 / 10^ceil(log10 n)).
        let mu_eps = (0.01f64).min(1.0 / 10f64.powf((votes.n_rows.max(2) as f64).log10().ceil()));
        let objective = Objective::new(&o, c, p.clone(), mu0.clone(), self.l2);
        drop(o);
        let mut scratch = Scratch::new(d, c);
        let mut grad = vec![0.0; d * c];
        let mut state1 = vec![0.0; d * c];
        let mut state2 = vec![0.0; d * c];
        let mut history: Vec<f64> = Vec::with_capacity(self.epochs);
        let mut converged = false;
        for epoch in 0..self.epochs {
            let loss = objective.loss_grad(&mu, &mut grad, &mut scratch);
            if !loss.is_finite() {
                return Err(Error::invalid(
                    "snorkel label model",
                    format!("loss became {loss} at epoch {epoch}; lower lr"),
                ));
            }
            // Converged: the loss moved by less than 1e-7 (relative) over the last 10 epochs.
            if history.len() >= 10
                && (history[history.len() - 10] - loss).abs() <= 1e-7 * loss.abs().max(1e-12)
            {
                history.push(loss);
                converged = true;
                break;
            }
            history.push(loss);
            tracing::trace!(epoch, loss, "snorkel label model");
            match self.optimizer {
                Optimizer::Sgd => {
                    for k in 0..d * c {
                        state1[k] = 0.9 * state1[k] + grad[k];
                        mu[k] -= self.lr * state1[k];
                    }
                }
                Optimizer::Adam => {
                    let t = (epoch + 1) as i32;
                    let (b1, b2) = (0.9f64, 0.999f64);
                    for k in 0..d * c {
                        state1[k] = b1 * state1[k] + (1.0 - b1) * grad[k];
                        state2[k] = b2 * state2[k] + (1.0 - b2) * grad[k] * grad[k];
                        let mh = state1[k] / (1.0 - b1.powi(t));
                        let vh = state2[k] / (1.0 - b2.powi(t));
                        mu[k] -= self.lr * mh / (vh.sqrt() + 1e-8);
                    }
                }
            }
            if self.clamp_every_step {
                mu.iter_mut().for_each(|x| *x = x.clamp(mu_eps, 1.0 - mu_eps));
            }
        }
        // Snorkel's `_clamp_params` after the loop.
        mu.iter_mut().for_each(|x| *x = x.clamp(mu_eps, 1.0 - mu_eps));
        let last = *history.last().unwrap_or(&f64::NAN);
        tracing::debug!(
            first = history.first(),
            last,
            epochs = history.len(),
            converged,
            "snorkel label model loss"
        );
        Ok(SnorkelModel {
            n_lfs: m,
            cardinality: c,
            class_balance: p,
            mu,
            predict_clip: self.predict_clip,
            loss_history: history.clone(),
            info: FitInfo {
                iterations: history.len(),
                converged,
                final_loss: Some(last),
                ..FitInfo::default()
            },
        })
    }
}

/// The matrix-completion objective and its gradient.
///
/// The masked term is expanded as ‖O⊙M‖² − 2⟨O⊙M, μPμᵀ⟩ + ‖(μPμᵀ)⊙M‖², so an epoch costs one
/// product of the sparse O⊙M with μP plus O(d·C²), instead of forming the d × d residual
/// (O(d²·C)): O is ΛᵀΛ / n, and its off-block entries are non-zero only for pairs of votes that
/// co-occur in some row.
struct Objective {
    /// The off-block (M = 1) non-zeros of O, row by row (CSR): row a's entries are
    /// `om_col[om_ptr[a]..om_ptr[a + 1]]`, `om_val[..]`.
    om_ptr: Vec<usize>,
    om_col: Vec<usize>,
    om_val: Vec<f64>,
    /// ‖O ⊙ M‖²_F.
    om_norm2: f64,
    diag: Vec<f64>,
    d: usize,
    c: usize,
    p: Vec<f64>,
    mu0: Vec<f64>,
    l2: f64,
}

/// Buffers of [`Objective::loss_grad`], allocated once per fit.
struct Scratch {
    /// μP, `[d, C]`.
    mp: Vec<f64>,
    /// (O ⊙ M) μP, `[d, C]`.
    om_mp: Vec<f64>,
    /// μᵀμ, `[C, C]`.
    gram: Vec<f64>,
    /// μ_jᵀμ_j per LF j (its C rows of μ), `[m, C, C]`.
    blocks: Vec<f64>,
}

impl Scratch {
    fn new(d: usize, c: usize) -> Self {
        Self {
            mp: vec![0.0; d * c],
            om_mp: vec![0.0; d * c],
            gram: vec![0.0; c * c],
            blocks: vec![0.0; d * c],
        }
    }
}

impl Objective {
    /// # Shapes
    /// `o`: `[d, d]` row-major and symmetric, d = m·C; `mu0`: `[d, C]`.
    fn new(o: &[f64], c: usize, p: Vec<f64>, mu0: Vec<f64>, l2: f64) -> Self {
        let d = mu0.len() / c;
        let (mut om_ptr, mut om_col, mut om_val) = (Vec::with_capacity(d + 1), Vec::new(), Vec::new());
        om_ptr.push(0);
        for a in 0..d {
            for b in 0..d {
                let v = o[a * d + b];
                if a / c != b / c && v != 0.0 {
                    om_col.push(b);
                    om_val.push(v);
                }
            }
            om_ptr.push(om_col.len());
        }
        let om_norm2 = om_val.iter().map(|v| v * v).sum();
        let diag = (0..d).map(|a| o[a * d + a]).collect();
        Self { om_ptr, om_col, om_val, om_norm2, diag, d, c, p, mu0, l2 }
    }

    /// Returns `‖(O − μPμᵀ) ⊙ M‖² + ‖μP1 − diag O‖² + l2‖μ − μ₀‖²` and writes its gradient.
    ///
    /// With A = (O⊙M)μP, G = μᵀμ and B_j = μ_jᵀμ_j (μ_j: LF j's C rows):
    /// `⟨O⊙M, μPμᵀ⟩ = Σ μ ⊙ A`, `‖(μPμᵀ)⊙M‖² = Σ_yz p_y p_z (G_yz² − Σ_j B_j,yz²)`, and the
    /// masked term's gradient at row a (LF j) is `−4 A_a + 4 (μP)_a (G − B_j) P`.
    ///
    /// ```python
    /// R = (O - mu @ P @ mu.T) * M
    /// loss = (R**2).sum() + ((mu @ P).sum(1) - np.diag(O))**2).sum() + l2 * ((mu - mu0)**2).sum()
    /// ```
    ///
    /// # Shapes
    /// `mu`, `grad`: `[d, C]` row-major.
    fn loss_grad(&self, mu: &[f64], grad: &mut [f64], s: &mut Scratch) -> f64 {
        let (d, c) = (self.d, self.c);
        let cc = c * c;
        for (k, x) in s.mp.iter_mut().enumerate() {
            *x = mu[k] * self.p[k % c];
        }
        // A = (O ⊙ M) μP.
        s.om_mp.fill(0.0);
        for a in 0..d {
            let row = &mut s.om_mp[a * c..(a + 1) * c];
            for k in self.om_ptr[a]..self.om_ptr[a + 1] {
                let (b, v) = (self.om_col[k], self.om_val[k]);
                for (r, x) in row.iter_mut().zip(&s.mp[b * c..(b + 1) * c]) {
                    *r += v * x;
                }
            }
        }
        let cross: f64 = mu.iter().zip(&s.om_mp).map(|(u, v)| u * v).sum();
        // G = Σ_j B_j.
        s.gram.fill(0.0);
        s.blocks.fill(0.0);
        for (j, bj) in s.blocks.chunks_exact_mut(cc).enumerate() {
            for ua in mu[j * cc..(j + 1) * cc].chunks_exact(c) {
                for (y, &uy) in ua.iter().enumerate() {
                    for (z, &uz) in ua.iter().enumerate() {
                        bj[y * c + z] += uy * uz;
                    }
                }
            }
            for (g, b) in s.gram.iter_mut().zip(bj.iter()) {
                *g += b;
            }
        }
        let mut fit2 = 0.0;
        for y in 0..c {
            for z in 0..c {
                let k = y * c + z;
                let own: f64 = s.blocks.chunks_exact(cc).map(|bj| bj[k] * bj[k]).sum();
                fit2 += self.p[y] * self.p[z] * (s.gram[k] * s.gram[k] - own);
            }
        }
        let mut loss = self.om_norm2 - 2.0 * cross + fit2;
        for a in 0..d {
            let bj = &s.blocks[(a / c) * cc..(a / c + 1) * cc];
            let mpa = &s.mp[a * c..(a + 1) * c];
            let r2: f64 = mpa.iter().sum::<f64>() - self.diag[a];
            loss += r2 * r2;
            for y in 0..c {
                let k = a * c + y;
                let t: f64 = (0..c).map(|z| mpa[z] * (s.gram[z * c + y] - bj[z * c + y])).sum();
                let dl2 = mu[k] - self.mu0[k];
                loss += self.l2 * dl2 * dl2;
                grad[k] =
                    -4.0 * s.om_mp[k] + 4.0 * self.p[y] * t + 2.0 * r2 * self.p[y] + 2.0 * self.l2 * dl2;
            }
        }
        loss
    }
}

impl LabelModel for SnorkelModel {
    fn name(&self) -> &'static str {
        "snorkel"
    }
    fn predict_proba(&self, m: &LabelMatrix) -> Result<Proba> {
        check_shape("snorkel", m, self.n_lfs, self.cardinality)?;
        let c = self.cardinality;
        // μ ≥ ε > 0 after the fit, so the logs are finite even without a clip.
        let clip = self.predict_clip.max(1e-12);
        let log_mu: Vec<f64> = self.mu.iter().map(|x| x.clamp(clip, 1.0 - clip).ln()).collect();
        let log_p: Vec<f64> = self.class_balance.iter().map(|x| x.ln()).collect();
        let votes = Votes::new(m);
        let mut data = vec![0.0; m.n_rows() * c];
        for i in 0..m.n_rows() {
            let t = &mut data[i * c..(i + 1) * c];
            t.copy_from_slice(&log_p);
            for (j, l) in votes.row(i) {
                for y in 0..c {
                    t[y] += log_mu[(j * c + l) * c + y];
                }
            }
            normalize_log(t);
        }
        Proba::new(m.n_rows(), c, data)
    }
    fn class_balance(&self) -> &[f64] {
        &self.class_balance
    }
    fn lf_accuracies(&self) -> Option<Vec<f64>> {
        let c = self.cardinality;
        Some(super::balanced_accuracies(self.n_lfs, &self.class_balance, |j, y, l| {
            self.mu[(j * c + l) * c + y].clamp(0.0, 1.0)
        }))
    }
}

impl SnorkelModel {
    /// Checks a model read from a file ([`super::check_saved_shape`] and its own arrays).
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let c = super::check_saved_shape(&self.class_balance, self.n_lfs)?;
        if self.cardinality != c {
            return Err(format!("cardinality {} but {c} class shares", self.cardinality));
        }
        let want = self.n_lfs.checked_mul(c * c).ok_or("shape overflows")?;
        if self.mu.len() != want || self.mu.iter().any(|p| !p.is_finite()) {
            return Err(format!("mu has {} finite values, expected {want}", self.mu.len()));
        }
        if !(self.predict_clip.is_finite() && (0.0..0.5).contains(&self.predict_clip)) {
            return Err(format!("predict_clip {} is outside [0, 0.5)", self.predict_clip));
        }
        Ok(())
    }
}

crate::cli_enum!(Optimizer => "optimizer", Balance => "class balance");

#[cfg(test)]
mod tests {
    use super::*;

    /// The objective as first written: the d × d masked residual formed entry by entry.
    fn dense_loss_grad(o: &[f64], obj: &Objective, mu: &[f64], grad: &mut [f64]) -> f64 {
        let (d, c) = (obj.d, obj.c);
        let mp: Vec<f64> = (0..d * c).map(|k| mu[k] * obj.p[k % c]).collect();
        let mut loss = 0.0;
        let mut rm = vec![0.0; d * c];
        for a in 0..d {
            for b in 0..d {
                if a / c == b / c {
                    continue;
                }
                let fit: f64 = (0..c).map(|y| mp[a * c + y] * mu[b * c + y]).sum();
                let r = o[a * d + b] - fit;
                loss += r * r;
                for y in 0..c {
                    rm[a * c + y] += r * mp[b * c + y];
                }
            }
        }
        for a in 0..d {
            let r2: f64 = mp[a * c..(a + 1) * c].iter().sum::<f64>() - obj.diag[a];
            loss += r2 * r2;
            for y in 0..c {
                let k = a * c + y;
                let dl2 = mu[k] - obj.mu0[k];
                loss += obj.l2 * dl2 * dl2;
                grad[k] = -4.0 * rm[k] + 2.0 * r2 * obj.p[y] + 2.0 * obj.l2 * dl2;
            }
        }
        loss
    }

    /// A symmetric O over m LFs × C classes with some zero off-block entries, a μ and a μ₀.
    fn problem(m: usize, c: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let d = m * c;
        let mut o = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..=a {
                let h = (a * 7 + b * 3) % 11;
                let v = if h == 4 && a / c != b / c { 0.0 } else { 0.05 + 0.01 * h as f64 };
                o[a * d + b] = v;
                o[b * d + a] = v;
            }
        }
        let mu: Vec<f64> = (0..d * c).map(|k| 0.05 + 0.9 * ((k * 13 + 5) % 17) as f64 / 17.0).collect();
        let mu0: Vec<f64> = (0..d * c).map(|k| if (k / c) % c == k % c { 0.6 } else { 0.0 }).collect();
        (o, mu, mu0)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // 2 LFs × 2 classes: d = 4. O symmetric with arbitrary positive entries.
        let (c, (o, mu, mu0)) = (2, problem(2, 2));
        let obj = Objective::new(&o, c, vec![0.3, 0.7], mu0, 0.1);
        let mut s = Scratch::new(4, c);
        let mut grad = vec![0.0; mu.len()];
        obj.loss_grad(&mu, &mut grad, &mut s);
        let mut scratch = vec![0.0; mu.len()];
        for k in 0..mu.len() {
            let h = 1e-6;
            let (mut up, mut down) = (mu.clone(), mu.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (obj.loss_grad(&up, &mut scratch, &mut s) - obj.loss_grad(&down, &mut scratch, &mut s))
                / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-6, "k {k}: analytic {} vs numeric {fd}", grad[k]);
        }
    }

    #[test]
    fn expanded_objective_equals_the_dense_residual() {
        // 5 LFs × 3 classes (d = 15), some zero co-occurrences: the sparse expansion gives the
        // dense formulation's loss and gradient to rounding.
        let (m, c) = (5, 3);
        let (o, mu, mu0) = problem(m, c);
        let obj = Objective::new(&o, c, vec![0.2, 0.5, 0.3], mu0, 0.05);
        assert!(obj.om_val.len() < (m * c) * (m * c) - m * c * c, "some off-block zeros are skipped");
        let (mut g1, mut g2) = (vec![0.0; mu.len()], vec![0.0; mu.len()]);
        let l1 = obj.loss_grad(&mu, &mut g1, &mut Scratch::new(m * c, c));
        let l2 = dense_loss_grad(&o, &obj, &mu, &mut g2);
        assert!((l1 - l2).abs() <= 1e-12 * l2.abs(), "{l1} vs {l2}");
        for (k, (a, b)) in g1.iter().zip(&g2).enumerate() {
            assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "k {k}: {a} vs {b}");
        }
    }

    /// A fitted model of one LF over two classes, unclipped.
    fn one_lf_model(class_balance: Vec<f64>, mu: Vec<f64>) -> SnorkelModel {
        SnorkelModel {
            n_lfs: 1,
            cardinality: 2,
            class_balance,
            mu,
            predict_clip: 0.0,
            loss_history: vec![],
            info: FitInfo::default(),
        }
    }

    #[test]
    fn predict_proba_matches_the_closed_form() {
        // One LF, two classes; mu[(j*C + l)*C + y] = P(λ_j = l | Y = y).
        // numpy: p = [.4, .6]; mu = [[.8, .1], [.1, .7]]  (rows l, cols y)
        // P(Y | λ = 0) ∝ p * mu[0] = [.32, .06] → [.8421, .1579]
        let model = one_lf_model(vec![0.4, 0.6], vec![0.8, 0.1, 0.1, 0.7]);
        let m = LabelMatrix::new(vec![0, 1, -1], 3, vec!["a".into()], 2).unwrap();
        let p = model.predict_proba(&m).unwrap();
        assert!((p.row(0)[0] - 0.32 / 0.38).abs() < 1e-12);
        // λ = 1: [.4*.1, .6*.7] = [.04, .42]
        assert!((p.row(1)[1] - 0.42 / 0.46).abs() < 1e-12);
        // abstain: the prior
        assert!((p.row(2)[0] - 0.4).abs() < 1e-12);
    }

    #[test]
    fn predict_clip_caps_small_mu_as_old_snorkel() {
        // mu = [[.5, .001], [.5, .999]]; λ = 0, p = [.5, .5]:
        //   unclipped (Snorkel 0.10): [.5*.5, .5*.001] → .5 / .501 = 0.998004
        //   clip [.01, .99] (Snorkel 0.9.0): [.25, .005] → .25 / .255 = 0.980392
        let mut model = one_lf_model(vec![0.5, 0.5], vec![0.5, 0.001, 0.5, 0.999]);
        let m = LabelMatrix::new(vec![0], 1, vec!["a".into()], 2).unwrap();
        assert!((model.predict_proba(&m).unwrap().row(0)[0] - 0.5 / 0.501).abs() < 1e-12);
        model.predict_clip = 0.01;
        assert!((model.predict_proba(&m).unwrap().row(0)[0] - 0.25 / 0.255).abs() < 1e-12);
        // A model saved before `predict_clip` existed predicts as it did then (clip 0.01).
        let mut json = serde_json::to_value(&model).unwrap();
        json.as_object_mut().unwrap().remove("predict_clip");
        let old: SnorkelModel = serde_json::from_value(json).unwrap();
        assert_eq!(old.predict_clip, 0.01);
    }

    #[test]
    fn clamping_once_lets_mu_leave_the_interval_while_fitting() {
        // Two agreeing LFs and one contrarian, 2 classes. Clamping after every step and once at
        // the end are different fits; both end inside [eps, 1 - eps] (eps = 0.01 for n = 6).
        let votes = LabelMatrix::new(
            vec![0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, -1, 1, 1, -1, 0],
            6,
            vec!["a".into(), "b".into(), "c".into()],
            2,
        )
        .unwrap();
        let fit = |clamp_every_step| {
            let p = SnorkelParams { lr: 0.5, epochs: 50, clamp_every_step, ..SnorkelParams::default() };
            p.fit(&Votes::new(&votes), &FitOptions::default()).unwrap().mu
        };
        let (once, every) = (fit(false), fit(true));
        assert!(once.iter().chain(&every).all(|&x| (0.01..=0.99).contains(&x)), "{once:?} {every:?}");
        assert!(once.iter().zip(&every).any(|(a, b)| (a - b).abs() > 1e-3), "{once:?} {every:?}");
    }
}
