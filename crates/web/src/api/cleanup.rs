//! Cleanup policies with Nexus's shapes (`/service/rest/internal/cleanup-policies`, which
//! Nexus's UI and tooling use, and `/service/rest/v1/cleanup-policies`, where Nexus 3.96+ and
//! its generated clients have them) and `POST /v1/cleanup/run` to apply them to a repository
//! now (or count what they would delete, with `dryRun`).

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Guard,
    cleanup::{Criteria, apply, policy_names},
    meta::{CleanupPolicyRow, MetaError},
    model::{RepoName, Repository, RepositorySpec},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{SettingsRead, SettingsUpdate, audit};
use crate::{ApiError, error::OrNotFound};

pub fn configure_internal(cfg: &mut web::ServiceConfig) {
    cfg.route("/cleanup-policies", web::get().to(list))
        .route("/cleanup-policies", web::post().to(create))
        .route("/cleanup-policies/{name}", web::get().to(get))
        .route("/cleanup-policies/{name}", web::put().to(update))
        .route("/cleanup-policies/{name}", web::delete().to(delete));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/cleanup/run", web::post().to(run))
        .route("/cleanup-policies", web::get().to(v1_list))
        .route("/cleanup-policies", web::post().to(v1_create))
        .route("/cleanup-policies/{name}", web::get().to(v1_get))
        .route("/cleanup-policies/{name}", web::put().to(v1_update))
        .route("/cleanup-policies/{name}", web::delete().to(v1_delete));
}

/// Nexus's `CleanupPolicyXO`. Ages are in days; every criterion given must hold.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CleanupPolicyXO {
    name: String,
    /// A format id (`maven2`, `pypi`, `docker`, `yum`, `raw`) or `*` for all.
    format: String,
    #[serde(default)]
    notes: Option<String>,
    /// Components whose newest asset was written at least this many days ago.
    #[serde(default)]
    criteria_last_blob_updated: Option<i64>,
    /// Components none of whose assets was downloaded for this many days (never: since created).
    #[serde(default)]
    criteria_last_downloaded: Option<i64>,
    /// `RELEASES` or `PRERELEASES` (Maven snapshots, PEP 440 pre- and dev-releases).
    #[serde(default)]
    criteria_release_type: Option<String>,
    /// A regular expression one asset path must match in full.
    #[serde(default)]
    criteria_asset_regex: Option<String>,
    /// Keep the newest this many versions of each component name (by their newest asset);
    /// only older ones can match.
    #[serde(default)]
    retain: Option<i64>,
    /// How many repositories name it (answers only).
    #[serde(default)]
    in_use_count: Option<i64>,
    /// The repositories that name it; at `/v1/cleanup-policies` a create or update attaches the
    /// policy to exactly these (Nexus 3.96+), at the internal path it is ignored.
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// `GET` filter: only policies of this format (`*` or absent: all).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FormatFilter {
    format: Option<String>,
}

fn to_row(
    xo: &CleanupPolicyXO,
    formats: &arca_core::format::FormatRegistry,
) -> Result<CleanupPolicyRow, ApiError> {
    RepoName::parse(&xo.name).map_err(|e| ApiError::invalid("name", e.to_string()))?;
    let known: Vec<&str> = std::iter::once("*")
        .chain(formats.all().iter().map(|f| f.id()))
        .collect();
    if !known.contains(&xo.format.as_str()) {
        return Err(ApiError::invalid(
            "format",
            format!("format must be one of {}", known.join(", ")),
        ));
    }
    let criteria = Criteria {
        last_blob_updated: xo.criteria_last_blob_updated,
        last_downloaded: xo.criteria_last_downloaded,
        release_type: xo.criteria_release_type.clone().filter(|s| !s.is_empty()),
        asset_regex: xo.criteria_asset_regex.clone().filter(|s| !s.is_empty()),
        retain: xo.retain.filter(|n| *n != 0),
    };
    criteria
        .validate()
        .map_err(|(field, msg)| ApiError::invalid(field, msg))?;
    Ok(CleanupPolicyRow {
        name: xo.name.clone(),
        format: xo.format.clone(),
        notes: xo.notes.clone().unwrap_or_default(),
        criteria: serde_json::to_string(&criteria).map_err(MetaError::from)?,
    })
}

