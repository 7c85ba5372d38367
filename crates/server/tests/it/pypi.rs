//! The pypi format over HTTP: uploads, simple pages, proxy of a loopback index, group merge.

use arca_testkit::{Backend, TestServer, Upstream, both_backends};
use serde_json::{Value, json};

use crate::{GET, POST, json};

const BOUNDARY: &str = "arca-test-boundary";

/// A twine-style multipart body; `fields` come in order, `content` where given.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>, file_first: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let field = |out: &mut Vec<u8>, k: &str, v: &str| {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    };
    let content = |out: &mut Vec<u8>| {
        if let Some((name, data)) = file {
            out.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    };
    if file_first {
        content(&mut out);
    }
    for (k, v) in fields {
        field(&mut out, k, v);
    }
    if !file_first {
        content(&mut out);
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn upload(s: &TestServer, repo: &str, body: Vec<u8>) -> (u16, String) {
    let r = s
        .admin(POST, &format!("/repository/{repo}/"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn repo(name: &str, kind: &str, extra: Value) -> Value {
    let mut b = json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW_ONCE"}});
    if kind == "proxy" {
        b["proxy"] =
            json!({"remoteUrl": extra["remote"], "contentMaxAge": -1, "metadataMaxAge": 1440});
        b["negativeCache"] = json!({"enabled": true, "timeToLive": 1440});
        b["httpClient"] = json!({"blocked": false, "autoBlock": true});
    }
    if kind == "group" {
        b["group"] = json!({"memberNames": extra["members"]});
    }
    b
}

async fn create(s: &TestServer, kind: &str, body: Value) {
    let r = s
        .admin(POST, &format!("/service/rest/v1/repositories/pypi/{kind}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

const SDIST: &[u8] = b"not really gzip, but the server does not unpack sdists";
/// Not the sha256 of SDIST.
const WRONG_SHA: &str = "6d1a3e4b3c1c0f1e0f3b1d3f4a9a8e6c2c4e8d0d7a1b7c4d9f5e2a3b1c0d9e8f";

async fn hosted_uploads(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", repo("py", "hosted", json!({}))).await;
    let real_sha = {
        // The digest sent after the file is checked after storing; a wrong one removes it.
        let (st, msg) = upload(
            &s,
            "py",
            form(
                &[
                    (":action", "file_upload"),
                    ("name", "demo"),
                    ("version", "1.0"),
                    ("sha256_digest", WRONG_SHA),
                ],
                Some(("demo-1.0.tar.gz", SDIST)),
                true,
            ),
        )
        .await;
        assert_eq!(st, 400, "{msg}");
        assert!(msg.contains("digest mismatch"), "{msg}");
        let page = s
            .admin(GET, "/repository/py/simple/demo/")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 404, "nothing stored");
        msg.rsplit(' ').next().unwrap().trim().to_owned()
    };
    assert_eq!(
        real_sha, "da270d3c06ff46dae2546639ddb3515db0704460781dc9150d4afc8d798b95e2",
        "sha256 of SDIST per python hashlib"
    );
    let fields = [
        (":action", "file_upload"),
        ("name", "Demo"),
        ("version", "1.0"),
        ("filetype", "sdist"),
        ("requires_python", ">=3.9"),
        ("sha256_digest", real_sha.as_str()),
    ];
    let (st, msg) = upload(
        &s,
        "py",
        form(&fields, Some(("demo-1.0.tar.gz", SDIST)), false),
    )
    .await;
    assert_eq!(st, 200, "{msg}");
    // Same file again: refused under ALLOW_ONCE.
    assert_eq!(
        upload(
            &s,
            "py",
            form(&fields, Some(("demo-1.0.tar.gz", SDIST)), false)
        )
        .await
        .0,
        400
    );
    // File name and form disagree; bad names; an :action we do not know; no file.
    let (st, msg) = upload(
        &s,
        "py",
        form(&[("name", "other")], Some(("demo-1.1.tar.gz", b"x")), false),
    )
    .await;
    assert_eq!(st, 400, "{msg}");
    assert_eq!(
        upload(
            &s,
            "py",
            form(
                &[("name", "demo")],
                Some(("../demo-1.1.tar.gz", b"x")),
                false
            )
        )
        .await
        .0,
        400
    );
    assert_eq!(
        upload(
            &s,
            "py",
            form(
                &[(":action", "remove_pkg")],
                Some(("demo-1.1.tar.gz", b"x")),
                false
            )
        )
        .await
        .0,
        400
    );
    assert_eq!(
        upload(&s, "py", form(&[("name", "demo")], None, false))
            .await
            .0,
        400
    );
    let r = s
        .admin(POST, "/repository/py/")
        .header("content-type", "multipart/form-data; boundary=x")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The pages.
    let html = s
        .admin(GET, "/repository/py/simple/demo/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "{}/repository/py/packages/demo/1.0/demo-1.0.tar.gz#sha256={real_sha}",
            s.url
        )),
        "{html}"
    );
    assert!(html.contains("data-requires-python=\"&gt;=3.9\""), "{html}");
    let j = json(
        s.admin(GET, "/repository/py/simple/demo/")
            .header("accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(j["files"][0]["hashes"]["sha256"], real_sha.as_str());
    assert_eq!(j["files"][0]["requires-python"], ">=3.9");
    assert_eq!(j["files"][0]["yanked"], false);
    let idx = s
        .admin(GET, "/repository/py/simple/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(idx.contains("<a href=\"demo/\">demo</a>"), "{idx}");
    let file = s
        .admin(GET, "/repository/py/packages/demo/1.0/demo-1.0.tar.gz")
        .send()
        .await
        .unwrap();
    assert_eq!(file.bytes().await.unwrap().as_ref(), SDIST);
    // Yank (PEP 592) and undo it.
    let yank = "/service/rest/v1/pypi/py/Demo/1.0/yank";
    let r = s
        .admin(POST, yank)
        .json(&json!({"reason": "bad build"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j = json(
        s.admin(GET, "/repository/py/simple/demo/")
            .header("accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(j["files"][0]["yanked"], "bad build");
    assert_eq!(
        s.admin(crate::DELETE, yank).send().await.unwrap().status(),
        200
    );
    let j = json(
        s.admin(GET, "/repository/py/simple/demo/")
            .header("accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(j["files"][0]["yanked"], false);
    assert_eq!(
        s.client().post(s.at(yank)).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        s.admin(POST, "/service/rest/v1/pypi/py/demo/9.9/yank")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A content selector judges paths; a yank names a project, so a selector grants no yank
    // (even one selecting every path): 403, nothing yanked.
    let sec = |p: &str, body: Value| {
        s.admin(POST, &format!("/service/rest/v1/security/{p}"))
            .json(&body)
            .send()
    };
    let st = sec(
        "content-selectors",
        json!({"name": "all-pypi", "description": "", "expression": "format == \"pypi\""}),
    )
    .await
    .unwrap()
    .status()
    .as_u16();
    assert!((200..300).contains(&st), "{st}");
    let st = sec(
        "privileges/repository-content-selector",
        json!({"name": "py-edit-sel", "description": "", "format": "pypi", "repository": "py",
               "contentSelector": "all-pypi", "actions": ["READ", "BROWSE", "EDIT"]}),
    )
    .await
    .unwrap()
    .status()
    .as_u16();
    assert!((200..300).contains(&st), "{st}");
    let st = sec(
        "roles",
        json!({"id": "py-sel", "name": "py-sel", "description": "", "privileges": ["py-edit-sel"], "roles": []}),
    )
    .await
    .unwrap()
    .status()
    .as_u16();
    assert!((200..300).contains(&st), "{st}");
    let st = sec(
        "users",
        json!({"userId": "sel", "firstName": "S", "lastName": "S", "emailAddress": "s@example.org",
               "password": "sel-password", "status": "active", "roles": ["py-sel"]}),
    )
    .await
    .unwrap()
    .status()
    .as_u16();
    assert!((200..300).contains(&st), "{st}");
    let r = s
        .client()
        .post(s.at(yank))
        .basic_auth("sel", Some("sel-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The yank route goes through core's gate: frozen, a yank is refused and changes nothing.
    let r = s
        .admin(POST, "/service/rest/v1/read-only/freeze")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .admin(POST, yank)
        .json(&json!({"reason": "frozen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("read-only"));
    let r = s
        .admin(POST, "/service/rest/v1/read-only/release")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let j = json(
        s.admin(GET, "/repository/py/simple/demo/")
            .header("accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(j["files"][0]["yanked"], false);
    // Not a JSON body: a precise 400.
    let r = s
        .admin(POST, yank)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A yank addresses a hosted PyPI repository only.
    s.create_raw_hosted("rawfiles", "ALLOW").await;
    let r = s
        .admin(POST, "/service/rest/v1/pypi/rawfiles/demo/1.0/yank")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Delete.
    let r = s
        .admin(
            crate::DELETE,
            "/repository/py/packages/demo/1.0/demo-1.0.tar.gz",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.admin(GET, "/repository/py/simple/demo/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn proxy_and_group(b: Backend) {
    let mut up = Upstream::start();
    up.put("files/ab/remote-2.0.tar.gz", "remote sdist");
    up.put("files/ab/evil-1.0.tar.gz", "tampered");
    // A PEP 503 page with relative links, a hash, requires-python and a yanked file.
    let page = |sha: &str| {
        format!(
            "<!DOCTYPE html><html><body>\
             <a href=\"../../files/ab/remote-2.0.tar.gz#sha256={sha}\" data-requires-python=\"&gt;=3\">remote-2.0.tar.gz</a>\
             <a href=\"../../files/ab/remote-1.0.tar.gz\" data-yanked=\"old\">remote-1.0.tar.gz</a>\
             </body></html>"
        )
    };
    // sha256("remote sdist"), per python hashlib.
    let sha = "3781d759a82378861b1986ccd9b0fac9e6d93e9c7a313d62cfa6ad865fa32151";
    up.put("simple/remote/", page(sha));
    up.put("simple/evil/", "<a href=\"../../files/ab/evil-1.0.tar.gz#sha256=0000000000000000000000000000000000000000000000000000000000000000\">evil-1.0.tar.gz</a>");

    let s = TestServer::start(b).await;
    create(&s, "proxy", repo("pp", "proxy", json!({"remote": up.url}))).await;
    create(&s, "hosted", repo("ph", "hosted", json!({}))).await;
    create(
        &s,
        "group",
        repo("pg", "group", json!({"members": ["ph", "pp"]})),
    )
    .await;

    let html = s
        .admin(GET, "/repository/pp/simple/remote/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let local = format!(
        "{}/repository/pp/packages/remote/2.0/remote-2.0.tar.gz#sha256={sha}",
        s.url
    );
    assert!(html.contains(&local), "{html}");
    assert!(
        html.contains("data-requires-python=\"&gt;=3\"") && html.contains("data-yanked=\"old\""),
        "{html}"
    );
    assert!(
        !html.contains(&up.url),
        "every link goes through Arca: {html}"
    );

    // The file comes through the proxy, checked against the index's sha256 (the hard-coded
    // value is checked by this very test: a wrong one would make the download fail).
    let r = s
        .admin(GET, "/repository/pp/packages/remote/2.0/remote-2.0.tar.gz")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!((status, body.as_str()), (200, "remote sdist"));
    // 20 concurrent requests of the page after it was cached: no new upstream request.
    let gets = (0..20).map(|_| s.admin(GET, "/repository/pp/simple/remote/").send());
    for r in futures_util::future::join_all(gets).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(up.hits("simple/remote/"), 1);
    assert_eq!(up.hits("files/ab/remote-2.0.tar.gz"), 1);
    // A remote file that does not match its index hash: 502, nothing cached.
    let r = s
        .admin(GET, "/repository/pp/packages/evil/1.0/evil-1.0.tar.gz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    // A large one streams, so its check comes at the end: the download breaks off before its
    // last bytes and nothing is cached (the next request asks the remote again).
    let big = vec![7u8; 512 * 1024];
    up.put("files/ab/evil-2.0.tar.gz", big.clone());
    up.put("simple/evil/", "<a href=\"../../files/ab/evil-2.0.tar.gz#sha256=0000000000000000000000000000000000000000000000000000000000000000\">evil-2.0.tar.gz</a>");
    s.admin(POST, "/service/rest/v1/repositories/pp/invalidate-cache")
        .send()
        .await
        .unwrap();
    for round in 1..=2 {
        let r = s
            .admin(GET, "/repository/pp/packages/evil/2.0/evil-2.0.tar.gz")
            .send()
            .await
            .unwrap();
        // Streamed (it is large): 200 at once, and the body breaks off before its end.
        assert_eq!(r.status(), 200, "round {round}");
        let got = r.bytes().await;
        assert!(
            got.as_ref().map_or(true, |b| b.len() < big.len()),
            "round {round}: a file failing its check was delivered whole"
        );
        assert_eq!(up.hits("files/ab/evil-2.0.tar.gz"), round, "not cached");
    }

    // Group: hosted and proxied files on one page, links through the group.
    let fields = [
        (":action", "file_upload"),
        ("name", "remote"),
        ("version", "3.0"),
    ];
    assert_eq!(
        upload(
            &s,
            "ph",
            form(&fields, Some(("remote-3.0.tar.gz", b"local three")), false)
        )
        .await
        .0,
        200
    );
    let j = json(
        s.admin(
            GET,
            "/repository/pg/simple/remote/?format=application/vnd.pypi.simple.v1%2Bjson",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let names: Vec<&str> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "remote-1.0.tar.gz",
            "remote-2.0.tar.gz",
            "remote-3.0.tar.gz"
        ]
    );
    assert_eq!(j["versions"], json!(["1.0", "2.0", "3.0"]));
    for f in j["files"].as_array().unwrap() {
        assert!(
            f["url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/repository/pg/packages/remote/", s.url)),
            "{f}"
        );
    }
    assert_eq!(
        s.admin(GET, "/repository/pg/packages/remote/3.0/remote-3.0.tar.gz")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "local three"
    );
    assert_eq!(
        s.admin(GET, "/repository/pg/packages/remote/2.0/remote-2.0.tar.gz")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "remote sdist"
    );

    // Remote down: cached page and file still served.
    up.stop().await;
    assert_eq!(
        s.admin(GET, "/repository/pg/simple/remote/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.admin(GET, "/repository/pp/packages/remote/2.0/remote-2.0.tar.gz")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.admin(GET, "/repository/pp/simple/never-seen/")
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
}

/// A refused re-upload (ALLOW policy) leaves the earlier file, its METADATA and the simple
/// page exactly as they were.
async fn refused_reupload_keeps_file(b: Backend) {
    let s = TestServer::start(b).await;
    let mut body = repo("pa", "hosted", json!({}));
    body["storage"]["writePolicy"] = json!("ALLOW");
    create(&s, "hosted", body).await;
    let assets = |s: &TestServer| {
        let url = s.at("/service/rest/v1/assets?repository=pa");
        let pw = s.admin_password.clone();
        async move {
            let v = json(
                arca_testkit::reqwest::Client::new()
                    .get(url)
                    .basic_auth("admin", Some(pw))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let mut out: Vec<(String, String)> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["path"].as_str().unwrap().to_owned(),
                        a["checksum"]["sha256"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            out.sort();
            out
        }
    };
    let page = |s: &TestServer| {
        let r = s
            .admin(GET, "/repository/pa/simple/demo/")
            .header("accept", "application/vnd.pypi.simple.v1+json");
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    const WHEEL_NAME: &str = "demo-1.0-py3-none-any.whl";
    let good = crate::hostile::zip(&[(
        "demo-1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        None,
    )]);
    let (st, msg) = upload(&s, "pa", form(&[], Some((WHEEL_NAME, &good)), false)).await;
    assert_eq!(st, 200, "{msg}");
    let (st, msg) = upload(&s, "pa", form(&[], Some(("demo-1.0.tar.gz", SDIST)), false)).await;
    assert_eq!(st, 200, "{msg}");
    let before = assets(&s).await;
    assert_eq!(before.len(), 3, "{before:?}");
    let page_before = page(&s).await;
    let other = crate::hostile::zip(&[(
        "demo-1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: other\n",
        None,
    )]);
    let no_metadata = crate::hostile::zip(&[("demo/__init__.py", b"", None)]);
    let bomb = crate::hostile::zip(&[(
        "demo-1.0.dist-info/METADATA",
        &vec![b'A'; 9 * 1024 * 1024],
        Some(100),
    )]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "wrong sha256_digest after the file",
            form(
                &[("sha256_digest", WRONG_SHA)],
                Some(("demo-1.0.tar.gz", b"changed")),
                true,
            ),
        ),
        (
            "wrong sha256_digest before the file",
            form(
                &[("sha256_digest", WRONG_SHA)],
                Some(("demo-1.0.tar.gz", b"changed")),
                false,
            ),
        ),
        (
            "wrong md5_digest",
            form(
                &[("md5_digest", "00000000000000000000000000000000")],
                Some(("demo-1.0.tar.gz", b"changed")),
                false,
            ),
        ),
        (
            "name sent after the file disagrees",
            form(
                &[("name", "other")],
                Some(("demo-1.0.tar.gz", b"changed")),
                true,
            ),
        ),
        (
            "wheel without METADATA",
            form(&[], Some((WHEEL_NAME, &no_metadata)), false),
        ),
        (
            "wheel whose METADATA inflates past the limit",
            form(&[], Some((WHEEL_NAME, &bomb)), false),
        ),
        (
            "wheel that is no zip",
            form(&[], Some((WHEEL_NAME, b"not a zip")), false),
        ),
        ("two content parts", {
            let mut b = form(&[], Some((WHEEL_NAME, &other)), false);
            let one = form(&[], Some(("demo-1.0.tar.gz", b"changed")), false);
            // Splice the second file part in before the closing boundary.
            let end = format!("--{BOUNDARY}--\r\n");
            b.truncate(b.len() - end.len());
            b.extend_from_slice(&one);
            b
        }),
    ];
    for (name, body) in cases {
        let (st, msg) = upload(&s, "pa", body).await;
        assert_eq!(st, 400, "{name}: {msg}");
        assert_eq!(assets(&s).await, before, "{name}: assets changed");
        assert_eq!(page(&s).await, page_before, "{name}: simple page changed");
        let r = s
            .admin(GET, "/repository/pa/packages/demo/1.0/demo-1.0.tar.gz")
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), SDIST, "{name}");
        let r = s
            .admin(
                GET,
                &format!("/repository/pa/packages/demo/1.0/{WHEEL_NAME}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), &good[..], "{name}");
    }
    // A good re-upload still replaces the wheel and its METADATA together.
    let (st, msg) = upload(&s, "pa", form(&[], Some((WHEEL_NAME, &other)), false)).await;
    assert_eq!(st, 200, "{msg}");
    let r = s
        .admin(
            GET,
            &format!("/repository/pa/packages/demo/1.0/{WHEEL_NAME}.metadata"),
        )
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Summary: other"));
}

both_backends!(hosted_uploads, proxy_and_group, refused_reupload_keeps_file);
