//! Docker garbage collection: deleting an image frees the bytes only it used; shared layers,
//! other images and blobs pushed for a manifest not yet pushed stay.

use arca_server::config::Config;
use arca_testkit::{Backend, TestServer, both_backends, reqwest};
use serde_json::json;
use sha2::Digest as _;

use crate::{DELETE, GET, POST, PUT, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const API: &str = "/service/rest/v1";

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn reg(s: &TestServer, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    s.admin(m, &format!("/v2/{path}"))
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

/// A manifest of `config` and `layers` (already pushed) under `reference`; its digest.
async fn push_manifest(
    s: &TestServer,
    name: &str,
    reference: &str,
    config: &[u8],
    layers: &[&[u8]],
) -> (u16, String) {
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest(l), "size": l.len()})).collect::<Vec<_>>()});
    let bytes = serde_json::to_vec(&m).unwrap();
    let r = reg(s, PUT, &format!("{name}/manifests/{reference}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), digest(&bytes))
}

/// Blob files on disk: (count, bytes).
fn disk(s: &TestServer) -> (usize, u64) {
    let mut out = (0, 0);
    let mut dirs = vec![s.data_dir().join("blobs/sha256")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dirs.push(e.path());
            } else {
                out.0 += 1;
                out.1 += m.len();
            }
        }
    }
    out
}

