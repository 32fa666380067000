//! Vectorised evaluation of a compiled SQL LF ([`Node`]) over one chunk: every node yields a
//! whole column (or a literal), with SQL's three-valued logic (null = unknown) throughout.
//!
//! Types are checked again here, against the chunk's real column types: a text column compared
//! with a number is an error that says to `CAST`, never a silent `false`.

use std::borrow::Cow;
use std::collections::HashSet;

use polars::prelude::*;

use super::compile::{Arith, Cmp, Func, IsTest, Node, Scalar, Side, Ty, comparable, unify};
use super::lowered_name;

/// A node's value over the chunk's `n` rows.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    /// The same value on every row.
    Scalar(Scalar),
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Str(Vec<Option<Cow<'a, str>>>),
}

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

impl Val<'_> {
    fn ty(&self) -> Ty {
        match self {
            Val::Scalar(s) => s.ty(),
            Val::Bool(_) => Ty::Bool,
            Val::Int(_) => Ty::Int,
            Val::Float(_) => Ty::Float,
            Val::Str(_) => Ty::Str,
        }
    }
    fn is_null(&self, i: usize) -> bool {
        match self {
            Val::Scalar(s) => *s == Scalar::Null,
            Val::Bool(v) => v[i].is_none(),
            Val::Int(v) => v[i].is_none(),
            Val::Float(v) => v[i].is_none(),
            Val::Str(v) => v[i].is_none(),
        }
    }
    fn b(&self, i: usize) -> Option<bool> {
        match self {
            Val::Scalar(Scalar::Bool(b)) => Some(*b),
            Val::Bool(v) => v[i],
            _ => None,
        }
    }
    fn s(&self, i: usize) -> Option<&str> {
        match self {
            Val::Scalar(Scalar::Str(s)) => Some(s),
            Val::Str(v) => v[i].as_deref(),
            _ => None,
        }
    }
    fn num(&self, i: usize) -> Option<Num> {
        match self {
            Val::Scalar(Scalar::Int(x)) => Some(Num::I(*x)),
            Val::Scalar(Scalar::Float(x)) => Some(Num::F(*x)),
            Val::Int(v) => v[i].map(Num::I),
            Val::Float(v) => v[i].map(Num::F),
            _ => None,
        }
    }
    fn int(&self, i: usize) -> Option<i64> {
        match self.num(i) {
            Some(Num::I(x)) => Some(x),
            _ => None,
        }
    }
    /// The value of row `i` as text (numbers and booleans as CAST(… AS VARCHAR) writes them).
    fn text(&self, i: usize) -> Option<Cow<'_, str>> {
        match self.ty() {
            Ty::Str => self.s(i).map(Cow::Borrowed),
            Ty::Bool => self.b(i).map(|b| Cow::Owned(b.to_string())),
            Ty::Int | Ty::Float => self.num(i).map(|x| Cow::Owned(num_text(x))),
            Ty::Null => None,
        }
    }
    /// The values as booleans, for the LF's vote (errors name `what` when they are not).
    pub(crate) fn into_bools(self, n: usize, what: &str) -> Result<Vec<Option<bool>>, String> {
        match self {
            Val::Bool(v) => Ok(v),
            Val::Scalar(Scalar::Bool(b)) => Ok(vec![Some(b); n]),
            Val::Scalar(Scalar::Null) => Ok(vec![None; n]),
            other => Err(format!("`{what}` is not a condition: it gives {}", other.ty().name())),
        }
    }
}

fn num_text(x: Num) -> String {
    match x {
        Num::I(i) => i.to_string(),
        Num::F(f) => f.to_string(),
    }
}

/// What evaluation reads: the chunk (with its shared lower-cased columns) and where it starts.
pub(crate) struct Ctx<'a> {
    pub frame: &'a DataFrame,
    pub n: usize,
    /// Row of the chunk's first row in the whole frame (for messages).
    pub start: usize,
}

type R<T> = Result<T, String>;

fn type_error(src: &str, a: Ty, b: Ty) -> String {
    let hint = if (a == Ty::Str && b.is_num()) || (b == Ty::Str && a.is_num()) {
        " (text columns from CSV and JSON Lines files hold text: CAST(x AS INTEGER) or CAST(x AS DOUBLE) to compare numbers)"
    } else {
        ""
    };
    format!("`{src}` compares {} with {}{hint}", a.name(), b.name())
}

