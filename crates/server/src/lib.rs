//! The `arca` server: configuration, start-up and wiring of core, formats and web.

pub mod config;
mod filemodes;
mod headers;
mod telemetry;
mod tls;

use std::{net::TcpListener, sync::Arc, time::Instant};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, middleware, web};
use anyhow::Context;
use arca_core::{
    Arca, CoreSettings, Format, FormatRegistry,
    blob::{FileBlobStore, S3BlobStore, S3Config},
    format::repository_route,
    http::PublicUrl,
    meta::Db,
};
use tracing_futures::Instrument;

pub use config::{Config, ConfigError, Settings};
pub use filemodes::check_modes;
pub use telemetry::init as init_logging;

/// Every format this build serves: adding one is one line here.
pub fn formats() -> FormatRegistry {
    let all: Vec<Arc<dyn Format>> = vec![
        Arc::new(arca_raw::RawFormat),
        Arc::new(arca_maven::MavenFormat),
        Arc::new(arca_pypi::PypiFormat),
        Arc::new(arca_docker::DockerFormat::default()),
        Arc::new(arca_yum::YumFormat::default()),
    ];
    FormatRegistry::new(all)
}

/// A started server.
pub struct Running {
    pub server: actix_web::dev::Server,
    pub handle: ServerHandle,
    pub arca: web::Data<Arca>,
    /// The generated admin password, when this start created the admin user.
    pub admin_password: Option<String>,
}

/// Opens storage and database, bootstraps security and starts serving on `listener`.
pub async fn start(settings: Settings, listener: TcpListener) -> anyhow::Result<Running> {
    let t0 = Instant::now();
    filemodes::create_data_dir(&settings.data_dir)
        .with_context(|| format!("data_dir: cannot create {}", settings.data_dir.display()))?;
    filemodes::create_database_file(&settings.database_url)
        .context("database_url: cannot create the SQLite database file")?;
    let db = Db::connect(&settings.database_url)
        .await
        .context("database_url: cannot open the metadata database")?;
    db.migrate().await.context("database migration failed")?;

    let blob_dir = std::path::absolute(&settings.blob_dir).unwrap_or(settings.blob_dir.clone());
    let default_store = db
        .ensure_blob_store("default", "file", &blob_dir.to_string_lossy())
        .await?;
    if default_store.path != blob_dir.to_string_lossy() {
        db.set_blob_store_path("default", &blob_dir.to_string_lossy())
            .await?;
    }
    let core = CoreSettings {
        public: PublicUrl {
            base_url: settings.base_url.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            tls: settings.tls.is_some(),
        },
        max_upload_bytes: settings.max_upload_bytes,
        gc_grace: settings.gc_grace,
        orphan_grace: settings.orphan_grace,
        admin_password_file: Some(settings.data_dir.join("admin.password")),
        docker_default_repository: settings.docker_default_repository.clone(),
        blob_store_root: settings.blob_store_root.clone(),
        confine_blob_stores: settings.confine_blob_stores,
        listen: listener.local_addr().ok(),
    };
    let arca = web::Data::new(Arca::new(db.clone(), formats(), core));
    for s in db.list_blob_stores().await? {
        match s.kind.as_str() {
            "file" => {
                let path = if s.name == "default" {
                    blob_dir.clone()
                } else {
                    s.path.clone().into()
                };
                let store = FileBlobStore::open(&path, &s.name).with_context(|| {
                    format!("blob store {}: cannot open {}", s.name, path.display())
                })?;
                arca.storage.add_store(&s.name, Arc::new(store));
            }
            "s3" => open_s3_store(&arca, &s).await,
            other => {
                tracing::error!(blob_store = %s.name, kind = other, "unknown blob store type; not opened")
            }
        }
    }

    let generated = arca
        .security
        .bootstrap(
            settings.admin_password.as_deref(),
            settings.anonymous_access,
        )
        .await?;
    if let Some(pw) = &generated {
        write_admin_password(&settings.data_dir, pw)?;
        tracing::info!(file = %settings.data_dir.join("admin.password").display(), "admin password generated");
    }
    for note in filemodes::check_modes(&settings) {
        tracing::warn!("{note}");
    }

    let listen_addr = listener.local_addr()?;
    let app_arca = arca.clone();
    let mut server = HttpServer::new(move || build_app(app_arca.clone()))
        .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(n) = settings.workers {
        server = server.workers(n);
    }
    let server = match &settings.tls {
        Some((cert, key)) => server.listen_rustls_0_23(listener, tls::server_config(cert, key)?)?,
        None => server.listen(listener)?,
    }
    .run();
    let handle = server.handle();

    spawn_gc(arca.clone());
    spawn_connectors(arca.clone(), listen_addr.ip(), settings.workers);
    tracing::info!(
        listen = %listen_addr,
        tls = settings.tls.is_some(),
        database = db.kind(),
        ready_ms = t0.elapsed().as_millis() as u64,
        "arca ready"
    );
    Ok(Running {
        server,
        handle,
        arca,
        admin_password: generated,
    })
}

