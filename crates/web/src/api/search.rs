//! `search`, `search/assets` and `search/assets/download`: components by group, name, version,
//! keyword or checksum (and the `maven.*`/`docker.*` aliases), in the repositories the caller
//! may see, 50 a page with `continuationToken` as Nexus pages them.

use arca_core::visibility::{self, Sight};
use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Caller,
    meta::SearchQuery,
    model::{Asset, Repository},
    security::Subject,
};
use utoipa::IntoParams;

use super::components::{
    AssetXO, ComponentXO, PageAssetXO, PageComponentXO, asset_xo, component_xo,
};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search))
        .route("/search/assets", web::get().to(search_assets))
        .route("/search/assets/download", web::get().to(download));
}

const PAGE: i64 = 50;

/// The generic criteria with their generic parameters; each format adds its own names for
/// them (`Format::search_aliases`: `maven.groupId`, `docker.imageName`, `npm.scope`, …).
const CRITERIA: [(&str, &[&str]); 4] = [
    ("group", &["group"]),
    ("name", &["name"]),
    ("version", &["version"]),
    ("keyword", &["q", "keyword"]),
];

/// The search parameters (read from the query string by [`parse`]). Empty values are ignored.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SearchParams {
    /// Keyword: matches group, name or version.
    q: Option<String>,
    /// Alias of `q`.
    keyword: Option<String>,
    /// Only this repository.
    repository: Option<String>,
    /// Only this format (`maven2` or `maven`, `pypi`, `docker`, `yum`, `raw`).
    format: Option<String>,
    group: Option<String>,
    name: Option<String>,
    version: Option<String>,
    /// Alias of `group`.
    #[param(rename = "maven.groupId")]
    maven_group_id: Option<String>,
    /// Alias of `name`.
    #[param(rename = "maven.artifactId")]
    maven_artifact_id: Option<String>,
    /// Alias of `version`.
    #[param(rename = "maven.baseVersion")]
    maven_base_version: Option<String>,
    /// Alias of `name`.
    #[param(rename = "docker.imageName")]
    docker_image_name: Option<String>,
    /// Alias of `version`.
    #[param(rename = "docker.imageTag")]
    docker_image_tag: Option<String>,
    /// Hexadecimal; only assets with this checksum.
    sha256: Option<String>,
    /// Hexadecimal; only assets with this checksum.
    sha1: Option<String>,
    /// Hexadecimal; only assets with this checksum.
    md5: Option<String>,
    /// Hexadecimal; only assets with this checksum.
    sha512: Option<String>,
    /// The `continuationToken` of the previous page.
    #[param(rename = "continuationToken")]
    continuation_token: Option<String>,
}

struct Parsed {
    query: SearchQuery,
    repos: HashMap<i64, Repository>,
    /// Repositories seen only through content selectors: their assets are filtered by path.
    selected_only: HashMap<String, Repository>,
    subject: Subject,
    after: i64,
}

async fn parse(arca: &Arca, subject: &Subject, req: &HttpRequest) -> Result<Parsed, ApiError> {
    let params: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .map_err(|e| ApiError::invalid("*", e.to_string()))?;
    parse_params(arca, subject, &params).await
}

/// What the web UI's search page shows: one page of matching components and their assets
/// (only what `subject` may see, exactly as the REST search answers), the next page's token,
/// and each shown repository's format.
pub(crate) async fn find(
    arca: &Arca,
    subject: &Subject,
    params: &[(String, String)],
) -> Result<SearchPage, ApiError> {
    let p = parse_params(arca, subject, params).await?;
    let (components, assets, token) = page(arca, &p).await?;
    let formats = p
        .repos
        .values()
        .map(|r| (r.name.to_string(), r.format.clone()))
        .collect();
    Ok(SearchPage {
        components,
        assets,
        token,
        formats,
    })
}

pub(crate) struct SearchPage {
    pub components: Vec<arca_core::model::Component>,
    pub assets: Vec<Asset>,
    pub token: Option<String>,
    /// Repository name → format.
    pub formats: HashMap<String, String>,
}

async fn parse_params(
    arca: &Arca,
    subject: &Subject,
    params: &[(String, String)],
) -> Result<Parsed, ApiError> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let mut q = SearchQuery::default();
    for (field, names) in CRITERIA {
        let v = names.iter().find_map(|n| get(n)).or_else(|| {
            arca.formats
                .all()
                .iter()
                .flat_map(|f| f.search_aliases())
                .filter(|(_, criterion)| *criterion == field)
                .find_map(|(param, _)| get(param))
        });
        match field {
            "group" => q.group = v,
            "name" => q.name = v,
            "version" => q.version = v,
            _ => q.keyword = v,
        }
    }
    // Nexus: a criterion in double quotes is an exact phrase, unquoted it is split into words.
    // Arca matches the keyword as one phrase either way, so the quotes only go.
    q.keyword = q
        .keyword
        .map(|k| {
            let t = k.trim();
            t.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(t)
                .to_owned()
        })
        .filter(|k| !k.is_empty());
    for algo in ["sha256", "sha1", "md5", "sha512"] {
        if let Some(v) = get(algo) {
            if !v.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::invalid(
                    &format!("PARAMETER {algo}"),
                    format!("{algo} must be hexadecimal"),
                ));
            }
            q.checksum = Some((algo, v));
        }
    }
    let format = get("format");
    let repository = get("repository");
    let mut repos = HashMap::new();
    let mut selected_only = HashMap::new();
    for r in arca.db.list_repositories().await? {
        if format.as_deref().is_some_and(|f| {
            let api = arca.formats.get(&r.format).map(|x| x.api_name());
            f != r.format && Some(f) != api
        }) {
            continue;
        }
        if repository.as_deref().is_some_and(|n| n != r.name.as_str()) {
            continue;
        }
        match visibility::sight(subject, &r) {
            Sight::Whole => {}
            Sight::Selected => {
                selected_only.insert(r.name.to_string(), r.clone());
            }
            Sight::Nothing => continue,
        }
        q.repo_ids.push(r.id);
        repos.insert(r.id, r);
    }
    let after = super::paging::decode(get("continuationToken").as_deref())?;
    Ok(Parsed {
        query: q,
        repos,
        selected_only,
        subject: subject.clone(),
        after,
    })
}

