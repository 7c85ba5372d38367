//! `/service/rest/internal/import-progress`: where `arca import nexus` keeps what it copied
//! (Arca's own extension, not Nexus's API). An administrator's: it names paths of every
//! repository, and a wrong entry could make a later `--prune` run delete what it should not.

use actix_web::{HttpResponse, web};
use arca_core::{Arca, auth::Guard, meta::ImportedAsset};
use serde::{Deserialize, Serialize};

use super::SettingsUpdate;
use crate::ApiError;

/// Entries a page holds, and a batch may set or forget (each).
const PAGE: i64 = 1000;
const BATCH: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/import-progress", web::get().to(list))
        .route("/import-progress", web::post().to(update));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    source: String,
    repository: String,
    /// The last path of the previous page.
    continuation_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<ImportedAsset>,
    continuation_token: Option<String>,
}

async fn list(
    arca: web::Data<Arca>,
    _g: Guard<SettingsUpdate>,
    q: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let after = q.continuation_token.as_deref().unwrap_or("");
    let items = arca
        .db
        .import_progress_page(&q.source, &q.repository, after, PAGE)
        .await?;
    let continuation_token = (items.len() as i64 == PAGE)
        .then(|| items.last().map(|a| a.path.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page {
        items,
        continuation_token,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Update {
    source: String,
    repository: String,
    #[serde(default)]
    set: Vec<ImportedAsset>,
    #[serde(default)]
    forget: Vec<String>,
}

async fn update(
    arca: web::Data<Arca>,
    _g: Guard<SettingsUpdate>,
    body: web::Json<Update>,
) -> Result<HttpResponse, ApiError> {
    let u = body.into_inner();
    if u.set.len() > BATCH || u.forget.len() > BATCH {
        return Err(ApiError::invalid(
            "*",
            format!("at most {BATCH} entries to set and {BATCH} to forget per request"),
        ));
    }
    if u.source.is_empty() || u.repository.is_empty() {
        return Err(ApiError::invalid("*", "source and repository are required"));
    }
    // A path is what the importer read from the source's listing; nothing here resolves it.
    if u.set
        .iter()
        .any(|a| a.path.is_empty() || a.checksum.is_empty())
    {
        return Err(ApiError::invalid(
            "*",
            "every entry needs a path and a checksum",
        ));
    }
    // PostgreSQL's TEXT takes no NUL: refused here as the client's error, not failed as a 500.
    let texts = [&u.source, &u.repository]
        .into_iter()
        .chain(u.set.iter().flat_map(|a| [&a.path, &a.checksum]))
        .chain(u.forget.iter());
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(ApiError::invalid("*", "a text holds a NUL character"));
    }
    arca.db
        .update_import_progress(&u.source, &u.repository, &u.set, &u.forget)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
