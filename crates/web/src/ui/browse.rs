//! Browse: the repository list, a repository's tree, and an asset's page.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::visibility::{self, Sight};
use arca_core::{
    Arca,
    group::leaf_members,
    model::{RepoKind, Repository},
    security::{Action, Permission},
};
use askama::Template;

use super::{Chrome, Page, UiError, format::snippets, human_bytes, render, urlencode, when};
use crate::api::components::{asset as find_asset, encode_id};

pub(crate) struct RepoRow {
    pub name: String,
    pub format: String,
    pub kind: String,
    pub url: String,
    pub online: bool,
    pub blob_store: String,
    pub components: i64,
    pub size: String,
    pub members: String,
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct Repositories {
    chrome: Chrome,
    repos: Vec<RepoRow>,
    can_create: bool,
}

pub(crate) type Stats = arca_core::storage::RepoStats;

pub(crate) async fn stats(arca: &Arca) -> Stats {
    arca.storage.repository_stats().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "repository statistics failed");
        Stats::new()
    })
}

pub(crate) fn repo_row(r: &Repository, base: &str, stats: Option<&Stats>) -> RepoRow {
    let (components, _, bytes) = stats
        .and_then(|s| s.get(&r.id).copied())
        .unwrap_or((0, 0, 0));
    RepoRow {
        url: format!("{base}/repository/{}/", r.name),
        format: r.format.clone(),
        kind: r.kind.as_str().to_owned(),
        online: r.online,
        blob_store: r.blob_store.clone(),
        components,
        size: human_bytes(bytes),
        members: r.members.join(", "),
        name: r.name.to_string(),
    }
}

pub(crate) fn can_browse(page: &Page, r: &Repository) -> bool {
    visibility::sight(&page.subject, r) != Sight::Nothing
}

pub(crate) async fn repositories(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "browse").await?;
    let base = arca.settings.public.for_request(&req);
    let stats = stats(&arca).await;
    let repos = arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| can_browse(&page, r))
        .map(|r| repo_row(&r, &base, Some(&stats)))
        .collect();
    let can_create = page.subject.can(&Permission::RepoAdmin {
        format: "*",
        repo: "*",
        action: Action::Add,
    });
    Ok(render(&Repositories {
        chrome: page.chrome,
        repos,
        can_create,
    }))
}

pub(crate) struct Entry {
    pub name: String,
    pub href: String,
    pub dir: bool,
    pub size: String,
    pub modified: String,
}

pub(crate) struct Crumb {
    pub name: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "browse.html")]
struct Tree {
    chrome: Chrome,
    repo: String,
    format: String,
    kind: String,
    hosted: bool,
    crumbs: Vec<Crumb>,
    entries: Vec<Entry>,
    more: Option<String>,
    url: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct TreeQuery {
    after: Option<String>,
}

/// Entries shown per directory page.
const TREE_PAGE: usize = 100;

pub(crate) async fn tree(
    req: HttpRequest,
    arca: web::Data<Arca>,
    q: web::Query<TreeQuery>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "browse").await?;
    let name = req.match_info().get("repo").unwrap_or_default().to_owned();
    let path = req.match_info().get("path").unwrap_or_default().to_owned();
    let prefix = if path.is_empty() || path.ends_with('/') {
        path.clone()
    } else {
        format!("{path}/")
    };
    let repo = match arca.db.get_repository(&name).await {
        Ok(r) if can_browse(&page, &r) => r,
        Ok(_) if page.subject.anonymous => {
            return Err(UiError::SignIn(format!("/ui/browse/{name}/")));
        }
        Ok(_) | Err(arca_core::meta::MetaError::NotFound) => {
            return Err(UiError::NotFound(format!("No repository {name}")));
        }
        Err(e) => return Err(e.into()),
    };
    let sources = match repo.kind {
        RepoKind::Group => leaf_members(&arca, &repo).await?,
        _ => vec![repo.clone()],
    };
    let after = q.after.clone().unwrap_or_default();
    // A group shows its members merged, the first member's entry winning.
    let mut merged: std::collections::BTreeMap<String, Option<arca_core::model::Asset>> =
        std::collections::BTreeMap::new();
    for src in &sources {
        for (n, a) in arca
            .db
            .list_children(src.id, &prefix, &after, TREE_PAGE + 1)
            .await?
        {
            merged.entry(n).or_insert(a);
        }
    }
    let selected_only = !page.subject.can(&Permission::RepoView {
        format: &repo.format,
        repo: repo.name.as_str(),
        action: Action::Browse,
    });
    let mut entries = Vec::new();
    let mut more = None;
    for (n, a) in merged {
        if entries.len() == TREE_PAGE {
            more = entries
                .last()
                .map(|e: &Entry| format!("?after={}", urlencode(&e.name)));
            break;
        }
        match a {
            None => entries.push(Entry {
                href: format!("/ui/browse/{name}/{prefix}{n}"),
                name: n,
                dir: true,
                size: String::new(),
                modified: String::new(),
            }),
            Some(a) => {
                // Content selectors: only the paths the caller may see.
                if selected_only
                    && !page.subject.can_at(
                        &Permission::RepoView {
                            format: &repo.format,
                            repo: repo.name.as_str(),
                            action: Action::Browse,
                        },
                        &a.path,
                    )
                {
                    continue;
                }
                entries.push(Entry {
                    href: format!("/ui/assets/{}", encode_id(&a.repository, "asset", a.id)),
                    name: n,
                    dir: false,
                    size: human_bytes(a.size),
                    modified: when(a.last_modified_ms),
                })
            }
        }
    }
    if entries.is_empty() && !prefix.is_empty() && after.is_empty() {
        return Err(UiError::NotFound(format!(
            "{prefix} is empty or absent in {name}"
        )));
    }
    let mut crumbs = vec![Crumb {
        name: name.clone(),
        href: format!("/ui/browse/{name}/"),
    }];
    let mut acc = String::new();
    for seg in prefix.split('/').filter(|s| !s.is_empty()) {
        acc.push_str(seg);
        acc.push('/');
        crumbs.push(Crumb {
            name: seg.to_owned(),
            href: format!("/ui/browse/{name}/{acc}"),
        });
    }
    let base = arca.settings.public.for_request(&req);
    Ok(render(&Tree {
        chrome: page.chrome,
        url: format!("{base}/repository/{name}/{prefix}"),
        hosted: repo.kind == RepoKind::Hosted,
        format: repo.format.clone(),
        kind: repo.kind.as_str().to_owned(),
        repo: name,
        crumbs,
        entries,
        more,
    }))
}

