//! Hosted: publish (plain, scoped in both URL forms), packuments full and abbreviated,
//! tarballs, refusals (republish, digests, not gzip, unauthorised, write policy), dist-tags,
//! deprecate, unpublish, login tokens, whoami, ping, search, Nexus component upload.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::*;

async fn publish_and_read(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let t = tgz("demo", "1.0.0");
    let (st, body) = publish(
        &s,
        "npm-h",
        "demo",
        &publish_body("demo", "1.0.0", &t, "latest"),
    )
    .await;
    assert_eq!(st, 200, "{body}");

    let (st, p) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["name"], "demo");
    assert_eq!(p["dist-tags"]["latest"], "1.0.0");
    let v = &p["versions"]["1.0.0"];
    assert_eq!(
        v["dist"]["tarball"],
        s.at("/repository/npm-h/demo/-/demo-1.0.0.tgz")
    );
    assert_eq!(v["dist"]["shasum"], sha1_hex(&t));
    assert_eq!(v["dist"]["integrity"], integrity(&t));
    assert_eq!(v["_npmUser"]["name"], "admin");
    assert!(p["time"]["1.0.0"].as_str().unwrap().ends_with('Z'));
    assert!(p["time"]["created"].is_string() && p["time"]["modified"].is_string());
    assert_eq!(p["readme"], "# readme");
    assert!(p["_rev"].is_string());

    // Abbreviated, as npm install asks.
    let r = s
        .admin(GET, "/repository/npm-h/demo")
        .header(
            "accept",
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/vnd.npm.install-v1+json"
    );
    assert_eq!(
        r.headers()["x-content-type-options"].to_str().unwrap(),
        "nosniff"
    );
    let a = body_json(r).await;
    assert_eq!(a["versions"]["1.0.0"]["hasInstallScript"], true);
    assert!(a["versions"]["1.0.0"].get("readme").is_none());
    assert!(a["versions"]["1.0.0"]["dist"]["integrity"].is_string());
    assert!(a["modified"].is_string());

    // Revalidation: the same packument answers 304 to its ETag.
    let r = s.admin(GET, "/repository/npm-h/demo").send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = s
        .admin(GET, "/repository/npm-h/demo")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The tarball, byte for byte.
    let r = s
        .admin(GET, "/repository/npm-h/demo/-/demo-1.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), t.as_slice());
    // One version's manifest, by version and by tag.
    let (st, m) = get_json(&s, "/repository/npm-h/demo/latest").await;
    assert_eq!((st, m["version"].as_str()), (200, Some("1.0.0")));

    // Scoped, in both URL forms.
    let ts = tgz("@acme/widget", "0.1.0");
    let (st, body) = publish(
        &s,
        "npm-h",
        "@acme%2fwidget",
        &publish_body("@acme/widget", "0.1.0", &ts, "latest"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let ts2 = tgz("@acme/widget", "0.2.0");
    let (st, body) = publish(
        &s,
        "npm-h",
        "@acme/widget",
        &publish_body("@acme/widget", "0.2.0", &ts2, "next"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let r = s
        .admin(GET, "/repository/npm-h/demo")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "other packages do not change it");
    let t11 = tgz("demo", "1.1.0");
    assert_eq!(
        publish(
            &s,
            "npm-h",
            "demo",
            &publish_body("demo", "1.1.0", &t11, "latest")
        )
        .await
        .0,
        200
    );
    let r = s
        .admin(GET, "/repository/npm-h/demo")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a new version changes it");
    assert_eq!(body_json(r).await["dist-tags"]["latest"], "1.1.0");
    for path in [
        "/repository/npm-h/@acme%2fwidget",
        "/repository/npm-h/@acme/widget",
    ] {
        let (st, p) = get_json(&s, path).await;
        assert_eq!(st, 200, "{p}");
        assert_eq!(p["dist-tags"], json!({"latest": "0.1.0", "next": "0.2.0"}));
        assert_eq!(
            p["versions"]["0.2.0"]["dist"]["tarball"],
            s.at("/repository/npm-h/@acme/widget/-/widget-0.2.0.tgz")
        );
    }
    let r = s
        .admin(GET, "/repository/npm-h/@acme/widget/-/widget-0.2.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), ts2.as_slice());

    // The component carries the scope as its group, as Nexus's npm.scope.
    let (st, found) = get_json(&s, "/service/rest/v1/search?repository=npm-h&name=widget").await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["items"][0]["group"], "acme");
    // Found by Nexus's `npm.scope` (the format's name for the group criterion); another
    // scope finds nothing.
    let (st, found) = get_json(
        &s,
        "/service/rest/v1/search?repository=npm-h&npm.scope=acme",
    )
    .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["items"].as_array().map(Vec::len), Some(2), "{found}");
    let (_, found) = get_json(
        &s,
        "/service/rest/v1/search?repository=npm-h&npm.scope=other",
    )
    .await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(0), "{found}");

    // ping, whoami, search.
    let (st, _) = get_json(&s, "/repository/npm-h/-/ping").await;
    assert_eq!(st, 200);
    let (st, w) = get_json(&s, "/repository/npm-h/-/whoami").await;
    assert_eq!((st, w), (200, json!({"username": "admin"})));
    let (st, found) = get_json(&s, "/repository/npm-h/-/v1/search?text=widg&size=5").await;
    assert_eq!(st, 200);
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["objects"][0]["package"]["name"], "@acme/widget");
    assert_eq!(found["objects"][0]["package"]["version"], "0.1.0");
    let r = s
        .client()
        .get(s.at("/repository/npm-h/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no anonymous reads by default");
}

async fn refusals(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let t = tgz("demo", "1.0.0");
    let good = publish_body("demo", "1.0.0", &t, "latest");
    assert_eq!(publish(&s, "npm-h", "demo", &good).await.0, 200);

    // Republishing a version: 403, npm's error shape.
    let other = tgz_with("demo", "1.0.0", "other");
    let mut again = publish_body("demo", "1.0.0", &other, "latest");
    again["_attachments"]["demo-1.0.0.tgz"]["length"] = json!(other.len());
    let (st, e) = publish(&s, "npm-h", "demo", &again).await;
    assert_eq!(st, 403, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("previously published"),
        "{e}"
    );
    let r = s
        .admin(GET, "/repository/npm-h/demo/-/demo-1.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), t.as_slice(), "unchanged");

    // Digests that do not match the tarball.
    let t2 = tgz("demo", "2.0.0");
    let mut wrong = publish_body("demo", "2.0.0", &t2, "latest");
    wrong["versions"]["2.0.0"]["dist"]["shasum"] = json!(sha1_hex(b"other"));
    let (st, e) = publish(&s, "npm-h", "demo", &wrong).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("shasum"), "{e}");
    let mut wrong = publish_body("demo", "2.0.0", &t2, "latest");
    wrong["versions"]["2.0.0"]["dist"]["integrity"] = json!(integrity(b"other"));
    let (st, e) = publish(&s, "npm-h", "demo", &wrong).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("integrity"), "{e}");
    // Not a gzip tarball.
    let junk = b"just some text".to_vec();
    let (st, e) = publish(
        &s,
        "npm-h",
        "demo",
        &publish_body("demo", "2.0.0", &junk, "latest"),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("gzip"), "{e}");
    // A tarball of another package, or of another version.
    let wrong_pkg = tgz("other", "2.0.0");
    let (st, e) = publish(
        &s,
        "npm-h",
        "demo",
        &publish_body("demo", "2.0.0", &wrong_pkg, "latest"),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("package.json"), "{e}");
    let wrong_ver = tgz("demo", "3.0.0");
    assert_eq!(
        publish(
            &s,
            "npm-h",
            "demo",
            &publish_body("demo", "2.0.0", &wrong_ver, "latest")
        )
        .await
        .0,
        400
    );
    // gzip, but no tar with a package.json inside.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"plain text, no tar").unwrap();
    let not_tar = gz.finish().unwrap();
    let (st, e) = publish(
        &s,
        "npm-h",
        "demo",
        &publish_body("demo", "2.0.0", &not_tar, "latest"),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    // Not base64.
    let mut nb = publish_body("demo", "2.0.0", &t2, "latest");
    nb["_attachments"]["demo-2.0.0.tgz"]["data"] = json!("%%%%");
    assert_eq!(publish(&s, "npm-h", "demo", &nb).await.0, 400);
    // The URL and the packument disagree.
    assert_eq!(
        publish(
            &s,
            "npm-h",
            "other",
            &publish_body("demo", "2.0.0", &t2, "latest")
        )
        .await
        .0,
        400
    );
    // Unauthenticated.
    let r = s
        .client()
        .put(s.at("/repository/npm-h/demo"))
        .json(&publish_body("demo", "2.0.0", &t2, "latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // None of it was kept.
    let (_, p) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(p["versions"].as_object().unwrap().len(), 1, "{p}");
    assert_eq!(p["dist-tags"]["latest"], "1.0.0");
    let r = s
        .admin(GET, "/repository/npm-h/demo/-/demo-2.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // DENY refuses every publish.
    create(&s, "hosted", hosted_body("npm-ro", "DENY")).await;
    let (st, e) = publish(&s, "npm-ro", "demo", &good).await;
    assert_eq!(st, 403, "{e}");
    assert!(e["error"].is_string());
    // ALLOW lets a version be replaced.
    create(&s, "hosted", hosted_body("npm-rw", "ALLOW")).await;
    assert_eq!(publish(&s, "npm-rw", "demo", &good).await.0, 200);
    assert_eq!(publish(&s, "npm-rw", "demo", &again).await.0, 200);
    let r = s
        .admin(GET, "/repository/npm-rw/demo/-/demo-1.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), other.as_slice());
}

/// A publish body beyond `max_upload_bytes` is refused while it streams, and keeps nothing.
async fn too_large(b: Backend) {
    let config = arca_server::Config {
        max_upload_bytes: Some(64 * 1024),
        ..Default::default()
    };
    let s = TestServer::with_config(b, config).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, &big).unwrap();
    let t = gz.finish().unwrap();
    let (st, e) = publish(
        &s,
        "npm-h",
        "demo",
        &publish_body("demo", "1.0.0", &t, "latest"),
    )
    .await;
    assert_eq!(st, 413, "{e}");
    assert!(e["error"].is_string());
    let (st, _) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(st, 404);
    // Within the limit it passes.
    let small = tgz("demo", "1.0.0");
    assert_eq!(
        publish(
            &s,
            "npm-h",
            "demo",
            &publish_body("demo", "1.0.0", &small, "latest")
        )
        .await
        .0,
        200
    );
    // A body whose attachment length disagrees, or with two versions, is refused.
    let mut lying = publish_body("demo", "1.0.1", &tgz("demo", "1.0.1"), "latest");
    lying["_attachments"]["demo-1.0.1.tgz"]["length"] = json!(3);
    assert_eq!(publish(&s, "npm-h", "demo", &lying).await.0, 400);
    let mut two = publish_body("demo", "1.0.2", &tgz("demo", "1.0.2"), "latest");
    two["versions"]["9.9.9"] = two["versions"]["1.0.2"].clone();
    assert_eq!(publish(&s, "npm-h", "demo", &two).await.0, 400);
    let (_, p) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(p["versions"].as_object().unwrap().len(), 1, "{p}");
}

async fn tags_deprecate_unpublish(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    for v in ["1.0.0", "1.1.0", "2.0.0-beta.1"] {
        let t = tgz("demo", v);
        let tag = if v.contains("beta") { "beta" } else { "latest" };
        assert_eq!(
            publish(&s, "npm-h", "demo", &publish_body("demo", v, &t, tag))
                .await
                .0,
            200
        );
    }
    let (st, tags) = get_json(&s, "/repository/npm-h/-/package/demo/dist-tags").await;
    assert_eq!(
        (st, tags),
        (200, json!({"latest": "1.1.0", "beta": "2.0.0-beta.1"}))
    );
    // npm dist-tag add demo@1.0.0 stable; rm beta.
    let r = s
        .admin(PUT, "/repository/npm-h/-/package/demo/dist-tags/stable")
        .json(&json!("1.0.0"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = s
        .admin(DELETE, "/repository/npm-h/-/package/demo/dist-tags/beta")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = s
        .admin(DELETE, "/repository/npm-h/-/package/demo/dist-tags/latest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .admin(PUT, "/repository/npm-h/-/package/demo/dist-tags/x")
        .json(&json!("9.9.9"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, tags) = get_json(&s, "/repository/npm-h/-/package/demo/dist-tags").await;
    assert_eq!(tags, json!({"latest": "1.1.0", "stable": "1.0.0"}));

    // npm deprecate: the packument comes back with `deprecated` on a version.
    let (_, mut p) = get_json(&s, "/repository/npm-h/demo?write=true").await;
    let mut stale = p.clone();
    p["versions"]["1.0.0"]["deprecated"] = json!("use 1.1.0");
    let r = s
        .admin(PUT, "/repository/npm-h/demo")
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (_, p) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(p["versions"]["1.0.0"]["deprecated"], "use 1.1.0");
    assert!(p["versions"]["1.1.0"].get("deprecated").is_none());

    // A packument read before the last change removes no version: 409, nothing deleted.
    stale["versions"].as_object_mut().unwrap().remove("1.1.0");
    let r = s
        .admin(PUT, "/repository/npm-h/demo")
        .json(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    let (_, now) = get_json(&s, "/repository/npm-h/demo").await;
    assert!(now["versions"].get("1.1.0").is_some(), "1.1.0 kept");

    // npm unpublish demo@1.1.0: the packument without it, then the tarball's DELETE.
    let (_, mut p) = get_json(&s, "/repository/npm-h/demo?write=true").await;
    p["versions"].as_object_mut().unwrap().remove("1.1.0");
    p["dist-tags"]["latest"] = json!("2.0.0-beta.1");
    let rev = p["_rev"].as_str().unwrap().to_owned();
    let r = s
        .admin(PUT, &format!("/repository/npm-h/demo/-rev/{rev}"))
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = s
        .admin(
            DELETE,
            &format!("/repository/npm-h/demo/-/demo-1.1.0.tgz/-rev/{rev}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "gone with its version");
    let (_, p) = get_json(&s, "/repository/npm-h/demo").await;
    let versions: Vec<&String> = p["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0.0", "2.0.0-beta.1"]);
    assert_eq!(p["dist-tags"]["latest"], "2.0.0-beta.1");
    let r = s
        .admin(GET, "/repository/npm-h/demo/-/demo-1.1.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // npm unpublish demo --force: everything.
    let r = s
        .admin(DELETE, &format!("/repository/npm-h/demo/-rev/{rev}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, e) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(st, 404);
    assert!(e["error"].is_string(), "{e}");
}

async fn login_tokens(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let login = |pw: &str| {
        s.client()
            .put(s.at("/repository/npm-h/-/user/org.couchdb.user:admin"))
            .json(&json!({"_id": "org.couchdb.user:admin", "name": "admin", "password": pw, "type": "user", "roles": []}))
            .send()
    };
    let r = login("wrong").await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(body_json(r).await["error"].is_string());
    let r = login(&s.admin_password).await.unwrap();
    assert_eq!(r.status(), 201);
    let j = body_json(r).await;
    assert_eq!(j["ok"], true);
    let token = j["token"].as_str().unwrap().to_owned();
    // Not a repository of npm's: no login there.
    let r = s
        .client()
        .put(s.at("/repository/nothing/-/user/org.couchdb.user:admin"))
        .json(&json!({"name": "admin", "password": s.admin_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Anonymous reads on for what follows (off, anonymous was refused everything but login).
    let r = s
        .client()
        .get(s.at("/repository/npm-h/-/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .admin(PUT, "/service/rest/v1/security/anonymous")
        .json(
            &json!({"enabled": true, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // The token works as npm sends it.
    let bearer = format!("Bearer {token}");
    let r = s
        .client()
        .get(s.at("/repository/npm-h/-/whoami"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(r).await, json!({"username": "admin"}));
    let t = tgz("demo", "1.0.0");
    let r = s
        .client()
        .put(s.at("/repository/npm-h/demo"))
        .header("authorization", &bearer)
        .json(&publish_body("demo", "1.0.0", &t, "latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Anonymous may read, not publish, and is nobody.
    let r = s
        .client()
        .get(s.at("/repository/npm-h/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client()
        .get(s.at("/repository/npm-h/-/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let t2 = tgz("demo", "2.0.0");
    let r = s
        .client()
        .put(s.at("/repository/npm-h/demo"))
        .json(&publish_body("demo", "2.0.0", &t2, "latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // npm logout revokes the token.
    let r = s
        .client()
        .delete(s.at(&format!("/repository/npm-h/-/user/token/{token}")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client()
        .get(s.at("/repository/npm-h/-/whoami"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A deployer with `add` publishes; changing what is published (deprecate, dist-tags) needs
/// `edit`, removing it `delete`: each refused in npm's shape, changing nothing.
async fn privileges(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let role = json!({"id": "npm-dev", "name": "npm-dev", "privileges": [
        "nx-repository-view-npm-npm-h-read", "nx-repository-view-npm-npm-h-browse",
        "nx-repository-view-npm-npm-h-add"]});
    let r = s
        .admin(POST, "/service/rest/v1/security/roles")
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let user = json!({"userId": "dev", "firstName": "D", "lastName": "E", "emailAddress": "d@example.org",
        "password": "dev-pass-123", "status": "active", "roles": ["npm-dev"]});
    let r = s
        .admin(POST, "/service/rest/v1/security/users")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let dev = |m: arca_testkit::reqwest::Method, path: &str| {
        s.client()
            .request(m, s.at(path))
            .basic_auth("dev", Some("dev-pass-123"))
    };
    for v in ["1.0.0", "1.1.0"] {
        let t = tgz("demo", v);
        let r = dev(PUT, "/repository/npm-h/demo")
            .json(&publish_body("demo", v, &t, "latest"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    // npm deprecate: edit.
    let (_, mut p) = get_json(&s, "/repository/npm-h/demo?write=true").await;
    p["versions"]["1.0.0"]["deprecated"] = json!("old");
    let r = dev(PUT, "/repository/npm-h/demo")
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(body_json(r).await["error"].is_string());
    // npm unpublish of a version: delete.
    let (_, mut p) = get_json(&s, "/repository/npm-h/demo?write=true").await;
    p["versions"].as_object_mut().unwrap().remove("1.0.0");
    let r = dev(PUT, "/repository/npm-h/demo/-rev/1")
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    for (m, path) in [
        (PUT, "/repository/npm-h/-/package/demo/dist-tags/beta"),
        (DELETE, "/repository/npm-h/-/package/demo/dist-tags/latest"),
        (DELETE, "/repository/npm-h/demo/-rev/1"),
        (DELETE, "/repository/npm-h/demo/-/demo-1.0.0.tgz/-rev/1"),
    ] {
        let r = dev(m, path).json(&json!("1.0.0")).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let (_, p) = get_json(&s, "/repository/npm-h/demo").await;
    assert_eq!(p["versions"].as_object().unwrap().len(), 2);
    assert!(p["versions"]["1.0.0"].get("deprecated").is_none());
    assert_eq!(p["dist-tags"], json!({"latest": "1.1.0"}));

    // Publishing through a group needs `add` on the member written, not only on the group.
    create(&s, "group", group_body("npm-g", &["npm-h"], Some("npm-h"))).await;
    let role = json!({"id": "group-dev", "name": "group-dev", "privileges": [
        "nx-repository-view-npm-npm-g-read", "nx-repository-view-npm-npm-g-browse",
        "nx-repository-view-npm-npm-g-add"]});
    let r = s
        .admin(POST, "/service/rest/v1/security/roles")
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let user = json!({"userId": "gdev", "firstName": "G", "lastName": "D", "emailAddress": "g@example.org",
        "password": "gdev-pass-123", "status": "active", "roles": ["group-dev"]});
    let r = s
        .admin(POST, "/service/rest/v1/security/users")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let t = tgz("via-group", "1.0.0");
    let r = s
        .client()
        .put(s.at("/repository/npm-g/via-group"))
        .basic_auth("gdev", Some("gdev-pass-123"))
        .json(&publish_body("via-group", "1.0.0", &t, "latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "{}", r.text().await.unwrap());
    let (st, _) = get_json(&s, "/repository/npm-h/via-group").await;
    assert_eq!(st, 404, "nothing published");
}

async fn component_upload(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW_ONCE")).await;
    let t = tgz("@acme/up", "3.0.0");
    let boundary = "npm-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"npm.asset\"; filename=\"up-3.0.0.tgz\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
    body.extend_from_slice(&t);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let send = |b: Vec<u8>| {
        s.admin(POST, "/service/rest/v1/components?repository=npm-h")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(b)
            .send()
    };
    let r = send(body.clone()).await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (st, p) = get_json(&s, "/repository/npm-h/@acme/up").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["dist-tags"]["latest"], "3.0.0");
    assert_eq!(p["versions"]["3.0.0"]["dist"]["integrity"], integrity(&t));
    assert_eq!(send(body).await.unwrap().status(), 403, "once only");
    let mut junk = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"npm.asset\"; filename=\"x.tgz\"\r\n\r\nnot a tarball").into_bytes();
    junk.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(send(junk).await.unwrap().status(), 400);
}

/// Concurrent uploads of one version: one is stored, the others are refused as publishing
/// over it, and the packument serves the one stored (uploads of a package are serialised).
async fn concurrent_component_uploads(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("npm-h", "ALLOW")).await;
    let boundary = "npm-test-boundary";
    let form = |t: &[u8]| {
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"npm.asset\"; filename=\"p.tgz\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
        body.extend_from_slice(t);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    };
    let tars: Vec<Vec<u8>> = (0..8)
        .map(|i| tgz_with("race", "1.0.0", &format!("v{i}")))
        .collect();
    let sends = tars.iter().map(|t| {
        s.admin(POST, "/service/rest/v1/components?repository=npm-h")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(form(t))
            .send()
    });
    let codes: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let stored: Vec<usize> = (0..8).filter(|i| codes[*i] == 204).collect();
    assert_eq!(stored.len(), 1, "exactly one upload stored: {codes:?}");
    assert!(
        codes.iter().all(|c| *c == 204 || *c == 403),
        "the rest refused as publishing over it: {codes:?}"
    );
    let (st, p) = get_json(&s, "/repository/npm-h/race").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        p["versions"]["1.0.0"]["dist"]["integrity"],
        integrity(&tars[stored[0]]),
        "the packument serves the upload that was stored"
    );
}

both_backends!(
    publish_and_read,
    refusals,
    too_large,
    tags_deprecate_unpublish,
    login_tokens,
    privileges,
    component_upload,
    concurrent_component_uploads
);
