use actix_web::{HttpResponse, web};
use arca_core::{Arca, blob::MIN_FREE_SPACE};
use serde::Serialize;
use utoipa::ToSchema;

use super::HealthRead;
use arca_core::auth::Guard;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/status", web::get().to(status))
        .route("/status/writable", web::get().to(writable))
        .route("/status/check", web::get().to(check));
}

/// Whether the node can serve reads (load balancers poll this).
#[utoipa::path(
    get,
    operation_id = "get_status",
    path = "/service/rest/v1/status",
    tag = "Status",
    security(()),
    responses(
        (status = 200, description = "Available to service requests"),
        (status = 503, description = "Unavailable to service requests"),
    ),
)]
pub(crate) async fn status(arca: web::Data<Arca>) -> HttpResponse {
    match arca.db.ping().await {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Whether the node can serve reads and take writes.
#[utoipa::path(
    get,
    operation_id = "get_status_writable",
    path = "/service/rest/v1/status/writable",
    tag = "Status",
    security(()),
    responses(
        (status = 200, description = "Available to service requests"),
        (status = 503, description = "Unavailable to service requests"),
    ),
)]
pub(crate) async fn writable(arca: web::Data<Arca>) -> HttpResponse {
    // A real write, not a ping: a read-only or full database still answers pings.
    let db_ok = match arca.db.probe_write().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "database write probe failed");
            false
        }
    };
    let mut stores_ok = true;
    for name in arca.storage.store_names() {
        stores_ok &= match arca.storage.store(&name) {
            Ok(s) => {
                let free = s.available_space().await;
                if free.is_some_and(|f| f < MIN_FREE_SPACE) {
                    tracing::warn!(blob_store = %name, free, "blob store nearly full");
                }
                s.writable().await && free.is_none_or(|f| f >= MIN_FREE_SPACE)
            }
            Err(_) => false,
        };
    }
    if db_ok && stores_ok {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

/// The result of one status check.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatusCheckResult {
    healthy: bool,
    message: String,
    /// Always null in Arca.
    #[schema(value_type = Option<String>)]
    error: Option<String>,
    /// Always null in Arca.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
    /// When the check ran, in milliseconds since the epoch.
    time: i64,
    /// How long the check took, in milliseconds.
    duration: u64,
    /// Always null in Arca.
    timestamp: Option<String>,
}

/// Nexus's system status checks, keyed by check name.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatusCheckResults {
    #[serde(rename = "Available CPUs")]
    available_cpus: StatusCheckResult,
    #[serde(rename = "Blob Integrity")]
    blob_integrity: StatusCheckResult,
    #[serde(rename = "Blob Stores Ready")]
    blob_stores_ready: StatusCheckResult,
    #[serde(rename = "Default Admin Credentials")]
    default_admin_credentials: StatusCheckResult,
    #[serde(rename = "Metadata Database")]
    metadata_database: StatusCheckResult,
}

fn check_entry(healthy: bool, message: String, started: std::time::Instant) -> StatusCheckResult {
    StatusCheckResult {
        healthy,
        message,
        error: None,
        details: None,
        time: arca_core::model::now_ms(),
        duration: started.elapsed().as_millis() as u64,
        timestamp: None,
    }
}

/// The results of the system status checks.
#[utoipa::path(
    get,
    operation_id = "get_status_check",
    path = "/service/rest/v1/status/check",
    tag = "Status",
    responses(
        (status = 200, description = "The system status check results", body = StatusCheckResults),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn check(arca: web::Data<Arca>, _g: Guard<HealthRead>) -> HttpResponse {
    let t = std::time::Instant::now();
    let db = match arca.db.ping().await {
        Ok(()) => check_entry(true, format!("{} reachable", arca.db.kind()), t),
        Err(e) => check_entry(false, format!("{} unreachable: {e}", arca.db.kind()), t),
    };
    let t = std::time::Instant::now();
    let mut unavailable = vec![];
    for name in arca.storage.store_names() {
        match arca.storage.store(&name) {
            Ok(store) if store.healthy().await => {}
            _ => unavailable.push(name),
        }
    }
    let stores = if unavailable.is_empty() {
        check_entry(true, "all blob stores available".into(), t)
    } else {
        check_entry(false, format!("unavailable: {}", unavailable.join(", ")), t)
    };
    // The last run of the integrity task: unhealthy while it names bad blobs.
    let t = std::time::Instant::now();
    let integrity = match arca.db.list_tasks().await {
        Ok(tasks) => match tasks
            .into_iter()
            .find(|x| x.id == arca_core::tasks::INTEGRITY)
            .and_then(|x| x.last_result)
        {
            Some(r) => check_entry(!r.starts_with("FAILED"), r, t),
            None => check_entry(true, "not run yet".into(), t),
        },
        Err(e) => check_entry(false, format!("cannot read the task: {e}"), t),
    };
    // Healthy once the generated admin password has been changed (its file is then gone).
    let generated = arca
        .settings
        .admin_password_file
        .as_ref()
        .is_some_and(|f| f.exists());
    let credentials = check_entry(
        !generated,
        if generated {
            "the generated admin password is still in use (admin.password): change it".into()
        } else {
            "the generated admin password has been changed".into()
        },
        std::time::Instant::now(),
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    HttpResponse::Ok().json(StatusCheckResults {
        available_cpus: check_entry(true, format!("{cpus} CPUs"), std::time::Instant::now()),
        blob_integrity: integrity,
        blob_stores_ready: stores,
        default_admin_credentials: credentials,
        metadata_database: db,
    })
}
