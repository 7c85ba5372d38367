//! Nexus's `read-only` (freeze and release for consistent backups) and `lifecycle` endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{Arca, auth::Guard};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{SettingsRead, SettingsUpdate, audit, components::iso};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/read-only", web::get().to(read_only))
        .route("/read-only/freeze", web::post().to(freeze))
        .route("/read-only/release", web::post().to(release))
        .route("/read-only/force-release", web::post().to(force_release))
        .route("/lifecycle/phase", web::get().to(phase))
        .route("/lifecycle/phase", web::put().to(set_phase))
        .route("/lifecycle/bounce", web::put().to(bounce));
}

/// Nexus's `ReadOnlyState`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReadOnlyState {
    /// Always false: Arca never freezes itself.
    system_initiated: bool,
    /// Who froze the server and when; empty when writable.
    summary_reason: String,
    frozen: bool,
}

/// Whether the server is read-only.
#[utoipa::path(
    get,
    operation_id = "get_read_only_state",
    path = "/service/rest/v1/read-only",
    tag = "Read-only",
    responses(
        (status = 200, description = "The read-only state", body = ReadOnlyState),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn read_only(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
) -> Result<HttpResponse, ApiError> {
    let state = arca.storage.freeze.state().await;
    Ok(HttpResponse::Ok().json(ReadOnlyState {
        system_initiated: false,
        summary_reason: state
            .as_ref()
            .map(|f| format!("Activated by {} at {}", f.by, iso(f.at_ms)))
            .unwrap_or_default(),
        frozen: state.is_some(),
    }))
}

/// Make the server read-only: uploads, deletes and blob freeing are refused with 503 until
/// released, so the blob stores and the database can be backed up consistently.
#[utoipa::path(
    post,
    operation_id = "freeze",
    path = "/service/rest/v1/read-only/freeze",
    tag = "Read-only",
    responses(
        (status = 204, description = "The server is read-only"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No change to read-only state (already frozen)"),
    ),
)]
pub(crate) async fn freeze(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    if !arca.storage.freeze.freeze(&g.subject.user_id).await? {
        return Err(ApiError::NotFound("No change to read-only state".into()));
    }
    tracing::warn!(by = %g.subject.user_id, "server frozen: writes refused until released");
    audit(
        &arca,
        &req,
        &g.subject,
        "system",
        "frozen",
        "read-only",
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Make the server writable again.
#[utoipa::path(
    post,
    operation_id = "release",
    path = "/service/rest/v1/read-only/release",
    tag = "Read-only",
    responses(
        (status = 204, description = "The server is writable"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No change to read-only state (not frozen)"),
    ),
)]
pub(crate) async fn release(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    if !arca.storage.freeze.release().await? {
        return Err(ApiError::NotFound("No change to read-only state".into()));
    }
    tracing::info!(by = %g.subject.user_id, "server released: writable again");
    audit(
        &arca,
        &req,
        &g.subject,
        "system",
        "released",
        "read-only",
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Make the server writable whoever froze it; the same as `release` in Arca, whose freeze is
/// never system-initiated.
#[utoipa::path(
    post,
    operation_id = "force_release",
    path = "/service/rest/v1/read-only/force-release",
    tag = "Read-only",
    responses(
        (status = 204, description = "The server is writable"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No change to read-only state (not frozen)"),
    ),
)]
pub(crate) async fn force_release(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    release(req, arca, g).await
}

/// Nexus's start-up phases; Arca starts all of them at once and stays in the last.
const PHASES: &[&str] = &[
    "KERNEL",
    "STORAGE",
    "RESTORE",
    "UPGRADE",
    "SCHEMAS",
    "EVENTS",
    "SECURITY",
    "SERVICES",
    "CAPABILITIES",
    "TASKS",
];
const RUNNING: &str = "TASKS";

fn parse_phase(body: &[u8]) -> Result<&'static str, ApiError> {
    let asked = String::from_utf8_lossy(body).trim().to_ascii_uppercase();
    PHASES
        .iter()
        .find(|p| **p == asked)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid(
                "phase",
                format!("unknown phase {asked:?}: one of {}", PHASES.join(", ")),
            )
        })
}

/// The current lifecycle phase (always `TASKS`: fully started).
#[utoipa::path(
    get,
    operation_id = "get_lifecycle_phase",
    path = "/service/rest/v1/lifecycle/phase",
    tag = "Lifecycle",
    responses(
        (status = 200, description = "The current phase", body = String, content_type = "text/plain"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn phase(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(RUNNING)
}

/// Move to a phase: Arca has no partial start-up, so only `TASKS` (where it is) is accepted.
#[utoipa::path(
    put,
    operation_id = "set_lifecycle_phase",
    path = "/service/rest/v1/lifecycle/phase",
    tag = "Lifecycle",
    request_body(content = String, content_type = "text/plain", description = "The phase to move to"),
    responses(
        (status = 204, description = "In that phase"),
        (status = 400, description = "Unknown phase, or one Arca does not stop at"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn set_phase(
    _g: Guard<SettingsUpdate>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let phase = parse_phase(&body)?;
    if phase != RUNNING {
        return Err(ApiError::invalid(
            "phase",
            format!("Arca does not stop at phase {phase}: it runs all phases or none"),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Re-run a phase. `SECURITY` drops cached logins and privileges so they are read afresh;
/// the other phases hold no state to reload in Arca.
#[utoipa::path(
    put,
    operation_id = "bounce_lifecycle_phase",
    path = "/service/rest/v1/lifecycle/bounce",
    tag = "Lifecycle",
    request_body(content = String, content_type = "text/plain", description = "The phase to bounce"),
    responses(
        (status = 204, description = "Bounced"),
        (status = 400, description = "Unknown phase"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn bounce(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let phase = parse_phase(&body)?;
    if phase == "SECURITY" {
        arca.security.invalidate();
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "system",
        "bounced",
        phase,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
