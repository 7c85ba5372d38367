//! PyPI repositories (Nexus format `pypi`): hosted (twine's upload API, PEP 503/691 simple
//! index, PEP 658 metadata, PEP 592 yanking), proxy (a remote simple index rewritten so files
//! come through Arca) and group (project pages merged, first member wins per file).

#[cfg(test)]
mod fuzz;
mod names;
mod simple;
mod upload;
mod usage;

use std::collections::{BTreeSet, HashMap};

use actix_web::{HttpRequest, HttpResponse, http::Method, http::StatusCode, web};
use arca_core::{
    Format, RepoContext,
    format::{RebuildError, RepoRoute},
    http::{
        blob_response, error_text as fail, not_modified, remote_response, requested_range,
        storage_error as storage_fail, text,
    },
    model::{Asset, AssetPath, Digest, RepoKind, Repository, RepositorySpec},
    proxy::{FetchSpec, Fetched, Freshness, Proxy, ProxyError, ProxySettings},
    security::Action,
    storage::{AssetMeta, StorageError},
};
use async_trait::async_trait;
use serde_json::json;

use names::{normalize, parse_filename};
use simple::{FileEntry, Page};

pub struct PypiFormat;

/// Index pages are read whole; PyPI's biggest are a few MB.
const PAGE_LIMIT: u64 = 64 * 1024 * 1024;

#[async_trait(?Send)]
impl Format for PypiFormat {
    fn usage(
        &self,
        base_url: &str,
        repo: &arca_core::model::Repository,
        asset: &arca_core::model::Asset,
        component: Option<&arca_core::model::Component>,
    ) -> Vec<arca_core::format::Usage> {
        usage::usage(base_url, repo, asset, component)
    }
    fn is_prerelease(&self, version: &str) -> bool {
        usage::is_prerelease(version)
    }
    fn api_defaults(&self, kind: RepoKind) -> serde_json::Value {
        match kind {
            RepoKind::Proxy => serde_json::json!({ "pypi": { "indexPath": "simple" } }),
            _ => serde_json::Value::Null,
        }
    }

