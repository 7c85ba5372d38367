//! Nexus 3.94's whole REST API surface: every operation of its OpenAPI document
//! (`tests/reference/nexus-openapi-3.94.yaml`) is routed and never a server error; the browse
//! API over Arca's data; the system settings Arca answers from what it has (node, email, HTTP,
//! EULA); and the features Arca lacks answered as a Nexus without them (402 for Pro features,
//! empty lists, 404 for named items, 400 for changes), behind the same authentication.

use arca_testkit::{Backend, TestServer, both_backends, reqwest::Method};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, rest};

const NEXUS_DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/reference/nexus-openapi-3.94.yaml"
));

/// (method, path under `/service/rest`) of every operation in Nexus's document. The document is
/// generated YAML: the `paths:` section has each path at two spaces' indent and its operations
/// at four, which is all this reads.
fn nexus_operations() -> Vec<(Method, String)> {
    let mut out = Vec::new();
    let mut in_paths = false;
    let mut path = None::<String>;
    for line in NEXUS_DOC.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let (Some(m), Some(p)) = (line.strip_prefix("    "), &path)
            && let Some(m) = m.strip_suffix(':')
            && ["get", "put", "post", "delete", "patch", "head"].contains(&m)
        {
            out.push((
                Method::from_bytes(m.to_uppercase().as_bytes()).unwrap(),
                p.clone(),
            ));
        }
    }
    out
}

/// The path with every `{parameter}` replaced by a name nothing has.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        out.push_str("nexus-surface-x");
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

