//! The raw format end to end: hosted write policies, group resolution, browsing.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT};

async fn write_policies_and_groups(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("once", "ALLOW_ONCE").await;
    s.create_raw_hosted("deny", "DENY").await;
    s.create_raw_hosted("free", "ALLOW").await;

    assert_eq!(
        s.admin(PUT, "/repository/once/a/1.txt")
            .body("first")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let r = s
        .admin(PUT, "/repository/once/a/1.txt")
        .body("second")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not allow redeploying")
    );
    assert_eq!(
        s.admin(GET, "/repository/once/a/1.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "first"
    );
    assert_eq!(
        s.admin(PUT, "/repository/deny/x")
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(PUT, "/repository/free/a/1.txt")
            .body("from free")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        s.admin(PUT, "/repository/free/only-free.txt")
            .body("only")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );

    // Group: first member holding a path wins; nested groups resolve in order.
    let g = |name: &str, members: serde_json::Value| {
        json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true}, "group": {"memberNames": members}})
    };
    for (name, members) in [
        ("g", json!(["once", "free"])),
        ("g-rev", json!(["free", "once"])),
        ("outer", json!(["g-rev"])),
    ] {
        let r = s
            .admin(POST, "/service/rest/v1/repositories/raw/group")
            .json(&g(name, members))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    assert_eq!(
        s.admin(GET, "/repository/g/a/1.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "first"
    );
    assert_eq!(
        s.admin(GET, "/repository/g-rev/a/1.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "from free"
    );
    assert_eq!(
        s.admin(GET, "/repository/outer/a/1.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "from free"
    );
    assert_eq!(
        s.admin(GET, "/repository/g/only-free.txt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "only"
    );
    assert_eq!(
        s.admin(GET, "/repository/g/missing.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Groups are read-only.
    assert_eq!(
        s.admin(PUT, "/repository/g/new.txt")
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        s.admin(DELETE, "/repository/g/a/1.txt")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );

    // Browsing: the merged directory listing, links through the group.
    let r = s.admin(GET, "/repository/g/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("{}/repository/g/a/", s.url)),
        "{html}"
    );
    assert!(html.contains("only-free.txt"));
    assert_eq!(
        s.admin(GET, "/repository/g/nothing/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The repository root without its slash redirects (relative Location).
    let c = arca_testkit::reqwest::Client::builder()
        .redirect(arca_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .get(s.at("/repository/g"))
        .basic_auth("admin", Some(&s.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "g/");
    // Unknown repository.
    assert_eq!(
        s.admin(GET, "/repository/nope/x")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

both_backends!(write_policies_and_groups);
