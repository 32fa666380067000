//! From SQL text to [`Node`]: `sqlparser` parses one expression (no statements), then an
//! allow-list walks its AST. Everything not listed is refused with a message naming the
//! construct: subqueries, table functions (`read_csv`, `read_parquet`, …), window and aggregate
//! functions, unknown functions, placeholders, qualified names, semi-structured access. What is
//! accepted compiles to [`Node`], which [`super::eval`] evaluates over a chunk's columns.

use std::sync::Arc;

use sqlparser::ast::{
    self, BinaryOperator as B, CastKind, CeilFloorKind, DataType, Expr as E, FunctionArg, FunctionArgExpr,
    FunctionArguments, ObjectNamePart, TrimWhereField, UnaryOperator as U, Value as V,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::like::Matcher;
use crate::lf::builtin::REGEX_SIZE_LIMIT;

/// Longest accepted expression, in bytes: room for hundreds of conditions, and a bound on how
/// deep the parse tree can get (left-deep `a OR b OR …` chains are flattened, see [`Node::Or`]).
pub const MAX_EXPR_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses and function calls the parser accepts.
const RECURSION_LIMIT: usize = 64;

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    pub(crate) fn ty(&self) -> Ty {
        match self {
            Scalar::Null => Ty::Null,
            Scalar::Bool(_) => Ty::Bool,
            Scalar::Int(_) => Ty::Int,
            Scalar::Float(_) => Ty::Float,
            Scalar::Str(_) => Ty::Str,
        }
    }
}

/// The types an SQL LF computes with. Columns of other polars types cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

impl Ty {
    pub(crate) fn is_num(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "a boolean",
            Ty::Int => "an integer",
            Ty::Float => "a float",
            Ty::Str => "text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IsTest {
    Null,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Both,
    Leading,
    Trailing,
}

/// The scalar functions an SQL LF may call (case-insensitive names; see `labeling_functions/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Lower,
    Upper,
    Length,
    OctetLength,
    Trim(Side),
    StartsWith,
    EndsWith,
    StrPos,
    Substr,
    Left,
    Right,
    Replace,
    Reverse,
    Concat,
    ConcatWs,
    Abs,
    Sign,
    Round,
    Ceil,
    Floor,
    Sqrt,
    Ln,
    Log10,
    Exp,
    Power,
    Mod,
    Greatest,
    Least,
    Coalesce,
    NullIf,
}

/// Allowed function names with their arity (min, max).
const FUNCTIONS: &[(&str, Func, usize, usize)] = &[
    ("lower", Func::Lower, 1, 1),
    ("upper", Func::Upper, 1, 1),
    ("length", Func::Length, 1, 1),
    ("char_length", Func::Length, 1, 1),
    ("character_length", Func::Length, 1, 1),
    ("octet_length", Func::OctetLength, 1, 1),
    ("trim", Func::Trim(Side::Both), 1, 2),
    ("btrim", Func::Trim(Side::Both), 1, 2),
    ("ltrim", Func::Trim(Side::Leading), 1, 2),
    ("rtrim", Func::Trim(Side::Trailing), 1, 2),
    ("starts_with", Func::StartsWith, 2, 2),
    ("ends_with", Func::EndsWith, 2, 2),
    ("strpos", Func::StrPos, 2, 2),
    ("substr", Func::Substr, 2, 3),
    ("substring", Func::Substr, 2, 3),
    ("left", Func::Left, 2, 2),
    ("right", Func::Right, 2, 2),
    ("replace", Func::Replace, 3, 3),
    ("reverse", Func::Reverse, 1, 1),
    ("concat", Func::Concat, 1, 64),
    ("concat_ws", Func::ConcatWs, 2, 64),
    ("abs", Func::Abs, 1, 1),
    ("sign", Func::Sign, 1, 1),
    ("round", Func::Round, 1, 2),
    ("ceil", Func::Ceil, 1, 1),
    ("ceiling", Func::Ceil, 1, 1),
    ("floor", Func::Floor, 1, 1),
    ("sqrt", Func::Sqrt, 1, 1),
    ("ln", Func::Ln, 1, 1),
    ("log10", Func::Log10, 1, 1),
    ("exp", Func::Exp, 1, 1),
    ("power", Func::Power, 2, 2),
    ("pow", Func::Power, 2, 2),
    ("mod", Func::Mod, 2, 2),
    ("greatest", Func::Greatest, 1, 64),
    ("least", Func::Least, 1, 64),
    ("coalesce", Func::Coalesce, 1, 64),
    ("nullif", Func::NullIf, 2, 2),
];

/// Functions other engines offer that read files, reach the network or run code: named in the
/// refusal so that the message says why, not just "unknown".
const SYSTEM_FUNCTIONS: &[&str] = &[
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_parquet",
    "read_ipc",
    "read_excel",
    "read_delta",
    "read_text",
    "read_blob",
    "scan_csv",
    "scan_parquet",
    "scan_ndjson",
    "scan_ipc",
    "load_file",
    "pg_read_file",
    "pg_read_binary_file",
    "lo_import",
    "lo_export",
    "readfile",
    "writefile",
    "http_get",
    "http_post",
    "url",
    "s3",
    "file",
    "system",
    "exec",
    "shell",
    "copy",
    "glob",
];