pub(crate) struct Snippet {
    pub label: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    chrome: Chrome,
    id: String,
    repo: String,
    format: String,
    path: String,
    dir_href: String,
    download: String,
    size: String,
    bytes: i64,
    content_type: String,
    sha256: String,
    sha1: String,
    md5: String,
    created: String,
    modified: String,
    downloaded: String,
    uploader: String,
    component: String,
    snippets: Vec<Snippet>,
    can_delete: bool,
}

pub(crate) async fn asset(
    req: HttpRequest,
    arca: web::Data<Arca>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "browse").await?;
    // Anonymous and not allowed: sign in, then come back to this asset.
    let (repo, a) = find_asset(&arca, &page.subject, &id, Action::Browse)
        .await
        .map_err(|e| match UiError::from(e) {
            UiError::SignIn(_) => UiError::SignIn(super::next_of(&req)),
            other => other,
        })?;
    let base = arca.settings.public.for_request(&req);
    let download = format!("{base}/repository/{}/{}", a.repository, a.path);
    let component = match a.component_id {
        Some(cid) => arca.db.get_component(cid).await.ok(),
        None => None,
    };
    let snippets = snippets(&arca, &base, &repo, &a, component.as_ref());
    let can_delete = page.subject.can_at(
        &Permission::RepoView {
            format: &repo.format,
            repo: repo.name.as_str(),
            action: Action::Delete,
        },
        &a.path,
    );
    let dir = a
        .path
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    Ok(render(&AssetPage {
        chrome: page.chrome,
        id: id.into_inner(),
        dir_href: format!("/ui/browse/{}/{dir}", repo.name),
        repo: repo.name.to_string(),
        format: repo.format.clone(),
        download,
        size: human_bytes(a.size),
        bytes: a.size,
        content_type: a.content_type.clone(),
        sha256: a.checksums.sha256.clone(),
        sha1: a.checksums.sha1.clone(),
        md5: a.checksums.md5.clone(),
        created: when(a.created_ms),
        modified: when(a.last_modified_ms),
        downloaded: a
            .last_downloaded_ms
            .map(when)
            .unwrap_or_else(|| "never".into()),
        uploader: match (&a.uploader, &a.uploader_ip) {
            (Some(u), Some(ip)) => format!("{u} from {ip}"),
            (Some(u), None) => u.clone(),
            (None, _) => "—".into(),
        },
        component: component
            .map(|c| {
                [c.namespace.as_str(), c.name.as_str(), c.version.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" : ")
            })
            .unwrap_or_default(),
        path: a.path.clone(),
        snippets,
        can_delete,
    }))
}
