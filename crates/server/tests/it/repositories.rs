//! Repository CRUD through the Nexus-shaped REST API, with its validation.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json};

const API: &str = "/service/rest/v1";

fn hosted(name: &str) -> serde_json::Value {
    json!({"name": name, "online": true,
           "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW_ONCE"}})
}

async fn crud(b: Backend) {
    let s = TestServer::start(b).await;
    let list = json(
        s.admin(GET, &format!("{API}/repositories"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list, json!([]));

    let r = s
        .admin(POST, &format!("{API}/repositories/raw/hosted"))
        .json(&hosted("raw-a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let list = json(
        s.admin(GET, &format!("{API}/repositories"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list[0]["name"], "raw-a");
    assert_eq!(list[0]["format"], "raw");
    assert_eq!(list[0]["type"], "hosted");
    assert_eq!(list[0]["url"], format!("{}/repository/raw-a", s.url));

    let one = json(
        s.admin(GET, &format!("{API}/repositories/raw/hosted/raw-a"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["storage"]["writePolicy"], "ALLOW_ONCE");
    assert_eq!(one["online"], true);
    // A block left out is reported with the value Arca acts on, as Nexus always reports it.
    assert_eq!(one["raw"]["contentDisposition"], "ATTACHMENT");
    let r = s
        .admin(PUT, "/repository/raw-a/docs/page.html")
        .body("<p>hi</p>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .admin(GET, "/repository/raw-a/docs/page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"page.html\""
    );

    // Update: go offline, change the write policy; format attributes are kept and echoed.
    let mut upd = hosted("raw-a");
    upd["online"] = json!(false);
    upd["storage"]["writePolicy"] = json!("DENY");
    upd["raw"] = json!({"contentDisposition": "INLINE"});
    let r = s
        .admin(PUT, &format!("{API}/repositories/raw/hosted/raw-a"))
        .json(&upd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let one = json(
        s.admin(GET, &format!("{API}/repositories/raw/hosted/raw-a"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["online"], false);
    assert_eq!(one["storage"]["writePolicy"], "DENY");
    assert_eq!(one["raw"]["contentDisposition"], "INLINE");
    // Back online: files now open in the browser.
    upd["online"] = json!(true);
    let r = s
        .admin(PUT, &format!("{API}/repositories/raw/hosted/raw-a"))
        .json(&upd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .admin(GET, "/repository/raw-a/docs/page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename=\"page.html\""
    );
    upd["online"] = json!(false);
    let r = s
        .admin(PUT, &format!("{API}/repositories/raw/hosted/raw-a"))
        .json(&upd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Offline repositories answer 503.
    let r = s.admin(GET, "/repository/raw-a/x").send().await.unwrap();
    assert_eq!(r.status(), 503);

    // Group over it, listed in repositorySettings with members.
    let g = json!({"name": "raw-g", "online": true, "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
                   "group": {"memberNames": ["raw-a"]}});
    assert_eq!(
        s.admin(POST, &format!("{API}/repositories/raw/group"))
            .json(&g)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let settings = json(
        s.admin(GET, &format!("{API}/repositorySettings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let grp = settings
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "raw-g")
        .unwrap();
    assert_eq!(grp["group"]["memberNames"], json!(["raw-a"]));

    // Delete: 204, then 404; the group loses the member.
    assert_eq!(
        s.admin(DELETE, &format!("{API}/repositories/raw-a"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(DELETE, &format!("{API}/repositories/raw-a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.admin(GET, &format!("{API}/repositories/raw-a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let grp = json(
        s.admin(GET, &format!("{API}/repositories/raw/group/raw-g"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(grp["group"]["memberNames"], json!([]));
}

async fn validation(b: Backend) {
    let s = TestServer::start(b).await;
    let post = |path: &str, body: serde_json::Value| {
        s.admin(POST, &format!("{API}/repositories/{path}"))
            .json(&body)
            .send()
    };
    let expect = |status: u16, needle: &'static str| {
        move |(st, body): (u16, String)| {
            assert_eq!(st, status, "{body}");
            assert!(body.contains(needle), "{needle:?} not in {body}");
        }
    };
    async fn send(
        f: impl std::future::Future<
            Output = Result<arca_testkit::reqwest::Response, arca_testkit::reqwest::Error>,
        >,
    ) -> (u16, String) {
        let r = f.await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    for bad in ["", "_x", "a b", "a/b", "ä"] {
        expect(400, "invalid repository name")(send(post("raw/hosted", hosted(bad))).await);
    }
    expect(400, "name is required")(
        send(post(
            "raw/hosted",
            json!({"online": true, "storage": {"blobStoreName": "default"}}),
        ))
        .await,
    );
    expect(400, "blobStoreName")(
        send(post("raw/hosted", json!({"name": "x", "online": true}))).await,
    );
    expect(400, "does not exist")(
        send(post(
            "raw/hosted",
            json!({"name": "x", "storage": {"blobStoreName": "nope"}}),
        ))
        .await,
    );
    let mut wp = hosted("x");
    wp["storage"]["writePolicy"] = json!("SOMETIMES");
    expect(400, "writePolicy")(send(post("raw/hosted", wp)).await);
    expect(400, "invalid JSON")(
        send(
            s.admin(POST, &format!("{API}/repositories/raw/hosted"))
                .header("content-type", "application/json")
                .body("{nope")
                .send(),
        )
        .await,
    );
    let mut cd = hosted("x");
    cd["raw"] = json!({"contentDisposition": "SIDEWAYS"});
    expect(400, "contentDisposition")(send(post("raw/hosted", cd)).await);

    // Unknown and not-yet-available formats, unsupported types.
    expect(400, "unknown repository format")(send(post("frobnicate/hosted", hosted("x"))).await);
    expect(400, "does not support the nuget format")(send(post("nuget/hosted", hosted("x"))).await);
    expect(404, "unknown repository type")(send(post("raw/mirror", hosted("x"))).await);

    // Duplicates.
    expect(201, "")(send(post("raw/hosted", hosted("dup"))).await);
    expect(409, "already exists")(send(post("raw/hosted", hosted("dup"))).await);

    // Groups: unknown member, itself, twice, cycles.
    let group = |name: &str, members: serde_json::Value| {
        json!({"name": name, "online": true,
        "storage": {"blobStoreName": "default"}, "group": {"memberNames": members}})
    };
    expect(400, "member repository ghost does not exist")(
        send(post("raw/group", group("g1", json!(["ghost"])))).await,
    );
    expect(400, "cannot contain itself")(send(post("raw/group", group("g1", json!(["g1"])))).await);
    expect(400, "listed twice")(send(post("raw/group", group("g1", json!(["dup", "dup"])))).await);
    expect(400, "group.memberNames is required")(
        send(post(
            "raw/group",
            json!({"name": "g1", "storage": {"blobStoreName": "default"}}),
        ))
        .await,
    );
    expect(201, "")(send(post("raw/group", group("g1", json!(["dup"])))).await);
    expect(201, "")(send(post("raw/group", group("g2", json!(["g1"])))).await);
    let r = send(
        s.admin(PUT, &format!("{API}/repositories/raw/group/g1"))
            .json(&group("g1", json!(["dup", "g2"])))
            .send(),
    )
    .await;
    expect(400, "contain itself")(r);

    // Update must match the URL's format, type and name.
    expect(404, "not found")(
        send(
            s.admin(PUT, &format!("{API}/repositories/raw/hosted/ghost"))
                .json(&hosted("ghost"))
                .send(),
        )
        .await,
    );
    expect(404, "is a raw group repository")(
        send(
            s.admin(PUT, &format!("{API}/repositories/raw/hosted/g1"))
                .json(&hosted("g1"))
                .send(),
        )
        .await,
    );
    expect(400, "cannot be renamed")(
        send(
            s.admin(PUT, &format!("{API}/repositories/raw/hosted/dup"))
                .json(&hosted("other"))
                .send(),
        )
        .await,
    );

    // Nothing half-created along the way.
    let names: Vec<String> = json(
        s.admin(GET, &format!("{API}/repositories"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|r| r["name"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(names, ["dup", "g1", "g2"]);
}

both_backends!(crud, validation);
