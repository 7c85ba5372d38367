//! Search by name or keyword, format, repository, version and checksum: the REST search's own
//! query and visibility rules, one page of components at a time.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::Arca;
use askama::Template;

use super::{Chrome, Page, UiError, browse::can_browse, human_bytes, render, urlencode, when};
use crate::api::{components::encode_id, search::find};

pub(crate) struct Hit {
    pub href: String,
    pub path: String,
    pub repo: String,
    pub format: String,
    pub component: String,
    pub version: String,
    pub size: String,
    pub modified: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    format: String,
    repository: String,
    version: String,
    checksum: String,
    formats: Vec<String>,
    repositories: Vec<String>,
    searched: bool,
    hits: Vec<Hit>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct Form {
    #[serde(default)]
    q: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    version: String,
    /// Any of MD5, SHA-1, SHA-256, SHA-512: told apart by length.
    #[serde(default)]
    checksum: String,
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

fn checksum_param(c: &str) -> Option<&'static str> {
    match c.len() {
        32 => Some("md5"),
        40 => Some("sha1"),
        64 => Some("sha256"),
        128 => Some("sha512"),
        _ => None,
    }
}

pub(crate) async fn search(
    req: HttpRequest,
    arca: web::Data<Arca>,
    f: web::Query<Form>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "search").await?;
    let f = f.into_inner();
    let repos = arca.db.list_repositories().await?;
    let repositories: Vec<String> = repos
        .iter()
        .filter(|r| can_browse(&page, r))
        .map(|r| r.name.to_string())
        .collect();
    let mut formats: Vec<String> = arca
        .formats
        .all()
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    formats.sort();
    let checksum = f.checksum.trim().to_ascii_lowercase();
    let searched = [&f.q, &f.format, &f.repository, &f.version, &checksum]
        .iter()
        .any(|v| !v.trim().is_empty());
    let mut hits = Vec::new();
    let mut next = None;
    let mut error = None;
    if searched {
        let mut params: Vec<(String, String)> = vec![];
        let mut push = |k: &str, v: &str| {
            if !v.trim().is_empty() {
                params.push((k.to_owned(), v.trim().to_owned()));
            }
        };
        // A bare word finds names; `*` wildcards work as in the REST search.
        push("q", &f.q);
        push("format", &f.format);
        push("repository", &f.repository);
        push("version", &f.version);
        if !checksum.is_empty() {
            match checksum_param(&checksum) {
                Some(algo) => push(algo, &checksum),
                None => error = Some(
                    "A checksum is 32 (MD5), 40 (SHA-1), 64 (SHA-256) or 128 (SHA-512) hex digits."
                        .to_owned(),
                ),
            }
        }
        if let Some(t) = &f.continuation_token {
            push("continuationToken", t);
        }
        if error.is_none() {
            match find(&arca, &page.subject, &params).await {
                Ok(found) => {
                    for c in &found.components {
                        for a in found.assets.iter().filter(|a| a.component_id == Some(c.id)) {
                            hits.push(Hit {
                                href: format!(
                                    "/ui/assets/{}",
                                    encode_id(&a.repository, "asset", a.id)
                                ),
                                path: a.path.clone(),
                                repo: a.repository.clone(),
                                format: found
                                    .formats
                                    .get(&a.repository)
                                    .cloned()
                                    .unwrap_or_default(),
                                component: if c.namespace.is_empty() {
                                    c.name.clone()
                                } else {
                                    format!("{} : {}", c.namespace, c.name)
                                },
                                version: c.version.clone(),
                                size: human_bytes(a.size),
                                modified: when(a.last_modified_ms),
                            });
                        }
                    }
                    next = found.token.map(|t| {
                        let mut qs = String::new();
                        for (k, v) in [
                            ("q", &f.q),
                            ("format", &f.format),
                            ("repository", &f.repository),
                            ("version", &f.version),
                            ("checksum", &checksum),
                        ] {
                            if !v.is_empty() {
                                qs.push_str(&format!("{k}={}&", urlencode(v)));
                            }
                        }
                        format!("/ui/search?{qs}continuationToken={}", urlencode(&t))
                    });
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
    }
    Ok(render(&SearchPage {
        chrome: page.chrome,
        q: f.q,
        format: f.format,
        repository: f.repository,
        version: f.version,
        checksum,
        formats,
        repositories,
        searched,
        hits,
        next,
        error,
    }))
}
