//! What the OCI distribution-spec conformance suites (v1.1.1 and the main branch) ask beyond
//! the endpoint tests in `docker.rs` (issue 17): malformed manifest references read as unknown,
//! cross-repository mounts under bearer tokens and without `from`, push with several tags,
//! unsatisfiable ranges, one ETag form, and `sha512:` digests throughout.

use arca_testkit::{Backend, TestServer, both_backends, reqwest};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{DELETE, GET, POST, PUT, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn sha512(b: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(b)))
}

async fn hosted(s: &TestServer, name: &str) {
    hosted_in(s, name, "default").await
}

async fn hosted_in(s: &TestServer, name: &str, store: &str) {
    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&json!({"name": name, "online": true,
            "storage": {"blobStoreName": store, "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "docker": {"v1Enabled": false, "forceBasicAuth": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// Requests as admin with Basic credentials.
fn reg(s: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    s.admin(method, &format!("/v2/{path}"))
}

async fn code(r: reqwest::Response) -> String {
    json(r).await["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A monolithic upload under `digest` (either algorithm).
async fn push_blob(s: &TestServer, name: &str, digest: &str, data: &[u8]) {
    let r = reg(s, POST, &format!("{name}/blobs/uploads/?digest={digest}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["docker-content-digest"], digest);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/{name}/blobs/{digest}").as_str()
    );
}

fn manifest(
    config: (&str, usize),
    layer: (&str, usize),
    subject: Option<(&str, usize)>,
) -> Vec<u8> {
    let mut m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.0, "size": layer.1}]});
    if let Some((d, n)) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d, "size": n});
        m["artifactType"] = json!("application/vnd.example.sbom");
    }
    serde_json::to_vec(&m).unwrap()
}

