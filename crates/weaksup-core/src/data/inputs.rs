//! What an end model reads from each row: the `text` column, a relation with its two entities
//! marked, or a sentence pair. The data, LF and label-model layers never see this; it is the one
//! place where frame columns become the strings a tokenizer encodes.
//!
//! Entities (relations) and target words (sentence pairs) are wrapped in the four
//! [`ENTITY_MARKERS`], which the end model adds to its tokenizer as special tokens: a relation's
//! first entity in `[E1] … [/E1]` and its second in `[E2] … [/E2]` (Baldini Soares et al. 2019,
//! "Matching the Blanks"; Wu & He 2019, R-BERT); a pair's target word in `[E1] … [/E1]` in the
//! first sentence and `[E2] … [/E2]` in the second.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The entity markers, in the order the end model adds them: entity 1 start and end, entity 2
/// start and end.
pub const ENTITY_MARKERS: [&str; 4] = ["[E1]", "[/E1]", "[E2]", "[/E2]"];

/// Span columns of relation data (character offsets, end exclusive, as WRENCH writes them).
pub const SPAN_COLUMNS: [&str; 4] = ["span1_start", "span1_end", "span2_start", "span2_end"];
/// The two sentences of pair data.
pub const PAIR_COLUMNS: [&str; 2] = ["sentence1", "sentence2"];
/// Target-word offsets of pair data (characters, end exclusive, as WiC writes them).
pub const PAIR_SPAN_COLUMNS: [&str; 4] = ["start1", "end1", "start2", "end2"];

/// What the end model reads from each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum ModelInput {
    /// The `text` column.
    #[default]
    Text,
    /// A relation between two entities of `text`, marked `[E1] … [/E1]` and `[E2] … [/E2]`: from
    /// the span columns `span1_start`, `span1_end`, `span2_start`, `span2_end` (WRENCH relation
    /// sets), or else from inline tags `[TAG] … [\TAG]` in the text (the COSINE paper's ChemProt:
    /// `[CHEMICAL]`, `[GENE]`). With inline tags of two different names, entity 1 is the name
    /// first in alphabetical order (ChemProt: CHEMICAL); with one name, the first in the text.
    Relation,
    /// A sentence pair from the columns `sentence1` and `sentence2`, encoded as one pair
    /// (`[CLS] a [SEP] b [SEP]` with token types); when `start1`, `end1`, `start2`, `end2`
    /// exist (WiC), the target word is marked `[E1] … [/E1]` in the first sentence and
    /// `[E2] … [/E2]` in the second.
    Pair,
}

impl ModelInput {
    /// Whether the end model adds [`ENTITY_MARKERS`] to its tokenizer for this input.
    pub fn uses_markers(self) -> bool {
        self != ModelInput::Text
    }
}

/// The strings an end model encodes: one per row, or a pair per row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelTexts {
    pub first: Vec<String>,
    /// The second sentence of each pair.
    pub second: Option<Vec<String>>,
}

impl ModelTexts {
    pub fn len(&self) -> usize {
        self.first.len()
    }
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// The model inputs of every row of `frame`; `ctx` names the data in errors (a file and split).
pub fn model_texts(frame: &DataFrame, input: ModelInput, ctx: &str) -> Result<ModelTexts> {
    match input {
        ModelInput::Text => Ok(ModelTexts { first: strings(frame, super::TEXT, ctx)?, second: None }),
        ModelInput::Relation => {
            let texts = strings(frame, super::TEXT, ctx)?;
            let first = if SPAN_COLUMNS.iter().all(|c| frame.column(c).is_ok()) {
                let spans = span_columns(frame, &SPAN_COLUMNS, ctx)?;
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let [a, b, c, d] = spans[i];
                        mark_spans(t, [(a, b, 0), (c, d, 1)]).map_err(|m| row_error(ctx, i, "span1/span2", m))
                    })
                    .collect::<Result<_>>()?
            } else {
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| mark_inline(t).map_err(|m| row_error(ctx, i, "text", m)))
                    .collect::<Result<_>>()?
            };
            Ok(ModelTexts { first, second: None })
        }
        ModelInput::Pair => {
            let a = strings(frame, PAIR_COLUMNS[0], ctx)?;
            let b = strings(frame, PAIR_COLUMNS[1], ctx)?;
            if !PAIR_SPAN_COLUMNS.iter().all(|c| frame.column(c).is_ok()) {
                return Ok(ModelTexts { first: a, second: Some(b) });
            }
            let spans = span_columns(frame, &PAIR_SPAN_COLUMNS, ctx)?;
            let mut first = Vec::with_capacity(a.len());
            let mut second = Vec::with_capacity(b.len());
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let [s1, e1, s2, e2] = spans[i];
                first.push(mark_spans(x, [(s1, e1, 0)]).map_err(|m| row_error(ctx, i, "start1/end1", m))?);
                second.push(mark_spans(y, [(s2, e2, 1)]).map_err(|m| row_error(ctx, i, "start2/end2", m))?);
            }
            Ok(ModelTexts { first, second: Some(second) })
        }
    }
}

