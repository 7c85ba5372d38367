//! twine's upload API (the legacy `:action=file_upload` multipart POST), streamed to storage.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    RepoContext,
    blob::{BlobError, BlobRef, PutOptions},
    http::{MAX_FORM_PARTS, local_stream, remote_ip},
    meta::NewComponent,
    model::{AssetPath, Digest},
    storage::{AssetMeta, StorageError},
};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::{
    fail,
    names::{Kind, normalize, parse_filename},
    package_path, storage_fail, text,
};

/// Form fields other than the file are small; more than this is not an upload.
const FIELD_LIMIT: usize = 1024 * 1024;
/// A wheel's METADATA beyond this is refused.
const METADATA_LIMIT: u64 = 8 * 1024 * 1024;

pub fn component(norm: &str, version: &str) -> NewComponent {
    NewComponent {
        namespace: String::new(),
        name: norm.to_owned(),
        version: version.to_owned(),
        attrs: json!({}),
    }
}

fn bad(msg: impl Into<String>) -> HttpResponse {
    text(StatusCode::BAD_REQUEST, msg)
}

async fn read_field(
    field: &mut actix_multipart::Field,
    budget: &mut usize,
) -> Result<String, HttpResponse> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the form: {e}")))?;
        if chunk.len() > *budget {
            return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "form fields too large"));
        }
        *budget -= chunk.len();
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).map_err(|_| bad("form fields must be UTF-8"))
}

pub async fn upload(cx: &RepoContext, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let mut form = Multipart::new(req.headers(), body);
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut budget = FIELD_LIMIT;
    // The file's name and its blob, stored but not recorded until every check passed.
    let mut staged: Option<(String, BlobRef)> = None;
    let refuse = |staged: Option<(String, BlobRef)>, resp: HttpResponse| async move {
        if let Some((_, b)) = staged {
            cx.arca.storage.discard(&cx.repo.blob_store, &b).await;
        }
        resp
    };
    let mut parts = 0;
    while let Some(field) = form.next().await {
        let mut field = match field {
            Ok(f) => f,
            Err(e) => return refuse(staged, bad(format!("malformed multipart body: {e}"))).await,
        };
        parts += 1;
        if parts > MAX_FORM_PARTS {
            return refuse(staged, bad("too many form parts")).await;
        }
        let name = field.name().unwrap_or("").to_owned();
        // twine sends `content`; Nexus's component upload form `pypi.asset`.
        if name != "content" && name != "pypi.asset" {
            match read_field(&mut field, &mut budget).await {
                Ok(v) => {
                    fields.insert(name, v);
                }
                Err(r) => return refuse(staged, r).await,
            }
            continue;
        }
        if staged.is_some() {
            return refuse(staged, bad("one file per upload")).await;
        }
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_owned)
            .unwrap_or_default();
        match stage_file(cx, &fields, &filename, field).await {
            Ok(b) => staged = Some((filename, b)),
            Err(r) => return r,
        }
    }
    let Some((filename, blob)) = staged else {
        return bad("no file: the form needs a `content` field");
    };
    match record(cx, req, &fields, &filename, &blob).await {
        Ok(path) => {
            tracing::info!(repo = %cx.repo.name, file = %path, "uploaded");
            HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body("OK")
        }
        Err(r) => refuse(Some((filename, blob)), r).await,
    }
}

/// Where a file goes once the form agrees with its name: checked with the fields seen before
/// the file (so a refusal reads no bytes) and again with all of them.
struct Target {
    path: AssetPath,
    norm: String,
    version: String,
}

