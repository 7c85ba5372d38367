//! A restart keeps repositories, content, users and tokens.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{GET, POST, PUT, json};

async fn restart_keeps_everything(b: Backend) {
    let mut s = TestServer::start(b).await;
    s.create_raw_hosted("keep", "ALLOW").await;
    assert_eq!(
        s.admin(PUT, "/repository/keep/dir/file.txt")
            .body("kept")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let token = json(
        s.admin(POST, "/service/rest/v1/security/tokens")
            .json(&json!({"name": "t"}))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.admin(PUT, "/service/rest/v1/security/anonymous")
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    let before = s.admin_password.clone();

    s.restart().await;

    // Same admin password (not regenerated), same file.
    assert_eq!(s.admin_password, before);
    let repos = json(
        s.admin(GET, "/service/rest/v1/repositories")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(repos[0]["name"], "keep");
    let c = s.client();
    let r = c
        .get(s.at("/repository/keep/dir/file.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "anonymous access setting survived");
    assert_eq!(r.text().await.unwrap(), "kept");
    let r = c
        .get(s.at("/service/rest/v1/repositorySettings"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

both_backends!(restart_keeps_everything);