fn row_error(ctx: &str, row: usize, field: &str, msg: String) -> Error {
    Error::invalid(ctx, format!("row {row}: {msg} (field `{field}`)"))
}

fn strings(frame: &DataFrame, name: &str, ctx: &str) -> Result<Vec<String>> {
    let col = super::column(frame, name, ctx)?;
    let ca = col
        .str()
        .map_err(|_| Error::invalid(ctx, format!("column `{name}` is {}, expected strings", col.dtype())))?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| v.map(str::to_string).ok_or_else(|| row_error(ctx, i, name, "missing value".into())))
        .collect()
}

fn span_columns(frame: &DataFrame, names: &[&str; 4], ctx: &str) -> Result<Vec<[i64; 4]>> {
    let mut cols = Vec::with_capacity(4);
    for name in names {
        let col = super::column(frame, name, ctx)?;
        let cast = col.cast(&DataType::Int64).map_err(|_| {
            Error::invalid(ctx, format!("column `{name}` is {}, expected integers", col.dtype()))
        })?;
        let ca = cast.i64().map_err(|e| Error::invalid(ctx, e.to_string()))?.clone();
        cols.push(ca);
    }
    (0..frame.height())
        .map(|i| {
            let mut out = [0i64; 4];
            for (k, ca) in cols.iter().enumerate() {
                out[k] = ca.get(i).ok_or_else(|| row_error(ctx, i, names[k], "missing offset".into()))?;
            }
            Ok(out)
        })
        .collect()
}

/// `text` with each span `(start, end, entity)` (character offsets, end exclusive) wrapped in
/// the markers of entity 0 or 1. Spans must lie in the text, be non-empty and not overlap.
pub fn mark_spans<const N: usize>(
    text: &str,
    spans: [(i64, i64, usize); N],
) -> std::result::Result<String, String> {
    // Character offsets → byte offsets (WRENCH and WiC count Unicode scalar values, as Python does).
    let bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect();
    let chars = bytes.len() as i64 - 1;
    let mut cuts: Vec<(usize, usize, usize)> = Vec::with_capacity(N);
    for (s, e, k) in spans {
        if !(0 <= s && s < e && e <= chars) {
            return Err(format!("span {s}..{e} is empty or outside the text's {chars} characters"));
        }
        cuts.push((bytes[s as usize], bytes[e as usize], k));
    }
    cuts.sort();
    if cuts.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err("the two spans overlap".into());
    }
    let mut out = String::with_capacity(text.len() + 12 * N);
    let mut at = 0;
    for (s, e, k) in cuts {
        out.push_str(&text[at..s]);
        out.push_str(ENTITY_MARKERS[2 * k]);
        out.push(' ');
        out.push_str(&text[s..e]);
        out.push(' ');
        out.push_str(ENTITY_MARKERS[2 * k + 1]);
        at = e;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// One inline-tagged entity: tag name and byte ranges of the opening and closing tags.
struct Tagged<'a> {
    name: &'a str,
    open: (usize, usize),
    close: (usize, usize),
}

