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
