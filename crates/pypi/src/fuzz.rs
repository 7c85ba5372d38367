//! Property-based fuzzing of the PyPI parsers: distribution file names, the simple index in
//! HTML and JSON (from remotes), `Accept` negotiation, multipart bodies (twine's uploads) and a
//! wheel's METADATA lookup. A test module (the parsers are private); `scripts/fuzz.sh` runs it
//! long.

#[path = "../../testkit/fuzz_check.rs"]
mod fuzz_check;

use std::io::{Cursor, Read};

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use arca_core::model::AssetPath;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use fuzz_check::{check, mutated};
use proptest::{collection::vec, option, prelude::*};

use crate::{
    names::{normalize, parse_filename, valid_name},
    package_path,
    simple::{FileEntry, Page, parse_html, parse_json, render_html, render_json, wants_json},
};

fn filename() -> impl Strategy<Value = String> {
    let name = "[A-Za-z0-9][A-Za-z0-9._-]{0,8}[A-Za-z0-9]";
    let version = "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}([ab]|rc|\\.post|\\.dev)?[0-9]?";
    (name, version, 0u8..3).prop_map(|(n, v, kind)| match kind {
        0 => format!("{n}-{v}-py3-none-any.whl"),
        1 => format!("{n}-{v}-1-cp311-cp311-manylinux_2_17_x86_64.whl"),
        _ => format!("{n}-{v}.tar.gz"),
    })
}

#[test]
fn accepted_file_names_are_safe_paths() {
    check(
        "pypi_filename",
        prop_oneof![
            any::<String>(),
            filename(),
            mutated(filename()),
            "[a-z0-9./\\\\-]{0,12}(\\.whl|\\.tar\\.gz|\\.zip)"
        ],
        |f| {
            if let Some(d) = parse_filename(&f) {
                prop_assert!(
                    !f.contains(['/', '\\', '\0']) && !f.starts_with('.'),
                    "{f:?}"
                );
                prop_assert!(valid_name(&d.project), "{f:?}");
                prop_assert!(!d.version.contains(['/', '\\', '\0']), "{f:?}");
                let path = package_path(&normalize(&d.project), &d.version, &f);
                prop_assert!(AssetPath::parse(&path).is_ok(), "{path:?}");
            }
            Ok(())
        },
    );
}

#[test]
fn normalisation_is_idempotent() {
    check("pypi_normalize", any::<String>(), |n| {
        let once = normalize(&n);
        prop_assert_eq!(normalize(&once), once.clone());
        prop_assert!(!once.starts_with('-') && !once.ends_with('-'), "{once:?}");
        Ok(())
    });
}

/// A project page as Arca renders it: absolute URLs without fragments, trimmed file names,
/// markup and quote characters in every text (they are escaped).
fn page() -> impl Strategy<Value = Page> {
    let text = "[a-zA-Z0-9 <>&\"'=#.;é-]{0,10}";
    let hash = "[0-9a-f]{64}";
    let file = (
        (
            text.prop_map(|s| s.trim().to_owned()),
            "https?://[a-z]{1,5}(:[0-9]{2,4})?(/[a-zA-Z0-9._%-]{1,6}){0,4}",
            option::of(hash),
            option::of(text),
        ),
        (
            option::of(prop_oneof![Just(String::new()), hash.boxed()]),
            option::of(text),
            option::of(any::<u64>()),
            option::of("[0-9T:.Z-]{0,20}"),
        ),
    )
        .prop_map(
            |(
                (filename, url, sha256, requires_python),
                (core_metadata, yanked, size, upload_time),
            )| FileEntry {
                filename,
                url,
                sha256,
                requires_python,
                core_metadata,
                yanked,
                size,
                upload_time,
            },
        );
    ("[a-z0-9.-]{1,10}", vec(file, 0..4)).prop_map(|(name, files)| Page { name, files })
}

#[test]
fn html_index_written_parses_back() {
    check("pypi_html_round_trip", page(), |p| {
        let back = parse_html(&render_html(&p), "https://arca/repository/p/simple/x/");
        let strip = |f: &FileEntry| FileEntry {
            size: None,
            upload_time: None,
            ..f.clone()
        };
        let want: Vec<FileEntry> = p.files.iter().map(strip).collect();
        prop_assert_eq!(back.files, want);
        Ok(())
    });
}

#[test]
fn json_index_written_parses_back() {
    check("pypi_json_round_trip", page(), |p| {
        let back = parse_json(&render_json(&p, &[]), "https://arca/repository/p/simple/x/");
        prop_assert_eq!(back, Some(p));
        Ok(())
    });
}

