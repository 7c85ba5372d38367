//! Property-based fuzzing of the yum parsers: RPM lead, signature and header (from uploads and
//! remotes), and the rpm-md documents read back from remotes and group members (`repomd.xml`,
//! package elements and their ids). `scripts/fuzz.sh` runs it long.

#[path = "../../testkit/fuzz_check.rs"]
mod fuzz_check;

use arca_yum::{
    package::{self, Changelog, Dep, File, Package, header_len},
    repodata::root_of,
    xml::{self, DataFile, Entry, esc, pkgid, repomd, repomd_refs, split_packages},
};
use fuzz_check::check;
use proptest::{collection::vec, option, prelude::*, test_runner::TestCaseError};

const RPMS: [&[u8]; 2] = [
    include_bytes!("../../server/tests/fixtures/yum/arca-hello-1.0-1.noarch.rpm"),
    include_bytes!("../../server/tests/fixtures/yum/arca-lib-2.1-3.noarch.rpm"),
];

/// One of the sample RPMs with a few bytes overwritten, inserted or removed, and maybe cut.
fn mutated_rpm() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<u16>(), 0u8..4, any::<u8>());
    (0..RPMS.len(), vec(edit, 1..8), option::of(any::<u16>())).prop_map(|(i, edits, cut)| {
        let mut b = RPMS[i].to_vec();
        for (at, kind, x) in edits {
            let at = at as usize % b.len().max(1);
            match kind {
                0 => b.insert(at, x),
                1 if at < b.len() => {
                    b.remove(at);
                }
                // Counts and offsets live in 32-bit big-endian words: make some huge.
                2 if at + 4 <= b.len() => b[at..at + 4].copy_from_slice(&[x, 0xff, 0xff, 0xff]),
                _ if at < b.len() => b[at] = x,
                _ => {}
            }
        }
        if let Some(c) = cut {
            b.truncate(c as usize % (b.len() + 1));
        }
        b
    })
}

#[test]
fn sample_rpms_parse() {
    for rpm in RPMS {
        let n = header_len(rpm).expect("enough bytes").expect("an RPM");
        let p = package::parse(&rpm[..n]).expect("parse");
        assert!(!p.name.is_empty() && p.header_end as usize == n);
    }
}

#[test]
fn rpm_headers_never_panic() {
    check(
        "rpm_header",
        prop_oneof![mutated_rpm(), any::<Vec<u8>>()],
        |b| {
            match header_len(&b) {
                Some(Ok(n)) => {
                    prop_assert!(n <= package::MAX_HEADER);
                    if let Some(h) = b.get(..n) {
                        let _ = package::parse(h);
                    }
                }
                Some(Err(_)) | None => {
                    let _ = package::parse(&b);
                }
            }
            Ok(())
        },
    );
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'/._+:~()=é\u{1}-]{0,12}"
}

fn dep() -> impl Strategy<Value = Dep> {
    (
        text(),
        prop_oneof![Just(""), Just("EQ"), Just("LT"), Just("GE")],
        option::of("[0-9]{1,2}"),
        option::of(text()),
        option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(name, flags, epoch, ver, rel, pre)| Dep {
            name,
            flags: flags.into(),
            epoch,
            ver,
            rel,
            pre,
        })
}

