//! `components` and `assets`: list by repository (with Nexus's `continuationToken`), get and
//! delete, in Nexus's `ComponentXO`/`AssetXO` shapes. Ids are opaque, as Nexus's are.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::visibility::{self, Sight};
use arca_core::{
    Arca,
    auth::Caller,
    meta::MetaError,
    model::{Asset, Component, Repository, utc_parts},
    security::{Action, Permission, Subject},
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{audit, paging::page};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/components", web::get().to(list_components))
        .route("/components/{id}", web::get().to(get_component))
        .route("/components/{id}", web::delete().to(delete_component))
        .route("/assets", web::get().to(list_assets))
        .route("/assets/{id}", web::get().to(get_asset))
        .route("/assets/{id}", web::delete().to(delete_asset));
}

/// Items per page, as Nexus pages its listings.
const PAGE: i64 = 100;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// `<repository>:<kind>:<id>`, base64url: opaque to clients, checkable by us.
pub(crate) fn encode_id(repo: &str, kind: &str, id: i64) -> String {
    b64().encode(format!("{repo}:{kind}:{id}"))
}

pub(crate) fn decode_id(s: &str, kind: &str) -> Option<(String, i64)> {
    let raw = String::from_utf8(b64().decode(s).ok()?).ok()?;
    let (rest, id) = raw.rsplit_once(':')?;
    let (repo, k) = rest.rsplit_once(':')?;
    (k == kind).then_some(())?;
    Some((repo.to_owned(), id.parse().ok()?))
}

pub fn iso(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(ms);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+00:00",
        ms.rem_euclid(1000)
    )
}

/// An asset's checksums: `sha256` always, the others when known.
#[derive(Serialize, ToSchema)]
pub(crate) struct AssetChecksums {
    sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    sha512: Option<String>,
}

/// Nexus's `AssetXO`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssetXO {
    /// Opaque.
    id: String,
    download_url: String,
    path: String,
    repository: String,
    format: String,
    checksum: AssetChecksums,
    content_type: String,
    #[schema(format = DateTime)]
    last_modified: String,
    #[schema(format = DateTime)]
    last_downloaded: Option<String>,
    uploader: Option<String>,
    uploader_ip: Option<String>,
    file_size: i64,
    #[schema(format = DateTime)]
    blob_created: String,
    blob_store_name: String,
}

/// Nexus's `ComponentXO`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ComponentXO {
    /// Opaque.
    id: String,
    repository: String,
    format: String,
    /// Null for formats without groups.
    group: Option<String>,
    name: String,
    /// Null for formats without versions.
    version: Option<String>,
    assets: Vec<AssetXO>,
}

page!(
    /// A page of components.
    PageComponentXO,
    ComponentXO
);

page!(
    /// A page of assets.
    PageAssetXO,
    AssetXO
);

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

pub(crate) fn asset_xo(base: &str, format: &str, a: &Asset) -> AssetXO {
    AssetXO {
        id: encode_id(&a.repository, "asset", a.id),
        download_url: format!("{base}/repository/{}/{}", a.repository, a.path),
        path: a.path.clone(),
        repository: a.repository.clone(),
        format: format.to_owned(),
        checksum: AssetChecksums {
            sha256: a.checksums.sha256.clone(),
            sha1: non_empty(&a.checksums.sha1),
            md5: non_empty(&a.checksums.md5),
            sha512: non_empty(&a.checksums.sha512),
        },
        content_type: a.content_type.clone(),
        last_modified: iso(a.last_modified_ms),
        last_downloaded: a.last_downloaded_ms.map(iso),
        uploader: a.uploader.clone(),
        uploader_ip: a.uploader_ip.clone(),
        file_size: a.size,
        blob_created: iso(a.created_ms),
        blob_store_name: a.blob_store.clone(),
    }
}

