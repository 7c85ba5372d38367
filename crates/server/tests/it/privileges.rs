//! `security/privileges` and `security/content-selectors`: typed privileges grant what they
//! say (application, repository view, wildcard) and content-selector privileges only the
//! paths their expression selects; built-ins are read-only; changes apply at once.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json};

const API: &str = "/service/rest/v1/security";

async fn typed_privileges_and_selectors(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    for p in ["org/a.txt", "com/b.txt"] {
        let r = s
            .admin(PUT, &format!("/repository/files/{p}"))
            .body(p.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{p}");
    }
    let post =
        |p: &str, body: serde_json::Value| s.admin(POST, &format!("{API}/{p}")).json(&body).send();
    let put =
        |p: &str, body: serde_json::Value| s.admin(PUT, &format!("{API}/{p}")).json(&body).send();

    // Content selectors: a bad expression is refused with the field named.
    let r = post(
        "content-selectors",
        json!({"name": "org-only", "expression": "path =^ \"/org/"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await[0]["id"], "PARAMETER expression");
    let r = post(
        "content-selectors",
        json!({"name": "org-only", "description": "org only",
               "expression": "format == \"raw\" and path =^ \"/org/\""}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let v = json(
        s.admin(GET, &format!("{API}/content-selectors/org-only"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["type"], "csel");
    assert_eq!(v["description"], "org only");

    // Typed privileges, each validated.
    for (kind, body, field) in [
        (
            "repository-content-selector",
            json!({"name": "x", "format": "raw", "repository": "files", "contentSelector": "nope", "actions": ["READ"]}),
            "PARAMETER contentSelector",
        ),
        (
            "repository-view",
            json!({"name": "x", "format": "raw", "repository": "no-such-repo", "actions": ["READ"]}),
            "PARAMETER repository",
        ),
        (
            "repository-view",
            json!({"name": "x", "format": "raw", "repository": "files", "actions": []}),
            "PARAMETER actions",
        ),
        (
            "wildcard",
            json!({"name": "x", "pattern": "something:else"}),
            "PARAMETER pattern",
        ),
        (
            "application",
            json!({"name": "nx-mine", "domain": "tasks", "actions": ["READ"]}),
            "PARAMETER name",
        ),
    ] {
        let r = post(&format!("privileges/{kind}"), body).await.unwrap();
        assert_eq!(r.status(), 400, "{kind}");
        assert_eq!(json(r).await[0]["id"], field, "{kind}");
    }
    for (kind, body) in [
        (
            "repository-content-selector",
            json!({"name": "files-org-read", "format": "raw", "repository": "files", "contentSelector": "org-only", "actions": ["READ", "BROWSE"]}),
        ),
        (
            "repository-view",
            json!({"name": "files-add", "format": "raw", "repository": "files", "actions": ["ADD"]}),
        ),
        (
            "application",
            json!({"name": "blobstores-read", "domain": "blobstores", "actions": ["READ"]}),
        ),
        (
            "wildcard",
            json!({"name": "tasks-all", "pattern": "nexus:tasks:*"}),
        ),
    ] {
        let r = post(&format!("privileges/{kind}"), body.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{kind}");
        let r = post(&format!("privileges/{kind}"), body).await.unwrap();
        assert_eq!(r.status(), 400, "{kind} twice");
    }
    let list = json(
        s.admin(GET, &format!("{API}/privileges"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let find = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} not listed"))
    };
    assert_eq!(find("nx-all")["type"], "wildcard");
    assert_eq!(find("nx-all")["readOnly"], true);
    assert_eq!(
        find("nx-repository-view-raw-files-read")["type"],
        "repository-view"
    );
    let p = find("files-org-read");
    assert_eq!(p["type"], "repository-content-selector");
    assert_eq!(p["contentSelector"], "org-only");
    assert_eq!(p["actions"], json!(["READ", "BROWSE"]));
    assert_eq!(p["readOnly"], false);
    let one = json(
        s.admin(GET, &format!("{API}/privileges/tasks-all"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["pattern"], "nexus:tasks:*");
    let st = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        st(s.admin(GET, &format!("{API}/privileges/nope"))
            .send()
            .await
            .unwrap()),
        404
    );
    assert_eq!(
        st(s.admin(DELETE, &format!("{API}/privileges/nx-all"))
            .send()
            .await
            .unwrap()),
        400
    );
    assert_eq!(
        st(s.admin(DELETE, &format!("{API}/privileges/nope"))
            .send()
            .await
            .unwrap()),
        404
    );
    assert_eq!(
        st(s.client()
            .get(s.at(&format!("{API}/privileges")))
            .send()
            .await
            .unwrap()),
        401
    );
    // Updating through another type's endpoint is refused; a built-in cannot be changed.
    assert_eq!(
        st(put(
            "privileges/wildcard/files-add",
            json!({"name": "files-add", "pattern": "nexus:*"})
        )
        .await
        .unwrap()),
        400
    );
    assert_eq!(
        st(put(
            "privileges/wildcard/nx-all",
            json!({"name": "nx-all", "pattern": "nexus:*"})
        )
        .await
        .unwrap()),
        400
    );

    // A user whose role holds them.
    let r = post(
        "roles",
        json!({"id": "org-reader", "name": "org reader", "description": "",
               "privileges": ["files-org-read", "files-add", "blobstores-read", "tasks-all"], "roles": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        "users",
        json!({"userId": "bob", "firstName": "Bob", "lastName": "B", "emailAddress": "bob@example.org",
               "password": "bob-password", "status": "active", "roles": ["org-reader"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let bob = |m: reqwest::Method, p: &str| {
        s.client()
            .request(m, s.at(p))
            .basic_auth("bob", Some("bob-password"))
            .send()
    };
    assert_eq!(
        st(bob(GET, "/repository/files/org/a.txt").await.unwrap()),
        200
    );
    assert_eq!(
        st(bob(GET, "/repository/files/com/b.txt").await.unwrap()),
        403
    );
    // Search shows bob the selected paths only; admin sees both.
    let names = |v: serde_json::Value| {
        let mut n: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_owned()
            })
            .collect();
        n.sort();
        n
    };
    let found = json(
        bob(GET, "/service/rest/v1/search/assets?repository=files")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(names(found), ["org/a.txt"]);
    let found = json(
        s.admin(GET, "/service/rest/v1/search/assets?repository=files")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(names(found), ["com/b.txt", "org/a.txt"]);
    // Every listing applies one rule (core's visibility): the repository list shows bob the
    // repository his selector sees, as search and browse do.
    let listed = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let repos = json(bob(GET, "/service/rest/v1/repositories").await.unwrap()).await;
    assert_eq!(listed(repos), ["files"]);
    // So does a user who may only read it (no browse privilege).
    let r = post(
        "roles",
        json!({"id": "files-reader", "name": "files reader", "description": "",
               "privileges": ["nx-repository-view-raw-files-read"], "roles": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        "users",
        json!({"userId": "carol", "firstName": "Carol", "lastName": "C", "emailAddress": "carol@example.org",
               "password": "carol-password", "status": "active", "roles": ["files-reader"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let repos = json(
        s.client()
            .get(s.at("/service/rest/v1/repositories"))
            .basic_auth("carol", Some("carol-password"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed(repos), ["files"]);
    let comps = json(bob(GET, "/service/rest/v1/search?q=b.txt").await.unwrap()).await;
    assert_eq!(comps["items"], json!([]), "{comps}");
    assert_eq!(
        st(bob(GET, "/service/rest/v1/blobstores").await.unwrap()),
        200
    );
    assert_eq!(st(bob(GET, "/service/rest/v1/tasks").await.unwrap()), 200);
    assert_eq!(
        st(bob(GET, "/service/rest/v1/security/users").await.unwrap()),
        403
    );
    assert_eq!(
        st(bob(DELETE, "/repository/files/org/a.txt").await.unwrap()),
        403
    );
    let r = s
        .client()
        .put(s.at("/repository/files/new.txt"))
        .basic_auth("bob", Some("bob-password"))
        .body("new")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "files-add lets bob upload");

    // Changing the selector moves what bob may read, at once.
    let r = put(
        "content-selectors/org-only",
        json!({"description": "now com", "expression": "path =~ \"/com/.*\""}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        st(bob(GET, "/repository/files/com/b.txt").await.unwrap()),
        200
    );
    assert_eq!(
        st(bob(GET, "/repository/files/org/a.txt").await.unwrap()),
        403
    );
    // Narrowing a privilege's actions applies too.
    let r = put(
        "privileges/repository-content-selector/files-org-read",
        json!({"name": "files-org-read", "format": "raw", "repository": "files", "contentSelector": "org-only", "actions": ["BROWSE"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        st(bob(GET, "/repository/files/com/b.txt").await.unwrap()),
        403
    );

    // A selector in use cannot go; once its privilege is deleted it can.
    assert_eq!(
        st(
            s.admin(DELETE, &format!("{API}/content-selectors/org-only"))
                .send()
                .await
                .unwrap()
        ),
        400
    );
    assert_eq!(
        st(s.admin(DELETE, &format!("{API}/privileges/files-org-read"))
            .send()
            .await
            .unwrap()),
        204
    );
    assert_eq!(
        st(
            s.admin(DELETE, &format!("{API}/content-selectors/org-only"))
                .send()
                .await
                .unwrap()
        ),
        204
    );
    assert_eq!(
        st(s.admin(GET, &format!("{API}/content-selectors/org-only"))
            .send()
            .await
            .unwrap()),
        404
    );

    // Every change is in the audit log.
    let audit = json(s.admin(GET, "/service/rest/v1/audit").send().await.unwrap()).await;
    let text = audit.to_string();
    for needle in [
        "security.privilege",
        "security.selector",
        "files-org-read",
        "org-only",
    ] {
        assert!(text.contains(needle), "{needle} not audited");
    }
}

/// Deeply nested expressions overflowed the parser's stack and aborted the whole server; they
/// are refused with a 400 naming the field, on create and on update, and the server stays up.
async fn nested_selector_expressions_are_refused(b: Backend) {
    let s = TestServer::start(b).await;
    let leaf = r#"path =^ "/org/""#;
    let hostile = [
        format!("{}{leaf}{}", "(".repeat(3000), ")".repeat(3000)),
        format!("{}{leaf}", "not ".repeat(5000)),
        format!("{}{leaf}", "!".repeat(5000)),
        "(".repeat(100_000),
        vec![leaf; 1000].join(" or "),
    ];
    for e in &hostile {
        let r = s
            .admin(POST, &format!("{API}/content-selectors"))
            .json(&json!({"name": "deep", "expression": e}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{}", &e[..20]);
        assert_eq!(json(r).await[0]["id"], "PARAMETER expression");
    }
    let r = s
        .admin(POST, &format!("{API}/content-selectors"))
        .json(&json!({"name": "fine", "expression": format!("((not not {leaf}))")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for e in &hostile {
        let r = s
            .admin(PUT, &format!("{API}/content-selectors/fine"))
            .json(&json!({"expression": e}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(json(r).await[0]["id"], "PARAMETER expression");
    }
    let v = json(
        s.admin(GET, &format!("{API}/content-selectors/fine"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["expression"], format!("((not not {leaf}))"));
    let r = s
        .admin(GET, "/service/rest/v1/status")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

both_backends!(
    typed_privileges_and_selectors,
    nested_selector_expressions_are_refused
);
