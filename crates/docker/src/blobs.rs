//! Blob reads and deletes, and uploads: monolithic, chunked, resumable, cross-repository mounts.

use actix_web::{HttpRequest, HttpResponse, http::Method, http::StatusCode, web};
use arca_core::{
    Arca,
    blob::PutOptions,
    http::{blob_response, payload_stream, remote_ip, requested_range},
    model::{Asset, AssetPath, Digest, RepoKind, Repository},
    storage::AssetMeta,
};
use serde::Deserialize;

use crate::{
    DockerState,
    access::{self, Credentials, Target},
    error::{RegistryError, Result},
    names::parse_digest,
    paths,
};

fn blob_path(d: &Digest) -> Result<AssetPath> {
    AssetPath::parse(&paths::blob(d)).map_err(|e| RegistryError::internal(e.to_string()))
}

fn digest_param(s: &str) -> Result<Digest> {
    parse_digest(s).map_err(RegistryError::digest_invalid)
}

/// The blob asset in a repository, if it holds one.
pub async fn find(arca: &Arca, repo: &Repository, d: &Digest) -> Result<Option<Asset>> {
    Ok(arca.db.find_asset(repo.id, &paths::blob(d)).await?)
}

/// `GET`/`HEAD /v2/<name>/blobs/<digest>`: from the repository, a group's members in order,
/// or a proxy's cache and then its remote.
pub async fn get(
    arca: &web::Data<Arca>,
    state: &DockerState,
    req: &HttpRequest,
    t: &Target,
    digest: &str,
) -> Result<HttpResponse> {
    let d = digest_param(digest)?;
    for repo in access::read_sources(arca, &t.repo).await? {
        if let Some(a) = find(arca, &repo, &d).await? {
            return serve(arca, req, &a, &d).await;
        }
        if repo.kind == RepoKind::Proxy {
            // One fetch per blob at a time, on this node and across nodes: a second puller
            // waits for the first one's copy and is served from the cache.
            let flight = if req.method() == actix_web::http::Method::GET {
                let key =
                    arca_core::locks::LockKey::new("proxy-fetch", &format!("{}\0{d}", repo.id));
                Some(arca.storage.locks().flight(key).await?)
            } else {
                None
            };
            if flight.is_some()
                && let Some(a) = find(arca, &repo, &d).await?
            {
                return serve(arca, req, &a, &d).await;
            }
            if let Some(resp) =
                crate::upstream::blob(arca, &state.tokens, req, &repo, &t.image, &d, flight).await?
            {
                return Ok(resp);
            }
        }
    }
    Err(RegistryError::blob_unknown(digest))
}

/// A stored blob, with its digest header.
async fn serve(arca: &Arca, req: &HttpRequest, a: &Asset, d: &Digest) -> Result<HttpResponse> {
    let body = arca.storage.open(a, requested_range(req)).await?;
    let mut resp = blob_response(req, a, body);
    resp.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("docker-content-digest"),
        actix_web::http::header::HeaderValue::from_str(&d.to_string())
            .map_err(RegistryError::internal)?,
    );
    Ok(resp)
}

/// `DELETE /v2/<name>/blobs/<digest>`.
pub async fn delete(arca: &Arca, t: &Target, digest: &str) -> Result<HttpResponse> {
    let d = digest_param(digest)?;
    if t.repo.kind == RepoKind::Group {
        return Err(RegistryError::unsupported(
            "delete from a member repository, not the group",
        ));
    }
    if find(arca, &t.repo, &d).await?.is_none() {
        return Err(RegistryError::blob_unknown(digest));
    }
    arca.storage.delete_asset(&t.repo, &paths::blob(&d)).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Deserialize)]
pub struct StartQuery {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
}

fn meta(arca: &Arca, req: &HttpRequest, uploader: Option<String>) -> AssetMeta {
    AssetMeta {
        content_type: "application/octet-stream".into(),
        uploader,
        uploader_ip: remote_ip(req, &arca.settings.public),
        ..Default::default()
    }
}

fn created(name: &str, d: &Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", format!("/v2/{name}/blobs/{d}")))
        .insert_header(("Docker-Content-Digest", d.to_string()))
        .finish()
}

fn in_progress(name: &str, id: &str, size: u64, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/v2/{name}/blobs/uploads/{id}")))
        .insert_header(("Range", format!("0-{}", size.saturating_sub(1))))
        .insert_header(("Docker-Upload-UUID", id))
        .insert_header(("Content-Length", "0"))
        .finish()
}

fn uploader(subject: &arca_core::security::Subject) -> Option<String> {
    (!subject.anonymous).then(|| subject.user_id.clone())
}

