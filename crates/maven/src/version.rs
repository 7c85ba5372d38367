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

fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(Item::Num(x)), Some(Item::Num(y))) => x.cmp(y),
        (Some(Item::Num(x)), None) => x.cmp(&0),
        (None, Some(Item::Num(y))) => 0.cmp(y),
        (Some(Item::Num(_)), Some(Item::Qual(_))) => Ordering::Greater,
        (Some(Item::Qual(_)), Some(Item::Num(_))) => Ordering::Less,
        (Some(Item::Qual(x)), Some(Item::Qual(y))) => qualifier_rank(x).cmp(&qualifier_rank(y)),
        (Some(Item::Qual(x)), None) => qualifier_rank(x).cmp(&qualifier_rank("")),
        (None, Some(Item::Qual(y))) => qualifier_rank("").cmp(&qualifier_rank(y)),
    }
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
        assert!(is_snapshot("1.0-SNAPSHOT"));
        assert!(!is_snapshot("1.0"));
    }
}
