//! The docker format against the OCI distribution spec, endpoint by endpoint: token auth,
//! uploads (monolithic, chunked, resumable, mounts), manifests, tags, catalog, referrers,
//! deletes, groups and a pull-through proxy, with the spec's error codes.

use arca_testkit::{Backend, TestServer, both_backends, reqwest};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{DELETE, GET, POST, PUT, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

async fn create(s: &TestServer, kind: &str, body: Value) {
    let r = s
        .admin(
            POST,
            &format!("/service/rest/v1/repositories/docker/{kind}"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn hosted(name: &str) -> Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
           "docker": {"v1Enabled": false, "forceBasicAuth": true}})
}

/// A user whose roles hold exactly `privileges`.
async fn user(s: &TestServer, b: Backend, id: &str, privileges: &[&str]) {
    use arca_core::meta::{Db, Role, User};
    let db = Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    db.put_role(&Role {
        id: format!("{id}-role"),
        name: format!("{id}-role"),
        description: "".into(),
        source: "default".into(),
        read_only: false,
        privileges: privileges.iter().map(|p| p.to_string()).collect(),
        roles: vec![],
    })
    .await
    .unwrap();
    db.create_user(&User {
        user_id: id.into(),
        first_name: id.into(),
        last_name: "User".into(),
        email: format!("{id}@example.org"),
        password_hash: arca_core::security::hash_password(&format!("{id}-password")).unwrap(),
        status: "active".into(),
        source: "default".into(),
        roles: vec![format!("{id}-role")],
        not_before_ms: 0,
    })
    .await
    .unwrap();
    db.close().await;
}

/// A bearer token from `/v2/token` for `scope`, as `user` (admin when `None`).
async fn token(s: &TestServer, user: Option<(&str, &str)>, scope: &str) -> String {
    let (u, p) = user.unwrap_or(("admin", &s.admin_password));
    let r = s
        .client()
        .get(s.at("/v2/token"))
        .query(&[("service", "arca"), ("scope", scope)])
        .basic_auth(u, Some(p))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    json(r).await["token"].as_str().unwrap().to_owned()
}

/// Requests as admin with Basic credentials (accepted on /v2/ besides tokens).
fn reg(s: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    s.admin(method, &format!("/v2/{path}"))
}

async fn error_code(r: reqwest::Response) -> String {
    let v = json(r).await;
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn push_blob(s: &TestServer, name: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = reg(s, POST, &format!("{name}/blobs/uploads/?digest={d}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    d
}

/// Pushes config and layer blobs and an image manifest; returns (manifest bytes, digest).
async fn push_image(s: &TestServer, name: &str, tag: &str, seed: &str) -> (Vec<u8>, String) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer of {seed}").repeat(100);
    let c = push_blob(s, name, config.as_bytes()).await;
    let l = push_blob(s, name, layer.as_bytes()).await;
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": layer.len()}]});
    let bytes = serde_json::to_vec(&m).unwrap();
    let r = reg(s, PUT, &format!("{name}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let d = digest(&bytes);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    (bytes, d)
}

async fn token_auth(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    create(&s, "hosted", hosted("other")).await;
    let c = s.client();
    // The version check challenges with the token endpoint.
    let r = c.get(s.at("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    let ch = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        ch.starts_with("Bearer realm=\"")
            && ch.contains("/v2/token\"")
            && ch.contains("service=\"arca\""),
        "{ch}"
    );
    assert_eq!(error_code(r).await, "UNAUTHORIZED");
    // Wrong password: no token. Anonymous (off by default): no token.
    let r = c
        .get(s.at("/v2/token?service=arca&scope=repository:dh/app:pull"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(s.at("/v2/token?service=arca&scope=repository:dh/app:pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A token works on /v2/ and for its scope, and for nothing else.
    let t = token(&s, None, "repository:dh/app:pull,push").await;
    assert_eq!(
        c.get(s.at("/v2/"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let d = digest(b"hello");
    let r = c
        .post(s.at(&format!("/v2/dh/app/blobs/uploads/?digest={d}")))
        .bearer_auth(&t)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/dh/app/blobs/{d}").as_str()
    );
    let r = c
        .head(s.at(&format!("/v2/dh/app/blobs/{d}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "5");
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    // A token for another repository: 401 asking for the right scope.
    let r = c
        .head(s.at(&format!("/v2/other/app/blobs/{d}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ch = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        ch.contains("scope=\"repository:other/app:pull\"") && ch.contains("insufficient_scope"),
        "{ch}"
    );
    // Pull-only token cannot delete.
    let pull = token(&s, None, "repository:dh/app:pull").await;
    let r = c
        .delete(s.at(&format!("/v2/dh/app/blobs/{d}")))
        .bearer_auth(&pull)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Forged and tampered tokens are refused.
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let r = c
        .get(s.at("/v2/dh/app/tags/list"))
        .bearer_auth(parts.join("."))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A user with read-only privileges gets only pull, and a 403 for push with Basic.
    user(
        &s,
        b,
        "reader",
        &[
            "nx-repository-view-docker-dh-read",
            "nx-repository-view-docker-dh-browse",
        ],
    )
    .await;
    let t = token(
        &s,
        Some(("reader", "reader-password")),
        "repository:dh/app:pull,push",
    )
    .await;
    let claims: Value = {
        use base64::Engine;
        let p = t.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["access"][0]["actions"], json!(["pull"]));
    let r = c
        .post(s.at("/v2/dh/app/blobs/uploads/"))
        .basic_auth("reader", Some("reader-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "DENIED");
    let r = c
        .get(s.at(&format!("/v2/dh/app/blobs/{d}")))
        .basic_auth("reader", Some("reader-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");
    // Anonymous push: 401 with a push challenge.
    let r = c
        .post(s.at("/v2/dh/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("repository:dh/app:push")
    );
    // With anonymous access on, a token without credentials grants pull only.
    let r = s
        .admin(PUT, "/service/rest/v1/security/anonymous")
        .json(
            &json!({"enabled": true, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(s.at("/v2/token?service=arca&scope=repository:dh/app:pull,push"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let anon = json(r).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        c.get(s.at("/v2/"))
            .bearer_auth(&anon)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .get(s.at(&format!("/v2/dh/app/blobs/{d}")))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "hello");
    let r = c
        .post(s.at("/v2/dh/app/blobs/uploads/"))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The OAuth2 form (containerd): password grant only.
    let form = |pw: &str, grant: &str| {
        format!(
            "grant_type={grant}&service=arca&client_id=containerd&scope=repository%3Adh%2Fapp%3Apull%2Cpush&username=admin&password={pw}"
        )
    };
    let post = |body: String| {
        c.post(s.at("/v2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post(form(&s.admin_password, "password")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v = json(r).await;
    assert_eq!(v["scope"], "repository:dh/app:pull,push");
    let t = v["access_token"].as_str().unwrap().to_owned();
    let r = c
        .post(s.at("/v2/dh/app/blobs/uploads/"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(post(form("wrong", "password")).await.unwrap().status(), 401);
    assert_eq!(
        post(form("x", "refresh_token")).await.unwrap().status(),
        400
    );
}

async fn uploads(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    // Monolithic with a wrong digest: nothing stored.
    let wrong = digest(b"something else");
    let r = reg(&s, POST, &format!("dh/app/blobs/uploads/?digest={wrong}"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = reg(&s, GET, &format!("dh/app/blobs/{}", digest(b"payload")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    let r = reg(&s, GET, "dh/app/blobs/sha512:abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // Chunked: POST, PATCH in order, out-of-order refused with 416, status, PUT.
    let r = reg(&s, POST, "dh/app/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-0");
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/v2/dh/app/blobs/uploads/"), "{loc}");
    let uuid = r.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(loc.ends_with(&uuid));
    let r = s
        .admin(reqwest::Method::PATCH, &loc)
        .header("content-range", "0-4")
        .header("content-type", "application/octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-4");
    let r = s
        .admin(reqwest::Method::PATCH, &loc)
        .header("content-range", "10-14")
        .body("xxxxx")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["range"], "0-4");
    let r = s.admin(GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-4");
    // The rest streamed (no Content-Range), then the final chunk on the PUT.
    let r = s
        .admin(reqwest::Method::PATCH, &loc)
        .body(" big")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["range"], "0-8");
    let whole = b"hello big world";
    let d = digest(whole);
    let r = s
        .admin(PUT, &format!("{loc}?digest={}", digest(b"nope")))
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a wrong digest fails the commit");
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = s.admin(GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 404, "a failed commit discards the upload");
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    // Again, right this time.
    let r = reg(&s, POST, "dh/app/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    s.admin(reqwest::Method::PATCH, &loc)
        .body("hello big")
        .send()
        .await
        .unwrap();
    let r = s
        .admin(PUT, &format!("{loc}?digest={d}"))
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/dh/app/blobs/{d}").as_str()
    );
    let r = reg(&s, GET, &format!("dh/app/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), whole);
    let r = reg(&s, GET, &format!("dh/app/blobs/{d}"))
        .header("range", "bytes=6-8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().await.unwrap(), "big");
    // Cancel.
    let r = reg(&s, POST, "dh/app/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(s.admin(DELETE, &loc).send().await.unwrap().status(), 204);
    assert_eq!(s.admin(GET, &loc).send().await.unwrap().status(), 404);
    assert_eq!(
        reg(&s, GET, "dh/app/blobs/uploads/not-an-upload")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Blob delete.
    assert_eq!(
        reg(&s, DELETE, &format!("dh/app/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        reg(&s, GET, &format!("dh/app/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Unknown repository and bad names.
    let r = reg(&s, GET, "nope/app/tags/list").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = reg(&s, GET, "dh/App/tags/list").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "NAME_INVALID");
}

async fn manifests_and_tags(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    // A manifest naming a blob the repository lacks is refused.
    let missing = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(b"absent"), "size": 6},
        "layers": []});
    let r = reg(&s, PUT, "dh/team/app/manifests/1")
        .header("content-type", OCI_MANIFEST)
        .json(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let r = reg(&s, PUT, "dh/team/app/manifests/1")
        .header("content-type", OCI_MANIFEST)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = reg(&s, GET, "dh/team/app/manifests/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");

    let (bytes, d) = push_image(&s, "dh/team/app", "1", "one").await;
    for reference in ["1", d.as_str()] {
        let r = reg(&s, GET, &format!("dh/team/app/manifests/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let r = s
        .client()
        .head(s.at("/v2/dh/team/app/manifests/1"))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    // By digest: the body must have that digest.
    let r = reg(&s, PUT, &format!("dh/team/app/manifests/{}", digest(b"x")))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = reg(&s, PUT, "dh/team/app/manifests/bad:tag!")
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // An index of a missing child is refused; of a present one accepted.
    let index = |child: &str| {
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": bytes.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]})
    };
    let r = reg(&s, PUT, "dh/team/app/manifests/multi")
        .header("content-type", OCI_INDEX)
        .json(&index(&digest(b"zz")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let r = reg(&s, PUT, "dh/team/app/manifests/multi")
        .header("content-type", OCI_INDEX)
        .json(&index(&d))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Tags with pagination.
    for t in ["2", "3", "latest"] {
        push_image(&s, "dh/team/app", t, t).await;
    }
    let r = reg(&s, GET, "dh/team/app/tags/list").send().await.unwrap();
    assert_eq!(
        json(r).await,
        json!({"name": "dh/team/app", "tags": ["1", "2", "3", "latest", "multi"]})
    );
    let r = reg(&s, GET, "dh/team/app/tags/list?n=2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/dh/team/app/tags/list?n=2&last=2>; rel=\"next\""
    );
    assert_eq!(json(r).await["tags"], json!(["1", "2"]));
    let r = reg(&s, GET, "dh/team/app/tags/list?n=2&last=2")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["tags"], json!(["3", "latest"]));
    let r = reg(&s, GET, "dh/team/app/tags/list?n=2&last=latest")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_none());
    assert_eq!(json(r).await["tags"], json!(["multi"]));
    // Delete by tag keeps the manifest; by digest removes it and its tags.
    assert_eq!(
        reg(&s, DELETE, "dh/team/app/manifests/latest")
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        reg(&s, GET, "dh/team/app/manifests/latest")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        reg(&s, DELETE, &format!("dh/team/app/manifests/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        reg(&s, GET, "dh/team/app/manifests/1")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = reg(&s, GET, "dh/team/app/tags/list").send().await.unwrap();
    assert_eq!(json(r).await["tags"], json!(["2", "3", "multi"]));
    let r = reg(&s, DELETE, &format!("dh/team/app/manifests/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    // As in Nexus, /repository/<name>/ browses and downloads the stored assets.
    let listing = s
        .admin(GET, "/repository/dh/v2/team/app/manifests/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(">2<") && listing.contains(">multi<"),
        "{listing}"
    );
    let r = s
        .admin(GET, "/repository/dh/v2/team/app/manifests/2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.admin(PUT, "/repository/dh/v2/x")
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    // Catalog, paginated.
    push_image(&s, "dh/base", "1", "base").await;
    let r = reg(&s, GET, "_catalog").send().await.unwrap();
    assert_eq!(
        json(r).await,
        json!({"repositories": ["dh/base", "dh/team/app"]})
    );
    let r = reg(&s, GET, "_catalog?n=1").send().await.unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=dh/base>; rel=\"next\""
    );
}

async fn referrers_and_mounts(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    create(&s, "hosted", hosted("second")).await;
    let (subject_bytes, subject) = push_image(&s, "dh/app", "1", "subject").await;
    let empty = push_blob(&s, "dh/app", b"{}").await;
    let mut artifacts = vec![];
    for (kind, note) in [
        ("application/vnd.example.sbom", "sbom"),
        ("application/vnd.example.sig", "sig"),
    ] {
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_bytes.len()},
            "annotations": {"note": note}});
        let bytes = serde_json::to_vec(&m).unwrap();
        let d = digest(&bytes);
        let r = reg(&s, PUT, &format!("dh/app/manifests/{d}"))
            .header("content-type", OCI_MANIFEST)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["oci-subject"], subject.as_str());
        artifacts.push(d);
    }
    let r = reg(&s, GET, &format!("dh/app/referrers/{subject}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let v = json(r).await;
    let mut got: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = artifacts.clone();
    want.sort();
    assert_eq!(got, want);
    let r = reg(
        &s,
        GET,
        &format!("dh/app/referrers/{subject}?artifactType=application/vnd.example.sig"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v = json(r).await;
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], artifacts[1].as_str());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(v["manifests"][0]["annotations"]["note"], "sig");
    let r = reg(&s, GET, &format!("dh/app/referrers/{}", digest(b"none")))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["manifests"], json!([]));
    // Mount across repositories: for a caller who may read the source...
    let layer = push_blob(&s, "dh/app", b"shared layer").await;
    let r = reg(
        &s,
        POST,
        &format!("second/app/blobs/uploads/?mount={layer}&from=dh/app"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/second/app/blobs/{layer}").as_str()
    );
    assert_eq!(
        reg(&s, GET, &format!("second/app/blobs/{layer}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "shared layer"
    );
    // ...and a plain upload session for one who may not.
    user(&s, b, "pusher", &["nx-repository-view-docker-second-*"]).await;
    let other = push_blob(&s, "dh/app", b"private layer").await;
    let r = s
        .client()
        .post(s.at(&format!(
            "/v2/second/x/blobs/uploads/?mount={other}&from=dh/app"
        )))
        .basic_auth("pusher", Some("pusher-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s
        .client()
        .get(s.at(&format!("/v2/second/x/blobs/{other}")))
        .basic_auth("pusher", Some("pusher-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn group_and_proxy(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    let mut g = hosted("dg");
    g["group"] = json!({"memberNames": ["dh"], "writableMember": "dh"});
    create(&s, "group", g).await;
    // Pushed through the group, stored in the writable member, readable through both.
    let (bytes, d) = push_image(&s, "dg/team/app", "1", "via-group").await;
    for name in ["dh", "dg"] {
        let r = reg(&s, GET, &format!("{name}/team/app/manifests/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let mut bad = hosted("dg2");
    bad["group"] = json!({"memberNames": ["dh"], "writableMember": "elsewhere"});
    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/group")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A proxy whose remote is this registry: the bearer handshake with Basic credentials.
    let mut p = hosted("dp");
    p["proxy"] = json!({"remoteUrl": s.url, "contentMaxAge": 1440, "metadataMaxAge": 1440});
    p["negativeCache"] = json!({"enabled": true, "timeToLive": 1});
    p["httpClient"] = json!({"blocked": false, "autoBlock": true,
        "authentication": {"type": "username", "username": "admin", "password": s.admin_password}});
    create(&s, "proxy", p).await;
    let r = reg(&s, GET, "dp/dh/team/app/manifests/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_owned();
    let want = reg(&s, GET, &format!("dh/team/app/blobs/{layer}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = reg(&s, GET, &format!("dp/dh/team/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], layer.as_str());
    assert_eq!(r.bytes().await.unwrap(), want);
    let r = reg(&s, GET, "dp/dh/team/app/tags/list")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["tags"], json!(["1"]));
    // Gone upstream: served from the cache (the blob was cached while streaming).
    for _ in 0..50 {
        if reg(&s, DELETE, &format!("dh/team/app/manifests/{d}"))
            .send()
            .await
            .unwrap()
            .status()
            == 202
        {
            break;
        }
    }
    assert_eq!(
        reg(&s, DELETE, &format!("dh/team/app/blobs/{layer}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let mut cached = false;
    for _ in 0..50 {
        let r = reg(&s, GET, &format!("dp/dh/team/app/blobs/{layer}"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 && r.bytes().await.unwrap() == want {
            cached = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(cached, "the proxied blob is served from the cache");
    let r = reg(&s, GET, &format!("dp/dh/team/app/manifests/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the digest is cached forever");
    // Pushing to a proxy is refused.
    let r = reg(&s, POST, "dp/x/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

/// A content-selector privilege on a docker repository: the selected images can be pulled
/// (with Basic credentials or a token), the others cannot.
async fn content_selectors(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted("dh")).await;
    push_image(&s, "dh/team/app", "1", "team").await;
    push_image(&s, "dh/other/app", "1", "other").await;
    let api = |path: &str, body: Value| {
        s.admin(POST, &format!("/service/rest/v1/security/{path}"))
            .json(&body)
            .send()
    };
    let r = api(
        "content-selectors",
        json!({"name": "team-only", "expression": "format == \"docker\" and path =^ \"/v2/team/\""}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = api(
        "privileges/repository-content-selector",
        json!({"name": "dh-team", "format": "docker", "repository": "dh",
               "contentSelector": "team-only", "actions": ["READ", "BROWSE"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    user(&s, b, "ted", &["dh-team"]).await;
    let get = |path: &str| {
        s.client()
            .get(s.at(&format!("/v2/{path}")))
            .basic_auth("ted", Some("ted-password"))
            .header("accept", OCI_MANIFEST)
            .send()
    };
    assert_eq!(get("dh/team/app/manifests/1").await.unwrap().status(), 200);
    let r = get("dh/other/app/manifests/1").await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "DENIED");
    // Tokens: granted for the selected image only.
    let ted = Some(("ted", "ted-password"));
    let t = token(&s, ted, "repository:dh/team/app:pull").await;
    let r = s
        .client()
        .get(s.at("/v2/dh/team/app/manifests/1"))
        .bearer_auth(&t)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = token(&s, ted, "repository:dh/other/app:pull").await;
    let r = s
        .client()
        .get(s.at("/v2/dh/other/app/manifests/1"))
        .bearer_auth(&t)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    // Pushing stays refused: the privilege reads.
    let r = s
        .client()
        .post(s.at("/v2/dh/team/app/blobs/uploads/"))
        .basic_auth("ted", Some("ted-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

both_backends!(
    content_selectors,
    token_auth,
    uploads,
    manifests_and_tags,
    referrers_and_mounts,
    group_and_proxy
);

/// A free loopback port for a connector.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Unprefixed names: the default repository on the main port, and a repository's own
/// connector port (`docker.httpPort`), opened and closed as the configuration changes.
async fn unprefixed_access(b: Backend) {
    let config = arca_server::Config {
        docker_default_repository: Some("dh".into()),
        ..Default::default()
    };
    let s = TestServer::with_config(b, config).await;
    create(&s, "hosted", hosted("dh")).await;
    let port = free_port();
    let mut conn = hosted("dc");
    conn["docker"]["httpPort"] = json!(port);
    create(&s, "hosted", conn.clone()).await;
    // Default repository: `library/app` is `dh/library/app`.
    let (bytes, d) = push_image(&s, "library/app", "1", "default").await;
    let r = reg(&s, GET, "dh/library/app/manifests/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // The connector opens within a few seconds and serves `dc` without a prefix.
    let c = s.client();
    let at = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if c.get(format!("{at}/v2/")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "connector port {port} opened");
    let r = c.get(format!("{at}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(&format!("realm=\"{at}/v2/token\""))
    );
    let r = c
        .get(format!(
            "{at}/v2/token?service=arca&scope=repository:team/x:pull,push"
        ))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    let t = json(r).await["token"].as_str().unwrap().to_owned();
    let r = c
        .post(format!(
            "{at}/v2/team/x/blobs/uploads/?digest={}",
            digest(b"via connector")
        ))
        .bearer_auth(&t)
        .body("via connector")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = reg(
        &s,
        GET,
        &format!("dc/team/x/blobs/{}", digest(b"via connector")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.text().await.unwrap(), "via connector");
    let r = c
        .get(format!("{at}/v2/library/app/manifests/{d}"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "the connector only serves its own repository"
    );
    // Offline, the repository's own `/v2/` says so (core's gate), and online again serves.
    conn["online"] = json!(false);
    let put = |body: Value| {
        s.admin(PUT, "/service/rest/v1/repositories/docker/hosted/dc")
            .json(&body)
            .send()
    };
    assert_eq!(put(conn.clone()).await.unwrap().status(), 204);
    let r = c
        .get(format!("{at}/v2/"))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(json(r).await["errors"][0]["code"], "UNAVAILABLE");
    conn["online"] = json!(true);
    assert_eq!(put(conn.clone()).await.unwrap().status(), 204);
    let r = c
        .get(format!("{at}/v2/"))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Moving the connector closes the old port.
    let new_port = free_port();
    conn["docker"]["httpPort"] = json!(new_port);
    let r = s
        .admin(PUT, "/service/rest/v1/repositories/docker/hosted/dc")
        .json(&conn)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut moved = false;
    for _ in 0..100 {
        if c.get(format!("http://127.0.0.1:{new_port}/v2/"))
            .send()
            .await
            .is_ok()
            && c.get(format!("{at}/v2/")).send().await.is_err()
        {
            moved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(moved, "connector moved from {port} to {new_port}");
    let mut bad = hosted("dx");
    bad["docker"]["httpPort"] = json!(70000);
    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // No V1 API: asking for it is refused on the field, not silently ignored.
    let mut v1 = hosted("dv1");
    v1["docker"]["v1Enabled"] = json!(true);
    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("v1Enabled"));
    // A block left out is reported as Arca acts: basic auth accepted, no V1.
    let mut bare = hosted("dbare");
    bare.as_object_mut().unwrap().remove("docker");
    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&bare)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got: Value = s
        .admin(GET, "/service/rest/v1/repositories/docker/hosted/dbare")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got["docker"],
        json!({"forceBasicAuth": true, "v1Enabled": false})
    );
}

mod connectors {
    use super::*;
    both_backends!(unprefixed_access);
}
