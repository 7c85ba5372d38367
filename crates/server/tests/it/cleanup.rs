//! Cleanup policies: validated, named by repositories, applied through `cleanup/run` (a dry run
//! counts, a run deletes, Maven metadata follows) and by the daily task; a policy in use stays.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, json, rest};

const INTERNAL: &str = "/service/rest/internal/cleanup-policies";

async fn policy(s: &TestServer, body: Value) -> (u16, String) {
    let r = s.admin(POST, INTERNAL).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn status(s: &TestServer, path: &str) -> u16 {
    s.admin(GET, path).send().await.unwrap().status().as_u16()
}

async fn policies(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    for p in ["a/keep.txt", "tmp/x.log", "tmp/y.log"] {
        let r = s
            .admin(PUT, &format!("/repository/files/{p}"))
            .body(p.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // Validation, each on its field.
    for (body, field) in [
        (
            json!({"name": "p", "format": "raw", "criteriaAssetRegex": "("}),
            "criteriaAssetRegex",
        ),
        (
            json!({"name": "p", "format": "raw", "criteriaLastDownloaded": -1}),
            "criteriaLastDownloaded",
        ),
        (
            json!({"name": "p", "format": "raw", "criteriaReleaseType": "SOMETIMES"}),
            "criteriaReleaseType",
        ),
        (
            json!({"name": "p", "format": "cobol", "criteriaLastDownloaded": 1}),
            "format",
        ),
        (json!({"name": "p", "format": "raw"}), "criterion"),
    ] {
        let (st, text) = policy(&s, body.clone()).await;
        assert_eq!(st, 400, "{body}: {text}");
        assert!(text.contains(field), "{body}: {text}");
    }
    let logs = json!({"name": "logs", "format": "raw", "notes": "temporary logs",
                      "criteriaAssetRegex": "tmp/.*\\.log"});
    let (st, text) = policy(&s, logs.clone()).await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(policy(&s, logs).await.0, 409);
    let (st, _) = policy(
        &s,
        json!({"name": "recent", "format": "*", "criteriaLastBlobUpdated": 1}),
    )
    .await;
    assert_eq!(st, 200);

    // A repository names policies that exist.
    let mut files = json(
        s.admin(GET, "/service/rest/v1/repositories/raw/hosted/files")
            .send()
            .await
            .unwrap(),
    )
    .await;
    files["cleanup"] = json!({"policyNames": ["nope"]});
    let (st, text) = rest(&s, PUT, "/repositories/raw/hosted/files", files.clone()).await;
    assert_eq!(st, 400);
    assert!(text.contains("cleanup.policyNames"), "{text}");
    files["cleanup"] = json!({"policyNames": ["logs"]});
    assert_eq!(
        rest(&s, PUT, "/repositories/raw/hosted/files", files)
            .await
            .0,
        204
    );
    let got = json(
        s.admin(GET, &format!("{INTERNAL}/logs"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["inUseCount"], 1);
    assert_eq!(got["criteriaAssetRegex"], "tmp/.*\\.log");

    // A dry run counts; a run deletes exactly the matches.
    let (st, text) = rest(
        &s,
        POST,
        "/cleanup/run",
        json!({"repository": "files", "dryRun": true}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            v["componentCount"].as_i64(),
            v["componentsDeleted"].as_i64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(status(&s, "/repository/files/tmp/x.log").await, 200);
    // Written just now: not a day old, so "recent" (1 day) matches nothing.
    let (_, text) = rest(
        &s,
        POST,
        "/cleanup/run",
        json!({"repository": "files", "policy": "recent", "dryRun": true}),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["componentCount"],
        0
    );
    let (st, text) = rest(&s, POST, "/cleanup/run", json!({"repository": "files"})).await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["componentsDeleted"],
        2
    );
    assert_eq!(status(&s, "/repository/files/tmp/x.log").await, 404);
    assert_eq!(status(&s, "/repository/files/tmp/y.log").await, 404);
    assert_eq!(status(&s, "/repository/files/a/keep.txt").await, 200);

    // Maven: prereleases go, releases stay, metadata follows; through the daily task.
    let r = s.admin(POST, "/service/rest/v1/repositories/maven/hosted")
        .json(&json!({"name": "mvn", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                      "maven": {"versionPolicy": "MIXED", "layoutPolicy": "STRICT"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    for v in ["1.0", "1.1-SNAPSHOT"] {
        let p = format!("/repository/mvn/org/example/lib/{v}/lib-{v}.jar");
        assert_eq!(
            s.admin(PUT, &p)
                .body(format!("jar {v}"))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let (st, _) = policy(
        &s,
        json!({"name": "snapshots", "format": "maven2", "criteriaReleaseType": "PRERELEASES"}),
    )
    .await;
    assert_eq!(st, 200);
    let mut mvn = json(
        s.admin(GET, "/service/rest/v1/repositories/maven/hosted/mvn")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A raw-only policy does not suit Maven.
    mvn["cleanup"] = json!({"policyNames": ["logs"]});
    assert_eq!(
        rest(&s, PUT, "/repositories/maven/hosted/mvn", mvn.clone())
            .await
            .0,
        400
    );
    mvn["cleanup"] = json!({"policyNames": ["snapshots"]});
    assert_eq!(
        rest(&s, PUT, "/repositories/maven/hosted/mvn", mvn).await.0,
        204
    );
    let (st, text) = rest(&s, POST, "/tasks/repository-cleanup/run", json!(null)).await;
    assert!(st == 200 || st == 204, "{st} {text}");
    let task = json(
        s.admin(GET, "/service/rest/v1/tasks/repository-cleanup")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        task["message"]
            .as_str()
            .unwrap()
            .starts_with("OK: deleted 1 components"),
        "{task}"
    );
    assert_eq!(
        status(
            &s,
            "/repository/mvn/org/example/lib/1.1-SNAPSHOT/lib-1.1-SNAPSHOT.jar"
        )
        .await,
        404
    );
    assert_eq!(
        status(&s, "/repository/mvn/org/example/lib/1.0/lib-1.0.jar").await,
        200
    );
    let meta = s
        .admin(GET, "/repository/mvn/org/example/lib/maven-metadata.xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        meta.contains("<version>1.0</version>") && !meta.contains("1.1-SNAPSHOT"),
        "{meta}"
    );

    // A policy in use stays; an unused one goes.
    let r = s
        .admin(DELETE, &format!("{INTERNAL}/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.admin(DELETE, &format!("{INTERNAL}/recent"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(status(&s, &format!("{INTERNAL}/recent")).await, 404);
    let list = json(s.admin(GET, INTERNAL).send().await.unwrap()).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logs", "snapshots"]);
}

both_backends!(policies);
