//! `blobstores`: file stores created, used, given a soft quota, refused where they would
//! overlap or are in use, deleted with their files, and kept across a restart; directories
//! Arca did not make never lose a file; orphans left by a crash are swept.

use std::path::Path;

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, json, rest as send};

const API: &str = "/service/rest/v1";

fn files_under(d: &Path) -> usize {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        files_under(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn repo_on(name: &str, store: &str) -> Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": store, "strictContentTypeValidation": false, "writePolicy": "ALLOW"}})
}

async fn file_stores(b: Backend) {
    let mut s = TestServer::start(b).await;
    let default_dir = json(
        s.admin(GET, &format!("{API}/blobstores/file/default"))
            .send()
            .await
            .unwrap(),
    )
    .await["path"]
        .as_str()
        .unwrap()
        .to_owned();

    // Create with a relative path: under <data>/blobstores.
    assert_eq!(
        send(
            &s,
            POST,
            "/blobstores/file",
            json!({"name": "fast", "path": "fast"})
        )
        .await
        .0,
        204
    );
    let got = json(
        s.admin(GET, &format!("{API}/blobstores/file/fast"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let fast_dir = s.data_dir().join("blobstores/fast");
    // As given, as Nexus answers (relative to <data>/blobstores).
    assert_eq!(got["path"], "fast");
    assert!(got.get("softQuota").is_none());
    assert!(fast_dir.join("sha256").is_dir());

    // Refusals, each on its field.
    for (body, field) in [
        (json!({"name": "fast", "path": "other"}), "name"),
        (json!({"name": "_bad", "path": "bad"}), "name"),
        (
            json!({"name": "inner", "path": format!("{default_dir}/inner")}),
            "path",
        ),
        (
            json!({"name": "outer", "path": s.data_dir().to_string_lossy()}),
            "path",
        ),
        (json!({"name": "up", "path": "../escape"}), "path"),
        (json!({"name": "empty", "path": " "}), "path"),
        (
            json!({"name": "q", "path": "q", "softQuota": {"type": "spaceUsedQuota", "limit": -1}}),
            "softQuota.limit",
        ),
    ] {
        let (st, text) = send(&s, POST, "/blobstores/file", body.clone()).await;
        assert_eq!(st, 400, "{body}: {text}");
        assert!(text.contains(field), "{body}: {text}");
    }
    let (st, _) = send(
        &s,
        POST,
        "/blobstores/file",
        json!({"name": "x", "path": "q", "softQuota": {"type": "sideways", "limit": 1}}),
    )
    .await;
    assert_eq!(st, 400);
    let anon = s
        .client()
        .post(s.at(&format!("{API}/blobstores/file")))
        .json(&json!({"name": "n", "path": "n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // A repository on it stores its bytes there, not in the default store.
    assert_eq!(
        send(
            &s,
            POST,
            "/repositories/raw/hosted",
            repo_on("on-fast", "fast")
        )
        .await
        .0,
        201
    );
    let before_default = files_under(&Path::new(&default_dir).join("sha256"));
    let r = s
        .admin(PUT, "/repository/on-fast/a.bin")
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(files_under(&fast_dir.join("sha256")), 1);
    assert_eq!(
        files_under(&Path::new(&default_dir).join("sha256")),
        before_default
    );
    let list = json(
        s.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let fast = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "fast")
        .unwrap();
    assert_eq!(fast["blobCount"], 1);
    assert_eq!(fast["totalSizeInBytes"], 5000);
    assert_eq!(fast["type"], "File");

    // Soft quota: reported, evaluated, not blocking.
    let quota = |limit: i64| json!({"path": "fast", "softQuota": {"type": "spaceUsedQuota", "limit": limit}});
    assert_eq!(
        send(&s, PUT, "/blobstores/file/fast", quota(1000)).await.0,
        204
    );
    let q = json(
        s.admin(GET, &format!("{API}/blobstores/fast/quota-status"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q["isViolation"], true, "{q}");
    assert_eq!(q["blobStoreName"], "fast");
    // Nexus's wording.
    assert_eq!(
        q["message"],
        "Blob store fast is using 5.00 KB space and has a limit of 1.00 KB"
    );
    let r = s
        .admin(PUT, "/repository/on-fast/b.bin")
        .body(vec![8u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a soft quota does not block writes");
    assert_eq!(
        send(&s, PUT, "/blobstores/file/fast", quota(1 << 30))
            .await
            .0,
        204
    );
    let q = json(
        s.admin(GET, &format!("{API}/blobstores/fast/quota-status"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q["isViolation"], false, "{q}");
    let got = json(
        s.admin(GET, &format!("{API}/blobstores/file/fast"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        got["softQuota"],
        json!({"type": "spaceUsedQuota", "limit": 1 << 30})
    );
    let free =
        json!({"path": "fast", "softQuota": {"type": "spaceRemainingQuota", "limit": i64::MAX}});
    assert_eq!(send(&s, PUT, "/blobstores/file/fast", free).await.0, 204);
    let q = json(
        s.admin(GET, &format!("{API}/blobstores/fast/quota-status"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q["isViolation"], true, "{q}");
    let m = q["message"].as_str().unwrap();
    assert!(
        m.starts_with("Blob store fast is limited to having 9.22 EB available space, and has ")
            && m.ends_with(" space remaining"),
        "{m}"
    );

    // A store holding blobs does not move; an unknown one is 404.
    let (st, text) = send(
        &s,
        PUT,
        "/blobstores/file/fast",
        json!({"path": "elsewhere"}),
    )
    .await;
    assert_eq!(st, 400, "{text}");
    assert_eq!(
        send(&s, PUT, "/blobstores/file/nope", json!({"path": "nope"}))
            .await
            .0,
        404
    );
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/file/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A second store at an absolute path survives a restart, with its quota.
    let abs = tempfile::tempdir().unwrap();
    let abs_dir = abs.path().join("store");
    assert_eq!(
        send(
            &s,
            POST,
            "/blobstores/file",
            json!({"name": "abs", "path": abs_dir.to_string_lossy()})
        )
        .await
        .0,
        204
    );
    assert_eq!(
        send(
            &s,
            POST,
            "/repositories/raw/hosted",
            repo_on("on-abs", "abs")
        )
        .await
        .0,
        201
    );
    s.restart().await;
    let r = s
        .admin(PUT, "/repository/on-abs/c.bin")
        .body("after restart")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(files_under(&abs_dir.join("sha256")), 1);
    let r = s
        .admin(GET, "/repository/on-fast/a.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 5000);

    // Delete: refused while used (naming the user) and for the default store; then gone with
    // its files.
    let (st, text) = send(&s, DELETE, "/blobstores/fast", json!(null)).await;
    assert_eq!(st, 400);
    assert!(text.contains("on-fast"), "{text}");
    assert_eq!(
        send(&s, DELETE, "/blobstores/default", json!(null)).await.0,
        400
    );
    assert_eq!(
        send(&s, DELETE, "/blobstores/nope", json!(null)).await.0,
        404
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/repositories/on-fast"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        send(&s, DELETE, "/blobstores/fast", json!(null)).await.0,
        204
    );
    assert!(!fast_dir.exists(), "the store's directory is removed");
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/file/fast"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let list = json(
        s.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!list.as_array().unwrap().iter().any(|x| x["name"] == "fast"));
    // The name is free again.
    assert_eq!(
        send(
            &s,
            POST,
            "/blobstores/file",
            json!({"name": "fast", "path": "fast2"})
        )
        .await
        .0,
        204
    );
}

/// Nexus's task API runs the blob GC (and with it the orphan sweep); its message.
/// Waits for the blob GC's first scheduled run (at start) to end.
async fn startup_gc_done(s: &TestServer) {
    for _ in 0..200 {
        let t = json(
            s.admin(GET, &format!("{API}/tasks/blob-gc"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if !t["lastRun"].is_null() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the blob GC did not run at start");
}

async fn run_blob_gc(s: &TestServer) -> String {
    let r = s
        .admin(POST, &format!("{API}/tasks/blob-gc/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let t = json(
        s.admin(GET, &format!("{API}/tasks/blob-gc"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    t["message"].as_str().unwrap().to_owned()
}

fn write(p: &Path, body: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// Sets a file's modification time `secs` into the past.
fn age(p: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
        .unwrap();
}

fn blob_file(root: &Path, hex: &str) -> std::path::PathBuf {
    root.join("sha256")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(hex)
}

/// A directory Arca did not make is refused (nothing in it removed); a store's delete removes
/// what Arca wrote and leaves anything else; a fresh store goes entirely.
async fn foreign_directories(b: Backend) {
    let s = TestServer::start(b).await;
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("someones");
    write(&foreign.join("tmp/keep.txt"), "keep me");
    write(&foreign.join("report.pdf"), "mine");
    let (st, text) = send(
        &s,
        POST,
        "/blobstores/file",
        json!({"name": "grab", "path": foreign.to_string_lossy()}),
    )
    .await;
    assert_eq!(st, 400, "{text}");
    let errs: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(errs[0]["id"], "path", "{text}");
    assert!(text.contains("not empty"), "{text}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("tmp/keep.txt")).unwrap(),
        "keep me"
    );
    assert!(foreign.join("report.pdf").exists());
    assert!(!foreign.join(".arca-blobstore").exists());
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/file/grab"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A store Arca made: marked; someone drops a file in it; deleting the store removes
    // Arca's files and leaves theirs (and the directory holding it).
    let mixed = tmp.path().join("mixed");
    assert_eq!(
        send(
            &s,
            POST,
            "/blobstores/file",
            json!({"name": "mixed", "path": mixed.to_string_lossy()})
        )
        .await
        .0,
        204
    );
    assert!(
        std::fs::read_to_string(mixed.join(".arca-blobstore"))
            .unwrap()
            .contains("name=mixed")
    );
    assert_eq!(
        send(
            &s,
            POST,
            "/repositories/raw/hosted",
            repo_on("on-mixed", "mixed")
        )
        .await
        .0,
        201
    );
    let r = s
        .admin(PUT, "/repository/on-mixed/x.bin")
        .body("some bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(files_under(&mixed.join("sha256")), 1);
    write(&mixed.join("tmp/notes.txt"), "someone's notes");
    write(&mixed.join("README"), "someone's readme");
    assert_eq!(
        s.admin(DELETE, &format!("{API}/repositories/on-mixed"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        send(&s, DELETE, "/blobstores/mixed", json!(null)).await.0,
        204
    );
    assert!(!mixed.join("sha256").exists());
    assert!(!mixed.join("uploads").exists());
    assert!(!mixed.join(".arca-blobstore").exists());
    assert_eq!(
        std::fs::read_to_string(mixed.join("tmp/notes.txt")).unwrap(),
        "someone's notes"
    );
    assert!(mixed.join("README").exists());

    // A fresh store in an empty directory: created, used, deleted, gone.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(
        send(
            &s,
            POST,
            "/blobstores/file",
            json!({"name": "fresh", "path": empty.to_string_lossy()})
        )
        .await
        .0,
        204
    );
    assert!(empty.join("sha256").is_dir() && empty.join(".arca-blobstore").is_file());
    assert_eq!(
        send(&s, DELETE, "/blobstores/fresh", json!(null)).await.0,
        204
    );
    assert!(!empty.exists());
}

/// Blob files no row names and stale temp files (what a kill during uploads leaves) are freed
/// by the blob GC once older than the grace period; referenced blobs and young files stay.
async fn orphan_sweep(b: Backend) {
    let s = TestServer::start(b).await;
    // The scheduled run at start sweeps too: let it finish before leaving anything behind.
    startup_gc_done(&s).await;
    s.create_raw_hosted("r", "ALLOW").await;
    let r = s
        .admin(PUT, "/repository/r/kept.bin")
        .body("referenced")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let root = s.data_dir().join("blobs");
    let kept = blob_file(&root, &arca_core::model::Digest::of(b"referenced").hex());
    age(&kept, 7200);
    let old_orphan = blob_file(&root, &format!("abcd{}", "0".repeat(60)));
    let young_orphan = blob_file(&root, &format!("ef01{}", "1".repeat(60)));
    let stale_temp = root.join("tmp/0b7c2a9e-41d3-4f4e-9a51-2b7f9d0c1e11");
    let young_temp = root.join("tmp/1b7c2a9e-41d3-4f4e-9a51-2b7f9d0c1e11");
    let foreign = root.join("sha256/ab/cd/README");
    for f in [
        &old_orphan,
        &young_orphan,
        &stale_temp,
        &young_temp,
        &foreign,
    ] {
        write(f, "left behind");
    }
    for f in [&old_orphan, &stale_temp, &foreign] {
        age(f, 7200);
    }
    let msg = run_blob_gc(&s).await;
    assert!(
        msg.contains("swept 1 orphan blobs and 1 temp files"),
        "{msg}"
    );
    assert!(!old_orphan.exists() && !stale_temp.exists());
    assert!(young_orphan.exists() && young_temp.exists() && foreign.exists());
    assert!(kept.exists());
    let r = s.admin(GET, "/repository/r/kept.bin").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "referenced");
    // Nothing left to sweep.
    assert!(
        run_blob_gc(&s)
            .await
            .contains("swept 0 orphan blobs and 0 temp files")
    );
}

/// The same on S3: objects no row names are freed once older than the grace (2 s here: an
/// S3 server sets objects' times itself).
async fn s3_orphan_sweep(b: Backend) {
    use arca_core::blob::{BlobStore, PutOptions, S3BlobStore, S3Config};
    use arca_core::model::Digest;
    let Some(cfg) = arca_testkit::s3_config_from_env() else {
        return;
    };
    let config = arca_server::Config {
        orphan_grace: Some(2),
        ..Default::default()
    };
    let s = TestServer::with_config(b, config).await;
    let (st, text) = send(
        &s,
        POST,
        "/blobstores/s3",
        json!({"name": "s3", "bucketConfiguration": cfg}),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    assert_eq!(
        send(&s, POST, "/repositories/raw/hosted", repo_on("on-s3", "s3"))
            .await
            .0,
        201
    );
    let r = s
        .admin(PUT, "/repository/on-s3/kept.bin")
        .body("referenced on s3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bucket = S3BlobStore::connect(
        "check",
        &S3Config::from_attributes(&cfg.to_string()).unwrap(),
    )
    .unwrap();
    let put = |b: &'static [u8]| {
        let body = futures_util::StreamExt::boxed(futures_util::stream::iter(vec![Ok(
            bytes::Bytes::from_static(b),
        )]));
        bucket.put(body, PutOptions::default())
    };
    let old = put(b"orphan written before a crash").await.unwrap().digest;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let young = put(b"orphan of an upload in flight").await.unwrap().digest;
    let msg = run_blob_gc(&s).await;
    assert!(msg.contains("swept 1 orphan blobs"), "{msg}");
    assert_eq!(bucket.stat(&old).await.unwrap(), None);
    assert!(bucket.stat(&young).await.unwrap().is_some());
    assert!(
        bucket
            .stat(&Digest::of(b"referenced on s3"))
            .await
            .unwrap()
            .is_some()
    );
    let r = s
        .admin(GET, "/repository/on-s3/kept.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "referenced on s3");
}

both_backends!(
    file_stores,
    foreign_directories,
    orphan_sweep,
    s3_orphan_sweep
);
