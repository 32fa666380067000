//! Compiling SQL-expression LFs: polars SQL parses each expression once per LF set, then two
//! rewrites make the plan cheap to run on every chunk, both exact (same votes; test
//! `optimized_sql_votes_equal_plain_polars`):
//!
//! - **`lower(col)` is computed once per chunk**, not once per occurrence: every `lower(X)` in
//!   any SQL LF of the set becomes a read of one lower-cased copy of `X` that the applier adds to
//!   the chunk (polars' own `to_lowercase`, the function `lower` maps to, so values are
//!   identical). Case-insensitive keyword LFs over `X` read the same copy instead of lower-casing
//!   every row again. (`youtube_spam.toml` writes `lower(AUTHOR)` 7 times and `lower(text)` 3 times.)
//! - **`LIKE` without inner wildcards is a substring test**: polars turns `x LIKE '%lit%'` into the
//!   anchored regex `^(?s).*lit.*$`, which must scan every row to its end; `'%lit%'`, `'lit%'`
//!   and `'%lit'` become `contains_literal`, `starts_with` and `ends_with` (memchr), ~5× faster.
//!   Patterns with `_`, inner `%` or `ILIKE` keep the regex.

use polars::prelude::*;

use super::builtin::SqlLf;
use crate::error::Result;
use crate::matrix::ABSTAIN;

/// The name of the lower-cased copy of column `col` that the applier adds to each chunk.
pub(crate) fn lowered_name(col: &str) -> String {
    format!("__weaksup_lower__{col}")
}

/// The SQL LFs of a set, parsed and rewritten once.
pub(crate) struct SqlPlan {
    /// One expression per SQL LF: `label` where the condition holds, else `ABSTAIN` (Int16).
    pub exprs: Vec<Expr>,
    /// Source columns of which a lower-cased copy must be in the chunk, first-seen order.
    pub lowered: Vec<String>,
}

