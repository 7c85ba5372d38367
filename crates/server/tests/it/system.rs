//! `read-only` (freeze/release: every write refused, reads served, state kept across a restart)
//! and `lifecycle`.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json};

const API: &str = "/service/rest/v1";

async fn status(s: &TestServer, method: arca_testkit::reqwest::Method, path: &str) -> u16 {
    s.admin(method, path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn freeze_and_release(b: Backend) {
    let mut s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let r = s
        .admin(POST, &format!("{API}/repositories/docker/hosted"))
        .json(&json!({"name": "dh", "online": true,
                      "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .admin(PUT, "/repository/files/a.txt")
        .body("one")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let state = json(
        s.admin(GET, &format!("{API}/read-only"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["frozen"], false);

    // Only an administrator freezes.
    let anon = s
        .client()
        .post(s.at(&format!("{API}/read-only/freeze")))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    assert_eq!(
        status(&s, POST, &format!("{API}/read-only/freeze")).await,
        204
    );
    assert_eq!(
        status(&s, POST, &format!("{API}/read-only/freeze")).await,
        404
    );
    let state = json(
        s.admin(GET, &format!("{API}/read-only"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["frozen"], true);
    assert_eq!(state["systemInitiated"], false);
    assert!(state["summaryReason"].as_str().unwrap().contains("admin"));

    // Kept across a restart (it is in the database, not in memory).
    s.restart().await;
    {
        {
            // Reads are served.
            let r = s
                .admin(GET, "/repository/files/a.txt")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), "one");
            // Writes and deletes are refused with 503 and change nothing.
            let r = s
                .admin(PUT, "/repository/files/b.txt")
                .body("two")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 503);
            assert!(r.text().await.unwrap().contains("read-only"));
            assert_eq!(status(&s, DELETE, "/repository/files/a.txt").await, 503);
            assert_eq!(
                status(&s, DELETE, &format!("{API}/repositories/files")).await,
                503
            );
            assert_eq!(status(&s, GET, "/repository/files/b.txt").await, 404);
            assert_eq!(status(&s, GET, "/repository/files/a.txt").await, 200);
            // A docker push is refused at its first write, in the registry's error shape.
            let r = s
                .admin(POST, "/v2/dh/app/blobs/uploads/")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 503);
            let e = json(r).await;
            assert_eq!(e["errors"][0]["code"], "UNAVAILABLE");
        }
    }

    assert_eq!(
        status(&s, POST, &format!("{API}/read-only/release")).await,
        204
    );
    assert_eq!(
        status(&s, POST, &format!("{API}/read-only/release")).await,
        404
    );
    assert_eq!(
        status(&s, POST, &format!("{API}/read-only/force-release")).await,
        404
    );
    let r = s
        .admin(PUT, "/repository/files/b.txt")
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(status(&s, DELETE, "/repository/files/a.txt").await, 204);
    let state = json(
        s.admin(GET, &format!("{API}/read-only"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["frozen"], false);
    assert_eq!(state["summaryReason"], "");
}

async fn lifecycle(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s
        .admin(GET, &format!("{API}/lifecycle/phase"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "TASKS");
    let send =
        |m, path: &str, body: &'static str| s.admin(m, &format!("{API}{path}")).body(body).send();
    assert_eq!(
        send(PUT, "/lifecycle/phase", "TASKS")
            .await
            .unwrap()
            .status(),
        204
    );
    let r = send(PUT, "/lifecycle/phase", "KERNEL").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("KERNEL"));
    assert_eq!(
        send(PUT, "/lifecycle/phase", "NOPE")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        send(PUT, "/lifecycle/bounce", "SECURITY")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        send(PUT, "/lifecycle/bounce", "NOPE")
            .await
            .unwrap()
            .status(),
        400
    );
    let anon = s
        .client()
        .get(s.at(&format!("{API}/lifecycle/phase")))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

both_backends!(freeze_and_release, lifecycle);
