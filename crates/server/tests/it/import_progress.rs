//! `/service/rest/internal/import-progress`: what `arca import nexus` copied, kept in the
//! database (issue 20) — per source and repository, paged, batched, administrators only, and
//! forgotten with its repository.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, json, rest};

const PATH: &str = "/service/rest/internal/import-progress";

async fn page(s: &TestServer, source: &str, repo: &str, token: Option<&str>) -> Value {
    let mut q = vec![("source", source), ("repository", repo)];
    if let Some(t) = token {
        q.push(("continuationToken", t));
    }
    json(s.admin(GET, PATH).query(&q).send().await.unwrap()).await
}

async fn post(s: &TestServer, body: Value) -> u16 {
    s.admin(POST, PATH)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn import_progress(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let set: Vec<Value> = (0..1500)
        .map(|i| json!({"path": format!("d/f-{i:04}"), "checksum": format!("sha256:{i:064x}")}))
        .collect();
    // More than a request may carry is refused whole.
    assert_eq!(
        post(
            &s,
            json!({"source": "https://a", "repository": "files", "set": set})
        )
        .await,
        400
    );
    assert!(
        page(&s, "https://a", "files", None).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for chunk in set.chunks(1000) {
        assert_eq!(
            post(
                &s,
                json!({"source": "https://a", "repository": "files", "set": chunk})
            )
            .await,
            204
        );
    }
    // Another source's record of the same repository is its own.
    assert_eq!(
        post(
            &s,
            json!({"source": "https://b", "repository": "files",
                        "set": [{"path": "d/f-0000", "checksum": "sha1:00"}]})
        )
        .await,
        204
    );
    // Paged in path order, every entry once.
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let p = page(&s, "https://a", "files", token.as_deref()).await;
        all.extend(p["items"].as_array().unwrap().iter().cloned());
        match p["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(all.len(), 1500);
    assert_eq!(all[0]["path"], "d/f-0000");
    assert_eq!(all[0]["checksum"], format!("sha256:{:064x}", 0));
    assert_eq!(all[1499]["path"], "d/f-1499");
    // A NUL (which PostgreSQL's TEXT cannot hold) is the client's error, and the batch
    // around it is not applied.
    assert_eq!(
        post(&s, json!({"source": "https://a", "repository": "files",
                        "set": [{"path": "d/new", "checksum": "sha1:01"}, {"path": "d/\u{0}", "checksum": "sha1:02"}]}))
        .await,
        400
    );
    // Forgetting and changing in one batch.
    assert_eq!(
        post(
            &s,
            json!({"source": "https://a", "repository": "files",
                        "set": [{"path": "d/f-0001", "checksum": "sha1:ff"}],
                        "forget": ["d/f-0000"]})
        )
        .await,
        204
    );
    let p = page(&s, "https://a", "files", None).await;
    assert_eq!(
        p["items"][0],
        json!({"path": "d/f-0001", "checksum": "sha1:ff"})
    );
    assert!(
        !p["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["path"] == "d/new"),
        "nothing of the refused batch was applied"
    );
    let b = page(&s, "https://b", "files", None).await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);

    // Administrators only: a user with every repository privilege but not settings' may
    // neither read nor write it.
    let (st, text) = rest(
        &s,
        POST,
        "/security/roles",
        json!({"id": "dev-role", "name": "dev-role",
               "privileges": ["nx-repository-admin-*-*-*", "nx-repository-view-*-*-*"]}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let (st, text) = rest(
        &s,
        POST,
        "/security/users",
        json!({"userId": "dev", "firstName": "d", "lastName": "d", "emailAddress": "d@x",
               "password": "dev-pass-1", "status": "active", "roles": ["dev-role"]}),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let c = s.client();
    let r = c
        .get(s.at(PATH))
        .query(&[("source", "https://a"), ("repository", "files")])
        .basic_auth("dev", Some("dev-pass-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(s.at(PATH))
        .json(&json!({"source": "https://a", "repository": "files", "forget": ["d/f-0001"]}))
        .basic_auth("dev", Some("dev-pass-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        page(&s, "https://a", "files", None).await["items"][0]["path"],
        "d/f-0001"
    );

    // A repository deleted (and made again under its name) starts with no import history.
    let r = s
        .admin(DELETE, "/service/rest/v1/repositories/files")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    for src in ["https://a", "https://b"] {
        assert!(
            page(&s, src, "files", None).await["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

both_backends!(import_progress);
