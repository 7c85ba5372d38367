//! Status endpoints, metrics, base URL and reverse-proxy headers, TLS.

use arca_testkit::{Backend, TestServer, both_backends};

use crate::{GET, json};

async fn status_and_metrics(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    assert_eq!(
        c.get(s.at("/service/rest/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(s.at("/service/rest/v1/status/writable"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(s.at("/service/rest/v1/status/check"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let check = json(
        s.admin(GET, "/service/rest/v1/status/check")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(check["Metadata Database"]["healthy"], true);
    assert_eq!(check["Blob Stores Ready"]["healthy"], true);
    assert_eq!(
        check["Default Admin Credentials"]["healthy"], false,
        "the generated password is in use"
    );

    // Metrics need a privilege, then count what was served.
    assert_eq!(c.get(s.at("/metrics")).send().await.unwrap().status(), 401);
    s.create_raw_hosted("m", "ALLOW").await;
    let text = s
        .admin(GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("arca_http_requests_total{method=\"POST\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(text.contains("arca_repositories 1"), "{text}");
    assert!(text.contains("# TYPE arca_http_request_duration_seconds histogram"));

    // The UI landing page.
    let r = c.get(s.at("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Arca"));
}

async fn base_url_and_forwarded_headers(b: Backend) {
    // Without a base URL, untrusted forwarded headers are ignored.
    let s = TestServer::start(b).await;
    s.create_raw_hosted("r", "ALLOW").await;
    let repos = json(
        s.admin(GET, "/service/rest/v1/repositories")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(repos[0]["url"], format!("{}/repository/r", s.url));
    drop(s);

    // A trusted proxy's headers are honoured.
    let cfg = arca_server::Config {
        trusted_proxies: Some(vec!["127.0.0.0/8".into()]),
        ..Default::default()
    };
    let s = TestServer::with_config(b, cfg).await;
    s.create_raw_hosted("r", "ALLOW").await;
    let repos = json(
        s.admin(GET, "/service/rest/v1/repositories")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "repo.example.org")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(repos[0]["url"], "https://repo.example.org/repository/r");
    drop(s);

    // The configured base URL wins over everything.
    let cfg = arca_server::Config {
        base_url: Some("https://nexus.example.com/".into()),
        trusted_proxies: Some(vec!["127.0.0.1".into()]),
        ..Default::default()
    };
    let s = TestServer::with_config(b, cfg).await;
    s.create_raw_hosted("r", "ALLOW").await;
    let repos = json(
        s.admin(GET, "/service/rest/v1/repositories")
            .header("x-forwarded-host", "x.org")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(repos[0]["url"], "https://nexus.example.com/repository/r");
    s.admin(arca_testkit::reqwest::Method::PUT, "/repository/r/d/f.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    let html = s
        .admin(GET, "/repository/r/d/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("https://nexus.example.com/repository/r/d/f.txt"),
        "{html}"
    );
}

both_backends!(
    status_and_metrics,
    base_url_and_forwarded_headers,
    tasks_api,
    writable_probes_a_real_write,
    integrity_task_reports_missing_and_corrupt_blobs
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "openssl makes a certificate");
    let cfg = arca_server::Config {
        tls_cert: Some(cert.clone()),
        tls_key: Some(key),
        ..Default::default()
    };
    let s = TestServer::with_config(Backend::Sqlite, cfg).await;
    assert!(s.url.starts_with("https://"));
    let ca = arca_testkit::reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let c = arca_testkit::reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = c
        .get(s.at("/service/rest/v1/repositories"))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.create_raw_hosted_with(&c, "secure").await;
    let repos = json(
        c.get(s.at("/service/rest/v1/repositories"))
            .basic_auth("admin", Some(&s.admin_password))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        repos[0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = s.url.replace("https://", "http://");
    assert!(
        arca_testkit::reqwest::get(format!("{plain}/service/rest/v1/status"))
            .await
            .is_err()
    );
}

/// A blob store whose directory disappears is reported, and the node says it cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_blob_store_is_reported() {
    let s = TestServer::start(Backend::Sqlite).await;
    let stores = json(
        s.admin(GET, "/service/rest/v1/blobstores")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(stores[0]["availableSpaceInBytes"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(s.data_dir().join("blobs")).unwrap();
    assert_eq!(
        s.client()
            .get(s.at("/service/rest/v1/status/writable"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let check = json(
        s.admin(GET, "/service/rest/v1/status/check")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(check["Blob Stores Ready"]["healthy"], false);
}

/// The built-in GC task is listed and can be run through Nexus's tasks API.
async fn tasks_api(b: Backend) {
    let s = TestServer::start(b).await;
    // The scheduler registers the task as it starts; wait for it (bounded).
    let mut list = json(s.admin(GET, "/service/rest/v1/tasks").send().await.unwrap()).await;
    for _ in 0..50 {
        if !list["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        list = json(s.admin(GET, "/service/rest/v1/tasks").send().await.unwrap()).await;
    }
    assert_eq!(list["items"][0]["id"], "blob-gc");
    assert_eq!(list["items"][0]["type"], "blobstore.compact");
    assert!(list["continuationToken"].is_null());
    let none = json(
        s.admin(GET, "/service/rest/v1/tasks?type=other")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none["items"], serde_json::json!([]));
    assert_eq!(
        s.client()
            .get(s.at("/service/rest/v1/tasks"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = s
        .admin(
            arca_testkit::reqwest::Method::POST,
            "/service/rest/v1/tasks/blob-gc/run",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let t = json(
        s.admin(GET, "/service/rest/v1/tasks/blob-gc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(t["lastRunResult"], "OK");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .starts_with("OK: freed 0 blobs"),
        "{t}"
    );
    assert!(t["lastRun"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        s.admin(GET, "/service/rest/v1/tasks/nope")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = s
        .admin(
            arca_testkit::reqwest::Method::POST,
            "/service/rest/v1/tasks/nope/run",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Nothing is running to stop: 409, as Nexus answers; unknown tasks 404.
    for (id, want) in [("blob-gc", 409), ("nope", 404)] {
        let r = s
            .admin(
                arca_testkit::reqwest::Method::POST,
                &format!("/service/rest/v1/tasks/{id}/stop"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{id}");
    }
}

async fn writable_status(s: &TestServer) -> u16 {
    s.client()
        .get(s.at("/service/rest/v1/status/writable"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `/status/writable` writes a file in each store's temp directory: a directory that exists but
/// refuses new files (even to root, as the tests run) answers 503; restored, 200.
async fn writable_probes_a_real_write(b: Backend) {
    let s = TestServer::start(b).await;
    assert_eq!(writable_status(&s).await, 200);
    let tmp = s.data_dir().join("blobs/tmp");
    let away = s.data_dir().join("blobs/tmp.away");
    std::fs::rename(&tmp, &away).unwrap();
    // A directory where nobody, root included, can create a file: what a read-only mount
    // looks like to the probe, while a stat of the directory still looks fine.
    std::os::unix::fs::symlink("/proc/self", &tmp).unwrap();
    assert_eq!(writable_status(&s).await, 503);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::rename(&away, &tmp).unwrap();
    assert_eq!(writable_status(&s).await, 200);
    // The probe leaves nothing behind.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

fn blob_path(data: &std::path::Path, body: &[u8]) -> std::path::PathBuf {
    use sha2::Digest as _;
    let hex = hex::encode(sha2::Sha256::digest(body));
    data.join("blobs/sha256")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(hex)
}

/// A blob corrupted and another deleted behind Arca's back: the integrity task finds both,
/// `/status/check` reports them.
async fn integrity_task_reports_missing_and_corrupt_blobs(b: Backend) {
    use arca_testkit::reqwest::Method;
    let s = TestServer::start(b).await;
    s.create_raw_hosted("r", "ALLOW").await;
    let bodies: [&[u8]; 3] = [b"good content", b"to be corrupted", b"to be deleted"];
    for (i, body) in bodies.iter().enumerate() {
        let r = s
            .admin(Method::PUT, &format!("/repository/r/f{i}.txt"))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let check = async || {
        json(
            s.admin(GET, "/service/rest/v1/status/check")
                .send()
                .await
                .unwrap(),
        )
        .await["Blob Integrity"]
            .clone()
    };
    let run = async || {
        // The scheduler may hold the lease for its own first run: retry briefly.
        for _ in 0..50 {
            let r = s
                .admin(Method::POST, "/service/rest/v1/tasks/blob-integrity/run")
                .send()
                .await
                .unwrap();
            if r.status() == 204 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the integrity task did not run");
    };
    run().await;
    let c = check().await;
    assert_eq!(c["healthy"], true, "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .starts_with("OK: checked 3 blobs, 0 missing, 0 corrupt"),
        "{c}"
    );

    // Same size, other bytes: only re-hashing finds it.
    let corrupt = blob_path(s.data_dir(), bodies[1]);
    std::fs::write(&corrupt, b"To be corrupted").unwrap();
    let deleted = blob_path(s.data_dir(), bodies[2]);
    std::fs::remove_file(&deleted).unwrap();
    // Reading the deleted one is still a 404 (and an error in the log).
    let r = s.admin(GET, "/repository/r/f2.txt").send().await.unwrap();
    assert_eq!(r.status(), 404);

    run().await;
    let c = check().await;
    assert_eq!(c["healthy"], false, "{c}");
    let msg = c["message"].as_str().unwrap();
    assert!(
        msg.starts_with("FAILED: checked 3 blobs, 1 missing, 1 corrupt"),
        "{msg}"
    );
    let name = |p: &std::path::Path| p.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        msg.contains(&format!("corrupt default/{}", name(&corrupt))),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("missing default/{}", name(&deleted))),
        "{msg}"
    );
    let t = json(
        s.admin(GET, "/service/rest/v1/tasks/blob-integrity")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(t["lastRunResult"], "FAILED", "{t}");
}