/// Registers an S3 blob store once its bucket answers. One bad store must not keep Arca from
/// starting: a failure is logged and leaves the store unregistered, so the REST API lists it
/// `unavailable` and its repositories fail until it works. Settings that cannot work stay so;
/// a bucket that does not answer is tried again every minute (it may be down for a while).
async fn open_s3_store(arca: &web::Data<Arca>, row: &arca_core::meta::BlobStoreRow) {
    let store = S3Config::from_attributes(&row.attributes)
        .and_then(|cfg| S3BlobStore::connect(&row.name, &cfg));
    let store = match store {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(blob_store = %row.name, error = %e, "cannot open the S3 blob store; it stays unavailable");
            return;
        }
    };
    match tokio::time::timeout(S3_CHECK_TIMEOUT, store.verify()).await {
        Ok(Ok(())) => {
            arca.storage.add_store(&row.name, store);
            return;
        }
        Ok(Err(e)) => {
            tracing::error!(blob_store = %row.name, error = %e, "S3 blob store not reachable; unavailable until it is")
        }
        Err(_) => {
            tracing::error!(blob_store = %row.name, "S3 blob store did not answer; unavailable until it does")
        }
    }
    let (arca, row) = (arca.clone(), row.clone());
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            // Stop when the store was removed or reconfigured meanwhile.
            let Ok(all) = arca.db.list_blob_stores().await else {
                continue;
            };
            let same = |s: &arca_core::meta::BlobStoreRow| {
                s.name == row.name && s.attributes == row.attributes
            };
            if !all.iter().any(same) || arca.storage.store(&row.name).is_ok() {
                return;
            }
            if let Ok(Ok(())) = tokio::time::timeout(S3_CHECK_TIMEOUT, store.verify()).await {
                tracing::info!(blob_store = %row.name, "S3 blob store reachable again");
                arca.storage.add_store(&row.name, store);
                return;
            }
        }
    });
}

/// How long start-up waits for an S3 bucket to answer.
const S3_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn write_admin_password(dir: &std::path::Path, pw: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let path = dir.join("admin.password");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // The mode above applies only to a new file.
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(pw.as_bytes())?;
    Ok(())
}

/// Runs the built-in tasks every minute; each run is guarded by its lease in the database, so
/// one node at a time does the work.
fn spawn_gc(arca: web::Data<Arca>) {
    let node = format!(
        "{}-{}",
        std::process::id(),
        arca_core::security::random_secret(8)
    );
    actix_web::rt::spawn(async move {
        if let Err(e) = arca_core::tasks::register(&arca).await {
            tracing::warn!(error = %e, "cannot register the built-in tasks");
        }
        let mut tick = tokio::time::interval(arca_core::tasks::INTERVAL);
        loop {
            tick.tick().await;
            let run = arca_core::tasks::run_due(&arca, &node);
            if let Err(e) = run.instrument(tracing::info_span!("tasks")).await {
                tracing::warn!(error = %e, "task run failed");
            }
        }
    });
}

