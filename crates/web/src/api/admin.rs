//! Nexus's smaller admin operations: security realms, user-token settings (over Arca's API
//! tokens), a repository's health check, cache invalidation and index rebuild, search
//! suggestions, and the script API, answered as a Nexus with script creation disabled.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca, RepoContext,
    auth::{Caller, Guard, RepoAdminGuard},
    format::RebuildError,
    model::RepoKind,
    security::{REALM_TOKENS, REALMS, Subject, TokenSettings},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ReposEdit, SettingsRead, SettingsUpdate, audit};
use crate::{ApiError, error::OrNotFound, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/security/realms/available",
        web::get().to(realms_available),
    )
    .route("/security/realms/active", web::get().to(realms_active))
    .route("/security/realms/active", web::put().to(set_realms_active))
    .route("/security/user-tokens", web::get().to(get_user_tokens))
    .route("/security/user-tokens", web::put().to(put_user_tokens))
    .route("/security/user-tokens", web::delete().to(reset_user_tokens))
    .route(
        "/repositories/{name}/health-check",
        web::post().to(enable_health_check),
    )
    .route(
        "/repositories/{name}/health-check",
        web::delete().to(disable_health_check),
    )
    .route(
        "/repositories/{name}/invalidate-cache",
        web::post().to(invalidate_cache),
    )
    .route(
        "/repositories/{name}/rebuild-index",
        web::post().to(rebuild_index),
    )
    .route("/search/suggest", web::get().to(suggest))
    .route("/script", web::get().to(list_scripts))
    .route("/script", web::post().to(add_script))
    .route("/script/{name}", web::get().to(get_script))
    .route("/script/{name}", web::put().to(replace_script))
    .route("/script/{name}", web::delete().to(delete_script))
    .route("/script/{name}/run", web::post().to(run_script));
}

// ------------------------------------------------------------------ realms

/// Nexus's `RealmApiXO`.
#[derive(Serialize, ToSchema)]
pub(crate) struct RealmApiXO {
    id: String,
    name: String,
}