    fn id(&self) -> &'static str {
        "pypi"
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }

    fn validate(&self, spec: &RepositorySpec) -> Result<(), String> {
        if spec.kind == RepoKind::Proxy {
            ProxySettings::from_attrs(&spec.attrs)?;
        }
        Ok(())
    }

    fn upload_spec(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "format": "pypi",
            "multipleUpload": false,
            "componentFields": [],
            "assetFields": [],
        }))
    }

    /// Nexus's form: one `pypi.asset` (a wheel or sdist; name and version come from its name),
    /// through the same checks as a twine upload.
    async fn upload_component(
        &self,
        cx: RepoContext,
        req: HttpRequest,
        body: web::Payload,
    ) -> HttpResponse {
        let resp = upload::upload(&cx, &req, body).await;
        if resp.status().is_success() {
            HttpResponse::NoContent().finish()
        } else {
            resp
        }
    }

    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse {
        let path = cx.path.clone();
        let method = req.method().clone();
        if method == Method::POST && (path.is_empty() || path == "legacy/" || path == "legacy") {
            return match cx.repo.kind {
                RepoKind::Hosted => upload::upload(&cx, &req, body).await,
                _ => text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("repository {} is not a hosted repository", cx.repo.name),
                ),
            };
        }
        if !matches!(method, Method::GET | Method::HEAD | Method::DELETE) {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        if method == Method::DELETE {
            return delete(&cx, &path).await;
        }
        if path == "simple" || path == "simple/" {
            return index(&cx, &req).await;
        }
        if let Some(rest) = path.strip_prefix("simple/") {
            let project = rest.trim_end_matches('/');
            if project.contains('/') || project.is_empty() {
                return text(StatusCode::NOT_FOUND, "not found");
            }
            let norm = normalize(project);
            // PEP 503: non-normalised names redirect to the normalised URL.
            if norm != project || !rest.ends_with('/') {
                return HttpResponse::MovedPermanently()
                    .insert_header((
                        "Location",
                        format!("{}/repository/{}/simple/{norm}/", cx.base_url, cx.repo.name),
                    ))
                    .finish();
            }
            return project_page(&cx, &req, &norm).await;
        }
        if path.is_empty() || path.ends_with('/') {
            return match cx.sources().await {
                Ok(repos) => arca_core::browse::listing(&cx, &repos).await,
                Err(e) => storage_fail(e),
            };
        }
        match AssetPath::parse(&path) {
            Ok(p) => download(&cx, &req, &p).await,
            Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    /// The simple index is built from the database on each request; what a hosted repository
    /// derives and keeps is each wheel's PEP 658 `.metadata`, extracted anew where missing.
    /// Proxy and group pages come from the remote or the members: nothing to rebuild.
    async fn rebuild_index(&self, cx: &RepoContext) -> Result<String, RebuildError> {
        if cx.repo.kind != RepoKind::Hosted {
            return Ok("nothing to rebuild: index pages come from the remote".into());
        }
        let n = upload::restore_metadata(cx).await?;
        Ok(format!("{n} missing wheel METADATA files extracted"))
    }

    fn repo_routes(&self) -> Vec<RepoRoute> {
        const YANK: &str = "/service/rest/v1/pypi/{repository}/{project}/{version}/yank";
        [Method::POST, Method::DELETE]
            .into_iter()
            .map(|m| RepoRoute::new(m, YANK, Action::Edit, &[RepoKind::Hosted], yank))
            .collect()
    }
}

/// `packages/{project}/{version}/{filename}`: the same layout in hosted and proxy repositories,
/// so a group finds a file by one path in any member.
fn package_path(norm: &str, version: &str, filename: &str) -> String {
    format!("packages/{norm}/{version}/{filename}")
}

fn iso8601(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// A file as listed by one repository: `entry.url` is the repository-relative path, and
/// `upstream` the remote URL for proxied files.
#[derive(Clone, Debug)]
struct Listed {
    entry: FileEntry,
    upstream: Option<String>,
}

async fn hosted_page(
    cx: &RepoContext,
    repo: &Repository,
    norm: &str,
) -> Result<Vec<Listed>, StorageError> {
    let assets = cx
        .arca
        .db
        .list_assets(repo.id, &format!("packages/{norm}/"), "", 100_000)
        .await?;
    let metadata: HashMap<&str, &str> = assets
        .iter()
        .filter_map(|a| {
            Some((
                a.path.strip_suffix(".metadata")?,
                a.checksums.sha256.as_str(),
            ))
        })
        .collect();
    Ok(assets
        .iter()
        .filter(|a| !a.path.ends_with(".metadata"))
        .map(|a| Listed {
            entry: FileEntry {
                filename: a.path.rsplit('/').next().unwrap_or(&a.path).to_owned(),
                url: a.path.clone(),
                sha256: Some(a.checksums.sha256.clone()),
                requires_python: a
                    .attrs
                    .pointer("/pypi/requires_python")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                core_metadata: metadata.get(a.path.as_str()).map(|s| s.to_string()),
                yanked: a
                    .attrs
                    .pointer("/pypi/yanked")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                size: Some(a.size as u64),
                upload_time: Some(iso8601(a.created_ms)),
            },
            upstream: None,
        })
        .collect())
}

/// The remote's project page, cached as metadata and rewritten to local paths.
async fn proxy_page(
    cx: &RepoContext,
    repo: &Repository,
    norm: &str,
) -> Result<Vec<Listed>, ProxyError> {
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(ProxyError::Config)?;
    let index = repo
        .attrs
        .pointer("/pypi/indexPath")
        .and_then(|v| v.as_str())
        .unwrap_or("simple");
    let page_url = format!("{}{}/{norm}/", settings.remote, index.trim_matches('/'));
    let path = AssetPath::parse(&format!("simple/{norm}/"))
        .map_err(|e| ProxyError::Config(e.to_string()))?;
    let spec = FetchSpec {
        freshness: Freshness::Metadata,
        url: Some(page_url.clone()),
        accept: Some(
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1",
        ),
        expect: None,
        authorization: None,
        check: None,
    };
    let arca = &cx.arca;
    let Some(asset) = arca
        .proxy
        .fetch(
            &arca.storage,
            &arca.db,
            repo,
            &path,
            spec,
            AssetMeta::default(),
        )
        .await?
    else {
        return Ok(vec![]);
    };
    let Some(bytes) = arca.storage.read_small(&asset, PAGE_LIMIT).await? else {
        return Ok(vec![]);
    };
    let body = String::from_utf8_lossy(&bytes);
    let page = if asset.content_type.contains("json") {
        simple::parse_json(&body, &page_url).unwrap_or_default()
    } else {
        simple::parse_html(&body, &page_url)
    };
    Ok(page
        .files
        .into_iter()
        .filter_map(|mut e| {
            let d = parse_filename(&e.filename)?;
            let upstream =
                std::mem::replace(&mut e.url, package_path(norm, &d.version, &e.filename));
            Some(Listed {
                entry: e,
                upstream: Some(upstream),
            })
        })
        .collect())
}

async fn member_page(
    cx: &RepoContext,
    repo: &Repository,
    norm: &str,
) -> Result<Vec<Listed>, ProxyError> {
    match repo.kind {
        RepoKind::Proxy => proxy_page(cx, repo, norm).await,
        _ => Ok(hosted_page(cx, repo, norm).await?),
    }
}

fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-', '+'])
        .map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            (digits.parse().unwrap_or(0), p[digits.len()..].to_owned())
        })
        .collect()
}