/// Config and layer blobs (SHA-256) and an image manifest pushed by digest; its bytes and digest.
async fn push_image(s: &TestServer, name: &str, seed: &str) -> (Vec<u8>, String) {
    let config = format!(r#"{{"os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer {seed}").repeat(50);
    let (c, l) = (sha256(config.as_bytes()), sha256(layer.as_bytes()));
    push_blob(s, name, &c, config.as_bytes()).await;
    push_blob(s, name, &l, layer.as_bytes()).await;
    let bytes = manifest((&c, config.len()), (&l, layer.len()), None);
    let d = sha256(&bytes);
    let r = reg(s, PUT, &format!("{name}/manifests/{d}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    (bytes, d)
}

/// Reads of a reference that cannot name a manifest answer 404 MANIFEST_UNKNOWN (v1.1.1 and
/// the main branch ask a nonexistent manifest for that); writes to one stay 400.
async fn malformed_references(b: Backend) {
    let s = TestServer::start(b).await;
    hosted(&s, "dh").await;
    push_image(&s, "dh/app", "one").await;
    for reference in [
        "sha256:zz",
        "sha256:abc",
        "sha512:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "-not-a-tag",
        ".hidden",
        &"x".repeat(129),
    ] {
        for m in [GET, reqwest::Method::HEAD] {
            let r = reg(&s, m.clone(), &format!("dh/app/manifests/{reference}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{m} {reference}");
            if m == GET {
                assert_eq!(code(r).await, "MANIFEST_UNKNOWN", "{reference}");
            }
        }
    }
    let body = manifest((&sha256(b"c"), 1), (&sha256(b"l"), 1), None);
    let r = reg(&s, PUT, "dh/app/manifests/-not-a-tag")
        .header("content-type", OCI_MANIFEST)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "TAG_INVALID");
    let r = reg(&s, PUT, "dh/app/manifests/sha256:zz")
        .header("content-type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");
}

/// A bearer token from `/v2/token` for `scope` (space-separated scopes allowed), as admin.
async fn token(s: &TestServer, scope: &str) -> String {
    let r = s
        .client()
        .get(s.at("/v2/token"))
        .query(&[("service", "arca"), ("scope", scope)])
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    json(r).await["token"].as_str().unwrap().to_owned()
}

/// The challenge of a mount names the source's `pull` too, so the token a client fetches for
/// it can mount; a token without that pull is sent back for a better one; without `from`, a
/// blob the caller may read anywhere is mounted.
async fn mounts(b: Backend) {
    let s = TestServer::start(b).await;
    hosted(&s, "dh").await;
    hosted(&s, "second").await;
    let layer = b"a layer to mount";
    let d = sha256(layer);
    push_blob(&s, "dh/app", &d, layer).await;
    let mount = format!("/v2/second/app/blobs/uploads/?mount={d}&from=dh/app");
    let r = s.client().post(s.at(&mount)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let ch = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        ch.contains("scope=\"repository:second/app:pull,push repository:dh/app:pull\""),
        "{ch}"
    );
    // The token for that challenge mounts.
    let scope = ch
        .split("scope=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let t = token(&s, &scope).await;
    let r = s
        .client()
        .post(s.at(&mount))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/second/app/blobs/{d}").as_str()
    );
    let r = s
        .client()
        .get(s.at(&format!("/v2/second/app/blobs/{d}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), layer);
    // A token for the destination only, held by a caller who may read the source: refused
    // with insufficient_scope and the challenge that would mount.
    let other = b"another layer";
    let od = sha256(other);
    push_blob(&s, "dh/app", &od, other).await;
    let t = token(&s, "repository:second/app:pull,push").await;
    let r = s
        .client()
        .post(s.at(&format!(
            "/v2/second/app/blobs/uploads/?mount={od}&from=dh/app"
        )))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ch = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        ch.contains("repository:dh/app:pull") && ch.contains("insufficient_scope"),
        "{ch}"
    );
    // Without `from`: from any repository the caller may read (201), else an upload (202).
    let r = reg(&s, POST, &format!("second/auto/blobs/uploads/?mount={od}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = reg(&s, GET, &format!("second/auto/blobs/{od}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), other);
    let absent = sha256(b"nowhere");
    let r = reg(
        &s,
        POST,
        &format!("second/auto/blobs/uploads/?mount={absent}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/v2/second/auto/blobs/uploads/")
    );
    // A token's readable names only: pull on second/auto does not reach dh.
    let third = b"third layer";
    let td = sha256(third);
    push_blob(&s, "dh/app", &td, third).await;
    let t = token(&s, "repository:second/auto:pull,push").await;
    let r = s
        .client()
        .post(s.at(&format!("/v2/second/auto/blobs/uploads/?mount={td}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let t = token(
        &s,
        "repository:second/auto:pull,push repository:dh/app:pull",
    )
    .await;
    let r = s
        .client()
        .post(s.at(&format!("/v2/second/auto/blobs/uploads/?mount={td}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` tags the manifest with each, answering
/// one `OCI-Tag` header per tag; a bad tag refuses the whole push.
async fn tag_params(b: Backend) {
    let s = TestServer::start(b).await;
    hosted(&s, "dh").await;
    let (bytes, d) = push_image(&s, "dh/app", "tags").await;
    let r = reg(
        &s,
        PUT,
        &format!("dh/app/manifests/{d}?tag=v1&tag=latest&tag=v1.0"),
    )
    .header("content-type", OCI_MANIFEST)
    .body(bytes.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    let tags: Vec<&str> = r
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1", "latest", "v1.0"]);
    for t in ["v1", "latest", "v1.0"] {
        let r = reg(&s, GET, &format!("dh/app/manifests/{t}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{t}");
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let r = reg(&s, GET, "dh/app/tags/list").send().await.unwrap();
    assert_eq!(json(r).await["tags"], json!(["latest", "v1", "v1.0"]));
    let r = reg(&s, PUT, &format!("dh/app/manifests/{d}?tag=ok&tag=-bad"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "TAG_INVALID");
    let r = reg(&s, GET, "dh/app/manifests/ok").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

/// A range past a blob's end, reversed or malformed, is a 416 with `Content-Range: bytes */<size>`
/// in the OCI error shape; blobs and manifests carry the quoted digest as their ETag and answer
/// `If-None-Match` with it by 304.
async fn ranges_and_etags(b: Backend) {
    let s = TestServer::start(b).await;
    hosted(&s, "dh").await;
    let data = b"0123456789";
    let d = sha256(data);
    push_blob(&s, "dh/app", &d, data).await;
    let blob = format!("dh/app/blobs/{d}");
    for range in [
        "bytes=10-",
        "bytes=100-200",
        "bytes=-0",
        "bytes=5-1",
        "bytes=a-b",
    ] {
        let r = reg(&s, GET, &blob)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(r.headers()["content-range"], "bytes */10", "{range}");
        assert!(!code(r).await.is_empty(), "{range}");
    }
    let r = reg(&s, GET, &blob)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"234");
    // Several ranges, or another unit: the whole blob.
    for range in ["bytes=0-1,3-4", "items=0-1"] {
        let r = reg(&s, GET, &blob)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{range}");
    }
    let r = reg(&s, GET, &blob).send().await.unwrap();
    assert_eq!(r.headers()["etag"], format!("\"{d}\"").as_str());
    let r = reg(&s, GET, &blob)
        .header("if-none-match", format!("\"{d}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let (_, md) = push_image(&s, "dh/app", "etag").await;
    for m in [GET, reqwest::Method::HEAD] {
        let r = reg(&s, m, &format!("dh/app/manifests/{md}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["etag"], format!("\"{md}\"").as_str());
    }
    let r = reg(&s, GET, &format!("dh/app/manifests/{md}"))
        .header("if-none-match", format!("\"{md}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

/// `sha512:` digests for blobs (monolithic, chunked, streamed, mounted, deleted), manifests
/// (pushed by digest, tagged, listed as referrers) and the checks on them; content named by
/// its SHA-512 stays apart from the same content named by its SHA-256.
async fn sha512_digests(b: Backend) {
    let s = TestServer::start(b).await;
    sha512_in(&s, "default").await;
}

/// The same on an S3 blob store (its resumable uploads commit through another path); needs the
/// test S3 server (`ARCA_TEST_S3`, started by scripts/test.sh).
async fn sha512_on_s3(b: Backend) {
    let Some(mut cfg) = arca_testkit::s3_config_from_env() else {
        return;
    };
    let s = TestServer::start(b).await;
    cfg["bucket"]["prefix"] = json!(format!("oci-{}", std::process::id()));
    let (st, text) = crate::rest(
        &s,
        POST,
        "/blobstores/s3",
        json!({"name": "s3-oci", "bucketConfiguration": cfg}),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    sha512_in(&s, "s3-oci").await;
}

async fn sha512_in(s: &TestServer, store: &str) {
    hosted_in(s, "dh", store).await;
    hosted_in(s, "second", store).await;
    let config = br#"{"os":"linux","sha":"512"}"#;
    let layer = b"a layer named by its sha512".repeat(40);
    let (c, l) = (sha512(config), sha512(&layer));
    push_blob(s, "dh/app", &c, config).await;
    // Chunked: POST, two PATCHes, PUT with the digest.
    let r = reg(s, POST, "dh/app/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let mut at = r.headers()["location"].to_str().unwrap().to_owned();
    let (first, second) = layer.split_at(100);
    for (start, part) in [(0, first), (100, second)] {
        let r = s
            .admin(reqwest::Method::PATCH, &at)
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .body(part.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    let sep = if at.contains('?') { '&' } else { '?' };
    let r = s
        .admin(PUT, &format!("{at}{sep}digest={l}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["docker-content-digest"], l.as_str());
    for m in [GET, reqwest::Method::HEAD] {
        let r = reg(s, m.clone(), &format!("dh/app/blobs/{l}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{m}");
        assert_eq!(r.headers()["docker-content-digest"], l.as_str());
        assert_eq!(r.headers()["etag"], format!("\"{l}\"").as_str());
        assert_eq!(
            r.headers()["content-length"],
            layer.len().to_string().as_str()
        );
        if m == GET {
            assert_eq!(r.bytes().await.unwrap().as_ref(), layer.as_slice());
        }
    }
    // Apart from the same content under its SHA-256.
    let r = reg(s, GET, &format!("dh/app/blobs/{}", sha256(&layer)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Wrong content for the digest, monolithic and chunked: refused, nothing recorded.
    let wrong = sha512(b"other bytes");
    let r = reg(s, POST, &format!("dh/app/blobs/uploads/?digest={wrong}"))
        .body("not those")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");
    let r = reg(s, POST, "dh/app/blobs/uploads/").send().await.unwrap();
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    let sep = if at.contains('?') { '&' } else { '?' };
    let r = s
        .admin(PUT, &format!("{at}{sep}digest={wrong}"))
        .body("not those either")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");
    let r = reg(s, GET, &format!("dh/app/blobs/{wrong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(code(r).await, "BLOB_UNKNOWN");
    // A manifest pushed by its SHA-512 digest with tags, read back by digest and tag.
    let bytes = manifest((&c, config.len()), (&l, layer.len()), None);
    let md = sha512(&bytes);
    let r = reg(s, PUT, &format!("dh/app/manifests/{md}?tag=five-twelve"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["docker-content-digest"], md.as_str());
    assert_eq!(
        r.headers()["location"],
        format!("/v2/dh/app/manifests/{md}").as_str()
    );
    for reference in [md.as_str(), "five-twelve"] {
        let r = reg(s, GET, &format!("dh/app/manifests/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{reference}");
        assert_eq!(r.headers()["docker-content-digest"], md.as_str());
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    // The SHA-512 of other bytes is refused.
    let r = reg(s, PUT, &format!("dh/app/manifests/{wrong}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");
    // A referrer of the SHA-512 manifest, itself named by its SHA-512.
    let sbom = manifest(
        (&c, config.len()),
        (&l, layer.len()),
        Some((&md, bytes.len())),
    );
    let sd = sha512(&sbom);
    let r = reg(s, PUT, &format!("dh/app/manifests/{sd}"))
        .header("content-type", OCI_MANIFEST)
        .body(sbom.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["oci-subject"], md.as_str());
    let r = reg(s, GET, &format!("dh/app/referrers/{md}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let v: Value = json(r).await;
    assert_eq!(v["manifests"][0]["digest"], json!(sd));
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    // Mounted into another repository by its SHA-512.
    let r = reg(
        s,
        POST,
        &format!("second/app/blobs/uploads/?mount={l}&from=dh/app"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = reg(s, GET, &format!("second/app/blobs/{l}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), layer.as_slice());
    // Deletes by SHA-512: the manifest and its tag, then the blob.
    let r = reg(s, DELETE, &format!("dh/app/manifests/{md}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    for reference in [md.as_str(), "five-twelve"] {
        let r = reg(s, GET, &format!("dh/app/manifests/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{reference}");
    }
    let r = reg(s, DELETE, &format!("dh/app/blobs/{c}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = reg(s, GET, &format!("dh/app/blobs/{c}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

both_backends!(
    malformed_references,
    mounts,
    tag_params,
    ranges_and_etags,
    sha512_digests,
    sha512_on_s3
);
