//! Dropout whose masks on the CPU come from a counter-based generator instead of libtorch's
//! Bernoulli sampler.
//!
//! libtorch draws a CPU dropout mask at ≈ 130 M elements/s on this machine class, 100× slower than
//! the multiply it feeds: in a MiniLM training forward (batch 32, length ≈ 24; 25 dropout calls)
//! the masks took about half of the forward's time. Here element `i` of a call's mask is decided
//! by a 16-bit slice of a SplitMix64 draw from a key, computed from `i` alone, so the masks are
//! the same at any thread count. Each call's key is one draw from
//! libtorch's generator, so the trainer's per-step `manual_seed` still fixes every mask and a
//! resumed run replays them.

use tch::{Device, Kind, Tensor};
use weaksup_core::seeds::{GOLDEN, mix64};

/// Inverted dropout: each element is zeroed with probability `p`, the rest scaled by 1/(1 − p);
/// identity when `!train` or `p == 0`. On the CPU the mask is drawn by [`mask`] (see the module
/// docs); elsewhere it is libtorch's dropout.
///
/// # Shapes
/// `x`: any → the same, in `x`'s kind.
pub(crate) fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return x.shallow_clone();
    }
    if p >= 1.0 || x.device() != Device::Cpu {
        return x.dropout(p, train);
    }
    let key = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as u64;
    let mask = Tensor::from_slice(&mask(key, p, x.numel())).view(x.size().as_slice());
    match x.kind() {
        Kind::Float => x * mask,
        kind => (x * mask).to_kind(kind),
    }
}

/// The values of a dropout mask: 0 where element `i` is dropped, 1/(1 − p) elsewhere. Element `i`
/// is dropped when bits `16·(i mod 4)` to `16·(i mod 4) + 15` of SplitMix64's output `i/4 + 1`
/// from `key` are below round(p · 2¹⁶), so p is applied to within 2⁻¹⁷ (0.1 → 0.100006):
///
/// ```python
/// r = mix64((key + (i // 4 + 1) * GOLDEN) % 2**64)
/// dropped = ((r >> (16 * (i % 4))) & 0xFFFF) < round(p * 2**16)
/// ```
///
/// One thread fills it (≈ 1 ns per 4 elements): libtorch's OpenMP workers spin between the
/// forward's operations, and a second pool contending with them was slower than one thread.
pub(crate) fn mask(key: u64, p: f64, n: usize) -> Vec<f32> {
    let threshold = (p * 65_536.0).round() as u64;
    let scale = (1.0 / (1.0 - p)) as f32;
    let mut out = vec![0f32; n];
    for (j, quad) in out.chunks_mut(4).enumerate() {
        let r = mix64(key.wrapping_add((j as u64 + 1).wrapping_mul(GOLDEN)));
        for (k, v) in quad.iter_mut().enumerate() {
            *v = if (r >> (16 * k)) & 0xFFFF < threshold { 0.0 } else { scale };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from the Python formula in [`mask`]'s docs (key 42, p = 0.5, 8 elements).
    #[test]
    fn masks_follow_the_documented_formula() {
        let m = mask(42, 0.5, 8);
        let expect: Vec<f32> = GOLDEN_42.iter().map(|&kept| if kept { 2.0 } else { 0.0 }).collect();
        assert_eq!(m, expect);
    }
    const GOLDEN_42: [bool; 8] = [false, false, false, true, true, true, true, false];

    #[test]
    fn masks_drop_at_rate_p_and_keep_the_expectation() {
        for p in [0.1, 0.5] {
            let n = 1 << 20;
            let m = mask(7, p, n);
            let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
            // Binomial standard error at n = 2^20 is < 5e-4; 4 of them.
            assert!((dropped - p).abs() < 2e-3, "p {p}: dropped {dropped}");
            let mean = m.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            assert!((mean - 1.0).abs() < 4e-3, "p {p}: mean {mean}");
        }
    }

    #[test]
    fn a_key_fixes_its_mask() {
        assert_eq!(mask(3, 0.1, 1003), mask(3, 0.1, 1003));
        assert_ne!(mask(3, 0.1, 1003), mask(4, 0.1, 1003));
        // A longer mask starts with the shorter one (element i depends on i alone).
        assert_eq!(mask(3, 0.1, 1003)[..], mask(3, 0.1, 2000)[..1003]);
    }

    #[test]
    fn dropout_is_seeded_by_libtorch_and_passes_gradients_through_the_mask() {
        let x = Tensor::ones([64, 33], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        tch::manual_seed(5);
        let a = dropout(&x, 0.25, true);
        tch::manual_seed(5);
        let b = dropout(&x, 0.25, true);
        assert!(a.equal(&b));
        let c = dropout(&x, 0.25, true);
        assert!(!a.equal(&c));
        a.sum(Kind::Float).backward();
        // d(sum(x · mask))/dx = mask, which is the output itself for x = 1.
        assert!(x.grad().equal(&a.detach()));
        let bf = dropout(&x.to_kind(Kind::BFloat16), 0.25, true);
        assert_eq!(bf.kind(), Kind::BFloat16);
        assert!(dropout(&x, 0.25, false).equal(&x));
    }
}