fn package() -> impl Strategy<Value = Package> {
    let file =
        (text(), prop_oneof![Just(""), Just("dir"), Just("ghost")]).prop_map(|(p, k)| File {
            path: format!("/{p}"),
            kind: k.into(),
        });
    let log = (text(), any::<u64>(), text()).prop_map(|(author, date, text)| Changelog {
        author,
        date,
        text,
    });
    (
        (text(), text(), any::<u32>(), text(), text(), text()),
        (
            vec(dep(), 0..4),
            vec(dep(), 0..4),
            vec(file, 0..4),
            vec(log, 0..3),
        ),
        (any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |(
                (name, arch, epoch, version, release, summary),
                (provides, requires, files, changelogs),
                (build_time, installed_size, archive_size),
            )| Package {
                name,
                arch,
                epoch,
                version,
                release,
                summary: summary.clone(),
                description: summary,
                packager: String::new(),
                url: String::new(),
                build_time,
                installed_size,
                archive_size,
                license: "MIT".into(),
                vendor: String::new(),
                group: String::new(),
                buildhost: String::new(),
                sourcerpm: String::new(),
                header_start: 0,
                header_end: 0,
                provides,
                requires,
                conflicts: vec![],
                obsoletes: vec![],
                recommends: vec![],
                suggests: vec![],
                supplements: vec![],
                enhances: vec![],
                files,
                changelogs,
            },
        )
}

#[test]
fn package_attributes_round_trip() {
    // Packages are kept as JSON in the asset's attributes and read back to rebuild repodata.
    check("yum_package_json", package(), |p| {
        let v = serde_json::to_value(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Package =
            serde_json::from_value(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, p);
        Ok(())
    });
}

#[test]
fn written_repodata_splits_back_into_its_packages() {
    check(
        "yum_repodata_split",
        vec((package(), "[0-9a-f]{64}"), 0..5),
        |pkgs| {
            let entries: Vec<Entry<'_>> = pkgs
                .iter()
                .map(|(p, sha)| Entry {
                    pkg: p,
                    sha256: sha,
                    href: "Packages/x.rpm",
                    size: 1,
                    file_time: 2,
                })
                .collect();
            let docs = [
                (
                    xml::primary_open(entries.len()),
                    entries.iter().map(xml::primary_package).collect::<String>(),
                ),
                (
                    xml::filelists_open(entries.len()),
                    entries.iter().map(xml::filelists_package).collect(),
                ),
                (
                    xml::other_open(entries.len()),
                    entries.iter().map(xml::other_package).collect(),
                ),
            ];
            for (open, body) in docs {
                let doc = format!("{open}{body}</x>");
                let split = split_packages(&doc);
                prop_assert_eq!(split.len(), pkgs.len());
                for (el, (_, sha)) in split.iter().zip(&pkgs) {
                    prop_assert_eq!(pkgid(el), Some(sha.as_str()));
                    prop_assert!(!el.contains('\u{1}'), "control characters are dropped");
                }
            }
            Ok(())
        },
    );
}

#[test]
fn written_repomd_reads_back() {
    let file = (
        prop_oneof![Just("primary"), Just("filelists"), Just("other")],
        "[a-zA-Z0-9/._&<>\"'-]{1,20}",
        "[0-9a-f]{64}",
        any::<u64>(),
    );
    check(
        "yum_repomd_round_trip",
        (vec(file, 0..4), any::<u64>()),
        |(files, rev)| {
            let files: Vec<DataFile> = files
                .into_iter()
                .map(|(kind, href, sha256, size)| DataFile {
                    kind,
                    href,
                    sha256: sha256.clone(),
                    size,
                    open_sha256: sha256,
                    open_size: size,
                })
                .collect();
            let text = repomd(rev, 1, &files);
            let refs = repomd_refs(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(refs.len(), files.len());
            for (r, f) in refs.iter().zip(&files) {
                prop_assert_eq!(&r.kind, f.kind);
                prop_assert_eq!(&r.href, &f.href);
                prop_assert_eq!(r.sha256.as_deref(), Some(f.sha256.as_str()));
            }
            Ok(())
        },
    );
}

#[test]
fn remote_rpm_md_documents_never_panic() {
    let markup = "(<package|</package>|<checksum|</checksum>|pkgid=\"|<data|</data>|<location href=\"|\"|>|<|/>|&amp;|&#[0-9]{1,3};|[ a-z0-9é])*";
    check(
        "yum_remote_documents",
        (prop_oneof![any::<String>(), markup.boxed()], 0usize..5),
        |(doc, depth)| {
            let _ = repomd_refs(&doc);
            for el in split_packages(&doc) {
                let _ = pkgid(el);
            }
            let _ = root_of(&doc, depth);
            let e = esc(&doc);
            prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"'));
            prop_assert!(
                !e.chars()
                    .any(|c| (c as u32) < 0x20 && !"\t\n\r".contains(c))
            );
            Ok(())
        },
    );
}
