//! Nexus's smaller admin API: cleanup policies at `/v1/cleanup-policies`, security realms,
//! user-token settings, repository health check / cache invalidation / index rebuild, search
//! suggestions, script privileges and the (disabled) script API; and the Nexus behaviours
//! clients rely on (`generate-pom=True`, quoted keywords, proxy settings dropping caches).

use arca_testkit::{Backend, TestServer, Upstream, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, Part, json, multipart, rest as send};

const API: &str = "/service/rest/v1";

async fn get_json(s: &TestServer, path: &str) -> Value {
    json(s.admin(GET, &format!("{API}{path}")).send().await.unwrap()).await
}

async fn status(s: &TestServer, m: arca_testkit::reqwest::Method, path: &str) -> u16 {
    s.admin(m, &format!("{API}{path}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn cleanup_policies_v1(b: Backend) {
    let s = TestServer::start(b).await;
    for name in ["m1", "m2"] {
        let (st, text) = send(
            &s,
            POST,
            "/repositories/maven/hosted",
            json!({"name": name, "online": true,
                   "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                   "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}),
        )
        .await;
        assert_eq!(st, 201, "{text}");
    }
    s.create_raw_hosted("raw", "ALLOW").await;
    // The body Nexus 3.96+'s generated clients send: `repositories` attaches the policy.
    let body = json!({
        "name": "old-snapshots", "format": "maven2", "notes": "n",
        "criteriaLastBlobUpdated": 30, "criteriaLastDownloaded": 60,
        "criteriaReleaseType": "PRERELEASES", "criteriaAssetRegex": ".*\\.jar",
        "repositories": ["m1"], "retain": 3,
    });
    // Refused, nothing stored: a repository of another format, or none of that name.
    for repos in [json!(["raw"]), json!(["nope"])] {
        let mut bad = body.clone();
        bad["repositories"] = repos;
        let (st, text) = send(&s, POST, "/cleanup-policies", bad).await;
        assert_eq!(st, 400, "{text}");
    }
    assert_eq!(
        status(&s, GET, "/cleanup-policies/old-snapshots").await,
        404
    );
    let (st, text) = send(&s, POST, "/cleanup-policies", body).await;
    assert_eq!(st, 201, "{text}");
    let got = get_json(&s, "/cleanup-policies/old-snapshots").await;
    assert_eq!(got["criteriaReleaseType"], "PRERELEASES", "{got}");
    assert_eq!(got["notes"], "n");
    assert_eq!(got["retain"], 3);
    assert_eq!(got["repositories"], json!(["m1"]));
    assert_eq!(got["inUseCount"], 1);
    let m1 = get_json(&s, "/repositories/maven/hosted/m1").await;
    assert_eq!(
        m1["cleanup"]["policyNames"],
        json!(["old-snapshots"]),
        "{m1}"
    );
    // The internal path sees the same policy.
    let r = s
        .admin(GET, "/service/rest/internal/cleanup-policies/old-snapshots")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["criteriaAssetRegex"], ".*\\.jar");
    let (st, _) = send(
        &s,
        POST,
        "/cleanup-policies",
        json!({"name": "py", "format": "pypi", "criteriaLastDownloaded": 1}),
    )
    .await;
    assert_eq!(st, 201);
    let all = get_json(&s, "/cleanup-policies").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let maven = get_json(&s, "/cleanup-policies?format=maven2").await;
    assert_eq!(maven.as_array().unwrap().len(), 1);
    assert_eq!(maven[0]["name"], "old-snapshots");
    // Refused (no criterion, unknown format); nothing changes.
    for bad in [
        json!({"name": "old-snapshots", "format": "maven2", "repositories": []}),
        json!({"name": "old-snapshots", "format": "nuget", "criteriaLastDownloaded": 1}),
    ] {
        let (st, text) = send(&s, PUT, "/cleanup-policies/old-snapshots", bad).await;
        assert_eq!(st, 400, "{text}");
    }
    let got = get_json(&s, "/cleanup-policies/old-snapshots").await;
    assert_eq!(got["criteriaLastBlobUpdated"], 30);
    assert_eq!(got["repositories"], json!(["m1"]));
    // An update without `repositories` leaves them; with them, replaces them.
    let (st, _) = send(
        &s,
        PUT,
        "/cleanup-policies/old-snapshots",
        json!({"name": "old-snapshots", "format": "maven2", "criteriaLastDownloaded": 5}),
    )
    .await;
    assert_eq!(st, 204);
    let got = get_json(&s, "/cleanup-policies/old-snapshots").await;
    assert_eq!(got["criteriaLastDownloaded"], 5);
    assert!(got["criteriaLastBlobUpdated"].is_null(), "{got}");
    assert_eq!(got["repositories"], json!(["m1"]));
    assert_eq!(
        status(&s, DELETE, "/cleanup-policies/old-snapshots").await,
        400
    );
    let (st, _) = send(
        &s,
        PUT,
        "/cleanup-policies/old-snapshots",
        json!({"name": "old-snapshots", "format": "maven2", "criteriaLastDownloaded": 5,
               "repositories": ["m2"]}),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(
        get_json(&s, "/cleanup-policies/old-snapshots").await["repositories"],
        json!(["m2"])
    );
    let m1 = get_json(&s, "/repositories/maven/hosted/m1").await;
    assert_eq!(m1["cleanup"]["policyNames"], json!([]), "{m1}");
    let (st, _) = send(
        &s,
        PUT,
        "/cleanup-policies/old-snapshots",
        json!({"name": "old-snapshots", "format": "maven2", "criteriaLastDownloaded": 5,
               "repositories": []}),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(
        status(&s, DELETE, "/cleanup-policies/old-snapshots").await,
        204
    );
    assert_eq!(
        status(&s, GET, "/cleanup-policies/old-snapshots").await,
        404
    );
}

async fn token(s: &TestServer) -> String {
    let r = s
        .admin(POST, &format!("{API}/security/tokens"))
        .json(&json!({"name": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    json(r).await["token"].as_str().unwrap().to_owned()
}

/// A request to the REST API with Basic `admin:<secret>`.
async fn as_admin(s: &TestServer, secret: &str) -> u16 {
    s.client()
        .get(s.at(&format!("{API}/repositorySettings")))
        .basic_auth("admin", Some(secret))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn realms(b: Backend) {
    let s = TestServer::start(b).await;
    let avail = get_json(&s, "/security/realms/available").await;
    let ids: Vec<&str> = avail
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "NexusAuthenticatingRealm",
            "User-Token-Realm",
            "DockerToken"
        ]
    );
    assert_eq!(
        get_json(&s, "/security/realms/active").await,
        json!([
            "NexusAuthenticatingRealm",
            "User-Token-Realm",
            "DockerToken"
        ])
    );
    let pw = s.admin_password.clone();
    let tok = token(&s).await;
    let registry = json(
        s.client()
            .get(s.at("/v2/token?service=arca"))
            .basic_auth("admin", Some(&pw))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let v2 = |bearer: String| s.client().get(s.at("/v2/")).bearer_auth(bearer).send();
    assert_eq!(v2(registry.clone()).await.unwrap().status(), 200);
    assert_eq!(as_admin(&s, &tok).await, 200);

    // Refused, and nothing changes: unknown, repeated, empty, no way in for an administrator.
    for bad in [
        json!(["Bogus"]),
        json!(["NexusAuthenticatingRealm", "NexusAuthenticatingRealm"]),
        json!([]),
        json!(["DockerToken"]),
    ] {
        let (st, text) = send(&s, PUT, "/security/realms/active", bad.clone()).await;
        assert_eq!(st, 400, "{bad}: {text}");
    }
    assert_eq!(
        get_json(&s, "/security/realms/active")
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Without the token and docker realms: passwords only.
    let (st, _) = send(
        &s,
        PUT,
        "/security/realms/active",
        json!(["NexusAuthenticatingRealm"]),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(as_admin(&s, &pw).await, 200);
    assert_eq!(
        as_admin(&s, &tok).await,
        401,
        "an inactive realm stops a token"
    );
    let r = s
        .client()
        .get(s.at(&format!("{API}/repositorySettings")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(v2(registry.clone()).await.unwrap().status(), 401);

    // Tokens only, while the administrator holds one: the password stops working.
    let (st, text) = send(
        &s,
        PUT,
        "/security/realms/active",
        json!(["User-Token-Realm"]),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    assert_eq!(as_admin(&s, &pw).await, 401);
    assert_eq!(as_admin(&s, &tok).await, 200);
    // Resetting every token now would lock every administrator out: refused, tokens kept.
    let r = s
        .client()
        .delete(s.at(&format!("{API}/security/user-tokens")))
        .basic_auth("admin", Some(&tok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(as_admin(&s, &tok).await, 200);
    // Back, through the token.
    let r = s
        .client()
        .put(s.at(&format!("{API}/security/realms/active")))
        .basic_auth("admin", Some(&tok))
        .json(&json!([
            "NexusAuthenticatingRealm",
            "User-Token-Realm",
            "DockerToken"
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(as_admin(&s, &pw).await, 200);
    assert_eq!(v2(registry).await.unwrap().status(), 200);
}

async fn user_tokens(b: Backend) {
    let s = TestServer::start(b).await;
    assert_eq!(
        get_json(&s, "/security/user-tokens").await,
        json!({"enabled": true, "expirationDays": 30, "expirationEnabled": false, "protectContent": false})
    );
    let tok = token(&s).await;
    assert_eq!(as_admin(&s, &tok).await, 200);
    let (st, text) = send(
        &s,
        PUT,
        "/security/user-tokens",
        json!({"enabled": false, "expirationEnabled": true, "expirationDays": 7}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        got,
        json!({"enabled": false, "expirationDays": 7, "expirationEnabled": true, "protectContent": false})
    );
    assert_eq!(as_admin(&s, &tok).await, 401, "tokens disabled");
    assert_eq!(
        get_json(&s, "/security/realms/active").await,
        json!(["NexusAuthenticatingRealm", "DockerToken"])
    );
    // Refused, nothing changed.
    for bad in [
        json!({"enabled": true, "protectContent": true}),
        json!({"enabled": true, "expirationDays": 0}),
    ] {
        let (st, text) = send(&s, PUT, "/security/user-tokens", bad).await;
        assert_eq!(st, 400, "{text}");
    }
    assert_eq!(
        get_json(&s, "/security/user-tokens").await["enabled"],
        false
    );
    let (st, _) = send(&s, PUT, "/security/user-tokens", json!({"enabled": true})).await;
    assert_eq!(st, 200);
    assert_eq!(as_admin(&s, &tok).await, 200);
    // Reset: every token goes.
    assert_eq!(status(&s, DELETE, "/security/user-tokens").await, 204);
    assert_eq!(as_admin(&s, &tok).await, 401);
    assert_eq!(
        get_json(&s, "/security/tokens")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

fn raw_proxy(name: &str, remote: &str) -> Value {
    json!({
        "name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": false},
        "proxy": {"remoteUrl": remote, "contentMaxAge": 1440, "metadataMaxAge": 1440},
        "negativeCache": {"enabled": true, "timeToLive": 1440},
        "httpClient": {"blocked": false, "autoBlock": true},
    })
}

async fn text(s: &TestServer, path: &str) -> (u16, String) {
    let r = s.admin(GET, path).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Caches a file and a miss, then changes both upstream: the cached answers stay.
async fn stale_proxy(s: &TestServer, up: &Upstream) {
    up.put("d/a.txt", "alpha");
    assert_eq!(
        text(s, "/repository/remote/d/a.txt").await,
        (200, "alpha".into())
    );
    assert_eq!(text(s, "/repository/remote/d/new.txt").await.0, 404);
    up.put("d/a.txt", "beta");
    up.put("d/new.txt", "new");
    assert_eq!(
        text(s, "/repository/remote/d/a.txt").await,
        (200, "alpha".into())
    );
    assert_eq!(text(s, "/repository/remote/d/new.txt").await.0, 404);
}

async fn invalidate_cache(b: Backend) {
    let up = Upstream::start();
    let s = TestServer::start(b).await;
    let (st, _) = send(
        &s,
        POST,
        "/repositories/raw/proxy",
        raw_proxy("remote", &up.url),
    )
    .await;
    assert_eq!(st, 201);
    stale_proxy(&s, &up).await;
    assert_eq!(
        status(&s, POST, "/repositories/remote/invalidate-cache").await,
        204
    );
    assert_eq!(
        text(&s, "/repository/remote/d/a.txt").await,
        (200, "beta".into())
    );
    assert_eq!(
        text(&s, "/repository/remote/d/new.txt").await,
        (200, "new".into())
    );

    // Through a group: its proxies are invalidated.
    let (st, _) = send(
        &s,
        POST,
        "/repositories/raw/group",
        json!({"name": "all", "online": true,
               "storage": {"blobStoreName": "default", "strictContentTypeValidation": false},
               "group": {"memberNames": ["remote"]}}),
    )
    .await;
    assert_eq!(st, 201);
    up.put("d/a.txt", "gamma");
    assert_eq!(text(&s, "/repository/remote/d/a.txt").await.1, "beta");
    assert_eq!(
        status(&s, POST, "/repositories/all/invalidate-cache").await,
        204
    );
    assert_eq!(text(&s, "/repository/remote/d/a.txt").await.1, "gamma");

    s.create_raw_hosted("local", "ALLOW").await;
    assert_eq!(
        status(&s, POST, "/repositories/local/invalidate-cache").await,
        400
    );
    assert_eq!(
        status(&s, POST, "/repositories/nope/invalidate-cache").await,
        404
    );
}

/// Any settings change of a proxy drops its negative cache and makes its cache revalidate.
async fn proxy_update_drops_caches(b: Backend) {
    let up = Upstream::start();
    let s = TestServer::start(b).await;
    let (st, _) = send(
        &s,
        POST,
        "/repositories/raw/proxy",
        raw_proxy("remote", &up.url),
    )
    .await;
    assert_eq!(st, 201);
    stale_proxy(&s, &up).await;
    let (st, text_) = send(
        &s,
        PUT,
        "/repositories/raw/proxy/remote",
        raw_proxy("remote", &format!("{}/", up.url.trim_end_matches('/'))),
    )
    .await;
    assert_eq!(st, 204, "{text_}");
    assert_eq!(
        text(&s, "/repository/remote/d/a.txt").await,
        (200, "beta".into())
    );
    assert_eq!(
        text(&s, "/repository/remote/d/new.txt").await,
        (200, "new".into())
    );
}

async fn health_check_and_scripts(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("local", "ALLOW").await;
    assert_eq!(
        status(&s, POST, "/repositories/local/health-check").await,
        409
    );
    assert_eq!(
        status(&s, DELETE, "/repositories/local/health-check").await,
        204
    );
    assert_eq!(
        status(&s, POST, "/repositories/nope/health-check").await,
        404
    );
    assert_eq!(
        status(&s, DELETE, "/repositories/nope/health-check").await,
        404
    );

    // The script API of a Nexus with script creation disabled.
    assert_eq!(get_json(&s, "/script").await, json!([]));
    let script = json!({"name": "s", "type": "groovy", "content": "1"});
    let (st, text_) = send(&s, POST, "/script", script.clone()).await;
    assert_eq!((st, text_.as_str()), (410, "Script creation is disabled"));
    let (st, text_) = send(&s, PUT, "/script/s", script).await;
    assert_eq!((st, text_.as_str()), (410, "Script updating is disabled"));
    assert_eq!(status(&s, GET, "/script/s").await, 404);
    assert_eq!(status(&s, DELETE, "/script/s").await, 404);
    assert_eq!(status(&s, POST, "/script/s/run").await, 404);
    let anon = s
        .client()
        .get(s.at(&format!("{API}/script")))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // Script privileges are kept (they grant nothing: no scripts run).
    let (st, text_) = send(
        &s,
        POST,
        "/security/privileges/script",
        json!({"name": "run-s", "description": "d", "scriptName": "s", "actions": ["RUN", "READ"]}),
    )
    .await;
    assert_eq!(st, 201, "{text_}");
    let p = get_json(&s, "/security/privileges/run-s").await;
    assert_eq!(p["type"], "script");
    assert_eq!(p["scriptName"], "s");
    assert_eq!(p["actions"], json!(["RUN", "READ"]));
    let (st, _) = send(
        &s,
        PUT,
        "/security/privileges/script/run-s",
        json!({"name": "run-s", "scriptName": "t", "actions": ["ALL"]}),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(
        get_json(&s, "/security/privileges/run-s").await["scriptName"],
        "t"
    );
    for bad in [
        json!({"name": "x", "scriptName": "s", "actions": ["START"]}),
        json!({"name": "x", "actions": ["RUN"]}),
    ] {
        let (st, text_) = send(&s, POST, "/security/privileges/script", bad).await;
        assert_eq!(st, 400, "{text_}");
    }
}

async fn rebuild_index(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.admin(POST, &format!("{API}/repositories/maven/hosted"))
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                      "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .admin(PUT, "/repository/mvn/org/ex/lib/1.0/lib-1.0.jar")
        .body("jar")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let md = "/repository/mvn/org/ex/lib/maven-metadata.xml";
    assert_eq!(text(&s, md).await.0, 200);
    // The metadata goes (as after a crash between a deploy and its metadata).
    let assets = get_json(&s, "/assets?repository=mvn").await;
    let id = assets["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "org/ex/lib/maven-metadata.xml")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status(&s, DELETE, &format!("/assets/{id}")).await, 204);
    assert_eq!(text(&s, md).await.0, 404);
    assert_eq!(
        status(&s, POST, "/repositories/mvn/rebuild-index").await,
        204
    );
    let (st, body) = text(&s, md).await;
    assert_eq!(st, 200);
    assert!(body.contains("<release>1.0</release>"), "{body}");

    // Raw keeps no index; a group has none of its own; unknown repositories are 404.
    s.create_raw_hosted("local", "ALLOW").await;
    let (st, text_) = send(&s, POST, "/repositories/local/rebuild-index", json!({})).await;
    assert_eq!(st, 400, "{text_}");
    assert!(text_.contains("raw"), "{text_}");
    let (st, _) = send(
        &s,
        POST,
        "/repositories/maven/group",
        json!({"name": "g", "online": true, "storage": {"blobStoreName": "default"},
               "group": {"memberNames": ["mvn"]}}),
    )
    .await;
    assert_eq!(st, 201);
    assert_eq!(status(&s, POST, "/repositories/g/rebuild-index").await, 400);
    assert_eq!(
        status(&s, POST, "/repositories/nope/rebuild-index").await,
        404
    );
}

/// `maven2.generate-pom=True`, any case, generates the pom.
async fn generate_pom_any_case(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.admin(POST, &format!("{API}/repositories/maven/hosted"))
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                      "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    for (v, flag) in [("1.0", &b"True"[..]), ("2.0", &b"TRUE"[..])] {
        let parts: Vec<Part> = vec![
            ("maven2.groupId", None, b"org.ex"),
            ("maven2.artifactId", None, b"tool"),
            ("maven2.version", None, v.as_bytes()),
            ("maven2.generate-pom", None, flag),
            ("maven2.asset1", Some("tool.jar"), b"the jar"),
            ("maven2.asset1.extension", None, b"jar"),
        ];
        let (content_type, body) = multipart(&parts);
        let r = s
            .admin(POST, &format!("{API}/components?repository=mvn"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        let (st, pom) = text(&s, &format!("/repository/mvn/org/ex/tool/{v}/tool-{v}.pom")).await;
        assert_eq!(st, 200, "{v}");
        assert!(pom.contains("<artifactId>tool</artifactId>"), "{pom}");
    }
}

/// A quoted keyword (Nexus's exact phrase) finds what the unquoted one finds; suggestions.
async fn quoted_keyword_and_suggest(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let r = s
        .admin(PUT, "/repository/files/dir/sub/file.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let plain = names(get_json(&s, "/search?keyword=dir/sub/").await);
    assert!(!plain.is_empty());
    let quoted = names(get_json(&s, "/search?keyword=%22dir/sub/%22").await);
    assert_eq!(quoted, plain);

    let sug = get_json(&s, "/search/suggest?q=sub/file").await;
    let first = &sug[0];
    assert_eq!(first["repository"], "files", "{sug}");
    assert_eq!(first["format"], "raw");
    assert!(first["name"].as_str().unwrap().contains("sub/file"));
    assert!(first["id"].is_string());
    assert_eq!(
        get_json(&s, "/search/suggest?q=sub&format=maven2").await,
        json!([])
    );
    assert_eq!(status(&s, GET, "/search/suggest?q=s").await, 400);
}

async fn quota_without_quota(b: Backend) {
    let s = TestServer::start(b).await;
    let q = get_json(&s, "/blobstores/default/quota-status").await;
    assert_eq!(
        q,
        json!({"isViolation": false, "message": "Blob store default has no quota", "blobStoreName": "default"})
    );
}

both_backends!(
    cleanup_policies_v1,
    realms,
    user_tokens,
    invalidate_cache,
    proxy_update_drops_caches,
    health_check_and_scripts,
    rebuild_index,
    generate_pom_any_case,
    quoted_keyword_and_suggest,
    quota_without_quota,
);
