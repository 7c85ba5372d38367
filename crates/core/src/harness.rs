//! A format tested without the server (feature `harness`): an [`Arca`] on a fresh SQLite
//! database and a temporary blob directory serving only the given formats, with core's own
//! routes — `/repository/{name}/{path}` and every format's routes behind the same gate — in an
//! actix test service. What a request meets here is what it meets in the server: lookup,
//! authorisation, online and freeze checks, then the format.
//!
//! ```ignore
//! let h = Harness::new(vec![Arc::new(MyFormat)]).await;
//! h.create("files", "myformat", RepoKind::Hosted, serde_json::json!({})).await;
//! let r = h.call(h.admin(TestRequest::put().uri("/repository/files/a"))).await;
//! ```

use std::sync::Arc;

use actix_web::{
    App,
    body::BoxBody,
    dev::ServiceResponse,
    test::{self, TestRequest},
    web,
};
use base64::Engine;

use crate::{
    Arca, CoreSettings, Format, FormatRegistry,
    meta::Db,
    model::{RepoKind, RepoName, Repository, RepositorySpec, WritePolicy},
};

/// The admin's password in every harness.
pub const ADMIN_PASSWORD: &str = "harness-admin";

pub struct Harness {
    pub arca: web::Data<Arca>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A fresh Arca serving `formats`, with an `admin` user and anonymous access off.
    ///
    /// # Panics
    /// When the temporary directory or database cannot be made: a test set-up failure.
    pub async fn new(formats: Vec<Arc<dyn Format>>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("arca.db").display());
        let db = Db::connect(&url).await.expect("a SQLite database");
        db.migrate().await.expect("migrations");
        let blobs = dir.path().join("blobs");
        db.ensure_blob_store("default", "file", &blobs.to_string_lossy())
            .await
            .expect("the default blob store");
        let settings = CoreSettings {
            blob_store_root: dir.path().join("blobstores"),
            ..CoreSettings::default()
        };
        let arca = web::Data::new(Arca::new(db, FormatRegistry::new(formats), settings));
        arca.storage
            .reload_stores()
            .await
            .expect("blob stores open");
        arca.security
            .bootstrap(Some(ADMIN_PASSWORD), false)
            .await
            .expect("security bootstrap");
        Self { arca, _dir: dir }
    }

    /// Creates a repository as the REST API would (the format validates its settings first).
    ///
    /// # Panics
    /// When the format refuses the settings or the name: the test's own mistake.
    pub async fn create(
        &self,
        name: &str,
        format: &str,
        kind: RepoKind,
        attrs: serde_json::Value,
    ) -> Repository {
        let spec = RepositorySpec {
            name: RepoName::parse(name).expect("a valid repository name"),
            format: format.to_owned(),
            kind,
            online: true,
            blob_store: "default".into(),
            write_policy: (kind == RepoKind::Hosted).then_some(WritePolicy::Allow),
            strict_content_type_validation: false,
            members: attrs
                .pointer("/group/memberNames")
                .and_then(|m| serde_json::from_value(m.clone()).ok())
                .unwrap_or_default(),
            attrs,
        };
        let f = self.arca.formats.get(format).expect("a registered format");
        f.validate(&spec).expect("settings the format accepts");
        let repo = self
            .arca
            .db
            .create_repository(&spec)
            .await
            .expect("the repository is created");
        self.arca.repository_changed(repo.id).await;
        repo
    }

    /// `req` with the admin's Basic credentials.
    pub fn admin(&self, req: TestRequest) -> TestRequest {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
        req.insert_header(("Authorization", format!("Basic {token}")))
    }

    /// Sends `req` through core's routes.
    pub async fn call(&self, req: TestRequest) -> ServiceResponse<BoxBody> {
        let formats = self.arca.formats.clone();
        let app = test::init_service(
            App::new()
                .app_data(self.arca.clone())
                .configure(|cfg| crate::format::mount(cfg, &formats))
                .route(
                    "/repository/{name}/{path:.*}",
                    web::route().to(crate::format::repository_route),
                ),
        )
        .await;
        test::call_service(&app, req.to_request())
            .await
            .map_into_boxed_body()
    }
}