/// Keeps one listener per docker repository that asks for its own port (`docker.httpPort`),
/// in step with the configuration in the database (so every node of a cluster follows changes).
fn spawn_connectors(arca: web::Data<Arca>, ip: std::net::IpAddr, workers: Option<usize>) {
    use std::collections::HashMap;
    actix_web::rt::spawn(async move {
        let mut running: HashMap<u16, (String, ServerHandle)> = HashMap::new();
        let mut failed: HashMap<u16, String> = HashMap::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            let Ok(repos) = arca.db.list_repositories().await else {
                continue;
            };
            let wanted: HashMap<u16, String> = repos
                .iter()
                .filter(|r| r.format == "docker")
                .filter_map(|r| {
                    arca_docker::connector_port(&r.attrs).map(|p| (p, r.name.to_string()))
                })
                .collect();
            let stale: Vec<u16> = running
                .iter()
                .filter(|(p, (name, _))| wanted.get(p) != Some(name))
                .map(|(p, _)| *p)
                .collect();
            for port in stale {
                if let Some((name, handle)) = running.remove(&port) {
                    tracing::info!(port, repository = %name, "closing repository connector");
                    actix_web::rt::spawn(async move { handle.stop(true).await });
                }
            }
            for (port, name) in &wanted {
                if running.contains_key(port) || failed.get(port) == Some(name) {
                    continue;
                }
                match start_connector(&arca, ip, *port, workers) {
                    Ok(handle) => {
                        tracing::info!(port, repository = %name, "repository connector listening");
                        failed.remove(port);
                        running.insert(*port, (name.clone(), handle));
                    }
                    Err(e) => {
                        tracing::warn!(port, repository = %name, error = %e, "cannot open repository connector");
                        failed.insert(*port, name.clone());
                    }
                }
            }
            if let Ok(mut c) = arca.connectors.write() {
                *c = running
                    .iter()
                    .map(|(p, (name, _))| (*p, name.clone()))
                    .collect();
            }
        }
    });
}

fn start_connector(
    arca: &web::Data<Arca>,
    ip: std::net::IpAddr,
    port: u16,
    workers: Option<usize>,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind((ip, port))?;
    let app_arca = arca.clone();
    let mut server = HttpServer::new(move || build_app(app_arca.clone())).shutdown_timeout(5);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(handle)
}

/// The whole application: formats' routes, `/repository/...`, the REST API and the UI.
pub fn build_app(
    arca: web::Data<Arca>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let formats = arca.formats.clone();
    App::new()
        .app_data(arca)
        .app_data(json_config())
        .wrap(middleware::from_fn(headers::security_headers))
        .wrap(middleware::from_fn(telemetry::request_span))
        .configure(|cfg| {
            for f in formats.all() {
                f.configure(cfg);
            }
        })
        .route("/repository/{name}", web::route().to(repo_root_redirect))
        .route(
            "/repository/{name}/{path:.*}",
            web::route().to(repository_route),
        )
        .configure(arca_web::configure)
}

/// `/repository/x` → `x/`, relative as RFC 9110 allows, so it is right behind any proxy.
/// Only a valid name reaches the header (a decoded CR LF would break it).
async fn repo_root_redirect(req: actix_web::HttpRequest, name: web::Path<String>) -> HttpResponse {
    if !arca_core::http::path_is_utf8(&req) {
        return arca_core::http::text(
            actix_web::http::StatusCode::BAD_REQUEST,
            "the request path is not UTF-8 once percent-decoded",
        );
    }
    if arca_core::model::RepoName::parse(&name).is_err() {
        return arca_core::http::text(
            actix_web::http::StatusCode::NOT_FOUND,
            format!("Repository {name:?} not found"),
        );
    }
    HttpResponse::MovedPermanently()
        .insert_header(("Location", format!("{name}/")))
        .finish()
}

/// How deep a REST body may nest: serde_json's recursion limit, kept on (values are built and
/// dropped recursively), whose error is answered with a 400 like any other bad body.
const JSON_MAX_DEPTH: usize = 128;

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(4 * 1024 * 1024)
        .error_handler(|err, _req| {
            let msg = match &err {
                actix_web::error::JsonPayloadError::Deserialize(e)
                    if e.to_string().starts_with("recursion limit exceeded") =>
                {
                    format!("nested deeper than {JSON_MAX_DEPTH} levels")
                }
                _ => err.to_string(),
            };
            // Too large is 413, as for every other body; the rest is the client's JSON.
            let status = match &err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                }
                _ => actix_web::http::StatusCode::BAD_REQUEST,
            };
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::build(status).json(serde_json::json!([{ "id": "*", "message": format!("invalid JSON body: {msg}") }])),
            )
            .into()
        })
}
