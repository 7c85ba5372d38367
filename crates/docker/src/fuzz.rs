//! Property-based fuzzing of the registry's parsers: `/v2/` paths, image names, tags and
//! digests, manifests and indexes, chunk `Content-Range`s and remote `WWW-Authenticate`
//! challenges. A test module (the parsers are private); `scripts/fuzz.sh` runs it long.

#[path = "../../testkit/fuzz_check.rs"]
mod fuzz_check;

use actix_web::{http::header::HeaderValue, test::TestRequest};
use fuzz_check::{check, mutated};
use proptest::{collection::vec, option, prelude::*};

use crate::{
    blobs::content_range,
    manifest::{self, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST},
    names::{Endpoint, endpoint, parse_digest, valid_name, valid_tag},
    upstream::challenge_params,
};

fn name() -> impl Strategy<Value = String> {
    let comp = "[a-z0-9]{1,4}((\\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}";
    vec(comp, 1..4).prop_map(|c| c.join("/"))
}

fn tag() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}"
}

fn digest() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
}

#[test]
fn accepted_names_and_tags_never_traverse() {
    let junk = "[a-z0-9./_A-Z:%-]{0,20}";
    check(
        "docker_names",
        (
            prop_oneof![any::<String>(), name(), mutated(name()), junk.boxed()],
            prop_oneof![any::<String>(), tag(), mutated(tag())],
        ),
        |(n, t)| {
            if valid_name(&n).is_ok() {
                prop_assert!(n.len() <= 255 && !n.starts_with('/') && !n.ends_with('/'));
                prop_assert!(n.split('/').all(|c| !matches!(c, "" | "." | "..")), "{n:?}");
                prop_assert!(
                    n.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b"._-/".contains(&b)),
                    "{n:?}"
                );
            }
            if valid_tag(&t) {
                prop_assert!(!t.contains(['/', ':', '\\', '\0']) && !t.starts_with(['.', '-']));
                prop_assert!(t.len() <= 128);
            }
            Ok(())
        },
    );
}

#[test]
fn endpoints_round_trip() {
    let reference = prop_oneof![tag(), digest()];
    check(
        "docker_endpoints",
        (name(), reference, digest(), "[a-z0-9-]{1,12}"),
        |(n, r, d, id)| {
            let m = format!("{n}/manifests/{r}");
            prop_assert_eq!(
                endpoint(&m),
                Some(Endpoint::Manifest {
                    name: &n,
                    reference: &r
                })
            );
            let b = format!("{n}/blobs/{d}");
            prop_assert_eq!(
                endpoint(&b),
                Some(Endpoint::Blob {
                    name: &n,
                    digest: &d
                })
            );
            let t = format!("{n}/tags/list");
            prop_assert_eq!(endpoint(&t), Some(Endpoint::Tags { name: &n }));
            let u = format!("{n}/blobs/uploads/{id}");
            prop_assert_eq!(
                endpoint(&u),
                Some(Endpoint::Upload {
                    name: &n,
                    id: Some(&id)
                })
            );
            Ok(())
        },
    );
}

#[test]
fn endpoint_paths_never_panic() {
    let path = prop_oneof![
        any::<String>(),
        mutated(name().prop_map(|n| format!("{n}/blobs/uploads/x"))),
        "([a-z]{0,3}|/|manifests|blobs|uploads|tags|list|referrers|sha256:|\\.\\.){0,12}",
    ];
    check("docker_endpoint_paths", path, |p| {
        match endpoint(&p) {
            Some(Endpoint::Upload { id: Some(id), .. }) => prop_assert!(!id.contains('/')),
            Some(Endpoint::Manifest { reference, .. }) => prop_assert!(!reference.contains('/')),
            Some(Endpoint::Blob { digest, .. }) => prop_assert!(!digest.contains('/')),
            _ => {}
        }
        Ok(())
    });
}

#[test]
fn digests_round_trip() {
    check(
        "docker_digests",
        prop_oneof![
            digest(),
            mutated(digest()),
            any::<String>(),
            digest().prop_map(|d| format!("sha256:{d}")),
        ],
        |s| {
            if let Ok(d) = parse_digest(&s) {
                prop_assert_eq!(d.to_string(), s);
            }
            Ok(())
        },
    );
}

