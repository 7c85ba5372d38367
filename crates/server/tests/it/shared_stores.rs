//! Blob stores shared by every node: a store created on one node is usable on another at
//! once, one deleted or changed is dropped or reopened by the other's `reload_stores`, and a
//! node whose `blob_dir` is not the shared default store's directory refuses to start.
//!
//! On PostgreSQL the nodes also announce changes (LISTEN/NOTIFY), so the second node may have
//! reloaded before the test does: what a reload reports is checked on SQLite, where only the
//! test reloads.

use arca_testkit::{Backend, TestServer, both_backends, s3_config_from_env};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, json, rest as send};

const API: &str = "/service/rest/v1";

fn raw_on(name: &str, store: &str) -> Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": store, "strictContentTypeValidation": false, "writePolicy": "ALLOW"},
           "raw": {"contentDisposition": "ATTACHMENT"}})
}

async fn a_store_created_on_one_node_is_usable_on_another(b: Backend) {
    let a = TestServer::start(b).await;
    let node = a.start_node().await;
    let dir = a.data_dir().join("extra-store");
    let (st, text) = send(
        &a,
        POST,
        "/blobstores/file",
        json!({"name": "extra", "path": dir.to_string_lossy()}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    let (st, text) = send(
        &a,
        POST,
        "/repositories/raw/hosted",
        raw_on("on-extra", "extra"),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    if b == Backend::Sqlite {
        assert!(!node.open_stores().contains(&"extra".to_owned()));
    }

    // The other node stores and serves through it without a restart.
    let r = node
        .admin(PUT, "/repository/on-extra/dir/b.txt")
        .body("written on the second node")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert!(node.open_stores().contains(&"extra".to_owned()));
    let r = a
        .admin(GET, "/repository/on-extra/dir/b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "written on the second node");
    let r = a
        .admin(PUT, "/repository/on-extra/dir/a.txt")
        .body("written on the first node")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = node
        .admin(GET, "/repository/on-extra/dir/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "written on the first node");

    // Listed available there too.
    let stores = json(
        node.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let extra = stores
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "extra")
        .cloned()
        .unwrap_or_else(|| panic!("extra listed: {stores}"));
    assert_eq!(extra["unavailable"], false, "{extra}");
}

async fn a_store_deleted_or_moved_on_one_node_follows_on_another(b: Backend) {
    let a = TestServer::start(b).await;
    let node = a.start_node().await;
    for name in ["gone", "moving"] {
        let dir = a.data_dir().join(format!("{name}-store"));
        let (st, text) = send(
            &a,
            POST,
            "/blobstores/file",
            json!({"name": name, "path": dir.to_string_lossy()}),
        )
        .await;
        assert_eq!(st, 204, "{text}");
    }
    // Listing opens them on the second node.
    let r = node
        .admin(GET, &format!("{API}/blobstores"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(node.open_stores(), ["default", "gone", "moving"]);
    // Nothing changed: a reload opens and drops nothing.
    let c = node.reload_stores().await.unwrap();
    assert!(
        c.opened.is_empty() && c.reopened.is_empty() && c.dropped.is_empty() && c.failed.is_empty(),
        "{c:?}"
    );

    // Deleted on the first node: the second still has it open until it reloads.
    let r = a
        .admin(DELETE, &format!("{API}/blobstores/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Moved on the first node (empty stores may move).
    let moved = a.data_dir().join("moved-store");
    let (st, text) = send(
        &a,
        PUT,
        "/blobstores/file/moving",
        json!({"path": moved.to_string_lossy()}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    if b == Backend::Sqlite {
        assert!(node.open_stores().contains(&"gone".to_owned()));
    }
    let c = node.reload_stores().await.unwrap();
    if b == Backend::Sqlite {
        assert_eq!(c.dropped, ["gone"], "{c:?}");
        assert_eq!(c.reopened, ["moving"], "{c:?}");
    }
    assert!(c.failed.is_empty(), "{c:?}");
    assert_eq!(node.open_stores(), ["default", "moving"]);

    // The moved store is used at its new directory on the second node.
    let (st, text) = send(
        &a,
        POST,
        "/repositories/raw/hosted",
        raw_on("on-moving", "moving"),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let r = node
        .admin(PUT, "/repository/on-moving/x.txt")
        .body("here")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(
        std::fs::read_dir(moved.join("sha256")).unwrap().count() > 0,
        "the blob went to the store's new directory"
    );
    let r = node
        .admin(GET, "/repository/on-moving/x.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "here");
}

/// A file store whose directory this node does not see (no shared mount there) is
/// unavailable on it, never replaced by an empty directory; a reload retries it.
async fn a_file_store_this_node_cannot_see_is_unavailable(b: Backend) {
    let a = TestServer::start(b).await;
    let dir = a.data_dir().join("unseen-store");
    let (st, text) = send(
        &a,
        POST,
        "/blobstores/file",
        json!({"name": "unseen", "path": dir.to_string_lossy()}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    let (st, text) = send(
        &a,
        POST,
        "/repositories/raw/hosted",
        raw_on("on-unseen", "unseen"),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let away = a.data_dir().join("unseen-away");
    std::fs::rename(&dir, &away).unwrap();
    // The second node starts all the same; the store is unavailable there.
    let node = a.start_node().await;
    let r = node
        .admin(PUT, "/repository/on-unseen/f.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap();
    assert!(text.contains("does not exist on this node"), "{text}");
    assert!(!dir.exists(), "an empty store was made in its place");
    let stores = json(
        node.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let unseen = stores
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "unseen")
        .cloned()
        .unwrap();
    assert_eq!(unseen["unavailable"], true, "{unseen}");
    // Mounted again: the next reload opens it.
    std::fs::rename(&away, &dir).unwrap();
    let c = node.reload_stores().await.unwrap();
    assert_eq!(c.opened, ["unseen"], "{c:?}");
    assert!(c.failed.is_empty(), "{c:?}");
    let r = node
        .admin(PUT, "/repository/on-unseen/f.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// The same with an S3 store, whose settings change on the first node: the second reopens it.
async fn an_s3_store_created_on_one_node_is_usable_on_another(b: Backend) {
    let Some(cfg) = s3_config_from_env() else {
        return;
    };
    let a = TestServer::start(b).await;
    let node = a.start_node().await;
    let (st, text) = send(
        &a,
        POST,
        "/blobstores/s3",
        json!({"name": "s3-shared", "bucketConfiguration": cfg}),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let (st, text) = send(
        &a,
        POST,
        "/repositories/raw/hosted",
        raw_on("on-s3", "s3-shared"),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let r = node
        .admin(PUT, "/repository/on-s3/f.bin")
        .body("through the second node")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = a
        .admin(GET, "/repository/on-s3/f.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "through the second node");

    // Changed on the first node (the connection settings): reopened on the second.
    let mut changed = cfg.clone();
    changed["advancedBucketConnection"]["maxConnectionPoolSize"] = json!(7);
    let (st, text) = send(
        &a,
        PUT,
        "/blobstores/s3/s3-shared",
        json!({"name": "s3-shared", "bucketConfiguration": changed}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    let c = node.reload_stores().await.unwrap();
    if b == Backend::Sqlite {
        assert_eq!(c.reopened, ["s3-shared"], "{c:?}");
    }
    let r = node
        .admin(GET, "/repository/on-s3/f.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "through the second node");
}

both_backends!(
    a_store_created_on_one_node_is_usable_on_another,
    a_store_deleted_or_moved_on_one_node_follows_on_another,
    a_file_store_this_node_cannot_see_is_unavailable,
    an_s3_store_created_on_one_node_is_usable_on_another,
);

/// On a shared PostgreSQL, a node whose `blob_dir` differs from the default store's recorded
/// directory refuses to start, naming both; the same directory reached by a symbolic link is
/// fine, and the row keeps the first node's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_with_another_blob_dir_refuses_to_start() {
    let a = TestServer::start(Backend::Postgres).await;
    let shared = a.node_config().blob_dir.unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut c = a.node_config();
    c.blob_dir = Some(elsewhere.path().join("blobs"));
    let e = match a.start_node_with(c).await {
        Ok(_) => panic!("a node with another blob_dir started"),
        Err(e) => e,
    };
    assert!(e.contains(&*shared.to_string_lossy()), "{e}");
    assert!(
        e.contains(&*elsewhere.path().join("blobs").to_string_lossy()),
        "{e}"
    );
    assert!(e.contains("ARCA_BLOB_DIR"), "{e}");
    // The first node still serves its blobs from where it put them.
    a.create_raw_hosted("r", "ALLOW").await;
    let r = a
        .admin(PUT, "/repository/r/f.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    #[cfg(unix)]
    {
        let link = elsewhere.path().join("link");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        let mut c = a.node_config();
        c.blob_dir = Some(link);
        let node = a.start_node_with(c).await.unwrap();
        let r = node.admin(GET, "/repository/r/f.txt").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "x");
    }
    let got = json(
        a.admin(GET, &format!("{API}/blobstores/file/default"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["path"], json!(shared.to_string_lossy()));
}

/// On PostgreSQL the other nodes hear of a change at once (LISTEN/NOTIFY): a store deleted on
/// one node is dropped on the other without anyone calling `reload_stores`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_deleted_store_is_dropped_on_the_other_node_when_announced() {
    let a = TestServer::start(Backend::Postgres).await;
    let node = a.start_node().await;
    let dir = a.data_dir().join("announced-store");
    let (st, text) = send(
        &a,
        POST,
        "/blobstores/file",
        json!({"name": "announced", "path": dir.to_string_lossy()}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    let wait_for = |want: bool| {
        let node = &node;
        async move {
            for _ in 0..100 {
                if node.open_stores().contains(&"announced".to_owned()) == want {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(wait_for(true).await, "opened on the announcement");
    let r = a
        .admin(DELETE, &format!("{API}/blobstores/announced"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(wait_for(false).await, "dropped on the announcement");
}
