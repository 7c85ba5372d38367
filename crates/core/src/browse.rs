//! The HTML directory listing Nexus shows for `GET /repository/{name}/some/dir/`, for every
//! format: the merged view of the given repositories (a group's members), first one wins.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::StatusCode};

use crate::{RepoContext, error::HttpError, model::Repository};

fn text(status: StatusCode, msg: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(msg)
}

const MAX_ENTRIES: usize = 10_000;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn listing(cx: &RepoContext, repos: &[Repository]) -> HttpResponse {
    let prefix = cx.path.as_str();
    // name → Some(size) for files, None for directories; first member wins.
    let mut entries: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for repo in repos {
        // One index seek per entry: every child is listed, however many assets lie below.
        let children = match cx
            .arca
            .db
            .list_children(repo.id, prefix, "", MAX_ENTRIES)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                crate::error::log_if_server_error(&e);
                return text(e.status(), e.to_string());
            }
        };
        for (name, asset) in children {
            entries.entry(name).or_insert(asset.map(|a| a.size));
        }
    }
    if entries.is_empty() && !prefix.is_empty() {
        return text(
            StatusCode::NOT_FOUND,
            format!("{prefix} not found in {}", cx.repo.name),
        );
    }
    let title = format!("Index of /{prefix}");
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\n<h1>{t}</h1>\n<table>\n<tr><th>Name</th><th>Size</th></tr>\n",
        t = escape(&title)
    );
    if !prefix.is_empty() {
        html.push_str("<tr><td><a href=\"../\">Parent Directory</a></td><td></td></tr>\n");
    }
    for (name, size) in entries {
        let size = size.map(|s| s.to_string()).unwrap_or_default();
        html.push_str(&format!(
            "<tr><td><a href=\"{u}\">{n}</a></td><td>{size}</td></tr>\n",
            u = escape(&cx.repo_url()) + &escape(prefix) + &escape(&name),
            n = escape(&name)
        ));
    }
    html.push_str("</table>\n</body></html>\n");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
