//! Manifest reads, pushes and deletes.

use actix_web::{HttpRequest, HttpResponse, http::Method, http::StatusCode, web};
use arca_core::{
    Arca,
    http::remote_ip,
    model::{Asset, AssetPath, Digest, RepoKind, WritePolicy},
    security::Subject,
    storage::AssetMeta,
};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;

use crate::{
    DockerState,
    access::{self, Target},
    error::{RegistryError, Result},
    manifest::{self, MAX_MANIFEST},
    names::{OciDigest, is_digest, parse_oci_digest, valid_tag},
    paths,
};

fn tag_invalid(tag: &str) -> RegistryError {
    RegistryError::new(
        StatusCode::BAD_REQUEST,
        "TAG_INVALID",
        format!("invalid tag {tag:?}"),
    )
    .detail(json!({ "tag": tag }))
}

/// A reference to write or delete: a well-formed digest or tag, else 400.
fn check_reference(reference: &str) -> Result<()> {
    if is_digest(reference) {
        parse_oci_digest(reference).map_err(RegistryError::digest_invalid)?;
    } else if !valid_tag(reference) {
        return Err(tag_invalid(reference));
    }
    Ok(())
}

/// Whether a reference could name a manifest at all: reads of one that cannot answer 404
/// MANIFEST_UNKNOWN, as the distribution spec's conformance suites expect (nothing is stored
/// under it), while pushes to it stay 400.
fn well_formed(reference: &str) -> bool {
    if is_digest(reference) {
        parse_oci_digest(reference).is_ok()
    } else {
        valid_tag(reference)
    }
}

/// The digest a manifest asset answers to: recorded at push (SHA-256 or SHA-512, as the
/// client named it), else its content's SHA-256.
pub fn asset_digest(a: &Asset) -> String {
    a.attrs
        .get("digest")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sha256:{}", a.checksums.sha256))
}

