//! The label matrix: one vote per (row, labeling function), `ABSTAIN` where an LF did not fire.
//!
//! Stored row-major as `i16` (Snorkel's `L` matrix layout), which fits any realistic number of
//! classes (< 32,767) at a quarter of the memory of `i64`. It is the hand-off between the LF stage,
//! the label models and the end models, so it converts to a polars `DataFrame` (one `Int16` column
//! per LF) and to Parquet (plus a JSON sidecar with class names).

use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// A vote: a class id in `0..cardinality`, or [`ABSTAIN`].
pub type Label = i16;
/// The vote of an LF that does not fire.
pub const ABSTAIN: Label = -1;

/// An `n_rows × n_lfs` matrix of votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatrix {
    votes: Vec<Label>,
    n_rows: usize,
    lf_names: Vec<String>,
    cardinality: usize,
}

/// What is saved beside a label matrix's Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixMeta {
    pub n_rows: usize,
    pub lf_names: Vec<String>,
    pub classes: Vec<String>,
}

impl LabelMatrix {
    /// Builds a matrix from row-major votes, checking shape and that every vote is
    /// `ABSTAIN` or a class id below `cardinality`.
    pub fn new(votes: Vec<Label>, n_rows: usize, lf_names: Vec<String>, cardinality: usize) -> Result<Self> {
        let m = lf_names.len();
        if votes.len() != n_rows * m {
            return Err(Error::invalid(
                "label matrix",
                format!("{} votes for {n_rows} rows × {m} LFs", votes.len()),
            ));
        }
        if cardinality < 2 || cardinality > Label::MAX as usize {
            return Err(Error::invalid(
                "label matrix",
                format!("cardinality {cardinality} outside 2..={}", Label::MAX),
            ));
        }
        if let Some(pos) = votes.iter().position(|&v| v < ABSTAIN || v as isize >= cardinality as isize) {
            let (row, col) = (pos / m.max(1), pos % m.max(1));
            return Err(Error::invalid(
                "label matrix",
                format!("row {row}, LF `{}`: vote {} outside -1..{cardinality}", lf_names[col], votes[pos]),
            ));
        }
        Ok(Self { votes, n_rows, lf_names, cardinality })
    }

