//! Nexus's repository browse API: `GET /v1/repositories/{name}/browse?path=` lists a folder's
//! entries (`BrowseNodeXO`), `DELETE …?path=` deletes a folder and everything under it.

use actix_web::{HttpRequest, HttpResponse, guard, web};
use arca_core::visibility::{self, Sight};
use arca_core::{
    Arca,
    auth::Caller,
    group::leaf_members,
    meta::MetaError,
    model::{Asset, RepoKind, Repository},
    security::{Action, AuthError, Permission, Subject},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{audit, components::encode_id};
use crate::{ApiError, error::ValidationErrorXO};

/// Entries listed at most, as Nexus's browse node limit.
const MAX_NODES: usize = 10_000;
const PAGE: usize = 1_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let path = "/service/rest/v1/repositories/{repositoryName}/browse";
    cfg.service(web::resource(path).guard(guard::Get()).to(browse))
        .service(web::resource(path).guard(guard::Delete()).to(delete_folder));
}

/// Nexus's `BrowseNodeXO`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BrowseNodeXO {
    /// The entry's path in the repository (`org/example/app`).
    id: String,
    /// Its name.
    text: String,
    /// `folder` or `asset`.
    r#type: String,
    leaf: bool,
    /// The asset's id (`/v1/assets/{id}`), for an asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_id: Option<String>,
    /// Its component's id (`/v1/components/{id}`), when it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    component_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct BrowseQuery {
    /// The folder, `/` separated (`/` or absent for the root).
    path: Option<String>,
}

/// `a/b/` for `/a/b`, `a/b/` or `a/b`; `""` for the root.
fn folder(path: Option<&str>) -> String {
    let p = path.unwrap_or_default().trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

fn view(r: &Repository, action: Action) -> Permission<'_> {
    Permission::RepoView {
        format: &r.format,
        repo: r.name.as_str(),
        action,
    }
}

