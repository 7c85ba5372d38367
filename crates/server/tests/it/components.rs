//! `components` and `assets`: pagination with continuation tokens (nothing skipped, nothing
//! twice), get, delete (format metadata kept in step), ids, permissions.

use std::collections::HashSet;

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, Part, json, multipart};

/// Every item of a paged listing, following `continuationToken`.
async fn all_pages(s: &TestServer, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let url = match &token {
            Some(t) => format!("{path}&continuationToken={t}"),
            None => path.to_owned(),
        };
        let v = json(s.admin(GET, &url).send().await.unwrap()).await;
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
    panic!("pagination does not end");
}

async fn listing_and_deletes(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let n = 230;
    let puts = futures_util::future::join_all((0..n).map(|i| {
        let s = &s;
        async move {
            s.admin(PUT, &format!("/repository/files/dir{}/f{i:04}.txt", i % 7))
                .body(format!("content {i}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    }));
    assert!(puts.await.iter().all(|st| st.is_success()));
    let comps = all_pages(&s, "/service/rest/v1/components?repository=files").await;
    assert_eq!(comps.len(), n);
    let ids: HashSet<&str> = comps.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), n, "nothing twice");
    let names: HashSet<&str> = comps.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), n, "nothing skipped");
    let assets = all_pages(&s, "/service/rest/v1/assets?repository=files").await;
    assert_eq!(assets.len(), n);
    let a = assets
        .iter()
        .find(|a| a["path"] == "dir3/f0003.txt")
        .unwrap();
    assert_eq!(a["format"], "raw");
    assert_eq!(a["fileSize"], 9);
    assert!(
        a["downloadUrl"]
            .as_str()
            .unwrap()
            .ends_with("/repository/files/dir3/f0003.txt")
    );
    assert_eq!(a["checksum"]["sha256"].as_str().unwrap().len(), 64);
    // Get and delete by id.
    let id = a["id"].as_str().unwrap();
    let one = json(
        s.admin(GET, &format!("/service/rest/v1/assets/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["path"], "dir3/f0003.txt");
    assert_eq!(
        s.admin(DELETE, &format!("/service/rest/v1/assets/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(GET, "/repository/files/dir3/f0003.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.admin(GET, &format!("/service/rest/v1/assets/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let c = comps
        .iter()
        .find(|c| c["name"].as_str().unwrap().ends_with("f0004.txt"))
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let one = json(
        s.admin(GET, &format!("/service/rest/v1/components/{cid}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["assets"][0]["path"], "dir4/f0004.txt");
    assert_eq!(
        s.admin(DELETE, &format!("/service/rest/v1/components/{cid}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(GET, "/repository/files/dir4/f0004.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        all_pages(&s, "/service/rest/v1/components?repository=files")
            .await
            .len(),
        n - 2
    );
    // Bad requests.
    assert_eq!(
        s.admin(GET, "/service/rest/v1/components")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(GET, "/service/rest/v1/components?repository=nope")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.admin(GET, "/service/rest/v1/components/not-an-id")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(
            GET,
            "/service/rest/v1/components?repository=files&continuationToken=%21"
        )
        .send()
        .await
        .unwrap()
        .status(),
        400
    );
    // A component id names its repository: an asset id is no component id.
    assert_eq!(
        s.admin(GET, &format!("/service/rest/v1/components/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let anon = s
        .client()
        .get(s.at("/service/rest/v1/components?repository=files"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

/// Deleting through the REST API keeps Maven metadata and yum repodata in step.
async fn format_metadata_after_delete(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.admin(POST, "/service/rest/v1/repositories/maven/hosted")
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                      "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    for v in ["1.0", "2.0"] {
        let p = format!("/repository/mvn/org/example/lib/{v}/lib-{v}.jar");
        assert_eq!(
            s.admin(PUT, &p)
                .body(format!("jar {v}"))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let meta = s
        .admin(GET, "/repository/mvn/org/example/lib/maven-metadata.xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(meta.contains("<version>2.0</version>"), "{meta}");
    let comps = all_pages(&s, "/service/rest/v1/components?repository=mvn").await;
    let two = comps.iter().find(|c| c["version"] == "2.0").unwrap();
    assert_eq!(two["group"], "org.example");
    assert_eq!(
        s.admin(
            DELETE,
            &format!(
                "/service/rest/v1/components/{}",
                two["id"].as_str().unwrap()
            )
        )
        .send()
        .await
        .unwrap()
        .status(),
        204
    );
    let meta = s
        .admin(GET, "/repository/mvn/org/example/lib/maven-metadata.xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !meta.contains("<version>2.0</version>") && meta.contains("<release>1.0</release>"),
        "{meta}"
    );
}

async fn search(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let r = s.admin(POST, "/service/rest/v1/repositories/maven/hosted")
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                      "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    for (g, a, v) in [
        ("org.example", "lib", "1.0"),
        ("org.example", "lib", "2.0"),
        ("com.acme", "tool", "1.0"),
    ] {
        let p = format!(
            "/repository/mvn/{}/{a}/{v}/{a}-{v}.jar",
            g.replace('.', "/")
        );
        assert_eq!(
            s.admin(PUT, &p)
                .body(format!("{g}:{a}:{v}"))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    for i in 0..60 {
        s.admin(PUT, &format!("/repository/files/docs/page{i:02}.html"))
            .body(format!("page {i}"))
            .send()
            .await
            .unwrap();
    }
    let s = &s;
    let find = |q: &str| {
        let url = format!("/service/rest/v1/search?{q}");
        async move { json(s.admin(GET, &url).send().await.unwrap()).await }
    };
    let v = find("maven.groupId=org.example&maven.artifactId=lib").await;
    let versions: HashSet<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, HashSet::from(["1.0", "2.0"]));
    assert!(
        v["items"][0]["assets"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with(".jar")
    );
    let v = find("format=maven2&name=TOO*").await;
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        1,
        "wildcards, any case"
    );
    let v = find("q=acme").await;
    assert_eq!(v["items"][0]["group"], "com.acme");
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"org.example:lib:2.0"))
    };
    let v = find(&format!("sha256={sha}")).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["version"], "2.0");
    let assets = json(
        s.admin(GET, &format!("/service/rest/v1/search/assets?sha256={sha}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(assets["items"].as_array().unwrap().len(), 1);
    assert_eq!(assets["items"][0]["checksum"]["sha256"], sha.as_str());
    let r = s
        .client()
        .get(s.at(&format!(
            "/service/rest/v1/search/assets/download?sha256={sha}"
        )))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the redirect leads to the jar");
    assert_eq!(r.text().await.unwrap(), "org.example:lib:2.0");
    let r = s
        .admin(
            GET,
            "/service/rest/v1/search/assets/download?format=maven2&name=lib",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "two matches");
    assert_eq!(
        s.admin(
            GET,
            "/service/rest/v1/search/assets/download?name=nothing-like-it"
        )
        .send()
        .await
        .unwrap()
        .status(),
        404
    );
    // Pages of 50 with a continuation token.
    let v = find("repository=files").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 50);
    let t = v["continuationToken"].as_str().unwrap().to_owned();
    let v2 = find(&format!("repository=files&continuationToken={t}")).await;
    assert_eq!(v2["items"].as_array().unwrap().len(), 10);
    assert!(v2["continuationToken"].is_null());
    // Only what the caller may see.
    let anon = s
        .client()
        .get(s.at("/service/rest/v1/search?q=lib"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(anon).await["items"], json!([]));
    assert_eq!(
        s.admin(GET, "/service/rest/v1/search?sha1=xyz")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

/// Nexus's raw upload form: several files, names from `raw.assetN.filename` (which may come
/// after the file), all or nothing.
async fn raw_upload_form(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW_ONCE").await;
    let send = |parts: Vec<Part>| {
        let (content_type, body) = multipart(&parts);
        s.admin(POST, "/service/rest/v1/components?repository=files")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = send(vec![
        ("raw.asset1", Some("local-a.txt"), b"alpha"),
        ("raw.asset2", Some("b.txt"), b"beta"),
        ("raw.directory", None, b"/docs/v1/"),
        ("raw.asset1.filename", None, b"a.txt"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(
        s.admin(GET, "/repository/files/docs/v1/a.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "alpha"
    );
    assert_eq!(
        s.admin(GET, "/repository/files/docs/v1/b.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "beta"
    );
    // ALLOW_ONCE: one existing target refuses the whole upload; the new file is not kept.
    let r = send(vec![
        ("raw.directory", None, b"docs/v1"),
        ("raw.asset1", Some("c.txt"), b"gamma"),
        ("raw.asset2", Some("a.txt"), b"again"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.admin(GET, "/repository/files/docs/v1/c.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = send(vec![("raw.asset1", Some("x.txt"), b"x")])
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "raw.directory is required");
    let r = send(vec![
        ("raw.directory", None, b"d"),
        ("raw.asset1", Some("../x"), b"x"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "path traversal");
    let specs = json(
        s.admin(GET, "/service/rest/v1/formats/raw/upload-specs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(specs["multipleUpload"], true);
}

/// Nexus's PyPI form: one `pypi.asset`, checked like a twine upload.
async fn pypi_upload_form(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.admin(POST, "/service/rest/v1/repositories/pypi/hosted")
        .json(&json!({"name": "py", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW_ONCE"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    let send = |file: &'static str, data: &'static [u8]| {
        let (content_type, body) = multipart(&[("pypi.asset", Some(file), data)]);
        s.admin(POST, "/service/rest/v1/components?repository=py")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(
        send("demo-2.0.tar.gz", b"an sdist").await.unwrap().status(),
        204
    );
    let page = s
        .admin(GET, "/repository/py/simple/demo/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("demo-2.0.tar.gz"), "{page}");
    assert_eq!(
        send("demo-2.0.tar.gz", b"an sdist").await.unwrap().status(),
        400,
        "ALLOW_ONCE"
    );
    assert_eq!(send("not a dist.exe", b"x").await.unwrap().status(), 400);
}

/// Nexus's Maven form: coordinates, several files with extension and classifier, a generated
/// pom, metadata rebuilt; all or nothing.
async fn maven_upload_form(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.admin(POST, "/service/rest/v1/repositories/maven/hosted")
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW_ONCE"},
                      "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    let send = |parts: Vec<Part>| {
        let (content_type, body) = multipart(&parts);
        s.admin(POST, "/service/rest/v1/components?repository=mvn")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let coords: Vec<Part> = vec![
        ("maven2.groupId", None, b"org.example"),
        ("maven2.artifactId", None, b"tool"),
        ("maven2.version", None, b"3.1"),
        ("maven2.generate-pom", None, b"true"),
        ("maven2.packaging", None, b"jar"),
    ];
    let mut parts = coords.clone();
    parts.extend([
        ("maven2.asset1", Some("tool.jar"), &b"the jar"[..]),
        ("maven2.asset1.extension", None, &b"jar"[..]),
        ("maven2.asset2", Some("src.jar"), &b"the sources"[..]),
        ("maven2.asset2.extension", None, &b"jar"[..]),
        ("maven2.asset2.classifier", None, &b"sources"[..]),
    ]);
    let r = send(parts.clone()).await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let s = &s;
    let get = |p: &str| {
        let url = format!("/repository/mvn/org/example/tool/{p}");
        async move {
            s.admin(GET, &url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("3.1/tool-3.1.jar").await, "the jar");
    assert_eq!(get("3.1/tool-3.1-sources.jar").await, "the sources");
    let pom = get("3.1/tool-3.1.pom").await;
    assert!(
        pom.contains("<artifactId>tool</artifactId>") && pom.contains("<packaging>jar</packaging>"),
        "{pom}"
    );
    assert!(
        get("maven-metadata.xml")
            .await
            .contains("<release>3.1</release>")
    );
    // ALLOW_ONCE: again is refused, nothing half-stored.
    assert_eq!(send(parts).await.unwrap().status(), 400);
    let mut no_ext = coords.clone();
    no_ext.push(("maven2.asset1", Some("x.jar"), b"x"));
    assert_eq!(send(no_ext).await.unwrap().status(), 400);
    let mut snap = coords.clone();
    snap[2] = ("maven2.version", None, b"4.0-SNAPSHOT");
    snap.extend([
        ("maven2.asset1", Some("x.jar"), &b"x"[..]),
        ("maven2.asset1.extension", None, &b"jar"[..]),
    ]);
    assert_eq!(
        send(snap).await.unwrap().status(),
        400,
        "a release repository"
    );
}

/// Ten thousand components, recorded straight into the metadata store (uploading each through
/// HTTP would only time the upload path), paged through `components`, `assets`, `search` and
/// `search/assets`; a component deleted half-way through is either seen once or never,
/// depending on where it was, and every other one exactly once.
async fn ten_thousand(b: Backend) {
    use arca_core::meta::{Db, NewAsset, NewComponent};
    use futures_util::StreamExt;
    const N: usize = 10_000;
    let s = TestServer::start(b).await;
    s.create_raw_hosted("bulk", "ALLOW").await;
    let db = Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    let repo = db.get_repository("bulk").await.unwrap();
    let digest = "0".repeat(64);
    let started = std::time::Instant::now();
    futures_util::stream::iter(0..N)
        .map(|i| {
            let db = &db;
            let a = NewAsset {
                repository_id: repo.id,
                path: format!("bulk/f{i:05}.txt"),
                blob_store: "default".into(),
                blob_digest: digest.clone(),
                size: 1,
                content_type: "text/plain".into(),
                checksums: arca_core::model::Checksums {
                    sha256: digest.clone(),
                    sha1: "0".repeat(40),
                    md5: "0".repeat(32),
                    sha512: String::new(),
                },
                uploader: None,
                uploader_ip: None,
                attrs: json!({}),
                held: false,
                component: Some(NewComponent {
                    namespace: "/bulk".into(),
                    name: format!("bulk/f{i:05}.txt"),
                    version: String::new(),
                    attrs: json!({}),
                }),
            };
            async move { db.put_asset(&a).await.unwrap() }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    eprintln!("{N} components recorded in {:?}", started.elapsed());

    let expect: HashSet<String> = (0..N).map(|i| format!("bulk/f{i:05}.txt")).collect();
    let once = |items: &[Value], field: &str| {
        let mut seen = HashSet::new();
        for it in items {
            let name = it[field]
                .as_str()
                .unwrap()
                .trim_start_matches('/')
                .to_owned();
            assert!(seen.insert(name.clone()), "{name} listed twice");
        }
        seen
    };
    for (path, field) in [
        ("/service/rest/v1/components?repository=bulk", "name"),
        ("/service/rest/v1/assets?repository=bulk", "path"),
        ("/service/rest/v1/search?repository=bulk", "name"),
        ("/service/rest/v1/search/assets?repository=bulk", "path"),
    ] {
        let started = std::time::Instant::now();
        let items = all_pages(&s, path).await;
        assert_eq!(once(&items, field), expect, "{path}");
        eprintln!("{path}: paged in {:?}", started.elapsed());
    }

    // Deletes while a client is paging: one component already listed, one not yet reached.
    let first = json(
        s.admin(GET, "/service/rest/v1/components?repository=bulk")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = first["continuationToken"].as_str().unwrap().to_owned();
    let mut items: Vec<Value> = first["items"].as_array().unwrap().clone();
    let behind = items[3]["id"].as_str().unwrap().to_owned();
    let ahead_name = "bulk/f09999.txt";
    let search = json(
        s.admin(
            GET,
            &format!("/service/rest/v1/search?repository=bulk&name={ahead_name}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let ahead = search["items"][0]["id"].as_str().unwrap().to_owned();
    for id in [&behind, &ahead] {
        let r = s
            .admin(DELETE, &format!("/service/rest/v1/components/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let mut token = Some(token);
    while let Some(t) = token.take() {
        let page = json(
            s.admin(
                GET,
                &format!("/service/rest/v1/components?repository=bulk&continuationToken={t}"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        token = page["continuationToken"].as_str().map(str::to_owned);
    }
    let seen = once(&items, "name");
    let mut want = expect.clone();
    want.remove(ahead_name);
    assert_eq!(seen, want);
}

both_backends!(
    ten_thousand,
    maven_upload_form,
    listing_and_deletes,
    format_metadata_after_delete,
    search,
    raw_upload_form,
    pypi_upload_form
);
