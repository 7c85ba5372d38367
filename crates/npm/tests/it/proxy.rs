//! Proxy of a loopback registry: packuments cached and rewritten through Arca, tarballs
//! fetched once and checked, served while the remote is down; audit passed through.

use arca_testkit::{Backend, TestServer, Upstream, both_backends};
use serde_json::{Value, json};

use crate::*;

fn remote_packument(
    up: &Upstream,
    name: &str,
    escaped: &str,
    bare: &str,
    versions: &[(&str, &[u8])],
) -> Value {
    let mut vs = serde_json::Map::new();
    let mut time = serde_json::Map::new();
    for (v, t) in versions {
        vs.insert(
            (*v).into(),
            json!({
                "name": name, "version": v,
                "dependencies": {"left-pad": "^1.0.0"},
                "readme": "long readme",
                "dist": {
                    "tarball": format!("{}{escaped}/-/{bare}-{v}.tgz", up.url),
                    "shasum": sha1_hex(t),
                    "integrity": integrity(t),
                },
            }),
        );
        time.insert((*v).into(), json!("2020-01-01T00:00:00.000Z"));
    }
    json!({"_id": name, "_rev": "7-abc", "name": name, "dist-tags": {"latest": versions[0].0},
           "versions": vs, "time": time, "description": "remote"})
}

