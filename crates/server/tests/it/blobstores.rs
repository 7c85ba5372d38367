//! `blobstores`: file stores created, used, given a soft quota, refused where they would
//! overlap or are in use, deleted with their files, and kept across a restart.

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
    assert_eq!(
        Path::new(got["path"].as_str().unwrap()),
        std::path::absolute(&fast_dir).unwrap()
    );
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

both_backends!(file_stores);