/// Aggregates and window-only functions: not a condition on one row.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "mean",
    "min",
    "max",
    "median",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "first",
    "last",
    "first_value",
    "last_value",
    "array_agg",
    "string_agg",
    "group_concat",
    "listagg",
    "any_value",
    "bool_and",
    "bool_or",
    "every",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "nth_value",
    "quantile",
    "quantile_cont",
    "quantile_disc",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "n_unique",
    "implode",
];

/// The compiled form of an SQL LF expression. `src` fields keep the SQL text of the node for
/// error messages.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A column of the chunk.
    Col(String),
    /// `lower(<column>)`: the chunk's shared lower-cased copy of that column.
    Lowered(String),
    Lit(Scalar),
    Not(Box<Node>),
    /// `a AND b AND …` (flattened): Kleene logic.
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp {
        op: Cmp,
        l: Box<Node>,
        r: Box<Node>,
        src: Arc<str>,
    },
    /// `first op₁ x₁ op₂ x₂ …`, left to right (a flattened left-deep chain of `+ - * / %`).
    Arith {
        first: Box<Node>,
        rest: Vec<(Arith, Node)>,
        src: Arc<str>,
    },
    Neg(Box<Node>, Arc<str>),
    /// `a || b || …`: null when any operand is null.
    Concat(Vec<Node>, Arc<str>),
    Is {
        node: Box<Node>,
        test: IsTest,
        negated: bool,
        src: Arc<str>,
    },
    /// `a IS [NOT] DISTINCT FROM b`: null-safe (in)equality.
    Distinct {
        l: Box<Node>,
        r: Box<Node>,
        negated: bool,
        src: Arc<str>,
    },
    Like {
        node: Box<Node>,
        m: Arc<Matcher>,
        negated: bool,
        src: Arc<str>,
    },
    In {
        node: Box<Node>,
        list: Vec<Scalar>,
        negated: bool,
        src: Arc<str>,
    },
    Between {
        node: Box<Node>,
        lo: Box<Node>,
        hi: Box<Node>,
        negated: bool,
        src: Arc<str>,
    },
    Case {
        operand: Option<Box<Node>>,
        whens: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
        src: Arc<str>,
    },
    Cast {
        node: Box<Node>,
        to: Ty,
        strict: bool,
        src: Arc<str>,
    },
    Func {
        f: Func,
        args: Vec<Node>,
        src: Arc<str>,
    },
    /// `x ~ 'pattern'`, `regexp_like(x, 'pattern')`, `x RLIKE 'pattern'`.
    Regex {
        node: Box<Node>,
        re: Arc<regex_automata::meta::Regex>,
        negated: bool,
        src: Arc<str>,
    },
}

impl Node {
    /// Source columns read (not the shared lower-cased copies: their source column).
    pub(crate) fn columns(&self, out: &mut Vec<String>) {
        let mut push = |c: &String| {
            if !out.contains(c) {
                out.push(c.clone());
            }
        };
        match self {
            Node::Col(c) | Node::Lowered(c) => push(c),
            Node::Lit(_) => {}
            Node::Not(n)
            | Node::Neg(n, _)
            | Node::Is { node: n, .. }
            | Node::Like { node: n, .. }
            | Node::In { node: n, .. } => n.columns(out),
            Node::Cast { node, .. } | Node::Regex { node, .. } => node.columns(out),
            Node::And(v) | Node::Or(v) | Node::Concat(v, _) | Node::Func { args: v, .. } => {
                v.iter().for_each(|n| n.columns(out))
            }
            Node::Cmp { l, r, .. } | Node::Distinct { l, r, .. } => {
                l.columns(out);
                r.columns(out);
            }
            Node::Arith { first, rest, .. } => {
                first.columns(out);
                rest.iter().for_each(|(_, n)| n.columns(out));
            }
            Node::Between { node, lo, hi, .. } => [node, lo, hi].iter().for_each(|n| n.columns(out)),
            Node::Case { operand, whens, otherwise, .. } => {
                operand.iter().chain(otherwise).for_each(|n| n.columns(out));
                whens.iter().for_each(|(a, b)| {
                    a.columns(out);
                    b.columns(out);
                });
            }
        }
    }

    /// The columns whose shared lower-cased copy this expression reads.
    pub(crate) fn lowered(&self, out: &mut Vec<String>) {
        if let Node::Lowered(c) = self {
            if !out.contains(c) {
                out.push(c.clone());
            }
            return;
        }
        self.children().for_each(|n| n.lowered(out));
    }

