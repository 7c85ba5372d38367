//! `blobstores`: list, quota status, delete, and file stores' create/get/update, with Nexus's
//! shapes and status codes. A store is usable the moment it is created (no restart), on every
//! node: this one registers it, the others open it from its row on first use, and reopen or
//! drop it on `Storage::reload_stores` when it changes or goes.

use std::{path::PathBuf, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Guard,
    blob::{BlobError, BlobStore, FileBlobStore, S3BlobStore, S3Config},
    meta::{BlobStoreRow, MetaError},
    model::RepoName,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{BlobstoresCreate, BlobstoresDelete, BlobstoresRead, BlobstoresUpdate, audit};
use crate::{ApiError, error::OrNotFound};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/blobstores", web::get().to(list))
        .route("/blobstores/{name}", web::delete().to(delete))
        .route("/blobstores/{name}/quota-status", web::get().to(quota))
        .route("/blobstores/file", web::post().to(create_file))
        .route("/blobstores/file/{name}", web::get().to(get_file))
        .route("/blobstores/file/{name}", web::put().to(update_file))
        .route("/blobstores/s3", web::post().to(create_s3))
        .route("/blobstores/s3/{name}", web::get().to(get_s3))
        .route("/blobstores/s3/{name}", web::put().to(update_s3));
}

#[derive(Serialize, ToSchema)]
pub(crate) enum BlobStoreType {
    File,
    S3,
}

/// What a soft quota limits.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub(crate) enum SoftQuotaType {
    /// Violated when the free space of the store's volume falls below `limit`.
    #[serde(rename = "spaceRemainingQuota")]
    SpaceRemaining,
    /// Violated when the store holds more than `limit` bytes.
    #[serde(rename = "spaceUsedQuota")]
    SpaceUsed,
}

/// Nexus's soft quota: reported by `quota-status` (and the UI), never blocking writes.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct BlobStoreApiSoftQuota {
    #[serde(rename = "type")]
    kind: SoftQuotaType,
    /// Bytes.
    #[schema(minimum = 0)]
    limit: i64,
}

fn quota_of(row: &BlobStoreRow) -> Option<BlobStoreApiSoftQuota> {
    row.soft_quota
        .as_deref()
        .and_then(|q| serde_json::from_str(q).ok())
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenericBlobStoreApiResponse {
    name: String,
    #[serde(rename = "type")]
    kind: BlobStoreType,
    unavailable: bool,
    blob_count: i64,
    total_size_in_bytes: i64,
    available_space_in_bytes: u64,
    soft_quota: Option<BlobStoreApiSoftQuota>,
    /// Bytes the garbage collectors will free: blobs no asset names any more, and docker
    /// content no tag reaches that is kept for the grace (as of each repository's last
    /// collection). An Arca addition.
    reclaimable_size_in_bytes: i64,
    /// The last garbage collection that freed content of this store. An Arca addition.
    last_collection: Option<CollectionXO>,
}

/// What a garbage collection freed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CollectionXO {
    #[schema(format = DateTime)]
    finished: String,
    /// `store:<name>` (the blob GC) or `repository:<name>` (a docker collection).
    by: String,
    duration_ms: i64,
    /// Blobs freed (the blob GC), or manifests and blobs deleted (a repository).
    items_deleted: i64,
    bytes_freed: i64,
}

