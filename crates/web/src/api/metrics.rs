use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Guard};

use super::MetricsRead;

/// Prometheus text exposition.
pub async fn metrics(arca: web::Data<Arca>, _g: Guard<MetricsRead>) -> HttpResponse {
    let repos = arca
        .db
        .list_repositories()
        .await
        .map(|r| r.len() as f64)
        .unwrap_or(f64::NAN);
    let mut bytes = 0.0;
    let mut blobs = 0.0;
    for name in arca.storage.store_names() {
        if let Ok((b, n)) = arca.storage.usage(&name).await {
            bytes += b as f64;
            blobs += n as f64;
        }
    }
    let gauges = [
        (
            "arca_uptime_seconds",
            "Seconds since the server started.",
            arca.started.elapsed().as_secs_f64(),
        ),
        ("arca_repositories", "Configured repositories.", repos),
        ("arca_blob_bytes", "Bytes held in blob stores.", bytes),
        ("arca_blobs", "Blobs held in blob stores.", blobs),
    ];
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(
            arca.metrics
                .render(&gauges, &arca.security.login_counters()),
        )
}