    /// Builds a matrix from per-LF columns (each of length `n_rows`).
    pub fn from_columns(columns: &[Vec<Label>], lf_names: Vec<String>, cardinality: usize) -> Result<Self> {
        let n = columns.first().map_or(0, Vec::len);
        if columns.len() != lf_names.len() {
            return Err(Error::invalid(
                "label matrix",
                format!("{} columns for {} LF names", columns.len(), lf_names.len()),
            ));
        }
        if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(Error::invalid(
                "label matrix",
                format!("LF `{}` has {} votes, expected {n}", lf_names[j], c.len()),
            ));
        }
        let m = columns.len();
        let mut votes = vec![ABSTAIN; n * m];
        for (j, col) in columns.iter().enumerate() {
            for (i, &v) in col.iter().enumerate() {
                votes[i * m + j] = v;
            }
        }
        Self::new(votes, n, lf_names, cardinality)
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    pub fn n_lfs(&self) -> usize {
        self.lf_names.len()
    }
    pub fn cardinality(&self) -> usize {
        self.cardinality
    }
    pub fn lf_names(&self) -> &[String] {
        &self.lf_names
    }
    /// Row-major votes, `n_rows * n_lfs` long.
    pub fn votes(&self) -> &[Label] {
        &self.votes
    }
    /// The votes of row `i`, one per LF.
    pub fn row(&self, i: usize) -> &[Label] {
        let m = self.n_lfs();
        &self.votes[i * m..(i + 1) * m]
    }
    /// Iterates rows.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[Label]> + '_ {
        (0..self.n_rows).map(move |i| self.row(i))
    }
    /// Per row: whether any LF voted (rows where every LF abstains are "uncovered").
    pub fn covered(&self) -> Vec<bool> {
        self.rows().map(|r| r.iter().any(|&v| v != ABSTAIN)).collect()
    }

    /// Per row: whether the most-voted class shares its vote count with another class (e.g. one
    /// vote for each of two classes). Rows without votes are not tied. The label model breaks
    /// these ties, so its label there is its own guess rather than the LFs' majority.
    ///
    /// ```python
    /// counts = np.stack([(L == k).sum(1) for k in range(C)], 1)
    /// top = counts.max(1); tied = (top > 0) & ((counts == top[:, None]).sum(1) > 1)
    /// ```
    pub fn tied(&self) -> Vec<bool> {
        let c = self.cardinality;
        let mut counts = vec![0u32; c];
        self.rows()
            .map(|r| {
                counts.fill(0);
                for &v in r.iter().filter(|&&v| v != ABSTAIN) {
                    counts[v as usize] += 1;
                }
                let top = counts.iter().copied().max().unwrap_or(0);
                top > 0 && counts.iter().filter(|&&n| n == top).count() > 1
            })
            .collect()
    }

    /// The votes of LF `j` over all rows.
    pub fn column(&self, j: usize) -> Vec<Label> {
        self.rows().map(|r| r[j]).collect()
    }

    /// Keeps the rows in `range` (e.g. one split out of a concatenation).
    pub fn slice_rows(&self, start: usize, len: usize) -> Result<Self> {
        if start + len > self.n_rows {
            return Err(Error::invalid(
                "label matrix",
                format!("rows {start}..{} of {}", start + len, self.n_rows),
            ));
        }
        let m = self.n_lfs();
        Ok(Self {
            votes: self.votes[start * m..(start + len) * m].to_vec(),
            n_rows: len,
            lf_names: self.lf_names.clone(),
            cardinality: self.cardinality,
        })
    }

    /// Keeps the rows `rows`, in that order (e.g. one split of `weaksup data split`).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.n_rows) {
            return Err(Error::invalid("label matrix", format!("row {bad} of {}", self.n_rows)));
        }
        let mut votes = Vec::with_capacity(rows.len() * self.n_lfs());
        for &r in rows {
            votes.extend_from_slice(self.row(r));
        }
        Ok(Self { votes, n_rows: rows.len(), lf_names: self.lf_names.clone(), cardinality: self.cardinality })
    }

    /// One `Int16` column per LF, named after it.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let cols: Vec<Column> = (0..self.n_lfs())
            .map(|j| Column::new(self.lf_names[j].as_str().into(), self.column(j)))
            .collect();
        DataFrame::new_infer_height(cols).ctx(|| "label matrix to DataFrame".into())
    }

    /// Reads the matrix back from a frame whose every column is an integer LF column.
    pub fn from_frame(frame: &DataFrame, cardinality: usize) -> Result<Self> {
        let mut columns = Vec::with_capacity(frame.width());
        let mut names = Vec::with_capacity(frame.width());
        for c in frame.columns() {
            let name = c.name().to_string();
            let s = c.cast(&DataType::Int16).ctx(|| format!("LF column `{name}` as Int16"))?;
            let ca = s.i16().ctx(|| format!("LF column `{name}`"))?;
            if let Some(pos) = ca.iter().position(|v| v.is_none()) {
                return Err(Error::invalid(
                    format!("LF column `{name}`"),
                    format!("null vote at row {pos} (abstain is -1)"),
                ));
            }
            columns.push(ca.into_no_null_iter().collect::<Vec<_>>());
            names.push(name);
        }
        Self::from_columns(&columns, names, cardinality)
    }

    /// Writes `path` (Parquet, one Int16 column per LF) and `path.json` ([`MatrixMeta`]).
    pub fn write_parquet(&self, path: &Path, classes: &[String]) -> Result<()> {
        if classes.len() != self.cardinality {
            return Err(Error::invalid(
                "label matrix",
                format!("{} class names for cardinality {}", classes.len(), self.cardinality),
            ));
        }
        let mut frame = self.to_frame()?;
        crate::data::write_parquet(&mut frame, path)?;
        let meta =
            MatrixMeta { n_rows: self.n_rows, lf_names: self.lf_names.clone(), classes: classes.to_vec() };
        crate::data::write_json(&meta_path(path), &meta)
    }

    /// Reads a matrix written by [`LabelMatrix::write_parquet`]; returns it with its class names.
    pub fn read_parquet(path: &Path) -> Result<(Self, Vec<String>)> {
        let meta: MatrixMeta = crate::data::read_json(&meta_path(path))?;
        let frame = crate::data::read_parquet(path)?;
        let m = Self::from_frame(&frame, meta.classes.len())?;
        if m.n_rows != meta.n_rows || m.lf_names != meta.lf_names {
            return Err(Error::invalid(
                path.display().to_string(),
                "Parquet content does not match its .json sidecar",
            ));
        }
        Ok((m, meta.classes))
    }
}

