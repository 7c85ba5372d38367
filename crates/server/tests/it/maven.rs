//! The maven2 format over HTTP: policies, checksums, metadata upkeep, proxy and group.

use arca_testkit::{Backend, TestServer, Upstream, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT};

const JAR: &str = "org/ex/lib/1.0/lib-1.0.jar";

async fn create(s: &TestServer, kind: &str, body: Value) {
    let r = s
        .admin(POST, &format!("/service/rest/v1/repositories/maven/{kind}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn hosted(name: &str, version_policy: &str, layout: &str, write: &str) -> Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": write},
           "maven": {"versionPolicy": version_policy, "layoutPolicy": layout}})
}

fn proxy(name: &str, remote: &str, metadata_max_age: i64) -> Value {
    json!({"name": name, "online": true, "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
           "proxy": {"remoteUrl": remote, "contentMaxAge": -1, "metadataMaxAge": metadata_max_age},
           "negativeCache": {"enabled": true, "timeToLive": 1440}, "httpClient": {"blocked": false, "autoBlock": true},
           "maven": {"versionPolicy": "MIXED", "layoutPolicy": "PERMISSIVE"}})
}

async fn put(
    s: &TestServer,
    repo: &str,
    path: &str,
    body: impl Into<arca_testkit::reqwest::Body>,
) -> (u16, String) {
    let r = s
        .admin(PUT, &format!("/repository/{repo}/{path}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(s: &TestServer, repo: &str, path: &str) -> (u16, String) {
    let r = s
        .admin(GET, &format!("/repository/{repo}/{path}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn hosted_policies(b: Backend) {
    let s = TestServer::start(b).await;
    // The maven block is required and checked.
    let mut bad = hosted("x", "SOMETIMES", "STRICT", "ALLOW");
    let r = s
        .admin(POST, "/service/rest/v1/repositories/maven/hosted")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("maven.versionPolicy"));
    bad.as_object_mut().unwrap().remove("maven");
    assert_eq!(
        s.admin(POST, "/service/rest/v1/repositories/maven/hosted")
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    create(
        &s,
        "hosted",
        hosted("rel", "RELEASE", "STRICT", "ALLOW_ONCE"),
    )
    .await;
    create(&s, "hosted", hosted("snap", "SNAPSHOT", "STRICT", "ALLOW")).await;
    create(
        &s,
        "hosted",
        hosted("loose", "MIXED", "PERMISSIVE", "ALLOW"),
    )
    .await;
    create(&s, "hosted", hosted("frozen", "MIXED", "STRICT", "DENY")).await;
    let cfg = crate::json(
        s.admin(GET, "/service/rest/v1/repositories/maven/hosted/rel")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cfg["format"], "maven2");
    assert_eq!(cfg["maven"]["versionPolicy"], "RELEASE");

    assert_eq!(put(&s, "rel", JAR, "jar-bytes").await.0, 201);
    assert_eq!(
        put(&s, "rel", "org/ex/lib/1.0/lib-1.0.pom", "<project/>")
            .await
            .0,
        201
    );
    // Redeploy refused under ALLOW_ONCE; the content is unchanged.
    let (st, msg) = put(&s, "rel", JAR, "other").await;
    assert_eq!(st, 400);
    assert!(msg.contains("does not allow redeploying"), "{msg}");
    assert_eq!(get(&s, "rel", JAR).await.1, "jar-bytes");
    // Version policies both ways; layout; DENY.
    assert_eq!(
        put(
            &s,
            "rel",
            "org/ex/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar",
            "x"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        put(&s, "snap", "org/ex/lib/2.0/lib-2.0.jar", "x").await.0,
        400
    );
    let (st, msg) = put(&s, "rel", "not/a/maven-path.txt", "x").await;
    assert_eq!(st, 400);
    assert!(msg.contains("STRICT"), "{msg}");
    assert_eq!(put(&s, "loose", "not/a/maven-path.txt", "x").await.0, 201);
    assert_eq!(put(&s, "frozen", JAR, "x").await.0, 400);

    // Checksums: answered for every file; an uploaded one must agree with the content.
    let sha1 = "81e3ed2f4b4d0d8f0b8a5bfdc4b14e1a7ad1b65b"; // wrong on purpose
    let (st, msg) = put(&s, "rel", &format!("{JAR}.sha1"), sha1).await;
    assert_eq!(st, 400);
    assert!(msg.contains("checksum mismatch"), "{msg}");
    let real_sha1 = get(&s, "rel", &format!("{JAR}.sha1")).await.1;
    assert_eq!(
        real_sha1, "04e2ebe8b7b182c63c2834f4984aae2901150df1",
        "sha1(\"jar-bytes\") per python hashlib"
    );
    assert_eq!(
        put(
            &s,
            "rel",
            &format!("{JAR}.sha1"),
            format!("{real_sha1}  lib-1.0.jar")
        )
        .await
        .0,
        201
    );
    for (suffix, len) in [(".md5", 32), (".sha256", 64), (".sha512", 128)] {
        let (st, sum) = get(&s, "rel", &format!("{JAR}{suffix}")).await;
        assert_eq!((st, sum.len()), (200, len), "{suffix}");
    }
    assert_eq!(
        put(
            &s,
            "rel",
            "org/ex/lib/9.9/lib-9.9.jar.sha1",
            real_sha1.clone()
        )
        .await
        .0,
        400,
        "no such file"
    );

    // Malformed metadata is refused; well-formed client metadata is replaced by ours.
    assert_eq!(
        put(
            &s,
            "rel",
            "org/ex/lib/maven-metadata.xml",
            "<metadata><oops>"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        put(
            &s,
            "rel",
            "org/ex/lib/maven-metadata.xml",
            "<metadata><groupId>org.ex</groupId></metadata>"
        )
        .await
        .0,
        201
    );
    let meta = get(&s, "rel", "org/ex/lib/maven-metadata.xml").await.1;
    assert!(
        meta.contains("<release>1.0</release>") && meta.contains("<version>1.0</version>"),
        "{meta}"
    );

    // Metadata follows deploys and deletes.
    assert_eq!(
        put(&s, "rel", "org/ex/lib/1.10/lib-1.10.jar", "j").await.0,
        201
    );
    assert_eq!(
        put(&s, "rel", "org/ex/lib/1.9/lib-1.9.jar", "j").await.0,
        201
    );
    let meta = get(&s, "rel", "org/ex/lib/maven-metadata.xml").await.1;
    assert!(
        meta.contains("<latest>1.10</latest>") && meta.contains("<release>1.10</release>"),
        "{meta}"
    );
    let order: Vec<&str> = meta
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("<version>")?
                .strip_suffix("</version>")
        })
        .collect();
    assert_eq!(order, ["1.0", "1.9", "1.10"]);
    assert_eq!(
        s.admin(DELETE, "/repository/rel/org/ex/lib/1.10/lib-1.10.jar")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let meta = get(&s, "rel", "org/ex/lib/maven-metadata.xml").await.1;
    assert!(
        meta.contains("<release>1.9</release>") && !meta.contains("1.10"),
        "{meta}"
    );
    for p in [
        JAR,
        "org/ex/lib/1.0/lib-1.0.pom",
        "org/ex/lib/1.9/lib-1.9.jar",
    ] {
        assert_eq!(
            s.admin(DELETE, &format!("/repository/rel/{p}"))
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
    }
    assert_eq!(
        get(&s, "rel", "org/ex/lib/maven-metadata.xml").await.0,
        404,
        "no versions, no metadata"
    );

    // Timestamped SNAPSHOTs: version-level metadata names the newest build per file kind.
    for (ts, n) in [("20260101.120000", 1), ("20260102.130000", 2)] {
        for ext in ["jar", "pom"] {
            let p = format!("org/ex/lib/2.0-SNAPSHOT/lib-2.0-{ts}-{n}.{ext}");
            assert_eq!(put(&s, "snap", &p, "s").await.0, 201);
        }
    }
    let v = get(&s, "snap", "org/ex/lib/2.0-SNAPSHOT/maven-metadata.xml")
        .await
        .1;
    assert!(
        v.contains("<timestamp>20260102.130000</timestamp>")
            && v.contains("<buildNumber>2</buildNumber>"),
        "{v}"
    );
    assert!(
        v.contains("<value>2.0-20260102.130000-2</value>")
            && v.contains("<extension>pom</extension>"),
        "{v}"
    );
    let a = get(&s, "snap", "org/ex/lib/maven-metadata.xml").await.1;
    assert!(
        a.contains("<latest>2.0-SNAPSHOT</latest>") && !a.contains("<release>"),
        "{a}"
    );
}

async fn proxy_and_group(b: Backend) {
    let mut up = Upstream::start();
    let jar = vec![7u8; 100_000];
    up.put("org/up/dep/1.0/dep-1.0.jar", jar.clone());
    let sha1 = "081fcca7870255316f7eb2c9b31184d5156c0b1f"; // of 100,000 × 0x07, per python hashlib
    up.put(
        "org/up/dep/1.0/dep-1.0.jar.sha1",
        format!("{sha1}  dep-1.0.jar"),
    );
    up.put("org/up/bad/1.0/bad-1.0.jar", "tampered");
    up.put(
        "org/up/bad/1.0/bad-1.0.jar.sha1",
        "0000000000000000000000000000000000000000",
    );
    up.put("org/up/dep/maven-metadata.xml",
        "<metadata><groupId>org.up</groupId><artifactId>dep</artifactId><versioning><latest>1.0</latest><release>1.0</release><versions><version>1.0</version></versions><lastUpdated>20260101000000</lastUpdated></versioning></metadata>");

    let s = TestServer::start(b).await;
    create(&s, "proxy", proxy("central", &up.url, 0)).await;
    create(&s, "hosted", hosted("local", "MIXED", "STRICT", "ALLOW")).await;
    create(
        &s,
        "group",
        json!({"name": "public", "online": true, "storage": {"blobStoreName": "default"},
                               "group": {"memberNames": ["local", "central"]}}),
    )
    .await;

    // 50 concurrent misses: one upstream fetch of the jar.
    up.delay(150);
    let gets = (0..50).map(|_| {
        s.admin(GET, "/repository/central/org/up/dep/1.0/dep-1.0.jar")
            .send()
    });
    for r in futures_util::future::join_all(gets).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 100_000);
    }
    up.delay(0);
    assert_eq!(up.hits("org/up/dep/1.0/dep-1.0.jar"), 1);
    // Its SHA-1 is asked once too: within the single flight, once the content is in.
    assert_eq!(up.hits("org/up/dep/1.0/dep-1.0.jar.sha1"), 1);
    assert_eq!(
        get(&s, "central", "org/up/dep/1.0/dep-1.0.jar.sha1")
            .await
            .1,
        sha1
    );

    // An upstream checksum that disagrees: 502, nothing cached.
    let (st, msg) = get(&s, "central", "org/up/bad/1.0/bad-1.0.jar").await;
    assert_eq!(st, 502, "{msg}");
    assert!(msg.contains("does not match"), "{msg}");
    assert!(
        !get(&s, "central", "").await.1.contains("org/up/bad/"),
        "nothing cached"
    );

    // metadataMaxAge 0: metadata is revalidated on every read; artifacts are not.
    get(&s, "central", "org/up/dep/maven-metadata.xml").await;
    get(&s, "central", "org/up/dep/maven-metadata.xml").await;
    assert_eq!(up.hits("org/up/dep/maven-metadata.xml"), 2);
    get(&s, "central", "org/up/dep/1.0/dep-1.0.jar").await;
    assert_eq!(up.hits("org/up/dep/1.0/dep-1.0.jar"), 1);

    // 404s are negative-cached.
    assert_eq!(
        get(&s, "central", "org/up/none/1.0/none-1.0.jar").await.0,
        404
    );
    assert_eq!(
        get(&s, "central", "org/up/none/1.0/none-1.0.jar").await.0,
        404
    );
    assert_eq!(up.hits("org/up/none/1.0/none-1.0.jar"), 1);

    // Group: hosted first; artifact metadata merged with the proxy's.
    assert_eq!(
        put(&s, "local", "org/up/dep/2.0/dep-2.0.jar", "local two")
            .await
            .0,
        201
    );
    let merged = get(&s, "public", "org/up/dep/maven-metadata.xml").await.1;
    assert!(
        merged.contains("<version>1.0</version>") && merged.contains("<version>2.0</version>"),
        "{merged}"
    );
    assert!(merged.contains("<release>2.0</release>"), "{merged}");
    let merged_sha1 = get(&s, "public", "org/up/dep/maven-metadata.xml.sha1")
        .await
        .1;
    let local_sha1 = get(&s, "local", "org/up/dep/maven-metadata.xml.sha1")
        .await
        .1;
    assert_eq!(merged_sha1.len(), 40);
    assert_ne!(
        merged_sha1, local_sha1,
        "the group's checksum is of the merged file"
    );
    assert_eq!(
        get(&s, "public", "org/up/dep/2.0/dep-2.0.jar").await.1,
        "local two"
    );
    assert_eq!(get(&s, "public", "org/up/dep/1.0/dep-1.0.jar").await.0, 200);

    // Upstream down: cached content still served; uncached is a 502 with a message.
    up.stop().await;
    assert_eq!(get(&s, "public", "org/up/dep/1.0/dep-1.0.jar").await.0, 200);
    assert_eq!(
        get(&s, "central", "org/up/dep/maven-metadata.xml").await.0,
        200,
        "stale metadata beats an error"
    );
    let (st, msg) = get(&s, "central", "org/up/other/1.0/other-1.0.jar").await;
    assert_eq!(st, 502);
    assert!(msg.contains("could not be reached"), "{msg}");
    // Browsing the group lists both members' content.
    let html = get(&s, "public", "org/up/dep/").await.1;
    assert!(html.contains("1.0/") && html.contains("2.0/"), "{html}");
}

both_backends!(hosted_policies, proxy_and_group);

/// The asset page's snippets come from the format (`Format::usage`): a Maven jar shows its
/// dependency for Maven and Gradle, and core's plain download.
#[tokio::test]
async fn asset_page_shows_the_formats_snippets() {
    let s = TestServer::start(Backend::Sqlite).await;
    create(&s, "hosted", hosted("rel", "RELEASE", "STRICT", "ALLOW")).await;
    assert_eq!(put(&s, "rel", JAR, "jar bytes").await.0, 201);
    let found: Value = s
        .admin(
            GET,
            "/service/rest/v1/search/assets?repository=rel&maven.extension=jar",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["items"][0]["id"].as_str().expect("the jar is found");
    let r = s
        .admin(GET, &format!("/ui/assets/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for want in [
        "Maven dependency",
        "&#60;artifactId&#62;lib&#60;/artifactId&#62;",
        "org.ex:lib:1.0",
        &format!("curl -fLO {}/repository/rel/{JAR}", s.url),
    ] {
        assert!(
            html.contains(want),
            "{want} missing from the asset page: {html}"
        );
    }
}

/// A proxied artifact not cached yet streams to the client (first bytes before the remote's
/// last), is checked against the remote's SHA-1 before it is kept, and a large one failing
/// that check never arrives whole and is not kept.
#[tokio::test]
async fn proxied_artifacts_stream_and_are_checked() {
    use sha1::Digest as _;
    let mut up = Upstream::start();
    let jar: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    up.put("org/big/lib/1.0/lib-1.0.jar", jar.clone());
    up.put(
        "org/big/lib/1.0/lib-1.0.jar.sha1",
        hex::encode(sha1::Sha1::digest(&jar)),
    );
    up.put("org/big/bad/1.0/bad-1.0.jar", jar.clone());
    up.put(
        "org/big/bad/1.0/bad-1.0.jar.sha1",
        "0000000000000000000000000000000000000000",
    );
    up.trickle(1500);
    let s = TestServer::start(Backend::Sqlite).await;
    create(&s, "proxy", proxy("far", &up.url, 0)).await;
    let t0 = std::time::Instant::now();
    let mut r = s
        .admin(GET, "/repository/far/org/big/lib/1.0/lib-1.0.jar")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = r.chunk().await.unwrap().expect("a first chunk").to_vec();
    let first = t0.elapsed();
    while let Some(c) = r.chunk().await.unwrap() {
        got.extend_from_slice(&c);
    }
    assert!(got == jar, "the streamed jar is the remote's");
    assert!(
        first < std::time::Duration::from_millis(1000),
        "first byte after {first:?}: not streamed"
    );
    up.stop().await;
    assert_eq!(
        get(&s, "far", "org/big/lib/1.0/lib-1.0.jar").await.0,
        200,
        "kept"
    );
    // Failing the remote's SHA-1: cut short, and not kept.
    let mut up = Upstream::start();
    up.put("org/big/bad/1.0/bad-1.0.jar", jar.clone());
    up.put(
        "org/big/bad/1.0/bad-1.0.jar.sha1",
        "0000000000000000000000000000000000000000",
    );
    let body = json!({"name": "far2", "online": true, "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
           "proxy": {"remoteUrl": up.url, "contentMaxAge": -1, "metadataMaxAge": 0},
           "negativeCache": {"enabled": false, "timeToLive": 1440}, "httpClient": {"blocked": false, "autoBlock": true},
           "maven": {"versionPolicy": "MIXED", "layoutPolicy": "PERMISSIVE"}});
    create(&s, "proxy", body).await;
    for round in 1..=2 {
        let r = s
            .admin(GET, "/repository/far2/org/big/bad/1.0/bad-1.0.jar")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "streamed");
        let got = r.bytes().await;
        assert!(
            got.as_ref().map_or(true, |b| b.len() < jar.len()),
            "round {round}: a jar failing its SHA-1 arrived whole"
        );
        assert_eq!(up.hits("org/big/bad/1.0/bad-1.0.jar"), round, "not kept");
    }
    up.stop().await;
}
