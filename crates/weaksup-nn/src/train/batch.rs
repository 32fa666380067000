//! Encoding texts once, and cutting them into padded batches: fixed padding, per-batch dynamic
//! padding, or length bucketing (batches of similar lengths, the large CPU speed-up).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::TokenBatch;
use crate::model::ngram::BagBatch;

/// How batches are padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Padding {
    /// Every batch padded to the maximum sequence length.
    Fixed,
    /// Each batch padded to its longest text; batches drawn in random order.
    Dynamic,
    /// Like `dynamic`, but texts of similar length are batched together (shuffled within
    /// windows of 50 batches, then batch order shuffled). Default.
    #[default]
    Bucketed,
}

/// Texts encoded once: token ids (transformers) or hashed n-gram bags.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub items: Vec<Vec<i64>>,
    /// Pad id for token sequences; `None` for bags.
    pub pad_id: Option<i64>,
    pub max_len: usize,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The model input for rows `idx`.
    pub fn collate(&self, idx: &[usize], padding: Padding, device: Device) -> Input {
        match self.pad_id {
            None => Input::Bags(BagBatch::new(
                &idx.iter().map(|&i| self.items[i].as_slice()).collect::<Vec<_>>(),
                device,
            )),
            Some(pad) => {
                let longest = idx.iter().map(|&i| self.items[i].len()).max().unwrap_or(1).max(1);
                let s = if padding == Padding::Fixed { self.max_len.max(longest) } else { longest };
                let mut ids = vec![pad; idx.len() * s];
                let mut mask = vec![0i64; idx.len() * s];
                for (r, &i) in idx.iter().enumerate() {
                    let t = &self.items[i];
                    ids[r * s..r * s + t.len()].copy_from_slice(t);
                    mask[r * s..r * s + t.len()].iter_mut().for_each(|m| *m = 1);
                }
                let shape = [idx.len() as i64, s as i64];
                Input::Tokens(TokenBatch {
                    ids: Tensor::from_slice(&ids).view(shape).to_device(device),
                    mask: Tensor::from_slice(&mask).view(shape).to_kind(Kind::Int64).to_device(device),
                })
            }
        }
    }
}

/// A model input batch.
#[derive(Debug)]
pub enum Input {
    Tokens(TokenBatch),
    Bags(BagBatch),
}

/// The batches of one epoch over `rows` (indices into an [`Encoded`]), seeded.
pub fn epoch_batches(
    rows: &[usize],
    lengths: &[usize],
    batch_size: usize,
    padding: Padding,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order = rows.to_vec();
    order.shuffle(&mut rng);
    let bs = batch_size.max(1);
    let mut batches: Vec<Vec<usize>> = match padding {
        Padding::Bucketed => order
            .chunks(bs * 50)
            .flat_map(|w| {
                let mut w = w.to_vec();
                w.sort_by_key(|&i| lengths[i]);
                w.chunks(bs).map(<[usize]>::to_vec).collect::<Vec<_>>()
            })
            .collect(),
        _ => order.chunks(bs).map(<[usize]>::to_vec).collect(),
    };
    batches.shuffle(&mut rng);
    batches
}

/// Batches in row order (for inference), bucketed by length when asked, so that outputs can be
/// scattered back.
pub fn inference_batches(
    n: usize,
    lengths: &[usize],
    batch_size: usize,
    padding: Padding,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    if padding == Padding::Bucketed {
        order.sort_by_key(|&i| lengths[i]);
    }
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

weaksup_core::cli_enum!(Padding => "padding");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_row_once_and_bucketing_groups_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 120 + 1).collect();
        let rows: Vec<usize> = (0..1000).collect();
        for padding in [Padding::Fixed, Padding::Dynamic, Padding::Bucketed] {
            let b = epoch_batches(&rows, &lengths, 32, padding, 1);
            let mut seen: Vec<usize> = b.concat();
            seen.sort();
            assert_eq!(seen, rows, "{padding:?}");
            assert_eq!(b, epoch_batches(&rows, &lengths, 32, padding, 1), "seeded");
        }
        let spread = |b: &Vec<Vec<usize>>| {
            b.iter()
                .map(|x| {
                    x.iter().map(|&i| lengths[i]).max().unwrap()
                        - x.iter().map(|&i| lengths[i]).min().unwrap()
                })
                .sum::<usize>()
        };
        let bucketed = spread(&epoch_batches(&rows, &lengths, 32, Padding::Bucketed, 1));
        let dynamic = spread(&epoch_batches(&rows, &lengths, 32, Padding::Dynamic, 1));
        assert!(bucketed * 5 < dynamic, "bucketing narrows length spread: {bucketed} vs {dynamic}");
    }

    #[test]
    fn collate_pads_and_masks() {
        let e = Encoded { items: vec![vec![5, 6, 7], vec![8]], pad_id: Some(0), max_len: 6 };
        let Input::Tokens(t) = e.collate(&[0, 1], Padding::Dynamic, Device::Cpu) else { panic!() };
        assert_eq!(t.ids.size(), vec![2, 3]);
        assert_eq!(Vec::<i64>::try_from(t.ids.view([-1])).unwrap(), vec![5, 6, 7, 8, 0, 0]);
        assert_eq!(Vec::<i64>::try_from(t.mask.view([-1])).unwrap(), vec![1, 1, 1, 1, 0, 0]);
        let Input::Tokens(t) = e.collate(&[1], Padding::Fixed, Device::Cpu) else { panic!() };
        assert_eq!(t.ids.size(), vec![1, 6]);
    }
}
