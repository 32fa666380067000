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
    /// Sentence pairs: where each item's second segment (token type 1) begins.
    pub segments: Option<Vec<usize>>,
    /// Entity pooling: the positions of each item's `[E1]` and `[E2]` markers (0, the first
    /// token, where truncation cut a marker off).
    pub anchors: Option<Vec<[i64; 2]>>,
    /// Pad id for token sequences; `None` for bags.
    pub pad_id: Option<i64>,
    pub max_len: usize,
    /// Tagging: per row, per word, the position of the word's first piece, `-1` where
    /// truncation cut the word. The model's output rows ("units") are the words with a head, in
    /// row order.
    pub heads: Option<Vec<Vec<i64>>>,
}

impl Encoded {
    /// Token sequences of single texts (no segments, no anchors).
    pub fn tokens(items: Vec<Vec<i64>>, pad_id: i64, max_len: usize) -> Self {
        Self { items, segments: None, anchors: None, pad_id: Some(pad_id), max_len, heads: None }
    }
    /// Sentences encoded word by word for tagging (see [`crate::model::tokenizer::WordPieces`]).
    pub fn words(items: Vec<crate::model::tokenizer::WordPieces>, pad_id: i64, max_len: usize) -> Self {
        let heads =
            items.iter().map(|w| w.heads.iter().map(|h| h.map_or(-1, |p| p as i64)).collect()).collect();
        Self {
            items: items.into_iter().map(|w| w.ids).collect(),
            segments: None,
            anchors: None,
            pad_id: Some(pad_id),
            max_len,
            heads: Some(heads),
        }
    }
    /// Hashed n-gram bags.
    pub fn bags(items: Vec<Vec<i64>>) -> Self {
        Self { items, segments: None, anchors: None, pad_id: None, max_len: 0, heads: None }
    }
    /// The model's output rows for row `i`: 1, or for tagging its words with a head.
    pub fn units(&self, i: usize) -> usize {
        match &self.heads {
            Some(h) => h[i].iter().filter(|&&p| p >= 0).count(),
            None => 1,
        }
    }
    /// Tagging: the indices of row `i`'s words that have a head (its units, in order); empty
    /// without word heads.
    pub fn scored_words(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.heads.iter().flat_map(move |h| h[i].iter().enumerate().filter(|(_, p)| **p >= 0).map(|(w, _)| w))
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Self {
        Self {
            items: rows.iter().map(|&i| self.items[i].clone()).collect(),
            segments: self.segments.as_ref().map(|s| rows.iter().map(|&i| s[i]).collect()),
            anchors: self.anchors.as_ref().map(|a| rows.iter().map(|&i| a[i]).collect()),
            pad_id: self.pad_id,
            max_len: self.max_len,
            heads: self.heads.as_ref().map(|h| rows.iter().map(|&i| h[i].clone()).collect()),
        }
    }

    /// These rows, then `other`'s (both encoded by the same model).
    pub fn concat(&self, other: &Encoded) -> Self {
        fn join<T: Clone>(a: &Option<Vec<T>>, b: &Option<Vec<T>>) -> Option<Vec<T>> {
            Some(a.as_ref()?.iter().chain(b.as_ref()?).cloned().collect())
        }
        Self {
            items: self.items.iter().chain(&other.items).cloned().collect(),
            segments: join(&self.segments, &other.segments),
            anchors: join(&self.anchors, &other.anchors),
            pad_id: self.pad_id,
            max_len: self.max_len,
            heads: join(&self.heads, &other.heads),
        }
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
                let mut types = self.segments.as_ref().map(|_| vec![0i64; idx.len() * s]);
                for (r, &i) in idx.iter().enumerate() {
                    let t = &self.items[i];
                    ids[r * s..r * s + t.len()].copy_from_slice(t);
                    mask[r * s..r * s + t.len()].iter_mut().for_each(|m| *m = 1);
                    if let (Some(types), Some(seg)) = (types.as_mut(), self.segments.as_ref()) {
                        types[r * s + seg[i].min(t.len())..r * s + t.len()].iter_mut().for_each(|x| *x = 1);
                    }
                }
                let shape = [idx.len() as i64, s as i64];
                let anchors = self.anchors.as_ref().map(|a| {
                    let flat: Vec<i64> = idx.iter().flat_map(|&i| a[i]).collect();
                    Tensor::from_slice(&flat).view([idx.len() as i64, 2]).to_device(device)
                });
                let (heads, unit_mask) = match &self.heads {
                    Some(h) => {
                        let u = idx.iter().map(|&i| self.units(i)).max().unwrap_or(0);
                        let mut pos = vec![0i64; idx.len() * u];
                        let mut keep = vec![false; idx.len() * u];
                        for (r, &i) in idx.iter().enumerate() {
                            for (k, &p) in h[i].iter().filter(|&&p| p >= 0).enumerate() {
                                pos[r * u + k] = p;
                                keep[r * u + k] = true;
                            }
                        }
                        let shape = [idx.len() as i64, u as i64];
                        (
                            Some(Tensor::from_slice(&pos).view(shape).to_device(device)),
                            Some(Tensor::from_slice(&keep).view(shape).to_device(device)),
                        )
                    }
                    None => (None, None),
                };
                Input::Tokens(TokenBatch {
                    ids: Tensor::from_slice(&ids).view(shape).to_device(device),
                    mask: Tensor::from_slice(&mask).view(shape).to_kind(Kind::Int64).to_device(device),
                    types: types.map(|t| Tensor::from_slice(&t).view(shape).to_device(device)),
                    anchors,
                    heads,
                    unit_mask,
                })
            }
        }
    }
}

