//! Blob reads and deletes, and uploads: monolithic, chunked, resumable, cross-repository mounts.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, StatusCode, header},
    web,
};
use arca_core::{
    Arca,
    blob::{BlobRef, ByteRange, ByteStream, MultiHasher, PutOptions},
    http::{blob_response, payload_stream, remote_ip},
    model::{Asset, AssetPath, RepoKind, Repository},
    security::Subject,
    storage::AssetMeta,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::{
    DockerState,
    access::{self, Credentials, Target},
    error::{RegistryError, Result},
    names::{OciDigest, parse_oci_digest},
    paths,
    upstream::Blob,
};

fn blob_path(d: &OciDigest) -> Result<AssetPath> {
    AssetPath::parse(&paths::blob(d)).map_err(|e| RegistryError::internal(e.to_string()))
}

fn digest_param(s: &str) -> Result<OciDigest> {
    parse_oci_digest(s).map_err(RegistryError::digest_invalid)
}

/// The blob asset in a repository, if it holds one.
pub async fn find(arca: &Arca, repo: &Repository, d: &OciDigest) -> Result<Option<Asset>> {
    Ok(arca.db.find_asset(repo.id, &paths::blob(d)).await?)
}

/// Whether `If-None-Match` names `digest` (or is `*`): the ETag of blobs and manifests is the
/// quoted digest.
pub fn etag_matches(req: &HttpRequest, digest: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || t.trim_matches('"') == digest
        })
}

/// The `Range` asked of a blob of `size` bytes: none, or one that can be served. A single byte
/// range that cannot be satisfied (past the end, reversed, malformed) is a 416 with
/// `Content-Range: bytes */<size>`, as the conformance suites expect; several ranges and other
/// units get the whole blob, as RFC 9110 allows.
fn blob_range(req: &HttpRequest, size: u64) -> Result<Option<ByteRange>> {
    let Some(v) = req.headers().get(header::RANGE) else {
        return Ok(None);
    };
    let unsatisfiable = || {
        RegistryError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "RANGE_INVALID",
            format!("range not satisfiable for a blob of {size} bytes"),
        )
        .header("Content-Range", format!("bytes */{size}"))
    };
    let v = v.to_str().map_err(|_| unsatisfiable())?.trim();
    match v.strip_prefix("bytes=") {
        None => return Ok(None),
        Some(spec) if spec.contains(',') => return Ok(None),
        Some(_) => {}
    }
    let r = ByteRange::parse_header(v).ok_or_else(unsatisfiable)?;
    r.resolve(size).ok_or_else(unsatisfiable)?;
    Ok(Some(r))
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
        // Remotes are asked for SHA-256 content only.
        if repo.kind == RepoKind::Proxy
            && let OciDigest::Sha256(d256) = &d
        {
            // Core's proxy: one fetch per blob at a time on any node, a second puller served
            // from the first one's copy.
            match crate::upstream::blob(arca, &state.tokens, req, &repo, &t.image, d256).await? {
                Some(Blob::Cached(a)) => return serve(arca, req, &a, &d).await,
                Some(Blob::Response(resp)) => return Ok(resp),
                None => {}
            }
        }
    }
    Err(RegistryError::blob_unknown(digest))
}

/// A stored blob, with its digest header and the quoted digest as its ETag.
async fn serve(arca: &Arca, req: &HttpRequest, a: &Asset, d: &OciDigest) -> Result<HttpResponse> {
    let digest = d.to_string();
    let etag = format!("\"{digest}\"");
    if etag_matches(req, &digest) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(("Docker-Content-Digest", digest))
            .finish());
    }
    let range = blob_range(req, a.size.max(0) as u64)?;
    let body = arca.storage.open(a, range).await?;
    let mut resp = blob_response(req, a, body);
    let value = |s: &str| header::HeaderValue::from_str(s).map_err(RegistryError::internal);
    resp.headers_mut().insert(
        header::HeaderName::from_static("docker-content-digest"),
        value(&digest)?,
    );
    resp.headers_mut().insert(header::ETAG, value(&etag)?);
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

