//! `security/users`, `security/roles`, `security/user-sources`: Nexus's shapes, validation,
//! and that changes take effect at once (a disabled user's logins and registry tokens stop).

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json};

const API: &str = "/service/rest/v1/security";

async fn users_and_roles(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let post =
        |p: &str, body: serde_json::Value| s.admin(POST, &format!("{API}/{p}")).json(&body).send();
    let put =
        |p: &str, body: serde_json::Value| s.admin(PUT, &format!("{API}/{p}")).json(&body).send();
    // A role that may read raw repositories.
    let role = json!({"id": "raw-reader", "name": "Raw reader", "description": "reads raw",
                      "privileges": ["nx-repository-view-raw-*-read"], "roles": []});
    let r = post("roles", role.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v = json(r).await;
    assert_eq!(v["id"], "raw-reader");
    assert_eq!(v["readOnly"], false);
    assert_eq!(v["source"], "default");
    assert_eq!(post("roles", role.clone()).await.unwrap().status(), 409);
    let mut cyc = role.clone();
    cyc["roles"] = json!(["raw-reader"]);
    assert_eq!(
        put("roles/raw-reader", cyc).await.unwrap().status(),
        400,
        "a role cannot contain itself"
    );
    let mut missing = role.clone();
    missing["id"] = json!("other");
    missing["roles"] = json!(["no-such-role"]);
    assert_eq!(post("roles", missing).await.unwrap().status(), 400);
    assert_eq!(
        put("roles/nx-admin", json!({"id": "nx-admin", "name": "x"}))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/roles/nx-anonymous"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let roles = json(s.admin(GET, &format!("{API}/roles")).send().await.unwrap()).await;
    let ids: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"nx-admin") && ids.contains(&"nx-anonymous") && ids.contains(&"raw-reader"),
        "{ids:?}"
    );

    // Users.
    let user = json!({"userId": "alice", "firstName": "Alice", "lastName": "Liddell",
                      "emailAddress": "alice@example.org", "password": "alice-password",
                      "status": "active", "roles": ["raw-reader"]});
    let r = post("users", user.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v = json(r).await;
    assert_eq!(v["userId"], "alice");
    assert_eq!(v["emailAddress"], "alice@example.org");
    assert_eq!(v["source"], "default");
    assert!(v.get("password").is_none());
    assert_eq!(post("users", user.clone()).await.unwrap().status(), 409);
    for (field, value) in [
        ("emailAddress", json!("not-an-email")),
        ("password", json!("short")),
        ("roles", json!(["nope"])),
        ("status", json!("sleeping")),
        ("userId", json!("a:b")),
    ] {
        let mut bad = user.clone();
        bad[field] = value;
        bad["userId"] = if field == "userId" {
            bad[field].clone()
        } else {
            json!("bob")
        };
        let r = post("users", bad).await.unwrap();
        assert_eq!(r.status(), 400, "{field}");
        assert!(
            json(r).await[0]["id"].as_str().unwrap().contains(field),
            "{field}"
        );
    }
    let list = json(
        s.admin(GET, &format!("{API}/users?userId=ali"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["roles"], json!(["raw-reader"]));
    let sources = json(
        s.admin(GET, &format!("{API}/user-sources"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sources, json!([{"id": "default", "name": "Local"}]));

    // Alice reads raw content, and may not administer users.
    s.create_raw_hosted("files", "ALLOW").await;
    s.admin(PUT, "/repository/files/a.txt")
        .body("hello")
        .send()
        .await
        .unwrap();
    let as_alice = |p: &str| {
        c.get(s.at(p))
            .basic_auth("alice", Some("alice-password"))
            .send()
    };
    assert_eq!(
        as_alice("/repository/files/a.txt").await.unwrap().status(),
        200
    );
    assert_eq!(
        as_alice(&format!("{API}/users")).await.unwrap().status(),
        403
    );
    // A registry-style token of hers stops working when she is disabled.
    let token = json(
        c.post(s.at("/service/rest/v1/security/tokens"))
            .basic_auth("alice", Some("alice-password"))
            .json(&json!({"name": "ci"}))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.get(s.at("/repository/files/a.txt"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let jwt = json(
        c.get(s.at("/v2/token?service=arca"))
            .basic_auth("alice", Some("alice-password"))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.get(s.at("/v2/"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut disabled = user.clone();
    disabled["status"] = json!("disabled");
    disabled["source"] = json!("default");
    assert_eq!(put("users/alice", disabled).await.unwrap().status(), 204);
    assert_eq!(
        as_alice("/repository/files/a.txt").await.unwrap().status(),
        401
    );
    assert_eq!(
        c.get(s.at("/repository/files/a.txt"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(s.at("/v2/"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "registry token of a disabled user"
    );
    // Re-enabled without the role: authenticated, but forbidden.
    let mut plain = user.clone();
    plain["roles"] = json!([]);
    assert_eq!(put("users/alice", plain).await.unwrap().status(), 204);
    assert_eq!(
        as_alice("/repository/files/a.txt").await.unwrap().status(),
        403
    );
    // Role changes apply at once too.
    let mut back = user.clone();
    back["roles"] = json!(["raw-reader"]);
    assert_eq!(put("users/alice", back).await.unwrap().status(), 204);
    let mut narrower = role.clone();
    narrower["privileges"] = json!(["nx-repository-view-maven2-*-read"]);
    assert_eq!(
        put("roles/raw-reader", narrower).await.unwrap().status(),
        204
    );
    assert_eq!(
        as_alice("/repository/files/a.txt").await.unwrap().status(),
        403
    );
    // Deletes.
    assert_eq!(
        s.admin(DELETE, &format!("{API}/users/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        400,
        "not yourself"
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/users/anonymous"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/users/alice"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/users/alice"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        as_alice("/repository/files/a.txt").await.unwrap().status(),
        401
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/roles/raw-reader"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(GET, &format!("{API}/roles/raw-reader"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// The audit log records who changed what, newest first; upload specs describe the forms.
async fn audit_and_upload_specs(b: Backend) {
    let s = TestServer::start(b).await;
    for i in 0..3 {
        let r = s
            .admin(POST, &format!("{API}/roles"))
            .json(&json!({"id": format!("r{i}"), "name": format!("Role {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let v = json(s.admin(GET, "/service/rest/v1/audit").send().await.unwrap()).await;
    let first = &v["items"][0];
    assert_eq!(first["domain"], "security.role");
    assert_eq!(first["type"], "created");
    assert_eq!(first["context"], "r2");
    assert_eq!(first["actor"], "admin");
    assert!(first["timestamp"].as_str().unwrap().ends_with("+00:00"));
    let anon = s
        .client()
        .get(s.at("/service/rest/v1/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let specs = json(
        s.admin(GET, "/service/rest/v1/formats/upload-specs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        specs
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["format"] == "yum")
    );
    let yum = json(
        s.admin(GET, "/service/rest/v1/formats/yum/upload-specs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(yum["componentFields"][0]["name"], "directory");
    assert_eq!(
        s.admin(GET, "/service/rest/v1/formats/docker/upload-specs")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

both_backends!(users_and_roles, audit_and_upload_specs);
