//! A real Arca server for tests: its own data directory, a listener on 127.0.0.1:0, SQLite or
//! a fresh PostgreSQL database, stopped (and the database dropped) on `Drop`.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    sync::mpsc,
    thread::JoinHandle,
};

use actix_web::dev::ServerHandle;
use arca_server::{Config, Settings};
use sqlx::{Connection, Executor, PgConnection};

mod node;
mod upstream;

pub use node::Node;
pub use reqwest;
pub use upstream::Upstream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on, e.g.
/// `postgres://postgres:postgres@127.0.0.1:5432/postgres`.
pub const PG_ENV: &str = "ARCA_TEST_DATABASE_URL";

/// The S3 server tests use, as the JSON of a Nexus `bucketConfiguration` (bucket name, region
/// and prefix, `bucketSecurity` keys, `advancedBucketConnection` endpoint and path style), e.g.
/// `{"bucket":{"name":"arca-test","region":"us-east-1","prefix":""},
///   "bucketSecurity":{"accessKeyId":"K","secretAccessKey":"S"},
///   "advancedBucketConnection":{"endpoint":"http://127.0.0.1:PORT","forcePathStyle":true}}`.
/// Unset: S3 tests skip. `scripts/test.sh` starts `s3s-fs` and sets it.
pub use arca_core::blob::S3_TEST_ENV;

/// The `bucketConfiguration` of a Nexus `POST /service/rest/v1/blobstores/s3` body (also what
/// an S3 blob store row keeps as `attributes`) for the test S3 server, under a prefix of its
/// own so that tests never see each other's objects; `None` (with a note) when
/// [`S3_TEST_ENV`] is unset.
pub fn s3_config_from_env() -> Option<serde_json::Value> {
    let Ok(raw) = std::env::var(S3_TEST_ENV) else {
        eprintln!("{S3_TEST_ENV} is not set: skipping an S3 test (scripts/test.sh sets it)");
        return None;
    };
    let mut v: serde_json::Value =
        serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{S3_TEST_ENV}: not JSON: {e}"));
    let base = v["bucket"]["prefix"]
        .as_str()
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned();
    let own = format!(
        "t-{}",
        arca_core::security::random_secret(12).to_lowercase()
    );
    v["bucket"]["prefix"] = if base.is_empty() {
        own.into()
    } else {
        format!("{base}/{own}").into()
    };
    Some(v)
}

pub struct TestServer {
    pub url: String,
    pub admin_password: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    config: Config,
    pg: Option<(String, String)>,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

/// Emits `sqlite_NAME` and `postgres_NAME` tests calling `NAME(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Backend::Postgres).await } )*
        }
    };
}

fn pg_base_url() -> String {
    match std::env::var(PG_ENV) {
        Ok(u) => u,
        Err(_) => panic!(
            "{PG_ENV} is not set: PostgreSQL tests need a server (scripts/test.sh starts one)"
        ),
    }
}

/// Replaces the database name of a postgres URL.
fn with_db(url: &str, db: &str) -> String {
    let (head, tail) = url
        .split_once('?')
        .map_or((url, None), |(h, t)| (h, Some(t)));
    let base = head.rsplit_once('/').map_or(head, |(b, _)| b);
    match tail {
        Some(t) => format!("{base}/{db}?{t}"),
        None => format!("{base}/{db}"),
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::with_config(backend, Config::default()).await
    }

    /// Starts with `config` (its `data_dir`, `listen` and `database_url` are set here).
    pub async fn with_config(backend: Backend, mut config: Config) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = pg_base_url();
                let name = format!(
                    "arca_t_{}",
                    arca_core::security::random_secret(12).to_lowercase()
                );
                let mut c = PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create test database");
                config.database_url = Some(with_db(&admin, &name));
                Some((admin, name))
            }
        };
        config.data_dir = Some(data_dir.clone());
        let mut s = Self {
            url: String::new(),
            admin_password: String::new(),
            data_dir,
            _tmp: Some(tmp),
            config,
            pg,
            handle: None,
            thread: None,
        };
        s.boot().expect("server starts");
        s
    }

    fn settings(&self) -> Result<Settings, String> {
        let mut c = self.config.clone();
        c.listen = Some("127.0.0.1:0".into());
        c.resolve().map_err(|e| e.to_string())
    }

    fn boot(&mut self) -> Result<(), String> {
        let settings = self.settings()?;
        let tls = settings.tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (tx, rx) = mpsc::channel();
        // actix needs its own System; give the server a thread of its own.
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match arca_server::start(settings, listener).await {
                    Ok(mut r) => {
                        let _ = tx.send(Ok((r.handle.clone(), r.admin_password.clone())));
                        let _ = (&mut r.server).await;
                        r.finish().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:#}")));
                    }
                }
            })
        });
        let (handle, generated) = rx.recv().map_err(|e| e.to_string())??;
        if let Some(pw) = generated {
            self.admin_password = pw;
        } else if self.admin_password.is_empty() {
            self.admin_password = self
                .config
                .admin_password
                .clone()
                .or_else(|| std::fs::read_to_string(self.data_dir.join("admin.password")).ok())
                .unwrap_or_default();
        }
        self.url = format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" });
        self.handle = Some(handle);
        self.thread = Some(thread);
        Ok(())
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop(true).await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }

    /// Stops and starts again on the same data directory and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().expect("server restarts");
    }

    /// The database URL the server uses.
    pub fn database_url(&self) -> &str {
        self.config.database_url.as_deref().unwrap_or_default()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `url` + `path`
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().build().expect("http client")
    }

    /// A request builder authenticated as admin.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client()
            .request(method, self.at(path))
            .basic_auth("admin", Some(&self.admin_password))
    }

    /// Creates a raw hosted repository through the REST API.
    pub async fn create_raw_hosted(&self, name: &str, write_policy: &str) {
        let r = self
            .admin(
                reqwest::Method::POST,
                "/service/rest/v1/repositories/raw/hosted",
            )
            .json(&serde_json_body(name, write_policy))
            .send()
            .await
            .expect("request");
        assert_eq!(
            r.status().as_u16(),
            201,
            "create {name}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// The same with a given client (e.g. one trusting a test CA).
    pub async fn create_raw_hosted_with(&self, client: &reqwest::Client, name: &str) {
        let r = client
            .post(self.at("/service/rest/v1/repositories/raw/hosted"))
            .basic_auth("admin", Some(&self.admin_password))
            .json(&serde_json_body(name, "ALLOW"))
            .send()
            .await
            .expect("request");
        assert_eq!(
            r.status().as_u16(),
            201,
            "create {name}: {}",
            r.text().await.unwrap_or_default()
        );
    }
}

fn serde_json_body(name: &str, write_policy: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "online": true,
        "storage": { "blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": write_policy },
        "raw": { "contentDisposition": "ATTACHMENT" },
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            drop(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside any runtime we may block: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut c) = PgConnection::connect(&admin).await {
                            let _ = c
                                .execute(sqlx::AssertSqlSafe(format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                )))
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}