/// Where each listed row's output rows ("units": 1 per row, or its scored words for tagging)
/// lie, when the units of the rows are laid out one row after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    start: Vec<usize>,
}

impl Units {
    /// The layout of `rows` of `enc`, in that order.
    pub fn of(enc: &Encoded, rows: impl IntoIterator<Item = usize>) -> Self {
        let mut start = vec![0];
        for r in rows {
            start.push(start[start.len() - 1] + enc.units(r));
        }
        Self { start }
    }
    /// Units of all rows.
    pub fn total(&self) -> usize {
        self.start[self.start.len() - 1]
    }
    /// The units of the `k`-th listed row.
    pub fn range(&self, k: usize) -> std::ops::Range<usize> {
        self.start[k]..self.start[k + 1]
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
        let e = Encoded::tokens(vec![vec![5, 6, 7], vec![8]], 0, 6);
        let Input::Tokens(t) = e.collate(&[0, 1], Padding::Dynamic, Device::Cpu) else { panic!() };
        assert_eq!(t.ids.size(), vec![2, 3]);
        assert_eq!(Vec::<i64>::try_from(t.ids.view([-1])).unwrap(), vec![5, 6, 7, 8, 0, 0]);
        assert_eq!(Vec::<i64>::try_from(t.mask.view([-1])).unwrap(), vec![1, 1, 1, 1, 0, 0]);
        assert!(t.types.is_none() && t.anchors.is_none());
        let Input::Tokens(t) = e.collate(&[1], Padding::Fixed, Device::Cpu) else { panic!() };
        assert_eq!(t.ids.size(), vec![1, 6]);
        // Pairs: token type 1 from each item's second segment to its end; padding stays 0.
        let p = Encoded {
            segments: Some(vec![2, 1]),
            anchors: Some(vec![[1, 2], [0, 0]]),
            ..Encoded::tokens(vec![vec![5, 6, 7], vec![8, 9]], 0, 6)
        };
        let Input::Tokens(t) = p.subset(&[1, 0]).collate(&[0, 1], Padding::Dynamic, Device::Cpu) else {
            panic!()
        };
        assert_eq!(Vec::<i64>::try_from(t.types.unwrap().view([-1])).unwrap(), vec![0, 1, 0, 0, 0, 1]);
        assert_eq!(Vec::<i64>::try_from(t.anchors.unwrap().view([-1])).unwrap(), vec![0, 0, 1, 2]);
        let both = p.concat(&p.subset(&[1]));
        assert_eq!(both.items, [vec![5, 6, 7], vec![8, 9], vec![8, 9]]);
        assert_eq!(
            (both.segments.unwrap(), both.anchors.unwrap()),
            (vec![2, 1, 1], vec![[1, 2], [0, 0], [0, 0]])
        );
    }
}
