//! The services every handler reaches: one `Arca` per process, shared as `web::Data<Arca>`.

use std::time::{Duration, Instant};

use crate::{
    format::FormatRegistry,
    http::PublicUrl,
    meta::{Db, MetaError},
    metrics::Metrics,
    proxy::Proxy,
    security::Security,
    storage::Storage,
};

/// Settings the core needs at run time (the server's `Config` feeds them).
#[derive(Clone, Debug)]
pub struct CoreSettings {
    pub public: PublicUrl,
    /// Upload limit for one request body; `None` = unlimited (large layers must pass).
    pub max_upload_bytes: Option<u64>,
    /// How long an unreferenced blob is kept before the sweeper frees it.
    pub gc_grace: Duration,
    /// How long a blob file or object that no row names (a kill between storing and recording
    /// it), or a temp file, is kept before the orphan sweep frees it. Longer than any upload's
    /// gap between writing its bytes and recording them.
    pub orphan_grace: Duration,
    /// `<data>/admin.password`: removed once admin's password is changed, as Nexus does.
    pub admin_password_file: Option<std::path::PathBuf>,
    /// The docker repository that serves image names without a repository prefix on the main
    /// port (`/v2/library/alpine/...`), as a registry mirror needs.
    pub docker_default_repository: Option<String>,
    /// Where file blob stores created with a relative path go (`<data>/blobstores`).
    pub blob_store_root: std::path::PathBuf,
    /// Whether file blob stores created through the API must lie under `blob_store_root`
    /// (set when the operator configured it).
    pub confine_blob_stores: bool,
    /// The main listener's address: no repository connector may take its port.
    pub listen: Option<std::net::SocketAddr>,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            public: PublicUrl::default(),
            max_upload_bytes: None,
            gc_grace: Duration::from_secs(60),
            orphan_grace: Duration::from_secs(3600),
            admin_password_file: None,
            docker_default_repository: None,
            blob_store_root: "blobstores".into(),
            confine_blob_stores: false,
            listen: None,
        }
    }
}

pub struct Arca {
    pub db: Db,
    /// Locks every node sees (PostgreSQL advisory locks; per process on SQLite).
    pub locks: std::sync::Arc<crate::locks::Locks>,
    pub proxy: Proxy,
    /// Repositories by name, cached on this node (dropped on every change, on every node).
    pub repos: crate::repo_cache::RepoCache,
    pub security: Security,
    pub storage: Storage,
    pub formats: FormatRegistry,
    pub settings: CoreSettings,
    pub metrics: Metrics,
    pub started: Instant,
    /// Extra listening ports, each serving one repository (Nexus's repository connectors):
    /// local port → repository name. The server keeps it in step with the configuration.
    pub connectors: std::sync::RwLock<std::collections::HashMap<u16, String>>,
}

impl Arca {
    /// The repository named `name` (cached on this node; see [`crate::repo_cache`]).
    pub async fn repository(&self, name: &str) -> Result<crate::model::Repository, MetaError> {
        self.repos.get(&self.db, name).await
    }

    /// After a repository was created, changed or deleted: this node forgets it at once and
    /// the others are told to.
    pub async fn repository_changed(&self, id: i64) {
        self.repos.forget();
        self.proxy.forget_repository(id);
        crate::cluster::announce(&self.db, crate::cluster::Event::Repository(id)).await;
    }

    pub fn new(db: Db, formats: FormatRegistry, settings: CoreSettings) -> Self {
        let locks = std::sync::Arc::new(crate::locks::Locks::new(&db));
        let mut storage = Storage::new(db.clone(), locks.clone());
        storage.hold_for = settings.orphan_grace;
        Self {
            security: Security::new(db.clone()),
            storage,
            locks,
            proxy: Proxy::new(),
            repos: Default::default(),
            db,
            formats,
            settings,
            metrics: Metrics::default(),
            started: Instant::now(),
            connectors: Default::default(),
        }
    }
}
