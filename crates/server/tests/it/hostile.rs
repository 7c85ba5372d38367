//! Hostile input against every format's routes and the REST API: traversal in every encoding,
//! bad digests and ranges, broken and oversized multipart, oversized and deeply nested bodies,
//! XML entities, zip bombs, header injection through names, invalid UTF-8 paths. Each case gets
//! a precise status, leaves every repository's assets as they were, and the server stays up.
//!
//! Requests go over a raw socket: an HTTP client would normalise `..` and `%2e%2e` away.

use std::collections::BTreeSet;

use arca_testkit::{Backend, TestServer, both_backends};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{GET, POST, PUT, json};

const RPM: &[u8] = include_bytes!("../fixtures/yum/arca-lib-2.1-3.noarch.rpm");
const MAX_UPLOAD: usize = 256 * 1024;
const BND: &str = "hostile-boundary";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const REPOS: [&str; 5] = ["rh", "mh", "ph", "dh", "yh"];

/// A zip archive of `(name, content, declared uncompressed size)` entries, deflated; a declared
/// size other than the real one makes the archive lie about it (a zip bomb's trick).
pub fn zip(entries: &[(&str, &[u8], Option<u32>)]) -> Vec<u8> {
    use std::io::Write;
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data, declared) in entries {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        let packed = enc.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let size = declared.unwrap_or(data.len() as u32);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&8u16.to_le_bytes()); // deflate
            v.extend_from_slice(&0u32.to_le_bytes()); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// One part of a hand-made multipart body: its raw `Content-Disposition` parameters and content.
struct Part<'a>(&'a str, &'a [u8]);

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for Part(disp, data) in parts {
        out.extend_from_slice(
            format!("--{BND}\r\nContent-Disposition: form-data; {disp}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BND}--\r\n").as_bytes());
    out
}

fn form_type() -> (String, String) {
    (
        "Content-Type".into(),
        format!("multipart/form-data; boundary={BND}"),
    )
}

/// Nested arrays `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

struct Case {
    name: String,
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    expect: u16,
    /// For a request answered in full on purpose (an invalid `Range` is ignored, RFC 9110
    /// 14.2): the body it must return.
    body_is: Option<Vec<u8>>,
}

fn case(name: impl Into<String>, method: &'static str, target: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        method,
        target: target.into(),
        headers: vec![],
        body: vec![],
        expect: 400,
        body_is: None,
    }
}

impl Case {
    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn form(self, parts: &[Part<'_>]) -> Self {
        let (k, v) = form_type();
        self.header(&k, v).body(form(parts))
    }
    fn json(self, b: impl Into<Vec<u8>>) -> Self {
        self.header("Content-Type", "application/json").body(b)
    }
    fn expect(mut self, status: u16) -> Self {
        self.expect = status;
        self
    }
    fn whole(mut self, body: &[u8]) -> Self {
        self.expect = 200;
        self.body_is = Some(body.to_vec());
        self
    }
}

/// Sends a request exactly as given (admin credentials, `Connection: close` and the length
/// added); the status (0 when none came) and the body.
async fn send(s: &TestServer, c: &Case) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", s.admin_password));
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\nContent-Length: {}\r\n",
        c.method,
        c.target,
        c.body.len()
    );
    for (k, v) in &c.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(&c.body);
    // The server may answer (413) and close before reading everything: not an error here.
    let _ = sock.write_all(&req).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        sock.read_to_end(&mut buf),
    )
    .await;
    let status = String::from_utf8_lossy(&buf[..buf.len().min(20)])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| buf[i + 4..].to_vec())
        .unwrap_or_default();
    (status, body)
}