/// A store's reclaimable bytes and last collection ([`arca_core::meta::Db::store_collection`]).
async fn collection_of(arca: &Arca, store: &str) -> Result<(i64, Option<CollectionXO>), ApiError> {
    let (reclaimable, last) = arca.db.store_collection(store).await?;
    let last = last.map(|r| {
        let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(r.finished_ms);
        CollectionXO {
            finished: format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000+00:00"),
            by: r.scope,
            duration_ms: r.duration_ms,
            items_deleted: r.items,
            bytes_freed: r.bytes,
        }
    });
    Ok((reclaimable, last))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlobStoreQuotaResultXO {
    is_violation: bool,
    message: String,
    blob_store_name: String,
}

/// List the blob stores.
#[utoipa::path(
    get,
    operation_id = "list_blob_stores",
    path = "/service/rest/v1/blobstores",
    tag = "Blob store",
    responses(
        (status = 200, description = "The blob stores", body = Vec<GenericBlobStoreApiResponse>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list(
    arca: web::Data<Arca>,
    _g: Guard<BlobstoresRead>,
) -> Result<HttpResponse, ApiError> {
    let mut out = vec![];
    for s in arca.db.list_blob_stores().await? {
        let (bytes, count) = arca.storage.usage(&s.name).await?;
        let (reclaimable, last_collection) = collection_of(&arca, &s.name).await?;
        // Opened here if another node created it since this one started.
        let store = arca.storage.store_or_open(&s.name).await.ok();
        let available = match &store {
            Some(st) => st.available_space().await,
            None => None,
        };
        out.push(GenericBlobStoreApiResponse {
            kind: if s.kind == "file" {
                BlobStoreType::File
            } else {
                BlobStoreType::S3
            },
            name: s.name.clone(),
            unavailable: store.is_none(),
            blob_count: count,
            total_size_in_bytes: bytes,
            available_space_in_bytes: available.unwrap_or(0),
            soft_quota: quota_of(&s),
            reclaimable_size_in_bytes: reclaimable,
            last_collection,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Whether a blob store exceeds its soft quota (soft quotas are reported, never enforced).
#[utoipa::path(
    get,
    operation_id = "get_blob_store_quota_status",
    path = "/service/rest/v1/blobstores/{name}/quota-status",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    responses(
        (status = 200, description = "The quota status", body = BlobStoreQuotaResultXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Blob store not found"),
    ),
)]
pub(crate) async fn quota(
    arca: web::Data<Arca>,
    _g: Guard<BlobstoresRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&arca, &name).await?;
    // Nexus's wording (BlobStoreQuotaResultXO, SpaceUsedQuota, SpaceRemainingQuota): clients
    // and dashboards match on it.
    let (is_violation, message) = match quota_of(&row) {
        None => (false, format!("Blob store {name} has no quota")),
        Some(q) => match q.kind {
            SoftQuotaType::SpaceUsed => {
                let (used, _) = arca.db.blob_store_usage(&name).await?;
                (
                    used > q.limit,
                    format!(
                        "Blob store {name} is using {} space and has a limit of {}",
                        bytes_si(used),
                        bytes_si(q.limit)
                    ),
                )
            }
            SoftQuotaType::SpaceRemaining => {
                let free = match arca.storage.store_or_open(&name).await {
                    Ok(st) => st.available_space().await,
                    Err(_) => None,
                };
                match free {
                    Some(free) => (
                        (free as i64) < q.limit,
                        format!(
                            "Blob store {name} is limited to having {} available space, and has {} space remaining",
                            bytes_si(q.limit),
                            bytes_si(free as i64)
                        ),
                    ),
                    None => (
                        false,
                        format!("Blob store {name} cannot report its free space"),
                    ),
                }
            }
        },
    };
    Ok(HttpResponse::Ok().json(BlobStoreQuotaResultXO {
        is_violation,
        message,
        blob_store_name: name.into_inner(),
    }))
}

/// Bytes as Nexus writes them in quota messages: two decimals and an SI prefix
/// (`0.00 B`, `1.50 KB`, `2.00 GB`).
fn bytes_si(bytes: i64) -> String {
    const PREFIXES: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut exp = 0;
    let mut n = bytes.unsigned_abs();
    while n >= 1000 && exp < PREFIXES.len() - 1 {
        n /= 1000;
        exp += 1;
    }
    format!(
        "{:.2} {}",
        bytes as f64 / 1000f64.powi(exp as i32),
        PREFIXES[exp]
    )
}

/// A file store's path as it was given (Nexus answers it so, relative paths relative), kept in
/// its attributes; the resolved directory for stores created before.
fn given_path(row: &BlobStoreRow) -> String {
    serde_json::from_str::<serde_json::Value>(&row.attributes)
        .ok()
        .and_then(|a| a.pointer("/file/path")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| row.path.clone())
}

fn file_attributes(given: &str) -> String {
    json!({ "file": { "path": given.trim() } }).to_string()
}

/// Tells the other nodes that the blob stores changed: they reload them
/// (`Storage::reload_stores`), opening, reopening or dropping what changed.
async fn announce(arca: &Arca) {
    arca_core::cluster::announce(&arca.db, arca_core::cluster::Event::BlobStores).await;
}

async fn find(arca: &Arca, name: &str) -> Result<BlobStoreRow, ApiError> {
    arca.db
        .get_blob_store(name)
        .await
        .or_not_found(|| format!("Blob store {name} not found"))
}

/// Nexus's `FileBlobStoreApiCreateRequest`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileBlobStoreApiCreateRequest {
    /// Letters, digits, `-`, `_` and `.`, not starting with `_` or `.`.
    name: String,
    /// An absolute path, or one relative to `<data_dir>/blobstores`.
    path: String,
    #[schema(nullable = false)]
    soft_quota: Option<BlobStoreApiSoftQuota>,
}

/// Nexus's `FileBlobStoreApiUpdateRequest`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileBlobStoreApiUpdateRequest {
    /// The store's directory; only a store holding no blobs can move.
    path: String,
    #[schema(nullable = false)]
    soft_quota: Option<BlobStoreApiSoftQuota>,
}

/// Nexus's `FileBlobStoreApiModel`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileBlobStoreApiModel {
    /// The store's directory as given (relative to `<data_dir>/blobstores` unless absolute).
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    soft_quota: Option<BlobStoreApiSoftQuota>,
}

fn check_quota(q: &Option<BlobStoreApiSoftQuota>) -> Result<Option<String>, ApiError> {
    match q {
        None => Ok(None),
        Some(q) if q.limit < 0 => Err(ApiError::invalid(
            "softQuota.limit",
            "softQuota.limit must be 0 or more bytes",
        )),
        Some(q) => serde_json::to_string(q)
            .map(Some)
            .map_err(|e| ApiError::invalid("softQuota", e.to_string())),
    }
}

/// The absolute directory for `path`, refused when it is, holds or lies inside another file
/// store's directory: two stores sharing files would free each other's blobs.
async fn resolve_dir(arca: &Arca, name: &str, path: &str) -> Result<PathBuf, ApiError> {
    let path = path.trim();
    if path.is_empty() {
        return Err(ApiError::invalid("path", "path must not be empty"));
    }
    if path.split(['/', '\\']).any(|seg| seg == "..") {
        return Err(ApiError::invalid("path", "path must not contain '..'"));
    }
    let given = PathBuf::from(path);
    let root = std::path::absolute(&arca.settings.blob_store_root)
        .unwrap_or_else(|_| arca.settings.blob_store_root.clone());
    let dir = if given.is_absolute() {
        given
    } else {
        root.join(given)
    };
    if arca.settings.confine_blob_stores && !real_path(&dir).starts_with(real_path(&root)) {
        return Err(ApiError::invalid(
            "path",
            format!(
                "{} is outside {}, where blob stores must be (the blob_store_root setting)",
                dir.display(),
                root.display()
            ),
        ));
    }
    for other in arca.db.list_blob_stores().await? {
        if other.kind != "file" || other.name == name {
            continue;
        }
        let o = PathBuf::from(&other.path);
        if dir.starts_with(&o) || o.starts_with(&dir) {
            return Err(ApiError::invalid(
                "path",
                format!(
                    "{} overlaps blob store {} at {}",
                    dir.display(),
                    other.name,
                    o.display()
                ),
            ));
        }
    }
    Ok(dir)
}

/// `p` with symbolic links resolved as far as it exists, so a link cannot lead out of the root.
fn real_path(p: &std::path::Path) -> PathBuf {
    let mut rest = vec![];
    let mut cur = p;
    loop {
        if let Ok(real) = cur.canonicalize() {
            return rest.iter().rev().fold(real, |acc, c| acc.join(c));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                cur = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// A new store's directory: new, empty or Arca's own (see `FileBlobStore::create`), else 400.
fn open_dir(name: &str, dir: &std::path::Path) -> Result<Arc<dyn BlobStore>, ApiError> {
    FileBlobStore::create(dir, name)
        .map(|s| Arc::new(s) as Arc<dyn BlobStore>)
        .map_err(|e| ApiError::invalid("path", format!("cannot use {}: {e}", dir.display())))
}

/// Create a file blob store.
#[utoipa::path(
    post,
    operation_id = "create_file_blob_store",
    path = "/service/rest/v1/blobstores/file",
    tag = "Blob store",
    request_body = FileBlobStoreApiCreateRequest,
    responses(
        (status = 204, description = "Blob store created"),
        (status = 400, description = "Invalid name, path or quota, or the name is taken", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn create_file(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<BlobstoresCreate>,
    body: web::Json<FileBlobStoreApiCreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    RepoName::parse(&body.name).map_err(|e| ApiError::invalid("name", e.to_string()))?;
    let soft_quota = check_quota(&body.soft_quota)?;
    if arca.db.get_blob_store(&body.name).await.is_ok() {
        return Err(ApiError::invalid(
            "name",
            format!("a blob store named {} already exists", body.name),
        ));
    }
    let dir = resolve_dir(&arca, &body.name, &body.path).await?;
    let store = open_dir(&body.name, &dir)?;
    let row = BlobStoreRow {
        name: body.name.clone(),
        kind: "file".into(),
        path: dir.to_string_lossy().into_owned(),
        soft_quota,
        attributes: file_attributes(&body.path),
        created_ms: 0,
    };
    arca.db.create_blob_store(&row).await.map_err(|e| match e {
        MetaError::Conflict(m) => ApiError::invalid("name", m),
        e => e.into(),
    })?;
    arca.storage.install(&row, store);
    announce(&arca).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "blobstore",
        "created",
        &row.name,
        json!({ "type": "file", "path": row.path }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

async fn find_file(arca: &Arca, name: &str) -> Result<BlobStoreRow, ApiError> {
    let row = find(arca, name).await?;
    if row.kind != "file" {
        return Err(ApiError::NotFound(format!(
            "Blob store {name} is not a file blob store"
        )));
    }
    Ok(row)
}

/// Get a file blob store's settings.
#[utoipa::path(
    get,
    operation_id = "get_file_blob_store",
    path = "/service/rest/v1/blobstores/file/{name}",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    responses(
        (status = 200, description = "The blob store", body = FileBlobStoreApiModel),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Blob store not found"),
    ),
)]
pub(crate) async fn get_file(
    arca: web::Data<Arca>,
    _g: Guard<BlobstoresRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find_file(&arca, &name).await?;
    Ok(HttpResponse::Ok().json(FileBlobStoreApiModel {
        soft_quota: quota_of(&row),
        path: given_path(&row),
    }))
}

/// Change a file blob store's soft quota, or its path while it holds no blobs.
#[utoipa::path(
    put,
    operation_id = "update_file_blob_store",
    path = "/service/rest/v1/blobstores/file/{name}",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    request_body = FileBlobStoreApiUpdateRequest,
    responses(
        (status = 204, description = "Blob store updated"),
        (status = 400, description = "Invalid path or quota", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Blob store not found"),
    ),
)]
pub(crate) async fn update_file(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<BlobstoresUpdate>,
    name: web::Path<String>,
    body: web::Json<FileBlobStoreApiUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut row = find_file(&arca, &name).await?;
    row.soft_quota = check_quota(&body.soft_quota)?;
    let dir = resolve_dir(&arca, &name, &body.path).await?;
    row.attributes = file_attributes(&body.path);
    let moved = dir.as_path() != std::path::Path::new(&row.path);
    if moved {
        let (_, blobs) = arca.db.blob_store_usage(&name).await?;
        if blobs > 0 || name.as_str() == "default" {
            return Err(ApiError::invalid(
                "path",
                format!(
                    "blob store {name} holds {blobs} blobs{}: it cannot move; create a new store \
                     and point repositories at it",
                    if name.as_str() == "default" {
                        " and follows the blob_dir setting"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let store = open_dir(&name, &dir)?;
        row.path = dir.to_string_lossy().into_owned();
        arca.db.update_blob_store(&row).await?;
        arca.storage.install(&row, store);
    } else {
        arca.db.update_blob_store(&row).await?;
    }
    announce(&arca).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "blobstore",
        "updated",
        &name,
        json!({ "path": row.path, "softQuota": row.soft_quota }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a blob store no repository uses; a file store's files go with it (what Arca wrote
/// there, and the directory once empty).
#[utoipa::path(
    delete,
    operation_id = "delete_blob_store",
    path = "/service/rest/v1/blobstores/{name}",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    responses(
        (status = 204, description = "Blob store deleted"),
        (status = 400, description = "In use by repositories, or the default store", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Blob store not found"),
    ),
)]
pub(crate) async fn delete(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<BlobstoresDelete>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&arca, &name).await?;
    if row.name == "default" {
        return Err(ApiError::invalid(
            "name",
            "the default blob store is where Arca's blob_dir setting points; it cannot be deleted",
        ));
    }
    arca.storage.check_writable().await?;
    arca.db
        .delete_blob_store(&name)
        .await
        .map_err(|e| match e {
            MetaError::Conflict(m) => ApiError::invalid("name", m),
            e => e.into(),
        })?;
    arca.storage.remove_store(&name);
    // Its last collection is no store's any more.
    if let Err(e) = arca.db.forget_gc_run(&format!("store:{name}")).await {
        tracing::warn!(blob_store = %name, error = %e, "forgetting the store's last collection failed");
    }
    if row.kind == "file" {
        remove_file_store(&PathBuf::from(&row.path)).await;
    }
    announce(&arca).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "blobstore",
        "deleted",
        &name,
        json!({ "type": row.kind, "path": row.path }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes what a file store wrote and the directory if nothing else is in it; files someone
/// else put there stay, and an unmarked directory is left whole.
async fn remove_file_store(dir: &std::path::Path) {
    match FileBlobStore::remove_dir(dir.to_path_buf()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(path = %dir.display(), "a deleted blob store's directory stays: it holds files Arca did not write, or has no marker")
        }
        Err(e) => {
            tracing::warn!(path = %dir.display(), error = %e, "removing a deleted blob store's files failed")
        }
    }
}

/// How long creating or updating an S3 store waits for its bucket to answer.
const S3_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// The bucket of an S3 blob store.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct S3BlobStoreApiBucket {
    name: String,
    /// An AWS region, `DEFAULT`, or what an S3-compatible server expects.
    region: String,
    /// Key prefix of everything the store writes; empty for the bucket's root.
    #[schema(nullable = false)]
    prefix: Option<String>,
}

/// Static credentials; without them the instance's are used. `secretAccessKey` is never
/// echoed; an update that leaves it out keeps the stored one.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub(crate) struct S3BlobStoreApiBucketSecurity {
    access_key_id: String,
    #[schema(write_only, nullable = false)]
    secret_access_key: Option<String>,
    #[schema(write_only, nullable = false)]
    session_token: Option<String>,
    /// Assuming a role is not supported: leave it out.
    #[schema(nullable = false)]
    role: Option<String>,
}

/// For S3-compatible servers.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub(crate) struct S3BlobStoreApiAdvancedBucketConnection {
    /// `https://host[:port]` (or `http://` on a trusted network).
    #[schema(nullable = false)]
    endpoint: Option<String>,
    #[schema(nullable = false)]
    force_path_style: Option<bool>,
    /// Accepted; requests are always signed with SigV4.
    #[schema(nullable = false)]
    signer_type: Option<String>,
    #[schema(nullable = false)]
    max_connection_pool_size: Option<i32>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub(crate) struct S3BlobStoreApiBucketConfiguration {
    bucket: S3BlobStoreApiBucket,
    #[schema(nullable = false)]
    bucket_security: Option<S3BlobStoreApiBucketSecurity>,
    #[schema(nullable = false)]
    advanced_bucket_connection: Option<S3BlobStoreApiAdvancedBucketConnection>,
}

/// Nexus's `S3BlobStoreApiModel`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub(crate) struct S3BlobStoreApiModel {
    name: String,
    /// `S3` in answers; ignored in requests.
    #[schema(rename = "type", nullable = false)]
    kind: Option<String>,
    #[schema(nullable = false)]
    soft_quota: Option<BlobStoreApiSoftQuota>,
    bucket_configuration: S3BlobStoreApiBucketConfiguration,
}

fn s3_body_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("bucketConfiguration", e.to_string())
}

/// The request's `name`, soft quota and bucket configuration.
fn parse_s3(
    body: &serde_json::Value,
) -> Result<(Option<String>, Option<String>, S3Config), ApiError> {
    let name = body.get("name").and_then(|v| v.as_str()).map(str::to_owned);
    let quota: Option<BlobStoreApiSoftQuota> = match body.get("softQuota") {
        None | Some(serde_json::Value::Null) => None,
        Some(q) => Some(
            serde_json::from_value(q.clone())
                .map_err(|e| ApiError::invalid("softQuota", e.to_string()))?,
        ),
    };
    let cfg = body.get("bucketConfiguration").ok_or_else(|| {
        ApiError::invalid("bucketConfiguration", "bucketConfiguration is required")
    })?;
    let cfg: S3Config = serde_json::from_value(cfg.clone()).map_err(s3_body_error)?;
    Ok((name, check_quota(&quota)?, cfg))
}

/// Connects and proves the bucket answers (list, write, delete) before anything is recorded:
/// a typo in the endpoint or the keys is a 400 now, not failed uploads later.
async fn connect_s3(name: &str, cfg: &S3Config) -> Result<Arc<dyn BlobStore>, ApiError> {
    let store = S3BlobStore::connect(name, cfg).map_err(s3_body_error)?;
    match tokio::time::timeout(S3_CHECK, store.verify()).await {
        Ok(Ok(())) => Ok(Arc::new(store)),
        Ok(Err(e @ (BlobError::Remote { .. } | BlobError::Config(_)))) => {
            Err(s3_body_error(format!("the bucket cannot be used: {e}")))
        }
        Ok(Err(e)) => Err(s3_body_error(e)),
        Err(_) => Err(s3_body_error(format!(
            "the bucket did not answer within {} s",
            S3_CHECK.as_secs()
        ))),
    }
}

/// Create an S3 blob store; its bucket must answer first.
#[utoipa::path(
    post,
    operation_id = "create_s3_blob_store",
    path = "/service/rest/v1/blobstores/s3",
    tag = "Blob store",
    request_body = S3BlobStoreApiModel,
    responses(
        (status = 201, description = "S3 blob store created"),
        (status = 400, description = "Invalid name or settings, or the bucket cannot be used", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn create_s3(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<BlobstoresCreate>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (name, soft_quota, cfg) = parse_s3(&body)?;
    let name = name.ok_or_else(|| ApiError::invalid("name", "name is required"))?;
    RepoName::parse(&name).map_err(|e| ApiError::invalid("name", e.to_string()))?;
    if arca.db.get_blob_store(&name).await.is_ok() {
        return Err(ApiError::invalid(
            "name",
            format!("a blob store named {name} already exists"),
        ));
    }
    let store = connect_s3(&name, &cfg).await?;
    let row = BlobStoreRow {
        name: name.clone(),
        kind: "s3".into(),
        path: String::new(),
        soft_quota,
        attributes: serde_json::to_string(&cfg).map_err(s3_body_error)?,
        created_ms: 0,
    };
    arca.db.create_blob_store(&row).await.map_err(|e| match e {
        MetaError::Conflict(m) => ApiError::invalid("name", m),
        e => e.into(),
    })?;
    arca.storage.install(&row, store);
    announce(&arca).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "blobstore",
        "created",
        &name,
        json!({ "type": "s3", "bucket": cfg.bucket.name, "prefix": cfg.bucket.prefix }),
    )
    .await;
    Ok(HttpResponse::Created().finish())
}

async fn find_s3(arca: &Arca, name: &str) -> Result<(BlobStoreRow, S3Config), ApiError> {
    let row = find(arca, name).await?;
    if row.kind != "s3" {
        return Err(ApiError::NotFound(format!(
            "Blob store {name} is not an S3 blob store"
        )));
    }
    let cfg = S3Config::from_attributes(&row.attributes).map_err(s3_body_error)?;
    Ok((row, cfg))
}

/// Get an S3 blob store's settings (the secret key left out).
#[utoipa::path(
    get,
    operation_id = "get_s3_blob_store",
    path = "/service/rest/v1/blobstores/s3/{name}",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    responses(
        (status = 200, description = "The blob store", body = S3BlobStoreApiModel),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Blob store not found"),
    ),
)]
pub(crate) async fn get_s3(
    arca: web::Data<Arca>,
    _g: Guard<BlobstoresRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (row, cfg) = find_s3(&arca, &name).await?;
    let mut cfg = serde_json::to_value(&cfg).map_err(s3_body_error)?;
    if let Some(sec) = cfg
        .get_mut("bucketSecurity")
        .and_then(|v| v.as_object_mut())
    {
        sec.remove("secretAccessKey");
        sec.remove("sessionToken");
    }
    let mut out = json!({ "name": row.name, "type": "S3", "bucketConfiguration": cfg });
    if let Some(q) = quota_of(&row) {
        out["softQuota"] = serde_json::to_value(q).map_err(s3_body_error)?;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Change an S3 blob store's credentials, region, connection or soft quota; the bucket,
/// prefix and endpoint stay while it holds blobs.
#[utoipa::path(
    put,
    operation_id = "update_s3_blob_store",
    path = "/service/rest/v1/blobstores/s3/{name}",
    tag = "Blob store",
    params(("name" = String, Path, description = "The blob store's name")),
    request_body = S3BlobStoreApiModel,
    responses(
        (status = 204, description = "S3 blob store updated"),
        (status = 400, description = "Invalid settings, the bucket cannot be used, or no such S3 blob store", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn update_s3(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<BlobstoresUpdate>,
    name: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    // Nexus answers 400 for an unknown S3 store here.
    let (mut row, old) = find_s3(&arca, &name).await.map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::invalid("name", m),
        e => e,
    })?;
    let (_, soft_quota, mut cfg) = parse_s3(&body)?;
    // A left-out secret keeps the stored one (answers never carry it).
    if let (Some(new), Some(old)) = (cfg.bucket_security.as_mut(), old.bucket_security.as_ref())
        && new.secret_access_key.is_empty()
        && new.access_key_id == old.access_key_id
    {
        new.secret_access_key = old.secret_access_key.clone();
        if new.session_token.is_none() {
            new.session_token = old.session_token.clone();
        }
    }
    let endpoint = |c: &S3Config| {
        c.advanced_bucket_connection
            .as_ref()
            .and_then(|a| a.endpoint.clone())
            .unwrap_or_default()
    };
    let moved = cfg.bucket.name != old.bucket.name
        || cfg.bucket.prefix.trim_matches('/') != old.bucket.prefix.trim_matches('/')
        || endpoint(&cfg) != endpoint(&old);
    if moved {
        let (_, blobs) = arca.db.blob_store_usage(&name).await?;
        if blobs > 0 {
            return Err(ApiError::invalid(
                "bucketConfiguration",
                format!(
                    "blob store {name} holds {blobs} blobs: its bucket, prefix and endpoint cannot change"
                ),
            ));
        }
    }
    let store = connect_s3(&name, &cfg).await?;
    row.soft_quota = soft_quota;
    row.attributes = serde_json::to_string(&cfg).map_err(s3_body_error)?;
    arca.db.update_blob_store(&row).await?;
    arca.storage.install(&row, store);
    announce(&arca).await;
    audit(
        &arca,
        &req,
        &g.subject,
        "blobstore",
        "updated",
        &name,
        json!({ "type": "s3", "bucket": cfg.bucket.name, "prefix": cfg.bucket.prefix }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod si_tests {
    #[test]
    fn bytes_as_nexus_writes_them() {
        assert_eq!(super::bytes_si(0), "0.00 B");
        assert_eq!(super::bytes_si(999), "999.00 B");
        assert_eq!(super::bytes_si(1500), "1.50 KB");
        assert_eq!(super::bytes_si(2_000_000_000), "2.00 GB");
    }
}