    fn children(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        match self {
            Node::Col(_) | Node::Lowered(_) | Node::Lit(_) => Box::new(std::iter::empty()),
            Node::Not(n)
            | Node::Neg(n, _)
            | Node::Is { node: n, .. }
            | Node::Like { node: n, .. }
            | Node::In { node: n, .. } => Box::new(std::iter::once(n.as_ref())),
            Node::Cast { node, .. } | Node::Regex { node, .. } => Box::new(std::iter::once(node.as_ref())),
            Node::And(v) | Node::Or(v) | Node::Concat(v, _) | Node::Func { args: v, .. } => {
                Box::new(v.iter())
            }
            Node::Cmp { l, r, .. } | Node::Distinct { l, r, .. } => {
                Box::new([l.as_ref(), r.as_ref()].into_iter())
            }
            Node::Arith { first, rest, .. } => {
                Box::new(std::iter::once(first.as_ref()).chain(rest.iter().map(|(_, n)| n)))
            }
            Node::Between { node, lo, hi, .. } => {
                Box::new([node.as_ref(), lo.as_ref(), hi.as_ref()].into_iter())
            }
            Node::Case { operand, whens, otherwise, .. } => Box::new(
                operand
                    .iter()
                    .map(|b| b.as_ref())
                    .chain(whens.iter().flat_map(|(a, b)| [a, b]))
                    .chain(otherwise.iter().map(|b| b.as_ref())),
            ),
        }
    }

    /// The type this node computes when it does not depend on column types; `None` otherwise.
    pub(crate) fn static_ty(&self) -> Option<Ty> {
        Some(match self {
            Node::Col(_) => return None,
            Node::Lowered(_) => Ty::Str,
            Node::Lit(s) => s.ty(),
            Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::Cmp { .. }
            | Node::Is { .. }
            | Node::Distinct { .. } => Ty::Bool,
            Node::Like { .. } | Node::In { .. } | Node::Between { .. } | Node::Regex { .. } => Ty::Bool,
            Node::Concat(..) => Ty::Str,
            Node::Cast { to, .. } => *to,
            Node::Neg(n, _) => return n.static_ty(),
            Node::Arith { first, rest, .. } => {
                let mut t = first.static_ty()?;
                for (op, n) in rest {
                    let u = n.static_ty()?;
                    t = match (t, u, op) {
                        (Ty::Null, _, _) | (_, Ty::Null, _) => Ty::Null,
                        (_, _, Arith::Div) => Ty::Float,
                        (Ty::Int, Ty::Int, _) => Ty::Int,
                        _ => Ty::Float,
                    };
                }
                t
            }
            Node::Case { whens, otherwise, .. } => {
                let mut t = Ty::Null;
                for r in whens.iter().map(|(_, r)| r).chain(otherwise.iter().map(|b| b.as_ref())) {
                    t = unify(t, r.static_ty()?)?;
                }
                t
            }
            Node::Func { f, args, .. } => match f {
                Func::Lower
                | Func::Upper
                | Func::Trim(_)
                | Func::Substr
                | Func::Left
                | Func::Right
                | Func::Replace
                | Func::Reverse
                | Func::Concat
                | Func::ConcatWs => Ty::Str,
                Func::Length | Func::OctetLength | Func::StrPos => Ty::Int,
                Func::StartsWith | Func::EndsWith => Ty::Bool,
                Func::Sqrt | Func::Ln | Func::Log10 | Func::Exp | Func::Power => Ty::Float,
                Func::Abs | Func::Sign | Func::Ceil | Func::Floor | Func::Round | Func::Mod => {
                    let t = args[0].static_ty()?;
                    if t == Ty::Null {
                        Ty::Null
                    } else if args.iter().any(|a| a.static_ty() == Some(Ty::Float)) {
                        Ty::Float
                    } else {
                        t
                    }
                }
                Func::Greatest | Func::Least | Func::Coalesce | Func::NullIf => {
                    let mut t = Ty::Null;
                    for a in args {
                        t = unify(t, a.static_ty()?)?;
                    }
                    t
                }
            },
        })
    }
}

/// The common type of two branches (`CASE` results, `coalesce` arguments): numbers widen to
/// float, null joins anything; other mixes have none.
pub(crate) fn unify(a: Ty, b: Ty) -> Option<Ty> {
    Some(match (a, b) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (a, b) if a == b => a,
        (a, b) if a.is_num() && b.is_num() => Ty::Float,
        _ => return None,
    })
}

/// Parses and compiles one SQL LF expression; the error says what is wrong and where.
pub(crate) fn compile(sql: &str) -> Result<Node, String> {
    if sql.len() > MAX_EXPR_BYTES {
        return Err(format!(
            "the expression is {} bytes long; at most {MAX_EXPR_BYTES} are accepted (split it into several LFs)",
            sql.len()
        ));
    }
    if sql.trim().is_empty() {
        return Err("empty expression".into());
    }
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .map_err(|e| format!("cannot parse: {e}"))?;
    let ast = parser.parse_expr().map_err(|e| format!("cannot parse: {e}"))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(format!(
            "unexpected `{}` after the expression (an SQL LF is one expression, not a statement)",
            next.token
        ));
    }
    let node = Compiler.expr(&ast)?;
    if let Some(t) = node.static_ty()
        && !matches!(t, Ty::Bool | Ty::Null)
    {
        return Err(format!(
            "`{ast}` is not a condition: it gives {} (compare it, e.g. `{ast} > 0`)",
            t.name()
        ));
    }
    Ok(node)
}

