//! Maven's version order (ComparableVersion): `1.0-alpha < 1.0-rc1 < 1.0-SNAPSHOT < 1.0 < 1.0-sp1 < 1.0.1`.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Num(u128),
    Qual(String),
}

fn qualifier_rank(q: &str) -> (u8, &str) {
    match q {
        "alpha" | "a" => (0, ""),
        "beta" | "b" => (1, ""),
        "milestone" | "m" => (2, ""),
        "rc" | "cr" => (3, ""),
        "snapshot" => (4, ""),
        "" | "ga" | "final" | "release" => (5, ""),
        "sp" => (6, ""),
        other => (7, other),
    }
}

fn items(v: &str) -> Vec<Item> {
    let v = v.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, digits: bool, out: &mut Vec<Item>| {
        if cur.is_empty() {
            return;
        }
        out.push(if digits {
            Item::Num(cur.parse().unwrap_or(u128::MAX))
        } else {
            Item::Qual(std::mem::take(cur))
        });
        cur.clear();
    };
    for c in v.chars() {
        if c == '.' || c == '-' || c == '_' {
            flush(&mut cur, digits, &mut out);
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != digits {
            flush(&mut cur, digits, &mut out);
        }
        digits = d;
        cur.push(c);
    }
    flush(&mut cur, digits, &mut out);
    // Trailing zeros and release qualifiers do not count: 1.0 == 1 == 1.0.0 == 1-ga.
    while matches!(out.last(), Some(Item::Num(0)))
        || matches!(out.last(), Some(Item::Qual(q)) if qualifier_rank(q).0 == 5)
    {
        out.pop();
    }
    out
}

/// Where an item (or the end of a version, `None`) sorts. One key per item makes the order
/// total, which `sort_by` requires (it may panic otherwise) and versions come from anyone:
/// comparing pairs case by case ranked `0-alpha` < `` < `x` < `0-alpha`. A zero counts as
/// absent, as a release qualifier does (`1.0` == `1` == `1-ga`).
fn key(item: Option<&Item>) -> (u8, u128, &str) {
    match item {
        None | Some(Item::Num(0)) => (1, 0, ""),
        Some(Item::Num(n)) => (4, *n, ""),
        Some(Item::Qual(q)) => match qualifier_rank(q) {
            (r @ 0..5, _) => (0, u128::from(r), ""),
            (5, _) => (1, 0, ""),
            (6, _) => (2, 0, ""),
            (_, other) => (3, 0, other),
        },
    }
}

fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    key(a).cmp(&key(b))
}

pub fn compare(a: &str, b: &str) -> Ordering {
    let (ia, ib) = (items(a), items(b));
    for i in 0..ia.len().max(ib.len()) {
        match cmp_item(ia.get(i), ib.get(i)) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

pub fn is_snapshot(version: &str) -> bool {
    version.ends_with("-SNAPSHOT") || version == "SNAPSHOT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_order() {
        let ordered = [
            "1.0-alpha1",
            "1.0-beta",
            "1.0-rc1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-sp1",
            "1.0.1",
            "1.1",
            "1.10",
            "2.0-M1",
            "2.0",
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(compare(w[1], w[0]), Ordering::Greater);
        }
        assert_eq!(compare("1.0", "1"), Ordering::Equal);
        assert_eq!(compare("1.0.0", "1-ga"), Ordering::Equal);
        // Found by fuzzing: the order was not transitive, and `sort_by` panics on such orders.
        let (a, b, c) = ("0-alpha", "", "\u{1F300}");
        assert_eq!(compare(a, b), Ordering::Less);
        assert_eq!(compare(b, c), Ordering::Less);
        assert_eq!(compare(a, c), Ordering::Less);
        let mut vs: Vec<String> = ["0", "0-alpha", "2", "3", "1.1", "0.0", "1c", "1.0-alpha"]
            .into_iter()
            .chain(["1.0-SNAPSHOT", "", "x", "1-sp", "1.0.1", "0-alpha"])
            .map(String::from)
            .collect();
        vs.sort_by(|a, b| compare(a, b));
        assert!(is_snapshot("1.0-SNAPSHOT"));
        assert!(!is_snapshot("1.0"));
    }
}
