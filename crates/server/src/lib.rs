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
    Arca, CoreSettings, Format, FormatRegistry, format::repository_route, http::PublicUrl, meta::Db,
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
        Arc::new(arca_npm::NpmFormat::default()),
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
    /// The node's background loops (tasks, connectors), stopped by [`Running::finish`].
    background: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl Running {
    /// After the server has stopped: ends the background loops while the runtime still runs
    /// (a loop dropped with the runtime would give its database connections back outside it,
    /// which sqlx cannot do), then closes the database.
    pub async fn finish(self) {
        for h in &self.background {
            h.abort();
        }
        for h in self.background {
            let _ = h.await;
        }
        self.arca.db.close().await;
    }
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

    claim_default_store(&db, &settings.blob_dir).await?;
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
    // Every store of the database, as every node opens them. The default store failing to
    // open stops the start; any other store that fails (an S3 bucket that does not answer, a
    // file store's directory missing on this node) is logged, listed unavailable and tried
    // again when used.
    let changes = arca.storage.reload_stores().await?;
    if let Some(f) = changes.failed.iter().find(|f| f.name == "default") {
        anyhow::bail!("blob store {}: {}", f.name, f.error);
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

    let background = vec![
        spawn_gc(arca.clone()),
        spawn_connectors(arca.clone(), listen_addr.ip(), settings.workers),
    ];
    // Other nodes' changes to what this node caches (PostgreSQL only).
    arca_core::cluster::spawn_listener(arca.clone());
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
        background,
    })
}

/// Records the `default` file store at `blob_dir`, or checks the recorded one.
///
/// On SQLite the database belongs to this one node, so the store follows `blob_dir` wherever
/// it is moved (the row's path is updated). On PostgreSQL several nodes share the row: a node
/// whose `blob_dir` differs from the recorded directory would write its blobs where the other
/// nodes cannot read them (they answer 404 for its assets) and, by rewriting the row, send
/// theirs to its directory. Such a node refuses to start, naming both directories: every node
/// must mount one shared directory at the recorded path (`ARCA_BLOB_DIR`), or keep blobs in
/// S3. The same directory reached through another path (a symbolic link) is accepted.
async fn claim_default_store(db: &Db, blob_dir: &std::path::Path) -> anyhow::Result<()> {
    let blob_dir = std::path::absolute(blob_dir).unwrap_or(blob_dir.to_path_buf());
    let mine = blob_dir.to_string_lossy();
    let row = db.ensure_blob_store("default", "file", &mine).await?;
    if row.path == mine {
        return Ok(());
    }
    let same_dir = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if matches!(db, Db::Pg(_)) {
        if same_dir(std::path::Path::new(&row.path), &blob_dir) {
            return Ok(());
        }
        anyhow::bail!(
            "blob_dir: this node's blob directory {mine} is not the default blob store's \
             directory {recorded} recorded in the shared PostgreSQL database: every node must use \
             the same directory, or its blobs are invisible to the others. Set ARCA_BLOB_DIR \
             (blob_dir) to {recorded}, mounted from storage shared by every node, or keep blobs \
             in an S3 blob store. If the default store really moved, move its files there and \
             update its row (UPDATE blob_stores SET path = '{mine}' WHERE name = 'default') \
             before starting the nodes.",
            recorded = row.path,
        );
    }
    db.set_blob_store_path("default", &mine).await?;
    Ok(())
}

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
fn spawn_gc(arca: web::Data<Arca>) -> actix_web::rt::task::JoinHandle<()> {
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
    })
}

/// Keeps one listener per docker repository that asks for its own port (`docker.httpPort`),
/// in step with the configuration in the database (so every node of a cluster follows changes).
fn spawn_connectors(
    arca: web::Data<Arca>,
    ip: std::net::IpAddr,
    workers: Option<usize>,
) -> actix_web::rt::task::JoinHandle<()> {
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
                .filter_map(|r| {
                    let (port, _) = arca.formats.get(&r.format)?.connector_port(&r.attrs)?;
                    Some((port, r.name.to_string()))
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
    })
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
        .configure(|cfg| arca_core::format::mount(cfg, &formats))
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