/// The manifest asset for `reference` in the target, looking through a group's members and a
/// proxy's remote.
pub async fn find(
    arca: &Arca,
    state: &DockerState,
    t: &Target,
    reference: &str,
) -> Result<Option<Asset>> {
    if !well_formed(reference) {
        return Ok(None);
    }
    let path = paths::manifest(&t.image, reference);
    for repo in access::read_sources(arca, &t.repo).await? {
        let found = match repo.kind {
            // Remotes are asked by tag or SHA-256 only: the cache checks what it fetches
            // against a SHA-256 and could not against a SHA-512.
            RepoKind::Proxy if !reference.starts_with("sha512:") => {
                crate::upstream::manifest(arca, &state.tokens, &repo, &t.image, reference).await?
            }
            _ => arca.db.find_asset(repo.id, &path).await?,
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The manifest's media type: recorded at push, else the remote's `Content-Type`.
fn media_type(a: &Asset) -> String {
    a.attrs
        .get("mediaType")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| a.content_type.clone())
}

/// `GET`/`HEAD /v2/<name>/manifests/<reference>`.
pub async fn get(
    arca: &Arca,
    state: &DockerState,
    req: &HttpRequest,
    t: &Target,
    reference: &str,
) -> Result<HttpResponse> {
    let Some(a) = find(arca, state, t, reference).await? else {
        return Err(RegistryError::manifest_unknown(reference));
    };
    let digest = if is_digest(reference) {
        reference.to_owned()
    } else {
        asset_digest(&a)
    };
    if crate::blobs::etag_matches(req, &digest) {
        return Ok(HttpResponse::NotModified()
            .insert_header(("Docker-Content-Digest", digest))
            .finish());
    }
    let mut b = HttpResponse::Ok();
    b.content_type(media_type(&a))
        .insert_header(("Docker-Content-Digest", digest.as_str()))
        .insert_header(("ETag", format!("\"{digest}\"")));
    if req.method() == Method::HEAD {
        b.no_chunking(a.size as u64);
        return Ok(b.body(actix_web::body::SizedStream::new(
            a.size as u64,
            futures_util::stream::empty::<std::result::Result<Bytes, std::io::Error>>(),
        )));
    }
    let body = arca
        .storage
        .read_small(&a, MAX_MANIFEST as u64)
        .await?
        .ok_or_else(|| RegistryError::internal("stored manifest exceeds the size limit"))?;
    Ok(b.body(body))
}

async fn read_body(body: web::Payload) -> Result<Vec<u8>> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
        if out.len() + chunk.len() > MAX_MANIFEST {
            return Err(RegistryError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("manifests are limited to {MAX_MANIFEST} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `PUT /v2/<name>/manifests/<reference>`: every blob and child manifest it names must be in
/// the repository already; stored under its digest and, for a tag, under the tag too.
pub async fn put(
    arca: &Arca,
    req: &HttpRequest,
    t: &Target,
    subject: &Subject,
    reference: &str,
    body: web::Payload,
) -> Result<HttpResponse> {
    check_reference(reference)?;
    let tags = tags_to_apply(req, reference)?;
    let repo = access::write_repo(arca, &t.repo).await?;
    let bytes = read_body(body).await?;
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let m = manifest::parse(&bytes, content_type).map_err(RegistryError::manifest_invalid)?;
    // The content's SHA-256 keys its storage; the digest clients know it by is the one they
    // named (SHA-256 or SHA-512), else its SHA-256.
    let content = Digest::of(&bytes);
    let digest = if is_digest(reference) {
        let want = parse_oci_digest(reference).map_err(RegistryError::digest_invalid)?;
        let got = want.same_algorithm_of(&bytes);
        if want != got {
            return Err(RegistryError::digest_invalid(format!(
                "the manifest's digest is {got}, not {want}"
            ))
            .detail(json!({ "digest": want.to_string() })));
        }
        want
    } else {
        OciDigest::Sha256(content.clone())
    };
    // Held until the manifest is recorded: the garbage collector takes the same locks before
    // it deletes a blob, so the blobs checked here are still there when the manifest lands.
    let _blobs_locked = crate::gc::lock_blobs(arca, repo.id, &m.blobs).await?;
    for b in &m.blobs {
        let d = parse_oci_digest(b).map_err(RegistryError::manifest_invalid)?;
        if arca
            .db
            .find_asset(repo.id, &paths::blob(&d))
            .await?
            .is_none()
        {
            return Err(RegistryError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("blob {b} is not in repository {}", repo.name),
            )
            .detail(json!({ "digest": b })));
        }
    }
    for c in &m.children {
        if arca
            .db
            .find_asset(repo.id, &paths::manifest(&t.image, c))
            .await?
            .is_none()
        {
            return Err(RegistryError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("manifest {c} is not in {}", t.name),
            )
            .detail(json!({ "digest": c })));
        }
    }
    match repo.write_policy.unwrap_or(WritePolicy::Allow) {
        WritePolicy::Deny => {
            return Err(RegistryError::denied(format!(
                "repository {} is read-only",
                repo.name
            )));
        }
        WritePolicy::AllowOnce => {
            for tag in &tags {
                if let Some(old) = arca
                    .db
                    .find_asset(repo.id, &paths::manifest(&t.image, tag))
                    .await?
                    && old.checksums.sha256 != content.hex()
                {
                    return Err(RegistryError::denied(format!(
                        "tag {tag} of {} exists and repository {} does not allow redeploying",
                        t.name, repo.name
                    )));
                }
            }
        }
        WritePolicy::Allow => {}
    }
    let attrs = json!({
        "kind": "manifest",
        "mediaType": m.media_type,
        "digest": digest.to_string(),
        "subject": m.subject,
        "artifactType": m.artifact_type,
        "annotations": m.annotations,
        "index": m.is_index,
        // What it names, so the garbage collector need not read it back.
        "blobs": m.blobs,
        "children": m.children,
    });
    let uploader = (!subject.anonymous).then(|| subject.user_id.clone());
    let uploader_ip = remote_ip(req, &arca.settings.public);
    let mut refs = vec![digest.to_string()];
    refs.extend(tags.iter().cloned());
    let mut targets = Vec::with_capacity(refs.len());
    for r in refs {
        let path = AssetPath::parse(&paths::manifest(&t.image, &r))
            .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
        let meta = AssetMeta {
            content_type: m.media_type.clone(),
            uploader: uploader.clone(),
            uploader_ip: uploader_ip.clone(),
            attrs: attrs.clone(),
            component: Some(paths::component(&t.image, &r)),
        };
        targets.push((path, meta));
    }
    let blob = arca.storage.stage_bytes(&repo, Bytes::from(bytes)).await?;
    let items = targets
        .into_iter()
        .map(|(path, meta)| (path, blob.clone(), meta))
        .collect();
    // The digest and its tags together, or none of them.
    if let Err(e) = arca.storage.record_all(&repo, items).await {
        arca.storage.discard(&repo.blob_store, &blob).await;
        return Err(e.into());
    }
    tracing::info!(repo = %repo.name, image = %t.image, reference, digest = %digest, "manifest pushed");
    let mut resp = HttpResponse::Created();
    resp.insert_header(("Location", format!("/v2/{}/manifests/{digest}", t.name)))
        .insert_header(("Docker-Content-Digest", digest.to_string()));
    if let Some(s) = &m.subject {
        resp.insert_header(("OCI-Subject", s.as_str()));
    }
    // With `?tag=`, the tags applied, one header each (the spec's "push with tags").
    if has_tag_params(req) {
        for tag in &tags {
            resp.append_header(("OCI-Tag", tag.as_str()));
        }
    }
    Ok(resp.finish())
}

fn tag_params(req: &HttpRequest) -> Vec<String> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v)
        .collect()
}

fn has_tag_params(req: &HttpRequest) -> bool {
    !tag_params(req).is_empty()
}

/// The tags a manifest PUT sets: the reference when it is a tag, and every `?tag=` (the
/// spec's push of several tags at once, usually with a digest reference); each one valid.
fn tags_to_apply(req: &HttpRequest, reference: &str) -> Result<Vec<String>> {
    if !req.query_string().is_empty()
        && web::Query::<Vec<(String, String)>>::from_query(req.query_string()).is_err()
    {
        return Err(RegistryError::new(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "the query string cannot be read",
        ));
    }
    let mut tags: Vec<String> = Vec::new();
    if !is_digest(reference) {
        tags.push(reference.to_owned());
    }
    for t in tag_params(req) {
        if !valid_tag(&t) {
            return Err(tag_invalid(&t));
        }
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(tags)
}

/// `DELETE /v2/<name>/manifests/<reference>`: by digest removes the manifest and every tag
/// pointing at it; by tag removes the tag only.
pub async fn delete(arca: &Arca, t: &Target, reference: &str) -> Result<HttpResponse> {
    check_reference(reference)?;
    if t.repo.kind == RepoKind::Group {
        return Err(RegistryError::unsupported(
            "delete from a member repository, not the group",
        ));
    }
    let repo = &t.repo;
    let path = paths::manifest(&t.image, reference);
    let Some(a) = arca.db.find_asset(repo.id, &path).await? else {
        return Err(RegistryError::manifest_unknown(reference));
    };
    // An index's children, read before it goes.
    let children = if is_digest(reference) && a.attrs.get("index") == Some(&json!(true)) {
        crate::gc::children(arca, &a).await
    } else {
        Vec::new()
    };
    arca.storage.delete_asset(repo, &path).await?;
    if is_digest(reference) {
        for tag in tag_assets(arca, repo.id, &t.image).await? {
            if asset_digest(&tag) == reference || tag.checksums.sha256 == a.checksums.sha256 {
                arca.storage.delete_asset(repo, &tag.path).await?;
            }
        }
        // Deleting an index deletes the platform manifests nothing else names (no tag, no
        // other index of the image): pushed as its parts, they go with it; their layers then
        // go at the next garbage collection.
        if !children.is_empty() {
            let kept = crate::gc::named_by_image(arca, repo.id, &t.image).await?;
            for c in children {
                if !kept.contains(&c) {
                    arca.storage
                        .delete_asset(repo, &paths::manifest(&t.image, &c))
                        .await?;
                }
            }
        }
    }
    Ok(HttpResponse::Accepted().finish())
}

/// The tag assets of an image in one repository.
pub async fn tag_assets(arca: &Arca, repo_id: i64, image: &str) -> Result<Vec<Asset>> {
    Ok(manifest_assets(arca, repo_id, image)
        .await?
        .into_iter()
        .filter(|a| !is_digest(reference_of(a)))
        .collect())
}

pub fn reference_of(a: &Asset) -> &str {
    a.path.rsplit('/').next().unwrap_or("")
}

/// Every manifest asset (tags and digests) of an image in one repository.
pub async fn manifest_assets(arca: &Arca, repo_id: i64, image: &str) -> Result<Vec<Asset>> {
    let prefix = paths::manifests_prefix(image);
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = arca.db.list_assets(repo_id, &prefix, &after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.path.clone();
        let full = page.len() == 1000;
        // Deeper paths belong to other images (`app/sub/manifests/...`).
        out.extend(
            page.into_iter()
                .filter(|a| !a.path[prefix.len()..].contains('/')),
        );
        if !full {
            break;
        }
    }
    Ok(out)
}
