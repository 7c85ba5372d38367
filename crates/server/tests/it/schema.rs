//! The two migration folders give the same tables and columns.

use arca_core::meta::Db;
use arca_testkit::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let lite = TestServer::start(Backend::Sqlite).await;
    let pg = TestServer::start(Backend::Postgres).await;
    let lite_db = Db::connect(&format!(
        "sqlite://{}",
        lite.data_dir().join("arca.db").display()
    ))
    .await
    .unwrap();
    let pg_url = pg.database_url().to_owned();
    let pg_db = Db::connect(&pg_url).await.unwrap();
    let mut a = lite_db.schema().await.unwrap();
    let mut b = pg_db.schema().await.unwrap();
    a.sort();
    b.sort();
    assert!(a.len() > 50, "{a:?}");
    assert_eq!(a, b);
    let names = |d: &str| {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    assert_eq!(
        names(&format!("{root}/sqlite")),
        names(&format!("{root}/postgres"))
    );
    pg_db.close().await;
}
