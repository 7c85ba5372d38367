//! A second node of a test server's cluster: its own data directory and process (its own
//! registry of blob stores, caches, tasks), the same database and, unless told otherwise, the
//! same blob directory, as nodes sharing one PostgreSQL and one mount do. On SQLite both
//! processes open the same database file.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    sync::mpsc,
    thread::JoinHandle,
};

use actix_web::{dev::ServerHandle, web};
use arca_core::{Arca, storage::StoreChanges};
use arca_server::Config;

use crate::TestServer;

/// A second server on another's database, stopped on `Drop` (the database stays the first
/// server's to drop).
pub struct Node {
    pub url: String,
    /// The first server's: the admin user is in the shared database.
    pub admin_password: String,
    pub data_dir: PathBuf,
    arca: web::Data<Arca>,
    runtime: tokio::runtime::Handle,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// What a second node of this server starts with: this server's configuration, database
    /// and blob directory (`data_dir` is the node's own).
    pub fn node_config(&self) -> Config {
        let mut c = self.config.clone();
        if c.database_url.is_none() {
            c.database_url = Some(format!(
                "sqlite://{}",
                self.data_dir.join("arca.db").display()
            ));
        }
        if c.blob_dir.is_none() {
            c.blob_dir = Some(self.data_dir.join("blobs"));
        }
        c
    }

    /// Starts a second node with [`TestServer::node_config`].
    pub async fn start_node(&self) -> Node {
        match self.start_node_with(self.node_config()).await {
            Ok(n) => n,
            Err(e) => panic!("the second node does not start: {e}"),
        }
    }

    /// Starts a second node with `config` (its `data_dir` and `listen` are set here); the
    /// start's error, in full, when it refuses.
    pub async fn start_node_with(&self, mut config: Config) -> Result<Node, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data_dir = tmp.path().join("data");
        config.data_dir = Some(data_dir.clone());
        config.listen = Some("127.0.0.1:0".into());
        let settings = config.resolve().map_err(|e| e.to_string())?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match arca_server::start(settings, listener).await {
                    Ok(mut r) => {
                        let runtime = tokio::runtime::Handle::current();
                        let _ = tx.send(Ok((r.handle.clone(), r.arca.clone(), runtime)));
                        let _ = (&mut r.server).await;
                        r.finish().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:#}")));
                    }
                }
            })
        });
        let started = tokio::task::spawn_blocking(move || rx.recv())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let (handle, arca, runtime) = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = thread.join();
                return Err(e);
            }
        };
        Ok(Node {
            url: format!("http://127.0.0.1:{port}"),
            admin_password: self.admin_password.clone(),
            data_dir,
            arca,
            runtime,
            handle: Some(handle),
            thread: Some(thread),
            _tmp: tmp,
        })
    }
}

impl Node {
    /// `url` + `path`
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A request builder authenticated as admin.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.at(path))
            .basic_auth("admin", Some(&self.admin_password))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The names of the blob stores this node has open.
    pub fn open_stores(&self) -> Vec<String> {
        let mut names = self.arca.storage.store_names();
        names.sort();
        names
    }

    /// Runs `Storage::reload_stores` on this node (on its own runtime), as it does when
    /// another node announces a blob store change.
    pub async fn reload_stores(&self) -> Result<StoreChanges, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let arca = self.arca.clone();
        self.runtime.spawn(async move {
            let r = arca.storage.reload_stores().await;
            let _ = tx.send(r.map_err(|e| e.to_string()));
        });
        rx.await.map_err(|e| e.to_string())?
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            drop(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
