//! Proxy repositories (core machinery, exercised through the raw format) against a real HTTP
//! remote on loopback.

use arca_testkit::{Backend, TestServer, Upstream, both_backends};
use base64::Engine;
use serde_json::{Value, json};

use crate::{GET, POST, PUT, json};

fn proxy_body(name: &str, remote: &str, extra: Value) -> Value {
    let mut b = json!({
        "name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": remote, "contentMaxAge": 1440, "metadataMaxAge": 1440},
        "negativeCache": {"enabled": true, "timeToLive": 1440},
        "httpClient": {"blocked": false, "autoBlock": true},
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut b, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    b
}

async fn create_proxy(s: &TestServer, body: Value) {
    let r = s
        .admin(POST, "/service/rest/v1/repositories/raw/proxy")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn get(s: &TestServer, path: &str) -> (u16, String) {
    let r = s.admin(GET, path).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn fetch_cache_and_single_flight(b: Backend) {
    let mut up = Upstream::start();
    up.put("dist/a.txt", "alpha");
    up.put("dist/slow.bin", vec![9u8; 300_000]);
    let s = TestServer::start(b).await;
    create_proxy(&s, proxy_body("remote", &up.url, json!({}))).await;

    // Miss: fetched; hit: served from cache.
    assert_eq!(
        get(&s, "/repository/remote/dist/a.txt").await,
        (200, "alpha".into())
    );
    assert_eq!(
        get(&s, "/repository/remote/dist/a.txt").await,
        (200, "alpha".into())
    );
    assert_eq!(up.hits("dist/a.txt"), 1);
    // Range on a proxied file.
    let r = s
        .admin(GET, "/repository/remote/dist/a.txt")
        .header("range", "bytes=1-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().await.unwrap(), "lp");

    // 20 concurrent misses of one path: one upstream request.
    up.delay(200);
    let gets = (0..20).map(|_| s.admin(GET, "/repository/remote/dist/slow.bin").send());
    for r in futures_util::future::join_all(gets).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 300_000);
    }
    assert_eq!(up.hits("dist/slow.bin"), 1);
    up.delay(0);

    // Upstream 404s are cached too.
    assert_eq!(get(&s, "/repository/remote/missing.txt").await.0, 404);
    assert_eq!(get(&s, "/repository/remote/missing.txt").await.0, 404);
    assert_eq!(up.hits("missing.txt"), 1);

    // The remote goes down: cached files are still served, others get 502 with a message.
    up.stop().await;
    assert_eq!(
        get(&s, "/repository/remote/dist/a.txt").await,
        (200, "alpha".into())
    );
    let (status, msg) = get(&s, "/repository/remote/dist/never.txt").await;
    assert_eq!(status, 502);
    assert!(msg.contains("could not be reached"), "{msg}");

    // Offline: 503.
    let mut off = proxy_body("remote", &up.url, json!({}));
    off["online"] = json!(false);
    let r = s
        .admin(PUT, "/service/rest/v1/repositories/raw/proxy/remote")
        .json(&off)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(&s, "/repository/remote/dist/a.txt").await.0, 503);
    // Proxies cannot be deployed to.
    let mut on = off.clone();
    on["online"] = json!(true);
    s.admin(PUT, "/service/rest/v1/repositories/raw/proxy/remote")
        .json(&on)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.admin(PUT, "/repository/remote/x.txt")
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
}

async fn max_age_negative_cache_and_auth(b: Backend) {
    let up = Upstream::start();
    up.put("f.txt", "v1");
    let s = TestServer::start(b).await;
    // contentMaxAge 0: every read revalidates (a 304 keeps the cached copy); no negative cache.
    create_proxy(
        &s,
        proxy_body(
            "fresh",
            &up.url,
            json!({
            "proxy": {"remoteUrl": up.url, "contentMaxAge": 0, "metadataMaxAge": 0},
            "negativeCache": {"enabled": false, "timeToLive": 1440}}),
        ),
    )
    .await;
    assert_eq!(get(&s, "/repository/fresh/f.txt").await, (200, "v1".into()));
    assert_eq!(get(&s, "/repository/fresh/f.txt").await, (200, "v1".into()));
    assert_eq!(up.hits("f.txt"), 2, "revalidated");
    up.put("f.txt", "v2");
    assert_eq!(get(&s, "/repository/fresh/f.txt").await, (200, "v2".into()));
    assert_eq!(get(&s, "/repository/fresh/nope").await.0, 404);
    assert_eq!(get(&s, "/repository/fresh/nope").await.0, 404);
    assert_eq!(up.hits("nope"), 2, "no negative cache");
    up.put("nope", "now here");
    assert_eq!(
        get(&s, "/repository/fresh/nope").await,
        (200, "now here".into())
    );

    // A remote behind Basic auth; the password is never echoed by the API.
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bot:s3cret")
    );
    up.require_basic(&header);
    up.put("private.txt", "secret stuff");
    create_proxy(&s, proxy_body("noauth", &up.url, json!({}))).await;
    let (status, msg) = get(&s, "/repository/noauth/private.txt").await;
    assert_eq!(status, 502, "{msg}");
    assert!(msg.contains("401"), "{msg}");
    create_proxy(
        &s,
        proxy_body("authed", &up.url, json!({
            "httpClient": {"authentication": {"type": "username", "username": "bot", "password": "s3cret"}}})),
    )
    .await;
    assert_eq!(
        get(&s, "/repository/authed/private.txt").await,
        (200, "secret stuff".into())
    );
    let cfg = json(
        s.admin(GET, "/service/rest/v1/repositories/raw/proxy/authed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cfg["httpClient"]["authentication"]["username"], "bot");
    assert!(
        cfg["httpClient"]["authentication"]
            .get("password")
            .is_none(),
        "{cfg}"
    );
    assert_eq!(cfg["proxy"]["remoteUrl"], up.url);

    // Bad proxy bodies.
    for (body, needle) in [
        (
            json!({"name": "p", "storage": {"blobStoreName": "default"}}),
            "remoteUrl is required",
        ),
        (
            json!({"name": "p", "storage": {"blobStoreName": "default"}, "proxy": {"remoteUrl": "ftp://x/"}}),
            "http://",
        ),
        (
            json!({"name": "p", "storage": {"blobStoreName": "default"}, "proxy": {"remoteUrl": "http://x/"},
                "httpClient": {"authentication": {"type": "ntlm"}}}),
            "ntlm",
        ),
    ] {
        let r = s
            .admin(POST, "/service/rest/v1/repositories/raw/proxy")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains(needle), "{needle}");
    }
}

async fn group_over_hosted_and_proxy(b: Backend) {
    let up = Upstream::start();
    up.put("shared.txt", "from remote");
    up.put("remote-only.txt", "remote only");
    let s = TestServer::start(b).await;
    s.create_raw_hosted("local", "ALLOW").await;
    s.admin(PUT, "/repository/local/shared.txt")
        .body("from local")
        .send()
        .await
        .unwrap();
    create_proxy(&s, proxy_body("rp", &up.url, json!({}))).await;
    let g = json!({"name": "all", "online": true, "storage": {"blobStoreName": "default"},
                   "group": {"memberNames": ["local", "rp"]}});
    assert_eq!(
        s.admin(POST, "/service/rest/v1/repositories/raw/group")
            .json(&g)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        get(&s, "/repository/all/shared.txt").await,
        (200, "from local".into())
    );
    assert_eq!(up.hits("shared.txt"), 0, "the hosted member answered first");
    assert_eq!(
        get(&s, "/repository/all/remote-only.txt").await,
        (200, "remote only".into())
    );
    assert_eq!(get(&s, "/repository/all/nowhere.txt").await.0, 404);
}

/// A file not cached yet streams to the client as it arrives (the first bytes do not wait for
/// the remote's last), is kept once whole, and is served from the cache after.
async fn streams_while_caching(b: Backend) {
    let s = TestServer::start(b).await;
    let mut up = Upstream::start();
    let big: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    up.put("big.bin", big.clone());
    up.trickle(1500);
    create_proxy(&s, proxy_body("slow", &up.url, json!({}))).await;
    let t0 = std::time::Instant::now();
    let mut r = s
        .admin(GET, "/repository/slow/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(big.len() as u64));
    let first = r.chunk().await.unwrap().expect("a first chunk");
    let first_at = t0.elapsed();
    let mut got = first.to_vec();
    while let Some(c) = r.chunk().await.unwrap() {
        got.extend_from_slice(&c);
    }
    let all_at = t0.elapsed();
    assert!(got == big, "the streamed copy is the remote's file");
    assert!(
        first_at < std::time::Duration::from_millis(1000),
        "first byte after {first_at:?}: not streamed"
    );
    assert!(
        all_at >= std::time::Duration::from_millis(1500),
        "{all_at:?}"
    );
    // Kept: served with the remote gone.
    up.stop().await;
    let r = s
        .admin(GET, "/repository/slow/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().as_ref() == big.as_slice());
    assert_eq!(up.hits("big.bin"), 1);
}

both_backends!(
    streams_while_caching,
    fetch_cache_and_single_flight,
    max_age_negative_cache_and_auth,
    group_over_hosted_and_proxy
);
