//! `LIKE` / `ILIKE` patterns. `%` matches any run of characters (newlines included), `_` exactly
//! one character; there is no escape character unless `ESCAPE 'c'` names one (as in polars SQL,
//! a `\` is an ordinary character). Case-sensitive patterns of the common shapes run without a
//! regex: a literal is an equality test, `'%lit%'` a substring search (memchr), `'lit%'` /
//! `'%lit'` a prefix / suffix test. Everything else, and every `ILIKE` (Unicode simple case
//! folding, as `(?i)`), compiles to an anchored regex.

use memchr::memmem::Finder;

use super::compile::build_regex;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    Any,
    One,
}

/// A compiled `LIKE` pattern.
#[derive(Debug)]
pub(crate) enum Matcher {
    Exact(String),
    /// `'%'`: any non-null text.
    Anything,
    Contains(Box<Finder<'static>>),
    StartsWith(String),
    EndsWith(String),
    Regex(regex_automata::meta::Regex),
}

fn tokens(pattern: &str, escape: Option<char>) -> Result<Vec<Tok>, String> {
    let mut out: Vec<Tok> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let tok = if Some(c) == escape {
            let next = chars.next().ok_or("the pattern ends with its escape character")?;
            Tok::Lit(next.to_string())
        } else if c == '%' {
            Tok::Any
        } else if c == '_' {
            Tok::One
        } else {
            Tok::Lit(c.to_string())
        };
        match (out.last_mut(), tok) {
            (Some(Tok::Lit(s)), Tok::Lit(t)) => s.push_str(&t),
            (Some(Tok::Any), Tok::Any) => {}
            (_, t) => out.push(t),
        }
    }
    Ok(out)
}

impl Matcher {
    /// Compiles `pattern` (`escape`: the ESCAPE character; `ci`: ILIKE).
    pub(crate) fn like(pattern: &str, escape: Option<char>, ci: bool) -> Result<Self, String> {
        let toks = tokens(pattern, escape)?;
        if !ci {
            match toks.as_slice() {
                [] => return Ok(Matcher::Exact(String::new())),
                [Tok::Lit(s)] => return Ok(Matcher::Exact(s.clone())),
                [Tok::Any] => return Ok(Matcher::Anything),
                [Tok::Any, Tok::Lit(s), Tok::Any] => {
                    return Ok(Matcher::Contains(Box::new(Finder::new(s.as_bytes()).into_owned())));
                }
                [Tok::Lit(s), Tok::Any] => return Ok(Matcher::StartsWith(s.clone())),
                [Tok::Any, Tok::Lit(s)] => return Ok(Matcher::EndsWith(s.clone())),
                _ => {}
            }
        }
        let mut rx = String::from("^");
        for t in &toks {
            match t {
                Tok::Lit(s) => rx.push_str(&regex_syntax::escape(s)),
                Tok::Any => rx.push_str(".*"),
                Tok::One => rx.push('.'),
            }
        }
        rx.push('$');
        Ok(Matcher::Regex(build_regex(&rx, if ci { "is" } else { "s" })?))
    }

    /// A fresh search cache when this matcher uses a regex (one per chunk and thread).
    pub(crate) fn cache(&self) -> Option<regex_automata::meta::Cache> {
        match self {
            Matcher::Regex(r) => Some(r.create_cache()),
            _ => None,
        }
    }

    pub(crate) fn is_match(&self, s: &str, cache: &mut Option<regex_automata::meta::Cache>) -> bool {
        match self {
            Matcher::Exact(t) => s == t,
            Matcher::Anything => true,
            Matcher::Contains(f) => f.find(s.as_bytes()).is_some(),
            Matcher::StartsWith(t) => s.starts_with(t.as_str()),
            Matcher::EndsWith(t) => s.ends_with(t.as_str()),
            Matcher::Regex(r) => match cache {
                Some(c) => r.search_half_with(c, &regex_automata::Input::new(s).earliest(true)).is_some(),
                None => r.is_match(s),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, esc: Option<char>, ci: bool, s: &str) -> bool {
        let m = Matcher::like(p, esc, ci).unwrap();
        let mut c = m.cache();
        m.is_match(s, &mut c)
    }

    #[test]
    fn shapes_and_semantics() {
        assert!(matches!(Matcher::like("%check%", None, false), Ok(Matcher::Contains(_))));
        assert!(matches!(Matcher::like("check%", None, false), Ok(Matcher::StartsWith(s)) if s == "check"));
        assert!(matches!(Matcher::like("%check", None, false), Ok(Matcher::EndsWith(s)) if s == "check"));
        assert!(matches!(Matcher::like("abc", None, false), Ok(Matcher::Exact(s)) if s == "abc"));
        assert!(matches!(Matcher::like("%%", None, false), Ok(Matcher::Anything)));
        assert!(matches!(Matcher::like("%a_b%", None, false), Ok(Matcher::Regex(_))));
        assert!(
            matches!(Matcher::like("%check%", None, true), Ok(Matcher::Regex(_))),
            "ILIKE always folds case by regex"
        );
        // `%` spans newlines; `_` is one character (not one byte).
        assert!(m("a%b", None, false, "a\n\nb"));
        assert!(m("_b", None, false, "éb"));
        assert!(!m("_b", None, false, "éeb"));
        // Regex metacharacters are literal; `\` is an ordinary character without ESCAPE.
        assert!(m("%a.b*c(%", None, false, "xa.b*c(d"));
        assert!(!m("%a.b*c(%", None, false, "xaXbbc(d"));
        assert!(m("%50\\%", None, false, "50\\ percent"));
        // With ESCAPE, the escaped `%` is a literal percent sign.
        assert!(m("%50!%%", Some('!'), false, "save 50% now"));
        assert!(!m("%50!%%", Some('!'), false, "save 50 now"));
        assert!(Matcher::like("50!", Some('!'), false).is_err());
        // ILIKE: Unicode simple case folding.
        assert!(m("%ΣΑΣ%", None, true, "οδος σας"));
        assert!(m("check%", None, true, "CHECK this"));
        assert!(!m("check%", None, false, "CHECK this"));
        assert!(m("", None, false, ""));
        assert!(!m("", None, false, "x"));
    }
}
