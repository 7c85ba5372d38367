//! npm repositories over HTTP against a real server, on SQLite and PostgreSQL: one binary.
#![allow(clippy::unwrap_used)]

mod group;
mod hosted;
mod proxy;

use arca_testkit::{
    TestServer,
    reqwest::{Method, Response},
};
use base64::Engine;
use serde_json::{Value, json};
use sha1::Digest as _;

pub const GET: Method = Method::GET;
pub const PUT: Method = Method::PUT;
pub const POST: Method = Method::POST;
pub const DELETE: Method = Method::DELETE;

pub async fn body_json(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

/// A package tarball as `npm pack` makes it: `package/package.json` and an index file.
pub fn tgz(name: &str, version: &str) -> Vec<u8> {
    tgz_with(name, version, "42")
}

/// [`tgz`] whose `index.js` exports `value`: the same package and version, other bytes.
pub fn tgz_with(name: &str, version: &str, value: &str) -> Vec<u8> {
    let pj = json!({"name": name, "version": version, "description": format!("{name} for tests"), "main": "index.js"}).to_string();
    let index = format!("module.exports = {value:?};\n");
    let entries: [(&str, &[u8]); 2] = [
        ("package/package.json", pj.as_bytes()),
        ("package/index.js", index.as_bytes()),
    ];
    let mut tar = Vec::new();
    for (n, data) in entries {
        let mut h = [0u8; 512];
        h[..n.len()].copy_from_slice(n.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

pub fn sha1_hex(b: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(b))
}

pub fn integrity(b: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(b))
    )
}

/// The body `npm publish` sends: the packument with one version and its tarball attached.
pub fn publish_body(name: &str, version: &str, tarball: &[u8], tag: &str) -> Value {
    let file = format!("{name}-{version}.tgz");
    json!({
        "_id": name,
        "name": name,
        "description": "for tests",
        "dist-tags": { tag: version },
        "versions": { version: {
            "name": name, "version": version, "description": "for tests",
            "readme": "# readme",
            "scripts": {"postinstall": "node -e 1"},
            "dependencies": {},
            "dist": {
                "shasum": sha1_hex(tarball),
                "integrity": integrity(tarball),
                "tarball": format!("http://elsewhere.invalid/{name}/-/{file}"),
            },
        }},
        "access": null,
        "readme": "# readme",
        "_attachments": { file: {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tarball),
            "length": tarball.len(),
        }},
    })
}

pub fn hosted_body(name: &str, policy: &str) -> Value {
    json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": policy}})
}

pub fn proxy_body(name: &str, remote: &str, metadata_max_age: i64) -> Value {
    json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": remote, "contentMaxAge": -1, "metadataMaxAge": metadata_max_age},
        "negativeCache": {"enabled": true, "timeToLive": 1440},
        "httpClient": {"blocked": false, "autoBlock": true},
        "npm": {"removeQuarantined": false}})
}

pub fn group_body(name: &str, members: &[&str], writable: Option<&str>) -> Value {
    let mut g = json!({"memberNames": members});
    if let Some(w) = writable {
        g["writableMember"] = json!(w);
    }
    json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "group": g})
}

pub async fn create(s: &TestServer, kind: &str, body: Value) {
    let r = s
        .admin(POST, &format!("/service/rest/v1/repositories/npm/{kind}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// `npm publish` as admin to `/repository/{repo}/{path}`: status and JSON body.
pub async fn publish(s: &TestServer, repo: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = s
        .admin(PUT, &format!("/repository/{repo}/{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, body_json(r).await)
}

pub async fn get_json(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s.admin(GET, path).send().await.unwrap();
    let st = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