pub(super) fn component_xo(
    base: &str,
    format: &str,
    c: &Component,
    assets: &[&Asset],
) -> ComponentXO {
    ComponentXO {
        id: encode_id(&c.repository, "component", c.id),
        repository: c.repository.clone(),
        format: format.to_owned(),
        group: non_empty(&c.namespace),
        name: c.name.clone(),
        version: non_empty(&c.version),
        assets: assets.iter().map(|a| asset_xo(base, format, a)).collect(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The repository's name.
    #[param(required = true, nullable = false)]
    repository: Option<String>,
    /// The `continuationToken` of the previous page.
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

/// The repository, once the caller may `action` in it (404 for one it may not even see).
async fn repo_for(
    arca: &Arca,
    subject: &Subject,
    name: &str,
    action: Action,
) -> Result<Repository, ApiError> {
    let repo = match arca.db.get_repository(name).await {
        Ok(r) => r,
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!("Repository '{name}' not found")));
        }
        Err(e) => return Err(e.into()),
    };
    let perm = |action| Permission::RepoView {
        format: &repo.format,
        repo: repo.name.as_str(),
        action,
    };
    if visibility::sight(subject, &repo) == Sight::Nothing {
        if subject.anonymous {
            return Err(arca_core::security::AuthError::Unauthenticated.into());
        }
        return Err(ApiError::NotFound(format!("Repository '{name}' not found")));
    }
    arca.security.authorize(subject, &perm(action))?;
    Ok(repo)
}

fn repository_param(q: &ListQuery) -> Result<&str, ApiError> {
    q.repository
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("PARAMETER repository", "repository is required"))
}

/// List a repository's components, 100 a page.
#[utoipa::path(
    get,
    path = "/service/rest/v1/components",
    tag = "Components",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of components", body = PageComponentXO),
        (status = 400, description = "No repository, or an invalid continuationToken", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn list_components(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo_for(&arca, &caller.0, repository_param(&q)?, Action::Browse).await?;
    let after = super::paging::decode(q.continuation_token.as_deref())?;
    let base = arca.settings.public.for_request(&req);
    let comps = arca.db.list_components(repo.id, after, PAGE).await?;
    let assets = match (comps.first(), comps.last()) {
        (Some(a), Some(b)) => arca.db.assets_of_components(repo.id, a.id, b.id).await?,
        _ => vec![],
    };
    let items: Vec<ComponentXO> = comps
        .iter()
        .map(|c| {
            let mine: Vec<&Asset> = assets
                .iter()
                .filter(|a| a.component_id == Some(c.id))
                .collect();
            component_xo(&base, &repo.format, c, &mine)
        })
        .collect();
    let last = comps.last().map_or(after, |c| c.id);
    Ok(HttpResponse::Ok().json(PageComponentXO {
        items,
        continuation_token: super::paging::next(last, comps.len() as i64 == PAGE),
    }))
}

/// List a repository's assets, 100 a page.
#[utoipa::path(
    get,
    path = "/service/rest/v1/assets",
    tag = "Assets",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of assets", body = PageAssetXO),
        (status = 400, description = "No repository, or an invalid continuationToken", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn list_assets(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo_for(&arca, &caller.0, repository_param(&q)?, Action::Browse).await?;
    let after = super::paging::decode(q.continuation_token.as_deref())?;
    let base = arca.settings.public.for_request(&req);
    let assets = arca.db.list_assets_by_id(repo.id, after, PAGE).await?;
    let last = assets.last().map_or(after, |a| a.id);
    Ok(HttpResponse::Ok().json(PageAssetXO {
        items: assets
            .iter()
            .map(|a| asset_xo(&base, &repo.format, a))
            .collect(),
        continuation_token: super::paging::next(last, assets.len() as i64 == PAGE),
    }))
}

fn malformed(what: &str) -> ApiError {
    ApiError::invalid("PARAMETER id", format!("malformed {what} id"))
}

/// The component behind an id, with its repository and assets, if the caller may `action`.
async fn component(
    arca: &Arca,
    subject: &Subject,
    id: &str,
    action: Action,
) -> Result<(Repository, Component, Vec<Asset>), ApiError> {
    let (repo_name, cid) = decode_id(id, "component").ok_or_else(|| malformed("component"))?;
    let repo = repo_for(arca, subject, &repo_name, action).await?;
    let c = match arca.db.get_component(cid).await {
        Ok(c) if c.repository == repo.name.as_str() => c,
        Ok(_) | Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!("Component '{id}' not found")));
        }
        Err(e) => return Err(e.into()),
    };
    let assets = arca.db.assets_of_components(repo.id, cid, cid).await?;
    Ok((repo, c, assets))
}