#[test]
fn remote_index_pages_never_panic() {
    let html =
        "(<a |<A HREF=|</a>|>|<|=|\"|'|#sha256=|data-yanked|&amp;|&#39;|[ \\ta-zé\u{a0}\u{85}/.])*";
    let nested = (0usize..200_000, any::<bool>()).prop_map(|(n, obj)| {
        if obj {
            format!("{{\"files\":{}", "{\"a\":".repeat(n))
        } else {
            format!("{{\"files\":{}", "[".repeat(n))
        }
    });
    check(
        "pypi_remote_pages",
        prop_oneof![
            any::<String>(),
            html,
            mutated(page().prop_map(|p| render_html(&p))),
            mutated(page().prop_map(|p| render_json(&p, &["1".into()]))),
            nested,
        ],
        |text| {
            for base in ["https://idx/simple/x/", "idx", ""] {
                let _ = parse_html(&text, base);
                let _ = parse_json(&text, base);
            }
            Ok(())
        },
    );
}

#[test]
fn accept_negotiation_never_panics() {
    let accept = "((application/vnd\\.pypi\\.simple\\.v1\\+(json|html)|text/html|\\*/\\*)(;q=[0-9.e+-]{0,5})?, ?){0,4}";
    check(
        "pypi_accept",
        (
            prop_oneof![any::<String>(), accept.boxed()],
            option::of(any::<String>()),
        ),
        |(a, f)| {
            let _ = wants_json(Some(&a), f.as_deref());
            Ok(())
        },
    );
}

/// A twine-like multipart body, mutated at the byte level.
fn multipart_body() -> impl Strategy<Value = Vec<u8>> {
    let part = (
        "[a-z_:.]{0,10}",
        option::of("[a-z0-9._/\\\\-]{0,12}"),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(|(name, file, data)| {
            let mut p = format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"");
            if let Some(f) = file {
                p.push_str(&format!("; filename=\"{f}\""));
            }
            p.push_str("\r\n\r\n");
            let mut p = p.into_bytes();
            p.extend_from_slice(&data);
            p.extend_from_slice(b"\r\n");
            p
        });
    let edit = (any::<u16>(), 0u8..3, any::<u8>());
    (vec(part, 0..4), any::<bool>(), vec(edit, 0..5)).prop_map(|(parts, close, edits)| {
        let mut b = parts.concat();
        if close {
            b.extend_from_slice(b"--XyZ--\r\n");
        }
        for (at, kind, x) in edits {
            let i = at as usize % (b.len() + 1);
            match kind {
                0 => b.insert(i, x),
                1 if i < b.len() => {
                    b.remove(i);
                }
                _ if i < b.len() => b[i] = x,
                _ => b.push(x),
            }
        }
        b
    })
}

#[test]
fn multipart_bodies_never_panic() {
    let content_type = prop_oneof![
        Just("multipart/form-data; boundary=XyZ".to_owned()),
        "multipart/form-data; boundary=\"?[ -~]{0,75}\"?",
        "[ -~]{0,40}",
    ];
    let body = prop_oneof![multipart_body(), any::<Vec<u8>>()];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    check(
        "pypi_multipart",
        (content_type, body, 1usize..64),
        |(ct, body, chunk)| {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            // Delivered in chunks, so boundaries fall across reads.
            let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = body
                .chunks(chunk)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut form = actix_multipart::Multipart::new(&headers, stream::iter(chunks));
            rt.block_on(async {
                while let Some(field) = form.next().await {
                    let Ok(mut field) = field else { break };
                    let _ = field.name();
                    let _ = field
                        .content_disposition()
                        .and_then(|cd| cd.get_filename().map(parse_filename));
                    while let Some(chunk) = field.next().await {
                        if chunk.is_err() {
                            break;
                        }
                    }
                }
            });
            Ok(())
        },
    );
}

/// The METADATA lookup of an uploaded wheel (upload.rs's `extract_metadata`, on a reader).
fn wheel_metadata(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let name = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i)?.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .ok_or("no METADATA")?;
    let entry = zip.by_name(&name).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    entry
        .take(1024 * 1024)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn wheel(metadata: &[u8], stored: bool) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    });
    let _ = w.start_file("demo/__init__.py", opts);
    let _ = w.write_all(b"x = 1\n");
    let _ = w.start_file("demo-1.0.dist-info/METADATA", opts);
    let _ = w.write_all(metadata);
    w.finish().map(Cursor::into_inner).unwrap_or_default()
}

#[test]
fn wheel_metadata_round_trip_and_mutations_never_panic() {
    let meta = "Metadata-Version: 2.1\nName: [a-z]{1,8}\nVersion: [0-9.]{1,6}\n(Requires-Dist: [a-z]{1,6}\n){0,3}";
    check(
        "pypi_wheel_metadata",
        (meta, any::<bool>(), vec((any::<u16>(), any::<u8>()), 0..6)),
        |(m, stored, edits)| {
            let mut z = wheel(m.as_bytes(), stored);
            prop_assert_eq!(wheel_metadata(&z).ok(), Some(m.into_bytes()));
            for (at, x) in edits {
                let i = at as usize % z.len().max(1);
                if let Some(b) = z.get_mut(i) {
                    *b = x;
                }
            }
            let _ = wheel_metadata(&z);
            Ok(())
        },
    );
}
