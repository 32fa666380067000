//! SQL-expression LFs: `length(text) < 30 AND lower(text) NOT LIKE '%http%'`.
//!
//! **LF files are data.** An SQL LF is one boolean expression over the columns of one row, parsed
//! by `sqlparser` and accepted only if every part of it is on an allow-list ([`compile`]): column
//! references, literals, `AND` / `OR` / `NOT`, comparisons, arithmetic, `||`, `LIKE` / `ILIKE`,
//! regex matches, `IN (literal, …)`, `BETWEEN`, `IS [NOT] NULL`, `CASE`, `CAST`, and a named list
//! of scalar text and number functions. Subqueries, table functions (`read_csv`, `read_parquet`,
//! …), aggregates, window functions and anything unknown are refused when the LF file loads, with
//! an error naming the file, the LF and the construct. The expression is evaluated by weaksup's
//! own vectorised interpreter ([`eval`]); no SQL engine that can read files or reach the network
//! is linked into weaksup at all.
//!
//! Two things keep it cheap, both exact: every `lower(col)` of every SQL LF of a set reads one
//! lower-cased copy of `col` per chunk (which case-insensitive keyword LFs over `col` read too),
//! and case-sensitive `LIKE` patterns of the shapes `'%lit%'`, `'lit%'`, `'%lit'`, `'lit'` are
//! substring / prefix / suffix / equality tests instead of regexes ([`like`]).

pub(crate) mod compile;
mod eval;
mod like;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::matrix::{ABSTAIN, Label};

pub use compile::MAX_EXPR_BYTES;

/// Votes `label` where a boolean SQL expression over the frame's columns is true
/// (`length(text) < 20`, `CAST(stars AS INTEGER) >= 4 AND lower(text) LIKE '%refund%'`); false and
/// null abstain.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlLf {
    pub name: String,
    pub expr: String,
    pub label: Label,
}

impl SqlLf {
    pub fn new(name: impl Into<String>, expr: impl Into<String>, label: Label) -> Self {
        Self { name: name.into(), expr: expr.into(), label }
    }
    pub(crate) fn validate(&self) -> Result<()> {
        crate::lf::builtin::check_name(&self.name)?;
        self.compile().map(|_| ())
    }
    /// Parses the expression and checks it against the allow-list.
    pub(crate) fn compile(&self) -> Result<CompiledSql> {
        let node = compile::compile(&self.expr).map_err(|m| {
            // Messages name the offending part; name the whole expression too unless it is the part.
            let whole = format!("`{}`", self.expr.trim());
            let msg =
                if m.starts_with(&whole) { format!("SQL {m}") } else { format!("SQL `{}`: {m}", self.expr) };
            Error::lf(&self.name, msg)
        })?;
        Ok(CompiledSql { node, label: self.label })
    }
}

/// An SQL LF ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSql {
    node: compile::Node,
    label: Label,
}

impl CompiledSql {
    /// Source columns the expression reads.
    pub(crate) fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.node.columns(&mut out);
        out
    }
    /// Columns whose shared lower-cased copy ([`add_lowered`]) the expression reads.
    pub(crate) fn lowered(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.node.lowered(&mut out);
        out
    }
    /// One vote per row of `chunk` (`label` where the condition is true, else [`ABSTAIN`]);
    /// `start` is the chunk's first row in the whole frame, for messages.
    pub(crate) fn votes(
        &self,
        chunk: &DataFrame,
        start: usize,
        expr: &str,
    ) -> std::result::Result<Vec<Label>, String> {
        let n = chunk.height();
        let ctx = eval::Ctx { frame: chunk, n, start };
        let v = ctx.eval(&self.node)?.into_bools(n, expr)?;
        Ok(v.into_iter().map(|b| if b == Some(true) { self.label } else { ABSTAIN }).collect())
    }
}

/// The name of the lower-cased copy of column `col` that the applier adds to each chunk.
pub(crate) fn lowered_name(col: &str) -> String {
    format!("__weaksup_lower__{col}")
}

/// Adds the lower-cased copy of string column `col` to `chunk` (kept if already there). Values
/// are Rust's `str::to_lowercase` (Python's `str.lower`), the same as the `lower` function.
pub(crate) fn add_lowered(chunk: &mut DataFrame, col: &str) -> PolarsResult<()> {
    let name = lowered_name(col);
    if chunk.column(&name).is_ok() {
        return Ok(());
    }
    let ca = chunk.column(col)?.str()?;
    let low: StringChunked = ca.iter().map(|s| s.map(str::to_lowercase)).collect();
    chunk.with_column(low.with_name(name.as_str().into()).into_column())?;
    Ok(())
}

#[cfg(test)]
mod tests;
