//! Repository endpoints: the generic list/get/delete and the per-format create/update/get
//! (`/repositories/{format}/{hosted|proxy|group}[/{name}]`) with Nexus's JSON bodies.
//!
//! Core settings (`name`, `online`, `storage`, `group`) become columns; every other block of the
//! body (`maven`, `proxy`, `negativeCache`, `httpClient`, `cleanup`, ...) is kept as the format's
//! attributes, so the API echoes back what tools sent and a format reads its own block.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::visibility::{self, Sight};
use arca_core::{
    Arca, Format,
    auth::{Caller, Guard, RepoAdminGuard},
    group::would_cycle,
    meta::MetaError,
    model::{RepoKind, RepoName, Repository, RepositorySpec, WritePolicy},
    proxy::ProxySettings,
    security::{Action, Permission},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::repository_schemas::{
    AbstractApiRepository, RepositoryApiRequest, RepositoryFormat, RepositoryType,
};
use super::{ReposAdd, ReposDelete, ReposEdit, ReposRead, audit};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/repositories", web::get().to(list))
        .route("/repositorySettings", web::get().to(settings))
        .route("/repositories/{name}", web::get().to(get_one))
        .route("/repositories/{name}", web::delete().to(delete))
        .route("/repositories/{format}/{kind}", web::post().to(create))
        .route(
            "/repositories/{format}/{kind}/{name}",
            web::get().to(get_typed),
        )
        .route(
            "/repositories/{format}/{kind}/{name}",
            web::put().to(update),
        );
}

/// Formats Nexus has that Arca does not serve: a clear 400 instead of a bare 404.
const NEXUS_ONLY: &[&str] = &[
    "alpine",
    "ansiblegalaxy",
    "apt",
    "bower",
    "cargo",
    "cocoapods",
    "composer",
    "conan",
    "conda",
    "gitlfs",
    "go",
    "helm",
    "huggingface",
    "nuget",
    "p2",
    "pub",
    "r",
    "rubygems",
    "swift",
    "terraform",
];