impl<'a> Ctx<'a> {
    pub(crate) fn eval(&self, node: &Node) -> R<Val<'a>> {
        let n = self.n;
        Ok(match node {
            Node::Col(c) => self.column(c)?,
            Node::Lowered(c) => match self.frame.column(&lowered_name(c)).ok().and_then(|l| l.str().ok()) {
                Some(ca) => Val::Str(ca.iter().map(|o| o.map(Cow::Borrowed)).collect()),
                None => {
                    let v = self.column(c)?;
                    self.func(Func::Lower, &[v], &format!("lower({c})"))?
                }
            },
            Node::Lit(s) => Val::Scalar(s.clone()),
            Node::Not(x) => {
                let v = self.bools(x)?;
                Val::Bool((0..n).map(|i| v.b(i).map(|b| !b)).collect())
            }
            Node::And(items) | Node::Or(items) => {
                let and = matches!(node, Node::And(_));
                // The absorbing value: false for AND, true for OR.
                let stop = !and;
                let mut acc: Vec<Option<bool>> = vec![Some(and); n];
                for item in items {
                    if acc.iter().all(|a| *a == Some(stop)) {
                        break;
                    }
                    let v = self.bools(item)?;
                    for (i, a) in acc.iter_mut().enumerate() {
                        let x = v.b(i);
                        *a = if *a == Some(stop) || x == Some(stop) {
                            Some(stop)
                        } else if a.is_none() || x.is_none() {
                            None
                        } else {
                            Some(!stop)
                        };
                    }
                }
                Val::Bool(acc)
            }
            Node::Cmp { op, l, r, src } => {
                let (a, b) = (self.eval(l)?, self.eval(r)?);
                Val::Bool(
                    (0..n)
                        .map(|i| compare(&a, &b, i, src).map(|o| o.map(|o| cmp_holds(*op, o))))
                        .collect::<R<_>>()?,
                )
            }
            Node::Arith { first, rest, src } => {
                let mut acc = self.eval(first)?;
                for (op, x) in rest {
                    let b = self.eval(x)?;
                    acc = arith(acc, *op, &b, n, src)?;
                }
                acc
            }
            Node::Neg(x, src) => {
                let v = self.eval(x)?;
                match v.ty() {
                    Ty::Int => Val::Int((0..n).map(|i| v.int(i).and_then(i64::checked_neg)).collect()),
                    Ty::Float => Val::Float((0..n).map(|i| v.num(i).map(|x| -x.f())).collect()),
                    Ty::Null => Val::Scalar(Scalar::Null),
                    t => return Err(format!("`{src}`: negating {}", t.name())),
                }
            }
            Node::Concat(items, _) => {
                let vals = items.iter().map(|x| self.eval(x)).collect::<R<Vec<_>>>()?;
                Val::Str(
                    (0..n)
                        .map(|i| {
                            let mut s = String::new();
                            for v in &vals {
                                s.push_str(&v.text(i)?);
                            }
                            Some(Cow::Owned(s))
                        })
                        .collect(),
                )
            }
            Node::Is { node, test, negated, src } => {
                let v = self.eval(node)?;
                if *test != IsTest::Null && !matches!(v.ty(), Ty::Bool | Ty::Null) {
                    return Err(format!("`{src}`: IS TRUE / IS FALSE on {}", v.ty().name()));
                }
                Val::Bool(
                    (0..n)
                        .map(|i| {
                            let r = match test {
                                IsTest::Null => v.is_null(i),
                                IsTest::True => v.b(i) == Some(true),
                                IsTest::False => v.b(i) == Some(false),
                            };
                            Some(r != *negated)
                        })
                        .collect(),
                )
            }
            Node::Distinct { l, r, negated, src } => {
                let (a, b) = (self.eval(l)?, self.eval(r)?);
                Val::Bool(
                    (0..n)
                        .map(|i| {
                            let same = match (a.is_null(i), b.is_null(i)) {
                                (true, true) => true,
                                (true, false) | (false, true) => false,
                                _ => compare(&a, &b, i, src)? == Some(std::cmp::Ordering::Equal),
                            };
                            Ok(Some(same == *negated))
                        })
                        .collect::<R<_>>()?,
                )
            }
            Node::Like { node, m, negated, src } => {
                let v = self.text_val(node, src, "LIKE")?;
                let mut cache = m.cache();
                Val::Bool((0..n).map(|i| v.s(i).map(|s| m.is_match(s, &mut cache) != *negated)).collect())
            }
            Node::Regex { node, re, negated, src } => {
                let v = self.text_val(node, src, "a regex match")?;
                let mut cache = re.create_cache();
                Val::Bool(
                    (0..n)
                        .map(|i| {
                            v.s(i).map(|s| {
                                re.search_half_with(&mut cache, &regex_automata::Input::new(s).earliest(true))
                                    .is_some()
                                    != *negated
                            })
                        })
                        .collect(),
                )
            }
            Node::In { node, list, negated, src } => self.in_list(node, list, *negated, src)?,
            Node::Between { node, lo, hi, negated, src } => {
                let (x, a, b) = (self.eval(node)?, self.eval(lo)?, self.eval(hi)?);
                Val::Bool(
                    (0..n)
                        .map(|i| {
                            let ge = compare(&x, &a, i, src)?.map(|o| o.is_ge());
                            let le = compare(&x, &b, i, src)?.map(|o| o.is_le());
                            let both = match (ge, le) {
                                (Some(false), _) | (_, Some(false)) => Some(false),
                                (Some(true), Some(true)) => Some(true),
                                _ => None,
                            };
                            Ok(both.map(|v| v != *negated))
                        })
                        .collect::<R<_>>()?,
                )
            }
            Node::Case { operand, whens, otherwise, src } => {
                self.case(operand.as_deref(), whens, otherwise.as_deref(), src)?
            }
            Node::Cast { node, to, strict, src } => {
                let v = self.eval(node)?;
                self.cast(v, *to, *strict, src)?
            }
            Node::Func { f, args, src } => {
                let vals = args.iter().map(|a| self.eval(a)).collect::<R<Vec<_>>>()?;
                self.func(*f, &vals, src)?
            }
        })
    }

    fn column(&self, name: &str) -> R<Val<'a>> {
        let c = self.frame.column(name).map_err(|_| {
            let cols: Vec<&str> = self
                .frame
                .get_column_names()
                .into_iter()
                .map(|c| c.as_str())
                .filter(|c| !c.starts_with("__weaksup_"))
                .collect();
            format!("no column `{name}` (columns: {})", cols.join(", "))
        })?;
        let dt = c.dtype();
        Ok(match dt {
            DataType::String => {
                Val::Str(c.str().map_err(|e| e.to_string())?.iter().map(|o| o.map(Cow::Borrowed)).collect())
            }
            DataType::Boolean => Val::Bool(c.bool().map_err(|e| e.to_string())?.iter().collect()),
            DataType::Null => Val::Scalar(Scalar::Null),
            dt if dt.is_integer() => {
                let cast = c.cast(&DataType::Int64).map_err(|e| format!("column `{name}`: {e}"))?;
                Val::Int(cast.i64().map_err(|e| e.to_string())?.iter().collect())
            }
            dt if dt.is_float() => {
                let cast = c.cast(&DataType::Float64).map_err(|e| format!("column `{name}`: {e}"))?;
                Val::Float(
                    cast.f64()
                        .map_err(|e| e.to_string())?
                        .iter()
                        .map(|v| v.filter(|f| !f.is_nan()))
                        .collect(),
                )
            }
            other => {
                return Err(format!(
                    "column `{name}` holds {other}; SQL LFs read text, numbers and booleans"
                ));
            }
        })
    }

    fn bools(&self, node: &Node) -> R<Val<'a>> {
        let v = self.eval(node)?;
        if !matches!(v.ty(), Ty::Bool | Ty::Null) {
            return Err(format!("`{}` is used as a condition but gives {}", describe(node), v.ty().name()));
        }
        Ok(v)
    }

    fn text_val(&self, node: &Node, src: &str, what: &str) -> R<Val<'a>> {
        let v = self.eval(node)?;
        if !matches!(v.ty(), Ty::Str | Ty::Null) {
            return Err(format!("`{src}`: {what} on {}", v.ty().name()));
        }
        Ok(v)
    }

    fn in_list(&self, node: &Node, list: &[Scalar], negated: bool, src: &str) -> R<Val<'a>> {
        let v = self.eval(node)?;
        let has_null = list.contains(&Scalar::Null);
        for s in list {
            if !comparable(v.ty(), s.ty()) {
                return Err(type_error(src, v.ty(), s.ty()));
            }
        }
        let strs: HashSet<&str> = list
            .iter()
            .filter_map(|s| if let Scalar::Str(s) = s { Some(s.as_str()) } else { None })
            .collect();
        let nums: Vec<Num> = list
            .iter()
            .filter_map(|s| match s {
                Scalar::Int(i) => Some(Num::I(*i)),
                Scalar::Float(f) => Some(Num::F(*f)),
                _ => None,
            })
            .collect();
        let bools: Vec<bool> =
            list.iter().filter_map(|s| if let Scalar::Bool(b) = s { Some(*b) } else { None }).collect();
        Ok(Val::Bool(
            (0..self.n)
                .map(|i| {
                    if v.is_null(i) {
                        return None;
                    }
                    let found = match v.ty() {
                        Ty::Str => v.s(i).is_some_and(|s| strs.contains(s)),
                        Ty::Bool => v.b(i).is_some_and(|b| bools.contains(&b)),
                        _ => v.num(i).is_some_and(|x| {
                            nums.iter().any(|y| num_cmp(x, *y) == Some(std::cmp::Ordering::Equal))
                        }),
                    };
                    if found {
                        Some(!negated)
                    } else if has_null {
                        None
                    } else {
                        Some(negated)
                    }
                })
                .collect(),
        ))
    }

    fn case(
        &self,
        operand: Option<&Node>,
        whens: &[(Node, Node)],
        otherwise: Option<&Node>,
        src: &str,
    ) -> R<Val<'a>> {
        let n = self.n;
        let op = operand.map(|o| self.eval(o)).transpose()?;
        let mut conds = Vec::with_capacity(whens.len());
        let mut results = Vec::with_capacity(whens.len() + 1);
        for (c, r) in whens {
            conds.push(match &op {
                Some(x) => {
                    let y = self.eval(c)?;
                    Val::Bool(
                        (0..n)
                            .map(|i| compare(x, &y, i, src).map(|o| o.map(|o| o.is_eq())))
                            .collect::<R<_>>()?,
                    )
                }
                None => self.bools(c)?,
            });
            results.push(self.eval(r)?);
        }
        let other = match otherwise {
            Some(o) => self.eval(o)?,
            None => Val::Scalar(Scalar::Null),
        };
        let mut ty = other.ty();
        for r in &results {
            ty = unify(ty, r.ty())
                .ok_or_else(|| format!("`{src}`: the results mix {} and {}", ty.name(), r.ty().name()))?;
        }
        let pick = |i: usize| -> &Val<'a> {
            conds.iter().position(|c| c.b(i) == Some(true)).map_or(&other, |k| &results[k])
        };
        Ok(match ty {
            Ty::Null => Val::Scalar(Scalar::Null),
            Ty::Bool => Val::Bool((0..n).map(|i| pick(i).b(i)).collect()),
            Ty::Int => Val::Int((0..n).map(|i| pick(i).int(i)).collect()),
            Ty::Float => Val::Float((0..n).map(|i| pick(i).num(i).map(Num::f)).collect()),
            Ty::Str => Val::Str((0..n).map(|i| pick(i).s(i).map(|s| Cow::Owned(s.to_string()))).collect()),
        })
    }

    fn cast(&self, v: Val<'a>, to: Ty, strict: bool, src: &str) -> R<Val<'a>> {
        let n = self.n;
        let from = v.ty();
        if from == to || from == Ty::Null {
            return Ok(v);
        }
        let fail = |i: usize| -> R<()> {
            if strict {
                let shown = v
                    .text(i)
                    .map_or("null".into(), |t| format!("'{}'", t.chars().take(40).collect::<String>()));
                Err(format!(
                    "row {}: `{src}` cannot convert {shown} to {} (TRY_CAST gives null instead)",
                    self.start + i,
                    to.name()
                ))
            } else {
                Ok(())
            }
        };
        let out_ok = |i: usize, r: Option<Scalar>| -> R<Option<Scalar>> {
            if r.is_none() && !v.is_null(i) {
                fail(i)?;
            }
            Ok(r)
        };
        let conv = |i: usize| -> Option<Scalar> {
            match (from, to) {
                (_, Ty::Str) => v.text(i).map(|t| Scalar::Str(t.into_owned())),
                (Ty::Str, Ty::Int) => v.s(i).and_then(|s| s.trim().parse::<i64>().ok()).map(Scalar::Int),
                (Ty::Str, Ty::Float) => v
                    .s(i)
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|f| f.is_finite())
                    .map(Scalar::Float),
                (Ty::Str, Ty::Bool) => v
                    .s(i)
                    .and_then(|s| match s.trim().to_ascii_lowercase().as_str() {
                        "true" | "t" | "yes" | "y" | "1" | "on" => Some(true),
                        "false" | "f" | "no" | "n" | "0" | "off" => Some(false),
                        _ => None,
                    })
                    .map(Scalar::Bool),
                (Ty::Int, Ty::Float) => v.num(i).map(|x| Scalar::Float(x.f())),
                (Ty::Float, Ty::Int) => v
                    .num(i)
                    .map(|x| x.f().round())
                    .filter(|f| *f >= i64::MIN as f64 && *f < i64::MAX as f64)
                    .map(|f| Scalar::Int(f as i64)),
                (Ty::Int | Ty::Float, Ty::Bool) => v.num(i).map(|x| Scalar::Bool(x.f() != 0.0)),
                (Ty::Bool, Ty::Int) => v.b(i).map(|b| Scalar::Int(b as i64)),
                (Ty::Bool, Ty::Float) => v.b(i).map(|b| Scalar::Float(b as u8 as f64)),
                _ => None,
            }
        };
        let vals = (0..n).map(|i| out_ok(i, conv(i))).collect::<R<Vec<Option<Scalar>>>>()?;
        Ok(match to {
            Ty::Str => Val::Str(
                vals.into_iter()
                    .map(|s| if let Some(Scalar::Str(s)) = s { Some(Cow::Owned(s)) } else { None })
                    .collect(),
            ),
            Ty::Int => Val::Int(
                vals.into_iter().map(|s| if let Some(Scalar::Int(x)) = s { Some(x) } else { None }).collect(),
            ),
            Ty::Float => Val::Float(
                vals.into_iter()
                    .map(|s| if let Some(Scalar::Float(x)) = s { Some(x) } else { None })
                    .collect(),
            ),
            Ty::Bool => Val::Bool(
                vals.into_iter()
                    .map(|s| if let Some(Scalar::Bool(x)) = s { Some(x) } else { None })
                    .collect(),
            ),
            Ty::Null => Val::Scalar(Scalar::Null),
        })
    }

    fn func(&self, f: Func, args: &[Val<'a>], src: &str) -> R<Val<'a>> {
        let n = self.n;
        let want = |k: usize, t: Ty| -> R<()> {
            let got = args[k].ty();
            let ok = match t {
                Ty::Float => got.is_num() || got == Ty::Null,
                t => got == t || got == Ty::Null,
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "`{src}`: argument {} is {}, expected {}",
                    k + 1,
                    got.name(),
                    if t == Ty::Float { "a number" } else { t.name() }
                ))
            }
        };
        let strs =
            |g: &dyn Fn(usize) -> Option<String>| Val::Str((0..n).map(|i| g(i).map(Cow::Owned)).collect());
        let ints = |g: &dyn Fn(usize) -> Option<i64>| Val::Int((0..n).map(g).collect());
        let floats = |g: &dyn Fn(usize) -> Option<f64>| {
            Val::Float((0..n).map(|i| g(i).filter(|x| x.is_finite())).collect())
        };
        let a = &args[0];
        Ok(match f {
            Func::Lower | Func::Upper | Func::Length | Func::OctetLength | Func::Reverse => {
                want(0, Ty::Str)?;
                match f {
                    Func::Lower => strs(&|i| a.s(i).map(str::to_lowercase)),
                    Func::Upper => strs(&|i| a.s(i).map(str::to_uppercase)),
                    Func::Length => ints(&|i| a.s(i).map(|s| s.chars().count() as i64)),
                    Func::OctetLength => ints(&|i| a.s(i).map(|s| s.len() as i64)),
                    _ => strs(&|i| a.s(i).map(|s| s.chars().rev().collect())),
                }
            }
            Func::Trim(side) => {
                want(0, Ty::Str)?;
                let chars = args.get(1);
                if chars.is_some() {
                    want(1, Ty::Str)?;
                }
                strs(&|i| {
                    let s = a.s(i)?;
                    let set: Option<Vec<char>> = match chars {
                        Some(c) => Some(c.s(i)?.chars().collect()),
                        None => None,
                    };
                    let is = |c: char| set.as_ref().map_or(c.is_whitespace(), |cs| cs.contains(&c));
                    Some(
                        match side {
                            Side::Both => s.trim_matches(is),
                            Side::Leading => s.trim_start_matches(is),
                            Side::Trailing => s.trim_end_matches(is),
                        }
                        .to_string(),
                    )
                })
            }
            Func::StartsWith | Func::EndsWith | Func::StrPos => {
                want(0, Ty::Str)?;
                want(1, Ty::Str)?;
                let b = &args[1];
                match f {
                    Func::StartsWith => {
                        Val::Bool((0..n).map(|i| Some(a.s(i)?.starts_with(b.s(i)?))).collect())
                    }
                    Func::EndsWith => Val::Bool((0..n).map(|i| Some(a.s(i)?.ends_with(b.s(i)?))).collect()),
                    _ => ints(&|i| {
                        let (s, t) = (a.s(i)?, b.s(i)?);
                        Some(s.find(t).map_or(0, |at| s[..at].chars().count() as i64 + 1))
                    }),
                }
            }
            Func::Substr => {
                want(0, Ty::Str)?;
                want(1, Ty::Int)?;
                if args.len() == 3 {
                    want(2, Ty::Int)?;
                }
                strs(&|i| {
                    let s = a.s(i)?;
                    let start = args[1].int(i)?;
                    // PostgreSQL: characters from `start` (1-based) up to `start + len`, clipped at 1.
                    let end = match args.get(2) {
                        Some(l) => Some(start.saturating_add(l.int(i).filter(|l| *l >= 0)?)),
                        None => None,
                    };
                    let from = start.max(1);
                    let take = end.map_or(usize::MAX, |e| (e - from).max(0) as usize);
                    Some(s.chars().skip((from - 1) as usize).take(take).collect())
                })
            }
            Func::Left | Func::Right => {
                want(0, Ty::Str)?;
                want(1, Ty::Int)?;
                strs(&|i| {
                    let s = a.s(i)?;
                    let k = args[1].int(i)?;
                    let len = s.chars().count() as i64;
                    let keep = if k >= 0 { k.min(len) } else { (len + k).max(0) } as usize;
                    Some(if f == Func::Left {
                        s.chars().take(keep).collect()
                    } else {
                        s.chars().skip(len as usize - keep).collect()
                    })
                })
            }
            Func::Replace => {
                (0..3).try_for_each(|k| want(k, Ty::Str))?;
                strs(&|i| {
                    let (s, from, to) = (a.s(i)?, args[1].s(i)?, args[2].s(i)?);
                    Some(if from.is_empty() { s.to_string() } else { s.replace(from, to) })
                })
            }
            Func::Concat => {
                strs(&|i| Some(args.iter().filter_map(|v| v.text(i)).collect::<Vec<_>>().concat()))
            }
            Func::ConcatWs => strs(&|i| {
                let sep = a.text(i)?;
                Some(args[1..].iter().filter_map(|v| v.text(i)).collect::<Vec<_>>().join(&sep))
            }),
            Func::Abs | Func::Sign | Func::Ceil | Func::Floor => {
                want(0, Ty::Float)?;
                match a.ty() {
                    Ty::Int => ints(&|i| {
                        let x = a.int(i)?;
                        match f {
                            Func::Abs => x.checked_abs(),
                            Func::Sign => Some(x.signum()),
                            _ => Some(x),
                        }
                    }),
                    Ty::Null => Val::Scalar(Scalar::Null),
                    _ => floats(&|i| {
                        let x = a.num(i)?.f();
                        Some(match f {
                            Func::Abs => x.abs(),
                            Func::Sign => {
                                if x > 0.0 {
                                    1.0
                                } else if x < 0.0 {
                                    -1.0
                                } else {
                                    0.0
                                }
                            }
                            Func::Ceil => x.ceil(),
                            _ => x.floor(),
                        })
                    }),
                }
            }
            Func::Round => {
                want(0, Ty::Float)?;
                if args.len() == 2 {
                    want(1, Ty::Int)?;
                }
                let digits = |i: usize| -> Option<i32> {
                    args.get(1).map_or(Some(0), |d| d.int(i).map(|d| d.clamp(-30, 30) as i32))
                };
                let round = |x: f64, d: i32| {
                    let p = 10f64.powi(d);
                    (x * p).round() / p
                };
                match a.ty() {
                    Ty::Int => ints(&|i| {
                        let (x, d) = (a.int(i)?, digits(i)?);
                        if d >= 0 {
                            Some(x)
                        } else {
                            Some(round(x as f64, d)).filter(|f| f.abs() < 9.2e18).map(|f| f as i64)
                        }
                    }),
                    Ty::Null => Val::Scalar(Scalar::Null),
                    _ => floats(&|i| Some(round(a.num(i)?.f(), digits(i)?))),
                }
            }
            Func::Sqrt | Func::Ln | Func::Log10 | Func::Exp => {
                want(0, Ty::Float)?;
                floats(&|i| {
                    let x = a.num(i)?.f();
                    match f {
                        Func::Sqrt => (x >= 0.0).then(|| x.sqrt()),
                        Func::Ln => (x > 0.0).then(|| x.ln()),
                        Func::Log10 => (x > 0.0).then(|| x.log10()),
                        _ => Some(x.exp()),
                    }
                })
            }
            Func::Power => {
                want(0, Ty::Float)?;
                want(1, Ty::Float)?;
                floats(&|i| Some(a.num(i)?.f().powf(args[1].num(i)?.f())))
            }
            Func::Mod => {
                want(0, Ty::Float)?;
                want(1, Ty::Float)?;
                arith(a.clone(), Arith::Mod, &args[1], n, src)?
            }
            Func::Greatest | Func::Least | Func::Coalesce | Func::NullIf => {
                let mut ty = Ty::Null;
                for v in args {
                    ty = unify(ty, v.ty()).ok_or_else(|| {
                        format!("`{src}`: the arguments mix {} and {}", ty.name(), v.ty().name())
                    })?;
                }
                let pick = |i: usize| -> R<Option<&Val<'a>>> {
                    Ok(match f {
                        Func::Coalesce => args.iter().find(|v| !v.is_null(i)),
                        Func::NullIf => {
                            let same = !args[1].is_null(i)
                                && compare(&args[0], &args[1], i, src)? == Some(std::cmp::Ordering::Equal);
                            (!same).then_some(&args[0])
                        }
                        _ => {
                            let mut best: Option<&Val<'a>> = None;
                            for v in args.iter().filter(|v| !v.is_null(i)) {
                                best = Some(match best {
                                    None => v,
                                    Some(b) => {
                                        let o = compare(v, b, i, src)?;
                                        let better = if f == Func::Greatest {
                                            o == Some(std::cmp::Ordering::Greater)
                                        } else {
                                            o == Some(std::cmp::Ordering::Less)
                                        };
                                        if better { v } else { b }
                                    }
                                });
                            }
                            best
                        }
                    })
                };
                let picked = (0..n).map(pick).collect::<R<Vec<_>>>()?;
                match ty {
                    Ty::Null => Val::Scalar(Scalar::Null),
                    Ty::Bool => {
                        Val::Bool(picked.iter().enumerate().map(|(i, v)| v.and_then(|v| v.b(i))).collect())
                    }
                    Ty::Int => {
                        Val::Int(picked.iter().enumerate().map(|(i, v)| v.and_then(|v| v.int(i))).collect())
                    }
                    Ty::Float => Val::Float(
                        picked
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v.and_then(|v| v.num(i)).map(Num::f))
                            .collect(),
                    ),
                    Ty::Str => Val::Str(
                        picked
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v.and_then(|v| v.s(i)).map(|s| Cow::Owned(s.to_string())))
                            .collect(),
                    ),
                }
            }
        })
    }
}

