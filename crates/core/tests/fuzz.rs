//! Property-based fuzzing of core's parsers of user input: content selectors (CSEL), `Range`
//! headers, asset paths, repository names and digests. `scripts/fuzz.sh` runs it long.

#[path = "../../testkit/fuzz_check.rs"]
mod fuzz_check;

use arca_core::{
    blob::ByteRange,
    csel::{self, Selector},
    model::{AssetPath, Digest, RepoName},
};
use fuzz_check::{check, mutated};
use proptest::{collection::vec, prelude::*, test_runner::TestCaseError};

// ---- CSEL ----

/// An expression tree, rendered to text and evaluated here independently of the parser.
#[derive(Clone, Debug)]
enum E {
    Leaf(bool, &'static str, String),
    Not(Box<E>),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
}

fn value() -> impl Strategy<Value = String> {
    // Quotes of both kinds, non-ASCII, the characters paths hold, and backslashes before
    // other characters (kept as written: the lexer drops a backslash only before the quote).
    let piece = prop_oneof!["[a-z0-9/._\\-'\"é]", "\\\\[a-zé.]"];
    vec(piece, 0..6).prop_map(|p| p.concat())
}

fn leaf() -> impl Strategy<Value = E> {
    (
        any::<bool>(),
        prop_oneof![Just("=="), Just("!="), Just("=^")],
        value(),
    )
        .prop_map(|(f, op, v)| E::Leaf(f, op, v))
}

fn tree() -> impl Strategy<Value = E> {
    leaf().prop_recursive(6, 40, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| E::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| E::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn quote(v: &str) -> String {
    let mut s = String::from('"');
    for c in v.chars() {
        if c == '"' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

fn render(e: &E) -> String {
    match e {
        E::Leaf(f, op, v) => format!("{} {op} {}", if *f { "format" } else { "path" }, quote(v)),
        E::Not(a) => format!("not ({})", render(a)),
        E::And(a, b) => format!("({}) and ({})", render(a), render(b)),
        E::Or(a, b) => format!("({}) || ({})", render(a), render(b)),
    }
}

fn eval(e: &E, format: &str, path: &str) -> bool {
    match e {
        E::Leaf(f, op, v) => {
            let x = if *f { format } else { path };
            match *op {
                "==" => x == v,
                "!=" => x != v,
                _ => x.starts_with(v.as_str()),
            }
        }
        E::Not(a) => !eval(a, format, path),
        E::And(a, b) => eval(a, format, path) && eval(b, format, path),
        E::Or(a, b) => eval(a, format, path) || eval(b, format, path),
    }
}

fn depth(e: &E) -> usize {
    // Each rendered level adds one pair of parentheses, `not` adds two levels.
    match e {
        E::Leaf(..) => 0,
        E::Not(a) => 2 + depth(a),
        E::And(a, b) | E::Or(a, b) => 1 + depth(a).max(depth(b)),
    }
}

fn csel_chars() -> impl Strategy<Value = String> {
    "[()! \t\"'\\\\=~^&|a-z_.é/]{0,300}"
}

#[test]
fn csel_arbitrary_text_never_panics() {
    check(
        "csel_arbitrary_text",
        prop_oneof![any::<String>(), csel_chars()],
        |s| {
            if let Ok(sel) = Selector::parse(&s) {
                sel.matches("raw", "/a/b");
            }
            Ok(())
        },
    );
}

#[test]
fn csel_mutated_expressions_never_panic() {
    check(
        "csel_mutated",
        mutated(tree().prop_map(|e| render(&e))),
        |s| {
            if let Ok(sel) = Selector::parse(&s) {
                sel.matches("maven2", "org/x");
            }
            Ok(())
        },
    );
}

#[test]
fn csel_written_expressions_parse_back_to_the_same_meaning() {
    let probe = (
        prop_oneof![Just("raw".to_owned()), Just("maven2".to_owned()), value()],
        value(),
    );
    check(
        "csel_round_trip",
        (tree(), vec(probe, 1..8)),
        |(e, probes)| {
            let text = render(&e);
            let sel = Selector::parse(&text);
            if depth(&e) > csel::MAX_DEPTH || text.len() > csel::MAX_LEN {
                prop_assert!(sel.is_err(), "{text}");
                return Ok(());
            }
            let sel = sel.map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
            for (format, path) in probes {
                let path = format!("/{path}");
                prop_assert_eq!(
                    sel.matches(&format, &path),
                    eval(&e, &format, &path),
                    "{}",
                    text
                );
            }
            Ok(())
        },
    );
}

#[test]
fn csel_deep_nesting_is_an_error_not_a_crash() {
    let opener = prop_oneof![Just("("), Just("not "), Just("!"), Just("( not ")];
    check(
        "csel_deep_nesting",
        (opener, 0usize..20_000, any::<bool>()),
        |(open, n, closed)| {
            let mut s = open.repeat(n);
            s.push_str("path =^ \"/\"");
            if closed {
                s.push_str(&")".repeat(n));
            }
            let r = Selector::parse(&s);
            if n > csel::MAX_DEPTH {
                prop_assert!(r.is_err());
            }
            Ok(())
        },
    );
}

// ---- Range ----

#[test]
fn range_header_never_panics_and_resolves_inside_the_size() {
    let text = prop_oneof![
        any::<String>(),
        "bytes ?= ?[0-9 ]{0,22}-?[0-9 ]{0,22}(,[0-9-]{0,5})?",
        mutated("bytes=[0-9]{1,20}-[0-9]{0,20}"),
    ];
    check("range_header", (text, any::<u64>()), |(s, size)| {
        if let Some(r) = ByteRange::parse_header(&s)
            && let Some((a, b)) = r.resolve(size)
        {
            prop_assert!(a <= b && b < size, "{s:?} on {size}: {a}-{b}");
        }
        Ok(())
    });
}

#[test]
fn range_header_round_trip() {
    let range = prop_oneof![
        (any::<u64>(), proptest::option::of(any::<u64>())).prop_map(|(first, last)| {
            ByteRange::From {
                first,
                last: last.map(|l| l.max(first)),
            }
        }),
        any::<u64>().prop_map(ByteRange::Suffix),
    ];
    check("range_round_trip", range, |r| {
        let text = match r {
            ByteRange::From { first, last } => {
                format!(
                    "bytes={first}-{}",
                    last.map(|l| l.to_string()).unwrap_or_default()
                )
            }
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
        };
        prop_assert_eq!(ByteRange::parse_header(&text), Some(r));
        Ok(())
    });
}

// ---- Paths, names, digests ----

fn pathish() -> impl Strategy<Value = String> {
    // Traversal in its textual forms; percent-decoding happens before AssetPath sees a path.
    let seg = prop_oneof![
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("...".to_owned()),
        Just(String::new()),
        Just("\0".to_owned()),
        Just("a\\..".to_owned()),
        Just("%2e%2e".to_owned()),
        "[a-z.é\u{202e}\u{0}\u{7f}]{1,6}",
    ];
    (vec(seg, 1..8), any::<bool>(), any::<bool>()).prop_map(|(segs, lead, trail)| {
        let mut s = segs.join("/");
        if lead {
            s.insert(0, '/');
        }
        if trail {
            s.push('/');
        }
        s
    })
}

#[test]
fn accepted_asset_paths_never_traverse() {
    check(
        "asset_path",
        prop_oneof![any::<String>(), pathish(), mutated(pathish())],
        |s| {
            if let Ok(p) = AssetPath::parse(&s) {
                let p = p.as_str();
                prop_assert!(!p.starts_with('/'), "{p:?}");
                prop_assert!(!p.contains('\0') && !p.contains('\\'), "{p:?}");
                prop_assert!(!p.chars().any(char::is_control), "{p:?}");
                let body = p.strip_suffix('/').unwrap_or(p);
                for seg in body.split('/') {
                    prop_assert!(!matches!(seg, "" | "." | ".."), "{p:?}");
                }
                let again = AssetPath::parse(p).ok();
                prop_assert_eq!(again.as_ref().map(AssetPath::as_str), Some(p));
            }
            Ok(())
        },
    );
}

#[test]
fn accepted_repository_names_are_one_plain_segment() {
    check(
        "repo_name",
        prop_oneof![any::<String>(), "[a-zA-Z0-9._/\\\\-]{0,12}"],
        |s| {
            if let Ok(n) = RepoName::parse(&s) {
                let n = n.as_str();
                prop_assert!(!matches!(n, "." | ".."), "{n:?}");
                prop_assert!(!n.contains(['/', '\\', '\0']), "{n:?}");
                prop_assert!(n.len() <= 200);
            }
            Ok(())
        },
    );
}

#[test]
fn digests_round_trip_and_reject_junk() {
    check(
        "digest",
        prop_oneof![
            any::<[u8; 32]>().prop_map(|b| Digest::from_bytes(b).to_string()),
            any::<String>(),
            mutated(any::<[u8; 32]>().prop_map(|b| Digest::from_bytes(b).to_string())),
        ],
        |s| {
            if let Ok(d) = Digest::parse(&s) {
                prop_assert_eq!(Digest::parse(&d.to_string()).ok(), Some(d.clone()));
                prop_assert_eq!(Digest::parse(&d.hex()).ok(), Some(d));
            }
            Ok(())
        },
    );
}