fn repo_url(base: &str, name: &RepoName) -> String {
    format!("{base}/repository/{name}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepositoryProxyXO {
    #[schema(value_type = String)]
    remote_url: Value,
}

/// A proxy's `proxy.remoteUrl`; empty for the others.
#[derive(Serialize, ToSchema)]
pub(crate) struct RepositoryAttributesXO {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    proxy: Option<RepositoryProxyXO>,
}

/// Nexus's `RepositoryXO`.
#[derive(Serialize, ToSchema)]
pub(crate) struct RepositoryXO {
    name: String,
    /// The format id: `maven2`, `pypi`, `docker`, `yum` or `raw`.
    format: String,
    #[serde(rename = "type")]
    kind: RepositoryType,
    url: String,
    online: bool,
    /// Always 0.
    size: i64,
    attributes: RepositoryAttributesXO,
}

fn summary(r: &Repository, base: &str, size: Option<i64>) -> RepositoryXO {
    RepositoryXO {
        name: r.name.to_string(),
        format: r.format.clone(),
        kind: r.kind.into(),
        url: repo_url(base, &r.name),
        online: r.online,
        size: size.unwrap_or(0),
        attributes: RepositoryAttributesXO {
            proxy: r
                .attrs
                .pointer("/proxy/remoteUrl")
                .map(|remote| RepositoryProxyXO {
                    remote_url: remote.clone(),
                }),
        },
    }
}

/// Removes write-only secrets (`password`, `bearerToken`, `secretAccessKey`, signing keys)
/// before echoing.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| {
                !matches!(
                    k.as_str(),
                    "password" | "bearerToken" | "secretAccessKey" | "keypair" | "passphrase"
                )
            });
            m.values_mut().for_each(redact);
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The full Nexus `*ApiRepository` shape: what was stored over the format's defaults.
pub(crate) fn detail(arca: &Arca, r: &Repository, base: &str) -> Value {
    let mut out = match &r.attrs {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let defaults = arca.formats.get(&r.format).map(|f| f.api_defaults(r.kind));
    if let Some(Value::Object(defaults)) = defaults {
        for (block, fields) in defaults {
            match (out.get_mut(&block), fields) {
                (Some(Value::Object(have)), Value::Object(fields)) => {
                    for (k, v) in fields {
                        have.entry(k).or_insert(v);
                    }
                }
                (Some(_), _) => {}
                (None, fields) => {
                    out.insert(block, fields);
                }
            }
        }
    }
    out.insert("name".into(), json!(r.name));
    out.insert("format".into(), json!(r.format));
    out.insert("type".into(), json!(r.kind.as_str()));
    out.insert("url".into(), json!(repo_url(base, &r.name)));
    out.insert("online".into(), json!(r.online));
    let mut storage = json!({
        "blobStoreName": r.blob_store,
        "strictContentTypeValidation": r.strict_content_type_validation,
    });
    if let Some(wp) = r.write_policy {
        storage["writePolicy"] = json!(wp.as_str());
    }
    out.insert("storage".into(), storage);
    if r.kind == RepoKind::Group {
        let mut group = out.get("group").cloned().unwrap_or_else(|| json!({}));
        group["memberNames"] = json!(r.members);
        out.insert("group".into(), group);
    }
    let mut v = Value::Object(out);
    redact(&mut v);
    v
}

/// Listed when the caller sees some of it (as every listing decides), or may read its settings.
fn can_browse(caller: &Caller, r: &Repository) -> bool {
    visibility::sight(&caller.0, r) != Sight::Nothing
        || caller.0.can(&Permission::RepoAdmin {
            format: &r.format,
            repo: r.name.as_str(),
            action: Action::Read,
        })
}

/// List the repositories the caller may browse.
#[utoipa::path(
    get,
    operation_id = "list_repositories",
    path = "/service/rest/v1/repositories",
    tag = "Repository Management",
    responses(
        (status = 200, description = "The repositories", body = Vec<RepositoryXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn list(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let base = arca.settings.public.for_request(&req);
    let repos = arca.db.list_repositories().await?;
    let out: Vec<RepositoryXO> = repos
        .iter()
        .filter(|r| can_browse(&caller, r))
        .map(|r| summary(r, &base, None))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Get a repository the caller may browse.
#[utoipa::path(
    get,
    operation_id = "get_repository",
    path = "/service/rest/v1/repositories/{name}",
    tag = "Repository Management",
    params(("name" = String, Path, description = "The repository's name")),
    responses(
        (status = 200, description = "The repository", body = RepositoryXO),
        (status = 401, description = "Authentication required"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn get_one(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let base = arca.settings.public.for_request(&req);
    match arca.db.get_repository(&name).await {
        Ok(r) if can_browse(&caller, &r) => Ok(HttpResponse::Ok().json(summary(&r, &base, None))),
        Ok(_) | Err(MetaError::NotFound) => {
            Err(ApiError::NotFound(format!("Repository {name} not found")))
        }
        Err(e) => Err(e.into()),
    }
}

/// List every repository with its full settings.
#[utoipa::path(
    get,
    operation_id = "list_repository_settings",
    path = "/service/rest/v1/repositorySettings",
    tag = "Repository Management",
    responses(
        (status = 200, description = "The repositories", body = Vec<AbstractApiRepository>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn settings(
    req: HttpRequest,
    arca: web::Data<Arca>,
    _g: Guard<ReposRead>,
) -> Result<HttpResponse, ApiError> {
    let base = arca.settings.public.for_request(&req);
    let repos = arca.db.list_repositories().await?;
    Ok(HttpResponse::Ok().json(
        repos
            .iter()
            .map(|r| detail(&arca, r, &base))
            .collect::<Vec<_>>(),
    ))
}

/// Delete a repository of any format.
#[utoipa::path(
    delete,
    operation_id = "delete_repository",
    path = "/service/rest/v1/repositories/{name}",
    tag = "Repository Management",
    params(("name" = String, Path, description = "The repository's name")),
    responses(
        (status = 204, description = "Repository deleted"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn delete(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: RepoAdminGuard<ReposDelete>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    arca.storage
        .check_writable()
        .await
        .map_err(ApiError::from)?;
    let id = arca.db.get_repository(&name).await.map(|r| r.id).ok();
    match arca.db.delete_repository(&name).await {
        Ok(()) => {}
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!("Repository {name} not found")));
        }
        Err(e) => return Err(e.into()),
    }
    arca.repository_changed(id.unwrap_or_default()).await;
    // Blobs only this repository held are freed now rather than at the next sweep.
    let freed = arca
        .storage
        .collect_garbage(std::time::Duration::ZERO, "")
        .await?
        .blobs();
    tracing::info!(repo = %name, freed, "repository deleted");
    // Its collections' pending bytes are no longer the store's to reclaim.
    if let Err(e) = arca.db.forget_gc_run(&format!("repository:{name}")).await {
        tracing::warn!(repo = %name, error = %e, "forgetting the repository's collections failed");
    }
    // A repository made again under this name starts with no import history.
    if let Err(e) = arca.db.forget_import_progress(&name).await {
        tracing::warn!(repo = %name, error = %e, "forgetting the repository's import progress failed");
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "repository",
        "deleted",
        &name,
        json!({ "freedBlobs": freed }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Finds the format for a path segment, or says clearly why there is none.
fn format_for<'a>(
    arca: &'a Arca,
    segment: &str,
    kind: &str,
) -> Result<(&'a std::sync::Arc<dyn Format>, RepoKind), ApiError> {
    let Some(kind) = RepoKind::parse(kind) else {
        return Err(ApiError::NotFound(format!(
            "unknown repository type {kind:?}: use hosted, proxy or group"
        )));
    };
    let Some(format) = arca.formats.by_api_name(segment) else {
        let why = if NEXUS_ONLY.contains(&segment) {
            format!("Arca does not support the {segment} format")
        } else {
            format!("unknown repository format {segment:?}")
        };
        return Err(ApiError::invalid("format", why));
    };
    if !format.kinds().contains(&kind) {
        return Err(ApiError::invalid(
            "type",
            format!(
                "{} {} repositories are not supported yet",
                segment,
                kind.as_str()
            ),
        ));
    }
    Ok((format, kind))
}

fn field<'a>(body: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = body.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

/// Turns a Nexus request body into a spec, checking every core field.
async fn parse_spec(
    arca: &Arca,
    format: &dyn Format,
    kind: RepoKind,
    body: Value,
) -> Result<RepositorySpec, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::invalid(
            "*",
            "the request body must be a JSON object",
        ));
    };
    let name = match field(&body, "name") {
        Some(Value::String(s)) => {
            RepoName::parse(s).map_err(|e| ApiError::invalid("PARAMETER name", e.to_string()))?
        }
        Some(_) => return Err(ApiError::invalid("PARAMETER name", "name must be a string")),
        None => return Err(ApiError::invalid("PARAMETER name", "name is required")),
    };
    let online = match field(&body, "online") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                "PARAMETER online",
                "online must be true or false",
            ));
        }
    };
    let blob_store = match field(&body, "storage.blobStoreName") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(ApiError::invalid(
                "PARAMETER storage.blobStoreName",
                "storage.blobStoreName is required",
            ));
        }
    };
    if !arca
        .db
        .list_blob_stores()
        .await?
        .iter()
        .any(|s| s.name == blob_store)
    {
        return Err(ApiError::invalid(
            "PARAMETER storage.blobStoreName",
            format!("blob store {blob_store:?} does not exist"),
        ));
    }
    let strict = match field(&body, "storage.strictContentTypeValidation") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                "PARAMETER storage.strictContentTypeValidation",
                "storage.strictContentTypeValidation must be true or false",
            ));
        }
    };
    let write_policy = match (kind, field(&body, "storage.writePolicy")) {
        (RepoKind::Hosted, None | Some(Value::Null)) => Some(WritePolicy::Allow),
        (RepoKind::Hosted, Some(Value::String(s))) => {
            Some(WritePolicy::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "PARAMETER storage.writePolicy",
                    format!("storage.writePolicy must be ALLOW, ALLOW_ONCE or DENY, not {s:?}"),
                )
            })?)
        }
        (RepoKind::Hosted, Some(_)) => {
            return Err(ApiError::invalid(
                "PARAMETER storage.writePolicy",
                "storage.writePolicy must be a string",
            ));
        }
        _ => None,
    };
    let members = if kind == RepoKind::Group {
        let names = match field(&body, "group.memberNames") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ApiError::invalid(
                        "PARAMETER group.memberNames",
                        "group.memberNames must hold names",
                    )
                })?,
            _ => {
                return Err(ApiError::invalid(
                    "PARAMETER group.memberNames",
                    "group.memberNames is required",
                ));
            }
        };
        for (i, m) in names.iter().enumerate() {
            if names[..i].contains(m) {
                return Err(ApiError::invalid(
                    "PARAMETER group.memberNames",
                    format!("member {m} is listed twice"),
                ));
            }
            if *m == name.as_str() {
                return Err(ApiError::invalid(
                    "PARAMETER group.memberNames",
                    "a group cannot contain itself",
                ));
            }
            match arca.db.get_repository(m).await {
                Ok(r) if r.format != format.id() => {
                    return Err(ApiError::invalid(
                        "PARAMETER group.memberNames",
                        format!(
                            "member {m} is a {} repository, not {}",
                            r.format,
                            format.id()
                        ),
                    ));
                }
                Ok(_) => {}
                Err(MetaError::NotFound) => {
                    return Err(ApiError::invalid(
                        "PARAMETER group.memberNames",
                        format!("member repository {m} does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if would_cycle(&arca.db, name.as_str(), &names).await? {
            return Err(ApiError::invalid(
                "PARAMETER group.memberNames",
                format!("these members would make group {name} contain itself"),
            ));
        }
        names
    } else {
        vec![]
    };
    if kind == RepoKind::Proxy {
        ProxySettings::from_attrs(&Value::Object(body.clone()))
            .map_err(|m| ApiError::invalid("PARAMETER proxy", m))?;
        for f in ["contentMaxAge", "metadataMaxAge"] {
            if let Some(v) = body.get("proxy").and_then(|p| p.get(f))
                && !(v.is_i64() || v.is_null())
            {
                return Err(ApiError::invalid(
                    &format!("PARAMETER proxy.{f}"),
                    format!("proxy.{f} must be a number of minutes"),
                ));
            }
        }
    }
    // What is left is the format's own settings.
    for k in ["name", "online", "storage", "format", "type", "url"] {
        body.remove(k);
    }
    if let Some(Value::Object(g)) = body.get_mut("group") {
        g.remove("memberNames");
    }
    let spec = RepositorySpec {
        name,
        format: format.id().to_owned(),
        kind,
        online,
        blob_store,
        write_policy,
        strict_content_type_validation: strict,
        members,
        attrs: Value::Object(body),
    };
    format
        .validate(&spec)
        .map_err(|m| ApiError::invalid("*", m))?;
    check_connector_port(arca, format, &spec).await?;
    // Cleanup policies named must exist and suit the format.
    for name in arca_core::cleanup::policy_names_of(&spec.attrs) {
        match arca.db.get_cleanup_policy(&name).await {
            Ok(p) if p.format == "*" || p.format == spec.format => {}
            Ok(p) => {
                return Err(ApiError::invalid(
                    "cleanup.policyNames",
                    format!(
                        "cleanup policy {name} is for {}, not {}",
                        p.format, spec.format
                    ),
                ));
            }
            Err(MetaError::NotFound) => {
                return Err(ApiError::invalid(
                    "cleanup.policyNames",
                    format!("no cleanup policy named {name}"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(spec)
}

/// A repository connector's port must be free: not Arca's own, not another repository's, and
/// one this node can listen on now (other nodes of a cluster are not asked).
async fn check_connector_port(
    arca: &Arca,
    format: &dyn Format,
    spec: &RepositorySpec,
) -> Result<(), ApiError> {
    let Some((port, field)) = format.connector_port(&spec.attrs) else {
        return Ok(());
    };
    let id = format!("PARAMETER {field}");
    if arca.settings.listen.is_some_and(|a| a.port() == port) {
        return Err(ApiError::invalid(
            &id,
            format!("{field} {port} is the port Arca itself listens on"),
        ));
    }
    for r in arca.db.list_repositories().await? {
        if r.name == spec.name {
            continue;
        }
        let theirs = arca
            .formats
            .get(&r.format)
            .and_then(|f| f.connector_port(&r.attrs));
        if theirs.is_some_and(|(p, _)| p == port) {
            return Err(ApiError::invalid(
                &id,
                format!("{field} {port} is already used by repository {}", r.name),
            ));
        }
    }
    // A port one of our connectors holds is handed over by the server; any other must bind.
    let ours = arca
        .connectors
        .read()
        .map(|c| c.contains_key(&port))
        .unwrap_or(false);
    if !ours {
        let ip = arca
            .settings
            .listen
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        if let Err(e) = std::net::TcpListener::bind((ip, port)) {
            return Err(ApiError::invalid(
                &id,
                format!("{field} {port} cannot be listened on: {e}"),
            ));
        }
    }
    Ok(())
}

/// Create a repository of a format and type.
#[utoipa::path(
    post,
    operation_id = "create_repository",
    path = "/service/rest/v1/repositories/{format}/{kind}",
    tag = "Repository Management",
    params(
        ("format" = RepositoryFormat, Path, description = "The format"),
        ("kind" = RepositoryType, Path, description = "The repository type"),
    ),
    request_body = RepositoryApiRequest,
    responses(
        (status = 201, description = "Repository created"),
        (status = 400, description = "A field is missing or wrong, or the format is not served", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Unknown repository type"),
        (status = 409, description = "The repository exists", body = Vec<ValidationErrorXO>),
    ),
)]
pub(crate) async fn create(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: RepoAdminGuard<ReposAdd>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (segment, kind) = path.into_inner();
    let (format, kind) = format_for(&arca, &segment, &kind)?;
    let spec = parse_spec(&arca, format.as_ref(), kind, body.into_inner()).await?;
    let repo = arca
        .db
        .create_repository(&spec)
        .await
        .map_err(|e| match e {
            MetaError::Conflict(m) => ApiError::Conflict(m),
            e => e.into(),
        })?;
    arca.repository_changed(repo.id).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "repository",
        "created",
        repo.name.as_str(),
        json!({ "format": repo.format, "type": repo.kind.as_str() }),
    )
    .await;
    Ok(HttpResponse::Created().finish())
}

/// Finds a repository that must have the format and kind of the URL.
async fn typed(
    arca: &Arca,
    segment: &str,
    kind: &str,
    name: &str,
) -> Result<(Repository, RepoKind, std::sync::Arc<dyn Format>), ApiError> {
    let (format, kind) = format_for(arca, segment, kind)?;
    let format = format.clone();
    match arca.db.get_repository(name).await {
        Ok(r) if r.format == format.id() && r.kind == kind => Ok((r, kind, format)),
        Ok(r) => Err(ApiError::NotFound(format!(
            "Repository {name} is a {} {} repository, not {} {}",
            r.format,
            r.kind.as_str(),
            format.id(),
            kind.as_str()
        ))),
        Err(MetaError::NotFound) => Err(ApiError::NotFound(format!("Repository {name} not found"))),
        Err(e) => Err(e.into()),
    }
}

/// Get a repository's full settings.
#[utoipa::path(
    get,
    operation_id = "get_repository_settings",
    path = "/service/rest/v1/repositories/{format}/{kind}/{name}",
    tag = "Repository Management",
    params(
        ("format" = RepositoryFormat, Path, description = "The format"),
        ("kind" = RepositoryType, Path, description = "The repository type"),
        ("name" = String, Path, description = "The repository's name"),
    ),
    responses(
        (status = 200, description = "The repository", body = AbstractApiRepository),
        (status = 400, description = "The format is not served", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such repository of this format and type"),
    ),
)]
pub(crate) async fn get_typed(
    req: HttpRequest,
    arca: web::Data<Arca>,
    _g: RepoAdminGuard<ReposRead>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (segment, kind, name) = path.into_inner();
    let (repo, _, _) = typed(&arca, &segment, &kind, &name).await?;
    Ok(HttpResponse::Ok().json(detail(
        &arca,
        &repo,
        &arca.settings.public.for_request(&req),
    )))
}

/// Update a repository (not its name or blob store).
#[utoipa::path(
    put,
    operation_id = "update_repository",
    path = "/service/rest/v1/repositories/{format}/{kind}/{name}",
    tag = "Repository Management",
    params(
        ("format" = RepositoryFormat, Path, description = "The format"),
        ("kind" = RepositoryType, Path, description = "The repository type"),
        ("name" = String, Path, description = "The repository's name"),
    ),
    request_body = RepositoryApiRequest,
    responses(
        (status = 204, description = "Repository updated"),
        (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such repository of this format and type"),
    ),
)]
pub(crate) async fn update(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: RepoAdminGuard<ReposEdit>,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (segment, kind, name) = path.into_inner();
    let (existing, kind, format) = typed(&arca, &segment, &kind, &name).await?;
    let spec = parse_spec(&arca, format.as_ref(), kind, body.into_inner()).await?;
    if spec.name != existing.name {
        return Err(ApiError::invalid(
            "PARAMETER name",
            format!(
                "the body names {}, the URL {name}: repositories cannot be renamed",
                spec.name
            ),
        ));
    }
    if spec.blob_store != existing.blob_store {
        return Err(ApiError::invalid(
            "PARAMETER storage.blobStoreName",
            "the blob store of a repository cannot be changed",
        ));
    }
    arca.db.update_repository(&spec).await?;
    // A new remote or negative-cache setting counts on every node at once; a proxy's cached
    // metadata may be the old remote's, so it is revalidated too.
    arca.repository_changed(existing.id).await;
    if existing.kind == arca_core::model::RepoKind::Proxy {
        arca.proxy.invalidate(&arca.db, &existing).await?;
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "repository",
        "updated",
        &name,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