/// A short text for a node in messages.
fn describe(node: &Node) -> String {
    match node {
        Node::Col(c) => c.clone(),
        Node::Lowered(c) => format!("lower({c})"),
        Node::Lit(s) => format!("{s:?}"),
        Node::Cmp { src, .. }
        | Node::Arith { src, .. }
        | Node::Neg(_, src)
        | Node::Concat(_, src)
        | Node::Is { src, .. }
        | Node::Distinct { src, .. } => src.to_string(),
        Node::Like { src, .. }
        | Node::In { src, .. }
        | Node::Between { src, .. }
        | Node::Case { src, .. }
        | Node::Cast { src, .. }
        | Node::Func { src, .. }
        | Node::Regex { src, .. } => src.to_string(),
        Node::Not(x) => format!("NOT {}", describe(x)),
        Node::And(_) => "AND".into(),
        Node::Or(_) => "OR".into(),
    }
}

fn num_cmp(a: Num, b: Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        _ => a.f().partial_cmp(&b.f()),
    }
}

/// Row `i` of `a` against row `i` of `b`: `None` when either is null.
fn compare(a: &Val, b: &Val, i: usize, src: &str) -> R<Option<std::cmp::Ordering>> {
    let (ta, tb) = (a.ty(), b.ty());
    if !comparable(ta, tb) {
        return Err(type_error(src, ta, tb));
    }
    Ok(match (ta, tb) {
        (Ty::Null, _) | (_, Ty::Null) => None,
        (Ty::Str, Ty::Str) => match (a.s(i), b.s(i)) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => None,
        },
        (Ty::Bool, Ty::Bool) => match (a.b(i), b.b(i)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
        _ => match (a.num(i), b.num(i)) {
            (Some(x), Some(y)) => num_cmp(x, y),
            _ => None,
        },
    })
}

