//! The raw format on core's harness, without the server: what a request meets is core's gate
//! (lookup, authorisation, online and freeze checks) and then the format.

use std::sync::Arc;

use actix_web::test::{TestRequest, read_body};
use arca_core::{harness::Harness, model::RepoKind};
use serde_json::json;

async fn harness() -> Harness {
    let h = Harness::new(vec![Arc::new(arca_raw::RawFormat)]).await;
    h.create("files", "raw", RepoKind::Hosted, json!({})).await;
    h
}

#[actix_web::test]
async fn stores_and_serves_behind_cores_gate() {
    let h = harness().await;
    let put = TestRequest::put()
        .uri("/repository/files/dir/a.txt")
        .set_payload("hello");
    // Anonymous access is off: the gate refuses before the format runs, and nothing is stored.
    assert_eq!(h.call(put).await.status(), 401);
    let get = || h.admin(TestRequest::get().uri("/repository/files/dir/a.txt"));
    assert_eq!(h.call(get()).await.status(), 404);

    let put = h.admin(
        TestRequest::put()
            .uri("/repository/files/dir/a.txt")
            .set_payload("hello"),
    );
    assert_eq!(h.call(put).await.status(), 201);
    let r = h.call(get()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(read_body(r).await.as_ref(), b"hello");

    // Frozen, a write is refused by the gate and changes nothing; reads go on.
    assert!(h.arca.storage.freeze.freeze("admin").await.unwrap());
    let put = h.admin(
        TestRequest::put()
            .uri("/repository/files/dir/a.txt")
            .set_payload("changed"),
    );
    assert_eq!(h.call(put).await.status(), 503);
    assert_eq!(read_body(h.call(get()).await).await.as_ref(), b"hello");
}

#[actix_web::test]
async fn unknown_repositories_are_not_found() {
    let h = harness().await;
    let r = h
        .call(h.admin(TestRequest::get().uri("/repository/nope/a.txt")))
        .await;
    assert_eq!(r.status(), 404);
}