async fn in_use(arca: &Arca, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| policy_names(r).iter().any(|n| n == name))
        .map(|r| r.name.to_string())
        .collect())
}

async fn to_xo(arca: &Arca, row: CleanupPolicyRow) -> Result<CleanupPolicyXO, ApiError> {
    let c: Criteria = serde_json::from_str(&row.criteria).map_err(MetaError::from)?;
    let repositories = in_use(arca, &row.name).await?;
    Ok(CleanupPolicyXO {
        name: row.name,
        format: row.format,
        notes: Some(row.notes),
        criteria_last_blob_updated: c.last_blob_updated,
        criteria_last_downloaded: c.last_downloaded,
        criteria_release_type: c.release_type,
        criteria_asset_regex: c.asset_regex,
        retain: c.retain,
        in_use_count: Some(repositories.len() as i64),
        repositories: Some(repositories),
    })
}

fn not_found(name: &str) -> String {
    format!("Cleanup policy {name} not found")
}

/// List cleanup policies.
#[utoipa::path(
    get,
    operation_id = "list_cleanup_policies",
    path = "/service/rest/internal/cleanup-policies",
    tag = "Cleanup policies",
    params(FormatFilter),
    responses(
        (status = 200, description = "The policies", body = Vec<CleanupPolicyXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
    filter: web::Query<FormatFilter>,
) -> Result<HttpResponse, ApiError> {
    let only = filter
        .format
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "*");
    let mut out = Vec::new();
    for row in arca.db.list_cleanup_policies().await? {
        if only.is_some_and(|f| f != row.format) {
            continue;
        }
        out.push(to_xo(&arca, row).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Create a cleanup policy.
#[utoipa::path(
    post,
    operation_id = "create_cleanup_policy",
    path = "/service/rest/internal/cleanup-policies",
    tag = "Cleanup policies",
    request_body = CleanupPolicyXO,
    responses(
        (status = 200, description = "The policy", body = CleanupPolicyXO),
        (status = 400, description = "Invalid policy", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 409, description = "A policy of that name exists", body = Vec<crate::error::ValidationErrorXO>),
    ),
)]
pub(crate) async fn create(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<CleanupPolicyXO>,
) -> Result<HttpResponse, ApiError> {
    let row = store(&req, &arca, &g, &body, false, None).await?;
    Ok(HttpResponse::Ok().json(to_xo(&arca, row).await?))
}

/// Validates and stores a policy (`replace`: an update), and with `attach` (Nexus 3.96+'s
/// `repositories`) attaches it to exactly those repositories (on create: to them).
async fn store(
    req: &HttpRequest,
    arca: &Arca,
    g: &Guard<SettingsUpdate>,
    xo: &CleanupPolicyXO,
    replace: bool,
    attach: Option<&[String]>,
) -> Result<CleanupPolicyRow, ApiError> {
    let row = to_row(xo, &arca.formats)?;
    // Every check before the first write: a refused request changes nothing.
    let changes = match attach {
        Some(names) => attachment(arca, &row, names, replace).await?,
        None => vec![],
    };
    if replace {
        arca.db
            .put_cleanup_policy(&row, true)
            .await
            .or_not_found(|| not_found(&row.name))?;
    } else {
        arca.db.put_cleanup_policy(&row, false).await?;
    }
    for (repo, names) in changes {
        let id = repo.id;
        let mut attrs = repo.attrs.clone();
        if !attrs.is_object() {
            attrs = json!({});
        }
        attrs["cleanup"] = json!({ "policyNames": names });
        arca.db
            .update_repository(&RepositorySpec {
                name: repo.name,
                format: repo.format,
                kind: repo.kind,
                online: repo.online,
                blob_store: repo.blob_store,
                write_policy: repo.write_policy,
                strict_content_type_validation: repo.strict_content_type_validation,
                members: repo.members,
                attrs,
            })
            .await?;
        arca.repository_changed(id).await;
    }
    audit(
        arca,
        req,
        &g.subject,
        "cleanup-policy",
        if replace { "updated" } else { "created" },
        &row.name,
        json!({ "criteria": row.criteria, "repositories": attach }),
    )
    .await;
    Ok(row)
}

/// The repositories whose `cleanup.policyNames` change so that exactly `wanted` name the
/// policy (only additions unless `replace`), with their new lists; 400 for a repository that
/// does not exist or is of another format.
async fn attachment(
    arca: &Arca,
    row: &CleanupPolicyRow,
    wanted: &[String],
    replace: bool,
) -> Result<Vec<(Repository, Vec<String>)>, ApiError> {
    let repos = arca.db.list_repositories().await?;
    for w in wanted {
        match repos.iter().find(|r| r.name.as_str() == w) {
            None => {
                return Err(ApiError::invalid(
                    "repositories",
                    format!("repository {w} does not exist"),
                ));
            }
            Some(r) if row.format != "*" && r.format != row.format => {
                return Err(ApiError::invalid(
                    "repositories",
                    format!(
                        "repository {w} has format {}, the policy {}",
                        r.format, row.format
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let mut out = Vec::new();
    for r in repos {
        let mut names = policy_names(&r);
        let has = names.contains(&row.name);
        let want = wanted.iter().any(|w| w == r.name.as_str());
        if want && !has {
            names.push(row.name.clone());
        } else if replace && has && !want {
            names.retain(|n| n != &row.name);
        } else {
            continue;
        }
        out.push((r, names));
    }
    Ok(out)
}

/// Get a cleanup policy.
#[utoipa::path(
    get,
    operation_id = "get_cleanup_policy",
    path = "/service/rest/internal/cleanup-policies/{name}",
    tag = "Cleanup policies",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "The policy", body = CleanupPolicyXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such policy"),
    ),
)]
pub(crate) async fn get(
    arca: web::Data<Arca>,
    _g: Guard<SettingsRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = arca
        .db
        .get_cleanup_policy(&name)
        .await
        .or_not_found(|| not_found(&name))?;
    Ok(HttpResponse::Ok().json(to_xo(&arca, row).await?))
}

/// Update a cleanup policy (its name stays).
#[utoipa::path(
    put,
    operation_id = "update_cleanup_policy",
    path = "/service/rest/internal/cleanup-policies/{name}",
    tag = "Cleanup policies",
    params(("name" = String, Path, description = "The policy's name")),
    request_body = CleanupPolicyXO,
    responses(
        (status = 200, description = "The policy", body = CleanupPolicyXO),
        (status = 400, description = "Invalid policy", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such policy"),
    ),
)]
pub(crate) async fn update(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    name: web::Path<String>,
    body: web::Json<CleanupPolicyXO>,
) -> Result<HttpResponse, ApiError> {
    let mut xo = body.into_inner();
    xo.name = name.to_string();
    let row = store(&req, &arca, &g, &xo, true, None).await?;
    Ok(HttpResponse::Ok().json(to_xo(&arca, row).await?))
}

/// Delete a cleanup policy no repository names.
#[utoipa::path(
    delete,
    operation_id = "delete_cleanup_policy",
    path = "/service/rest/internal/cleanup-policies/{name}",
    tag = "Cleanup policies",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Repositories still name it", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such policy"),
    ),
)]
pub(crate) async fn delete(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let users = in_use(&arca, &name).await?;
    if !users.is_empty() {
        return Err(ApiError::invalid(
            "name",
            format!("cleanup policy {name} is used by {}", users.join(", ")),
        ));
    }
    arca.db
        .delete_cleanup_policy(&name)
        .await
        .or_not_found(|| not_found(&name))?;
    audit(
        &arca,
        &req,
        &g.subject,
        "cleanup-policy",
        "deleted",
        &name,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `/service/rest/v1/cleanup-policies`: the same operations at Nexus 3.96's public path.
mod v1 {
    use super::*;

    /// List cleanup policies.
    #[utoipa::path(
        get,
        operation_id = "list_cleanup_policies_v1",
        path = "/service/rest/v1/cleanup-policies",
        tag = "Cleanup policies",
        params(FormatFilter),
        responses(
            (status = 200, description = "The policies", body = Vec<CleanupPolicyXO>),
            (status = 401, description = "Authentication required"),
            (status = 403, description = "Insufficient permissions"),
        ),
    )]
    pub(crate) async fn v1_list(
        arca: web::Data<Arca>,
        g: Guard<SettingsRead>,
        filter: web::Query<FormatFilter>,
    ) -> Result<HttpResponse, ApiError> {
        list(arca, g, filter).await
    }

    /// Create a cleanup policy.
    #[utoipa::path(
        post,
        operation_id = "create_cleanup_policy_v1",
        path = "/service/rest/v1/cleanup-policies",
        tag = "Cleanup policies",
        request_body = CleanupPolicyXO,
        responses(
            (status = 201, description = "The policy, attached to the `repositories` given", body = CleanupPolicyXO),
            (status = 400, description = "Invalid policy", body = Vec<crate::error::ValidationErrorXO>),
            (status = 401, description = "Authentication required"),
            (status = 403, description = "Insufficient permissions"),
            (status = 409, description = "A policy of that name exists", body = Vec<crate::error::ValidationErrorXO>),
        ),
    )]
    pub(crate) async fn v1_create(
        req: HttpRequest,
        arca: web::Data<Arca>,
        g: Guard<SettingsUpdate>,
        body: web::Json<CleanupPolicyXO>,
    ) -> Result<HttpResponse, ApiError> {
        let attach = body.repositories.clone().unwrap_or_default();
        let row = store(&req, &arca, &g, &body, false, Some(&attach)).await?;
        Ok(HttpResponse::Created().json(to_xo(&arca, row).await?))
    }

    /// Get a cleanup policy.
    #[utoipa::path(
        get,
        operation_id = "get_cleanup_policy_v1",
        path = "/service/rest/v1/cleanup-policies/{name}",
        tag = "Cleanup policies",
        params(("name" = String, Path, description = "The policy's name")),
        responses(
            (status = 200, description = "The policy", body = CleanupPolicyXO),
            (status = 401, description = "Authentication required"),
            (status = 403, description = "Insufficient permissions"),
            (status = 404, description = "No such policy"),
        ),
    )]
    pub(crate) async fn v1_get(
        arca: web::Data<Arca>,
        g: Guard<SettingsRead>,
        name: web::Path<String>,
    ) -> Result<HttpResponse, ApiError> {
        get(arca, g, name).await
    }

    /// Update a cleanup policy (its name stays).
    #[utoipa::path(
        put,
        operation_id = "update_cleanup_policy_v1",
        path = "/service/rest/v1/cleanup-policies/{name}",
        tag = "Cleanup policies",
        params(("name" = String, Path, description = "The policy's name")),
        request_body = CleanupPolicyXO,
        responses(
            (status = 204, description = "Updated; given `repositories` replace the ones it is attached to"),
            (status = 400, description = "Invalid policy", body = Vec<crate::error::ValidationErrorXO>),
            (status = 401, description = "Authentication required"),
            (status = 403, description = "Insufficient permissions"),
            (status = 404, description = "No such policy"),
        ),
    )]
    pub(crate) async fn v1_update(
        req: HttpRequest,
        arca: web::Data<Arca>,
        g: Guard<SettingsUpdate>,
        name: web::Path<String>,
        body: web::Json<CleanupPolicyXO>,
    ) -> Result<HttpResponse, ApiError> {
        let mut xo = body.into_inner();
        xo.name = name.to_string();
        // Given: the repositories it is attached to from now on; absent: left as they are.
        let attach = xo.repositories.clone();
        store(&req, &arca, &g, &xo, true, attach.as_deref()).await?;
        Ok(HttpResponse::NoContent().finish())
    }

    /// Delete a cleanup policy no repository names.
    #[utoipa::path(
        delete,
        operation_id = "delete_cleanup_policy_v1",
        path = "/service/rest/v1/cleanup-policies/{name}",
        tag = "Cleanup policies",
        params(("name" = String, Path, description = "The policy's name")),
        responses(
            (status = 204, description = "Deleted"),
            (status = 400, description = "Repositories still name it", body = Vec<crate::error::ValidationErrorXO>),
            (status = 401, description = "Authentication required"),
            (status = 403, description = "Insufficient permissions"),
            (status = 404, description = "No such policy"),
        ),
    )]
    pub(crate) async fn v1_delete(
        req: HttpRequest,
        arca: web::Data<Arca>,
        g: Guard<SettingsUpdate>,
        name: web::Path<String>,
    ) -> Result<HttpResponse, ApiError> {
        delete(req, arca, g, name).await
    }
}
pub(crate) use v1::*;