fn meta_path(path: &Path) -> std::path::PathBuf {
    crate::data::with_suffix(path, ".json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> LabelMatrix {
        LabelMatrix::new(vec![0, -1, 1, 1, -1, -1], 3, vec!["a".into(), "b".into()], 2).unwrap()
    }

    #[test]
    fn rows_and_columns() {
        let m = small();
        assert_eq!(m.row(1), &[1, 1]);
        assert_eq!(m.column(0), vec![0, 1, -1]);
        assert_eq!(m.column(1), vec![-1, 1, -1]);
        let back = LabelMatrix::from_columns(&[m.column(0), m.column(1)], m.lf_names().to_vec(), 2).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn tied_rows_share_the_top_vote_count() {
        // 3 classes, 4 LFs. numpy: counts = np.stack([(L == k).sum(1) for k in range(3)], 1);
        // top = counts.max(1); (top > 0) & ((counts == top[:, None]).sum(1) > 1)
        //   → [True, False, False, True, True, False, False]
        let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let m = LabelMatrix::new(
            vec![
                0, 1, -1, -1, // one vote each: tied
                0, 0, 1, -1, // 2 vs 1
                -1, -1, -1, -1, // uncovered
                0, 1, 2, -1, // three-way tie
                2, 2, 1, 1, // 2 vs 2
                1, -1, -1, -1, // one vote
                1, 1, 1, 1, // unanimous (WRENCH's cut_tied drops these too; we keep them)
            ],
            7,
            names,
            3,
        )
        .unwrap();
        assert_eq!(m.tied(), vec![true, false, false, true, true, false, false]);
    }

    #[test]
    fn rejects_out_of_range_votes_and_bad_shapes() {
        let e = LabelMatrix::new(vec![0, 2], 1, vec!["a".into(), "b".into()], 2).unwrap_err();
        assert!(e.to_string().contains("row 0, LF `b`: vote 2"), "{e}");
        assert!(LabelMatrix::new(vec![0, -2], 1, vec!["a".into(), "b".into()], 2).is_err());
        assert!(LabelMatrix::new(vec![0], 1, vec!["a".into(), "b".into()], 2).is_err());
        assert!(LabelMatrix::from_columns(&[vec![0], vec![0, 1]], vec!["a".into(), "b".into()], 2).is_err());
    }

    #[test]
    fn frame_and_parquet_round_trips() {
        let m = small();
        let f = m.to_frame().unwrap();
        assert_eq!(f.shape(), (3, 2));
        assert_eq!(LabelMatrix::from_frame(&f, 2).unwrap(), m);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("votes.parquet");
        m.write_parquet(&p, &["HAM".into(), "SPAM".into()]).unwrap();
        let (back, classes) = LabelMatrix::read_parquet(&p).unwrap();
        assert_eq!(back, m);
        assert_eq!(classes, vec!["HAM", "SPAM"]);
    }
}
