//! AdamW (Loshchilov & Hutter 2019) with decoupled weight decay skipped for biases and LayerNorm,
//! global-norm gradient clipping, and state that checkpoints as named tensors.
//!
//! On the CPU the update is fused: one pass over each parameter reads its gradient and moments and
//! writes the parameter and moments, with the clipping scale folded in, instead of the nine
//! tensor operations (and a temporary) of the op-by-op form that other devices run
//! (`docs/performance.md` has the timing). The gradient norm is summed here too, in f64 over fixed
//! chunks added in order, so it is the same at any thread count.

use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// Elements per parallel task of the fused update and the norm.
const CHUNK: usize = 1 << 16;

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
    /// The clipping factor the next [`AdamW::step`] applies to the gradients (1 when none).
    grad_scale: f64,
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
        Self { params, t: 0, weight_decay, grad_scale: 1.0 }
    }

    pub fn zero_grad(&mut self) {
        self.grad_scale = 1.0;
        for p in &mut self.params {
            p.var.zero_grad();
        }
    }

    /// The global L2 norm of all gradients (f64 sums of squares; on the CPU over fixed chunks in a
    /// fixed order).
    pub fn grad_norm(&self) -> f64 {
        tch::no_grad(|| {
            self.params
                .iter()
                .map(|p| p.var.grad())
                .filter(Tensor::defined)
                .map(|g| match host_f32(&g) {
                    // SAFETY: `g` is a contiguous fp32 CPU gradient that nothing writes meanwhile.
                    Some(n) => unsafe { slice(&g, n) }
                        .par_chunks(CHUNK)
                        .map(sum_squares)
                        .collect::<Vec<f64>>()
                        .into_iter()
                        .sum::<f64>(),
                    None => g.to_kind(Kind::Double).square().sum(Kind::Double).double_value(&[]),
                })
                .sum::<f64>()
                .sqrt()
        })
    }

    /// Clips the gradients' global norm to `max_norm` (`torch.nn.utils.clip_grad_norm_`: scale
    /// max_norm / (norm + 1e-6) when the norm exceeds it) and returns the norm before. The scale
    /// is applied by the next [`AdamW::step`], fused into its pass; the gradient tensors are not
    /// rewritten. Non-finite norms leave the scale at 1.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        self.grad_scale = if norm.is_finite() && norm > max_norm && max_norm > 0.0 {
            max_norm / (norm + 1e-6)
        } else {
            1.0
        };
        norm
    }

    /// One update with learning rate `lr`, in place, of `torch.optim.AdamW(lr, betas=(0.9, 0.999),
    /// eps=1e-8, weight_decay=wd)` after `clip_grad_norm_` (`s`: the clipping scale):
    ///
    /// ```python
    /// g = s*g
    /// m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²        # v is kept as u = v / (1-b2)
    /// p *= 1 - lr*wd                                     # decoupled decay (not biases / LayerNorm)
    /// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
    /// ```
    pub fn step(&mut self, lr: f64) {
        self.t += 1;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (c1, c2) = (1.0 - b1.powi(self.t as i32), 1.0 - b2.powi(self.t as i32));
        let v_scale = ((1.0 - b2) / c2).sqrt();
        let (wd, gs) = (self.weight_decay, self.grad_scale);
        tch::no_grad(|| {
            for p in &mut self.params {
                let mut g = p.var.grad();
                if !g.defined() {
                    continue;
                }
                let decay = if p.decay { 1.0 - lr * wd } else { 1.0 };
                let fused =
                    host_f32(&g).filter(|_| [&p.var, &p.m, &p.u].iter().all(|t| host_f32(t).is_some()));
                if let Some(n) = fused {
                    let k = Fused {
                        gs: gs as f32,
                        b1: b1 as f32,
                        b2: b2 as f32,
                        decay: decay as f32,
                        v_scale: v_scale as f32,
                        eps: eps as f32,
                        step: (lr / c1) as f32,
                    };
                    // SAFETY: four distinct contiguous fp32 CPU tensors of `n` elements (a parameter,
                    // its gradient and moments); nothing else reads or writes them during the step.
                    unsafe { k.run(slice(&p.var, n), slice(&g, n), slice(&p.m, n), slice(&p.u, n)) };
                    continue;
                }
                if gs != 1.0 {
                    g = &g * gs;
                }
                let _ = p.m.lerp_(&g, 1.0 - b1);
                let _ = p.u.g_mul_scalar_(b2).addcmul_(&g, &g);
                if decay != 1.0 {
                    let _ = p.var.g_mul_scalar_(decay);
                }
                let mut denom = p.u.sqrt();
                let _ = denom.g_mul_scalar_(v_scale).g_add_scalar_(eps).g_mul_scalar_(-c1 / lr);
                let _ = p.var.addcdiv_(&p.m, &denom);
            }
        });
        self.grad_scale = 1.0;
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

/// Σ x²: fp32 sums of 16 interleaved lanes over blocks of 512 elements (so the loop vectorises),
/// each block's total added in f64, in a fixed order.
fn sum_squares(xs: &[f32]) -> f64 {
    xs.chunks(512)
        .map(|block| {
            let mut acc = [0f32; 16];
            let lanes = block.chunks_exact(16);
            let tail: f32 = lanes.remainder().iter().map(|&x| x * x).sum();
            for l in lanes {
                for (a, &x) in acc.iter_mut().zip(l) {
                    *a += x * x;
                }
            }
            f64::from(acc.iter().sum::<f32>() + tail)
        })
        .sum()
}

/// The element count of a contiguous fp32 CPU tensor, which the fused paths read in place.
fn host_f32(t: &Tensor) -> Option<usize> {
    (t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous()).then(|| t.numel())
}

/// The `n` elements of a tensor accepted by [`host_f32`].
///
/// # Safety
/// No other live slice or libtorch operation may touch the tensor's data while the slice lives.
#[allow(clippy::mut_from_ref)]
unsafe fn slice(t: &Tensor, n: usize) -> &mut [f32] {
    if n == 0 {
        return &mut [];
    }
    // SAFETY: per the caller's contract; `host_f32` checked kind, device and contiguity.
    unsafe { std::slice::from_raw_parts_mut(t.data_ptr().cast::<f32>(), n) }
}

/// The constants of one fused AdamW update (see [`AdamW::step`]); `step` is lr / (1 − β₁ᵗ).
struct Fused {
    gs: f32,
    b1: f32,
    b2: f32,
    decay: f32,
    v_scale: f32,
    eps: f32,
    step: f32,
}

impl Fused {
    /// Updates `p`, `m`, `u` in place from `g`, in parallel over fixed chunks (each element's
    /// arithmetic depends on that element alone, so any thread count gives the same bits).
    fn run(&self, p: &mut [f32], g: &[f32], m: &mut [f32], u: &mut [f32]) {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(u.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), u)| {
                for (((p, &g), m), u) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(u.iter_mut()) {
                    let g = g * self.gs;
                    *m += (1.0 - self.b1) * (g - *m);
                    *u = self.b2 * *u + g * g;
                    *p = *p * self.decay - self.step * *m / (u.sqrt() * self.v_scale + self.eps);
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{self, Init};

    /// A deterministic vector (no generator: the tests of this crate share libtorch's).
    fn wave(n: usize, phase: f64, scale: f64) -> Tensor {
        Tensor::from_slice(
            &(0..n).map(|i| (scale * (i as f64 * 0.37 + phase).sin()) as f32).collect::<Vec<_>>(),
        )
    }

    /// Two parameters (one exempt from decay) with gradients from `loss = Σ w·x + Σ b·x²`.
    fn setup(phase: f64) -> (nn::VarStore, AdamW) {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let mut w = root.var("w", &[300_000], Init::Const(0.0));
        let mut b = (&root / "b").var("bias", &[7], Init::Const(0.0));
        tch::no_grad(|| {
            w.copy_(&wave(300_000, phase, 2.0));
            b.copy_(&wave(7, phase + 1.0, 2.0));
        });
        let names = vec!["w".to_string(), "b.bias".to_string()];
        let opt = AdamW::new(&vs, &names, 0.01, |n| n.ends_with(".bias"));
        (vs, opt)
    }

    fn backward(vs: &nn::VarStore, step: i64) {
        let v = vs.variables();
        let (w, b) = (&v["w"], &v["b.bias"]);
        let xw = wave(300_000, 0.5 * step as f64, (step + 1) as f64);
        let xb = wave(7, 2.0 + step as f64, 1.0);
        ((w * &xw).sum(Kind::Float) + (b * xb.square()).sum(Kind::Float)).backward();
    }

    /// The fused CPU update equals `torch.optim.AdamW` after `clip_grad_norm_`, computed here op by
    /// op in f64 from the same gradients:
    ///
    /// ```python
    /// s = min(1, max_norm / (norm + 1e-6)); g = s * grad
    /// m = 0.9*m + 0.1*g; v = 0.999*v + 0.001*g**2
    /// p = p * (1 - lr*wd) - lr * (m / (1 - 0.9**t)) / (sqrt(v / (1 - 0.999**t)) + 1e-8)
    /// ```
    #[test]
    fn fused_adamw_matches_the_reference_update_with_clipping_and_decay() {
        let (vs, mut opt) = setup(0.3);
        let names = ["w", "b.bias"];
        let f64s = |t: &Tensor| Vec::<f64>::try_from(t.to_kind(Kind::Double)).unwrap();
        let mut p: Vec<Vec<f64>> = names.iter().map(|n| f64s(&vs.variables()[*n])).collect();
        let mut m: Vec<Vec<f64>> = p.iter().map(|x| vec![0.0; x.len()]).collect();
        let mut v = m.clone();
        let (lr, wd, max_norm) = (1e-3, 0.01, 5.0);
        for t in 1..=3 {
            opt.zero_grad();
            backward(&vs, t);
            let g: Vec<Vec<f64>> = names.iter().map(|n| f64s(&vs.variables()[*n].grad())).collect();
            let norm = g.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
            let got = opt.clip_grad_norm(max_norm);
            assert!((got - norm).abs() <= 1e-6 * norm, "norm {got} vs {norm}");
            let s = if norm > max_norm { max_norm / (norm + 1e-6) } else { 1.0 };
            opt.step(lr);
            for (k, name) in names.iter().enumerate() {
                let decay = if name.ends_with(".bias") { 1.0 } else { 1.0 - lr * wd };
                for i in 0..p[k].len() {
                    let gi = s * g[k][i];
                    m[k][i] = 0.9 * m[k][i] + 0.1 * gi;
                    v[k][i] = 0.999 * v[k][i] + 0.001 * gi * gi;
                    let mh = m[k][i] / (1.0 - 0.9f64.powi(t as i32));
                    let vh = v[k][i] / (1.0 - 0.999f64.powi(t as i32));
                    p[k][i] = p[k][i] * decay - lr * mh / (vh.sqrt() + 1e-8);
                }
                let now = f64s(&vs.variables()[*name]);
                // fp32 arithmetic against f64: a few roundings of |p| ≤ ~5.
                let worst =
                    now.iter().zip(&p[k]).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f64::max);
                assert!(worst < 4e-6, "{name} step {t}: max relative |fused - reference| = {worst}");
            }
        }
        // The gradients themselves are left unscaled: clipping lives in the step.
        assert!(norm_of(&vs) > max_norm);
    }

    fn norm_of(vs: &nn::VarStore) -> f64 {
        vs.variables()
            .values()
            .map(|v| v.grad().square().sum(Kind::Double).double_value(&[]))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn the_gradient_norm_and_the_update_are_the_same_at_any_thread_count() {
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let (vs, mut opt) = setup(0.5);
                let mut norms = vec![];
                for t in 0..2 {
                    opt.zero_grad();
                    backward(&vs, t);
                    norms.push(opt.clip_grad_norm(1.0).to_bits());
                    opt.step(1e-3);
                }
                (norms, Vec::<f32>::try_from(&vs.variables()["w"]).unwrap())
            })
        };
        assert_eq!(run(1), run(2));
    }
}
