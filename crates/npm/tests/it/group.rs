//! Group: merged packuments, tarballs from the first member holding them, tarball URLs
//! through the group, publish to the writable member.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::*;

async fn merged(b: Backend) {
    let s = TestServer::start(b).await;
    create(&s, "hosted", hosted_body("h1", "ALLOW_ONCE")).await;
    create(&s, "hosted", hosted_body("h2", "ALLOW_ONCE")).await;
    let one = tgz("demo", "1.0.0");
    let one_b = tgz_with("demo", "1.0.0", "in h2");
    let two = tgz("demo", "2.0.0");
    assert_eq!(
        publish(
            &s,
            "h1",
            "demo",
            &publish_body("demo", "1.0.0", &one, "latest")
        )
        .await
        .0,
        200
    );
    let mut b2 = publish_body("demo", "1.0.0", &one_b, "latest");
    b2["_attachments"]["demo-1.0.0.tgz"]["length"] = json!(one_b.len());
    assert_eq!(publish(&s, "h2", "demo", &b2).await.0, 200);
    assert_eq!(
        publish(
            &s,
            "h2",
            "demo",
            &publish_body("demo", "2.0.0", &two, "latest")
        )
        .await
        .0,
        200
    );
    create(&s, "group", group_body("all", &["h1", "h2"], Some("h2"))).await;

    let (st, p) = get_json(&s, "/repository/all/demo").await;
    assert_eq!(st, 200, "{p}");
    let versions: Vec<&String> = p["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    assert_eq!(
        p["dist-tags"]["latest"], "1.0.0",
        "dist-tags of the first member holding it"
    );
    assert_eq!(
        p["versions"]["1.0.0"]["dist"]["shasum"],
        sha1_hex(&one),
        "first member wins"
    );
    assert_eq!(
        p["versions"]["2.0.0"]["dist"]["tarball"],
        s.at("/repository/all/demo/-/demo-2.0.0.tgz")
    );
    let r = s
        .admin(GET, "/repository/all/demo/-/demo-1.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), one.as_slice());
    let r = s
        .admin(GET, "/repository/all/demo/-/demo-2.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), two.as_slice());
    let r = s
        .admin(GET, "/repository/all/demo/-/demo-3.0.0.tgz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (st, _) = get_json(&s, "/repository/all/nothing-here").await;
    assert_eq!(st, 404);

    // Publishing through the group lands in its writable member.
    let three = tgz("@x/y", "3.0.0");
    let (st, e) = publish(
        &s,
        "all",
        "@x%2fy",
        &publish_body("@x/y", "3.0.0", &three, "latest"),
    )
    .await;
    assert_eq!(st, 200, "{e}");
    let (st, _) = get_json(&s, "/repository/h2/@x/y").await;
    assert_eq!(st, 200);
    let (st, _) = get_json(&s, "/repository/h1/@x/y").await;
    assert_eq!(st, 404);
    let (_, found) = get_json(&s, "/repository/all/-/v1/search?text=demo").await;
    assert_eq!(found["objects"][0]["package"]["name"], "demo", "{found}");

    // A writable member outside the group is refused.
    let r = s
        .admin(POST, "/service/rest/v1/repositories/npm/group")
        .json(&group_body("bad", &["h1"], Some("h2")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

both_backends!(merged);
