//! Small endpoints: `formats/upload-specs` (Nexus) and `audit` (Arca's own: Nexus shows its
//! audit log only in the UI).

use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Caller, auth::Guard};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AuditRead, components::iso, paging::page};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/formats/upload-specs", web::get().to(upload_specs))
        .route("/formats/{format}/upload-specs", web::get().to(upload_spec))
        .route("/audit", web::get().to(audit_log));
}

/// The kind of value a component upload field takes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) enum UploadFieldType {
    #[schema(rename = "STRING")]
    String,
    #[schema(rename = "BOOLEAN")]
    Boolean,
}

/// A field of a format's component upload form. (The formats build this JSON themselves.)
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadFieldDefinitionXO {
    name: String,
    #[schema(rename = "type")]
    kind: UploadFieldType,
    optional: bool,
    group: String,
    #[schema(nullable = false)]
    description: Option<String>,
}

/// A format's component upload form: `<format>.<field>` for component fields,
/// `<format>.assetN[.<field>]` for each file and its fields.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub(crate) struct UploadDefinitionXO {
    /// The format id (`maven2`, `pypi`, `raw`, `yum`).
    format: String,
    /// Whether one upload may hold several assets.
    multiple_upload: bool,
    component_fields: Vec<UploadFieldDefinitionXO>,
    asset_fields: Vec<UploadFieldDefinitionXO>,
}

/// Get the upload fields of every format with a component upload.
#[utoipa::path(
    get,
    path = "/service/rest/v1/formats/upload-specs",
    tag = "Formats",
    responses(
        (status = 200, description = "The upload definitions", body = Vec<UploadDefinitionXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn upload_specs(arca: web::Data<Arca>, _c: Caller) -> HttpResponse {
    let specs: Vec<_> = arca
        .formats
        .all()
        .iter()
        .filter_map(|f| f.upload_spec())
        .collect();
    HttpResponse::Ok().json(specs)
}

/// Get the upload fields of one format.
#[utoipa::path(
    get,
    path = "/service/rest/v1/formats/{format}/upload-specs",
    tag = "Formats",
    params(("format" = String, Path, description = "The format (`maven2` or `maven`, `pypi`, `raw`, `yum`)")),
    responses(
        (status = 200, description = "The upload definition", body = UploadDefinitionXO),
        (status = 401, description = "Authentication required"),
        (status = 404, description = "No component upload for this format"),
    ),
)]
pub(crate) async fn upload_spec(
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// The `continuationToken` of the previous page.
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

/// A change recorded in the audit log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditEventXO {
    id: i64,
    #[schema(format = DateTime)]
    timestamp: String,
    /// The user who made the change.
    actor: String,
    remote_ip: Option<String>,
    /// What was changed: `repository`, `security.user`, `tasks`, ...
    domain: String,
    /// What happened: `created`, `updated`, `deleted`, ...
    #[serde(rename = "type")]
    kind: String,
    /// The name of what was changed.
    context: String,
    #[schema(value_type = Object)]
    attributes: serde_json::Value,
}

page!(
    /// A page of audit events, newest first.
    PageAuditEventXO,
    AuditEventXO
);

const PAGE: i64 = 100;

/// List the audit log, newest first, 100 a page.
#[utoipa::path(
    get,
    path = "/service/rest/v1/audit",
    tag = "Audit",
    params(Page),
    responses(
        (status = 200, description = "A page of audit events", body = PageAuditEventXO),
        (status = 400, description = "Invalid continuationToken", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn audit_log(
    arca: web::Data<Arca>,
    _g: Guard<AuditRead>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let before = super::paging::decode(q.continuation_token.as_deref())?;
    let events = arca.db.list_audit(before, PAGE).await?;
    let token = super::paging::next(
        events.last().map_or(0, |e| e.id),
        events.len() as i64 == PAGE,
    );
    let items = events
        .into_iter()
        .map(|e| AuditEventXO {
            id: e.id,
            timestamp: iso(e.ts_ms),
            actor: e.actor,
            remote_ip: e.remote_ip,
            domain: e.domain,
            kind: e.kind,
            context: e.context,
            attributes: e.attributes,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PageAuditEventXO {
        items,
        continuation_token: token,
    }))
}