async fn proxied(b: Backend) {
    let mut up = Upstream::start();
    let t = tgz("demo", "1.0.0");
    up.put(
        "demo",
        remote_packument(&up, "demo", "demo", "demo", &[("1.0.0", &t)]).to_string(),
    );
    up.put("demo/-/demo-1.0.0.tgz", t.clone());
    let ts = tgz("@acme/widget", "0.1.0");
    up.put(
        "@acme%2fwidget",
        remote_packument(
            &up,
            "@acme/widget",
            "@acme/widget",
            "widget",
            &[("0.1.0", &ts)],
        )
        .to_string(),
    );
    up.put("@acme/widget/-/widget-0.1.0.tgz", ts.clone());
    up.put("-/npm/v1/security/advisories/bulk", r#"{"demo":[]}"#);

    let s = TestServer::start(b).await;
    // metadataMaxAge 0: every packument request revalidates, so the remote's absence shows.
    create(&s, "proxy", proxy_body("npm-p", &up.url, 0)).await;

    let (st, p) = get_json(&s, "/repository/npm-p/demo").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        p["versions"]["1.0.0"]["dist"]["tarball"],
        s.at("/repository/npm-p/demo/-/demo-1.0.0.tgz")
    );
    assert_eq!(p["description"], "remote");
    let r = s
        .admin(GET, "/repository/npm-p/demo")
        .header("accept", "application/vnd.npm.install-v1+json")
        .send()
        .await
        .unwrap();
    let a = body_json(r).await;
    assert!(a["versions"]["1.0.0"].get("readme").is_none());
    assert_eq!(a["versions"]["1.0.0"]["dependencies"]["left-pad"], "^1.0.0");
    for _ in 0..2 {
        let r = s
            .admin(GET, "/repository/npm-p/demo/-/demo-1.0.0.tgz")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), t.as_slice());
    }
    assert_eq!(
        up.hits("demo/-/demo-1.0.0.tgz"),
        1,
        "fetched once, then cached"
    );

    // Scoped, the remote asked with %2f; the tarball at the URL the packument gives.
    let (st, p) = get_json(&s, "/repository/npm-p/@acme%2fwidget").await;
    assert_eq!(st, 200, "{p}");
    let url = p["versions"]["0.1.0"]["dist"]["tarball"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        s.at("/repository/npm-p/@acme/widget/-/widget-0.1.0.tgz")
    );
    let r = s
        .client()
        .get(&url)
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), ts.as_slice());

    // npm audit goes to the remote.
    let r = s
        .admin(POST, "/repository/npm-p/-/npm/v1/security/advisories/bulk")
        .json(&json!({"demo": ["1.0.0"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await, json!({"demo": []}));
    assert_eq!(up.hits("-/npm/v1/security/advisories/bulk"), 1);

    // Search: the remote's results after what is cached here.
    up.put(
        "-/v1/search",
        json!({"objects": [{"package": {"name": "remote-only", "version": "9.0.0"}}], "total": 1})
            .to_string(),
    );
    let (st, found) = get_json(&s, "/repository/npm-p/-/v1/search?text=o").await;
    assert_eq!(st, 200, "{found}");
    let names: Vec<&str> = found["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["package"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo", "remote-only"], "{found}");

    // Unknown upstream: 404 in npm's shape.
    let (st, e) = get_json(&s, "/repository/npm-p/nope").await;
    assert_eq!(st, 404);
    assert!(e["error"].is_string());

    // The remote goes down: what was cached is still served.
    let before = up.hits("demo");
    up.stop().await;
    let (st, p) = get_json(&s, "/repository/npm-p/demo").await;
    assert_eq!(st, 200, "{p}");
    assert!(before >= 1);
    let r = s
        .admin(GET, "/repository/npm-p/demo/-/demo-1.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), t.as_slice());
    let (st, e) = get_json(&s, "/repository/npm-p/never-seen").await;
    assert_eq!(st, 502, "{e}");
    assert!(e["error"].is_string());
}

async fn integrity_checked(b: Backend) {
    let up = Upstream::start();
    let t = tgz("evil", "1.0.0");
    let mut p = remote_packument(&up, "evil", "evil", "evil", &[("1.0.0", &t)]);
    p["versions"]["1.0.0"]["dist"]["integrity"] = json!(integrity(b"something else"));
    p["versions"]["1.0.0"]["dist"]
        .as_object_mut()
        .unwrap()
        .remove("shasum");
    up.put("evil", p.to_string());
    up.put("evil/-/evil-1.0.0.tgz", t.clone());
    let s = TestServer::start(b).await;
    create(&s, "proxy", proxy_body("npm-p", &up.url, 1440)).await;
    for n in 1..=2 {
        let r = s
            .admin(GET, "/repository/npm-p/evil/-/evil-1.0.0.tgz")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        assert!(
            body_json(r).await["error"]
                .as_str()
                .unwrap()
                .contains("integrity")
        );
        assert_eq!(up.hits("evil/-/evil-1.0.0.tgz"), n, "nothing kept");
    }
}

async fn group_with_proxy(b: Backend) {
    let up = Upstream::start();
    let t = tgz("demo", "2.0.0");
    up.put(
        "demo",
        remote_packument(&up, "demo", "demo", "demo", &[("2.0.0", &t)]).to_string(),
    );
    up.put("demo/-/demo-2.0.0.tgz", t.clone());
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    create(&s, "proxy", proxy_body("npm-p", &up.url, 1440)).await;
    create(
        &s,
        "group",
        group_body("npm-all", &["npm-h", "npm-p"], None),
    )
    .await;
    let mine = tgz("demo", "1.0.0-local");
    assert_eq!(
        publish(
            &s,
            "npm-all",
            "demo",
            &publish_body("demo", "1.0.0-local", &mine, "local")
        )
        .await
        .0,
        200
    );
    let (st, p) = get_json(&s, "/repository/npm-all/demo").await;
    assert_eq!(st, 200, "{p}");
    let versions: Vec<&String> = p["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0.0-local", "2.0.0"]);
    assert_eq!(p["dist-tags"]["local"], "1.0.0-local");
    assert_eq!(
        p["versions"]["2.0.0"]["dist"]["tarball"],
        s.at("/repository/npm-all/demo/-/demo-2.0.0.tgz")
    );
    let r = s
        .admin(GET, "/repository/npm-all/demo/-/demo-2.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), t.as_slice());
    let r = s
        .admin(GET, "/repository/npm-all/demo/-/demo-1.0.0-local.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), mine.as_slice());
    // Nexus's REST shapes: npm's block reported with its default, checked on the way in.
    let (st, p) = get_json(&s, "/service/rest/v1/repositories/npm/proxy/npm-p").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["format"], "npm");
    assert_eq!(p["npm"]["removeQuarantined"], false);
    let mut bad = proxy_body("npm-bad", &up.url, 1440);
    bad["npm"]["removeQuarantined"] = json!("yes");
    let r = s
        .admin(POST, "/service/rest/v1/repositories/npm/proxy")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Proxies take no publishes.
    let (st, e) = publish(
        &s,
        "npm-p",
        "demo",
        &publish_body("demo", "3.0.0", &t, "latest"),
    )
    .await;
    assert_eq!(st, 405, "{e}");
}

both_backends!(proxied, integrity_checked, group_with_proxy);