/// `POST /v2/<name>/blobs/uploads/`: a monolithic upload (`?digest=`), a mount
/// (`?mount=&from=`), or the start of a chunked upload.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    arca: &Arca,
    req: &HttpRequest,
    t: &Target,
    subject: &arca_core::security::Subject,
    creds: &Credentials,
    body: web::Payload,
) -> Result<HttpResponse> {
    let q = web::Query::<StartQuery>::from_query(req.query_string())
        .map_err(|e| RegistryError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", e.to_string()))?
        .into_inner();
    let repo = access::write_repo(arca, &t.repo).await?;
    if let (Some(mount), Some(from)) = (&q.mount, &q.from)
        && let Ok(d) = parse_digest(mount)
        && let Some(source) = mount_source(arca, req, subject, creds, from, &d).await?
    {
        let path = blob_path(&d)?;
        arca.storage
            .copy_asset(&source, &repo, &path, meta(arca, req, uploader(subject)))
            .await?;
        return Ok(created(&t.name, &d));
    }
    if let Some(digest) = &q.digest {
        let d = digest_param(digest)?;
        let opts = PutOptions {
            before_place: None,
            expect: Some(d.clone()),
            max_size: arca.settings.max_upload_bytes,
            all_checksums: false,
        };
        arca.storage
            .ingest(
                &repo,
                &blob_path(&d)?,
                payload_stream(body),
                opts,
                meta(arca, req, uploader(subject)),
            )
            .await?;
        return Ok(created(&t.name, &d));
    }
    arca.storage.check_writable().await?;
    let id = arca
        .storage
        .store_or_open(&repo.blob_store)
        .await?
        .begin_upload()
        .await?;
    Ok(in_progress(&t.name, &id, 0, StatusCode::ACCEPTED))
}

/// The blob to mount, when the caller may read it where it comes from.
async fn mount_source(
    arca: &Arca,
    req: &HttpRequest,
    subject: &arca_core::security::Subject,
    creds: &Credentials,
    from: &str,
    d: &Digest,
) -> Result<Option<Asset>> {
    let Ok(source) = access::resolve(arca, req, from).await else {
        return Ok(None);
    };
    if !access::may_pull(subject, creds, &source) {
        return Ok(None);
    }
    for repo in access::read_sources(arca, &source.repo).await? {
        if let Some(a) = find(arca, &repo, d).await? {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

/// `Content-Range: <first>-<last>` of a chunk (some clients prefix `bytes `).
pub(crate) fn content_range(req: &HttpRequest) -> Result<Option<u64>> {
    let Some(v) = req.headers().get("content-range") else {
        return Ok(None);
    };
    let bad = || {
        RegistryError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            "malformed Content-Range",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim()
            .split('/')
            .next()
            .unwrap_or("")
            .parse()
            .map_err(|_| bad())?,
    );
    if b < a {
        return Err(bad());
    }
    Ok(Some(a))
}

/// `PATCH`, `PUT`, `GET` and `DELETE` on `/v2/<name>/blobs/uploads/<id>`.
pub async fn session(
    arca: &Arca,
    req: &HttpRequest,
    t: &Target,
    subject: &arca_core::security::Subject,
    id: &str,
    body: web::Payload,
) -> Result<HttpResponse> {
    let repo = access::write_repo(arca, &t.repo).await?;
    let store = arca.storage.store_or_open(&repo.blob_store).await?;
    let max = arca.settings.max_upload_bytes;
    match *req.method() {
        Method::PATCH => {
            let offset = content_range(req)?;
            let size = store
                .append_upload(id, offset, payload_stream(body), max)
                .await?;
            Ok(in_progress(&t.name, id, size, StatusCode::ACCEPTED))
        }
        Method::GET => {
            let size = store.upload_size(id).await?;
            Ok(in_progress(&t.name, id, size, StatusCode::NO_CONTENT))
        }
        Method::PUT => {
            let digest = web::Query::<StartQuery>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.into_inner().digest)
                .ok_or_else(|| RegistryError::digest_invalid("the digest parameter is required"))?;
            let d = digest_param(&digest)?;
            let has_body = req
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.trim() != "0");
            if has_body {
                let offset = content_range(req)?;
                store
                    .append_upload(id, offset, payload_stream(body), max)
                    .await?;
            }
            let blob = arca.storage.commit_upload(&repo, id, &d).await?;
            let recorded = arca
                .storage
                .record(
                    &repo,
                    &blob_path(&d)?,
                    blob.clone(),
                    meta(arca, req, uploader(subject)),
                )
                .await;
            if let Err(e) = recorded {
                arca.storage.discard(&repo.blob_store, &blob).await;
                return Err(e.into());
            }
            Ok(created(&t.name, &d))
        }
        Method::DELETE => {
            if store.cancel_upload(id).await? {
                Ok(HttpResponse::NoContent().finish())
            } else {
                Err(RegistryError::upload_unknown(id))
            }
        }
        _ => Err(RegistryError::unsupported(
            "method not allowed on an upload",
        )),
    }
}