fn src(e: &impl std::fmt::Display) -> Arc<str> {
    e.to_string().into()
}

fn refuse(what: &str, e: &impl std::fmt::Display) -> String {
    format!(
        "`{e}`: {what} are not allowed in an SQL LF (it is a condition on one row: columns, literals, operators and the listed scalar functions)"
    )
}

struct Compiler;

impl Compiler {
    fn expr(&self, e: &E) -> Result<Node, String> {
        Ok(match e {
            E::Identifier(id) => Node::Col(id.value.clone()),
            E::Value(v) => Node::Lit(literal(&v.value)?),
            E::Nested(inner) => self.expr(inner)?,
            E::BinaryOp { op: B::And | B::Or, .. } => self.logic_chain(e)?,
            E::BinaryOp { left, op, right } => self.binary(e, left, op, right)?,
            E::UnaryOp { op, expr } => match op {
                U::Not => Node::Not(Box::new(self.expr(expr)?)),
                U::Minus => match self.expr(expr)? {
                    Node::Lit(Scalar::Int(i)) => Node::Lit(Scalar::Int(
                        i.checked_neg().ok_or_else(|| format!("`{e}` is out of range"))?,
                    )),
                    Node::Lit(Scalar::Float(f)) => Node::Lit(Scalar::Float(-f)),
                    n => Node::Neg(Box::new(n), src(e)),
                },
                U::Plus => self.expr(expr)?,
                other => {
                    return Err(format!(
                        "`{e}`: the operator `{other}` is not allowed in an SQL LF (use NOT, -, +)"
                    ));
                }
            },
            E::IsNull(x) => self.is(e, x, IsTest::Null, false)?,
            E::IsNotNull(x) => self.is(e, x, IsTest::Null, true)?,
            E::IsUnknown(x) => self.is(e, x, IsTest::Null, false)?,
            E::IsNotUnknown(x) => self.is(e, x, IsTest::Null, true)?,
            E::IsTrue(x) => self.is(e, x, IsTest::True, false)?,
            E::IsNotTrue(x) => self.is(e, x, IsTest::True, true)?,
            E::IsFalse(x) => self.is(e, x, IsTest::False, false)?,
            E::IsNotFalse(x) => self.is(e, x, IsTest::False, true)?,
            E::IsDistinctFrom(a, b) => Node::Distinct {
                l: Box::new(self.expr(a)?),
                r: Box::new(self.expr(b)?),
                negated: false,
                src: src(e),
            },
            E::IsNotDistinctFrom(a, b) => Node::Distinct {
                l: Box::new(self.expr(a)?),
                r: Box::new(self.expr(b)?),
                negated: true,
                src: src(e),
            },
            E::InList { expr, list, negated } => {
                let node = self.expr(expr)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    match self.expr(item)? {
                        Node::Lit(s) => items.push(s),
                        _ => return Err(format!("`{e}`: IN takes a list of literals; `{item}` is not one")),
                    }
                }
                let tys: Vec<Ty> = items.iter().map(Scalar::ty).filter(|t| *t != Ty::Null).collect();
                if tys.contains(&Ty::Str) && tys.iter().any(|t| *t != Ty::Str) {
                    return Err(format!("`{e}`: the IN list mixes text with other types"));
                }
                Node::In { node: Box::new(node), list: items, negated: *negated, src: src(e) }
            }
            E::InSubquery { .. } => return Err(refuse("subqueries (`IN (SELECT …)`)", e)),
            E::InUnnest { .. } => return Err(refuse("`IN UNNEST(…)`", e)),
            E::Exists { .. } => return Err(refuse("subqueries (`EXISTS (SELECT …)`)", e)),
            E::Subquery(_) => return Err(refuse("subqueries (`(SELECT …)`)", e)),
            E::Between { expr, negated, low, high } => Node::Between {
                node: Box::new(self.expr(expr)?),
                lo: Box::new(self.expr(low)?),
                hi: Box::new(self.expr(high)?),
                negated: *negated,
                src: src(e),
            },
            E::Like { any: true, .. } | E::ILike { any: true, .. } => {
                return Err(format!("`{e}`: LIKE ANY is not supported; OR several LIKEs"));
            }
            E::Like { negated, expr, pattern, escape_char, .. } => {
                self.like(e, expr, pattern, escape_char, *negated, false)?
            }
            E::ILike { negated, expr, pattern, escape_char, .. } => {
                self.like(e, expr, pattern, escape_char, *negated, true)?
            }
            E::RLike { negated, expr, pattern, .. } => self.regex(e, expr, pattern, "", *negated)?,
            E::Cast { kind, expr, data_type, array, format } => {
                if *array || format.is_some() {
                    return Err(format!("`{e}`: only plain CAST(x AS type) is allowed"));
                }
                let strict = match kind {
                    CastKind::Cast | CastKind::DoubleColon => true,
                    CastKind::TryCast | CastKind::SafeCast => false,
                };
                Node::Cast {
                    node: Box::new(self.expr(expr)?),
                    to: cast_type(e, data_type)?,
                    strict,
                    src: src(e),
                }
            }
            E::Case { operand, conditions, else_result, .. } => {
                let whens = conditions
                    .iter()
                    .map(|w| Ok((self.expr(&w.condition)?, self.expr(&w.result)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                let node = Node::Case {
                    operand: operand.as_ref().map(|o| self.expr(o).map(Box::new)).transpose()?,
                    whens,
                    otherwise: else_result.as_ref().map(|o| self.expr(o).map(Box::new)).transpose()?,
                    src: src(e),
                };
                if let Node::Case { whens, otherwise, .. } = &node {
                    let mut t = Some(Ty::Null);
                    for r in whens.iter().map(|(_, r)| r).chain(otherwise.iter().map(|b| b.as_ref())) {
                        if let (Some(acc), Some(u)) = (t, r.static_ty()) {
                            t = unify(acc, u);
                            if t.is_none() {
                                return Err(format!(
                                    "`{e}`: the results mix {} and {}",
                                    acc.name(),
                                    u.name()
                                ));
                            }
                        }
                    }
                }
                node
            }
            E::Function(f) => self.function(e, f)?,
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                if !matches!(field, CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)) {
                    return Err(format!("`{e}`: only CEIL(x) / FLOOR(x) are allowed"));
                }
                let f = if matches!(e, E::Ceil { .. }) { Func::Ceil } else { Func::Floor };
                let args = vec![self.expr(expr)?];
                self.check_args(e, f, &args)?;
                Node::Func { f, args, src: src(e) }
            }
            E::Position { expr, r#in } => {
                let args = vec![self.expr(r#in)?, self.expr(expr)?];
                self.check_args(e, Func::StrPos, &args)?;
                Node::Func { f: Func::StrPos, args, src: src(e) }
            }
            E::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![
                    self.expr(expr)?,
                    match substring_from {
                        Some(f) => self.expr(f)?,
                        None => Node::Lit(Scalar::Int(1)),
                    },
                ];
                if let Some(n) = substring_for {
                    args.push(self.expr(n)?);
                }
                self.check_args(e, Func::Substr, &args)?;
                Node::Func { f: Func::Substr, args, src: src(e) }
            }
            E::Trim { trim_where, trim_what, expr, trim_characters } => {
                let side = match trim_where {
                    None | Some(TrimWhereField::Both) => Side::Both,
                    Some(TrimWhereField::Leading) => Side::Leading,
                    Some(TrimWhereField::Trailing) => Side::Trailing,
                };
                let mut args = vec![self.expr(expr)?];
                match (trim_what, trim_characters) {
                    (Some(w), None) => args.push(self.expr(w)?),
                    (None, Some(cs)) if cs.len() == 1 => args.push(self.expr(&cs[0])?),
                    (None, None) => {}
                    _ => return Err(format!("`{e}`: TRIM takes one set of characters")),
                }
                self.check_args(e, Func::Trim(side), &args)?;
                Node::Func { f: Func::Trim(side), args, src: src(e) }
            }
            E::CompoundIdentifier(_) => {
                return Err(format!(
                    "`{e}`: qualified names are not columns of the row; quote a column name that contains dots (\"a.b\")"
                ));
            }
            E::Wildcard(_) | E::QualifiedWildcard(..) => return Err(refuse("wildcards (`*`)", e)),
            E::CompoundFieldAccess { .. } | E::JsonAccess { .. } => {
                return Err(refuse("field, index and JSON access", e));
            }
            E::AnyOp { .. } | E::AllOp { .. } => return Err(refuse("ANY / ALL", e)),
            E::SimilarTo { .. } => {
                return Err(format!("`{e}`: SIMILAR TO is not supported; use LIKE or `x ~ 'regex'`"));
            }
            E::TypedString(_) | E::Interval(_) | E::AtTimeZone { .. } | E::Extract { .. } => {
                return Err(refuse("dates, times and intervals", e));
            }
            E::Array(_) | E::Tuple(_) | E::Struct { .. } | E::Map(_) | E::Dictionary(_) | E::Named { .. } => {
                return Err(refuse("arrays, tuples, structs and maps", e));
            }
            E::Lambda(_) => return Err(refuse("lambdas", e)),
            other => return Err(refuse("constructs of this kind", other)),
        })
    }

    /// Flattens a left-deep (or any) tree of one logical operator into one n-ary node, iteratively
    /// along the left spine so that `a OR b OR …` of any length recurses only on the operands.
    fn logic_chain(&self, e: &E) -> Result<Node, String> {
        let E::BinaryOp { op, .. } = e else { unreachable!("logic_chain on a non-binary node") };
        let op = op.clone();
        let mut rights = Vec::new();
        let mut cur = e;
        while let E::BinaryOp { left, op: o, right } = cur {
            if *o != op {
                break;
            }
            rights.push(right.as_ref());
            cur = left.as_ref();
        }
        let mut items = Vec::with_capacity(rights.len() + 1);
        items.push(self.expr(cur)?);
        for r in rights.into_iter().rev() {
            items.push(self.expr(r)?);
        }
        Ok(if op == B::And { Node::And(items) } else { Node::Or(items) })
    }

    fn binary(&self, e: &E, left: &E, op: &B, right: &E) -> Result<Node, String> {
        let cmp = match op {
            B::Eq => Some(Cmp::Eq),
            B::NotEq => Some(Cmp::NotEq),
            B::Lt => Some(Cmp::Lt),
            B::LtEq => Some(Cmp::LtEq),
            B::Gt => Some(Cmp::Gt),
            B::GtEq => Some(Cmp::GtEq),
            _ => None,
        };
        if let Some(op) = cmp {
            let (l, r) = (self.expr(left)?, self.expr(right)?);
            if let (Some(a), Some(b)) = (l.static_ty(), r.static_ty())
                && !comparable(a, b)
            {
                return Err(format!("`{e}` compares {} with {}", a.name(), b.name()));
            }
            return Ok(Node::Cmp { op, l: Box::new(l), r: Box::new(r), src: src(e) });
        }
        match op {
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                // Flatten the left spine of arithmetic operators.
                let mut rest = Vec::new();
                let mut cur = e;
                while let E::BinaryOp { left, op, right } = cur {
                    let a = match op {
                        B::Plus => Arith::Add,
                        B::Minus => Arith::Sub,
                        B::Multiply => Arith::Mul,
                        B::Divide => Arith::Div,
                        B::Modulo => Arith::Mod,
                        _ => break,
                    };
                    rest.push((a, right.as_ref()));
                    cur = left.as_ref();
                }
                let first = self.expr(cur)?;
                let rest = rest
                    .into_iter()
                    .rev()
                    .map(|(a, r)| Ok((a, self.expr(r)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                for n in std::iter::once(&first).chain(rest.iter().map(|(_, n)| n)) {
                    if let Some(t) = n.static_ty().filter(|t| !t.is_num() && *t != Ty::Null) {
                        return Err(format!("`{e}`: arithmetic on {}", t.name()));
                    }
                }
                Ok(Node::Arith { first: Box::new(first), rest, src: src(e) })
            }
            B::StringConcat => {
                let mut rest = Vec::new();
                let mut cur = e;
                while let E::BinaryOp { left, op: B::StringConcat, right } = cur {
                    rest.push(right.as_ref());
                    cur = left.as_ref();
                }
                let mut items = vec![self.expr(cur)?];
                for r in rest.into_iter().rev() {
                    items.push(self.expr(r)?);
                }
                Ok(Node::Concat(items, src(e)))
            }
            B::PGRegexMatch => self.regex(e, left, right, "", false),
            B::PGRegexIMatch => self.regex(e, left, right, "i", false),
            B::PGRegexNotMatch => self.regex(e, left, right, "", true),
            B::PGRegexNotIMatch => self.regex(e, left, right, "i", true),
            B::PGLikeMatch => self.like(e, left, right, &None, false, false),
            B::PGILikeMatch => self.like(e, left, right, &None, false, true),
            B::PGNotLikeMatch => self.like(e, left, right, &None, true, false),
            B::PGNotILikeMatch => self.like(e, left, right, &None, true, true),
            B::PGStartsWith => {
                let args = vec![self.expr(left)?, self.expr(right)?];
                self.check_args(e, Func::StartsWith, &args)?;
                Ok(Node::Func { f: Func::StartsWith, args, src: src(e) })
            }
            other => Err(format!(
                "`{e}`: the operator `{other}` is not allowed in an SQL LF (AND, OR, NOT, comparisons, + - * / %, ||, LIKE, ILIKE, ~)"
            )),
        }
    }

    fn is(&self, e: &E, x: &E, test: IsTest, negated: bool) -> Result<Node, String> {
        let node = self.expr(x)?;
        if test != IsTest::Null
            && let Some(t) = node.static_ty().filter(|t| !matches!(t, Ty::Bool | Ty::Null))
        {
            return Err(format!("`{e}`: IS TRUE / IS FALSE on {}", t.name()));
        }
        Ok(Node::Is { node: Box::new(node), test, negated, src: src(e) })
    }

    /// `x [NOT] LIKE pattern [ESCAPE c]`; `ci` for ILIKE.
    fn like(
        &self,
        e: &E,
        x: &E,
        pattern: &E,
        escape: &Option<ast::ValueWithSpan>,
        negated: bool,
        ci: bool,
    ) -> Result<Node, String> {
        let node = self.expr(x)?;
        if let Some(t) = node.static_ty().filter(|t| !matches!(t, Ty::Str | Ty::Null)) {
            return Err(format!("`{e}`: LIKE on {}", t.name()));
        }
        let Node::Lit(Scalar::Str(p)) = self.expr(pattern)? else {
            return Err(format!("`{e}`: the LIKE pattern must be a string literal"));
        };
        let esc = match escape {
            None => None,
            Some(v) => match literal(&v.value)? {
                Scalar::Str(s) if s.chars().count() == 1 => s.chars().next(),
                _ => return Err(format!("`{e}`: ESCAPE takes one character")),
            },
        };
        let m = Matcher::like(&p, esc, ci).map_err(|m| format!("`{e}`: {m}"))?;
        Ok(Node::Like { node: Box::new(node), m: Arc::new(m), negated, src: src(e) })
    }

    fn regex(&self, e: &E, x: &E, pattern: &E, flags: &str, negated: bool) -> Result<Node, String> {
        let node = self.expr(x)?;
        if let Some(t) = node.static_ty().filter(|t| !matches!(t, Ty::Str | Ty::Null)) {
            return Err(format!("`{e}`: a regex match on {}", t.name()));
        }
        let Node::Lit(Scalar::Str(p)) = self.expr(pattern)? else {
            return Err(format!("`{e}`: the regex must be a string literal"));
        };
        Ok(Node::Regex {
            node: Box::new(node),
            re: Arc::new(build_regex(&p, flags).map_err(|m| format!("`{e}`: {m}"))?),
            negated,
            src: src(e),
        })
    }

    fn function(&self, e: &E, f: &ast::Function) -> Result<Node, String> {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(id)] => id.value.to_lowercase(),
            _ => return Err(format!("`{e}`: qualified function names are not allowed")),
        };
        if SYSTEM_FUNCTIONS.contains(&name.as_str()) {
            return Err(format!(
                "`{e}`: `{name}` reads files, reaches the network or runs code; LF files cannot do any of these (write a `custom` LF in Rust if you must)"
            ));
        }
        if f.over.is_some() {
            return Err(refuse("window functions (`OVER (…)`)", e));
        }
        if AGGREGATES.contains(&name.as_str()) {
            return Err(format!(
                "`{e}`: `{name}` is an aggregate over many rows, not a condition on one row"
            ));
        }
        if f.filter.is_some()
            || f.null_treatment.is_some()
            || !f.within_group.is_empty()
            || f.uses_odbc_syntax
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err(format!("`{e}`: only plain calls `name(arg, …)` are allowed"));
        }
        if name == "regexp_like" {
            return self.regexp_like(e, f);
        }
        let Some(&(_, func, min, max)) = FUNCTIONS.iter().find(|(n, ..)| *n == name) else {
            let names: Vec<&str> = FUNCTIONS.iter().map(|(n, ..)| *n).chain(["regexp_like"]).collect();
            return Err(format!("`{e}`: unknown function `{name}` (SQL LFs may call: {})", names.join(", ")));
        };
        let args = self.args(e, f)?;
        if args.len() < min || args.len() > max {
            let want = if min == max { min.to_string() } else { format!("{min} to {max}") };
            return Err(format!("`{e}`: `{name}` takes {want} arguments, got {}", args.len()));
        }
        // `lower(<column>)` reads the chunk's shared lower-cased copy of the column.
        if func == Func::Lower
            && let [Node::Col(c)] = args.as_slice()
        {
            return Ok(Node::Lowered(c.clone()));
        }
        self.check_args(e, func, &args)?;
        Ok(Node::Func { f: func, args, src: src(e) })
    }

