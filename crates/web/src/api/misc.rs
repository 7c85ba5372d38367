//! Small endpoints: `formats/upload-specs` (Nexus) and `audit` (Arca's own: Nexus shows its
//! audit log only in the UI).

use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Caller, auth::Guard};
use serde::Deserialize;
use serde_json::json;

use super::{AuditRead, components::iso};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/formats/upload-specs", web::get().to(upload_specs))
        .route("/formats/{format}/upload-specs", web::get().to(upload_spec))
        .route("/audit", web::get().to(audit_log));
}

async fn upload_specs(arca: web::Data<Arca>, _c: Caller) -> HttpResponse {
    let specs: Vec<_> = arca
        .formats
        .all()
        .iter()
        .filter_map(|f| f.upload_spec())
        .collect();
    HttpResponse::Ok().json(specs)
}

async fn upload_spec(
    arca: web::Data<Arca>,
    _c: Caller,
    format: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    arca.formats
        .all()
        .iter()
        .find(|f| f.id() == format.as_str() || f.api_name() == format.as_str())
        .and_then(|f| f.upload_spec())
        .map(|s| HttpResponse::Ok().json(s))
        .ok_or_else(|| ApiError::NotFound(format!("no upload specification for format {format}")))
}

#[derive(Deserialize)]
struct Page {
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

const PAGE: i64 = 100;

/// Newest first, 100 a page.
async fn audit_log(
    arca: web::Data<Arca>,
    _g: Guard<AuditRead>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let before = super::paging::decode(q.continuation_token.as_deref())?;
    let events = arca.db.list_audit(before, PAGE).await?;
    let items: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "timestamp": iso(e.ts_ms),
                "actor": e.actor,
                "remoteIp": e.remote_ip,
                "domain": e.domain,
                "type": e.kind,
                "context": e.context,
                "attributes": e.attributes,
            })
        })
        .collect();
    let token = super::paging::next(
        events.last().map_or(0, |e| e.id),
        events.len() as i64 == PAGE,
    );
    Ok(HttpResponse::Ok().json(json!({ "items": items, "continuationToken": token })))
}