async fn call(
    s: &TestServer,
    m: &Method,
    path: &str,
    creds: Option<(&str, &str)>,
) -> (u16, String) {
    let mut r = s
        .client()
        .request(m.clone(), s.at(&format!("/service/rest{path}")))
        .header("content-type", "application/json")
        .body("{}");
    if let Some((u, p)) = creds {
        r = r.basic_auth(u, Some(p));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Every operation answers as admin with something other than the router's 404 (an empty
/// body) or 405, and never 5xx; anonymously too, never 5xx. Dummy names and `{}` bodies: an
/// operation that would change something finds nothing to change or refuses the body.
async fn every_nexus_operation_is_routed(b: Backend) {
    let s = TestServer::start(b).await;
    let ops = nexus_operations();
    assert!(ops.len() >= 430, "{} operations read", ops.len());
    let admin = Some(("admin", s.admin_password.as_str()));
    let mut failures = Vec::new();
    for (who, creds) in [("admin", admin), ("anonymous", None)] {
        for (m, p) in &ops {
            let (st, body) = call(&s, m, &concrete(p), creds).await;
            let routed = !(st == 405 || (st == 404 && body.trim().is_empty()));
            if st >= 500 || (who == "admin" && !routed) {
                failures.push(format!("{m} {p} as {who}: HTTP {st} {body:.120}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Admin can still sign in: nothing above locked it out.
    assert_eq!(call(&s, &GET, "/v1/security/users", admin).await.0, 200);
}

/// A GET's JSON as `who` (admin when `None`), which must be 200.
async fn list(s: &TestServer, who: Option<(&str, &str)>, q: &str) -> Value {
    let creds = who.or(Some(("admin", s.admin_password.as_str())));
    let (st, body) = call(s, &GET, q, creds).await;
    assert_eq!(st, 200, "{q}: {body}");
    serde_json::from_str::<Value>(&body).unwrap()
}

async fn get(s: &TestServer, p: &str) -> Value {
    list(s, None, p).await
}

async fn create_user(s: &TestServer, id: &str, roles: Value) {
    let (st, text) = rest(
        s,
        POST,
        "/security/users",
        json!({"userId": id, "firstName": id, "lastName": "T", "emailAddress": format!("{id}@example.org"),
               "password": format!("{id}-password"), "status": "active", "roles": roles}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
}

async fn create_role(s: &TestServer, id: &str, privileges: Value) {
    let (st, text) = rest(
        s,
        POST,
        "/security/roles",
        json!({"id": id, "name": id, "privileges": privileges, "roles": []}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
}

/// The features Arca lacks: one rule per kind, authentication first, other methods of the same
/// path still reach Arca's own routes.
async fn features_arca_lacks(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = Some(("admin", s.admin_password.as_str()));
    create_role(&s, "readers", json!(["nx-repository-view-*-*-read"])).await;
    create_user(&s, "reader", json!(["readers"])).await;
    let reader = Some(("reader", "reader-password"));

    // Pro features: 402 with a message naming the feature.
    for (m, p) in [
        (GET, "/v1/tags"),
        (POST, "/v1/staging/move/x"),
        (GET, "/v1/security/saml"),
        (POST, "/v1/blobstores/azure"),
        (GET, "/v1/blobstores/group/g"),
        (GET, "/beta/system/information"),
    ] {
        let (st, body) = call(&s, &m, p, admin).await;
        assert_eq!(st, 402, "{m} {p}: {body}");
        assert!(body.contains("Sonatype Nexus Repository Pro"), "{body}");
    }
    // Free-edition features Arca lacks: nothing configured, nothing configurable.
    for p in [
        "/v1/security/ldap",
        "/v1/routing-rules",
        "/v1/capabilities",
        "/v1/security/ssl/truststore",
    ] {
        let (st, body) = call(&s, &GET, p, admin).await;
        assert_eq!((st, body.as_str()), (200, "[]"), "{p}");
    }
    let (st, body) = call(&s, &GET, "/v1/security/ldap/corp", admin).await;
    assert_eq!((st, body.as_str()), (404, "LDAP server not found"));
    let (st, body) = call(&s, &POST, "/v1/routing-rules", admin).await;
    assert_eq!(st, 400);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["id"], "*");
    assert_eq!(v[0]["message"], "Arca has no routing rules");
    let (st, body) = call(&s, &POST, "/v1/iq/enable", admin).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("connection not configured"), "{body}");
    let (st, _) = call(&s, &DELETE, "/v1/security/ldap/cache", admin).await;
    assert_eq!(st, 204);

    // The same authentication as their neighbours: anonymous 401, a reader 403, and nothing
    // about the feature said to either.
    for (m, p) in [
        (GET, "/v1/tags"),
        (GET, "/v1/security/ldap"),
        (POST, "/v1/routing-rules"),
        (GET, "/v1/system/node"),
        (GET, "/v1/http"),
        (PUT, "/v1/email"),
        (GET, "/internal/ui/api/permissions"),
    ] {
        let (st, body) = call(&s, &m, p, None).await;
        assert_eq!(st, 401, "{m} {p} anonymous: {body}");
        let (st, body) = call(&s, &m, p, reader).await;
        assert_eq!(st, 403, "{m} {p} as reader: {body}");
        assert!(!body.contains("Pro") && !body.contains("LDAP"), "{body}");
    }

    // Repositories of formats Arca does not have: one answer for all, after authentication.
    for (m, p) in [
        (POST, "/v1/repositories/nuget/hosted"),
        (GET, "/v1/repositories/helm/proxy/charts"),
        (PUT, "/v1/repositories/apt/hosted/debs"),
        (POST, "/v1/repositories/cargo/group"),
    ] {
        let (st, body) = call(&s, &m, p, admin).await;
        assert_eq!(st, 400, "{m} {p}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["id"], "format", "{body}");
        assert!(
            v[0]["message"]
                .as_str()
                .unwrap()
                .contains("does not support"),
            "{body}"
        );
        assert_eq!(call(&s, &m, p, None).await.0, 401, "{m} {p} anonymous");
    }

    // A row answers its own method only: a blob store named `group` is still deleted by
    // `DELETE /v1/blobstores/{name}` although `POST /v1/blobstores/group` is a row.
    let (st, text) = rest(
        &s,
        POST,
        "/blobstores/file",
        json!({"name": "group", "path": "group-store"}),
    )
    .await;
    assert_eq!(st, 204, "{text}");
    assert_eq!(
        call(&s, &DELETE, "/v1/blobstores/group", admin).await.0,
        204
    );
}

/// `GET /v1/system/node`, email, HTTP settings, EULA: answered from what Arca has.
async fn system_settings(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = Some(("admin", s.admin_password.as_str()));
    let node = get(&s, "/v1/system/node").await;
    let id = node["nodeId"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(
        get(&s, "/v1/system/node").await["nodeId"],
        id,
        "stable while running"
    );
    assert_eq!(call(&s, &DELETE, "/v1/system/node", admin).await.0, 204);

    let email = get(&s, "/v1/email").await;
    assert_eq!(email["enabled"], false, "{email}");
    assert_eq!(email["port"], 25);
    let mut off = email.clone();
    off["host"] = json!("smtp.example.org");
    assert_eq!(
        rest(&s, PUT, "/email", off).await.0,
        204,
        "a disabled configuration"
    );
    let mut on = email.clone();
    on["enabled"] = json!(true);
    let (st, body) = rest(&s, PUT, "/email", on).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("Arca sends no email"), "{body}");
    assert_eq!(get(&s, "/v1/email").await["enabled"], false);
    let (st, body) = call(&s, &POST, "/v1/email/verify", admin).await;
    assert_eq!(st, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["success"],
        false
    );
    assert_eq!(call(&s, &DELETE, "/v1/email", admin).await.0, 204);

    // The test server runs in this process: it sees this environment's proxies (CI may set
    // HTTPS_PROXY, and the suite sets NO_PROXY).
    let set = |names: &[&str]| {
        names
            .iter()
            .any(|n| std::env::var(n).is_ok_and(|v| !v.trim().is_empty()))
    };
    let all = set(&["ALL_PROXY", "all_proxy"]);
    let with_http = all || set(&["HTTP_PROXY", "http_proxy"]);
    let with_https = all || set(&["HTTPS_PROXY", "https_proxy"]);
    let with_no_proxy = set(&["NO_PROXY", "no_proxy"]);
    let http = get(&s, "/v1/http").await;
    assert_eq!(http["httpProxy"]["enabled"], with_http, "{http}");
    assert_eq!(http["httpsProxy"]["enabled"], with_https, "{http}");
    assert_eq!(http["timeout"], 60);
    assert_eq!(
        rest(&s, PUT, "/http", http.clone()).await.0,
        204,
        "what it is"
    );
    let mut other = http.clone();
    other["httpsProxy"] = json!({"enabled": true, "host": "proxy.example.org", "port": "3128",
        "authInfo": {"enabled": false, "username": "", "password": "", "ntlmHost": "", "ntlmDomain": ""}});
    let (st, body) = rest(&s, PUT, "/http", other).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("HTTPS_PROXY"), "{body}");
    // Nothing to delete only when the environment names no proxy.
    let none = !(with_http || with_https || with_no_proxy);
    assert_eq!(
        call(&s, &DELETE, "/v1/http", admin).await.0,
        if none { 204 } else { 400 }
    );

    assert_eq!(get(&s, "/v1/system/eula").await["accepted"], true);
    assert_eq!(
        rest(
            &s,
            POST,
            "/system/eula",
            json!({"accepted": true, "disclaimer": "x"})
        )
        .await
        .0,
        204
    );
    assert_eq!(
        rest(&s, POST, "/system/eula", json!({"accepted": false}))
            .await
            .0,
        400
    );
}

async fn upload(s: &TestServer, repo: &str, path: &str) {
    let r = s
        .admin(PUT, &format!("/repository/{repo}/{path}"))
        .body(path.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{path}");
}

fn names(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(x: &[(&str, &str)]) -> Vec<(String, String)> {
    x.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
}

/// `GET`/`DELETE /v1/repositories/{name}/browse`: a folder's entries from Arca's assets, a
/// group's merged, content selectors respected; deleting a folder deletes what is under it.
async fn browse(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    s.create_raw_hosted("more", "ALLOW").await;
    for p in ["a/b/one.txt", "a/b/two.txt", "a/c.txt", "top.txt"] {
        upload(&s, "files", p).await;
    }
    upload(&s, "more", "a/d.txt").await;
    let (st, text) = rest(
        &s,
        POST,
        "/repositories/raw/group",
        json!({"name": "all", "online": true, "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
               "group": {"memberNames": ["files", "more"]}}),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let admin = Some(("admin", s.admin_password.as_str()));
    let root = list(&s, None, "/v1/repositories/files/browse").await;
    assert_eq!(
        names(&root),
        pairs(&[("a", "folder"), ("top.txt", "asset")]),
        "{root}"
    );
    assert_eq!(root[0]["text"], "a");
    assert_eq!(root[0]["leaf"], false);
    assert_eq!(root[1]["leaf"], true);
    // The asset's id is the assets API's.
    let aid = root[1]["assetId"].as_str().unwrap();
    let (st, body) = call(&s, &GET, &format!("/v1/assets/{aid}"), admin).await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["path"],
        "top.txt"
    );
    assert!(root[1]["componentId"].is_string());
    for q in [
        "/v1/repositories/files/browse?path=a",
        "/v1/repositories/files/browse?path=%2Fa%2F",
    ] {
        let v = list(&s, None, q).await;
        assert_eq!(
            names(&v),
            pairs(&[("a/b", "folder"), ("a/c.txt", "asset")]),
            "{q}"
        );
    }
    let v = list(&s, None, "/v1/repositories/files/browse?path=a/b").await;
    assert_eq!(v[1]["text"], "two.txt");
    assert_eq!(
        list(&s, None, "/v1/repositories/files/browse?path=nowhere").await,
        json!([])
    );
    // A group: its members' entries merged.
    let v = list(&s, None, "/v1/repositories/all/browse?path=a").await;
    assert_eq!(
        names(&v),
        pairs(&[
            ("a/b", "folder"),
            ("a/c.txt", "asset"),
            ("a/d.txt", "asset")
        ])
    );
    let (st, _) = call(&s, &GET, "/v1/repositories/nope/browse", admin).await;
    assert_eq!(st, 404);

    // A content selector: only the selected assets, and the folders that hold them.
    let (st, text) = rest(
        &s,
        POST,
        "/security/content-selectors",
        json!({"name": "only-ab", "description": "", "expression": "format == \"raw\" and path =^ \"/a/b/\""}),
    )
    .await;
    assert!(st == 204 || st == 200 || st == 201, "{st} {text}");
    let (st, text) = rest(
        &s,
        POST,
        "/security/privileges/repository-content-selector",
        json!({"name": "sel-ab", "description": "", "format": "raw", "repository": "files",
               "contentSelector": "only-ab", "actions": ["BROWSE", "READ"]}),
    )
    .await;
    assert!(st == 201 || st == 200 || st == 204, "{st} {text}");
    create_role(&s, "ab-readers", json!(["sel-ab"])).await;
    create_user(&s, "ab", json!(["ab-readers"])).await;
    let ab = Some(("ab", "ab-password"));
    let v = list(&s, ab, "/v1/repositories/files/browse").await;
    assert_eq!(names(&v), pairs(&[("a", "folder")]), "{v}");
    let v = list(&s, ab, "/v1/repositories/files/browse?path=a").await;
    assert_eq!(names(&v), pairs(&[("a/b", "folder")]), "{v}");
    let v = list(&s, ab, "/v1/repositories/files/browse?path=a/b").await;
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    // Listings read a page at a time: 1,100 assets it may not see, sorting before the ones it
    // may, still leave it `a/b` (found on a later page) and nothing of `a/a`.
    let many: Vec<String> = (0..1100).map(|i| format!("a/a/{i:04}.txt")).collect();
    for chunk in many.chunks(100) {
        futures_util::future::join_all(chunk.iter().map(|p| upload(&s, "files", p))).await;
    }
    let v = list(&s, ab, "/v1/repositories/files/browse?path=a").await;
    assert_eq!(names(&v), pairs(&[("a/b", "folder")]), "{v}");
    // It may not delete there: 403, nothing gone.
    let (st, _) = call(&s, &DELETE, "/v1/repositories/files/browse?path=a/b", ab).await;
    assert_eq!(st, 403);
    // Deleting a folder of more than a page takes all of it.
    let (st, body) = call(&s, &DELETE, "/v1/repositories/files/browse?path=a/a", admin).await;
    assert_eq!(st, 204, "{body}");
    let v = list(&s, None, "/v1/repositories/files/browse?path=a/a").await;
    assert_eq!(v.as_array().unwrap().len(), 0, "{v}");
    // Nor see `more` at all.
    let (st, _) = call(&s, &GET, "/v1/repositories/more/browse", ab).await;
    assert_eq!(st, 404);

    // Anonymous, with anonymous access off: 401.
    let (st, text) = rest(
        &s,
        PUT,
        "/security/anonymous",
        json!({"enabled": false, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let (st, _) = call(&s, &GET, "/v1/repositories/files/browse", None).await;
    assert_eq!(st, 401);
    let (st, _) = call(&s, &DELETE, "/v1/repositories/files/browse?path=a", None).await;
    assert_eq!(st, 401);

    // Delete a folder: everything under it goes, the rest stays.
    let (st, body) = call(&s, &DELETE, "/v1/repositories/files/browse", admin).await;
    assert_eq!(st, 400, "no path: {body}");
    let (st, _) = call(&s, &DELETE, "/v1/repositories/all/browse?path=a", admin).await;
    assert_eq!(st, 400, "a group");
    let (st, body) = call(
        &s,
        &DELETE,
        "/v1/repositories/files/browse?path=/a/b/",
        admin,
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let r = s
        .admin(GET, "/repository/files/a/b/one.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v = list(&s, None, "/v1/repositories/files/browse?path=a").await;
    assert_eq!(names(&v), pairs(&[("a/c.txt", "asset")]));
    let r = s
        .admin(GET, "/repository/files/top.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

both_backends!(
    every_nexus_operation_is_routed,
    features_arca_lacks,
    system_settings,
    browse
);