    fn args(&self, e: &E, f: &ast::Function) -> Result<Vec<Node>, String> {
        match &f.args {
            FunctionArguments::None => Ok(Vec::new()),
            FunctionArguments::Subquery(_) => Err(refuse("subqueries", e)),
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(format!(
                        "`{e}`: DISTINCT, ORDER BY and other clauses inside a call are not allowed"
                    ));
                }
                list.args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => self.expr(x),
                        FunctionArg::Unnamed(_) => Err(refuse("wildcards (`*`)", e)),
                        _ => Err(format!("`{e}`: named arguments are not allowed")),
                    })
                    .collect()
            }
        }
    }

    fn regexp_like(&self, e: &E, f: &ast::Function) -> Result<Node, String> {
        let args = match &f.args {
            FunctionArguments::List(list)
                if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
            {
                list.args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Ok(x),
                        _ => Err(format!("`{e}`: regexp_like(text, 'pattern'[, 'flags'])")),
                    })
                    .collect::<Result<Vec<_>, String>>()?
            }
            _ => return Err(format!("`{e}`: regexp_like(text, 'pattern'[, 'flags'])")),
        };
        let flags = match args.get(2) {
            None => String::new(),
            Some(x) => match self.expr(x)? {
                Node::Lit(Scalar::Str(s)) if s.chars().all(|c| "ismc".contains(c)) => s.replace('c', ""),
                _ => return Err(format!("`{e}`: regexp_like flags are a string of i, s, m, c")),
            },
        };
        match args.as_slice() {
            [x, p] | [x, p, _] => self.regex(e, x, p, &flags, false),
            _ => Err(format!("`{e}`: regexp_like(text, 'pattern'[, 'flags']) takes 2 or 3 arguments")),
        }
    }

    /// Argument types known without data: text functions want text, numeric ones numbers.
    fn check_args(&self, e: &E, f: Func, args: &[Node]) -> Result<(), String> {
        let want: &[Ty] = match f {
            Func::Lower | Func::Upper | Func::Length | Func::OctetLength | Func::Reverse => &[Ty::Str],
            Func::Trim(_) | Func::StartsWith | Func::EndsWith | Func::StrPos => &[Ty::Str, Ty::Str],
            Func::Substr => &[Ty::Str, Ty::Int, Ty::Int],
            Func::Left | Func::Right => &[Ty::Str, Ty::Int],
            Func::Replace => &[Ty::Str, Ty::Str, Ty::Str],
            Func::Abs
            | Func::Sign
            | Func::Ceil
            | Func::Floor
            | Func::Sqrt
            | Func::Ln
            | Func::Log10
            | Func::Exp => &[Ty::Float],
            Func::Round => &[Ty::Float, Ty::Int],
            Func::Power | Func::Mod => &[Ty::Float, Ty::Float],
            Func::Concat | Func::ConcatWs | Func::Greatest | Func::Least | Func::Coalesce | Func::NullIf => {
                &[]
            }
        };
        for (a, w) in args.iter().zip(want) {
            let Some(t) = a.static_ty() else { continue };
            let ok = match w {
                Ty::Str => matches!(t, Ty::Str | Ty::Null),
                Ty::Int => matches!(t, Ty::Int | Ty::Null),
                _ => t.is_num() || t == Ty::Null,
            };
            if !ok {
                return Err(format!(
                    "`{e}`: an argument is {}, expected {}",
                    t.name(),
                    if *w == Ty::Float { "a number" } else { w.name() }
                ));
            }
        }
        if matches!(f, Func::Greatest | Func::Least | Func::Coalesce | Func::NullIf) {
            let mut acc = Ty::Null;
            for t in args.iter().filter_map(Node::static_ty) {
                acc = unify(acc, t)
                    .ok_or_else(|| format!("`{e}`: the arguments mix {} and {}", acc.name(), t.name()))?;
            }
        }
        Ok(())
    }
}