fn cmp_holds(op: Cmp, o: std::cmp::Ordering) -> bool {
    match op {
        Cmp::Eq => o.is_eq(),
        Cmp::NotEq => o.is_ne(),
        Cmp::Lt => o.is_lt(),
        Cmp::LtEq => o.is_le(),
        Cmp::Gt => o.is_gt(),
        Cmp::GtEq => o.is_ge(),
    }
}

/// `a op b` on numbers: integers stay integers (overflow and `% 0` give null), `/` always
/// divides as floats (`/ 0` gives null), non-finite floats become null.
fn arith<'a>(a: Val<'a>, op: Arith, b: &Val<'a>, n: usize, src: &str) -> R<Val<'a>> {
    for t in [a.ty(), b.ty()] {
        if !t.is_num() && t != Ty::Null {
            return Err(format!("`{src}`: arithmetic on {}", t.name()));
        }
    }
    if a.ty() == Ty::Null || b.ty() == Ty::Null {
        return Ok(Val::Scalar(Scalar::Null));
    }
    Ok(if a.ty() == Ty::Int && b.ty() == Ty::Int && op != Arith::Div {
        Val::Int(
            (0..n)
                .map(|i| {
                    let (x, y) = (a.int(i)?, b.int(i)?);
                    match op {
                        Arith::Add => x.checked_add(y),
                        Arith::Sub => x.checked_sub(y),
                        Arith::Mul => x.checked_mul(y),
                        Arith::Mod => x.checked_rem(y),
                        Arith::Div => None,
                    }
                })
                .collect(),
        )
    } else {
        Val::Float(
            (0..n)
                .map(|i| {
                    let (x, y) = (a.num(i)?.f(), b.num(i)?.f());
                    let r = match op {
                        Arith::Add => x + y,
                        Arith::Sub => x - y,
                        Arith::Mul => x * y,
                        Arith::Div | Arith::Mod if y == 0.0 => return None,
                        Arith::Div => x / y,
                        Arith::Mod => x % y,
                    };
                    r.is_finite().then_some(r)
                })
                .collect(),
        )
    })
}
