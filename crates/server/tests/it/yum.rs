//! The yum format over HTTP: uploads with header checks, repodata per root and depth, atomic
//! publication under a burst of uploads, deletes, proxy and group.

use std::io::Read;

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT};

const LIB: &[u8] = include_bytes!("../fixtures/yum/arca-lib-2.1-3.noarch.rpm");
const HELLO: &[u8] = include_bytes!("../fixtures/yum/arca-hello-1.0-1.noarch.rpm");

async fn create(s: &TestServer, kind: &str, body: Value) -> u16 {
    let r = s
        .admin(POST, &format!("/service/rest/v1/repositories/yum/{kind}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

fn hosted(name: &str, depth: u64, policy: &str) -> Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": policy},
           "yum": {"repodataDepth": depth, "deployPolicy": "STRICT"}})
}

async fn put(s: &TestServer, path: &str, body: &[u8]) -> u16 {
    s.admin(PUT, &format!("/repository/{path}"))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get(s: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let r = s
        .admin(GET, &format!("/repository/{path}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// (kind, href) of every data file `repomd.xml` names.
fn refs(repomd: &str) -> Vec<(String, String)> {
    repomd
        .split("<data type=\"")
        .skip(1)
        .map(|d| {
            let kind = d.split('"').next().unwrap().to_owned();
            let href = d
                .split("href=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (kind, href.to_owned())
        })
        .collect()
}

/// The decompressed primary.xml of a repodata root, checking every file repomd names exists.
async fn primary(s: &TestServer, root: &str) -> String {
    let (st, repomd) = get(s, &format!("{root}repodata/repomd.xml")).await;
    assert_eq!(st, 200, "repomd.xml of {root}");
    let mut out = String::new();
    for (kind, href) in refs(&String::from_utf8(repomd).unwrap()) {
        let (st, gz) = get(s, &format!("{root}{href}")).await;
        assert_eq!(st, 200, "{href} named by repomd.xml exists");
        if kind == "primary" {
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut out)
                .unwrap();
        }
    }
    out
}

async fn hosted_repodata(b: Backend) {
    let s = TestServer::start(b).await;
    assert_eq!(
        create(&s, "hosted", hosted("yh", 0, "ALLOW_ONCE")).await,
        201
    );
    assert_eq!(create(&s, "hosted", hosted("bad", 7, "ALLOW")).await, 400);
    // Empty until something is uploaded.
    assert_eq!(get(&s, "yh/repodata/repomd.xml").await.0, 404);
    assert_eq!(
        put(&s, "yh/Packages/arca-lib-2.1-3.noarch.rpm", LIB).await,
        201
    );
    assert_eq!(
        put(&s, "yh/Packages/arca-hello-1.0-1.noarch.rpm", HELLO).await,
        201
    );
    let p = primary(&s, "yh/").await;
    assert!(p.contains("packages=\"2\""), "{p}");
    assert!(
        p.contains("<name>arca-lib</name>")
            && p.contains("<version epoch=\"1\" ver=\"2.1\" rel=\"3\"/>")
    );
    assert!(p.contains("<location href=\"Packages/arca-hello-1.0-1.noarch.rpm\"/>"));
    assert!(
        p.contains("<rpm:entry name=\"arca-lib\" flags=\"GE\" epoch=\"0\" ver=\"2.0\"/>"),
        "{p}"
    );
    assert!(p.contains("<file>/usr/bin/arca-hello</file>"));
    // ALLOW_ONCE, bad files, paths: refused, nothing stored.
    assert_eq!(
        put(&s, "yh/Packages/arca-lib-2.1-3.noarch.rpm", LIB).await,
        400
    );
    assert_eq!(put(&s, "yh/junk.rpm", b"definitely not an rpm").await, 400);
    assert_eq!(put(&s, "yh/cut.rpm", &HELLO[..1500]).await, 400);
    let mut corrupt = HELLO.to_vec();
    corrupt[200..260].fill(0xff);
    assert_eq!(put(&s, "yh/corrupt.rpm", &corrupt).await, 400);
    assert_eq!(put(&s, "yh/notes.txt", b"text").await, 400);
    for p in [
        "yh/junk.rpm",
        "yh/cut.rpm",
        "yh/corrupt.rpm",
        "yh/notes.txt",
    ] {
        assert_eq!(get(&s, p).await.0, 404, "{p} not stored");
    }
    let (st, rpm) = get(&s, "yh/Packages/arca-lib-2.1-3.noarch.rpm").await;
    assert_eq!(st, 200);
    assert_eq!(rpm, LIB);
    // Delete: gone from repodata.
    let r = s
        .admin(
            DELETE,
            "/repository/yh/Packages/arca-hello-1.0-1.noarch.rpm",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let p = primary(&s, "yh/").await;
    assert!(
        p.contains("packages=\"1\"") && !p.contains("arca-hello"),
        "{p}"
    );
    // Nexus's component upload form.
    let form = |dir: &'static str, file: &'static [u8]| {
        let (content_type, body) = crate::multipart(&[
            ("yum.directory", None, dir.as_bytes()),
            ("yum.asset", Some("arca-hello-1.0-1.noarch.rpm"), file),
        ]);
        s.admin(POST, "/service/rest/v1/components?repository=yh")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(form("/el/", HELLO).await.unwrap().status(), 204);
    assert_eq!(
        form("/el/", HELLO).await.unwrap().status(),
        400,
        "ALLOW_ONCE"
    );
    assert_eq!(form("other", b"no rpm").await.unwrap().status(), 400);
    let p = primary(&s, "yh/").await;
    assert!(
        p.contains("<location href=\"el/arca-hello-1.0-1.noarch.rpm\"/>"),
        "{p}"
    );
    // Depth 2: one repodata per second-level directory.
    assert_eq!(create(&s, "hosted", hosted("deep", 2, "ALLOW")).await, 201);
    assert_eq!(put(&s, "deep/el9/x86_64/arca-lib.rpm", LIB).await, 201);
    assert_eq!(
        put(&s, "deep/el9/noarch/sub/arca-hello.rpm", HELLO).await,
        201
    );
    assert_eq!(put(&s, "deep/el9/arca-hello.rpm", HELLO).await, 400);
    let p = primary(&s, "deep/el9/x86_64/").await;
    assert!(
        p.contains("packages=\"1\"") && p.contains("<location href=\"arca-lib.rpm\"/>"),
        "{p}"
    );
    let p = primary(&s, "deep/el9/noarch/").await;
    assert!(p.contains("<location href=\"sub/arca-hello.rpm\"/>"), "{p}");
    assert_eq!(get(&s, "deep/el9/repodata/repomd.xml").await.0, 404);
    // Deleting through the assets API updates the repodata too.
    let assets = crate::json(
        s.admin(GET, "/service/rest/v1/assets?repository=deep")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let lib = assets["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "el9/x86_64/arca-lib.rpm")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .admin(DELETE, &format!("/service/rest/v1/assets/{lib}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let p = primary(&s, "deep/el9/x86_64/").await;
    assert!(p.contains("packages=\"0\""), "{p}");
}

/// Many uploads at once: every repomd.xml a reader gets names files that exist, and the end
/// state lists every package.
async fn burst_publishing(b: Backend) {
    let s = TestServer::start(b).await;
    assert_eq!(create(&s, "hosted", hosted("yb", 0, "ALLOW")).await, 201);
    let n = 40;
    let uploads = futures_util::future::join_all((0..n).map(|i| {
        let s = &s;
        async move { put(s, &format!("yb/p{i:02}/arca-lib.rpm"), LIB).await }
    }));
    let reader = async {
        let mut seen = 0;
        for _ in 0..30 {
            let (st, repomd) = get(&s, "yb/repodata/repomd.xml").await;
            if st == 200 {
                for (_, href) in refs(&String::from_utf8(repomd).unwrap()) {
                    assert_eq!(get(&s, &format!("yb/{href}")).await.0, 200, "{href} exists");
                }
                seen += 1;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        seen
    };
    let (codes, _) = tokio::join!(uploads, reader);
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    let p = primary(&s, "yb/").await;
    assert!(p.contains(&format!("packages=\"{n}\"")), "{p}");
}

async fn proxy_and_group(b: Backend) {
    let s = TestServer::start(b).await;
    assert_eq!(create(&s, "hosted", hosted("up", 0, "ALLOW")).await, 201);
    assert_eq!(create(&s, "hosted", hosted("local", 0, "ALLOW")).await, 201);
    assert_eq!(put(&s, "up/a/arca-lib.rpm", LIB).await, 201);
    assert_eq!(put(&s, "local/b/arca-hello.rpm", HELLO).await, 201);
    let mut p = hosted("yp", 0, "ALLOW");
    p["proxy"] = json!({"remoteUrl": format!("{}/repository/up/", s.url), "contentMaxAge": 1440, "metadataMaxAge": 0});
    p["negativeCache"] = json!({"enabled": false, "timeToLive": 1});
    p["httpClient"] = json!({"blocked": false, "autoBlock": true,
        "authentication": {"type": "username", "username": "admin", "password": s.admin_password}});
    assert_eq!(create(&s, "proxy", p).await, 201);
    let mut g = hosted("yg", 0, "ALLOW");
    g["group"] = json!({"memberNames": ["local", "yp"]});
    assert_eq!(create(&s, "group", g).await, 201);
    let pp = primary(&s, "yp/").await;
    assert!(
        pp.contains("packages=\"1\"") && pp.contains("<name>arca-lib</name>"),
        "{pp}"
    );
    let (st, rpm) = get(&s, "yp/a/arca-lib.rpm").await;
    assert_eq!((st, rpm.as_slice()), (200, LIB));
    let gp = primary(&s, "yg/").await;
    assert!(
        gp.contains("packages=\"2\"") && gp.contains("arca-hello") && gp.contains("arca-lib"),
        "{gp}"
    );
    assert_eq!(get(&s, "yg/b/arca-hello.rpm").await.1, HELLO);
    assert_eq!(get(&s, "yg/a/arca-lib.rpm").await.1, LIB);
    // The upstream changes: the proxy (metadataMaxAge 0) and the group follow.
    assert_eq!(put(&s, "up/c/arca-hello.rpm", HELLO).await, 201);
    let pp = primary(&s, "yp/").await;
    assert!(pp.contains("packages=\"2\""), "{pp}");
    let gp = primary(&s, "yg/").await;
    // The same RPM in two members is listed once (first member wins).
    assert!(gp.contains("packages=\"2\""), "{gp}");
    assert!(gp.contains("<location href=\"b/arca-hello.rpm\"/>"), "{gp}");
    // Uploads to a proxy or group are refused.
    assert_eq!(put(&s, "yp/x.rpm", LIB).await, 405);
    assert_eq!(put(&s, "yg/x.rpm", LIB).await, 405);
}

/// A node that stops between an upload and its publish: the next start notices the repodata
/// does not match the RPMs and republishes before serving it.
async fn stale_after_restart(b: Backend) {
    let mut s = TestServer::start(b).await;
    assert_eq!(create(&s, "hosted", hosted("yr", 0, "ALLOW")).await, 201);
    assert_eq!(put(&s, "yr/a/arca-lib.rpm", LIB).await, 201);
    assert!(primary(&s, "yr/").await.contains("packages=\"1\""));
    assert_eq!(put(&s, "yr/b/arca-hello.rpm", HELLO).await, 201);
    // Stop at once: the publish of the second upload is still waiting for its debounce.
    s.restart().await;
    let p = primary(&s, "yr/").await;
    assert!(
        p.contains("packages=\"2\"") && p.contains("arca-hello"),
        "{p}"
    );
}

both_backends!(
    hosted_repodata,
    burst_publishing,
    proxy_and_group,
    stale_after_restart
);
