//! The OpenAPI document (`/service/rest/swagger.json`) describes every REST route, and the API
//! page (`/service/rest/api`) is served.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::Value;

use crate::json;

/// Every route the `configure` functions of `arca_web::api` register under `/service/rest/v1`
/// (with the component upload `api::configure` adds from core), and those the formats register
/// there. Add new routes here.
/// A ROUTES path in full: under `/service/rest/v1`, or `/service/rest` for `/internal/...`.
fn full_path(p: &str) -> String {
    if p.starts_with("/internal/") {
        format!("/service/rest{p}")
    } else {
        format!("/service/rest/v1{p}")
    }
}

const ROUTES: &[(&str, &str)] = &[
    // status.rs
    ("get", "/status"),
    ("get", "/status/writable"),
    ("get", "/status/check"),
    // repositories.rs
    ("get", "/repositories"),
    ("get", "/repositorySettings"),
    ("get", "/repositories/{name}"),
    ("delete", "/repositories/{name}"),
    ("post", "/repositories/{format}/{kind}"),
    ("get", "/repositories/{format}/{kind}/{name}"),
    ("put", "/repositories/{format}/{kind}/{name}"),
    // blobstores.rs
    ("get", "/blobstores"),
    ("delete", "/blobstores/{name}"),
    ("post", "/blobstores/file"),
    ("get", "/blobstores/file/{name}"),
    ("put", "/blobstores/file/{name}"),
    ("post", "/blobstores/s3"),
    ("get", "/blobstores/s3/{name}"),
    ("put", "/blobstores/s3/{name}"),
    ("get", "/blobstores/{name}/quota-status"),
    // security.rs
    ("get", "/security/anonymous"),
    ("put", "/security/anonymous"),
    ("get", "/security/tokens"),
    ("post", "/security/tokens"),
    ("delete", "/security/tokens/{id}"),
    ("put", "/security/users/{userId}/change-password"),
    // tasks.rs
    ("get", "/tasks"),
    ("get", "/tasks/{id}"),
    ("post", "/tasks/{id}/run"),
    ("post", "/tasks/{id}/stop"),
    ("post", "/tasks"),
    ("get", "/tasks/templates"),
    ("get", "/tasks/templates/{typeId}"),
    ("put", "/tasks/{taskId}"),
    ("delete", "/tasks/{id}"),
    // users.rs
    ("get", "/security/users"),
    ("post", "/security/users"),
    ("put", "/security/users/{userId}"),
    ("delete", "/security/users/{userId}"),
    ("get", "/security/user-sources"),
    ("get", "/security/roles"),
    ("post", "/security/roles"),
    ("get", "/security/roles/{id}"),
    ("put", "/security/roles/{id}"),
    ("delete", "/security/roles/{id}"),
    // components.rs
    ("get", "/components"),
    ("get", "/components/{id}"),
    ("delete", "/components/{id}"),
    ("get", "/assets"),
    ("get", "/assets/{id}"),
    ("delete", "/assets/{id}"),
    // search.rs
    ("get", "/search"),
    ("get", "/search/assets"),
    ("get", "/search/assets/download"),
    // misc.rs
    ("get", "/formats/upload-specs"),
    ("get", "/formats/{format}/upload-specs"),
    ("get", "/audit"),
    // cleanup.rs (`/internal/...` is under /service/rest, as in Nexus)
    ("post", "/cleanup/run"),
    ("get", "/internal/cleanup-policies"),
    ("post", "/internal/cleanup-policies"),
    ("get", "/internal/cleanup-policies/{name}"),
    ("put", "/internal/cleanup-policies/{name}"),
    ("delete", "/internal/cleanup-policies/{name}"),
    // system.rs
    ("get", "/read-only"),
    ("post", "/read-only/freeze"),
    ("post", "/read-only/release"),
    ("post", "/read-only/force-release"),
    ("get", "/lifecycle/phase"),
    ("put", "/lifecycle/phase"),
    ("put", "/lifecycle/bounce"),
    // mod.rs: arca_core::format::component_upload_route
    ("post", "/components"),
    // arca-pypi's Format::configure
    ("post", "/pypi/{repository}/{project}/{version}/yank"),
    ("delete", "/pypi/{repository}/{project}/{version}/yank"),
    // privileges.rs
    ("get", "/security/privileges"),
    ("get", "/security/privileges/{privilegeName}"),
    ("delete", "/security/privileges/{privilegeName}"),
    ("post", "/security/privileges/application"),
    ("put", "/security/privileges/application/{privilegeName}"),
    ("post", "/security/privileges/repository-view"),
    (
        "put",
        "/security/privileges/repository-view/{privilegeName}",
    ),
    ("post", "/security/privileges/repository-admin"),
    (
        "put",
        "/security/privileges/repository-admin/{privilegeName}",
    ),
    ("post", "/security/privileges/repository-content-selector"),
    (
        "put",
        "/security/privileges/repository-content-selector/{privilegeName}",
    ),
    ("post", "/security/privileges/wildcard"),
    ("put", "/security/privileges/wildcard/{privilegeName}"),
    ("get", "/security/content-selectors"),
    ("post", "/security/content-selectors"),
    ("get", "/security/content-selectors/{name}"),
    ("put", "/security/content-selectors/{name}"),
    ("delete", "/security/content-selectors/{name}"),
    ("post", "/security/privileges/script"),
    ("put", "/security/privileges/script/{privilegeName}"),
    // cleanup.rs at Nexus 3.96's public path
    ("get", "/cleanup-policies"),
    ("post", "/cleanup-policies"),
    ("get", "/cleanup-policies/{name}"),
    ("put", "/cleanup-policies/{name}"),
    ("delete", "/cleanup-policies/{name}"),
    // admin.rs
    ("get", "/security/realms/available"),
    ("get", "/security/realms/active"),
    ("put", "/security/realms/active"),
    ("get", "/security/user-tokens"),
    ("put", "/security/user-tokens"),
    ("delete", "/security/user-tokens"),
    ("post", "/repositories/{repositoryName}/health-check"),
    ("delete", "/repositories/{repositoryName}/health-check"),
    ("post", "/repositories/{repositoryName}/invalidate-cache"),
    ("post", "/repositories/{repositoryName}/rebuild-index"),
    ("get", "/search/suggest"),
    ("get", "/script"),
    ("post", "/script"),
    ("get", "/script/{name}"),
    ("put", "/script/{name}"),
    ("delete", "/script/{name}"),
    ("post", "/script/{name}/run"),
    // browse.rs
    ("get", "/repositories/{repositoryName}/browse"),
    ("delete", "/repositories/{repositoryName}/browse"),
    // system_settings.rs
    ("get", "/system/node"),
    ("delete", "/system/node"),
    ("get", "/email"),
    ("put", "/email"),
    ("delete", "/email"),
    ("post", "/email/verify"),
    ("get", "/http"),
    ("put", "/http"),
    ("delete", "/http"),
    ("get", "/system/eula"),
    ("post", "/system/eula"),
];