/// Creates docker hosted repository `name` (with `docker.untaggedMaxAgeHours` unless null).
async fn create_hosted(s: &TestServer, name: &str, untagged_hours: serde_json::Value) -> u16 {
    let mut docker = json!({"v1Enabled": false, "forceBasicAuth": true});
    if !untagged_hours.is_null() {
        docker["untaggedMaxAgeHours"] = untagged_hours;
    }
    s.admin(POST, &format!("{API}/repositories/docker/hosted"))
        .json(&json!({"name": name, "online": true,
            "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "docker": docker}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn run_gc(s: &TestServer) -> String {
    let r = s
        .admin(POST, &format!("{API}/tasks/docker-gc/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let t = json(
        s.admin(GET, &format!("{API}/tasks/docker-gc"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(t["type"], "repository.docker.gc", "{t}");
    t["message"].as_str().unwrap_or_default().to_owned()
}

async fn status(s: &TestServer, path: &str) -> u16 {
    reg(s, GET, path).send().await.unwrap().status().as_u16()
}

async fn deleting_an_image_frees_what_only_it_used(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(create_hosted(&s, "d", json!(null)).await, 201);
    let base = vec![b'b'; 300_000];
    let only_one = vec![b'1'; 200_000];
    let only_two = vec![b'2'; 100_000];
    let (c1, c2) = (
        br#"{"os":"linux","n":1}"#.to_vec(),
        br#"{"os":"linux","n":2}"#.to_vec(),
    );
    for blob in [&base, &only_one, &only_two, &c1, &c2] {
        push_blob(&s, "d/one", blob).await;
    }
    // Mounted into the second image's name: blobs are per repository anyway.
    let (st, d1) = push_manifest(&s, "d/one", "v1", &c1, &[&base, &only_one]).await;
    assert_eq!(st, 201);
    let (st, d2) = push_manifest(&s, "d/two", "v1", &c2, &[&base, &only_two]).await;
    assert_eq!(st, 201);
    let (files, bytes) = disk(&s);
    assert_eq!(files, 7, "5 blobs and 2 manifests");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Nothing is unused yet.
    let msg = run_gc(&s).await;
    assert!(msg.starts_with("OK") && !msg.contains("deleted"), "{msg}");
    assert_eq!(disk(&s), (files, bytes));

    // Delete image one by digest (its tag goes with it); a layer pushed for a manifest not yet
    // pushed is young: it stays.
    let r = reg(&s, DELETE, &format!("d/one/manifests/{d1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // The manifest's own bytes go at once; its config and layer wait for the collector.
    let (files, bytes) = disk(&s);
    assert_eq!(files, 6);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let pending = vec![b'p'; 50_000];
    push_blob(&s, "d/three", &pending).await;
    let msg = run_gc(&s).await;
    assert!(msg.contains("d: deleted 0 manifests and 2 blobs"), "{msg}");
    assert_eq!(
        disk(&s),
        (files - 2 + 1, bytes - 200_000 - c1.len() as u64 + 50_000),
        "image one's config and layer went; the pending layer came"
    );
    assert_eq!(
        status(&s, &format!("d/one/blobs/{}", digest(&only_one))).await,
        404
    );
    assert_eq!(
        status(&s, &format!("d/one/blobs/{}", digest(&c1))).await,
        404
    );
    // Image two is whole, its shared base too.
    assert_eq!(status(&s, &format!("d/two/manifests/{d2}")).await, 200);
    for blob in [&base, &only_two, &c2] {
        let r = reg(&s, GET, &format!("d/two/blobs/{}", digest(blob)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), blob.as_slice());
    }
    // The pending layer's manifest arrives: accepted. A manifest naming a collected layer is
    // refused with MANIFEST_BLOB_UNKNOWN (the client uploads it again).
    let (st, _) = push_manifest(&s, "d/three", "v1", &c2, &[&pending]).await;
    assert_eq!(st, 201);
    let (st, _) = push_manifest(&s, "d/one", "v1", &c2, &[&only_one]).await;
    assert_eq!(st, 400);
    push_blob(&s, "d/one", &only_one).await;
    let (st, _) = push_manifest(&s, "d/one", "v1", &c2, &[&only_one]).await;
    assert_eq!(st, 201);

    // Untagged manifests stay by default (pulls by digest keep working)…
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&c2), "size": c2.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&only_two), "size": only_two.len()}]});
    let bytes = serde_json::to_vec(&m).unwrap();
    let by_digest = digest(&bytes);
    let r = reg(&s, PUT, &format!("d/two/manifests/{by_digest}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // …and the tag of image two moving away leaves them reachable.
    let (st, _) = push_manifest(&s, "d/two", "v1", &c2, &[&base]).await;
    assert_eq!(st, 201);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    run_gc(&s).await;
    assert_eq!(
        status(&s, &format!("d/two/manifests/{by_digest}")).await,
        200
    );
    assert_eq!(
        status(&s, &format!("d/two/blobs/{}", digest(&only_two))).await,
        200
    );
}

/// Deleting a multi-arch index deletes the platform manifests nothing else names; the
/// collector then frees their layers. A child another index still lists stays.
async fn deleting_an_index_frees_its_platforms(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(create_hosted(&s, "d", json!(null)).await, 201);
    let (amd, arm, cfg) = (
        vec![b'a'; 70_000],
        vec![b'r'; 60_000],
        br#"{"os":"linux"}"#.to_vec(),
    );
    for blob in [&amd, &arm, &cfg] {
        push_blob(&s, "d/multi", blob).await;
    }
    let (st, d_amd) = push_manifest(
        &s,
        "d/multi",
        &digest_of_manifest(&cfg, &amd),
        &cfg,
        &[&amd],
    )
    .await;
    assert_eq!(st, 201);
    let (st, d_arm) = push_manifest(
        &s,
        "d/multi",
        &digest_of_manifest(&cfg, &arm),
        &cfg,
        &[&arm],
    )
    .await;
    assert_eq!(st, 201);
    let index = |children: &[&str]| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": children.iter().map(|d| json!({"mediaType": OCI_MANIFEST, "digest": d, "size": 1,
                "platform": {"architecture": "amd64", "os": "linux"}})).collect::<Vec<_>>()}))
        .unwrap()
    };
    let both = index(&[&d_amd, &d_arm]);
    let only_arm = index(&[&d_arm]);
    for (tag, body) in [("1", &both), ("arm", &only_arm)] {
        let r = reg(&s, PUT, &format!("d/multi/manifests/{tag}"))
            .header("content-type", "application/vnd.oci.image.index.v1+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let before = disk(&s);
    let r = reg(&s, DELETE, &format!("d/multi/manifests/{}", digest(&both)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // amd64 went with the index; arm64 is still listed by the other index.
    assert_eq!(status(&s, &format!("d/multi/manifests/{d_amd}")).await, 404);
    assert_eq!(status(&s, &format!("d/multi/manifests/{d_arm}")).await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(
        msg.contains("deleted 0 manifests and 1 blobs (70000 bytes)"),
        "{msg}"
    );
    assert_eq!(
        status(&s, &format!("d/multi/blobs/{}", digest(&amd))).await,
        404
    );
    assert_eq!(
        status(&s, &format!("d/multi/blobs/{}", digest(&arm))).await,
        200
    );
    let after = disk(&s);
    assert!(after.1 + 70_000 < before.1, "{before:?} -> {after:?}");
}

/// A pull-through cache: what was not used within the proxy's content max age is collected,
/// and the next pull fills it again.
async fn proxy_caches_expire(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    let st = json!({"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"});
    let dk = json!({"v1Enabled": false, "forceBasicAuth": true});
    let r = s
        .admin(POST, &format!("{API}/repositories/docker/hosted"))
        .json(&json!({"name": "dh", "online": true, "storage": st, "docker": dk}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .admin(POST, &format!("{API}/repositories/docker/proxy"))
        .json(&json!({"name": "dp", "online": true, "storage": st, "docker": dk,
            "proxy": {"remoteUrl": s.url, "contentMaxAge": 0, "metadataMaxAge": 1440},
            "negativeCache": {"enabled": false, "timeToLive": 1},
            "httpClient": {"blocked": false, "autoBlock": false,
                "authentication": {"type": "username", "username": "admin", "password": s.admin_password}},
            "dockerProxy": {"indexType": "REGISTRY"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (layer, cfg) = (vec![b'l'; 40_000], br#"{"os":"linux","p":1}"#.to_vec());
    for blob in [&layer, &cfg] {
        push_blob(&s, "dh/app", blob).await;
    }
    let (st, _) = push_manifest(&s, "dh/app", "1", &cfg, &[&layer]).await;
    assert_eq!(st, 201);
    let pull = || async {
        assert_eq!(status(&s, "dp/dh/app/manifests/1").await, 200);
        for blob in [&layer, &cfg] {
            let r = reg(&s, GET, &format!("dp/dh/app/blobs/{}", digest(blob)))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap().as_ref(), blob.as_slice());
        }
    };
    let cached = || async {
        let r = json(
            s.admin(GET, &format!("{API}/assets?repository=dp"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        r["items"].as_array().map_or(0, Vec::len)
    };
    pull().await;
    // The layers are cached while they stream: wait for them.
    for _ in 0..50 {
        if cached().await >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(cached().await >= 4, "manifest by tag and digest, two blobs");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(msg.contains("dp: deleted 2 manifests and 2 blobs"), "{msg}");
    assert_eq!(cached().await, 0);
    // The hosted original is untouched, and the cache fills again.
    assert_eq!(status(&s, "dh/app/manifests/1").await, 200);
    pull().await;
}

/// `docker.untaggedMaxAgeHours`: untagged manifests older than that are collected (0: at the
/// first run past the grace), with their layers; tagged ones stay; a bad value is refused.
async fn untagged_manifests_by_setting(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(create_hosted(&s, "d", json!(-3)).await, 400);
    assert_eq!(create_hosted(&s, "d", json!(0)).await, 201);
    let (a, z, cfg) = (
        vec![b'a'; 30_000],
        vec![b'z'; 20_000],
        br#"{"os":"linux","u":1}"#.to_vec(),
    );
    for blob in [&a, &z, &cfg] {
        push_blob(&s, "d/img", blob).await;
    }
    let (st, tagged) = push_manifest(&s, "d/img", "v1", &cfg, &[&a]).await;
    assert_eq!(st, 201);
    let (st, untagged) =
        push_manifest(&s, "d/img", &digest_of_manifest(&cfg, &z), &cfg, &[&z]).await;
    assert_eq!(st, 201);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(
        msg.contains("d: deleted 1 manifests and 1 blobs (20000 bytes)"),
        "{msg}"
    );
    assert_eq!(
        status(&s, &format!("d/img/manifests/{untagged}")).await,
        404
    );
    assert_eq!(status(&s, &format!("d/img/manifests/{tagged}")).await, 200);
    assert_eq!(
        status(&s, &format!("d/img/blobs/{}", digest(&a))).await,
        200
    );
    assert_eq!(
        status(&s, &format!("d/img/blobs/{}", digest(&cfg))).await,
        200
    );
}

/// Cleanup policies feed the collector: a policy deletes an image's components (tag and
/// digest), then `docker-gc` frees the layers only that image used.
async fn cleanup_policies_feed_the_collector(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    let r = s
        .admin(POST, "/service/rest/internal/cleanup-policies")
        .json(&json!({"name": "tmp-images", "format": "docker",
            "criteriaAssetRegex": "v2/tmp/manifests/.*"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = s
        .admin(POST, &format!("{API}/repositories/docker/hosted"))
        .json(&json!({"name": "d", "online": true,
            "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "cleanup": {"policyNames": ["tmp-images"]},
            "docker": {"v1Enabled": false, "forceBasicAuth": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (base, tmp_layer, keep_layer) =
        (vec![b'B'; 30_000], vec![b'T'; 20_000], vec![b'K'; 10_000]);
    let (c1, c2) = (
        br#"{"os":"linux","c":1}"#.to_vec(),
        br#"{"os":"linux","c":2}"#.to_vec(),
    );
    for blob in [&base, &tmp_layer, &keep_layer, &c1, &c2] {
        push_blob(&s, "d/tmp", blob).await;
    }
    assert_eq!(
        push_manifest(&s, "d/tmp", "1", &c1, &[&base, &tmp_layer])
            .await
            .0,
        201
    );
    let (st, keep) = push_manifest(&s, "d/keep", "1", &c2, &[&base, &keep_layer]).await;
    assert_eq!(st, 201);
    let r = s
        .admin(POST, &format!("{API}/cleanup/run"))
        .json(&json!({"repository": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(status(&s, "d/tmp/manifests/1").await, 404);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(msg.contains("d: deleted 0 manifests and 2 blobs"), "{msg}");
    assert_eq!(
        status(&s, &format!("d/tmp/blobs/{}", digest(&tmp_layer))).await,
        404
    );
    assert_eq!(status(&s, &format!("d/keep/manifests/{keep}")).await, 200);
    for blob in [&base, &keep_layer, &c2] {
        assert_eq!(
            status(&s, &format!("d/keep/blobs/{}", digest(blob))).await,
            200
        );
    }
}

/// The digest push_manifest will compute for a one-layer manifest (to push it by digest).
fn digest_of_manifest(config: &[u8], layer: &[u8]) -> String {
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": config.len()},
        "layers": [json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": layer.len()})]});
    digest(&serde_json::to_vec(&m).unwrap())
}

/// Creates a task of `kind` with `properties`, run by hand; its id.
async fn create_task(s: &TestServer, kind: &str, properties: serde_json::Value) -> String {
    let r = s
        .admin(POST, &format!("{API}/tasks"))
        .json(
            &json!({"type": kind, "name": format!("test {kind}"), "enabled": true,
            "notificationCondition": "FAILURE", "frequency": {"schedule": "manual"},
            "properties": properties}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    json(r).await["id"].as_str().unwrap().to_owned()
}

/// Runs task `id`; its last message.
async fn run_task(s: &TestServer, id: &str) -> String {
    let r = s
        .admin(POST, &format!("{API}/tasks/{id}/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let t = json(
        s.admin(GET, &format!("{API}/tasks/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    t["message"].as_str().unwrap_or_default().to_owned()
}

/// The default blob store's listing.
async fn default_store(s: &TestServer) -> serde_json::Value {
    let all = json(
        s.admin(GET, &format!("{API}/blobstores"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "default")
        .cloned()
        .unwrap()
}

/// A dry run lists what would go and deletes nothing; the blob store listing shows the bytes
/// as reclaimable, then the collection that freed them.
async fn dry_run_and_reclaimable_bytes(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(create_hosted(&s, "d", json!(null)).await, 201);
    let layer = vec![b'L'; 400_000];
    let config = br#"{"os":"linux","dry":1}"#.to_vec();
    push_blob(&s, "d/img", &layer).await;
    push_blob(&s, "d/img", &config).await;
    let (st, d) = push_manifest(&s, "d/img", "v1", &config, &[&layer]).await;
    assert_eq!(st, 201);
    let r = reg(&s, DELETE, &format!("d/img/manifests/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Within the grace: pending, not yet collectable.
    let dry = create_task(
        &s,
        "repository.docker.gc",
        json!({"repositoryName": "d", "dryRun": "TRUE"}),
    )
    .await;
    let msg = run_task(&s, &dry).await;
    assert_eq!(msg, "OK: nothing to do", "{msg}");
    let store = default_store(&s).await;
    let reclaimable = store["reclaimableSizeInBytes"].as_i64().unwrap();
    assert!(reclaimable >= 400_000, "{store}");

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let before = disk(&s);
    let msg = run_task(&s, &dry).await;
    assert!(
        msg.contains("d: would delete 0 manifests and 2 blobs"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("v2/-/blobs/{}", digest(&layer))),
        "{msg}"
    );
    // (Not read back: a read is a use, which would keep the layer for another grace.)
    assert_eq!(disk(&s), before, "a dry run deletes nothing");

    // The real run deletes the assets; the blob GC frees their bytes and says so.
    let msg = run_gc(&s).await;
    assert!(msg.contains("d: deleted 0 manifests and 2 blobs"), "{msg}");
    assert_eq!(
        status(&s, &format!("d/img/blobs/{}", digest(&layer))).await,
        404
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = s
        .admin(POST, &format!("{API}/tasks/blob-gc/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let after = disk(&s);
    assert!(before.1 - after.1 >= 400_000, "{before:?} -> {after:?}");
    let store = default_store(&s).await;
    assert_eq!(store["reclaimableSizeInBytes"], 0, "{store}");
    // The docker collection freed the bytes as it deleted; the blob GC since freed nothing.
    let last = &store["lastCollection"];
    assert_eq!(last["by"], "repository:d", "{store}");
    assert_eq!(last["itemsDeleted"], 2, "{store}");
    assert_eq!(last["bytesFreed"], 400_000 + config.len(), "{store}");
    assert!(last["finished"].as_str().is_some(), "{store}");
}

/// A task names its repository: others are left alone. Incomplete uploads are purged by age.
async fn tasks_per_repository_and_upload_purge(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    for name in ["d1", "d2"] {
        assert_eq!(create_hosted(&s, name, json!(null)).await, 201);
    }
    let stray = vec![b's'; 10_000];
    push_blob(&s, "d1/x", &stray).await;
    push_blob(&s, "d2/x", &stray).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let one = create_task(&s, "repository.docker.gc", json!({"repositoryName": "d1"})).await;
    let msg = run_task(&s, &one).await;
    assert!(msg.contains("d1: deleted 0 manifests and 1 blobs"), "{msg}");
    assert!(!msg.contains("d2"), "{msg}");
    assert_eq!(
        status(&s, &format!("d1/x/blobs/{}", digest(&stray))).await,
        404
    );
    assert_eq!(
        status(&s, &format!("d2/x/blobs/{}", digest(&stray))).await,
        200
    );
    // A task may not name a repository that is not docker, or none at all.
    s.create_raw_hosted("raw1", "ALLOW").await;
    for (props, field) in [
        (
            json!({"repositoryName": "raw1"}),
            "properties.repositoryName",
        ),
        (
            json!({"repositoryName": "nope"}),
            "properties.repositoryName",
        ),
        (json!({"deployOffset": "-1"}), "properties.deployOffset"),
        (json!({"colour": "red"}), "properties.colour"),
    ] {
        let r = s
            .admin(POST, &format!("{API}/tasks"))
            .json(
                &json!({"type": "repository.docker.gc", "name": "bad", "enabled": true,
                "notificationCondition": "FAILURE", "frequency": {"schedule": "manual"},
                "properties": props}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{props}");
        let body = json(r).await;
        assert_eq!(body[0]["id"], field, "{body}");
    }

    // An upload begun and left: the purge of uploads older than 0 hours discards it.
    let r = reg(&s, POST, "d2/y/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let location = location
        .strip_prefix(&s.at(""))
        .unwrap_or(&location)
        .to_owned();
    let r = s
        .admin(reqwest::Method::PATCH, &location)
        .body(vec![b'u'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let purge = create_task(&s, "repository.docker.upload-purge", json!({"age": "0"})).await;
    let msg = run_task(&s, &purge).await;
    assert_eq!(msg, "OK: deleted 1 incomplete uploads");
    let r = s
        .admin(reqwest::Method::PATCH, &location)
        .body(vec![b'u'; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body = json(r).await;
    assert_eq!(body["errors"][0]["code"], "BLOB_UPLOAD_UNKNOWN", "{body}");
}

/// A policy that keeps each image's newest two tags (and deletes older ones): the collector
/// then frees the layers only the old tags used.
async fn keep_newest_tags(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    let r = s
        .admin(POST, "/service/rest/internal/cleanup-policies")
        .json(&json!({"name": "newest-two", "format": "docker", "retain": 2}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let bad = s
        .admin(POST, "/service/rest/internal/cleanup-policies")
        .json(&json!({"name": "bad", "format": "docker", "retain": -3}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let r = s
        .admin(POST, &format!("{API}/repositories/docker/hosted"))
        .json(&json!({"name": "d", "online": true,
            "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "cleanup": {"policyNames": ["newest-two"]},
            "docker": {"v1Enabled": false, "forceBasicAuth": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let config = br#"{"os":"linux"}"#.to_vec();
    push_blob(&s, "d/app", &config).await;
    push_blob(&s, "d/other", &config).await;
    let (mut layers, mut digests) = (Vec::new(), Vec::new());
    for tag in 1..=4u8 {
        let layer = vec![b'0' + tag; 10_000 + tag as usize];
        push_blob(&s, "d/app", &layer).await;
        let (st, d) = push_manifest(&s, "d/app", &format!("{tag}"), &config, &[&layer]).await;
        assert_eq!(st, 201);
        layers.push(layer);
        digests.push(d);
        // Distinct write times order the tags.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Another image's single tag is its newest: it stays.
    let other = vec![b'o'; 5_000];
    push_blob(&s, "d/other", &other).await;
    assert_eq!(
        push_manifest(&s, "d/other", "1", &config, &[&other])
            .await
            .0,
        201
    );
    let r = s
        .admin(POST, &format!("{API}/cleanup/run"))
        .json(&json!({"repository": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for (tag, want) in [(1, 404), (2, 404), (3, 200), (4, 200)] {
        assert_eq!(
            status(&s, &format!("d/app/manifests/{tag}")).await,
            want,
            "tag {tag}"
        );
        // A kept tag's manifest still pulls by digest too.
        let d = &digests[tag - 1];
        assert_eq!(
            status(&s, &format!("d/app/manifests/{d}")).await,
            want,
            "{d}"
        );
    }
    assert_eq!(status(&s, "d/other/manifests/1").await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(msg.contains("d: deleted 0 manifests and 2 blobs"), "{msg}");
    for (i, want) in [(0, 404), (1, 404), (2, 200), (3, 200)] {
        assert_eq!(
            status(&s, &format!("d/app/blobs/{}", digest(&layers[i]))).await,
            want,
            "layer of tag {}",
            i + 1
        );
    }
}

/// A manifest pushed by its sha512 digest with a tag: the tag keeps the sha512-named manifest
/// even where untagged manifests are collected at once.
async fn sha512_tagged_manifests_stay(b: Backend) {
    let s = TestServer::with_config(
        b,
        Config {
            gc_grace: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(create_hosted(&s, "d", json!(0)).await, 201);
    let (config, layer) = (br#"{"os":"linux","sha":512}"#.to_vec(), vec![b'5'; 5_000]);
    push_blob(&s, "d/img", &config).await;
    push_blob(&s, "d/img", &layer).await;
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}]});
    let bytes = serde_json::to_vec(&m).unwrap();
    let d512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&bytes)));
    let r = reg(&s, PUT, &format!("d/img/manifests/{d512}?tag=v1"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let msg = run_gc(&s).await;
    assert!(!msg.contains("deleted"), "{msg}");
    assert_eq!(status(&s, &format!("d/img/manifests/{d512}")).await, 200);
    assert_eq!(status(&s, "d/img/manifests/v1").await, 200);
    assert_eq!(
        status(&s, &format!("d/img/blobs/{}", digest(&layer))).await,
        200
    );
}

both_backends!(
    sha512_tagged_manifests_stay,
    keep_newest_tags,
    dry_run_and_reclaimable_bytes,
    tasks_per_repository_and_upload_purge,
    deleting_an_image_frees_what_only_it_used,
    deleting_an_index_frees_its_platforms,
    proxy_caches_expire,
    untagged_manifests_by_setting,
    cleanup_policies_feed_the_collector
);
