//! Property-based fuzzing of the Maven parsers: repository paths, `maven-metadata.xml` and the
//! version order. A test module (the parsers are private); `scripts/fuzz.sh` runs it long.

#[path = "../../testkit/fuzz_check.rs"]
mod fuzz_check;

use std::cmp::Ordering;

use fuzz_check::{check, mutated};
use proptest::{collection::vec, option, prelude::*};

use crate::{
    metadata::{self, Metadata, SnapshotVersion},
    path::{self, MavenPath},
    version::compare,
};

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-(alpha|beta|rc|sp|ga|final|m|cr|SNAPSHOT)[0-9]?)?",
        "[0-9a-zA-Z._-]{0,12}",
        Just("1.0-SNAPSHOT".to_owned()),
    ]
}

/// Paths shaped like Maven's, SNAPSHOT timestamps and checksums included.
fn maven_path() -> impl Strategy<Value = String> {
    (
        vec("[a-z][a-z0-9]{0,5}", 1..4),
        "[a-z][a-z0-9-]{0,6}",
        version(),
        option::of("[a-z]{1,7}"),
        prop_oneof![Just("jar"), Just("pom"), Just("tar.gz"), Just("module")],
        prop_oneof![
            Just(""),
            Just(".sha1"),
            Just(".md5"),
            Just(".sha256.md5"),
            Just(".sha512")
        ],
        0u8..4,
    )
        .prop_map(|(group, a, v, cls, ext, sum, shape)| {
            let g = group.join("/");
            let cls = cls.map(|c| format!("-{c}")).unwrap_or_default();
            match shape {
                0 => format!("{g}/{a}/maven-metadata.xml{sum}"),
                1 => format!("{g}/{a}/{v}-SNAPSHOT/maven-metadata.xml{sum}"),
                2 => format!("{g}/{a}/{v}-SNAPSHOT/{a}-{v}-20260101.120000-7{cls}.{ext}{sum}"),
                _ => format!("{g}/{a}/{v}/{a}-{v}{cls}.{ext}{sum}"),
            }
        })
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

#[test]
fn paths_never_panic_and_accepted_coordinates_never_traverse() {
    check(
        "maven_path",
        prop_oneof![
            any::<String>(),
            maven_path(),
            mutated(maven_path()),
            "[a-z./\\-]{0,40}"
        ],
        |p| {
            match path::parse(&p) {
                Some(MavenPath::Artifact(c)) => {
                    prop_assert!(c.group_id.split('.').all(|g| !g.is_empty()), "{p:?}");
                    prop_assert!(plain(&c.artifact_id) && plain(&c.base_version), "{p:?}");
                    prop_assert!(plain(&c.version) && plain(&c.extension), "{p:?}");
                    prop_assert!(c.classifier.as_deref().is_none_or(plain), "{p:?}");
                    let _ = c.timestamp();
                }
                Some(MavenPath::ArtifactMetadata {
                    group_id,
                    artifact_id,
                }) => {
                    prop_assert!(!group_id.contains('/') && plain(&artifact_id), "{p:?}");
                }
                Some(MavenPath::VersionMetadata {
                    artifact_id,
                    version,
                    ..
                }) => {
                    prop_assert!(plain(&artifact_id) && plain(&version), "{p:?}");
                }
                Some(MavenPath::Checksum { of, .. }) => {
                    prop_assert!(p.starts_with(&of) && of.len() < p.len(), "{p:?}");
                }
                None => {}
            }
            Ok(())
        },
    );
}

/// Metadata text as the writer produces it: no surrounding blanks (values are trimmed),
/// markup characters and non-ASCII included (they are escaped).
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.:_&<>\"' é-]{0,12}".prop_map(|s| s.trim().to_owned())
}

fn metadata() -> impl Strategy<Value = Metadata> {
    let sv =
        (option::of(text()), text(), text(), text()).prop_map(|(c, e, v, u)| SnapshotVersion {
            classifier: c,
            extension: e,
            value: v,
            updated: u,
        });
    (
        (text(), text(), option::of(text())),
        (option::of(text()), option::of(text()), vec(text(), 0..5)),
        (
            option::of(text()),
            option::of((text(), any::<u32>())),
            vec(sv, 0..3),
        ),
    )
        .prop_map(
            |(
                (group_id, artifact_id, version),
                (latest, release, versions),
                (last_updated, snapshot, snapshot_versions),
            )| Metadata {
                group_id,
                artifact_id,
                version,
                latest,
                release,
                versions,
                last_updated,
                snapshot,
                snapshot_versions,
                plugins: false,
            },
        )
}

#[test]
fn metadata_written_parses_back_the_same() {
    check("maven_metadata_round_trip", metadata(), |m| {
        let xml = m.to_xml();
        let back = metadata::parse(xml.as_bytes())
            .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{}: {xml}", e.0)))?;
        prop_assert_eq!(back, m);
        Ok(())
    });
}

#[test]
fn metadata_parser_never_panics() {
    let xml = metadata().prop_map(|m| m.to_xml());
    check(
        "maven_metadata_parse",
        prop_oneof![
            any::<Vec<u8>>(),
            mutated(xml).prop_map(String::into_bytes),
            "(<[a-z]{1,3}>|</[a-z]{1,3}>|&[a-z#0-9]{0,4};?|<!\\[CDATA\\[|\\]\\]>|<\\?|[a-z ]){0,60}"
                .prop_map(|s| format!("<metadata>{s}").into_bytes()),
        ],
        |bytes| {
            let _ = metadata::parse(&bytes);
            Ok(())
        },
    );
}

#[test]
fn version_order_is_a_total_order() {
    // `sort_by` with an inconsistent order may panic (Rust 1.81+), and versions come from
    // clients and remotes: the order must be consistent for any strings.
    let v = prop_oneof![version(), any::<String>()];
    check(
        "maven_version_order",
        (v.clone(), v.clone(), v),
        |(a, b, c)| {
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
            prop_assert_eq!(
                compare(&a, &b),
                compare(&b, &a).reverse(),
                "{:?} {:?}",
                a,
                b
            );
            if compare(&a, &b) != Ordering::Greater && compare(&b, &c) != Ordering::Greater {
                prop_assert_ne!(
                    compare(&a, &c),
                    Ordering::Greater,
                    "{:?} {:?} {:?}",
                    a,
                    b,
                    c
                );
            }
            Ok(())
        },
    );
}

#[test]
fn merging_and_listing_versions_never_panics() {
    let v = prop_oneof![version(), "[0-9a-z.-]{0,6}"];
    check("maven_for_versions", vec(vec(v, 0..12), 1..4), |lists| {
        let all: Vec<Metadata> = lists
            .into_iter()
            .map(|vs| Metadata::for_versions("g", "a", vs, "20260101000000".into()))
            .collect();
        let m = Metadata::merge(&all);
        prop_assert!(m.is_some());
        Ok(())
    });
}
