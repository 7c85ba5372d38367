//! Deeply nested JSON: REST bodies past serde_json's 128 levels and docker manifests past 64
//! are answered with a 400 (not a 500, not a crash), and the server stays up.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{POST, PUT, json};

const DEEP: usize = 100_000;

fn arrays(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

fn objects(n: usize) -> String {
    format!("{}1{}", "{\"name\":".repeat(n), "}".repeat(n))
}

async fn deeply_nested_json_is_a_400(b: Backend) {
    let s = TestServer::start(b).await;
    let rest = [
        "/service/rest/v1/security/content-selectors",
        "/service/rest/v1/security/users",
        "/service/rest/v1/repositories/raw/hosted",
        "/service/rest/v1/blobstores/file",
    ];
    for path in rest {
        for body in [arrays(DEEP), objects(DEEP), objects(200)] {
            let r = s
                .admin(POST, path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{path}");
            let v = json(r).await;
            let msg = v[0]["message"].as_str().unwrap_or_default();
            // Typed bodies fail at the first wrong type (or skip an unknown field's value
            // without recursion, then miss a required one); a `Value` at the depth limit.
            if path.ends_with("/hosted") {
                assert!(msg.contains("nested deeper than 128"), "{path}: {msg}");
            } else {
                assert!(!msg.is_empty(), "{path}");
            }
        }
    }

    let r = s
        .admin(POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&json!({"name": "dh", "online": true,
            "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "docker": {"v1Enabled": false, "forceBasicAuth": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let media = "application/vnd.oci.image.manifest.v1+json";
    for n in [DEEP, 100] {
        for inner in [arrays(n), objects(n)] {
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"{media}","config":{{"mediaType":"c","digest":"sha256:{}","size":1}},"layers":[],"annotations":{{"a":{inner}}}}}"#,
                "0".repeat(64)
            );
            let r = s
                .admin(PUT, "/v2/dh/app/manifests/deep")
                .header("content-type", media)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400);
            let v = json(r).await;
            assert_eq!(v["errors"][0]["code"], "MANIFEST_INVALID");
            let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(msg.contains("nested deeper than 64"), "{msg}");
        }
    }

    let r = s
        .admin(crate::GET, "/service/rest/v1/status")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

both_backends!(deeply_nested_json_is_a_400);
