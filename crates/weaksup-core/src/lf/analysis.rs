//! LF analysis in Snorkel's vocabulary (`LFAnalysis.lf_summary`): polarity, coverage, overlaps,
//! conflicts and, with gold labels, correct / incorrect / empirical accuracy, plus totals.

use serde::{Deserialize, Serialize};

use crate::matrix::{ABSTAIN, Label, LabelMatrix};

/// One LF's row of the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LfStats {
    pub name: String,
    pub kind: Option<String>,
    /// Distinct labels the LF emitted (sorted).
    pub polarity: Vec<Label>,
    /// Fraction of rows it votes on.
    pub coverage: f64,
    /// Fraction of rows where it votes and at least one other LF votes.
    pub overlaps: f64,
    /// Fraction of rows where it votes and another LF votes a different label.
    pub conflicts: f64,
    /// Votes equal to the gold label (rows with gold only).
    pub correct: Option<u64>,
    /// Votes different from the gold label (rows with gold only).
    pub incorrect: Option<u64>,
    /// `correct / (correct + incorrect)`; None without gold or without votes on gold rows.
    pub emp_acc: Option<f64>,
    /// Rows on which the LF failed (fault-tolerant application).
    pub faults: u64,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LfAnalysis {
    pub n_rows: usize,
    /// Rows with a gold label (None when the data has no label column).
    pub n_gold: Option<usize>,
    pub lfs: Vec<LfStats>,
    /// Fraction of rows with at least one vote.
    pub coverage: f64,
    /// Fraction of rows with at least two votes.
    pub overlap: f64,
    /// Fraction of rows with at least two different labels voted.
    pub conflict: f64,
}

