use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Guard};
use serde_json::json;

use super::BlobstoresRead;
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/blobstores", web::get().to(list))
        .route("/blobstores/{name}/quota-status", web::get().to(quota));
}

/// Nexus's `GenericBlobStoreApiResponse` list.
async fn list(arca: web::Data<Arca>, _g: Guard<BlobstoresRead>) -> Result<HttpResponse, ApiError> {
    let mut out = vec![];
    for s in arca.db.list_blob_stores().await? {
        let (bytes, count) = arca.db.blob_store_usage(&s.name).await?;
        let store = arca.storage.store(&s.name).ok();
        let available = match &store {
            Some(st) => st.available_space().await,
            None => None,
        };
        out.push(json!({
            "name": s.name,
            "type": if s.kind == "file" { "File" } else { "S3" },
            "unavailable": store.is_none(),
            "blobCount": count,
            "totalSizeInBytes": bytes,
            "availableSpaceInBytes": available.unwrap_or(0),
            "softQuota": null,
        }));
    }
    Ok(HttpResponse::Ok().json(out))
}

async fn quota(
    arca: web::Data<Arca>,
    _g: Guard<BlobstoresRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stores = arca.db.list_blob_stores().await?;
    if !stores.iter().any(|s| s.name == *name) {
        return Err(ApiError::NotFound(format!("blob store {name} not found")));
    }
    Ok(HttpResponse::Ok().json(json!({
        "isViolation": false,
        "message": "no quota configured",
        "blobStoreName": name.into_inner(),
    })))
}
