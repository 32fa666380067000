//! A compressed-row view of the non-abstain votes, shared by the label models: iterating votes
//! costs O(votes) instead of O(rows × LFs) on sparse matrices (WRENCH SMS: 73 LFs, ~1 vote a row).

use crate::matrix::{ABSTAIN, LabelMatrix};

/// Non-abstain votes in CSR layout.
#[derive(Debug, Clone)]
pub(crate) struct Votes {
    pub n_rows: usize,
    pub n_lfs: usize,
    pub cardinality: usize,
    /// `row_ptr[i]..row_ptr[i + 1]` indexes row `i`'s votes.
    pub row_ptr: Vec<u32>,
    pub lf: Vec<u32>,
    pub label: Vec<u16>,
}

impl Votes {
    pub fn new(m: &LabelMatrix) -> Self {
        let mut row_ptr = Vec::with_capacity(m.n_rows() + 1);
        let mut lf = Vec::new();
        let mut label = Vec::new();
        row_ptr.push(0);
        for row in m.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != ABSTAIN {
                    lf.push(j as u32);
                    label.push(v as u16);
                }
            }
            row_ptr.push(lf.len() as u32);
        }
        Self { n_rows: m.n_rows(), n_lfs: m.n_lfs(), cardinality: m.cardinality(), row_ptr, lf, label }
    }

    /// `(lf, label)` pairs of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (a, b) = (self.row_ptr[i] as usize, self.row_ptr[i + 1] as usize);
        self.lf[a..b].iter().zip(&self.label[a..b]).map(|(&j, &l)| (j as usize, l as usize))
    }

    #[inline]
    pub fn is_covered(&self, i: usize) -> bool {
        self.row_ptr[i + 1] > self.row_ptr[i]
    }

    /// Rows with at least one vote.
    pub fn covered(&self) -> Vec<usize> {
        (0..self.n_rows).filter(|&i| self.is_covered(i)).collect()
    }
}