async fn check(
    cx: &RepoContext,
    fields: &HashMap<String, String>,
    filename: &str,
) -> Result<Target, HttpResponse> {
    if let Some(a) = fields.get(":action")
        && a != "file_upload"
    {
        return Err(bad(format!(
            ":action {a:?} is not supported; use file_upload"
        )));
    }
    let Some(dist) = parse_filename(filename) else {
        return Err(bad(format!(
            "invalid distribution file name {filename:?}: expected a wheel (name-version-py-abi-platform.whl) or an sdist (name-version.tar.gz/.zip)"
        )));
    };
    let norm = normalize(&dist.project);
    if let Some(n) = fields.get("name")
        && normalize(n) != norm
    {
        return Err(bad(format!("the file {filename} is not for project {n}")));
    }
    if let Some(v) = fields.get("version")
        && normalize(v) != normalize(&dist.version)
    {
        return Err(bad(format!("the file {filename} is not version {v}")));
    }
    if let Some(ft) = fields.get("filetype") {
        let ok = match dist.kind {
            Kind::Wheel => ft == "bdist_wheel",
            Kind::Sdist => ft == "sdist",
        };
        if !ok {
            return Err(bad(format!("filetype {ft} does not match {filename}")));
        }
    }
    for (k, len) in [("sha256_digest", 64), ("md5_digest", 32)] {
        if let Some(d) = fields.get(k)
            && (d.trim().len() != len || !d.trim().bytes().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(bad(format!("{k} must be {len} hex digits")));
        }
    }
    let path = AssetPath::parse(&package_path(&norm, &dist.version, filename))
        .map_err(|e| bad(e.to_string()))?;
    if let Err(e) = cx.arca.storage.check_write_policy(&cx.repo, &path).await {
        return Err(fail(&e));
    }
    Ok(Target {
        path,
        norm,
        version: dist.version,
    })
}

/// Checks the upload against the fields seen so far and streams the file into the blob store,
/// recording nothing.
async fn stage_file(
    cx: &RepoContext,
    fields: &HashMap<String, String>,
    filename: &str,
    field: actix_multipart::Field,
) -> Result<BlobRef, HttpResponse> {
    check(cx, fields, filename).await?;
    let expect = fields
        .get("sha256_digest")
        .and_then(|d| Digest::parse(&d.trim().to_ascii_lowercase()).ok());
    let opts = PutOptions {
        before_place: None,
        expect,
        max_size: cx.arca.settings.max_upload_bytes,
        all_checksums: true,
    };
    let body = local_stream(field.map_err(|e| e.to_string()).into_stream().boxed_local());
    match cx.arca.storage.stage(&cx.repo, body, opts).await {
        Ok(b) => Ok(b),
        Err(StorageError::Blob(e @ BlobError::DigestMismatch { .. })) => {
            Err(bad(format!("sha256_digest does not match the file: {e}")))
        }
        Err(e) => Err(storage_fail(e)),
    }
}

/// Checks the stored file against the whole form (digests sent after it, a wheel's METADATA),
/// then records it, with its METADATA, in one transaction.
async fn record(
    cx: &RepoContext,
    req: &HttpRequest,
    fields: &HashMap<String, String>,
    filename: &str,
    blob: &BlobRef,
) -> Result<AssetPath, HttpResponse> {
    let t = check(cx, fields, filename).await?;
    let sha_ok = fields
        .get("sha256_digest")
        .is_none_or(|d| d.trim().eq_ignore_ascii_case(&blob.checksums.sha256));
    let md5_ok = fields
        .get("md5_digest")
        .is_none_or(|d| d.trim().eq_ignore_ascii_case(&blob.checksums.md5));
    if !sha_ok || !md5_ok {
        return Err(bad(format!(
            "digest mismatch: the uploaded {} has sha256 {}",
            t.path.file_name(),
            blob.checksums.sha256
        )));
    }
    let metadata = if filename.ends_with(".whl") {
        extract_metadata(cx, &t.path, blob).await?
    } else {
        None
    };
    let meta = AssetMeta {
        content_type: if filename.ends_with(".whl") || filename.ends_with(".zip") {
            "application/zip".into()
        } else {
            "application/x-gzip".into()
        },
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: json!({ "pypi": {
            "requires_python": fields.get("requires_python").filter(|s| !s.is_empty()),
            "summary": fields.get("summary"),
            "yanked": null,
        }}),
        component: Some(component(&t.norm, &t.version)),
    };
    let mut items = vec![(t.path.clone(), blob.clone(), meta)];
    let mut extra = None;
    if let Some(bytes) = metadata {
        let meta_path =
            AssetPath::parse(&format!("{}.metadata", t.path)).map_err(|e| bad(e.to_string()))?;
        let mb = cx
            .arca
            .storage
            .stage_bytes(&cx.repo, bytes.into())
            .await
            .map_err(storage_fail)?;
        let m = AssetMeta {
            content_type: "text/plain; charset=utf-8".into(),
            ..Default::default()
        };
        items.push((meta_path, mb.clone(), m));
        extra = Some(mb);
    }
    if let Err(e) = cx.arca.storage.record_all(&cx.repo, items).await {
        if let Some(mb) = extra {
            cx.arca.storage.discard(&cx.repo.blob_store, &mb).await;
        }
        return Err(storage_fail(e));
    }
    Ok(t.path)
}