async fn project_page(cx: &RepoContext, req: &HttpRequest, norm: &str) -> HttpResponse {
    let repos = match cx.sources().await {
        Ok(r) => r,
        Err(e) => return storage_fail(e),
    };
    let mut files: Vec<FileEntry> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut failure = None;
    for repo in &repos {
        match member_page(cx, repo, norm).await {
            Ok(listed) => {
                for l in listed {
                    if seen.insert(l.entry.filename.clone()) {
                        files.push(l.entry);
                    }
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    if files.is_empty() {
        return match failure {
            Some(e) => fail(&e),
            None => text(
                StatusCode::NOT_FOUND,
                format!("project {norm} not found in {}", cx.repo.name),
            ),
        };
    }
    let prefix = format!("{}/repository/{}/", cx.base_url, cx.repo.name);
    for f in &mut files {
        f.url = format!("{prefix}{}", f.url);
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    let page = Page {
        name: norm.to_owned(),
        files,
    };
    respond_page(req, &page)
}

fn respond_page(req: &HttpRequest, page: &Page) -> HttpResponse {
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
    let format = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("format").cloned());
    let resp = |ct: &str, body: String| {
        HttpResponse::Ok()
            .content_type(ct)
            .insert_header(("Vary", "Accept"))
            .body(body)
    };
    if simple::wants_json(accept, format.as_deref()) {
        let mut versions: Vec<String> = page
            .files
            .iter()
            .filter_map(|f| parse_filename(&f.filename).map(|d| d.version))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        versions.sort_by_key(|v| version_key(v));
        resp(simple::JSON_TYPE, simple::render_json(page, &versions))
    } else {
        resp("text/html; charset=utf-8", simple::render_html(page))
    }
}

async fn index(cx: &RepoContext, req: &HttpRequest) -> HttpResponse {
    let repos = match cx.sources().await {
        Ok(r) => r,
        Err(e) => return storage_fail(e),
    };
    let mut names = BTreeSet::new();
    for repo in &repos {
        let found = match repo.kind {
            // A proxy lists the projects it has cached (the remote's full list is not copied).
            RepoKind::Proxy => cx
                .arca
                .db
                .list_assets(repo.id, "simple/", "", 1_000_000)
                .await
                .map(|a| {
                    a.iter()
                        .filter_map(|a| {
                            a.path
                                .strip_prefix("simple/")?
                                .strip_suffix('/')
                                .map(str::to_owned)
                        })
                        .collect()
                }),
            _ => cx.arca.db.component_names(repo.id).await,
        };
        match found {
            Ok(n) => names.extend(n),
            Err(e) => return fail(&e),
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
    if simple::wants_json(accept, None) {
        HttpResponse::Ok()
            .content_type(simple::JSON_TYPE)
            .body(simple::render_index_json(&names))
    } else {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(simple::render_index_html(&names))
    }
}

/// A file from one repository: stored, or fetched through a proxy by the URL its index gives.
async fn locate(
    cx: &RepoContext,
    repo: &Repository,
    path: &AssetPath,
) -> Result<Option<Fetched>, ProxyError> {
    if let Some(a) = cx
        .arca
        .db
        .find_asset(repo.id, path.as_str())
        .await
        .map_err(StorageError::from)?
    {
        return Ok(Some(Fetched::Cached(a)));
    }
    if repo.kind != RepoKind::Proxy {
        return Ok(None);
    }
    // packages/{project}/{version}/{filename}[.metadata]
    let mut segs = path.as_str().splitn(4, '/');
    let (Some("packages"), Some(norm), Some(_), Some(file)) =
        (segs.next(), segs.next(), segs.next(), segs.next())
    else {
        return Ok(None);
    };
    let (file, metadata) = match file.strip_suffix(".metadata") {
        Some(f) => (f, true),
        None => (file, false),
    };
    let listed = proxy_page(cx, repo, norm).await?;
    let Some(l) = listed.into_iter().find(|l| {
        l.entry.filename == file && l.entry.url == path.as_str().trim_end_matches(".metadata")
    }) else {
        return Ok(None);
    };
    let Some(upstream) = l.upstream else {
        return Ok(None);
    };
    let (url, expect) = if metadata {
        match &l.entry.core_metadata {
            Some(h) => (format!("{upstream}.metadata"), Digest::parse(h).ok()),
            None => return Ok(None),
        }
    } else {
        (
            upstream,
            l.entry
                .sha256
                .as_deref()
                .and_then(|h| Digest::parse(h).ok()),
        )
    };
    let spec = FetchSpec {
        freshness: Freshness::Content,
        url: Some(url),
        accept: None,
        expect,
        authorization: None,
        check: None,
    };
    let meta = AssetMeta {
        content_type: if metadata {
            "text/plain; charset=utf-8".into()
        } else {
            String::new()
        },
        component: (!metadata)
            .then(|| parse_filename(file))
            .flatten()
            .map(|d| upload::component(norm, &d.version)),
        attrs: json!({ "pypi": { "requires_python": l.entry.requires_python } }),
        ..Default::default()
    };
    // Sent on as it arrives; checked against the index's SHA-256 before the last byte goes.
    Proxy::fetch_stream(&cx.arca, repo, path, spec, meta).await
}

async fn download(cx: &RepoContext, req: &HttpRequest, path: &AssetPath) -> HttpResponse {
    let repos = match cx.sources().await {
        Ok(r) => r,
        Err(e) => return storage_fail(e),
    };
    let mut failure = None;
    for repo in &repos {
        match locate(cx, repo, path).await {
            Ok(Some(Fetched::Remote(remote))) => return remote_response(req, remote),
            Ok(Some(Fetched::Cached(asset))) => {
                if let Some(r) = not_modified(req, &asset) {
                    return r;
                }
                return match cx.arca.storage.open(&asset, requested_range(req)).await {
                    Ok(body) => blob_response(req, &asset, body),
                    Err(e) => storage_fail(e),
                };
            }
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => fail(&e),
        None => text(
            StatusCode::NOT_FOUND,
            format!("{path} not found in {}", cx.repo.name),
        ),
    }
}

async fn delete(cx: &RepoContext, path: &str) -> HttpResponse {
    if cx.repo.kind != RepoKind::Hosted {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "delete from the hosted repository",
        );
    }
    match cx.arca.db.find_asset(cx.repo.id, path).await {
        Ok(Some(_)) => {}
        Ok(None) => return text(StatusCode::NOT_FOUND, format!("{path} not found")),
        Err(e) => return fail(&e),
    }
    let with_metadata = [path.to_owned(), format!("{path}.metadata")];
    for p in &with_metadata {
        if let Ok(Some(_)) = cx.arca.db.find_asset(cx.repo.id, p).await
            && let Err(e) = cx.arca.storage.delete_asset(&cx.repo, p).await
        {
            return storage_fail(e);
        }
    }
    HttpResponse::NoContent().finish()
}

#[derive(serde::Deserialize, Default)]
struct YankBody {
    reason: Option<String>,
}

/// The most a yank's JSON body (`{"reason": …}`) may hold.
const YANK_BODY_LIMIT: usize = 16 * 1024;

/// `POST|DELETE /service/rest/v1/pypi/{repository}/{project}/{version}/yank`: PEP 592. Core
/// has looked the repository up, authorised `edit` and checked it online and writable.
async fn yank(cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let project = req
        .match_info()
        .get("project")
        .unwrap_or_default()
        .to_owned();
    let version = req
        .match_info()
        .get("version")
        .unwrap_or_default()
        .to_owned();
    let body = match body.to_bytes_limited(YANK_BODY_LIMIT).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return text(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a yank's body holds at most {YANK_BODY_LIMIT} bytes"),
            );
        }
    };
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<YankBody>(&body) {
            Ok(b) => b.reason,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not {{\"reason\": \"…\"}}: {e}"),
                );
            }
        }
    };
    match yank_files(
        &cx,
        req.method() == Method::POST,
        reason,
        &project,
        &version,
    )
    .await
    {
        Ok(r) | Err(r) => r,
    }
}

async fn yank_files(
    cx: &RepoContext,
    yank: bool,
    reason: Option<String>,
    project: &str,
    version: &str,
) -> Result<HttpResponse, HttpResponse> {
    let (arca, repo, subject) = (&cx.arca, &cx.repo, &cx.subject);
    let repo_name = repo.name.as_str();
    let norm = normalize(project);
    let assets = match arca
        .db
        .list_assets(repo.id, &format!("packages/{norm}/{version}/"), "", 10_000)
        .await
    {
        Ok(a) => a,
        Err(e) => return Err(fail(&e)),
    };
    let files: Vec<&Asset> = assets
        .iter()
        .filter(|a| !a.path.ends_with(".metadata"))
        .collect();
    if files.is_empty() {
        return Err(text(
            StatusCode::NOT_FOUND,
            format!("{norm} {version} not found in {repo_name}"),
        ));
    }
    let yanked = yank.then(|| reason.unwrap_or_default());
    for a in &files {
        let mut attrs = a.attrs.clone();
        if !attrs.is_object() {
            attrs = json!({});
        }
        if attrs.get("pypi").is_none_or(|p| !p.is_object()) {
            attrs["pypi"] = json!({});
        }
        attrs["pypi"]["yanked"] = json!(yanked);
        if let Err(e) = arca.db.set_asset_attrs(a.id, &attrs).await {
            return Err(fail(&e));
        }
    }
    let _ = arca
        .db
        .audit(
            &subject.user_id,
            None,
            "pypi",
            if yanked.is_some() {
                "yanked"
            } else {
                "unyanked"
            },
            &format!("{repo_name}/{norm}/{version}"),
            &json!({}),
        )
        .await;
    Ok(HttpResponse::Ok().json(json!({ "project": norm, "version": version, "yanked": yanked.is_some(), "files": files.len() })))
}