fn created(name: &str, d: &OciDigest) -> HttpResponse {
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

fn uploader(subject: &Subject) -> Option<String> {
    (!subject.anonymous).then(|| subject.user_id.clone())
}

/// `POST /v2/<name>/blobs/uploads/`: a monolithic upload (`?digest=`), a mount
/// (`?mount=&from=`, or `?mount=` alone from any repository the caller may read), or the start
/// of a chunked upload.
pub async fn start(
    arca: &Arca,
    req: &HttpRequest,
    t: &Target,
    subject: &Subject,
    creds: &Credentials,
    body: web::Payload,
) -> Result<HttpResponse> {
    let q = web::Query::<StartQuery>::from_query(req.query_string())
        .map_err(|e| RegistryError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", e.to_string()))?
        .into_inner();
    let repo = access::write_repo(arca, &t.repo).await?;
    // A mount that cannot be done (unknown or unreadable blob) starts an upload instead.
    if let Some(mount) = &q.mount
        && let Ok(d) = parse_oci_digest(mount)
    {
        if let Some(held) = find(arca, &repo, &d).await? {
            // A use: the collector's grace starts again for a layer about to be named.
            if let Err(e) = arca.db.touch_asset_downloaded(held.id).await {
                tracing::warn!(error = %e, "recording a mount as a use failed");
            }
            return Ok(created(&t.name, &d));
        }
        let source = match &q.from {
            Some(from) => mount_source(arca, req, subject, creds, from, &d).await?,
            None => automatic_source(arca, req, subject, creds, &d).await?,
        };
        if let Some(source) = source {
            let path = blob_path(&d)?;
            arca.storage
                .copy_asset(&source, &repo, &path, meta(arca, req, uploader(subject)))
                .await?;
            return Ok(created(&t.name, &d));
        }
    }
    if let Some(digest) = &q.digest {
        let d = digest_param(digest)?;
        let meta = meta(arca, req, uploader(subject));
        store_verified(arca, &repo, &d, payload_stream(body), meta).await?;
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

fn mismatch(d: &OciDigest) -> RegistryError {
    RegistryError::digest_invalid(format!(
        "provided digest did not match uploaded content: {d}"
    ))
    .detail(json!({ "digest": d.to_string() }))
}

/// Streams `body` into the repository as the blob `d`: checked by the store for a SHA-256,
/// checked here (the store computing SHA-512 on the way) for a SHA-512.
async fn store_verified(
    arca: &Arca,
    repo: &Repository,
    d: &OciDigest,
    body: ByteStream,
    meta: AssetMeta,
) -> Result<()> {
    let opts = PutOptions {
        before_place: None,
        expect: None,
        max_size: arca.settings.max_upload_bytes,
        all_checksums: false,
    };
    match d {
        OciDigest::Sha256(x) => {
            let opts = PutOptions {
                expect: Some(x.clone()),
                ..opts
            };
            arca.storage
                .ingest(repo, &blob_path(d)?, body, opts, meta)
                .await?;
            Ok(())
        }
        OciDigest::Sha512(_) => {
            let opts = PutOptions {
                all_checksums: true,
                ..opts
            };
            let blob = arca.storage.stage(repo, body, opts).await?;
            record_checked(arca, repo, d, blob, meta).await
        }
    }
}

/// Records a staged or committed blob as `d` when its checksums say it is; else lets it go.
async fn record_checked(
    arca: &Arca,
    repo: &Repository,
    d: &OciDigest,
    blob: BlobRef,
    meta: AssetMeta,
) -> Result<()> {
    if !d.matches(&blob.checksums) {
        arca.storage.discard(&repo.blob_store, &blob).await;
        return Err(mismatch(d));
    }
    let path = match blob_path(d) {
        Ok(p) => p,
        Err(e) => {
            arca.storage.discard(&repo.blob_store, &blob).await;
            return Err(e);
        }
    };
    if let Err(e) = arca.storage.record(repo, &path, blob.clone(), meta).await {
        arca.storage.discard(&repo.blob_store, &blob).await;
        return Err(e.into());
    }
    Ok(())
}

/// Every checksum of a stored blob (its SHA-512 for a `sha512:` digest), read back from the
/// store as a stream.
async fn rehash(arca: &Arca, repo: &Repository, blob: &BlobRef) -> Result<BlobRef> {
    let store = arca.storage.store_or_open(&repo.blob_store).await?;
    let mut body = store
        .get(&blob.digest, None)
        .await
        .map_err(arca_core::storage::StorageError::from)?;
    let mut h = MultiHasher::new(true);
    while let Some(chunk) = body.stream.next().await {
        h.update(&chunk.map_err(RegistryError::internal)?);
    }
    let (_, checksums) = h.finish();
    Ok(BlobRef {
        checksums,
        ..blob.clone()
    })
}

/// The blob to mount, when the caller may read it where it comes from.
async fn mount_source(
    arca: &Arca,
    req: &HttpRequest,
    subject: &Subject,
    creds: &Credentials,
    from: &str,
    d: &OciDigest,
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

/// A mount without `from`: the blob from any docker repository the caller may pull from (with
/// a bearer token, the names it grants `pull` on).
async fn automatic_source(
    arca: &Arca,
    req: &HttpRequest,
    subject: &Subject,
    creds: &Credentials,
    d: &OciDigest,
) -> Result<Option<Asset>> {
    if let Credentials::Token(c) = creds {
        for a in &c.access {
            if a.kind != "repository" || !c.allows(&a.name, "pull") {
                continue;
            }
            if let Some(found) = mount_source(arca, req, subject, creds, &a.name, d).await? {
                return Ok(Some(found));
            }
        }
        return Ok(None);
    }
    for repo in arca.db.list_repositories().await? {
        if repo.format != access::FORMAT
            || repo.kind == RepoKind::Group
            || !subject.can(&arca_core::security::Permission::RepoView {
                format: access::FORMAT,
                repo: repo.name.as_str(),
                action: arca_core::security::Action::Read,
            })
        {
            continue;
        }
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
    subject: &Subject,
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
            let meta = meta(arca, req, uploader(subject));
            let blob = match &d {
                OciDigest::Sha256(x) => arca.storage.commit_upload(&repo, id, x).await?,
                // Committed under its SHA-256, then checked against the SHA-512 read back.
                OciDigest::Sha512(_) => {
                    let blob = arca.storage.commit_upload_unverified(&repo, id).await?;
                    match rehash(arca, &repo, &blob).await {
                        Ok(b) => b,
                        Err(e) => {
                            arca.storage.discard(&repo.blob_store, &blob).await;
                            return Err(e);
                        }
                    }
                }
            };
            record_checked(arca, &repo, &d, blob, meta).await?;
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