/// PEP 658: the wheel's METADATA, served as `<file>.metadata`. A wheel without one, or with one
/// beyond [`METADATA_LIMIT`] once inflated (a zip bomb), is refused.
async fn extract_metadata(
    cx: &RepoContext,
    path: &AssetPath,
    blob: &BlobRef,
) -> Result<Option<Vec<u8>>, HttpResponse> {
    wheel_metadata(cx, &blob.digest).await.map_err(|e| match e {
        WheelError::Storage(e) => storage_fail(e),
        WheelError::Join(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
        WheelError::Bad(e) => bad(format!("{}: {e}", path.file_name())),
    })
}

enum WheelError {
    Storage(StorageError),
    Join(String),
    Bad(String),
}

/// A wheel's `*.dist-info/METADATA`, read from its blob; `None` when the store keeps no local
/// files (their metadata comes lazily, later).
async fn wheel_metadata(cx: &RepoContext, digest: &Digest) -> Result<Option<Vec<u8>>, WheelError> {
    let store = cx
        .arca
        .storage
        .store(&cx.repo.blob_store)
        .map_err(WheelError::Storage)?;
    let Some(local) = store.local_path(digest) else {
        return Ok(None);
    };
    let read = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let file = std::fs::File::open(local).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive: {e}"))?;
        let name = (0..zip.len())
            .filter_map(|i| zip.name_for_index(i)?.ok().map(|n| n.into_owned()))
            .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
            .ok_or("no *.dist-info/METADATA in the wheel")?;
        let entry = zip.by_name(&name).map_err(|e| e.to_string())?;
        if entry.size() > METADATA_LIMIT {
            return Err("METADATA is too large".into());
        }
        let mut out = Vec::with_capacity(entry.size() as usize);
        // The declared size may lie: inflate at most one byte past the limit.
        std::io::Read::read_to_end(
            &mut std::io::Read::take(entry, METADATA_LIMIT + 1),
            &mut out,
        )
        .map_err(|e| format!("METADATA: {e}"))?;
        if out.len() as u64 > METADATA_LIMIT {
            return Err("METADATA is too large".into());
        }
        Ok(out)
    })
    .await
    .map_err(|e| WheelError::Join(e.to_string()))?
    .map_err(WheelError::Bad)?;
    Ok(Some(read))
}

/// Extracts the PEP 658 `.metadata` of every wheel of a hosted repository that lacks one (an
/// upload to a store without local files, or before Arca kept them); how many it stored.
/// A wheel whose METADATA cannot be read is logged and skipped.
pub async fn restore_metadata(cx: &RepoContext) -> Result<usize, StorageError> {
    let mut paths = std::collections::HashSet::new();
    let mut wheels = Vec::new();
    let mut after = String::new();
    loop {
        let page = cx
            .arca
            .db
            .list_assets(cx.repo.id, "packages/", &after, 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.path.clone();
        for a in &page {
            paths.insert(a.path.clone());
            if a.path.ends_with(".whl") {
                wheels.push((a.path.clone(), a.blob_digest.clone()));
            }
        }
        if page.len() < 1000 {
            break;
        }
    }
    let mut stored = 0;
    for (path, digest) in wheels {
        let meta_path = format!("{path}.metadata");
        if paths.contains(&meta_path) {
            continue;
        }
        let (Ok(ap), Ok(digest)) = (AssetPath::parse(&meta_path), Digest::parse(&digest)) else {
            continue;
        };
        let bytes = match wheel_metadata(cx, &digest).await {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(WheelError::Storage(e)) => return Err(e),
            Err(WheelError::Join(e) | WheelError::Bad(e)) => {
                tracing::warn!(repo = %cx.repo.name, path = %path, error = %e, "wheel METADATA not extracted");
                continue;
            }
        };
        let blob = cx.arca.storage.stage_bytes(&cx.repo, bytes.into()).await?;
        let m = AssetMeta {
            content_type: "text/plain; charset=utf-8".into(),
            ..Default::default()
        };
        if let Err(e) = cx
            .arca
            .storage
            .record_all(&cx.repo, vec![(ap, blob.clone(), m)])
            .await
        {
            cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
            return Err(e);
        }
        stored += 1;
    }
    Ok(stored)
}