/// Whether values of two types can be compared: numbers with numbers, text with text,
/// booleans with booleans; null with anything.
pub(crate) fn comparable(a: Ty, b: Ty) -> bool {
    a == Ty::Null || b == Ty::Null || a == b || a.is_num() && b.is_num()
}

fn literal(v: &V) -> Result<Scalar, String> {
    Ok(match v {
        V::Null => Scalar::Null,
        V::Boolean(b) => Scalar::Bool(*b),
        V::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            Err(_) => match n.parse::<f64>() {
                Ok(f) if f.is_finite() => Scalar::Float(f),
                _ => return Err(format!("the number `{n}` is out of range")),
            },
        },
        V::SingleQuotedString(s)
        | V::EscapedStringLiteral(s)
        | V::NationalStringLiteral(s)
        | V::TripleSingleQuotedString(s)
        | V::TripleDoubleQuotedString(s)
        | V::UnicodeStringLiteral(s) => Scalar::Str(s.clone()),
        V::DollarQuotedString(d) => Scalar::Str(d.value.clone()),
        V::Placeholder(p) => return Err(format!("`{p}`: placeholders are not allowed in an SQL LF")),
        other => {
            return Err(format!(
                "`{other}`: this kind of literal is not allowed in an SQL LF (numbers, 'text', TRUE, FALSE, NULL)"
            ));
        }
    })
}