/// A manifest or index as a client pushes it, with its expected blobs and children.
fn manifest_json() -> impl Strategy<Value = (String, String, Vec<String>, Vec<String>)> {
    let desc = || (digest(), 0i64..1 << 40, any::<bool>());
    (
        any::<bool>(),
        any::<bool>(),
        desc(),
        vec(desc(), 0..5),
        option::of(digest()),
        option::of(("[a-z]{1,5}", "[ -~]{0,10}")),
    )
        .prop_map(|(index, oci, config, items, subject, annotation)| {
            let d = |(dg, size, foreign): &(String, i64, bool)| {
                let urls = if *foreign {
                    r#","urls":["https://x/y"]"#
                } else {
                    ""
                };
                format!(r#"{{"mediaType":"m","digest":"{dg}","size":{size}{urls}}}"#)
            };
            let list = items.iter().map(d).collect::<Vec<_>>().join(",");
            let media = match (index, oci) {
                (true, true) => OCI_INDEX,
                (true, false) => DOCKER_LIST,
                (false, true) => OCI_MANIFEST,
                (false, false) => DOCKER_MANIFEST,
            };
            let mut extra = String::new();
            if let Some(s) = &subject {
                extra.push_str(&format!(r#","subject":{{"mediaType":"m","digest":"{s}","size":1}}"#));
            }
            if let Some((k, v)) = &annotation {
                let v = serde_json::Value::String(v.clone());
                extra.push_str(&format!(r#","annotations":{{"{k}":{v}}}"#));
            }
            let (body, blobs, children) = if index {
                let children = items.iter().map(|i| i.0.clone()).collect();
                (
                    format!(r#"{{"schemaVersion":2,"mediaType":"{media}","manifests":[{list}]{extra}}}"#),
                    vec![],
                    children,
                )
            } else {
                let mut blobs = vec![config.0.clone()];
                blobs.extend(items.iter().filter(|i| !i.2).map(|i| i.0.clone()));
                (
                    format!(
                        r#"{{"schemaVersion":2,"mediaType":"{media}","config":{},"layers":[{list}]{extra}}}"#,
                        d(&(config.0.clone(), config.1, false))
                    ),
                    blobs,
                    vec![],
                )
            };
            (body, media.to_owned(), blobs, children)
        })
}

#[test]
fn manifests_parse_to_what_they_reference() {
    check(
        "docker_manifest_round_trip",
        manifest_json(),
        |(body, media, blobs, children)| {
            let m = manifest::parse(body.as_bytes(), Some(&media))
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {body}")))?;
            prop_assert_eq!(m.media_type, media);
            prop_assert_eq!(m.blobs, blobs);
            prop_assert_eq!(m.children, children);
            Ok(())
        },
    );
}

#[test]
fn manifests_never_panic() {
    let nested = (0usize..100_000, any::<bool>(), any::<bool>()).prop_map(|(n, obj, closed)| {
        let (o, c) = if obj { ("{\"a\":", "}") } else { ("[", "]") };
        let mut s = format!(
            "{{\"schemaVersion\":2,\"annotations\":{{\"k\":{}",
            o.repeat(n)
        );
        if closed {
            s.push_str(&format!("1{}}}}}", c.repeat(n)));
        }
        s
    });
    let ct = option::of(prop_oneof![
        Just(OCI_MANIFEST.to_owned()),
        Just(DOCKER_LIST.to_owned()),
        "[ -~]{0,30}"
    ]);
    check(
        "docker_manifest_parse",
        (
            prop_oneof![
                any::<Vec<u8>>(),
                mutated(manifest_json().prop_map(|m| m.0)).prop_map(String::into_bytes),
                nested.prop_map(String::into_bytes),
            ],
            ct,
        ),
        |(body, ct)| {
            let _ = manifest::parse(&body, ct.as_deref());
            Ok(())
        },
    );
}

#[test]
fn chunk_content_ranges() {
    let text = prop_oneof![
        any::<String>(),
        "(bytes )?[0-9 ]{0,21}-[0-9 ]{0,21}(/[0-9*]{0,5})?",
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| format!("{a}-{b}")),
    ];
    check("docker_content_range", text, |s| {
        let Ok(v) = HeaderValue::from_str(&s) else {
            return Ok(());
        };
        let req = TestRequest::default()
            .insert_header(("content-range", v))
            .to_http_request();
        if let Ok(Some(first)) = content_range(&req) {
            // Accepted only as `first-last` with first <= last.
            let body = s.trim();
            let body = body.strip_prefix("bytes ").unwrap_or(body);
            let (a, b) = body.split_once('-').unwrap_or_default();
            let last: u64 = b
                .trim()
                .split('/')
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(0);
            prop_assert_eq!(a.trim().parse::<u64>().ok(), Some(first));
            prop_assert!(first <= last);
        }
        Ok(())
    });
}

#[test]
fn remote_auth_challenges_never_panic() {
    let challenge =
        "(Bearer |bearer |Basic )?((,? ?[a-z]{0,6}=(\"[^\"]{0,8}\"?|[a-z:/,]{0,8}))){0,5}";
    check(
        "docker_challenge",
        prop_oneof![any::<String>(), challenge.boxed()],
        |h| {
            if let Some(p) = challenge_params(&h) {
                prop_assert!(p.len() <= h.len());
            }
            Ok(())
        },
    );
}