/// (path, sha256) of every asset of a repository, through the REST API.
async fn assets(s: &TestServer, repo: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("/service/rest/v1/assets?repository={repo}");
        if let Some(t) = &token {
            url.push_str(&format!("&continuationToken={t}"));
        }
        let v = json(s.admin(GET, &url).send().await.unwrap()).await;
        for a in v["items"].as_array().unwrap() {
            out.insert((
                a["path"].as_str().unwrap().to_owned(),
                a["checksum"]["sha256"].as_str().unwrap().to_owned(),
            ));
        }
        match v["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
}

async fn snapshot(s: &TestServer) -> Vec<BTreeSet<(String, String)>> {
    let mut out = Vec::new();
    for r in REPOS {
        out.push(assets(s, r).await);
    }
    out
}

async fn create(s: &TestServer, format: &str, body: Value) {
    let r = s
        .admin(
            POST,
            &format!("/service/rest/v1/repositories/{format}/hosted"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn storage() -> Value {
    json!({"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"})
}

async fn put(s: &TestServer, path: &str, body: &[u8], ct: &str) {
    let r = s
        .admin(PUT, path)
        .header("content-type", ct)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "seed {path}: {}",
        r.text().await.unwrap()
    );
}

const POM: &[u8] = b"<?xml version=\"1.0\"?>\n<project><modelVersion>4.0.0</modelVersion><groupId>org.ex</groupId><artifactId>lib</artifactId><version>1.0</version></project>\n";
const SDIST: &[u8] = b"an sdist the server does not unpack";

/// One repository of each format, each holding something a hostile request could replace.
async fn seed(s: &TestServer) -> String {
    create(s, "raw", json!({"name": "rh", "online": true, "storage": storage(), "raw": {"contentDisposition": "ATTACHMENT"}})).await;
    create(s, "maven", json!({"name": "mh", "online": true, "storage": storage(), "maven": {"versionPolicy": "MIXED", "layoutPolicy": "STRICT"}})).await;
    create(
        s,
        "pypi",
        json!({"name": "ph", "online": true, "storage": storage()}),
    )
    .await;
    create(s, "docker", json!({"name": "dh", "online": true, "storage": storage(), "docker": {"v1Enabled": false, "forceBasicAuth": true}})).await;
    create(s, "yum", json!({"name": "yh", "online": true, "storage": storage(), "yum": {"repodataDepth": 0, "deployPolicy": "STRICT"}})).await;
    put(s, "/repository/rh/dir/file.txt", b"original", "text/plain").await;
    put(
        s,
        "/repository/mh/org/ex/lib/1.0/lib-1.0.pom",
        POM,
        "application/xml",
    )
    .await;
    put(
        s,
        "/repository/mh/org/ex/lib/1.0/lib-1.0.jar",
        b"jar",
        "application/java-archive",
    )
    .await;
    let r = s
        .admin(POST, "/repository/ph/")
        .header(form_type().0, form_type().1)
        .body(form(&[
            Part("name=\":action\"", b"file_upload"),
            Part("name=\"content\"; filename=\"demo-1.0.tar.gz\"", SDIST),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let layer = b"a layer".to_vec();
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    for b in [&layer, &config] {
        let r = s
            .admin(
                POST,
                &format!("/v2/dh/app/blobs/uploads/?digest={}", digest(b)),
            )
            .body(b.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let manifest = manifest(&digest(&config), config.len(), &digest(&layer), layer.len());
    put(s, "/v2/dh/app/manifests/1", &manifest, OCI_MANIFEST).await;
    put(
        s,
        "/repository/yh/Packages/arca-lib.rpm",
        RPM,
        "application/x-rpm",
    )
    .await;
    // Repodata is published in the background: wait for it, so it does not change mid-run.
    let r = s
        .admin(GET, "/repository/yh/repodata/repomd.xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    digest(&layer)
}

fn manifest(config: &str, config_len: usize, layer: &str, layer_len: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_len},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_len}]}))
    .unwrap()
}

/// Path traversal, NUL, control characters and bad encodings, as `{}` in `template`.
const BAD_PATHS: [(&str, &str); 14] = [
    ("dot-dot", "../../etc/passwd"),
    ("dot-dot inside", "dir/../../etc/passwd"),
    ("percent-encoded dot-dot", "%2e%2e/%2e%2e/etc/passwd"),
    ("mixed-case encoded dot-dot", "%2E%2e/x"),
    ("encoded slash", "..%2f..%2fetc%2fpasswd"),
    ("backslash", "..\\..\\etc\\passwd"),
    ("encoded backslash", "..%5c..%5cetc%5cpasswd"),
    ("NUL", "dir/file.txt%00.jpg"),
    ("overlong UTF-8 dot", "%c0%ae%c0%ae/etc/passwd"),
    ("invalid UTF-8", "dir/%ff%fe.txt"),
    ("CR LF", "dir/a%0d%0aSet-Cookie:%20x.txt"),
    ("dot segment", "./dir/file.txt"),
    ("empty segment", "dir//file.txt"),
    ("leading slash", "/etc/passwd"),
];

fn cases(layer: &str) -> Vec<Case> {
    let mut v = Vec::new();
    let over = vec![b'x'; MAX_UPLOAD + 1024];

    // ------------------------------------------------------------ traversal, every format
    for (what, p) in BAD_PATHS {
        v.push(case(
            format!("raw GET {what}"),
            "GET",
            format!("/repository/rh/{p}"),
        ));
        v.push(
            case(
                format!("raw PUT {what}"),
                "PUT",
                format!("/repository/rh/{p}"),
            )
            .body("x"),
        );
        v.push(
            case(
                format!("maven PUT {what}"),
                "PUT",
                format!("/repository/mh/{p}"),
            )
            .body("x"),
        );
        v.push(
            case(
                format!("yum PUT {what}"),
                "PUT",
                format!("/repository/yh/{p}"),
            )
            .body(RPM),
        );
    }
    for (what, p, status) in [
        ("dot-dot", "../../etc/passwd", 400),
        ("percent-encoded dot-dot", "%2e%2e/%2e%2e/etc/passwd", 400),
        ("NUL", "packages/demo/1.0/demo-1.0.tar.gz%00", 400),
        ("invalid UTF-8", "packages/%ff/x", 400),
        ("overlong UTF-8", "%c0%ae%c0%ae/x", 400),
        ("simple page dot-dot", "simple/..%2f..%2fetc/", 404),
    ] {
        v.push(
            case(
                format!("pypi GET {what}"),
                "GET",
                format!("/repository/ph/{p}"),
            )
            .expect(status),
        );
    }
    for (what, p) in [
        ("dot-dot", "../../etc/passwd"),
        ("invalid UTF-8", "v2/%ff/x"),
        ("overlong UTF-8", "v2/%c0%ae%c0%ae/x"),
    ] {
        v.push(case(
            format!("docker browse {what}"),
            "GET",
            format!("/repository/dh/{p}"),
        ));
    }
    // Double encoding is a literal name: nothing there, nothing made.
    v.push(
        case(
            "raw GET double-encoded dot-dot",
            "GET",
            "/repository/rh/%252e%252e/x",
        )
        .expect(404),
    );
    v.push(case(
        "raw GET long path",
        "GET",
        format!("/repository/rh/{}x", "a/".repeat(2100)),
    ));
    v.push(
        case(
            "repository name dot-dot",
            "GET",
            "/repository/%2e%2e/rh/dir/file.txt",
        )
        .expect(404),
    );
    v.push(case(
        "repository name invalid UTF-8",
        "GET",
        "/repository/r%ff/x",
    ));
    // `/repository/<name>` redirects to `<name>/`: the name must not reach the header bare.
    for (what, name, status) in [
        ("CR LF", "a%0d%0aSet-Cookie:%20x", 404),
        ("invalid UTF-8", "r%ff", 400),
        ("dot-dot", "%2e%2e", 404),
    ] {
        v.push(
            case(
                format!("repository root redirect, {what}"),
                "GET",
                format!("/repository/{name}"),
            )
            .expect(status),
        );
    }

    // ------------------------------------------------------------ docker names and digests
    let blob = |d: &str| format!("/v2/dh/app/blobs/{d}");
    for (what, d) in [
        ("non-hex digest", "sha256:zz"),
        ("short digest", "sha256:abc"),
        ("long digest", &format!("sha256:{}", "a".repeat(65))),
        ("upper-case digest", &format!("sha256:{}", "A".repeat(64))),
        ("unknown algorithm", &format!("sha384:{}", "a".repeat(96))),
        ("md5 digest", "md5:d41d8cd98f00b204e9800998ecf8427e"),
    ] {
        v.push(case(format!("docker GET blob {what}"), "GET", blob(d)));
        v.push(case(
            format!("docker DELETE blob {what}"),
            "DELETE",
            blob(d),
        ));
        v.push(
            case(
                format!("docker monolithic upload {what}"),
                "POST",
                format!("/v2/dh/app/blobs/uploads/?digest={d}"),
            )
            .body("data"),
        );
        v.push(
            case(
                format!("docker PUT manifest by {what}"),
                "PUT",
                format!("/v2/dh/app/manifests/{d}"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest(layer, 7, layer, 7)),
        );
    }
    // 64 hex digits are a valid tag, but no digest.
    let bare = "a".repeat(64);
    v.push(case("docker GET blob, no algorithm", "GET", blob(&bare)));
    v.push(case(
        "docker DELETE blob, no algorithm",
        "DELETE",
        blob(&bare),
    ));
    v.push(
        case(
            "docker monolithic upload, no algorithm",
            "POST",
            format!("/v2/dh/app/blobs/uploads/?digest={bare}"),
        )
        .body("data"),
    );
    v.push(
        case(
            "docker monolithic upload, digest of other bytes",
            "POST",
            format!("/v2/dh/app/blobs/uploads/?digest={layer}"),
        )
        .body("not the layer"),
    );
    v.push(
        case(
            "docker manifest, digest of other bytes",
            "PUT",
            format!("/v2/dh/app/manifests/{layer}"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest(layer, 7, layer, 7)),
    );
    v.push(
        case(
            "docker manifest naming an unknown blob",
            "PUT",
            "/v2/dh/app/manifests/2",
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest(layer, 7, &digest(b"absent"), 6)),
    );
    v.push(
        case(
            "docker manifest with a bad layer digest",
            "PUT",
            "/v2/dh/app/manifests/2",
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest(layer, 7, "sha256:zz", 6)),
    );
    v.push(
        case("docker manifest, not JSON", "PUT", "/v2/dh/app/manifests/2")
            .header("Content-Type", OCI_MANIFEST)
            .body("{"),
    );
    v.push(
        case(
            "docker manifest, nested 10000 deep",
            "PUT",
            "/v2/dh/app/manifests/2",
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(nested(10_000)),
    );
    let mut bad_type: Value = serde_json::from_slice(&manifest(layer, 7, layer, 7)).unwrap();
    bad_type["mediaType"] = json!("text/html\r\nSet-Cookie: x=1");
    v.push(
        case(
            "docker manifest whose mediaType injects a header",
            "PUT",
            "/v2/dh/app/manifests/2",
        )
        .body(serde_json::to_vec(&bad_type).unwrap()),
    );
    for (what, tag) in [
        ("CR LF in tag", "t%0d%0aSet-Cookie:%20x"),
        ("tag of 129 characters", &"t".repeat(129)),
        ("tag starting with a dot", ".hidden"),
        ("invalid UTF-8 tag", "t%ff"),
    ] {
        v.push(
            case(
                format!("docker PUT manifest, {what}"),
                "PUT",
                format!("/v2/dh/app/manifests/{tag}"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest(layer, 7, layer, 7)),
        );
    }
    for (what, name, status) in [
        ("dot-dot in name", "dh/../../x", 400),
        ("encoded dot-dot in name", "dh/%2e%2e/x", 400),
        ("upper case name", "dh/App", 400),
        ("invalid UTF-8 name", "dh/app%ff", 400),
        ("overlong UTF-8 name", "dh/%c0%ae%c0%ae", 400),
        ("CR LF in name", "dh/a%0d%0ab", 400),
    ] {
        v.push(
            case(
                format!("docker PUT manifest, {what}"),
                "PUT",
                format!("/v2/{name}/manifests/1"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest(layer, 7, layer, 7))
            .expect(status),
        );
    }
    for (what, id) in [
        ("dot-dot upload id", ".."),
        ("encoded traversal upload id", "..%2f..%2fblobs"),
        ("unknown upload id", "00000000-0000-0000-0000-000000000000"),
    ] {
        v.push(
            case(
                format!("docker PATCH {what}"),
                "PATCH",
                format!("/v2/dh/app/blobs/uploads/{id}"),
            )
            .body("data")
            .expect(404),
        );
    }

    for (what, target) in [
        ("catalog page size not a number", "/v2/_catalog?n=abc"),
        ("catalog negative page size", "/v2/_catalog?n=-1"),
        ("tags page size not a number", "/v2/dh/app/tags/list?n=abc"),
        (
            "referrers of a bad digest",
            "/v2/dh/app/referrers/sha256:zz",
        ),
        (
            "referrers of an unknown algorithm",
            "/v2/dh/app/referrers/md5:00",
        ),
    ] {
        v.push(case(format!("docker {what}"), "GET", target));
    }
    for (what, target, status) in [
        (
            "project dot-dot",
            "/service/rest/v1/pypi/ph/..%2f..%2f/1.0/yank",
            404,
        ),
        (
            "version dot-dot",
            "/service/rest/v1/pypi/ph/demo/..%2f..%2f/yank",
            404,
        ),
        (
            "invalid UTF-8 project",
            "/service/rest/v1/pypi/ph/demo%ff/1.0/yank",
            400,
        ),
    ] {
        v.push(case(format!("pypi yank, {what}"), "POST", target).expect(status));
    }
    for (what, target, status) in [
        (
            "search, garbage token",
            "/service/rest/v1/search?continuationToken=%2e%2e%2f",
            400,
        ),
        (
            "search assets, garbage token",
            "/service/rest/v1/search/assets?continuationToken=zz",
            400,
        ),
        (
            "download of a dot-dot name",
            "/service/rest/v1/search/assets/download?repository=rh&name=..%2f..%2fetc%2fpasswd",
            404,
        ),
    ] {
        v.push(case(format!("REST {what}"), "GET", target).expect(status));
    }

    // ------------------------------------------------------------ ranges
    for (what, range, status) in [
        ("past the end", "bytes=100-200", 416),
        ("open past the end", "bytes=8-", 416),
        ("empty suffix", "bytes=-0", 416),
    ] {
        v.push(
            case(
                format!("raw range {what}"),
                "GET",
                "/repository/rh/dir/file.txt",
            )
            .header("Range", range)
            .expect(status),
        );
        v.push(
            case(format!("docker blob range {what}"), "GET", blob(layer))
                .header("Range", range)
                .expect(status),
        );
    }
    // Syntactically invalid or multiple ranges are ignored: the whole file, never a 500.
    for (what, range) in [
        ("reversed", "bytes=5-1"),
        ("huge", "bytes=0-99999999999999999999999"),
        ("multiple", "bytes=0-1,3-4"),
        ("not bytes", "items=0-1"),
        ("garbage", "bytes=a-b"),
    ] {
        v.push(
            case(
                format!("raw range {what}"),
                "GET",
                "/repository/rh/dir/file.txt",
            )
            .header("Range", range)
            .whole(b"original"),
        );
    }
    v.push(
        case(
            "docker PATCH with a reversed Content-Range",
            "PATCH",
            "/v2/dh/app/blobs/uploads/00000000-0000-0000-0000-000000000000",
        )
        .header("Content-Range", "5-1")
        .body("data")
        .expect(416),
    );

    // ------------------------------------------------------------ multipart
    let raw_upload = "/service/rest/v1/components?repository=rh";
    let pypi_upload = "/repository/ph/";
    for (fmt, target) in [
        ("raw", raw_upload),
        ("pypi", pypi_upload),
        ("maven", "/service/rest/v1/components?repository=mh"),
        ("yum", "/service/rest/v1/components?repository=yh"),
    ] {
        v.push(
            case(format!("{fmt} form without boundary"), "POST", target)
                .header("Content-Type", "multipart/form-data")
                .body("--x\r\n\r\n"),
        );
        v.push(
            case(format!("{fmt} form, not multipart"), "POST", target)
                .header("Content-Type", "text/plain")
                .body("hello"),
        );
        v.push(
            case(format!("{fmt} form, unterminated"), "POST", target)
                .header(&form_type().0, form_type().1)
                .body(format!(
                    "--{BND}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"
                )),
        );
        v.push(
            case(format!("{fmt} form, huge field name"), "POST", target)
                .form(&[Part(&format!("name=\"{}\"", "n".repeat(64 * 1024)), b"v")]),
        );
        v.push(
            case(format!("{fmt} form, garbage"), "POST", target)
                .header(&form_type().0, form_type().1)
                .body(vec![0xffu8; 4096]),
        );
        v.push(case(format!("{fmt} form, empty"), "POST", target).form(&[]));
    }
    let many: Vec<String> = (0..1500).map(|i| format!("name=\"f{i}\"")).collect();
    let mut many_parts: Vec<Part<'_>> = vec![
        Part("name=\"raw.directory\"", b"many"),
        Part("name=\"raw.asset1\"; filename=\"a.txt\"", b"x"),
    ];
    many_parts.extend(many.iter().map(|d| Part(d, b"")));
    v.push(case("raw form, too many parts", "POST", raw_upload).form(&many_parts));
    let mut many_pypi: Vec<Part<'_>> = many.iter().map(|d| Part(d, b"")).collect();
    many_pypi.push(Part("name=\"content\"; filename=\"many-1.0.tar.gz\"", b"x"));
    v.push(case("pypi form, too many parts", "POST", pypi_upload).form(&many_pypi));
    for (what, parts) in [
        (
            "raw.directory dot-dot",
            vec![
                Part("name=\"raw.directory\"", b"../.."),
                Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x"),
            ],
        ),
        (
            "file name dot-dot",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"../../x.txt\"", b"x"),
            ],
        ),
        (
            "filename field dot-dot",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x"),
                Part("name=\"raw.asset1.filename\"", b"../../../x.txt"),
            ],
        ),
        (
            "CR LF in filename*",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part(
                    "name=\"raw.asset1\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x.txt",
                    b"x",
                ),
            ],
        ),
        (
            "CR LF in filename field",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x"),
                Part("name=\"raw.asset1.filename\"", b"a\r\nSet-Cookie: x.txt"),
            ],
        ),
        (
            "invalid UTF-8 filename field",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x"),
                Part("name=\"raw.asset1.filename\"", b"caf\xe9.txt"),
            ],
        ),
        (
            "NUL in directory",
            vec![
                Part("name=\"raw.directory\"", b"d\0e"),
                Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x"),
            ],
        ),
        (
            "two files, one bad path",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"ok.txt\"", b"x"),
                Part("name=\"raw.asset2\"; filename=\"..\"", b"y"),
            ],
        ),
        (
            "two files, one path",
            vec![
                Part("name=\"raw.directory\"", b"d"),
                Part("name=\"raw.asset1\"; filename=\"same.txt\"", b"x"),
                Part("name=\"raw.asset2\"; filename=\"same.txt\"", b"y"),
            ],
        ),
        (
            "no directory",
            vec![Part("name=\"raw.asset1\"; filename=\"x.txt\"", b"x")],
        ),
    ] {
        v.push(case(format!("raw form, {what}"), "POST", raw_upload).form(&parts));
    }
    v.push(
        case("raw form, file over the upload limit", "POST", raw_upload)
            .form(&[
                Part("name=\"raw.directory\"", b"big"),
                Part("name=\"raw.asset1\"; filename=\"big.bin\"", &over),
            ])
            .expect(413),
    );
    let maven = "/service/rest/v1/components?repository=mh";
    for (what, g, a, ver, ext, cls) in [
        ("groupId dot-dot", "../..", "lib", "2.0", "jar", ""),
        ("artifactId with slash", "org.ex", "a/b", "2.0", "jar", ""),
        ("version dot-dot", "org.ex", "lib", "..", "jar", ""),
        (
            "extension with slash",
            "org.ex",
            "lib",
            "2.0",
            "jar/../../x",
            "",
        ),
        (
            "CR LF in classifier",
            "org.ex",
            "lib",
            "2.0",
            "jar",
            "a\r\nSet-Cookie: x",
        ),
        ("NUL in groupId", "org\0ex", "lib", "2.0", "jar", ""),
    ] {
        let mut parts = vec![
            Part("name=\"maven2.groupId\"", g.as_bytes()),
            Part("name=\"maven2.artifactId\"", a.as_bytes()),
            Part("name=\"maven2.version\"", ver.as_bytes()),
            Part("name=\"maven2.asset1\"; filename=\"x\"", b"jar"),
            Part("name=\"maven2.asset1.extension\"", ext.as_bytes()),
        ];
        if !cls.is_empty() {
            parts.push(Part("name=\"maven2.asset1.classifier\"", cls.as_bytes()));
        }
        v.push(case(format!("maven form, {what}"), "POST", maven).form(&parts));
    }
    let yum = "/service/rest/v1/components?repository=yh";
    for (what, parts) in [
        (
            "directory dot-dot",
            vec![
                Part("name=\"yum.directory\"", b"../.."),
                Part("name=\"yum.asset\"; filename=\"a.rpm\"", RPM),
            ],
        ),
        (
            "file name dot-dot",
            vec![
                Part("name=\"yum.asset\"; filename=\"a.rpm\"", RPM),
                Part("name=\"yum.asset.filename\"", b"../a.rpm"),
            ],
        ),
        (
            "backslash file name",
            vec![
                Part("name=\"yum.asset\"; filename=\"a.rpm\"", RPM),
                Part("name=\"yum.asset.filename\"", b"..\\a.rpm"),
            ],
        ),
        (
            "two files",
            vec![
                Part("name=\"yum.asset\"; filename=\"a.rpm\"", RPM),
                Part("name=\"yum.asset\"; filename=\"b.rpm\"", RPM),
            ],
        ),
        (
            "not an RPM",
            vec![Part(
                "name=\"yum.asset\"; filename=\"a.rpm\"",
                b"not an rpm at all",
            )],
        ),
        (
            "truncated RPM",
            vec![Part("name=\"yum.asset\"; filename=\"a.rpm\"", &RPM[..200])],
        ),
        (
            "repodata target",
            vec![
                Part("name=\"yum.directory\"", b"repodata"),
                Part("name=\"yum.asset\"; filename=\"a.rpm\"", RPM),
            ],
        ),
    ] {
        v.push(case(format!("yum form, {what}"), "POST", yum).form(&parts));
    }
    let pypi_file = |name: &'static str, body: &'static [u8]| Part(name, body);
    for (what, parts) in [
        (
            "file name dot-dot",
            vec![pypi_file(
                "name=\"content\"; filename=\"../demo-2.0.tar.gz\"",
                b"x",
            )],
        ),
        (
            "CR LF in filename*",
            vec![pypi_file(
                "name=\"content\"; filename*=UTF-8''demo-2.0%0D%0A.tar.gz",
                b"x",
            )],
        ),
        (
            "NUL in file name",
            vec![pypi_file(
                "name=\"content\"; filename*=UTF-8''demo-2.0%00.tar.gz",
                b"x",
            )],
        ),
        ("no file name", vec![pypi_file("name=\"content\"", b"x")]),
        (
            "not a distribution name",
            vec![pypi_file("name=\"content\"; filename=\"evil.sh\"", b"x")],
        ),
        (
            "unknown :action",
            vec![
                Part("name=\":action\"", b"remove_pkg"),
                pypi_file("name=\"content\"; filename=\"demo-2.0.tar.gz\"", b"x"),
            ],
        ),
        (
            "sha256_digest not hex",
            vec![
                Part("name=\"sha256_digest\"", b"zz"),
                pypi_file("name=\"content\"; filename=\"demo-2.0.tar.gz\"", b"x"),
            ],
        ),
        (
            "field not UTF-8",
            vec![
                Part("name=\"summary\"", b"\xff\xfe"),
                pypi_file("name=\"content\"; filename=\"demo-2.0.tar.gz\"", b"x"),
            ],
        ),
        (
            "name field disagrees, after the file",
            vec![
                pypi_file("name=\"content\"; filename=\"demo-2.0.tar.gz\"", b"x"),
                Part("name=\"name\"", b"other"),
            ],
        ),
    ] {
        v.push(case(format!("pypi form, {what}"), "POST", pypi_upload).form(&parts));
    }
    v.push(
        case("pypi form, file over the upload limit", "POST", pypi_upload)
            .form(&[Part(
                "name=\"content\"; filename=\"demo-3.0.tar.gz\"",
                &over,
            )])
            .expect(413),
    );

    // ------------------------------------------------------------ zip bombs in wheels
    let wheel = "demo-2.0-py3-none-any.whl";
    let meta = "demo-2.0.dist-info/METADATA";
    let inflated = vec![b'A'; 9 * 1024 * 1024];
    for (what, zipped) in [
        (
            "METADATA inflating past the limit",
            zip(&[(meta, &inflated, None)]),
        ),
        (
            "METADATA lying about its size",
            zip(&[(meta, &inflated, Some(64))]),
        ),
        ("no METADATA", zip(&[("demo/__init__.py", b"", None)])),
        (
            "METADATA too deep",
            zip(&[("x/demo-2.0.dist-info/METADATA", b"Name: demo", None)]),
        ),
        ("not a zip", b"PK\x03\x04 not really".to_vec()),
    ] {
        let disp = format!("name=\"content\"; filename=\"{wheel}\"");
        v.push(
            case(format!("pypi wheel, {what}"), "POST", pypi_upload).form(&[Part(&disp, &zipped)]),
        );
    }

    // ------------------------------------------------------------ refused replacements
    v.push(
        case(
            "raw re-PUT with a wrong X-Checksum-Sha256",
            "PUT",
            "/repository/rh/dir/file.txt",
        )
        .header("X-Checksum-Sha256", "0".repeat(64))
        .body("replaced"),
    );
    v.push(
        case(
            "raw re-PUT with a malformed X-Checksum-Sha256",
            "PUT",
            "/repository/rh/dir/file.txt",
        )
        .header("X-Checksum-Sha256", "zz")
        .body("replaced"),
    );
    v.push(
        case(
            "raw re-PUT over the upload limit",
            "PUT",
            "/repository/rh/dir/file.txt",
        )
        .body(over.clone())
        .expect(413),
    );
    v.push(
        case(
            "maven re-deploy over the upload limit",
            "PUT",
            "/repository/mh/org/ex/lib/1.0/lib-1.0.jar",
        )
        .body(over.clone())
        .expect(413),
    );
    v.push(
        case(
            "maven re-deploy of a POM with a DOCTYPE",
            "PUT",
            "/repository/mh/org/ex/lib/1.0/lib-1.0.pom",
        )
        .body("<!DOCTYPE project><project/>"),
    );
    v.push(
        case(
            "yum re-PUT of no RPM",
            "PUT",
            "/repository/yh/Packages/arca-lib.rpm",
        )
        .body("no rpm"),
    );
    v.push(
        case(
            "yum re-PUT of a truncated RPM",
            "PUT",
            "/repository/yh/Packages/arca-lib.rpm",
        )
        .body(&RPM[..RPM.len() / 2]),
    );
    v.push(
        case(
            "docker re-tag naming an unknown blob",
            "PUT",
            "/v2/dh/app/manifests/1",
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest(layer, 7, &digest(b"absent"), 6)),
    );
    for (what, parts) in [
        (
            "wrong sha256_digest",
            vec![
                Part(
                    "name=\"content\"; filename=\"demo-1.0.tar.gz\"",
                    b"replaced",
                ),
                Part("name=\"sha256_digest\"", "0".repeat(64).as_bytes()),
            ],
        ),
        (
            "wrong md5_digest",
            vec![
                Part(
                    "name=\"content\"; filename=\"demo-1.0.tar.gz\"",
                    b"replaced",
                ),
                Part("name=\"md5_digest\"", "0".repeat(32).as_bytes()),
            ],
        ),
        (
            "two content parts",
            vec![
                Part(
                    "name=\"content\"; filename=\"demo-1.0.tar.gz\"",
                    b"replaced",
                ),
                Part("name=\"content\"; filename=\"demo-1.0.tar.gz\"", b"again"),
            ],
        ),
        (
            "version after the file disagrees",
            vec![
                Part(
                    "name=\"content\"; filename=\"demo-1.0.tar.gz\"",
                    b"replaced",
                ),
                Part("name=\"version\"", b"2.0"),
            ],
        ),
    ] {
        v.push(case(format!("pypi re-upload, {what}"), "POST", pypi_upload).form(&parts));
    }

    // ------------------------------------------------------------ oversized bodies
    v.push(
        case(
            "raw PUT over the upload limit",
            "PUT",
            "/repository/rh/big.bin",
        )
        .body(over.clone())
        .expect(413),
    );
    v.push(
        case(
            "maven PUT over the upload limit",
            "PUT",
            "/repository/mh/org/ex/big/1.0/big-1.0.jar",
        )
        .body(over.clone())
        .expect(413),
    );
    let mut big_rpm = RPM.to_vec();
    big_rpm.resize(MAX_UPLOAD + 1024, 0);
    v.push(
        case(
            "yum PUT over the upload limit",
            "PUT",
            "/repository/yh/Packages/big.rpm",
        )
        .body(big_rpm)
        .expect(413),
    );
    v.push(
        case(
            "docker monolithic upload over the limit",
            "POST",
            format!("/v2/dh/app/blobs/uploads/?digest={}", digest(&over)),
        )
        .body(over.clone())
        .expect(413),
    );
    v.push(
        case(
            "maven metadata over its limit",
            "PUT",
            "/repository/mh/org/ex/lib/maven-metadata.xml",
        )
        .body(vec![b' '; 4 * 1024 * 1024 + 10])
        .expect(413),
    );
    v.push(
        case(
            "REST JSON body over its limit",
            "POST",
            "/service/rest/v1/repositories/raw/hosted",
        )
        .json(format!(
            "{{\"name\": \"big\", \"pad\": \"{}\"}}",
            "x".repeat(4 * 1024 * 1024 + 10)
        ))
        .expect(413),
    );

    // ------------------------------------------------------------ XML
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\"><!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">]>\n";
    let xxe =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE m [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n";
    for (what, prolog) in [("billion laughs", laughs), ("external entity", xxe)] {
        v.push(
            case(format!("maven metadata, {what}"), "PUT", "/repository/mh/org/ex/lib/maven-metadata.xml")
                .body(format!("{prolog}<metadata><groupId>&lol4;&xxe;</groupId><artifactId>lib</artifactId></metadata>")),
        );
        v.push(
            case(format!("maven group metadata, {what}"), "PUT", "/repository/mh/org/ex/maven-metadata.xml")
                .body(format!("{prolog}<metadata><plugins><plugin><name>&lol4;</name><prefix>x</prefix><artifactId>p</artifactId></plugin></plugins></metadata>")),
        );
        v.push(
            case(
                format!("maven POM, {what}"),
                "PUT",
                "/repository/mh/org/ex/lib/1.0/lib-1.0.pom",
            )
            .body(format!(
                "{prolog}<project><groupId>&lol4;&xxe;</groupId></project>"
            )),
        );
        v.push(
            case(
                format!("maven SNAPSHOT metadata, {what}"),
                "PUT",
                "/repository/mh/org/ex/lib/1.1-SNAPSHOT/maven-metadata.xml",
            )
            .body(format!(
                "{prolog}<metadata><version>&lol4;</version></metadata>"
            )),
        );
    }
    v.push(
        case(
            "maven metadata, not XML",
            "PUT",
            "/repository/mh/org/ex/lib/maven-metadata.xml",
        )
        .body("<metadata"),
    );
    v.push(
        case(
            "maven metadata, not UTF-8",
            "PUT",
            "/repository/mh/org/ex/lib/maven-metadata.xml",
        )
        .body(b"<metadata>\xff</metadata>".to_vec()),
    );
    v.push(
        case(
            "maven checksum, mismatch",
            "PUT",
            "/repository/mh/org/ex/lib/1.0/lib-1.0.jar.sha1",
        )
        .body("0000000000000000000000000000000000000000"),
    );

    // ------------------------------------------------------------ REST API
    for (what, target) in [
        ("repository", "/service/rest/v1/repositories/raw/hosted"),
        ("user", "/service/rest/v1/security/users"),
        ("role", "/service/rest/v1/security/roles"),
        (
            "content selector",
            "/service/rest/v1/security/content-selectors",
        ),
        ("cleanup policy", "/service/rest/internal/cleanup-policies"),
        (
            "privilege",
            "/service/rest/v1/security/privileges/repository-view",
        ),
    ] {
        v.push(
            case(
                format!("REST {what} body nested 100000 deep"),
                "POST",
                target,
            )
            .json(nested(100_000)),
        );
        let mut inner = b"{\"name\":\"n\",\"a\":".to_vec();
        inner.extend_from_slice(&nested(5_000));
        inner.push(b'}');
        v.push(
            case(
                format!("REST {what} field nested 5000 deep"),
                "POST",
                target,
            )
            .json(inner),
        );
        v.push(case(format!("REST {what} body, not JSON"), "POST", target).json("{\"name\":"));
    }
    v.push(
        case(
            "REST JSON object nested 100000 deep",
            "POST",
            "/service/rest/v1/repositories/raw/hosted",
        )
        .json(format!(
            "{}1{}",
            "{\"a\":".repeat(100_000),
            "}".repeat(100_000)
        )),
    );
    for (what, name) in [
        ("dot-dot", "../x"),
        ("slash", "a/b"),
        ("CR LF", "a\r\nb"),
        ("NUL", "a\u{0}b"),
        ("empty", ""),
        ("long", &"r".repeat(300)),
    ] {
        v.push(
            case(format!("REST repository named with {what}"), "POST", "/service/rest/v1/repositories/raw/hosted")
                .json(serde_json::to_vec(&json!({"name": name, "online": true, "storage": storage(), "raw": {"contentDisposition": "ATTACHMENT"}})).unwrap()),
        );
    }
    v.push(
        case(
            "REST assets of a dot-dot repository",
            "GET",
            "/service/rest/v1/assets?repository=..%2frh",
        )
        .expect(404),
    );
    v.push(case(
        "REST assets, garbage continuation token",
        "GET",
        "/service/rest/v1/assets?repository=rh&continuationToken=%ff%fe",
    ));
    v.push(case(
        "REST asset, garbage id",
        "GET",
        "/service/rest/v1/assets/%2e%2e%2f%2e%2e",
    ));
    v.push(case(
        "REST asset delete, invalid UTF-8 id",
        "DELETE",
        "/service/rest/v1/assets/%ff",
    ));
    v.push(case(
        "REST component delete, garbage id",
        "DELETE",
        "/service/rest/v1/components/cmF3aDo6",
    ));
    v.push(
        case(
            "REST component delete, unknown id",
            "DELETE",
            format!(
                "/service/rest/v1/components/{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("rh:component:999999")
            ),
        )
        .expect(404),
    );
    v
}