fn cast_type(e: &E, t: &DataType) -> Result<Ty, String> {
    use DataType as D;
    Ok(match t {
        D::Int(_)
        | D::Integer(_)
        | D::BigInt(_)
        | D::SmallInt(_)
        | D::TinyInt(_)
        | D::Int2(_)
        | D::Int4(_)
        | D::Int8(_)
        | D::Int16
        | D::Int32
        | D::Int64
        | D::Signed
        | D::SignedInteger => Ty::Int,
        D::Float(_)
        | D::Real
        | D::Double(_)
        | D::DoublePrecision
        | D::Float4
        | D::Float8
        | D::Float32
        | D::Float64
        | D::Decimal(_)
        | D::Numeric(_)
        | D::Dec(_) => Ty::Float,
        D::Varchar(_)
        | D::Nvarchar(_)
        | D::Text
        | D::String(_)
        | D::Char(_)
        | D::Character(_)
        | D::CharacterVarying(_)
        | D::CharVarying(_) => Ty::Str,
        D::Bool | D::Boolean => Ty::Bool,
        other => {
            return Err(format!(
                "`{e}`: CAST to {other} is not supported (INTEGER, DOUBLE, VARCHAR, BOOLEAN)"
            ));
        }
    })
}

/// Compiles a regex literal under the LF size limit (`flags`: `i` case-insensitive, `s` dot
/// matches newline, `m` multi-line anchors).
pub(crate) fn build_regex(pattern: &str, flags: &str) -> Result<regex_automata::meta::Regex, String> {
    let syntax = regex_automata::util::syntax::Config::new()
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .multi_line(flags.contains('m'));
    let config = regex_automata::meta::Config::new()
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(REGEX_SIZE_LIMIT);
    regex_automata::meta::Regex::builder()
        .syntax(syntax)
        .configure(config)
        .build(pattern)
        .map_err(|e| format!("bad regex: {e}"))
}