/// Every `$ref` in `v`, with where it was found.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(x, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

async fn swagger_json(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let r = c
        .get(s.at("/service/rest/swagger.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "public, no credentials");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc = json(r).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(doc["info"]["title"], "Arca REST API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc.get("servers").is_none());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["BasicAuth"]["scheme"], "basic");
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    assert_eq!(
        doc["security"],
        serde_json::json!([{ "BasicAuth": [] }, { "BearerAuth": [] }])
    );

    // Every routed (method, path) is described, with a tag and responses; nothing else is.
    let paths = doc["paths"].as_object().unwrap();
    let mut described = 0;
    for (method, path) in ROUTES {
        let full = full_path(path);
        let op = &doc["paths"][&full][method];
        assert!(op.is_object(), "{} {full} is not in the document", method);
        assert!(op["tags"][0].is_string(), "{method} {full} has no tag");
        assert!(op["summary"].is_string(), "{method} {full} has no summary");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {full} has no responses"
        );
        // Every `{param}` of the path is a described path parameter.
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(['{', '}']);
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                "{method} {full}: path parameter {name} is not described"
            );
        }
    }
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let known = ROUTES
                .iter()
                .any(|(m, p)| m == method && full_path(p) == *path);
            assert!(known, "{method} {path} is described but not routed");
            described += 1;
        }
    }
    assert_eq!(described, ROUTES.len());
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    assert_eq!(ids.len(), ROUTES.len(), "every operation has an id");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ROUTES.len(), "operation ids are unique");

    // Public endpoints say so; the rest take the global security.
    assert_eq!(
        doc["paths"]["/service/rest/v1/status"]["get"]["security"],
        serde_json::json!([{}])
    );
    assert!(
        doc["paths"]["/service/rest/v1/security/users"]["get"]
            .get("security")
            .is_none()
    );

    // Every `$ref` resolves to a schema in components.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut found = vec![];
    refs(&doc, String::new(), &mut found);
    assert!(found.len() > 50, "{} refs", found.len());
    for (at, r) in &found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{at}: $ref {r} is not to a schema"));
        assert!(
            schemas.contains_key(name),
            "{at}: $ref {r} does not resolve"
        );
    }
    // Nexus's names for the shapes it shares.
    for name in [
        "ApiUser",
        "ApiCreateUser",
        "ApiUserSource",
        "RoleXOResponse",
        "RoleXORequest",
        "ComponentXO",
        "AssetXO",
        "PageComponentXO",
        "PageAssetXO",
        "AnonymousAccessSettingsXO",
        "TaskXO",
        "PageTaskXO",
        "GenericBlobStoreApiResponse",
        "BlobStoreQuotaResultXO",
        "UploadDefinitionXO",
        "RepositoryXO",
        "AbstractApiRepository",
        "MavenHostedRepositoryApiRequest",
        "DockerProxyRepositoryApiRequest",
        "ValidationErrorXO",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let task = &schemas["TaskXO"]["properties"];
    assert_eq!(task["lastRun"]["format"], "date-time");
    let asset = &schemas["AssetXO"]["properties"];
    assert_eq!(asset["fileSize"]["format"], "int64");
    assert_eq!(
        schemas["ApiUser"]["properties"]["status"]["$ref"],
        "#/components/schemas/UserStatus"
    );
}

async fn api_page(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let r = c.get(s.at("/service/rest/api")).send().await.unwrap();
    assert_eq!(r.status(), 200, "public, no credentials");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("/static/api.js"), "{html}");
    let r = c.get(s.at("/static/api.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger.json"));
    // The landing page links it.
    let index = c.get(s.at("/")).send().await.unwrap().text().await.unwrap();
    assert!(index.contains("/service/rest/api"));
}

both_backends!(swagger_json, api_page);
