//! Content selectors: Nexus's CSEL expressions over an asset's `format` and `path`, e.g.
//! `format == "maven2" and path =^ "/org/example/"`. Operators: `==`, `!=`, `=~` (the whole
//! value matches a regular expression), `=^` (starts with); `and`, `or`, `not`, parentheses.
//!
//! Expressions come from administrators over the REST API and are parsed again on every
//! privilege reload, so both their size and their nesting are bounded: the parser recurses,
//! and a stack overflow aborts the whole process rather than failing one request.

use regex::Regex;
use thiserror::Error;

/// Longest expression accepted, in bytes (Nexus's own selectors are a line or two).
pub const MAX_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses and `not`s accepted.
pub const MAX_DEPTH: usize = 32;

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
    // Flat lists, so a long `a or b or c ...` chain is one level deep, not one per operand.
    And(Vec<Expr>),
    Or(Vec<Expr>),
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
                            // The escaped character may be multi-byte: take it whole.
                            let n = src[i + 1..].chars().next().unwrap_or('\0');
                            if n != c as char {
                                s.push('\\');
                            }
                            s.push(n);
                            i += 1 + n.len_utf8();
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
    /// Open parentheses and `not`s around the current position.
    depth: usize,
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
        let mut all = vec![self.and()?];
        while self.peek() == Some(&Tok::Op("or")) {
            self.pos += 1;
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 {
            all.swap_remove(0)
        } else {
            Expr::Or(all)
        })
    }
    fn and(&mut self) -> Result<Expr, CselError> {
        let mut all = vec![self.unary()?];
        while self.peek() == Some(&Tok::Op("and")) {
            self.pos += 1;
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 {
            all.swap_remove(0)
        } else {
            Expr::And(all)
        })
    }
    /// Enters one more level of `not` or parentheses, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        at: usize,
        f: impl FnOnce(&mut Self) -> Result<T, CselError>,
    ) -> Result<T, CselError> {
        if self.depth >= MAX_DEPTH {
            return Err(err(
                at,
                format!("nested more than {MAX_DEPTH} levels deep (parentheses and not)"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }
    fn unary(&mut self) -> Result<Expr, CselError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Op("not")) => self.nested(at, |p| Ok(Expr::Not(Box::new(p.unary()?)))),
            Some(Tok::Open) => self.nested(at, |p| {
                let e = p.or()?;
                match p.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(err(p.at(), "expected ')'")),
                }
            }),
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
        if src.len() > MAX_LEN {
            return Err(err(MAX_LEN, format!("longer than {MAX_LEN} bytes")));
        }
        let toks = lex(src)?;
        if toks.is_empty() {
            return Err(err(0, "empty expression"));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            len: src.len(),
            depth: 0,
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
        Expr::And(all) => all.iter().all(|e| eval(e, format, path)),
        Expr::Or(all) => all.iter().any(|e| eval(e, format, path)),
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

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        // Each of these overflowed the stack (and aborted the process) before the limits.
        let leaf = r#"path =^ "/""#;
        let parens = format!("{}{leaf}{}", "(".repeat(3000), ")".repeat(3000));
        let e = Selector::parse(&parens).unwrap_err();
        assert!(e.msg.contains("nested"), "{e}");
        let nots = format!("{}{leaf}", "not ".repeat(5000));
        assert!(Selector::parse(&nots).is_err());
        let nots = format!("{}{leaf}", "not ".repeat(2000));
        assert!(Selector::parse(&nots).unwrap_err().msg.contains("nested"));
        let bangs = format!("{}{leaf}", "!".repeat(5000));
        assert!(Selector::parse(&bangs).unwrap_err().msg.contains("nested"));
        let unclosed = "(".repeat(100_000);
        assert!(Selector::parse(&unclosed).is_err());
        let long = vec![leaf; 2000].join(" or ");
        assert!(Selector::parse(&long).unwrap_err().msg.contains("longer"));
        // Right at the limits still parses.
        let ok = format!("{}{leaf}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Selector::parse(&ok).unwrap().matches("raw", "x"));
        let ok = format!("{}{leaf}", "not ".repeat(MAX_DEPTH));
        assert!(Selector::parse(&ok).unwrap().matches("raw", "x"));
        let too = format!("{}{leaf}", "not ".repeat(MAX_DEPTH + 1));
        assert!(Selector::parse(&too).is_err());
        // A long flat chain is one level, not hundreds.
        let chain = vec![r#"path == "/a""#; 500].join(" or ") + r#" or path == "/x""#;
        assert!(Selector::parse(&chain).unwrap().matches("raw", "x"));
    }

    #[test]
    fn escaped_multibyte_character() {
        // A backslash before a multi-byte character split it, and slicing then panicked.
        let s = Selector::parse("path == \"/\\é\"").unwrap();
        assert!(s.matches("raw", "/\\é"));
        assert!(Selector::parse("path == '\\\u{1F600}'").is_ok());
    }
}
