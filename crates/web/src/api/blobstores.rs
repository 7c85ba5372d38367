use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Guard};
use serde::Serialize;
use utoipa::ToSchema;

use super::BlobstoresRead;
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/blobstores", web::get().to(list))
        .route("/blobstores/{name}/quota-status", web::get().to(quota));
}

#[derive(Serialize, ToSchema)]
pub(crate) enum BlobStoreType {
    File,
    S3,
}

/// Nexus's soft quota; Arca has none, so it is always null.
#[derive(Serialize, ToSchema)]
pub(crate) struct BlobStoreApiSoftQuota {
    #[serde(rename = "type")]
    kind: String,
    limit: i64,
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
        let (bytes, count) = arca.db.blob_store_usage(&s.name).await?;
        let store = arca.storage.store(&s.name).ok();
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
            name: s.name,
            unavailable: store.is_none(),
            blob_count: count,
            total_size_in_bytes: bytes,
            available_space_in_bytes: available.unwrap_or(0),
            soft_quota: None,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Get the quota status of a blob store (Arca has no quotas: never a violation).
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
    let stores = arca.db.list_blob_stores().await?;
    if !stores.iter().any(|s| s.name == *name) {
        return Err(ApiError::NotFound(format!("blob store {name} not found")));
    }
    Ok(HttpResponse::Ok().json(BlobStoreQuotaResultXO {
        is_violation: false,
        message: "no quota configured".into(),
        blob_store_name: name.into_inner(),
    }))
}