/// Nexus's `CleanupExecutionRequestXO`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CleanupExecutionRequestXO {
    repository: String,
    /// One policy (it need not be one the repository names); all the repository's by default.
    #[serde(default)]
    policy: Option<String>,
    /// Count what would be deleted, delete nothing.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum CleanupStatus {
    Completed,
}

/// Nexus's `CleanupExecutionStatusXO`: the run is synchronous, so always completed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CleanupExecutionStatusXO {
    id: String,
    repository: String,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    dry_run: bool,
    status: CleanupStatus,
    component_count: i64,
    components_deleted: i64,
    duration_ms: i64,
}

/// Apply cleanup policies to a repository now (or, with `dryRun`, count what they match).
#[utoipa::path(
    post,
    operation_id = "run_cleanup",
    path = "/service/rest/v1/cleanup/run",
    tag = "Cleanup policies",
    request_body = CleanupExecutionRequestXO,
    responses(
        (status = 200, description = "What was matched and deleted", body = CleanupExecutionStatusXO),
        (status = 400, description = "No policy to apply", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such repository or policy"),
    ),
)]
pub(crate) async fn run(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SettingsUpdate>,
    body: web::Json<CleanupExecutionRequestXO>,
) -> Result<HttpResponse, ApiError> {
    let started = std::time::Instant::now();
    let repo = arca
        .db
        .get_repository(&body.repository)
        .await
        .or_not_found(|| format!("Repository {} not found", body.repository))?;
    let names = match &body.policy {
        Some(p) => vec![p.clone()],
        None => policy_names(&repo),
    };
    if names.is_empty() {
        return Err(ApiError::invalid(
            "policy",
            format!("repository {} names no cleanup policy; give one", repo.name),
        ));
    }
    let mut policies = Vec::new();
    for n in &names {
        policies.push(
            arca.db
                .get_cleanup_policy(n)
                .await
                .or_not_found(|| not_found(n))?,
        );
    }
    if !body.dry_run {
        arca.storage.check_writable().await?;
    }
    let base = arca.settings.public.for_request(&req);
    let outcome = apply(&arca, &repo, &policies, body.dry_run, &g.subject, &base)
        .await
        .map_err(|e| match e {
            arca_core::cleanup::CleanupError::Meta(m) => ApiError::from(m),
            arca_core::cleanup::CleanupError::Storage(s) => ApiError::from(s),
            e @ arca_core::cleanup::CleanupError::Policy(..) => {
                ApiError::invalid("policy", e.to_string())
            }
        })?;
    if !body.dry_run {
        audit(
            &arca,
            &req,
            &g.subject,
            "repository",
            "cleaned",
            repo.name.as_str(),
            json!({ "policies": names, "componentsDeleted": outcome.deleted }),
        )
        .await;
    }
    Ok(HttpResponse::Ok().json(CleanupExecutionStatusXO {
        id: arca_core::security::random_secret(16),
        repository: repo.name.to_string(),
        policy: body.policy.clone(),
        dry_run: body.dry_run,
        status: CleanupStatus::Completed,
        component_count: outcome.matched,
        components_deleted: outcome.deleted,
        duration_ms: started.elapsed().as_millis() as i64,
    }))
}
