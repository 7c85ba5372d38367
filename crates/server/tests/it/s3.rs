//! S3 blob stores at start-up: a working one serves a repository, broken ones are listed
//! unavailable without stopping the server. Needs the test S3 server (`ARCA_TEST_S3`).

use arca_core::{
    blob::{BlobStore, S3BlobStore, S3Config},
    meta::Db,
    model::Digest,
};
use arca_testkit::{Backend, TestServer, both_backends, s3_config_from_env};
use serde_json::json;

use crate::{GET, POST, PUT, json};

async fn s3_stores_at_start(b: Backend) {
    let Some(good) = s3_config_from_env() else {
        return;
    };
    let mut s = TestServer::start(b).await;
    let db = Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    let mut unreachable = good.clone();
    unreachable["advancedBucketConnection"]["endpoint"] = json!("http://127.0.0.1:1");
    for (name, attrs) in [
        ("s3-good", good.to_string()),
        ("s3-unreachable", unreachable.to_string()),
        ("s3-nonsense", r#"{"bucket":{}}"#.to_owned()),
    ] {
        db.create_blob_store(name, "s3", "", &attrs).await.unwrap();
    }
    assert!(
        db.create_blob_store("s3-good", "s3", "", "{}")
            .await
            .is_err()
    );
    db.close().await;
    s.restart().await;

    let stores = json(
        s.admin(GET, "/service/rest/v1/blobstores")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let unavailable = |name: &str| {
        let st = stores
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {stores}"));
        assert_eq!(st["type"], "S3", "{st}");
        st["unavailable"].as_bool().unwrap()
    };
    assert!(!unavailable("s3-good"));
    assert!(unavailable("s3-unreachable"));
    assert!(unavailable("s3-nonsense"));

    // A repository on the S3 store keeps its content in the bucket.
    let r = s
        .admin(POST, "/service/rest/v1/repositories/raw/hosted")
        .json(&json!({
            "name": "on-s3",
            "online": true,
            "storage": { "blobStoreName": "s3-good", "strictContentTypeValidation": true, "writePolicy": "ALLOW" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let r = s
        .admin(PUT, "/repository/on-s3/dir/file.bin")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .admin(GET, "/repository/on-s3/dir/file.bin")
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[1000..2000]);
    let cfg = S3Config::from_attributes(&good.to_string()).unwrap();
    let bucket = S3BlobStore::connect("check", &cfg).unwrap();
    assert_eq!(
        bucket.stat(&Digest::of(&body)).await.unwrap(),
        Some(body.len() as u64)
    );
}

both_backends!(s3_stores_at_start);
