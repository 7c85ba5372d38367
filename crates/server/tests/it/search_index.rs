//! Keyword search (`q=`) through the trigram index (migration 0007: FTS5 on SQLite, pg_trgm on
//! PostgreSQL): terms are found literally, full-text query syntax included; short terms still
//! scan; pages and tokens are those of the scan.

use std::collections::BTreeSet;

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::Value;

use crate::{GET, PUT, json};

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const FILES: [&str; 7] = [
    "odd/say \"hi\" now.txt",
    "odd/left OR right.txt",
    "odd/NEAR(a b).txt",
    "odd/minus-sign-x.txt",
    "odd/caret^col:on.txt",
    "odd/Zebracorn.txt",
    "odd/percent%under_score.txt",
];

/// Every item's `key` over every page of `path`, and the number of pages.
async fn all(s: &TestServer, path: &str, key: &str) -> (Vec<String>, usize) {
    let mut out = vec![];
    let mut token: Option<String> = None;
    for pages in 1..100 {
        let url = match &token {
            Some(t) => format!("{path}&continuationToken={t}"),
            None => path.to_owned(),
        };
        let v: Value = json(s.admin(GET, &url).send().await.unwrap()).await;
        for i in v["items"].as_array().unwrap() {
            out.push(i[key].as_str().unwrap().to_owned());
        }
        match v["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return (out, pages),
        }
    }
    panic!("pages do not end");
}

async fn literal_terms_and_pages(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    for f in FILES {
        let path = f.split('/').map(enc).collect::<Vec<_>>().join("/");
        let r = s
            .admin(PUT, &format!("/repository/files/{path}"))
            .body(f.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{f}");
    }
    for i in 0..120 {
        s.admin(PUT, &format!("/repository/files/bulk/page{i:03}.html"))
            .body(format!("page {i}"))
            .send()
            .await
            .unwrap();
    }
    let names = |q: &str| {
        let url = format!("/service/rest/v1/search?q={}", enc(q));
        let s = &s;
        async move { all(s, &url, "name").await.0 }
    };
    for (term, want) in [
        ("say \"hi", FILES[0]),
        ("t OR r", FILES[1]),
        ("NEAR(a", FILES[2]),
        ("-sign-", FILES[3]),
        ("^col:", FILES[4]),
        ("ZEBRACORN", FILES[5]),
        ("zebra*txt", FILES[5]),
        ("%under_", FILES[6]),
    ] {
        assert_eq!(names(term).await, [want], "{term:?}");
    }
    assert!(names("OR right NEAR").await.is_empty());
    assert_eq!(names("odd/").await.len(), FILES.len());
    // A term of three characters or more (index) and a shorter one (scan): same pages, every
    // component once, 50 a page.
    for (term, n) in [("page", 120), ("e0", 100), ("pa*html", 120), ("pa*1", 39)] {
        for endpoint in ["search", "search/assets"] {
            let key = if endpoint == "search" { "name" } else { "path" };
            let (items, pages) = all(
                &s,
                &format!("/service/rest/v1/{endpoint}?q={}", enc(term)),
                key,
            )
            .await;
            let unique: BTreeSet<&String> =
                items.iter().filter(|n| n.starts_with("bulk/")).collect();
            assert_eq!(unique.len(), n, "{endpoint} {term}: {items:?}");
            assert_eq!(items.len(), n, "{endpoint} {term}: nothing twice");
            // A full page carries a token, even the last one.
            assert_eq!(pages, n / 50 + 1, "{endpoint} {term}");
        }
    }
    let sug: Value = json(
        s.admin(
            GET,
            &format!("/service/rest/v1/search/suggest?q={}", enc("t OR r")),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(sug[0]["name"], FILES[1], "{sug}");
}

both_backends!(literal_terms_and_pages);
