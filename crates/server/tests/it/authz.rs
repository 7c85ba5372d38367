//! The authorisation matrix: anonymous, a read-only user, a deployer of one repository and an
//! admin, against every format's read, write and delete and the admin endpoints; each cell is
//! the expected answer (allowed, 401 or 403).

use arca_testkit::{Backend, TestServer, both_backends, reqwest::Method};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT};

const LIB: &[u8] = include_bytes!("../fixtures/yum/arca-lib-2.1-3.noarch.rpm");

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Ok,
    Unauth,
    Forbidden,
}
use Want::*;

struct Who {
    name: &'static str,
    creds: Option<(&'static str, &'static str)>,
}

async fn setup(s: &TestServer, b: Backend) {
    let st = json!({"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"});
    for (fmt, body) in [
        ("raw", json!({"name": "r", "online": true, "storage": st})),
        (
            "maven",
            json!({"name": "m", "online": true, "storage": st, "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}),
        ),
        ("pypi", json!({"name": "p", "online": true, "storage": st})),
        (
            "yum",
            json!({"name": "y", "online": true, "storage": st, "yum": {"repodataDepth": 0}}),
        ),
        (
            "docker",
            json!({"name": "d", "online": true, "storage": st, "docker": {"v1Enabled": false, "forceBasicAuth": true}}),
        ),
    ] {
        let r = s
            .admin(POST, &format!("/service/rest/v1/repositories/{fmt}/hosted"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{fmt}");
    }
    for (p, body) in [
        ("/repository/r/f.txt", &b"raw"[..]),
        ("/repository/m/org/x/lib/1.0/lib-1.0.jar", &b"jar"[..]),
        ("/repository/y/a/arca-lib.rpm", LIB),
    ] {
        assert!(
            s.admin(PUT, p)
                .body(body.to_vec())
                .send()
                .await
                .unwrap()
                .status()
                .is_success(),
            "{p}"
        );
    }
    for who in ["reader", "deployer", "admin2"] {
        for i in 0..4 {
            s.admin(PUT, &format!("/repository/r/del-{who}-{i}.txt"))
                .body("x")
                .send()
                .await
                .unwrap();
        }
    }
    let role =
        |id: &str, privileges: Vec<&str>| json!({"id": id, "name": id, "privileges": privileges});
    for r in [
        role(
            "readers",
            vec![
                "nx-repository-view-*-*-read",
                "nx-repository-view-*-*-browse",
            ],
        ),
        role("r-deployers", vec!["nx-repository-view-raw-r-*"]),
    ] {
        assert_eq!(
            s.admin(POST, "/service/rest/v1/security/roles")
                .json(&r)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    for (id, role) in [
        ("reader", "readers"),
        ("deployer", "r-deployers"),
        ("admin2", "nx-admin"),
    ] {
        let u = json!({"userId": id, "firstName": id, "lastName": "T", "emailAddress": format!("{id}@example.org"),
                       "password": format!("{id}-password"), "status": "active", "roles": [role]});
        assert_eq!(
            s.admin(POST, "/service/rest/v1/security/users")
                .json(&u)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let _ = b;
}

async fn matrix(b: Backend) {
    let s = TestServer::start(b).await;
    setup(&s, b).await;
    let people = [
        Who {
            name: "anonymous",
            creds: None,
        },
        Who {
            name: "reader",
            creds: Some(("reader", "reader-password")),
        },
        Who {
            name: "deployer",
            creds: Some(("deployer", "deployer-password")),
        },
        Who {
            name: "admin2",
            creds: Some(("admin2", "admin2-password")),
        },
    ];
    // (what, method, path, body, [anonymous, reader, deployer, admin])
    type Row = (&'static str, Method, String, Vec<u8>, [Want; 4]);
    let rows = |who: &str| -> Vec<Row> {
        vec![
            ("raw read", GET, "/repository/r/f.txt".into(), vec![], [Unauth, Ok, Ok, Ok]),
            ("raw write", PUT, format!("/repository/r/new-{who}.txt"), b"n".to_vec(), [Unauth, Forbidden, Ok, Ok]),
            ("raw delete", DELETE, format!("/repository/r/del-{who}-0.txt"), vec![], [Unauth, Forbidden, Ok, Ok]),
            ("maven read", GET, "/repository/m/org/x/lib/1.0/lib-1.0.jar".into(), vec![], [Unauth, Ok, Forbidden, Ok]),
            ("maven write", PUT, format!("/repository/m/org/x/{who}/1.0/{who}-1.0.jar"), b"j".to_vec(), [Unauth, Forbidden, Forbidden, Ok]),
            ("pypi read", GET, "/repository/p/simple/".into(), vec![], [Unauth, Ok, Forbidden, Ok]),
            ("yum read", GET, "/repository/y/repodata/repomd.xml".into(), vec![], [Unauth, Ok, Forbidden, Ok]),
            ("yum delete", DELETE, "/repository/y/a/none.rpm".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("docker tags", GET, "/v2/d/app/tags/list".into(), vec![], [Unauth, Ok, Forbidden, Ok]),
            ("docker push", POST, "/v2/d/app/blobs/uploads/".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("list repositories", GET, "/service/rest/v1/repositories".into(), vec![], [Ok, Ok, Ok, Ok]),
            ("create repository", POST, "/service/rest/v1/repositories/raw/hosted".into(),
                serde_json::to_vec(&json!({"name": format!("new-{who}"), "online": true, "storage": {"blobStoreName": "default"}})).unwrap(),
                [Unauth, Forbidden, Forbidden, Ok]),
            ("users", GET, "/service/rest/v1/security/users".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("roles", GET, "/service/rest/v1/security/roles".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("audit", GET, "/service/rest/v1/audit".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("tasks", GET, "/service/rest/v1/tasks".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("blob stores", GET, "/service/rest/v1/blobstores".into(), vec![], [Unauth, Forbidden, Forbidden, Ok]),
            ("components of r", GET, "/service/rest/v1/components?repository=r".into(), vec![], [Unauth, Ok, Ok, Ok]),
            ("anonymous settings", PUT, "/service/rest/v1/security/anonymous".into(),
                serde_json::to_vec(&json!({"enabled": false})).unwrap(), [Unauth, Forbidden, Forbidden, Ok]),
        ]
    };
    let mut failures = Vec::new();
    for (i, who) in people.iter().enumerate() {
        for (what, method, path, body, want) in rows(who.name) {
            let mut r = s.client().request(method.clone(), s.at(&path)).body(body);
            if let Some((u, p)) = who.creds {
                r = r.basic_auth(u, Some(p));
            }
            if path.starts_with("/service/rest/v1") && method != GET {
                r = r.header("content-type", "application/json");
            }
            let st = r.send().await.unwrap().status().as_u16();
            let got = match st {
                401 => Unauth,
                403 => Forbidden,
                // A 404 past the authorisation check (nothing there) is an allow.
                200..=299 | 404 if what == "yum delete" || what == "docker tags" => Ok,
                200..=299 => Ok,
                other => {
                    failures.push(format!("{what} as {}: HTTP {other}", who.name));
                    continue;
                }
            };
            if got != want[i] {
                failures.push(format!(
                    "{what} as {}: want {:?}, got {got:?} (HTTP {st})",
                    who.name, want[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorisation matrix:\n{}",
        failures.join("\n")
    );
    // With anonymous access on, anonymous reads; it never writes.
    let r = s
        .admin(PUT, "/service/rest/v1/security/anonymous")
        .json(
            &json!({"enabled": true, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = s.client();
    assert_eq!(
        c.get(s.at("/repository/r/f.txt"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(s.at("/repository/m/org/x/lib/1.0/lib-1.0.jar"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.put(s.at("/repository/r/anon.txt"))
            .body("a")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.delete(s.at("/repository/r/f.txt"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(s.at("/service/rest/v1/security/users"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// Every operation of the served OpenAPI document, except the few open to every user (listed
/// here with why), refuses anonymous with 401 and the reader and deployer with 403: a new admin
/// endpoint without its guard fails here without anyone adding a row. Denied requests change
/// nothing, so the dummy path values and bodies are harmless.
async fn every_admin_endpoint(b: Backend) {
    let s = TestServer::start(b).await;
    setup(&s, b).await;
    let doc: serde_json::Value = s
        .client()
        .get(s.at("/service/rest/swagger.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // (method, path): decided per repository or per user, so open to the reader or deployer.
    const PER_REPOSITORY_OR_SELF: &[(&str, &str)] = &[
        ("get", "/v1/repositories"),
        ("get", "/v1/repositories/{name}"),
        ("get", "/v1/components"),
        ("post", "/v1/components"),
        ("get", "/v1/components/{id}"),
        ("delete", "/v1/components/{id}"),
        ("get", "/v1/assets"),
        ("get", "/v1/assets/{id}"),
        ("delete", "/v1/assets/{id}"),
        ("get", "/v1/search"),
        ("get", "/v1/search/assets"),
        ("get", "/v1/search/assets/download"),
        ("get", "/v1/search/suggest"),
        ("get", "/v1/formats/upload-specs"),
        ("get", "/v1/formats/{format}/upload-specs"),
        ("get", "/v1/security/tokens"),
        ("post", "/v1/security/tokens"),
        ("delete", "/v1/security/tokens/{id}"),
        ("put", "/v1/security/users/{userId}/change-password"),
        ("post", "/v1/pypi/{repository}/{project}/{version}/yank"),
        ("delete", "/v1/pypi/{repository}/{project}/{version}/yank"),
        ("get", "/v1/repositories/{repositoryName}/browse"),
        ("delete", "/v1/repositories/{repositoryName}/browse"),
    ];
    let people = [
        (None, 401, "anonymous"),
        (Some(("reader", "reader-password")), 403, "reader"),
        (Some(("deployer", "deployer-password")), 403, "deployer"),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let rel = path.trim_start_matches("/service/rest");
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete"].contains(&method.as_str()) {
                continue;
            }
            // `security: [{}]` marks the operations that need no authentication (status).
            if op["security"] == json!([{}]) || PER_REPOSITORY_OR_SELF.contains(&(method, rel)) {
                continue;
            }
            let url = path.replace(['{', '}'], "");
            for (creds, want, who) in &people {
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut r = s
                    .client()
                    .request(m, s.at(&url))
                    .header("content-type", "application/json")
                    .body("{}");
                if let Some((u, p)) = creds {
                    r = r.basic_auth(u, Some(p));
                }
                let got = r.send().await.unwrap().status().as_u16();
                if got != *want {
                    failures.push(format!(
                        "{} {rel} as {who}: HTTP {got}, want {want}",
                        method.to_uppercase()
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked > 40,
        "only {checked} admin operations found in the document"
    );
    assert!(
        failures.is_empty(),
        "admin endpoints:\n{}",
        failures.join("\n")
    );
    // The server is still as it was: nothing above got through.
    let r = s
        .admin(GET, "/service/rest/v1/read-only")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["frozen"],
        false
    );
}

both_backends!(matrix, every_admin_endpoint);
