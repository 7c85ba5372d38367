use actix_web::{HttpResponse, web};
use arca_core::Arca;
use serde_json::json;

use super::HealthRead;
use arca_core::auth::Guard;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/status", web::get().to(status))
        .route("/status/writable", web::get().to(writable))
        .route("/status/check", web::get().to(check));
}

/// 200 when the node can serve reads, 503 otherwise (load balancers poll this).
async fn status(arca: web::Data<Arca>) -> HttpResponse {
    match arca.db.ping().await {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// 200 when the node can also take writes.
async fn writable(arca: web::Data<Arca>) -> HttpResponse {
    let db_ok = arca.db.ping().await.is_ok();
    let mut stores_ok = true;
    for name in arca.storage.store_names() {
        stores_ok &= match arca.storage.store(&name) {
            Ok(s) => s.healthy().await,
            Err(_) => false,
        };
    }
    if db_ok && stores_ok {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

fn check_entry(healthy: bool, message: String, started: std::time::Instant) -> serde_json::Value {
    json!({
        "healthy": healthy,
        "message": message,
        "error": null,
        "details": null,
        "time": arca_core::model::now_ms(),
        "duration": started.elapsed().as_millis() as u64,
        "timestamp": null,
    })
}

/// Nexus's system status checks, keyed by check name.
async fn check(arca: web::Data<Arca>, _g: Guard<HealthRead>) -> HttpResponse {
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
    HttpResponse::Ok().json(json!({
        "Available CPUs": check_entry(true, format!("{} CPUs", std::thread::available_parallelism().map_or(1, |n| n.get())), std::time::Instant::now()),
        "Blob Stores Ready": stores,
        "Default Admin Credentials": credentials,
        "Metadata Database": db,
    }))
}
