//! Cluster locks on PostgreSQL: two nodes (two `Locks` on one database) exclude each other, and
//! a dropped guard lets the other node in at once.

use std::time::{Duration, Instant};

use arca_core::{
    locks::{Hold, LockKey, Locks},
    meta::Db,
};
use arca_testkit::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_locks_exclude_across_nodes() {
    let s = TestServer::start(Backend::Postgres).await;
    let (a, b) = (
        Locks::new(&Db::connect(s.database_url()).await.unwrap()),
        Locks::new(&Db::connect(s.database_url()).await.unwrap()),
    );
    assert!(a.shared() && b.shared());
    let k = LockKey::new("test", "one");
    for hold in [Hold::Short, Hold::Long] {
        let g = a.lock(&[k], hold).await.unwrap();
        assert!(b.try_lock(k, hold).await.unwrap().is_none(), "held by a");
        // Another key is free.
        assert!(
            b.try_lock(LockKey::new("test", "two"), hold)
                .await
                .unwrap()
                .is_some()
        );
        drop(g);
        let t0 = Instant::now();
        let got = loop {
            if let Some(g) = b.try_lock(k, hold).await.unwrap() {
                break g;
            }
            assert!(t0.elapsed() < Duration::from_secs(2), "released promptly");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        drop(got);
    }
    // A waiter gets the lock when the holder lets go.
    let g = a.lock(&[k], Hold::Short).await.unwrap();
    let waiter = tokio::spawn(async move {
        let t0 = Instant::now();
        let _g = b.lock(&[k], Hold::Short).await.unwrap();
        t0.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.release().await;
    let waited = waiter.await.unwrap();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Flights: the second flight of a key waits for the first.
    let f = a.flight(k).await.unwrap();
    let c = Locks::new(&Db::connect(s.database_url()).await.unwrap());
    let second = tokio::spawn(async move {
        let t0 = Instant::now();
        let _f = c.flight(k).await.unwrap();
        t0.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(f);
    assert!(second.await.unwrap() >= Duration::from_millis(250));
}

/// A runtime being torn down drops its tasks outside any runtime; a task holding a cluster lock
/// then drops its guard there. That must not panic: a second panic while the first unwinds
/// aborts the whole process (which is how a server stopped mid proxy-fill died in CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_dropped_outside_any_runtime_does_not_panic() {
    let s = TestServer::start(Backend::Postgres).await;
    let url = s.database_url().to_owned();
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (guard, db) = rt.block_on(async {
            let db = Db::connect(&url).await.unwrap();
            let g = Locks::new(&db)
                .lock(&[LockKey::new("test", "orphan")], Hold::Short)
                .await
                .unwrap();
            (g, db)
        });
        drop(rt);
        // No runtime here any more.
        assert!(tokio::runtime::Handle::try_current().is_err());
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            drop(guard);
            std::mem::forget(db);
        }))
        .is_ok()
    })
    .join()
    .unwrap();
    assert!(dropped, "dropping the guard panicked");
}

/// A rebuild of a repository's index while another node rebuilds it: 409, not a second run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_index_rebuild_at_a_time_across_nodes() {
    let s = TestServer::start(Backend::Postgres).await;
    let r = s
        .admin(
            arca_testkit::reqwest::Method::POST,
            "/service/rest/v1/repositories/maven/hosted",
        )
        .json(&serde_json::json!({"name": "mvn", "online": true,
            "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let db = Db::connect(s.database_url()).await.unwrap();
    let id = db.get_repository("mvn").await.unwrap().id;
    let other_node = Locks::new(&db);
    let rebuild = || {
        s.admin(
            arca_testkit::reqwest::Method::POST,
            "/service/rest/v1/repositories/mvn/rebuild-index",
        )
        .send()
    };
    let running = other_node
        .try_lock(LockKey::new("rebuild-index", &id.to_string()), Hold::Long)
        .await
        .unwrap()
        .expect("free");
    let r = rebuild().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("running"));
    running.release().await;
    assert_eq!(rebuild().await.unwrap().status(), 204);
}