/// `text` with its two inline-tagged entities (`[TAG] … [\TAG]` or `[TAG] … [/TAG]`) re-tagged
/// with the entity markers: entity 1 is the tag name first in alphabetical order, or the first
/// in the text when both have the same name. Anything but exactly two tagged entities is an error.
pub fn mark_inline(text: &str) -> std::result::Result<String, String> {
    let mut found: Vec<Tagged> = Vec::new();
    let mut pos = 0;
    while let Some(off) = text[pos..].find('[') {
        let start = pos + off;
        let Some(len) = text[start + 1..].find(']') else { break };
        let inner = &text[start + 1..start + 1 + len];
        let end = start + len + 2;
        let is_name =
            !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if is_name && inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let closer = [format!("[\\{inner}]"), format!("[/{inner}]")];
            let close = closer
                .iter()
                .filter_map(|c| text[end..].find(c.as_str()).map(|o| (end + o, end + o + c.len())))
                .min();
            if let Some(close) = close {
                found.push(Tagged { name: inner, open: (start, end), close });
                pos = close.1;
                continue;
            }
        }
        pos = start + 1;
    }
    let [a, b] = found.as_slice() else {
        return Err(format!("expected two entities tagged inline ([TAG] … [\\TAG]), found {}", found.len()));
    };
    let (e1, e2) = if a.name != b.name && b.name < a.name { (b, a) } else { (a, b) };
    let mut edits = [
        (e1.open, ENTITY_MARKERS[0]),
        (e1.close, ENTITY_MARKERS[1]),
        (e2.open, ENTITY_MARKERS[2]),
        (e2.close, ENTITY_MARKERS[3]),
    ];
    edits.sort_by_key(|((s, _), _)| *s);
    let mut out = String::with_capacity(text.len() + 8);
    let mut at = 0;
    // Spaces keep each marker a word of its own for any tokenizer.
    let push_text = |out: &mut String, piece: &str| {
        out.push_str(if out.ends_with(' ') { piece.trim_start() } else { piece });
    };
    for ((s, e), m) in edits {
        push_text(&mut out, &text[at..s]);
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(m);
        out.push(' ');
        at = e;
    }
    push_text(&mut out, &text[at..]);
    Ok(out.trim_end().to_string())
}

crate::cli_enum!(ModelInput => "model input");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_characters_not_bytes() {
        // WRENCH chemprot valid row 0 (Python: t[96:117] == 'BK Channel β1-Subunit').
        let t = "Cholane Steroid-Recognition Site in the BK Channel β1-Subunit by a Novel Agent.";
        let s1 = t.find("BK").unwrap() as i64;
        let marked = mark_spans(t, [(s1, s1 + 21, 0), (8, 15, 1)]).unwrap();
        assert_eq!(
            marked,
            "Cholane [E2] Steroid [/E2]-Recognition Site in the [E1] BK Channel β1-Subunit [/E1] by a Novel Agent."
        );
        assert!(mark_spans(t, [(0, 9, 0), (8, 15, 1)]).unwrap_err().contains("overlap"));
        assert!(mark_spans(t, [(70, 200, 0)]).unwrap_err().contains("outside"));
        assert!(mark_spans(t, [(3, 3, 0)]).unwrap_err().contains("empty"));
    }

    #[test]
    fn inline_tags_become_markers_alphabetically() {
        let t = r"Binding of [GENE]ER alpha[\GENE] to [CHEMICAL]tamoxifen[\CHEMICAL] in cells.";
        assert_eq!(
            mark_inline(t).unwrap(),
            "Binding of [E2] ER alpha [/E2] to [E1] tamoxifen [/E1] in cells."
        );
        let same = "[X]a[/X] and [X]b[/X]";
        assert_eq!(mark_inline(same).unwrap(), "[E1] a [/E1] and [E2] b [/E2]");
        let err = mark_inline("no [GENE]entity[\\GENE] pair").unwrap_err();
        assert!(err.contains("found 1"), "{err}");
        // Brackets that are not tags stay text.
        let t = r"[CHEMICAL]Ca[2+][\CHEMICAL] binds [GENE]CaM[\GENE] [ref 3]";
        assert_eq!(mark_inline(t).unwrap(), "[E1] Ca[2+] [/E1] binds [E2] CaM [/E2] [ref 3]");
    }
}