/// The seeded repository a request targets, if it names one.
fn aims_at(target: &str) -> Option<&'static str> {
    REPOS.into_iter().find(|r| {
        target.starts_with(&format!("/repository/{r}/"))
            || target.starts_with(&format!("/v2/{r}/"))
            || target.ends_with(&format!("repository={r}"))
    })
}

async fn suite(b: Backend) {
    let config = arca_server::Config {
        max_upload_bytes: Some(MAX_UPLOAD as u64),
        ..Default::default()
    };
    let s = TestServer::with_config(b, config).await;
    let layer = seed(&s).await;
    let before = snapshot(&s).await;
    let raw_file = s
        .admin(GET, "/repository/rh/dir/file.txt")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let cases = cases(&layer);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut failures = Vec::new();
    'cases: for c in &cases {
        let (status, body) = send(&s, c).await;
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        if status != c.expect {
            failures.push(format!(
                "{}: {} {}: {status}, expected {}: {text}",
                c.name,
                c.method,
                &c.target[..c.target.len().min(120)],
                c.expect
            ));
        }
        if let Some(want) = &c.body_is
            && body != *want
        {
            failures.push(format!("{}: answered {text:?}", c.name));
        }
        // The repository the case aims at (every one when it names none), and all at the end.
        for (i, r) in REPOS.iter().enumerate() {
            if aims_at(&c.target).is_some_and(|a| a != *r) {
                continue;
            }
            let now = assets(&s, r).await;
            if now != before[i] {
                let added: Vec<_> = now.difference(&before[i]).collect();
                let gone: Vec<_> = before[i].difference(&now).collect();
                failures.push(format!(
                    "{}: repository {r} changed: added {added:?}, removed {gone:?}",
                    c.name
                ));
                break 'cases; // later cases would only report the same change
            }
        }
    }
    assert_eq!(snapshot(&s).await, before, "assets after the suite");
    let r = s
        .client()
        .get(s.at("/service/rest/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "server alive after the suite");
    let again = s
        .admin(GET, "/repository/rh/dir/file.txt")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(again, raw_file);
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A docker connector port that Arca or anything else already listens on is refused on the
/// field, in Nexus's validation shape.
async fn connector_ports(b: Backend) {
    let s = TestServer::start(b).await;
    let body = |name: &str, port: u16| {
        json!({"name": name, "online": true, "storage": storage(),
               "docker": {"v1Enabled": false, "forceBasicAuth": true, "httpPort": port}})
    };
    let post = |v: Value| {
        s.admin(POST, "/service/rest/v1/repositories/docker/hosted")
            .json(&v)
            .send()
    };
    let own: u16 = s.url.rsplit(':').next().unwrap().parse().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (what, port) in [
        ("Arca's own port", own),
        ("a port in use", taken.local_addr().unwrap().port()),
    ] {
        let r = post(body("dp", port)).await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        let v = json(r).await;
        assert_eq!(v[0]["id"], "PARAMETER docker.httpPort", "{what}: {v}");
    }
    assert_eq!(post(body("d1", free)).await.unwrap().status(), 201);
    let r = post(body("d2", free)).await.unwrap();
    assert_eq!(r.status(), 400, "a port another repository has");
    assert!(json(r).await[0]["message"].as_str().unwrap().contains("d1"));
    // Its own port stays acceptable to the repository that has it, connector open or not.
    let r = s
        .admin(PUT, "/service/rest/v1/repositories/docker/hosted/d1")
        .json(&body("d1", free))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .admin(PUT, "/service/rest/v1/repositories/docker/hosted/d1")
        .json(&body("d1", own))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    drop(taken);
}

both_backends!(suite, connector_ports);
