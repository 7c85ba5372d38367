//! The runner of Arca's property-based fuzz harnesses, included by each with `#[path]` (the
//! harnesses of core and the formats cannot depend on testkit, which depends on them).
//!
//! A property runs `PROPTEST_CASES` cases (proptest's default config reads it; 256 when
//! unset), so CI runs a short pass and `scripts/fuzz.sh` a long one. Each prints
//! `fuzz <name>: <n> cases` for that script's count. A failure panics with the shrunk input,
//! which then belongs in a regular regression test next to the parser.

use std::{cell::Cell, fmt::Debug};

use proptest::{
    strategy::Strategy,
    test_runner::{Config, TestCaseError, TestRunner},
};

pub fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    // Failures are kept as regression tests by hand, not in proptest-regressions files.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let ran = Cell::new(0u64);
    let result = TestRunner::new(config).run(&strategy, |v| {
        ran.set(ran.get() + 1);
        test(v)
    });
    println!("fuzz {name}: {} cases", ran.get());
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

/// A valid input with a few random character-level edits (inserted, removed, replaced).
#[allow(dead_code)] // not every harness including this file mutates strings
pub fn mutated(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    use proptest::{collection::vec, prelude::any};
    let edit = (any::<u16>(), 0u8..3, any::<char>());
    (valid, vec(edit, 0..6)).prop_map(|(s, edits)| {
        let mut chars: Vec<char> = s.chars().collect();
        for (at, kind, c) in edits {
            let i = at as usize % (chars.len() + 1);
            match kind {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}
