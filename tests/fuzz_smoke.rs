//! A short run of every fuzz target (`weaksup::fuzz`): each seed of `fuzz/corpus/<target>/`, then
//! seeded mutations of the seeds (bit flips, byte insertions and deletions, truncations, splices
//! of two seeds, interesting bytes). A panic fails the test with the input that caused it. The
//! long coverage-guided runs are `cargo fuzz` (fuzz/Cargo.toml; docs/reliability.md).

use crate::common;

use std::panic::{AssertUnwindSafe, catch_unwind};

/// xorshift64*: a tiny seeded generator, so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\"",
    b"'",
    b",",
    b"\n",
    b"\r\n",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b"null",
    b"-1",
    b"0",
    b"99999999999999999999",
    b"1e308",
    b"NaN",
    b"%",
    b"_",
    b"\\",
    b"(",
    b")",
    b"OR",
    b"SELECT",
    b"read_csv(",
    b"\xce\xa3",
    b"\xf0\x9f\x98\x80",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(d.len() + 1);
        match rng.below(6) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                d.splice(at..at, ins.iter().copied());
            }
            2 if !d.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(d.len());
                d.drain(at.min(end)..end);
            }
            3 => d.truncate(at),
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                d.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                let b = rng.below(256) as u8;
                d.insert(at, b);
            }
        }
    }
    d
}

#[test]
fn every_fuzz_target_survives_its_seeds_and_their_mutations() {
    let root = common::repo().join("fuzz/corpus");
    for &target in weaksup::fuzz::TARGETS {
        let dir = root.join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
        let inputs: Vec<Vec<u8>> =
            seeds.iter().cloned().chain((0..2000).map(|_| mutate(&mut rng, &seeds))).collect();
        for input in inputs {
            let r = catch_unwind(AssertUnwindSafe(|| weaksup::fuzz::run(target, &input)));
            assert!(r.is_ok(), "fuzz target `{target}` panicked on {:?}", String::from_utf8_lossy(&input));
        }
    }
}
