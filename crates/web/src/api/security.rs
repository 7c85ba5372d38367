//! `security/anonymous` (Nexus) and `security/tokens` (Arca's API tokens: Nexus keeps user
//! tokens in its Pro edition, so Arca's own small API stands in until the full security API).

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::{Caller, Guard},
    meta::MetaError,
    model::now_ms,
    security::{ANONYMOUS_USER, AuthError},
};
use serde::Deserialize;
use serde_json::json;

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

async fn get_anonymous(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
) -> Result<HttpResponse, ApiError> {
    let enabled = arca.security.anonymous_enabled().await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "enabled": enabled, "userId": ANONYMOUS_USER, "realmName": REALM_NAME })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnonymousSettings {
    enabled: bool,
    user_id: Option<String>,
    realm_name: Option<String>,
}

async fn put_anonymous(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<AnonymousSettings>,
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
    Ok(HttpResponse::Ok().json(
        json!({ "enabled": body.enabled, "userId": ANONYMOUS_USER, "realmName": REALM_NAME }),
    ))
}

fn signed_in(c: &Caller) -> Result<&str, ApiError> {
    if c.0.anonymous {
        Err(AuthError::Unauthenticated.into())
    } else {
        Ok(&c.0.user_id)
    }
}

fn token_json(t: &arca_core::meta::ApiToken) -> serde_json::Value {
    json!({
        "id": t.id,
        "name": t.name,
        "userId": t.user_id,
        "created": t.created_ms,
        "expires": t.expires_ms,
        "lastUsed": t.last_used_ms,
    })
}

async fn list_tokens(arca: web::Data<Arca>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let user = signed_in(&caller)?;
    let tokens = arca.db.list_tokens(user).await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(token_json).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewToken {
    name: String,
    expires_in_days: Option<u32>,
}

/// Creates a token for the caller; the token itself is in this response only.
async fn create_token(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let user = signed_in(&caller)?;
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
    let mut out = token_json(&t);
    out["token"] = json!(token);
    Ok(HttpResponse::Created().json(out))
}

async fn delete_token(
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

/// Nexus's `PUT security/users/{userId}/change-password` with the new password as text. Users
/// may change their own; changing another's takes `nx-users-update`. Once admin's is changed,
/// the generated `admin.password` file goes, as Nexus does.
async fn change_password(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    user: web::Path<String>,
    body: String,
) -> Result<HttpResponse, ApiError> {
    let me = signed_in(&caller)?;
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
    if password.len() < 8 {
        return Err(ApiError::invalid(
            "PARAMETER password",
            "the password must be at least 8 characters",
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