impl SqlPlan {
    pub fn new(lfs: &[&SqlLf]) -> Result<Self> {
        let mut lowered = Vec::new();
        let exprs = lfs
            .iter()
            .map(|lf| Ok(vote_expr(lf, optimize(lf.condition()?, &mut lowered))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { exprs, lowered })
    }
}

/// Adds the lower-cased copy of string column `col` to `chunk` (kept if already there).
pub(crate) fn add_lowered(chunk: &mut DataFrame, col: &str) -> PolarsResult<()> {
    let name = lowered_name(col);
    if chunk.column(&name).is_ok() {
        return Ok(());
    }
    let low = chunk.column(col)?.str()?.to_lowercase().with_name(name.as_str().into());
    chunk.with_column(low.into_column())?;
    Ok(())
}

/// `label` where `cond` holds, `ABSTAIN` elsewhere and on null, as Int16 named after the LF.
pub(crate) fn vote_expr(lf: &SqlLf, cond: Expr) -> Expr {
    when(cond)
        .then(lit(lf.label as i32))
        .otherwise(lit(ABSTAIN as i32))
        .cast(DataType::Int16)
        .alias(lf.name.as_str())
}

/// Rewrites `lower(col)` to the shared lower-cased column (recording `col` in `lowered`) and
/// wildcard-only `LIKE` regexes to literal substring, prefix and suffix tests.
pub(crate) fn optimize(expr: Expr, lowered: &mut Vec<String>) -> Expr {
    expr.map_expr(|e| match e {
        Expr::Function { input, function: FunctionExpr::StringExpr(StringFunction::Lowercase) }
            if matches!(input.as_slice(), [Expr::Column(_)]) =>
        {
            let Expr::Column(c) = &input[0] else { unreachable!() };
            if !lowered.iter().any(|l| l == c.as_str()) {
                lowered.push(c.to_string());
            }
            col(lowered_name(c))
        }
        Expr::Function { input, function: FunctionExpr::StringExpr(StringFunction::Contains { literal: false, strict }) } => {
            let like = match input.as_slice() {
                [_, Expr::Literal(l)] => l.extract_str().and_then(like_shape),
                _ => None,
            };
            match like {
                Some(shape) => {
                    let subject = input.into_iter().next().expect("two inputs");
                    match shape {
                        Like::Contains(s) => subject.str().contains_literal(lit(s)),
                        Like::StartsWith(s) => subject.str().starts_with(lit(s)),
                        Like::EndsWith(s) => subject.str().ends_with(lit(s)),
                    }
                }
                None => Expr::Function { input, function: FunctionExpr::StringExpr(StringFunction::Contains { literal: false, strict }) },
            }
        }
        other => other,
    })
}

/// A `LIKE` pattern that is a literal with `%` at one or both ends.
#[derive(Debug, PartialEq)]
enum Like {
    Contains(String),
    StartsWith(String),
    EndsWith(String),
}

/// Recognises the regex polars SQL builds for a case-sensitive `LIKE` (`^(?s)` + the escaped
/// pattern with `%` → `.*`, `_` → `.` + `$`) when the pattern is a non-empty literal with a `%`
/// at its start, its end or both, and nothing else wild.
fn like_shape(rx: &str) -> Option<Like> {
    let body = rx.strip_prefix("^(?s)")?.strip_suffix('$')?;
    let (lead, body) = match body.strip_prefix(".*") {
        Some(b) => (true, b),
        None => (false, body),
    };
    // A trailing `.*` is a wildcard unless its `.` is escaped (an odd run of `\\` before it).
    let (trail, body) = match body.strip_suffix(".*") {
        Some(b) if b.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0 => (true, b),
        _ => (false, body),
    };
    let mut lit = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => lit.push(chars.next()?),
            // Any unescaped meta character is a wildcard (`_` → `.`, inner `%` → `.*`): keep the regex.
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => return None,
            c => lit.push(c),
        }
    }
    if lit.is_empty() {
        return None;
    }
    match (lead, trail) {
        (true, true) => Some(Like::Contains(lit)),
        (false, true) => Some(Like::StartsWith(lit)),
        (true, false) => Some(Like::EndsWith(lit)),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regex polars-sql 0.55 builds for `LIKE pat` (`visit_like`), for the shape tests.
    fn polars_like(pat: &str) -> String {
        format!("^(?s){}$", regex::escape(pat).replace('%', ".*").replace('_', "."))
    }

    #[test]
    fn like_shapes() {
        let s = |p: &str| like_shape(&polars_like(p));
        assert_eq!(s("%check%"), Some(Like::Contains("check".into())));
        assert_eq!(s("check%"), Some(Like::StartsWith("check".into())));
        assert_eq!(s("%check"), Some(Like::EndsWith("check".into())));
        assert_eq!(s("%a.b*c\\d%"), Some(Like::Contains("a.b*c\\d".into())));
        // No ESCAPE in polars SQL: `\` is a literal backslash and the `%` after it a wildcard.
        assert_eq!(s("%50\\%"), Some(Like::Contains("50\\".into())));
        assert_eq!(s("50\\"), None);
        assert_eq!(s("%a_b%"), None);
        assert_eq!(s("%a%b%"), None);
        assert_eq!(s("%%"), None);
        assert_eq!(s("%"), None);
        assert_eq!(s("abc"), None);
        assert_eq!(like_shape("^(?is).*check.*$"), None, "ILIKE keeps the regex");
    }

    /// The applier's votes (rewritten plan, shared lower-cased columns, keyword LFs reading them)
    /// equal polars SQL's own evaluation of every expression, on text with Unicode case changes
    /// (final sigma, `İ`), newlines, regex and LIKE metacharacters and nulls.
    #[test]
    fn optimized_sql_votes_equal_plain_polars() {
        use crate::lf::{KeywordLf, LfSet};
        let text = [
            Some("Check out my channel"), Some("CHECK\nOUT"), Some("ΟΔΟΣ ΣΑΣ"), Some("İstanbul ok"),
            Some("a.b*c(d)%e_f"), Some("50%"), Some(""), None, Some("checkcheck"), Some("xcheck"),
            Some("price: $5 [sale]"), Some("ends with check"),
        ];
        let author = [
            Some("Vevo Music"), None, Some("σας"), Some("İ"), Some("Official"), Some("x"), Some(""),
            Some("MUSIC"), Some("a_b"), Some("ab"), Some("$"), Some("studio"),
        ];
        let frame = DataFrame::new_infer_height(vec![
            Column::new("text".into(), text.to_vec()),
            Column::new("AUTHOR".into(), author.to_vec()),
        ])
        .unwrap();
        let exprs = [
            "lower(text) LIKE '%check%'",
            "lower(text) NOT LIKE '%check%' AND length(text) < 12",
            "text LIKE 'Check%'",
            "lower(text) LIKE '%check'",
            "text LIKE '%.b*c(%'",
            "text LIKE '%\\%%'",
            "text LIKE '%$5 [%'",
            "lower(text) LIKE '%σας%' OR lower(text) LIKE '%i̇st%'",
            "lower(text) LIKE '%c_eck%'",
            "text ILIKE '%check%'",
            "lower(AUTHOR) LIKE '%music%' OR lower(AUTHOR) LIKE '%official%'",
            "lower(AUTHOR) = 'a_b' OR AUTHOR LIKE 'a_b'",
            "upper(lower(text)) LIKE '%CHECK%'",
        ];
        let mut set = LfSet::new(vec!["no".into(), "yes".into()]).unwrap();
        for (i, e) in exprs.iter().enumerate() {
            set.add_sql(SqlLf::new(format!("s{i}"), *e, 1)).unwrap();
        }
        set.add_keyword(KeywordLf::new("kw", ["check out", "σας"], 0)).unwrap();
        let plain: Vec<Expr> = (0..exprs.len()).map(|i| SqlLf::new(format!("s{i}"), exprs[i], 1).to_expr().unwrap()).collect();
        let want = frame.clone().lazy().select(plain).collect().unwrap();
        let applied = set.compile().unwrap().apply(&frame, &Default::default(), &crate::progress::NoProgress).unwrap();
        for (i, e) in exprs.iter().enumerate() {
            let want: Vec<i16> = want.columns()[i].i16().unwrap().iter().map(|v| v.unwrap_or(-1)).collect();
            assert_eq!(applied.matrix.column(i), want, "`{e}`");
        }
        // By hand: `lower(text) LIKE '%check%'` holds on rows 0, 1, 8, 9, 11; the null row abstains.
        assert_eq!(applied.matrix.column(0), vec![1, 1, -1, -1, -1, -1, -1, -1, 1, 1, -1, 1]);
        // The keyword LF reads the shared lower-cased copy: "check out" in row 0 only (row 1 has a
        // newline), "σας" in row 2 ("ΟΔΟΣ ΣΑΣ" lower-cases to "οδος σας", final sigma).
        assert_eq!(applied.matrix.column(exprs.len()), vec![0, -1, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1]);
        // Some expression must actually change under the rewrite, or this test proves nothing.
        let mut lowered = Vec::new();
        let cond = SqlLf::new("t", exprs[0], 1).condition().unwrap();
        assert_ne!(optimize(cond.clone(), &mut lowered), cond);
        assert_eq!(lowered, vec!["text".to_string()]);
    }
}