/// Get a component.
#[utoipa::path(
    get,
    path = "/service/rest/v1/components/{id}",
    tag = "Components",
    params(("id" = String, Path, description = "The component's id")),
    responses(
        (status = 200, description = "The component", body = ComponentXO),
        (status = 400, description = "Malformed id", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Component not found"),
    ),
)]
pub(crate) async fn get_component(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (repo, c, assets) = component(&arca, &caller.0, &id, Action::Browse).await?;
    let base = arca.settings.public.for_request(&req);
    let refs: Vec<&Asset> = assets.iter().collect();
    Ok(HttpResponse::Ok().json(component_xo(&base, &repo.format, &c, &refs)))
}

/// Deletes assets and lets the format bring its metadata in step.
async fn remove(
    req: &HttpRequest,
    arca: &web::Data<Arca>,
    subject: &Subject,
    repo: Repository,
    paths: Vec<String>,
) -> Result<(), ApiError> {
    let base = arca.settings.public.for_request(req);
    arca_core::cleanup::delete_paths(arca, &repo, subject, base, &paths).await?;
    Ok(())
}

/// Delete a component and its assets.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/components/{id}",
    tag = "Components",
    params(("id" = String, Path, description = "The component's id")),
    responses(
        (status = 204, description = "Component deleted"),
        (status = 400, description = "Malformed id", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Component not found"),
    ),
)]
pub(crate) async fn delete_component(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (repo, c, assets) = component(&arca, &caller.0, &id, Action::Delete).await?;
    let paths: Vec<String> = assets.into_iter().map(|a| a.path).collect();
    let name = repo.name.to_string();
    remove(&req, &arca, &caller.0, repo, paths.clone()).await?;
    audit(
        &arca,
        &req,
        &caller.0,
        "repository.component",
        "deleted",
        &name,
        json!({ "name": c.name, "version": c.version, "assets": paths }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn asset(
    arca: &Arca,
    subject: &Subject,
    id: &str,
    action: Action,
) -> Result<(Repository, Asset), ApiError> {
    let (repo_name, aid) = decode_id(id, "asset").ok_or_else(|| malformed("asset"))?;
    let repo = repo_for(arca, subject, &repo_name, action).await?;
    match arca.db.get_asset_by_id(aid).await {
        Ok(a) if a.repository == repo.name.as_str() => Ok((repo, a)),
        Ok(_) | Err(MetaError::NotFound) => {
            Err(ApiError::NotFound(format!("Asset '{id}' not found")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Get an asset.
#[utoipa::path(
    get,
    path = "/service/rest/v1/assets/{id}",
    tag = "Assets",
    params(("id" = String, Path, description = "The asset's id")),
    responses(
        (status = 200, description = "The asset", body = AssetXO),
        (status = 400, description = "Malformed id", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Asset not found"),
    ),
)]
pub(crate) async fn get_asset(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (repo, a) = asset(&arca, &caller.0, &id, Action::Browse).await?;
    let base = arca.settings.public.for_request(&req);
    Ok(HttpResponse::Ok().json(asset_xo(&base, &repo.format, &a)))
}

/// Delete an asset.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/assets/{id}",
    tag = "Assets",
    params(("id" = String, Path, description = "The asset's id")),
    responses(
        (status = 204, description = "Asset deleted"),
        (status = 400, description = "Malformed id", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Asset not found"),
    ),
)]
pub(crate) async fn delete_asset(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (repo, a) = asset(&arca, &caller.0, &id, Action::Delete).await?;
    let name = repo.name.to_string();
    remove(&req, &arca, &caller.0, repo, vec![a.path.clone()]).await?;
    audit(
        &arca,
        &req,
        &caller.0,
        "repository.asset",
        "deleted",
        &name,
        json!({ "path": a.path }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// The component upload form: the fields of the repository's format (see
/// `formats/upload-specs`). More files go in `<format>.asset2`, `<format>.asset3`, ... with
/// their own `.extension`/`.classifier` (maven2) or `.filename` (raw).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ComponentUploadForm {
    #[serde(rename = "maven2.groupId")]
    #[schema(required = false)]
    maven2_group_id: String,
    #[serde(rename = "maven2.artifactId")]
    #[schema(required = false)]
    maven2_artifact_id: String,
    #[serde(rename = "maven2.version")]
    #[schema(required = false)]
    maven2_version: String,
    /// `true` to generate a pom.
    #[serde(rename = "maven2.generate-pom")]
    #[schema(required = false)]
    maven2_generate_pom: bool,
    /// For a generated pom; `jar` by default.
    #[serde(rename = "maven2.packaging")]
    #[schema(required = false)]
    maven2_packaging: String,
    #[serde(rename = "maven2.asset1")]
    #[schema(required = false, value_type = String, format = Binary)]
    maven2_asset1: Vec<u8>,
    #[serde(rename = "maven2.asset1.extension")]
    #[schema(required = false)]
    maven2_asset1_extension: String,
    #[serde(rename = "maven2.asset1.classifier")]
    #[schema(required = false)]
    maven2_asset1_classifier: String,
    /// A wheel or sdist; name and version come from its file name.
    #[serde(rename = "pypi.asset")]
    #[schema(required = false, value_type = String, format = Binary)]
    pypi_asset: Vec<u8>,
    /// Where the files go, e.g. `/path/to/files/`.
    #[serde(rename = "raw.directory")]
    #[schema(required = false)]
    raw_directory: String,
    #[serde(rename = "raw.asset1")]
    #[schema(required = false, value_type = String, format = Binary)]
    raw_asset1: Vec<u8>,
    #[serde(rename = "raw.asset1.filename")]
    #[schema(required = false)]
    raw_asset1_filename: String,
    /// The directory for the RPM, below the repository root.
    #[serde(rename = "yum.directory")]
    #[schema(required = false)]
    yum_directory: String,
    #[serde(rename = "yum.asset")]
    #[schema(required = false, value_type = String, format = Binary)]
    yum_asset: Vec<u8>,
    /// The RPM's file name; the uploaded file's by default.
    #[serde(rename = "yum.asset.filename")]
    #[schema(required = false)]
    yum_asset_filename: String,
}

/// Upload a component with its format's form.
///
/// Served by `arca_core::format::component_upload_route`; this stub only describes it.
#[utoipa::path(
    post,
    path = "/service/rest/v1/components",
    tag = "Components",
    params(("repository" = String, Query, description = "A hosted repository")),
    request_body(content = ComponentUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 204, description = "Component uploaded"),
        (status = 400, description = "Not a hosted repository, a format without upload, or a wrong form", body = String, content_type = "text/plain"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found", body = String, content_type = "text/plain"),
        (status = 503, description = "Repository offline", body = String, content_type = "text/plain"),
    ),
)]
#[allow(dead_code)]
pub(crate) fn upload_component() {}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_round_trip() {
        let id = super::encode_id("maven-releases", "component", 42);
        assert_eq!(
            super::decode_id(&id, "component"),
            Some(("maven-releases".into(), 42))
        );
        assert_eq!(super::decode_id(&id, "asset"), None);
        assert_eq!(super::decode_id("!!", "asset"), None);
        assert_eq!(super::iso(86_400_123), "1970-01-02T00:00:00.123+00:00");
    }
}
