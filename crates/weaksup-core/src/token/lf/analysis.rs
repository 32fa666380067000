//! Token LF analysis: Snorkel's token-level summary (coverage, overlaps, conflicts, empirical
//! accuracy over tokens, as `LFAnalysis.lf_summary` would give on a token vote matrix) plus what
//! matters for sequence labeling, per LF and against gold spans: how many spans it marks, their
//! exact-match precision and the recall of gold spans of the types it votes.

use serde::{Deserialize, Serialize};

use crate::lf::analysis::{LfStats, analyze};
use crate::matrix::{ABSTAIN, Label, LabelMatrix};
use crate::token::scheme::{Chunking, OUTSIDE, Span, TagSet, spans};

/// One LF's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLfStats {
    /// Token-level statistics (rows are tokens; polarity are tag ids).
    pub tokens: LfStats,
    /// Entity types the LF marked (sorted type indices).
    pub types: Vec<usize>,
    /// Spans the LF marked (its votes chunked with conlleval rules, abstain read as `O`).
    pub spans: u64,
    /// Marked spans equal to a gold span (start, end and type).
    pub span_correct: Option<u64>,
    /// `span_correct / spans` (None without gold or without spans).
    pub span_precision: Option<f64>,
    /// Share of gold spans of the LF's types that it marks exactly.
    pub span_recall: Option<f64>,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLfAnalysis {
    pub n_sentences: usize,
    pub n_tokens: usize,
    /// Gold spans per type (None without gold).
    pub gold_spans: Option<Vec<u64>>,
    pub lfs: Vec<TokenLfStats>,
    /// Share of tokens with at least one vote.
    pub coverage: f64,
    /// Share of tokens with at least two votes.
    pub overlap: f64,
    /// Share of tokens with at least two different tags voted.
    pub conflict: f64,
    /// Share of gold spans that some LF marks exactly (None without gold).
    pub span_recall: Option<f64>,
}

/// Analyses a token vote matrix (`offsets`: `n_sentences + 1` token offsets; `gold`: a tag id per
/// token of `tags`). `kinds` and `faults` are copied into the rows when given.
pub fn analyze_tokens(
    matrix: &LabelMatrix,
    offsets: &[usize],
    tags: &TagSet,
    gold: Option<&[Label]>,
    kinds: Option<&[&str]>,
    faults: Option<&[u64]>,
) -> TokenLfAnalysis {
    let gold_opt: Option<Vec<Option<u32>>> = gold.map(|g| g.iter().map(|&t| u32::try_from(t).ok()).collect());
    let base = analyze(matrix, gold_opt.as_deref(), kinds, faults);
    let m = matrix.n_lfs();
    let n_types = tags.types.len();
    let mut marked = vec![0u64; m];
    let mut correct = vec![0u64; m];
    let mut types = vec![vec![false; n_types]; m];
    let mut found_per_type = vec![vec![0u64; n_types]; m];
    let mut gold_spans = vec![0u64; n_types];
    let mut any_found = 0u64;
    let mut column = Vec::new();
    for s in 0..offsets.len().saturating_sub(1) {
        let (a, b) = (offsets[s], offsets[s + 1]);
        let g: Vec<Span> = gold.map(|g| spans(&g[a..b], tags, Chunking::Conlleval)).unwrap_or_default();
        for sp in &g {
            gold_spans[sp.ty] += 1;
        }
        let mut found_any = vec![false; g.len()];
        for j in 0..m {
            column.clear();
            column.extend((a..b).map(|i| match matrix.row(i)[j] {
                ABSTAIN => OUTSIDE,
                v => v,
            }));
            for sp in spans(&column, tags, Chunking::Conlleval) {
                marked[j] += 1;
                types[j][sp.ty] = true;
                if let Ok(k) = g.binary_search(&sp) {
                    correct[j] += 1;
                    found_per_type[j][sp.ty] += 1;
                    found_any[k] = true;
                }
            }
        }
        any_found += found_any.iter().filter(|&&f| f).count() as u64;
    }
    let has_gold = gold.is_some();
    let lfs = base
        .lfs
        .into_iter()
        .enumerate()
        .map(|(j, tokens)| {
            let ty: Vec<usize> = (0..n_types).filter(|&t| types[j][t]).collect();
            let gold_of_types: u64 = ty.iter().map(|&t| gold_spans[t]).sum();
            let found: u64 = ty.iter().map(|&t| found_per_type[j][t]).sum();
            TokenLfStats {
                tokens,
                spans: marked[j],
                span_correct: has_gold.then_some(correct[j]),
                span_precision: (has_gold && marked[j] > 0).then(|| correct[j] as f64 / marked[j] as f64),
                span_recall: (has_gold && gold_of_types > 0).then(|| found as f64 / gold_of_types as f64),
                types: ty,
            }
        })
        .collect();
    let total_gold: u64 = gold_spans.iter().sum();
    TokenLfAnalysis {
        n_sentences: offsets.len().saturating_sub(1),
        n_tokens: matrix.n_rows(),
        gold_spans: has_gold.then_some(gold_spans),
        lfs,
        coverage: base.coverage,
        overlap: base.overlap,
        conflict: base.conflict,
        span_recall: (has_gold && total_gold > 0).then(|| any_found as f64 / total_gold as f64),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

impl TokenLfAnalysis {
    fn cells(&self, tags: &TagSet) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "lf",
            "kind",
            "types",
            "coverage",
            "overlaps",
            "conflicts",
            "token_acc",
            "spans",
            "span_precision",
            "span_recall",
            "faults",
        ];
        let rows = self
            .lfs
            .iter()
            .map(|s| {
                let types = if s.types.is_empty() {
                    let votes_o = s.tokens.polarity.contains(&OUTSIDE);
                    if votes_o { "O".to_string() } else { "-".to_string() }
                } else {
                    s.types.iter().map(|&t| tags.types[t].as_str()).collect::<Vec<_>>().join("|")
                };
                vec![
                    s.tokens.name.clone(),
                    s.tokens.kind.clone().unwrap_or_else(|| "-".into()),
                    types,
                    format!("{:.3}", s.tokens.coverage),
                    format!("{:.3}", s.tokens.overlaps),
                    format!("{:.3}", s.tokens.conflicts),
                    opt(s.tokens.emp_acc),
                    s.spans.to_string(),
                    opt(s.span_precision),
                    opt(s.span_recall),
                    s.tokens.faults.to_string(),
                ]
            })
            .collect();
        (header, rows)
    }

    /// An aligned plain-text table with a totals line.
    pub fn to_table(&self, tags: &TagSet) -> String {
        let (header, rows) = self.cells(tags);
        let mut out = crate::report::aligned_table(&header, &rows, 3);
        out.push_str(&format!(
            "sentences {}  tokens {}  coverage {:.3}  overlap {:.3}  conflict {:.3}",
            self.n_sentences, self.n_tokens, self.coverage, self.overlap, self.conflict
        ));
        if let (Some(g), Some(r)) = (&self.gold_spans, self.span_recall) {
            out.push_str(&format!("  gold spans {}  found by some LF {r:.3}", g.iter().sum::<u64>()));
        }
        out.push('\n');
        out
    }

    /// CSV with one row per LF (types as `A|B`).
    pub fn to_csv(&self, tags: &TagSet) -> String {
        let (header, rows) = self.cells(tags);
        crate::report::csv_table(&header, &rows)
    }
}
