//! `security/anonymous` (Nexus) and `security/tokens` (Arca's API tokens: Nexus keeps user
//! tokens in its Pro edition, so Arca's own small API stands in until the full security API).

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::{Caller, Guard},
    meta::MetaError,
    model::now_ms,
    security::{ANONYMOUS_USER, AuthError, Via},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{SettingsRead, SettingsUpdate, audit};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/security/anonymous", web::get().to(get_anonymous))
        .route("/security/anonymous", web::put().to(put_anonymous))
        .route("/security/tokens", web::get().to(list_tokens))
        .route("/security/tokens", web::post().to(create_token))
        .route("/security/tokens/{id}", web::delete().to(delete_token))
        .route(
            "/security/users/{userId}/change-password",
            web::put().to(change_password),
        );
}

const REALM_NAME: &str = "NexusAuthorizingRealm";

/// Anonymous access: on or off. The user and realm are fixed (`anonymous`,
/// `NexusAuthorizingRealm`); a request may leave them out.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnonymousAccessSettingsXO {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "anonymous")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "NexusAuthorizingRealm")]
    realm_name: Option<String>,
}

impl AnonymousAccessSettingsXO {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            user_id: Some(ANONYMOUS_USER.into()),
            realm_name: Some(REALM_NAME.into()),
        }
    }
}

/// Get the anonymous access settings.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/anonymous",
    tag = "Security management: anonymous access",
    responses(
        (status = 200, description = "The settings", body = AnonymousAccessSettingsXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn get_anonymous(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
) -> Result<HttpResponse, ApiError> {
    let enabled = arca.security.anonymous_enabled().await?;
    Ok(HttpResponse::Ok().json(AnonymousAccessSettingsXO::new(enabled)))
}

/// Turn anonymous access on or off.
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/anonymous",
    tag = "Security management: anonymous access",
    request_body = AnonymousAccessSettingsXO,
    responses(
        (status = 200, description = "The settings now", body = AnonymousAccessSettingsXO),
        (status = 400, description = "Another user or realm", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn put_anonymous(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<AnonymousAccessSettingsXO>,
) -> Result<HttpResponse, ApiError> {
    if body.user_id.as_deref().is_some_and(|u| u != ANONYMOUS_USER) {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            format!("userId must be {ANONYMOUS_USER}"),
        ));
    }
    if body.realm_name.as_deref().is_some_and(|r| r != REALM_NAME) {
        return Err(ApiError::invalid(
            "PARAMETER realmName",
            format!("realmName must be {REALM_NAME}"),
        ));
    }
    arca.security.set_anonymous(body.enabled).await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "security",
        "anonymous",
        "anonymous access",
        json!({ "enabled": body.enabled }),
    )
    .await;
    Ok(HttpResponse::Ok().json(AnonymousAccessSettingsXO::new(body.enabled)))
}

fn signed_in(c: &Caller) -> Result<&str, ApiError> {
    if c.0.anonymous {
        Err(AuthError::Unauthenticated.into())
    } else {
        Ok(&c.0.user_id)
    }
}

/// Signed in by password or session: an API token may not mint tokens (they would outlive its
/// revocation) nor change passwords (it never proved knowing one).
fn with_password<'a>(c: &'a Caller, what: &'static str) -> Result<&'a str, ApiError> {
    let user = signed_in(c)?;
    if c.0.via == Via::Token {
        return Err(AuthError::NeedsPassword(what).into());
    }
    Ok(user)
}

/// An API token (without its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiTokenXO {
    id: i64,
    name: String,
    user_id: String,
    /// Milliseconds since the epoch.
    created: i64,
    /// Milliseconds since the epoch; null for a token that does not expire.
    expires: Option<i64>,
    /// Milliseconds since the epoch; null before first use.
    last_used: Option<i64>,
}

/// A new API token, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiTokenCreatedXO {
    #[serde(flatten)]
    details: ApiTokenXO,
    /// Use as `Authorization: Bearer <token>`.
    token: String,
}

fn token_xo(t: &arca_core::meta::ApiToken) -> ApiTokenXO {
    ApiTokenXO {
        id: t.id,
        name: t.name.clone(),
        user_id: t.user_id.clone(),
        created: t.created_ms,
        expires: t.expires_ms,
        last_used: t.last_used_ms,
    }
}

