//! AdamW (Loshchilov & Hutter 2019) with decoupled weight decay skipped for biases and LayerNorm,
//! global-norm gradient clipping, and state that checkpoints as named tensors.

use tch::Tensor;

struct Param {
    name: String,
    var: Tensor,
    decay: bool,
    m: Tensor,
    /// The second moment divided by (1 − β₂).
    u: Tensor,
}

/// AdamW over a var store's trainable variables. β = (0.9, 0.999), ε = 1e-8 (PyTorch defaults).
pub struct AdamW {
    params: Vec<Param>,
    pub(crate) t: i64,
    weight_decay: f64,
}

impl AdamW {
    /// `names`: the variables to optimise, in a stable order; `no_decay(name)` exempts from decay.
    pub fn new(
        vs: &tch::nn::VarStore,
        names: &[String],
        weight_decay: f64,
        no_decay: fn(&str) -> bool,
    ) -> Self {
        let vars = vs.variables();
        let params = names
            .iter()
            .filter_map(|n| vars.get(n).map(|v| (n, v)))
            .filter(|(_, v)| v.requires_grad())
            .map(|(n, v)| Param {
                name: n.clone(),
                var: v.shallow_clone(),
                decay: !no_decay(n),
                m: v.zeros_like().detach(),
                u: v.zeros_like().detach(),
            })
            .collect();
        Self { params, t: 0, weight_decay }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.var.zero_grad();
        }
    }

    /// The global L2 norm of all gradients.
    pub fn grad_norm(&self) -> f64 {
        tch::no_grad(|| {
            self.params
                .iter()
                .map(|p| p.var.grad())
                .filter(Tensor::defined)
                .map(|g| g.norm().double_value(&[]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
    }

    /// Scales gradients so their global norm is at most `max_norm`; returns the norm before
    /// (non-finite norms leave the gradients untouched).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        if norm.is_finite() && norm > max_norm && max_norm > 0.0 {
            let s = max_norm / (norm + 1e-6);
            tch::no_grad(|| {
                for p in &self.params {
                    let mut g = p.var.grad();
                    if g.defined() {
                        let _ = g.g_mul_scalar_(s);
                    }
                }
            });
        }
        norm
    }

    /// One update with learning rate `lr`, in place (one temporary per parameter):
    ///
    /// ```python
    /// m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²        # v is kept as u = v / (1-b2)
    /// p *= 1 - lr*wd                                     # decoupled decay (not biases / LayerNorm)
    /// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
    /// ```
    pub fn step(&mut self, lr: f64) {
        self.t += 1;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (c1, c2) = (1.0 - b1.powi(self.t as i32), 1.0 - b2.powi(self.t as i32));
        let v_scale = ((1.0 - b2) / c2).sqrt();
        let wd = self.weight_decay;
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.var.grad();
                if !g.defined() {
                    continue;
                }
                let _ = p.m.lerp_(&g, 1.0 - b1);
                let _ = p.u.g_mul_scalar_(b2).addcmul_(&g, &g);
                if p.decay && wd > 0.0 {
                    let _ = p.var.g_mul_scalar_(1.0 - lr * wd);
                }
                let mut denom = p.u.sqrt();
                let _ = denom.g_mul_scalar_(v_scale).g_add_scalar_(eps).g_mul_scalar_(-c1 / lr);
                let _ = p.var.addcdiv_(&p.m, &denom);
            }
        });
    }

    /// Moment tensors as `m.<name>` / `u.<name>` (for checkpoints).
    pub fn named_state(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .flat_map(|p| {
                [
                    (format!("m.{}", p.name), p.m.shallow_clone()),
                    (format!("u.{}", p.name), p.u.shallow_clone()),
                ]
            })
            .collect()
    }

    /// Restores moments written by [`AdamW::named_state`].
    pub fn load_state(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        t: i64,
    ) -> crate::Result<()> {
        for p in &mut self.params {
            for (prefix, dst) in [("m", &mut p.m), ("u", &mut p.u)] {
                let key = format!("{prefix}.{}", p.name);
                let src = tensors.get(&key).ok_or_else(|| {
                    crate::Error::invalid("checkpoint", format!("optimizer state lacks `{key}`"))
                })?;
                tch::no_grad(|| dst.copy_(src));
            }
        }
        self.t = t;
        Ok(())
    }
}
