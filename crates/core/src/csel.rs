//! Content selectors: Nexus's CSEL expressions over an asset's `format` and `path`, e.g.
//! `format == "maven2" and path =^ "/org/example/"`. Operators: `==`, `!=`, `=~` (the whole
//! value matches a regular expression), `=^` (starts with); `and`, `or`, `not`, parentheses.

use regex::Regex;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid content selector expression at {at}: {msg}")]
pub struct CselError {
    pub at: usize,
    pub msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Format,
    Path,
}

#[derive(Clone, Debug)]
enum Expr {
    Eq(Field, String),
    Ne(Field, String),
    Matches(Field, Regex),
    Starts(Field, String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A parsed expression, ready to test assets.
#[derive(Clone, Debug)]
pub struct Selector(Expr);

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Op(&'static str),
    Open,
    Close,
}

fn err(at: usize, msg: impl Into<String>) -> CselError {
    CselError {
        at,
        msg: msg.into(),
    }
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, CselError> {
    let b = src.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push((i, Tok::Open));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::Close));
                i += 1;
            }
            b'"' | b'\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "unterminated string")),
                        Some(&q) if q == c => break,
                        Some(b'\\') if i + 1 < b.len() => {
                            // Keep the escape for regular expressions; only quotes lose it.
                            let n = b[i + 1];
                            if n != c {
                                s.push('\\');
                            }
                            s.push(n as char);
                            i += 2;
                            continue;
                        }
                        Some(_) => {
                            let ch = src[i..].chars().next().unwrap_or('\0');
                            s.push(ch);
                            i += ch.len_utf8();
                            continue;
                        }
                    }
                }
                i += 1;
                out.push((start, Tok::Str(s)));
            }
            b'=' | b'!' | b'&' | b'|' => {
                let two = src.get(i..i + 2).unwrap_or("");
                let op = match two {
                    "==" => "==",
                    "!=" => "!=",
                    "=~" => "=~",
                    "=^" => "=^",
                    "&&" => "and",
                    "||" => "or",
                    _ if c == b'!' => "not",
                    _ => return Err(err(i, format!("unknown operator {two:?}"))),
                };
                i += if op == "not" { 1 } else { 2 };
                out.push((start, Tok::Op(op)));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                let word = &src[start..i];
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::Op("and"),
                    "or" => Tok::Op("or"),
                    "not" => Tok::Op("not"),
                    _ => Tok::Ident(word.to_owned()),
                };
                out.push((start, tok));
            }
            _ => return Err(err(i, format!("unexpected {:?}", c as char))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(a, _)| *a)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Expr, CselError> {
        let mut e = self.and()?;
        while self.peek() == Some(&Tok::Op("or")) {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, CselError> {
        let mut e = self.unary()?;
        while self.peek() == Some(&Tok::Op("and")) {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr, CselError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Op("not")) => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Tok::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(err(self.at(), "expected ')'")),
                }
            }
            Some(Tok::Ident(name)) => {
                let field = match name.as_str() {
                    "format" => Field::Format,
                    "path" => Field::Path,
                    other => {
                        return Err(err(
                            at,
                            format!("unknown field {other:?} (format or path expected)"),
                        ));
                    }
                };
                let op_at = self.at();
                let op = match self.next() {
                    Some(Tok::Op(op @ ("==" | "!=" | "=~" | "=^"))) => op,
                    _ => return Err(err(op_at, "expected ==, !=, =~ or =^")),
                };
                let v_at = self.at();
                let Some(Tok::Str(v)) = self.next() else {
                    return Err(err(v_at, "expected a quoted string"));
                };
                Ok(match op {
                    "==" => Expr::Eq(field, v),
                    "!=" => Expr::Ne(field, v),
                    "=^" => Expr::Starts(field, v),
                    _ => Expr::Matches(
                        field,
                        Regex::new(&format!("^(?:{v})$")).map_err(|e| err(v_at, e.to_string()))?,
                    ),
                })
            }
            _ => Err(err(at, "expected a condition")),
        }
    }
}

impl Selector {
    pub fn parse(src: &str) -> Result<Self, CselError> {
        let toks = lex(src)?;
        if toks.is_empty() {
            return Err(err(0, "empty expression"));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            len: src.len(),
        };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(err(p.at(), "unexpected text after the expression"));
        }
        Ok(Self(e))
    }

    /// Whether an asset of `format` at `path` (with or without its leading '/') is selected.
    pub fn matches(&self, format: &str, path: &str) -> bool {
        let slashed;
        let path = if path.starts_with('/') {
            path
        } else {
            slashed = format!("/{path}");
            &slashed
        };
        eval(&self.0, format, path)
    }
}

fn eval(e: &Expr, format: &str, path: &str) -> bool {
    let v = |f: &Field| if *f == Field::Format { format } else { path };
    match e {
        Expr::Eq(f, s) => v(f) == s,
        Expr::Ne(f, s) => v(f) != s,
        Expr::Starts(f, s) => v(f).starts_with(s.as_str()),
        Expr::Matches(f, r) => r.is_match(v(f)),
        Expr::And(a, b) => eval(a, format, path) && eval(b, format, path),
        Expr::Or(a, b) => eval(a, format, path) || eval(b, format, path),
        Expr::Not(a) => !eval(a, format, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let s = Selector::parse(r#"format == "maven2" and path =^ "/org/example/""#).unwrap();
        assert!(s.matches("maven2", "org/example/a/1/a-1.jar"));
        assert!(s.matches("maven2", "/org/example/a/1/a-1.jar"));
        assert!(!s.matches("maven2", "org/other/a/1/a-1.jar"));
        assert!(!s.matches("pypi", "org/example/x"));

        let s = Selector::parse(
            r#"path =~ "/packages/.*\.whl" or (format != 'raw' and not path =^ "/a")"#,
        )
        .unwrap();
        assert!(s.matches("raw", "/packages/x-1-py3-none-any.whl"));
        assert!(!s.matches("raw", "/packages/x.tar.gz"));
        assert!(s.matches("pypi", "/b"));
        assert!(!s.matches("pypi", "/a/b"));
        // =~ matches the whole path, not a part of it.
        let s = Selector::parse(r#"path =~ "/a""#).unwrap();
        assert!(!s.matches("raw", "/a/b"));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(Selector::parse(r#"color == "x""#).unwrap_err().at, 0);
        assert_eq!(Selector::parse(r#"path = "x""#).unwrap_err().at, 5);
        assert!(Selector::parse(r#"path == "x"#).is_err());
        assert!(Selector::parse(r#"path =~ "(""#).is_err());
        assert!(Selector::parse(r#"(path == "x""#).is_err());
        assert!(Selector::parse(r#"path == "x" path"#).is_err());
        assert!(Selector::parse("").is_err());
    }
}
