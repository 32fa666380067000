//! One seed in, every random stream derived from it here, by name. A run's configuration holds a
//! single `seed`; nothing else a user sets carries one. Each stream below is what one random
//! process of weaksup draws from; the formulas are fixed (changing one changes results), and the
//! same seed gives the same results on the CPU at any thread count.
//!
//! | stream | used by | value |
//! |---|---|---|
//! | [`Seeds::demo`] | the built-in demo corpus (its splits salt it further) | `seed` |
//! | [`Seeds::policy`] | label models' random tie / uncovered-row draws | `seed` |
//! | [`Seeds::init`] | end-model initialisation (libtorch's generator) | `seed` |
//! | [`Seeds::valid_halves`] | `targets = "valid"`: which half of valid trains | `seed` (ChaCha8) |
//! | [`shuffle`] | the trainer's batch order in epoch `e` | `seed + e` |
//! | [`dropout`] | the trainer's dropout at step `s` | `seed · 1,000,003 + s` |
//! | [`stage2_batches`] | COSINE's batch order in round `r` | `seed + 1000 + r` |
//! | [`stage2_reshuffle`] | COSINE's batch order when a round outlasts its rows, at step `s` | `seed + 2000 + s` |
//! | [`stage2_dropout`] | COSINE's dropout at stage-2 step `s` | `seed · 7,919 + s` |
//! | dropout masks on the CPU | each dropout call of a forward pass | a key drawn from libtorch's generator (seeded by the two streams above), then SplitMix64 ([`mix64`]) by element |
//! | [`part`] | batch runs' random draws in part `(file, chunk)` (same on every machine and shard) | splitmix64 of both |
//!
//! The per-step streams are functions of the trainer's seed so that a resumed run replays them.

/// The seeds of one run, derived from the user's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    seed: u64,
}

impl Seeds {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
    /// The user's seed.
    pub fn root(&self) -> u64 {
        self.seed
    }
    /// The built-in demo corpus.
    pub fn demo(&self) -> u64 {
        self.seed
    }
    /// Label models' random tie and uncovered-row draws.
    pub fn policy(&self) -> u64 {
        self.seed
    }
    /// End-model initialisation.
    pub fn init(&self) -> u64 {
        self.seed
    }
    /// The trainer's seed, from which [`shuffle`], [`dropout`] and the COSINE streams derive.
    pub fn trainer(&self) -> u64 {
        self.seed
    }
    /// Which half of the valid split trains under `targets = "valid"`.
    pub fn valid_halves(&self) -> u64 {
        self.seed
    }
}

/// The trainer's batch order in epoch `epoch`.
pub fn shuffle(trainer: u64, epoch: usize) -> u64 {
    trainer.wrapping_add(epoch as u64)
}

/// The trainer's dropout at step `step` (so a resumed run replays it).
pub fn dropout(trainer: u64, step: usize) -> u64 {
    trainer.wrapping_mul(1_000_003).wrapping_add(step as u64)
}

/// COSINE's batch order in round `round`.
pub fn stage2_batches(trainer: u64, round: usize) -> u64 {
    trainer.wrapping_add(1000 + round as u64)
}

/// COSINE's batch order when a round outlasts its selected rows, at stage-2 step `step`.
pub fn stage2_reshuffle(trainer: u64, step: usize) -> u64 {
    trainer.wrapping_add(2000 + step as u64)
}

/// COSINE's dropout at stage-2 step `step`.
pub fn stage2_dropout(trainer: u64, step: usize) -> u64 {
    trainer.wrapping_mul(7_919).wrapping_add(step as u64)
}

/// The pool rows COSINE's teacher labels in round `round`, when a round's pool budget is smaller
/// than the pool.
pub fn stage2_pool(trainer: u64, round: usize) -> u64 {
    trainer.wrapping_mul(104_729).wrapping_add(round as u64)
}

/// The tokens COSINE's contrastive term pairs at stage-2 step `step` (tagging, when a batch has
/// more selected tokens than `cosine.con_tokens`).
pub fn stage2_pairs(trainer: u64, step: usize) -> u64 {
    mix64(trainer.wrapping_mul(15_485_863).wrapping_add(step as u64))
}

/// The seed of part `(file, chunk)`'s random draws in a batch run: independent of which machine,
/// shard or run writes the part. splitmix64 over the part's coordinates.
pub fn part(seed: u64, (file, chunk): (usize, u64)) -> u64 {
    mix64(seed ^ ((file as u64) << 40 ^ chunk).wrapping_mul(GOLDEN))
}

/// SplitMix64's increment, 2⁶⁴/φ (Steele, Lea & Flood 2014).
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function. The `i`-th output (from 1) of SplitMix64 started at `state` is
/// `mix64(state + i·GOLDEN)`, so any draw of the stream is computed without the ones before it.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streams are fixed: these values are what every earlier result was computed with.
    #[test]
    fn streams_are_pinned() {
        assert_eq!(shuffle(42, 3), 45);
        assert_eq!(dropout(42, 7), 42 * 1_000_003 + 7);
        assert_eq!(stage2_batches(42, 2), 1044);
        assert_eq!(stage2_pool(42, 2), 42 * 104_729 + 2);
        assert_eq!(stage2_reshuffle(42, 150), 2192);
        assert_eq!(stage2_dropout(42, 5), 42 * 7_919 + 5);
        assert_ne!(part(0, (0, 1)), part(0, (1, 0)));
        assert_eq!(part(7, (2, 3)), 16499369653755080286);
        // SplitMix64 from state 0: its first output is 0xE220A8397B1DCDAF.
        assert_eq!(mix64(GOLDEN), 0xE220_A839_7B1D_CDAF);
    }
}
