//! S3 blob stores through the REST API (create checks the bucket, the secret is never echoed,
//! an update without it keeps it, the bucket cannot move under blobs) and at start-up (a
//! working one serves a repository, broken ones are listed unavailable without stopping the
//! server). Needs the test S3 server (`ARCA_TEST_S3`, started by scripts/test.sh).

use arca_core::{
    blob::{BlobStore, S3BlobStore, S3Config},
    meta::{BlobStoreRow, Db},
    model::Digest,
};
use arca_testkit::{Backend, TestServer, both_backends, s3_config_from_env};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json, rest as send};

const API: &str = "/service/rest/v1";

async fn s3_stores(b: Backend) {
    let Some(good) = s3_config_from_env() else {
        return;
    };
    let mut s = TestServer::start(b).await;

    // Create: the bucket must answer; bad settings are refused on the field.
    let mut unreachable = good.clone();
    unreachable["advancedBucketConnection"]["endpoint"] = json!("http://127.0.0.1:1");
    let mut wrong_key = good.clone();
    wrong_key["bucketSecurity"]["secretAccessKey"] = json!("not-the-secret");
    let mut no_bucket = good.clone();
    no_bucket["bucket"]["name"] = json!("no-such-bucket");
    for (what, cfg) in [
        ("unreachable", unreachable.clone()),
        ("wrong secret", wrong_key),
        ("missing bucket", no_bucket),
        ("nonsense", json!({"bucket": {}})),
    ] {
        let (st, text) = send(
            &s,
            POST,
            "/blobstores/s3",
            json!({"name": "s3-bad", "bucketConfiguration": cfg}),
        )
        .await;
        assert_eq!(st, 400, "{what}: {text}");
        assert!(text.contains("bucketConfiguration"), "{what}: {text}");
    }
    let (st, text) = send(
        &s,
        POST,
        "/blobstores/s3",
        json!({"name": "s3-good", "bucketConfiguration": good,
        "softQuota": {"type": "spaceUsedQuota", "limit": 1_000_000}}),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let (st, _) = send(
        &s,
        POST,
        "/blobstores/s3",
        json!({"name": "s3-good", "bucketConfiguration": good}),
    )
    .await;
    assert_eq!(st, 400, "the name is taken");
    let got = json(
        s.admin(GET, &format!("{API}/blobstores/s3/s3-good"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["type"], "S3");
    assert_eq!(
        got["bucketConfiguration"]["bucket"]["name"],
        good["bucket"]["name"]
    );
    assert_eq!(
        got["bucketConfiguration"]["bucketSecurity"]["accessKeyId"],
        good["bucketSecurity"]["accessKeyId"]
    );
    assert!(
        got["bucketConfiguration"]["bucketSecurity"]
            .get("secretAccessKey")
            .is_none(),
        "{got}"
    );
    assert_eq!(got["softQuota"]["limit"], 1_000_000);
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/file/s3-good"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/s3/default"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A repository on it keeps its content in the bucket, usable at once.
    let r = s
        .admin(POST, &format!("{API}/repositories/raw/hosted"))
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
    let cfg = S3Config::from_attributes(&good.to_string()).unwrap();
    let bucket = S3BlobStore::connect("check", &cfg).unwrap();
    assert_eq!(
        bucket.stat(&Digest::of(&body)).await.unwrap(),
        Some(body.len() as u64)
    );
    let list = json(
        s.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "s3-good")
        .unwrap()
        .clone();
    assert_eq!(entry["type"], "S3");
    assert_eq!(entry["unavailable"], false);
    assert_eq!(entry["blobCount"], 1);

    // Update without the secret (as answers come back): kept, still works; the prefix cannot
    // move under a blob; an unknown store is 400 as in Nexus.
    let mut upd = got.clone();
    upd["softQuota"] = json!({"type": "spaceUsedQuota", "limit": 10});
    assert_eq!(
        send(&s, PUT, "/blobstores/s3/s3-good", upd.clone()).await.0,
        204
    );
    let q = json(
        s.admin(GET, &format!("{API}/blobstores/s3-good/quota-status"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q["isViolation"], true, "{q}");
    let r = s
        .admin(PUT, "/repository/on-s3/dir/two.bin")
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the kept secret still signs");
    let mut moved = upd.clone();
    moved["bucketConfiguration"]["bucket"]["prefix"] = json!("elsewhere");
    let (st, text) = send(&s, PUT, "/blobstores/s3/s3-good", moved).await;
    assert_eq!(st, 400, "{text}");
    assert_eq!(send(&s, PUT, "/blobstores/s3/nope", upd).await.0, 400);

    // At start-up: a store whose bucket stopped answering is listed unavailable and the server
    // still starts; a row that cannot even be parsed likewise.
    let db = Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    for (name, attrs) in [
        ("s3-unreachable", unreachable.to_string()),
        ("s3-nonsense", r#"{"bucket":{}}"#.to_owned()),
    ] {
        db.create_blob_store(&BlobStoreRow {
            name: name.into(),
            kind: "s3".into(),
            path: String::new(),
            soft_quota: None,
            attributes: attrs,
            created_ms: 0,
        })
        .await
        .unwrap();
    }
    db.close().await;
    s.restart().await;
    let stores = json(
        s.admin(GET, &format!("{API}/blobstores"))
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
    let r = s
        .admin(GET, "/repository/on-s3/dir/file.bin")
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[1000..2000]);

    // Deleting the repository frees the bucket's objects; then the store goes.
    assert_eq!(
        s.admin(DELETE, &format!("{API}/repositories/on-s3"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(bucket.stat(&Digest::of(&body)).await.unwrap(), None);
    assert_eq!(
        send(&s, DELETE, "/blobstores/s3-good", json!(null)).await.0,
        204
    );
    assert_eq!(
        s.admin(GET, &format!("{API}/blobstores/s3/s3-good"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

both_backends!(s3_stores);