/// Computes the summary. `gold` (one entry per row, None = unknown) enables accuracy columns;
/// `kinds` and `faults` (per LF, in column order) are copied into the rows when given.
pub fn analyze(
    matrix: &LabelMatrix,
    gold: Option<&[Option<u32>]>,
    kinds: Option<&[&str]>,
    faults: Option<&[u64]>,
) -> LfAnalysis {
    let (n, m) = (matrix.n_rows(), matrix.n_lfs());
    let mut votes = vec![0u64; m];
    let mut overlaps = vec![0u64; m];
    let mut conflicts = vec![0u64; m];
    let mut correct = vec![0u64; m];
    let mut incorrect = vec![0u64; m];
    let mut polarity = vec![vec![false; matrix.cardinality()]; m];
    let (mut covered, mut overlapped, mut conflicted) = (0u64, 0u64, 0u64);
    for (i, row) in matrix.rows().enumerate() {
        let mut k = 0;
        let mut first = ABSTAIN;
        let mut distinct = false;
        for &v in row {
            if v != ABSTAIN {
                k += 1;
                if first == ABSTAIN {
                    first = v;
                } else if v != first {
                    distinct = true;
                }
            }
        }
        if k == 0 {
            continue;
        }
        covered += 1;
        overlapped += (k >= 2) as u64;
        conflicted += distinct as u64;
        let g = gold.and_then(|g| g[i]);
        for (j, &v) in row.iter().enumerate() {
            if v == ABSTAIN {
                continue;
            }
            votes[j] += 1;
            polarity[j][v as usize] = true;
            overlaps[j] += (k >= 2) as u64;
            conflicts[j] += distinct as u64;
            if let Some(g) = g {
                if v as u32 == g {
                    correct[j] += 1;
                } else {
                    incorrect[j] += 1;
                }
            }
        }
    }
    let frac = |x: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let has_gold = gold.is_some();
    let lfs = (0..m)
        .map(|j| LfStats {
            name: matrix.lf_names()[j].clone(),
            kind: kinds.map(|k| k[j].to_string()),
            polarity: polarity[j].iter().enumerate().filter(|(_, b)| **b).map(|(c, _)| c as Label).collect(),
            coverage: frac(votes[j]),
            overlaps: frac(overlaps[j]),
            conflicts: frac(conflicts[j]),
            correct: has_gold.then_some(correct[j]),
            incorrect: has_gold.then_some(incorrect[j]),
            emp_acc: (has_gold && correct[j] + incorrect[j] > 0)
                .then(|| correct[j] as f64 / (correct[j] + incorrect[j]) as f64),
            faults: faults.map_or(0, |f| f[j]),
        })
        .collect();
    LfAnalysis {
        n_rows: n,
        n_gold: gold.map(|g| g.iter().filter(|x| x.is_some()).count()),
        lfs,
        coverage: frac(covered),
        overlap: frac(overlapped),
        conflict: frac(conflicted),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

impl LfAnalysis {
    fn cells(&self, classes: &[String]) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "lf",
            "kind",
            "polarity",
            "coverage",
            "overlaps",
            "conflicts",
            "correct",
            "incorrect",
            "emp_acc",
            "faults",
        ];
        let rows = self
            .lfs
            .iter()
            .map(|s| {
                let pol = s
                    .polarity
                    .iter()
                    .map(|&c| classes.get(c as usize).cloned().unwrap_or_else(|| c.to_string()))
                    .collect::<Vec<_>>()
                    .join("|");
                vec![
                    s.name.clone(),
                    opt(s.kind.clone()),
                    if pol.is_empty() { "-".into() } else { pol },
                    format!("{:.3}", s.coverage),
                    format!("{:.3}", s.overlaps),
                    format!("{:.3}", s.conflicts),
                    opt(s.correct),
                    opt(s.incorrect),
                    opt(s.emp_acc.map(|a| format!("{a:.3}"))),
                    s.faults.to_string(),
                ]
            })
            .collect();
        (header, rows)
    }

    /// An aligned plain-text table with a totals line, for terminals and `report.md`.
    pub fn to_table(&self, classes: &[String]) -> String {
        let (header, rows) = self.cells(classes);
        let mut out = crate::report::aligned_table(&header, &rows, 3);
        out.push_str(&format!(
            "rows {}{}  coverage {:.3}  overlap {:.3}  conflict {:.3}\n",
            self.n_rows,
            self.n_gold.map_or(String::new(), |g| format!(" (gold {g})")),
            self.coverage,
            self.overlap,
            self.conflict
        ));
        out
    }

    /// CSV with one row per LF (polarity as `A|B`).
    pub fn to_csv(&self, classes: &[String]) -> String {
        let (header, rows) = self.cells(classes);
        crate::report::csv_table(&header, &rows)
    }

    /// An SVG chart: empirical accuracy vs coverage per LF when gold exists (points numbered and
    /// coloured by the class the LF votes, names in a side table, LFs that never fire or never
    /// vote on a gold row listed in a note), else coverage bars.
    pub fn to_svg(&self, classes: &[String]) -> String {
        let has_acc = self.lfs.iter().any(|s| s.emp_acc.is_some());
        if has_acc {
            let items: Vec<crate::report::svg::KeyedPoint> = self
                .lfs
                .iter()
                .map(|s| crate::report::svg::KeyedPoint {
                    name: &s.name,
                    class: match s.polarity.as_slice() {
                        [c] if *c >= 0 => Some(*c as usize),
                        _ => None,
                    },
                    point: s.emp_acc.map(|a| (s.coverage, a)),
                })
                .collect();
            crate::report::svg::keyed_scatter(
                "LF coverage vs empirical accuracy",
                "coverage",
                "empirical accuracy (on rows with gold)",
                &items,
                classes,
                "never fire on a row with gold",
            )
        } else {
            let labels: Vec<String> = self.lfs.iter().map(|s| s.name.clone()).collect();
            let cov: Vec<f64> = self.lfs.iter().map(|s| s.coverage).collect();
            crate::report::svg::bars("LF coverage", "coverage", &labels, &cov)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_summary() {
        // rows × LFs (A, B, C); -1 = abstain
        //  r0:  0  0 -1   overlap, no conflict
        //  r1:  0  1 -1   overlap, conflict
        //  r2: -1 -1 -1   uncovered
        //  r3: -1  1  1   overlap, no conflict
        //  r4:  1 -1 -1   alone
        let m = LabelMatrix::new(
            vec![0, 0, -1, 0, 1, -1, -1, -1, -1, -1, 1, 1, 1, -1, -1],
            5,
            vec!["A".into(), "B".into(), "C".into()],
            2,
        )
        .unwrap();
        let gold = [Some(0), Some(1), Some(0), None, Some(0)];
        let a = analyze(&m, Some(&gold), None, None);
        assert_eq!(a.coverage, 0.8);
        assert_eq!(a.overlap, 0.6);
        assert_eq!(a.conflict, 0.2);
        assert_eq!(a.n_gold, Some(4));
        let (sa, sb, sc) = (&a.lfs[0], &a.lfs[1], &a.lfs[2]);
        assert_eq!(sa.polarity, vec![0, 1]);
        assert_eq!((sa.coverage, sa.overlaps, sa.conflicts), (0.6, 0.4, 0.2));
        // A votes 0 on r0 (gold 0 ✓), 0 on r1 (gold 1 ✗), 1 on r4 (gold 0 ✗)
        assert_eq!((sa.correct, sa.incorrect), (Some(1), Some(2)));
        assert!((sa.emp_acc.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(sb.polarity, vec![0, 1]);
        assert_eq!((sb.coverage, sb.overlaps, sb.conflicts), (0.6, 0.6, 0.2));
        // B: r0 0 ✓, r1 1 ✓, r3 no gold
        assert_eq!((sb.correct, sb.incorrect, sb.emp_acc), (Some(2), Some(0), Some(1.0)));
        assert_eq!((sc.coverage, sc.overlaps, sc.conflicts), (0.2, 0.2, 0.0));
        assert_eq!((sc.correct, sc.incorrect, sc.emp_acc), (Some(0), Some(0), None));

        let table = a.to_table(&["HAM".into(), "SPAM".into()]);
        assert!(table.contains("HAM|SPAM"), "{table}");
        assert!(table.contains("coverage 0.800  overlap 0.600  conflict 0.200"), "{table}");
        let csv = a.to_csv(&["HAM".into(), "SPAM".into()]);
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.lines().nth(3).unwrap().starts_with("C,,SPAM,0.200,0.200,0.000,0,0,,0"), "{csv}");
        assert!(a.to_svg(&["a".into(), "b".into()]).starts_with("<svg"));
    }

    #[test]
    fn without_gold_accuracy_is_absent() {
        let m = LabelMatrix::new(vec![0, -1], 2, vec!["A".into()], 2).unwrap();
        let a = analyze(&m, None, None, Some(&[3]));
        assert_eq!(a.lfs[0].emp_acc, None);
        assert_eq!(a.lfs[0].correct, None);
        assert_eq!(a.lfs[0].faults, 3);
        assert!(a.to_svg(&["a".into(), "b".into()]).contains("LF coverage"));
    }
}
