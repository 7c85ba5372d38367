//! `search`, `search/assets` and `search/assets/download`: components by group, name, version,
//! keyword or checksum (and the `maven.*`/`docker.*` aliases), in the repositories the caller
//! may see, 50 a page with `continuationToken` as Nexus pages them.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Caller,
    meta::SearchQuery,
    model::{Asset, Repository},
    security::{Action, Permission, Subject},
};
use serde_json::{Value, json};

use super::components::{asset_json, component_json};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search))
        .route("/search/assets", web::get().to(search_assets))
        .route("/search/assets/download", web::get().to(download));
}

const PAGE: i64 = 50;

/// Parameters with their aliases: the first name is Nexus's generic one.
const ALIASES: [(&str, &[&str]); 4] = [
    ("group", &["group", "maven.groupId"]),
    ("name", &["name", "maven.artifactId", "docker.imageName"]),
    (
        "version",
        &["version", "maven.baseVersion", "docker.imageTag"],
    ),
    ("keyword", &["q", "keyword"]),
];

struct Parsed {
    query: SearchQuery,
    repos: HashMap<i64, Repository>,
    after: i64,
}

async fn parse(arca: &Arca, subject: &Subject, req: &HttpRequest) -> Result<Parsed, ApiError> {
    let params: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .map_err(|e| ApiError::invalid("*", e.to_string()))?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let mut q = SearchQuery::default();
    for (field, names) in ALIASES {
        let v = names.iter().find_map(|n| get(n));
        match field {
            "group" => q.group = v,
            "name" => q.name = v,
            "version" => q.version = v,
            _ => q.keyword = v,
        }
    }
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
        let visible = [Action::Browse, Action::Read].into_iter().any(|action| {
            subject.can(&Permission::RepoView {
                format: &r.format,
                repo: r.name.as_str(),
                action,
            })
        });
        if visible {
            q.repo_ids.push(r.id);
            repos.insert(r.id, r);
        }
    }
    let after = super::paging::decode(get("continuationToken").as_deref())?;
    Ok(Parsed {
        query: q,
        repos,
        after,
    })
}

/// A page of matching components and their assets (only those matching a checksum filter).
async fn page(
    arca: &Arca,
    p: &Parsed,
) -> Result<(Vec<arca_core::model::Component>, Vec<Asset>, Value), ApiError> {
    if p.query.repo_ids.is_empty() {
        return Ok((vec![], vec![], Value::Null));
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
    Ok((comps, assets, token))
}

fn format_of(p: &Parsed, repo: &str) -> String {
    p.repos
        .values()
        .find(|r| r.name.as_str() == repo)
        .map(|r| r.format.clone())
        .unwrap_or_default()
}

async fn search(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (comps, assets, token) = page(&arca, &p).await?;
    let base = arca.settings.public.for_request(&req);
    let items: Vec<Value> = comps
        .iter()
        .map(|c| {
            let mine: Vec<&Asset> = assets
                .iter()
                .filter(|a| a.component_id == Some(c.id))
                .collect();
            component_json(&base, &format_of(&p, &c.repository), c, &mine)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "continuationToken": token })))
}

async fn search_assets(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (_, assets, token) = page(&arca, &p).await?;
    let base = arca.settings.public.for_request(&req);
    let items: Vec<Value> = assets
        .iter()
        .map(|a| asset_json(&base, &format_of(&p, &a.repository), a))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "continuationToken": token })))
}

/// Redirects to the one asset the search finds; 404 for none, 400 for several.
async fn download(
    req: HttpRequest,
    arca: web::Data<Arca>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let p = parse(&arca, &caller.0, &req).await?;
    let (_, assets, token) = page(&arca, &p).await?;
    match assets.as_slice() {
        [a] if token.is_null() => {
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