/// The repository, once the caller may see it (browse, read, or a content selector of it):
/// otherwise 404 as for one that does not exist, or 401 for an anonymous caller.
async fn visible(arca: &Arca, subject: &Subject, name: &str) -> Result<Repository, ApiError> {
    let not_found = || ApiError::NotFound(format!("Repository '{name}' not found"));
    let repo = match arca.db.get_repository(name).await {
        Ok(r) => r,
        Err(MetaError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if visibility::sight(subject, &repo) != Sight::Nothing {
        Ok(repo)
    } else if subject.anonymous {
        Err(AuthError::Unauthenticated.into())
    } else {
        Err(not_found())
    }
}

/// Whether the caller may see this asset (its repository, or its path by a content selector).
fn sees(subject: &Subject, repo: &Repository, a: &Asset) -> bool {
    visibility::sees(subject, repo, &a.path)
}

/// The assets under `prefix` (`""`: all) of one repository, a page at a time: what a request
/// holds stays one page however large the folder.
async fn each_page_under(
    arca: &Arca,
    repo: &Repository,
    prefix: &str,
    mut visit: impl FnMut(Vec<Asset>),
) -> Result<(), ApiError> {
    let mut after = String::new();
    loop {
        let page = arca
            .db
            .list_assets(repo.id, prefix, &after, PAGE as i64)
            .await?;
        let n = page.len();
        if let Some(last) = page.last() {
            after.clone_from(&last.path);
        }
        visit(page);
        if n < PAGE {
            return Ok(());
        }
    }
}

/// List the entries of a folder of a repository.
///
/// A group lists its members' entries merged, the first member's winning. Callers limited by
/// content selectors see only the assets (and the folders holding them) they select.
#[utoipa::path(
    get,
    path = "/service/rest/v1/repositories/{repositoryName}/browse",
    tag = "Repository Browse",
    params(
        ("repositoryName" = String, Path, description = "Repository name"),
        BrowseQuery,
    ),
    responses(
        (status = 200, description = "The folder's entries, folders and assets in name order", body = Vec<BrowseNodeXO>),
        (status = 401, description = "Authentication required"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn browse(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    q: web::Query<BrowseQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = req.match_info().get("repositoryName").unwrap_or_default();
    let subject = &caller.0;
    let repo = visible(&arca, subject, name).await?;
    let prefix = folder(q.path.as_deref());
    let sources = match repo.kind {
        RepoKind::Group => leaf_members(&arca, &repo).await?,
        _ => vec![repo.clone()],
    };
    let whole =
        subject.can(&view(&repo, Action::Browse)) || subject.can(&view(&repo, Action::Read));
    let mut merged: std::collections::BTreeMap<String, Option<Asset>> = Default::default();
    for src in &sources {
        let mut after = String::new();
        loop {
            let page = arca.db.list_children(src.id, &prefix, &after, PAGE).await?;
            let n = page.len();
            for (entry, a) in page {
                after.clone_from(&entry);
                merged.entry(entry).or_insert(a);
            }
            if n < PAGE || merged.len() >= MAX_NODES {
                break;
            }
        }
    }
    // Selected paths only: the entries (assets, and folders above them) holding an asset the
    // selectors allow, found a page at a time and kept only for the entries listed.
    let selected: Option<std::collections::HashSet<String>> = if whole {
        None
    } else {
        let listed: std::collections::HashSet<&str> =
            merged.keys().take(MAX_NODES).map(String::as_str).collect();
        let mut shown = std::collections::HashSet::new();
        for src in &sources {
            each_page_under(&arca, src, &prefix, |page| {
                for a in page {
                    let rest = &a.path[prefix.len().min(a.path.len())..];
                    // The folder entry (`dir/`) or the file entry this asset is under.
                    let entry = match rest.split_once('/') {
                        Some((dir, _)) => format!("{dir}/"),
                        None => rest.to_owned(),
                    };
                    if listed.contains(entry.as_str()) && sees(subject, &repo, &a) {
                        shown.insert(entry);
                    }
                }
            })
            .await?;
        }
        Some(shown)
    };
    let mut out = Vec::new();
    for (entry, a) in merged.into_iter().take(MAX_NODES) {
        match a {
            None => {
                let dir = entry.trim_end_matches('/');
                let id = format!("{prefix}{dir}");
                if selected.as_ref().is_some_and(|s| !s.contains(&entry)) {
                    continue;
                }
                out.push(BrowseNodeXO {
                    text: dir.to_owned(),
                    id,
                    r#type: "folder".into(),
                    leaf: false,
                    asset_id: None,
                    component_id: None,
                });
            }
            Some(a) => {
                if selected.as_ref().is_some_and(|s| !s.contains(&entry)) {
                    continue;
                }
                out.push(BrowseNodeXO {
                    id: a.path.clone(),
                    text: entry,
                    r#type: "asset".into(),
                    leaf: true,
                    asset_id: Some(encode_id(&a.repository, "asset", a.id)),
                    component_id: a
                        .component_id
                        .map(|c| encode_id(&a.repository, "component", c)),
                });
            }
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct DeleteQuery {
    /// The folder to delete, `/` separated.
    path: Option<String>,
}

/// Delete a folder and every asset under it.
///
/// The assets go as `DELETE /v1/assets/{id}` deletes them (blobs released, Maven metadata and
/// yum repodata kept in step). Needs delete on the repository, or on each asset's path by a
/// content selector (then only those go; 403 when that leaves none). A folder with nothing in it
/// is 204 too.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/repositories/{repositoryName}/browse",
    tag = "Repository Browse",
    params(
        ("repositoryName" = String, Path, description = "Repository name"),
        ("path" = String, Query, description = "The folder to delete, `/` separated"),
    ),
    responses(
        (status = 204, description = "Folder deleted"),
        (status = 400, description = "No folder given, or a group repository", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository not found"),
    ),
)]
pub(crate) async fn delete_folder(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
    q: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = req.match_info().get("repositoryName").unwrap_or_default();
    let subject = &caller.0;
    let repo = visible(&arca, subject, name).await?;
    let prefix = folder(q.path.as_deref());
    if prefix.is_empty() {
        return Err(ApiError::invalid(
            "path",
            "Path parameter is required: the folder to delete",
        ));
    }
    if repo.kind == RepoKind::Group {
        return Err(ApiError::invalid(
            "repositoryName",
            "A group's folders are its members': delete in a member",
        ));
    }
    let perm = view(&repo, Action::Delete);
    let all = subject.can(&perm);
    let base = arca.settings.public.for_request(&req);
    // A page at a time: the request holds one page of paths however large the folder. Each
    // page's paths are checked before any of them goes; the deleted ones leave the listing, so
    // the cursor moves past only what stays.
    let (mut deleted, mut after) = (0usize, String::new());
    loop {
        let page = arca
            .db
            .list_assets(repo.id, &prefix, &after, PAGE as i64)
            .await?;
        let n = page.len();
        if let Some(last) = page.last() {
            after.clone_from(&last.path);
        }
        let paths: Vec<String> = page
            .into_iter()
            .filter(|a| all || subject.can_at(&perm, &a.path))
            .map(|a| a.path)
            .collect();
        if !paths.is_empty() {
            arca_core::cleanup::delete_paths(&arca, &repo, subject, base.clone(), &paths).await?;
            deleted += paths.len();
        }
        if n < PAGE {
            break;
        }
    }
    if deleted == 0 {
        // Nothing there (204), or nothing this caller may delete (403).
        if !all {
            arca.security.authorize(subject, &perm)?;
        }
        return Ok(HttpResponse::NoContent().finish());
    }
    audit(
        &arca,
        &req,
        subject,
        "repository.asset",
        "deleted",
        repo.name.as_str(),
        json!({ "folder": prefix, "assets": deleted }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