/// List the available realms: Arca's, by Nexus's ids.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/realms/available",
    tag = "Security management: realms",
    responses(
        (status = 200, description = "The realms Arca has", body = Vec<RealmApiXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn realms_available(_g: Guard<SettingsRead>) -> HttpResponse {
    let out: Vec<RealmApiXO> = REALMS
        .iter()
        .map(|(id, name)| RealmApiXO {
            id: (*id).into(),
            name: (*name).into(),
        })
        .collect();
    HttpResponse::Ok().json(out)
}

/// List the active realm ids, in order.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/realms/active",
    tag = "Security management: realms",
    responses(
        (status = 200, description = "The active realm ids", body = Vec<String>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn realms_active(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(arca.security.active_realms().await?))
}

/// Refuses unknown or repeated ids, and a set through which no administrator could sign in.
async fn check_realms(arca: &Arca, ids: &[String]) -> Result<(), ApiError> {
    for (i, id) in ids.iter().enumerate() {
        if !REALMS.iter().any(|(r, _)| r == id) {
            return Err(ApiError::invalid(
                "*",
                format!(
                    "unknown realm {id:?}; available: {}",
                    REALMS.map(|(r, _)| r).join(", ")
                ),
            ));
        }
        if ids[..i].contains(id) {
            return Err(ApiError::invalid(
                "*",
                format!("realm {id} is listed twice"),
            ));
        }
    }
    if !arca.security.admin_can_enter(ids).await? {
        return Err(ApiError::invalid(
            "*",
            "no administrator could sign in with only these realms: keep NexusAuthenticatingRealm \
             (or User-Token-Realm while an administrator holds an API token)",
        ));
    }
    Ok(())
}

/// Set the active realms, in the order they are tried. Credentials of an inactive realm are
/// refused.
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/realms/active",
    tag = "Security management: realms",
    request_body(content = Vec<String>, description = "The realm ids"),
    responses(
        (status = 204, description = "Realms set"),
        (status = 400, description = "An unknown realm, or no way left for an administrator to sign in", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn set_realms_active(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.into_inner();
    check_realms(&arca, &ids).await?;
    arca.security.set_active_realms(&ids).await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "security",
        "realms",
        "active realms",
        json!({ "realms": ids }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ user tokens

/// Nexus's `UserTokensApiModel`, over Arca's API tokens: `enabled` is whether the token realm
/// is active; with expiration, a token stops working `expirationDays` after it was created.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserTokensApiModel {
    #[serde(default)]
    #[schema(nullable = false)]
    enabled: Option<bool>,
    #[serde(default)]
    #[schema(nullable = false, minimum = 1, maximum = 999)]
    expiration_days: Option<i64>,
    #[serde(default)]
    #[schema(nullable = false)]
    expiration_enabled: Option<bool>,
    /// Arca accepts repository requests with a password as well: only `false`.
    #[serde(default)]
    #[schema(nullable = false)]
    protect_content: Option<bool>,
}

async fn user_tokens_model(arca: &Arca) -> Result<UserTokensApiModel, ApiError> {
    let t = arca.security.token_settings().await?;
    Ok(UserTokensApiModel {
        enabled: Some(arca.security.realm_active(REALM_TOKENS).await?),
        expiration_days: Some(t.expiration_days),
        expiration_enabled: Some(t.expiration_enabled),
        protect_content: Some(t.protect_content),
    })
}

/// Show the user-token settings.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/user-tokens",
    tag = "Security management: user tokens",
    responses(
        (status = 200, description = "The settings", body = UserTokensApiModel),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn get_user_tokens(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(user_tokens_model(&arca).await?))
}

/// Change the user-token settings; fields left out keep their value.
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/user-tokens",
    tag = "Security management: user tokens",
    request_body = UserTokensApiModel,
    responses(
        (status = 200, description = "The settings now", body = UserTokensApiModel),
        (status = 400, description = "A field is wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn put_user_tokens(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<UserTokensApiModel>,
) -> Result<HttpResponse, ApiError> {
    let old = arca.security.token_settings().await?;
    let new = TokenSettings {
        expiration_enabled: body.expiration_enabled.unwrap_or(old.expiration_enabled),
        expiration_days: body.expiration_days.unwrap_or(old.expiration_days),
        protect_content: body.protect_content.unwrap_or(old.protect_content),
    };
    if !(1..=999).contains(&new.expiration_days) {
        return Err(ApiError::invalid(
            "expirationDays",
            "expirationDays must be 1 to 999",
        ));
    }
    if new.protect_content {
        return Err(ApiError::invalid(
            "protectContent",
            "protectContent is not supported: repositories accept passwords as well as tokens",
        ));
    }
    // Checked before anything is stored: a refused request changes nothing.
    let mut realms = arca.security.active_realms().await?;
    let realms_changed = match body.enabled {
        Some(true) if !realms.iter().any(|r| r == REALM_TOKENS) => {
            realms.push(REALM_TOKENS.into());
            true
        }
        Some(false) if realms.iter().any(|r| r == REALM_TOKENS) => {
            realms.retain(|r| r != REALM_TOKENS);
            true
        }
        _ => false,
    };
    if realms_changed {
        check_realms(&arca, &realms).await?;
    }
    if new != old {
        arca.security.set_token_settings(&new).await?;
    }
    if realms_changed {
        arca.security.set_active_realms(&realms).await?;
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "security",
        "user-tokens",
        "user token settings",
        json!({ "settings": new, "enabled": body.enabled }),
    )
    .await;
    Ok(HttpResponse::Ok().json(user_tokens_model(&arca).await?))
}

/// Reset (delete) every user's API tokens.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/user-tokens",
    tag = "Security management: user tokens",
    responses(
        (status = 204, description = "Every token deleted"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn reset_user_tokens(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    // Checked before anything goes: with passwords switched off, tokens are the only way in.
    let realms = arca.security.active_realms().await?;
    if !realms.iter().any(|r| r == arca_core::security::REALM_LOCAL) {
        return Err(ApiError::invalid(
            "*",
            "resetting every user token while the local (password) realm is inactive would lock every administrator out",
        ));
    }
    let n = arca.security.reset_all_tokens().await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "security",
        "user-tokens-reset",
        "all user tokens",
        json!({ "deleted": n }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ repository operations

async fn repository(arca: &Arca, name: &str) -> Result<arca_core::model::Repository, ApiError> {
    arca.db
        .get_repository(name)
        .await
        .or_not_found(|| format!("Repository {name} not found"))
}

/// Enable Repository Health Check: Arca has no such capability, so it answers as a Nexus
/// without it does (409).
#[utoipa::path(
    post,
    path = "/service/rest/v1/repositories/{repositoryName}/health-check",
    tag = "Repository Management",
    params(("repositoryName" = String, Path, description = "The repository")),
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
        (status = 409, description = "Repository Health Check capability not active", body = Vec<ValidationErrorXO>),
    ),
)]
pub(crate) async fn enable_health_check(
    arca: web::Data<Arca>,
    _g: RepoAdminGuard<ReposEdit>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    repository(&arca, &name).await?;
    Err(ApiError::Conflict(
        "Repository Health Check capability not active".into(),
    ))
}

/// Disable Repository Health Check: it is never on, so there is nothing to do.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/repositories/{repositoryName}/health-check",
    tag = "Repository Management",
    params(("repositoryName" = String, Path, description = "The repository")),
    responses(
        (status = 204, description = "Repository Health Check disabled"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn disable_health_check(
    arca: web::Data<Arca>,
    _g: RepoAdminGuard<ReposEdit>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    repository(&arca, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Invalidate a proxy's cache (or that of every proxy a group holds): cached files are
/// revalidated with the remote on their next request and the negative cache is dropped, on
/// every node.
#[utoipa::path(
    post,
    path = "/service/rest/v1/repositories/{repositoryName}/invalidate-cache",
    tag = "Repository Management",
    params(("repositoryName" = String, Path, description = "A proxy or group repository")),
    responses(
        (status = 204, description = "Repository cache invalidated"),
        (status = 400, description = "Repository is not of proxy or group type", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn invalidate_cache(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: RepoAdminGuard<ReposEdit>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let repo = repository(&arca, &name).await?;
    if repo.kind == RepoKind::Hosted {
        return Err(ApiError::invalid(
            "*",
            format!("Repository {name} is not of proxy or group type"),
        ));
    }
    arca.proxy.invalidate(&arca.db, &repo).await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "repository",
        "cache-invalidated",
        &name,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Rebuild what the format derives from a repository's content (Maven metadata, yum repodata,
/// PyPI wheel metadata), now. Arca's search reads the database, so it needs no rebuild.
#[utoipa::path(
    post,
    path = "/service/rest/v1/repositories/{repositoryName}/rebuild-index",
    tag = "Repository Management",
    params(("repositoryName" = String, Path, description = "A hosted or proxy repository")),
    responses(
        (status = 204, description = "Index rebuilt"),
        (status = 400, description = "Repository is not of hosted or proxy type, or its format keeps no index", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
        (status = 409, description = "A rebuild of this repository is running", body = Vec<ValidationErrorXO>),
    ),
)]
pub(crate) async fn rebuild_index(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: RepoAdminGuard<ReposEdit>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let repo = repository(&arca, &name).await?;
    if repo.kind == RepoKind::Group {
        return Err(ApiError::invalid(
            "*",
            format!("Repository {name} is not of hosted or proxy type"),
        ));
    }
    let Some(format) = arca.formats.get(&repo.format).cloned() else {
        return Err(ApiError::NotFound(format!(
            "Repository {name} has format {} that this build does not serve",
            repo.format
        )));
    };
    if repo.kind == RepoKind::Hosted {
        arca.storage.check_writable().await?;
    }
    // One rebuild of a repository at a time, on any node: a rebuild reads the whole repository,
    // and a second one at once would only repeat it.
    let key = arca_core::locks::LockKey::new("rebuild-index", &repo.id.to_string());
    let Some(_running) = arca
        .storage
        .locks()
        .try_lock(key, arca_core::locks::Hold::Long)
        .await?
    else {
        return Err(ApiError::Conflict(format!(
            "a rebuild of {name} is running; try again once it has ended"
        )));
    };
    let cx = RepoContext {
        arca: arca.clone(),
        base_url: arca.settings.public.for_request(&req),
        subject: g.subject.clone(),
        path: String::new(),
        repo,
    };
    let summary = format.rebuild_index(&cx).await.map_err(|e| match e {
        e @ RebuildError::NotSupported(_) => ApiError::invalid("*", e.to_string()),
        RebuildError::Storage(s) => ApiError::from(s),
    })?;
    tracing::info!(repo = %name, summary, "index rebuilt");
    audit(
        &arca,
        &req,
        &g.subject,
        "repository",
        "index-rebuilt",
        &name,
        json!({ "summary": summary }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ search suggestions

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SuggestParams {
    /// At least 2 characters, found in group, name or version.
    q: String,
    /// Only this format (`maven2`, `pypi`, …).
    format: Option<String>,
    /// At most this many (default 10, at most 20).
    limit: Option<i64>,
}

/// Nexus's `SuggestXO`.
#[derive(Serialize, ToSchema)]
pub(crate) struct SuggestXO {
    id: String,
    repository: String,
    format: String,
    group: String,
    name: String,
    version: String,
}

/// Component suggestions for type-ahead: what the keyword search finds, briefly.
#[utoipa::path(
    get,
    path = "/service/rest/v1/search/suggest",
    tag = "Search",
    params(SuggestParams),
    responses(
        (status = 200, description = "Matching components", body = Vec<SuggestXO>),
        (status = 400, description = "The query is shorter than 2 characters", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn suggest(
    arca: web::Data<Arca>,
    caller: Caller,
    query: web::Query<SuggestParams>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.trim();
    if q.chars().count() < 2 {
        return Err(ApiError::invalid(
            "PARAMETER q",
            "q must be at least 2 characters",
        ));
    }
    let limit = query.limit.unwrap_or(10).clamp(1, 20) as usize;
    let mut params = vec![("q".to_owned(), q.to_owned())];
    if let Some(f) = query.format.as_deref().filter(|f| !f.is_empty()) {
        params.push(("format".to_owned(), f.to_owned()));
    }
    let subject: &Subject = &caller.0;
    let page = super::search::find(&arca, subject, &params).await?;
    let out: Vec<SuggestXO> = page
        .components
        .iter()
        .take(limit)
        .map(|c| SuggestXO {
            id: super::components::encode_id(&c.repository, "component", c.id),
            format: page.formats.get(&c.repository).cloned().unwrap_or_default(),
            repository: c.repository.clone(),
            group: c.namespace.clone(),
            name: c.name.clone(),
            version: c.version.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

// ------------------------------------------------------------------ scripts

/// Nexus's `ScriptXO`.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct ScriptXO {
    name: String,
    content: String,
    r#type: String,
}

fn no_script(name: &str) -> ApiError {
    ApiError::NotFound(format!("Script {name} not found"))
}

/// Gone (410), as Nexus answers with script creation disabled (its default).
fn scripts_disabled(what: &str) -> HttpResponse {
    HttpResponse::Gone()
        .content_type("text/plain; charset=utf-8")
        .body(format!("Script {what} is disabled"))
}

/// List stored scripts: there are none, Arca runs no scripts.
#[utoipa::path(
    get,
    path = "/service/rest/v1/script",
    tag = "Script",
    responses(
        (status = 200, description = "No scripts", body = Vec<ScriptXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list_scripts(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok().json(Vec::<ScriptXO>::new())
}

/// Add a script: refused, script creation is disabled.
#[utoipa::path(
    post,
    path = "/service/rest/v1/script",
    tag = "Script",
    request_body = ScriptXO,
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 410, description = "Script creation is disabled", body = String, content_type = "text/plain"),
    ),
)]
pub(crate) async fn add_script(_g: Guard<SettingsUpdate>) -> HttpResponse {
    scripts_disabled("creation")
}

/// Read a stored script: there are none.
#[utoipa::path(
    get,
    path = "/service/rest/v1/script/{name}",
    tag = "Script",
    params(("name" = String, Path, description = "The script")),
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No script with the specified name"),
    ),
)]
pub(crate) async fn get_script(
    _g: Guard<SettingsRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(no_script(&name))
}

/// Update a stored script: refused, script updating is disabled.
#[utoipa::path(
    put,
    path = "/service/rest/v1/script/{name}",
    tag = "Script",
    params(("name" = String, Path, description = "The script")),
    request_body = ScriptXO,
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 410, description = "Script updating is disabled", body = String, content_type = "text/plain"),
    ),
)]
pub(crate) async fn replace_script(_g: Guard<SettingsUpdate>) -> HttpResponse {
    scripts_disabled("updating")
}

/// Delete a stored script: there are none.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/script/{name}",
    tag = "Script",
    params(("name" = String, Path, description = "The script")),
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No script with the specified name"),
    ),
)]
pub(crate) async fn delete_script(
    _g: Guard<SettingsUpdate>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(no_script(&name))
}

/// Run a stored script: there are none.
#[utoipa::path(
    post,
    path = "/service/rest/v1/script/{name}/run",
    tag = "Script",
    params(("name" = String, Path, description = "The script")),
    request_body(content = String, content_type = "text/plain", description = "The script's arguments"),
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No script with the specified name"),
    ),
)]
pub(crate) async fn run_script(
    _g: Guard<SettingsUpdate>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(no_script(&name))
}