/// A page of matching components and their assets (only those matching a checksum filter).
async fn page(
    arca: &Arca,
    p: &Parsed,
) -> Result<(Vec<arca_core::model::Component>, Vec<Asset>, Option<String>), ApiError> {
    if p.query.repo_ids.is_empty() {
        return Ok((vec![], vec![], None));
    }
    let comps = arca.db.search_components(&p.query, p.after, PAGE).await?;
    let ids: Vec<i64> = comps.iter().map(|c| c.id).collect();
    let mut assets = arca.db.assets_of(&ids).await?;
    if let Some((algo, v)) = &p.query.checksum {
        let v = v.to_lowercase();
        assets.retain(|a| match *algo {
            "sha256" => a.checksums.sha256 == v,
            "sha1" => a.checksums.sha1 == v,
            "md5" => a.checksums.md5 == v,
            _ => a.checksums.sha512 == v,
        });
    }
    let last = comps.last().map_or(p.after, |c| c.id);
    let token = super::paging::next(last, comps.len() as i64 == PAGE);
    if p.selected_only.is_empty() {
        return Ok((comps, assets, token));
    }
    // Content selectors: only the selected paths, and components with at least one of them.
    // The page may come out short; the token still moves past everything examined.
    assets.retain(|a| match p.selected_only.get(&a.repository) {
        None => true,
        Some(repo) => visibility::sees(&p.subject, repo, &a.path),
    });
    let comps = comps
        .into_iter()
        .filter(|c| {
            !p.selected_only.contains_key(&c.repository)
                || assets.iter().any(|a| a.component_id == Some(c.id))
        })
        .collect();
    Ok((comps, assets, token))
}

fn format_of(p: &Parsed, repo: &str) -> String {
    p.repos
        .values()
        .find(|r| r.name.as_str() == repo)
        .map(|r| r.format.clone())
        .unwrap_or_default()
}

/// Search components, 50 a page.
#[utoipa::path(
    get,
    operation_id = "search_components",
    path = "/service/rest/v1/search",
    tag = "Search",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of matching components", body = PageComponentXO),
        (status = 400, description = "An invalid parameter", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn search(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (comps, assets, token) = page(&arca, &p).await?;
    let base = arca.settings.public.for_request(&req);
    let items: Vec<ComponentXO> = comps
        .iter()
        .map(|c| {
            let mine: Vec<&Asset> = assets
                .iter()
                .filter(|a| a.component_id == Some(c.id))
                .collect();
            component_xo(&base, &format_of(&p, &c.repository), c, &mine)
        })
        .collect();
    Ok(HttpResponse::Ok().json(PageComponentXO {
        items,
        continuation_token: token,
    }))
}

/// Search assets: the assets of a page of 50 matching components.
#[utoipa::path(
    get,
    path = "/service/rest/v1/search/assets",
    tag = "Search",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of matching assets", body = PageAssetXO),
        (status = 400, description = "An invalid parameter", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
    ),
)]
pub(crate) async fn search_assets(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (_, assets, token) = page(&arca, &p).await?;
    let base = arca.settings.public.for_request(&req);
    let items: Vec<AssetXO> = assets
        .iter()
        .map(|a| asset_xo(&base, &format_of(&p, &a.repository), a))
        .collect();
    Ok(HttpResponse::Ok().json(PageAssetXO {
        items,
        continuation_token: token,
    }))
}

/// Search and download the one matching asset.
#[utoipa::path(
    get,
    operation_id = "search_and_download_asset",
    path = "/service/rest/v1/search/assets/download",
    tag = "Search",
    params(SearchParams),
    responses(
        (status = 302, description = "Redirect to the asset", headers(("Location" = String, description = "The asset's download URL"))),
        (status = 400, description = "An invalid parameter, or more than one asset matches", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 404, description = "No asset matches"),
    ),
)]
pub(crate) async fn download(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (_, assets, token) = page(&arca, &p).await?;
    match assets.as_slice() {
        [a] if token.is_none() => {
            let base = arca.settings.public.for_request(&req);
            Ok(HttpResponse::Found()
                .insert_header((
                    "Location",
                    format!("{base}/repository/{}/{}", a.repository, a.path),
                ))
                .finish())
        }
        [] => Err(ApiError::NotFound("no asset matches the search".into())),
        _ => Err(ApiError::invalid(
            "*",
            "the search matches more than one asset; narrow it",
        )),
    }
}