/// List the caller's API tokens.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/tokens",
    tag = "Security management: API tokens",
    responses(
        (status = 200, description = "The caller's tokens", body = Vec<ApiTokenXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn list_tokens(
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user = signed_in(&caller)?;
    let tokens = arca.db.list_tokens(user).await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(token_xo).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiTokenRequest {
    /// 1 to 100 characters.
    name: String,
    /// Days until the token expires; it never does without.
    expires_in_days: Option<u32>,
}

/// Create an API token for the caller; the token itself is in this response only.
#[utoipa::path(
    post,
    path = "/service/rest/v1/security/tokens",
    tag = "Security management: API tokens",
    request_body = ApiTokenRequest,
    responses(
        (status = 201, description = "Token created", body = ApiTokenCreatedXO),
        (status = 400, description = "Invalid name", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Called with an API token: tokens cannot create tokens"),
    ),
)]
pub(crate) async fn create_token(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    body: web::Json<ApiTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = with_password(
        &caller,
        "an API token cannot create API tokens; sign in with a password",
    )?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid(
            "PARAMETER name",
            "name must be 1 to 100 characters",
        ));
    }
    let expires = body
        .expires_in_days
        .map(|d| now_ms() + i64::from(d) * 86_400_000);
    let (token, t) = arca.security.issue_token(user, name, expires).await?;
    audit(
        &arca,
        &req,
        &caller.0,
        "security",
        "token-created",
        name,
        json!({ "id": t.id }),
    )
    .await;
    Ok(HttpResponse::Created().json(ApiTokenCreatedXO {
        details: token_xo(&t),
        token,
    }))
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/tokens/{id}",
    tag = "Security management: API tokens",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Token revoked"),
        (status = 401, description = "Authentication required"),
        (status = 404, description = "Token not found"),
    ),
)]
pub(crate) async fn delete_token(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = signed_in(&caller)?;
    match arca.security.revoke_token(user, *id).await {
        Ok(()) => {}
        Err(AuthError::Meta(MetaError::NotFound)) => {
            return Err(ApiError::NotFound(format!("token {id} not found")));
        }
        Err(e) => return Err(e.into()),
    }
    audit(
        &arca,
        &req,
        &caller.0,
        "security",
        "token-revoked",
        &id.to_string(),
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Change a user's password.
///
/// Users may change their own; another's takes `nx-users-update`. Once admin's is changed, the
/// generated `admin.password` file goes, as in Nexus.
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/users/{userId}/change-password",
    tag = "Security management: users",
    params(("userId" = String, Path, description = "The user whose password to change")),
    request_body(content = String, description = "The new password (at least 8 characters)", content_type = "text/plain"),
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "No or too short a password, or the anonymous user", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "User not found"),
    ),
)]
pub(crate) async fn change_password(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    user: web::Path<String>,
    body: String,
) -> Result<HttpResponse, ApiError> {
    let me = with_password(
        &caller,
        "an API token cannot change passwords; sign in with a password",
    )?;
    if me != user.as_str() {
        arca.security.authorize(
            &caller.0,
            &arca_core::security::Permission::App {
                domain: "users",
                action: "update",
            },
        )?;
    }
    let password = body.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(ApiError::invalid(
            "PARAMETER password",
            "Password was not supplied in the body of the request",
        ));
    }
    if password.len() < 8 || password.len() > 1024 {
        return Err(ApiError::invalid(
            "PARAMETER password",
            "the password must be 8 to 1024 characters",
        ));
    }
    if user.as_str() == ANONYMOUS_USER {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            "the anonymous user has no password",
        ));
    }
    match arca.security.change_password(&user, password).await {
        Ok(()) => {}
        Err(AuthError::Meta(MetaError::NotFound)) => {
            return Err(ApiError::NotFound(format!("User {user} not found")));
        }
        Err(e) => return Err(e.into()),
    }
    if user.as_str() == "admin"
        && let Some(f) = &arca.settings.admin_password_file
        && f.exists()
        && let Err(e) = std::fs::remove_file(f)
    {
        tracing::warn!(error = %e, file = %f.display(), "could not remove the admin password file");
    }
    audit(
        &arca,
        &req,
        &caller.0,
        "security",
        "password-changed",
        &user,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
