//! Tag lists, the catalog and the referrers API.

use arca_core::visibility::{self, Sight};
use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{Arca, model::RepoKind};
use serde::Deserialize;
use serde_json::json;

use crate::{
    DockerState,
    access::{self, Target},
    error::{RegistryError, Result},
    manifest::OCI_INDEX,
    manifests::{manifest_assets, reference_of},
    names::{is_digest, parse_oci_digest},
};

#[derive(Deserialize)]
pub struct Page {
    n: Option<usize>,
    last: Option<String>,
}

/// Sorted `all` cut after `last` to `n` entries; the `Link` header when more follow.
fn paginate(all: BTreeSet<String>, page: &Page, path: &str) -> (Vec<String>, Option<String>) {
    let after: Vec<String> = all
        .into_iter()
        .filter(|x| page.last.as_ref().is_none_or(|l| x > l))
        .collect();
    let n = page.n.unwrap_or(usize::MAX);
    if after.len() <= n {
        return (after, None);
    }
    let items: Vec<String> = after.into_iter().take(n).collect();
    let link = items
        .last()
        .map(|l| format!("<{path}?n={n}&last={l}>; rel=\"next\""));
    (items, link)
}

fn page(req: &HttpRequest) -> Result<Page> {
    web::Query::<Page>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .map_err(|e| {
            RegistryError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "PAGINATION_NUMBER_INVALID",
                e.to_string(),
            )
        })
}

/// `GET /v2/<name>/tags/list`.
pub async fn tags(
    arca: &Arca,
    state: &DockerState,
    req: &HttpRequest,
    t: &Target,
) -> Result<HttpResponse> {
    let page = page(req)?;
    let mut all = BTreeSet::new();
    let mut known = false;
    for repo in access::read_sources(arca, &t.repo).await? {
        if repo.kind == RepoKind::Proxy
            && let Some(remote) = crate::upstream::tags(arca, &state.tokens, &repo, &t.image).await
        {
            known = true;
            all.extend(remote);
            continue;
        }
        let assets = manifest_assets(arca, repo.id, &t.image).await?;
        known |= !assets.is_empty();
        all.extend(
            assets
                .iter()
                .map(reference_of)
                .filter(|r| !is_digest(r))
                .map(str::to_owned),
        );
    }
    if !known {
        return Err(RegistryError::name_unknown(&t.name));
    }
    let (tags, link) = paginate(all, &page, &format!("/v2/{}/tags/list", t.name));
    let mut resp = HttpResponse::Ok();
    if let Some(l) = link {
        resp.insert_header(("Link", l));
    }
    Ok(resp.json(json!({ "name": t.name, "tags": tags })))
}

/// `GET /v2/_catalog`: the images of every docker repository the caller may browse, named as
/// clients pull them (`<repository>/<image>`; bare names on a connector port).
pub async fn catalog(req: HttpRequest, arca: web::Data<Arca>) -> HttpResponse {
    match catalog_inner(&req, &arca).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

async fn catalog_inner(req: &HttpRequest, arca: &Arca) -> Result<HttpResponse> {
    let page = page(req)?;
    let unauthorized =
        || RegistryError::unauthorized(access::challenge(arca, req, Some("registry:catalog:*")));
    let creds = access::credentials(arca, req).map_err(|_| unauthorized())?;
    let subject = access::subject(arca, req, &creds)
        .await?
        .map_err(|_| unauthorized())?;
    let connector = access::connector(arca, req);
    let repos: Vec<_> = arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| r.format == access::FORMAT)
        .filter(|r| connector.as_ref().is_none_or(|c| c == r.name.as_str()))
        // Image names are not paths a content selector could pick among: the catalog lists
        // the repositories seen whole.
        .filter(|r| visibility::sight(&subject, r) == Sight::Whole)
        .collect();
    if repos.is_empty() && subject.anonymous {
        return Err(unauthorized());
    }
    let mut all = BTreeSet::new();
    for r in repos {
        for member in access::read_sources(arca, &r).await? {
            for image in arca.db.component_names(member.id).await? {
                all.insert(if connector.is_some() {
                    image
                } else {
                    format!("{}/{image}", r.name)
                });
            }
        }
    }
    let (names, link) = paginate(all, &page, "/v2/_catalog");
    let mut resp = HttpResponse::Ok();
    if let Some(l) = link {
        resp.insert_header(("Link", l));
    }
    Ok(resp.json(json!({ "repositories": names })))
}

#[derive(Deserialize)]
struct ReferrersQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

/// `GET /v2/<name>/referrers/<digest>`: an image index of the manifests whose `subject` is
/// `digest`, optionally only those of one `artifactType`.
pub async fn referrers(
    arca: &Arca,
    req: &HttpRequest,
    t: &Target,
    digest: &str,
) -> Result<HttpResponse> {
    parse_oci_digest(digest).map_err(RegistryError::digest_invalid)?;
    let filter = web::Query::<ReferrersQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().artifact_type);
    let mut seen = BTreeSet::new();
    let mut manifests = Vec::new();
    for repo in access::read_sources(arca, &t.repo).await? {
        for a in manifest_assets(arca, repo.id, &t.image).await? {
            if !is_digest(reference_of(&a))
                || a.attrs.get("subject").and_then(|s| s.as_str()) != Some(digest)
            {
                continue;
            }
            let artifact_type = a.attrs.get("artifactType").and_then(|v| v.as_str());
            if filter.as_deref().is_some_and(|f| Some(f) != artifact_type) {
                continue;
            }
            // Named by the digest it was pushed under (SHA-256 or SHA-512).
            let reference = reference_of(&a).to_owned();
            if !seen.insert(reference.clone()) {
                continue;
            }
            let mut d = json!({
                "mediaType": a.attrs.get("mediaType").cloned().unwrap_or_else(|| json!(a.content_type)),
                "digest": reference,
                "size": a.size,
            });
            if let Some(at) = artifact_type {
                d["artifactType"] = json!(at);
            }
            if let Some(an) = a.attrs.get("annotations").filter(|v| !v.is_null()) {
                d["annotations"] = an.clone();
            }
            manifests.push(d);
        }
    }
    let mut resp = HttpResponse::Ok();
    resp.content_type(OCI_INDEX);
    if filter.is_some() {
        resp.insert_header(("OCI-Filters-Applied", "artifactType"));
    }
    Ok(resp.body(
        json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }).to_string(),
    ))
}
