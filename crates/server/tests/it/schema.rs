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

/// Rolling upgrades run an older node beside a newer schema: every migration only adds
/// (tables, indexes, columns that are nullable or have a default), never drops, renames or
/// tightens what an older node reads and writes.
#[test]
fn migrations_only_expand() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let mut checked = 0;
    for backend in ["sqlite", "postgres"] {
        for e in std::fs::read_dir(format!("{root}/{backend}")).unwrap() {
            let path = e.unwrap().path();
            let sql: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
                .to_uppercase();
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                checked += 1;
                let words: Vec<&str> = statement.split_whitespace().collect();
                let has = |w: &str| words.contains(&w);
                assert!(
                    !has("DROP") && !has("RENAME"),
                    "{}: {statement}",
                    path.display()
                );
                if statement.starts_with("ALTER TABLE") {
                    assert!(
                        words.windows(2).any(|w| w == ["ADD", "COLUMN"]),
                        "{}: only ADD COLUMN: {statement}",
                        path.display()
                    );
                    assert!(
                        !statement.contains("NOT NULL") || has("DEFAULT"),
                        "{}: a NOT NULL column needs a DEFAULT: {statement}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(checked > 20, "{checked} statements");
}
