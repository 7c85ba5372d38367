//! twine's upload API (the legacy `:action=file_upload` multipart POST), streamed to storage.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    RepoContext,
    blob::{BlobError, PutOptions},
    http::{local_stream, remote_ip},
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
    let mut stored: Option<(AssetPath, arca_core::model::Asset)> = None;
    while let Some(field) = form.next().await {
        let mut field = match field {
            Ok(f) => f,
            Err(e) => return bad(format!("malformed multipart body: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        // twine sends `content`; Nexus's component upload form `pypi.asset`.
        if name != "content" && name != "pypi.asset" {
            match read_field(&mut field, &mut budget).await {
                Ok(v) => {
                    fields.insert(name, v);
                }
                Err(r) => return r,
            }
            continue;
        }
        if stored.is_some() {
            return bad("one file per upload");
        }
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_owned)
            .unwrap_or_default();
        match store_file(cx, req, &fields, &filename, field).await {
            Ok(s) => stored = Some(s),
            Err(r) => return r,
        }
    }
    let Some((path, asset)) = stored else {
        return bad("no file: the form needs a `content` field");
    };
    // Digests sent after the file are checked now; a mismatch removes what was stored.
    let sha_ok = fields
        .get("sha256_digest")
        .is_none_or(|d| d.trim().eq_ignore_ascii_case(&asset.checksums.sha256));
    let md5_ok = fields
        .get("md5_digest")
        .is_none_or(|d| d.trim().eq_ignore_ascii_case(&asset.checksums.md5));
    if !sha_ok || !md5_ok {
        let _ = cx.arca.storage.delete_asset(&cx.repo, path.as_str()).await;
        return bad(format!(
            "digest mismatch: the uploaded {} has sha256 {}",
            path.file_name(),
            asset.checksums.sha256
        ));
    }
    if path.as_str().ends_with(".whl")
        && let Err(r) = extract_metadata(cx, &path, &asset).await
    {
        let _ = cx.arca.storage.delete_asset(&cx.repo, path.as_str()).await;
        return r;
    }
    tracing::info!(repo = %cx.repo.name, file = %path, "uploaded");
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// Validates the upload against the fields seen so far and streams the file into storage.
async fn store_file(
    cx: &RepoContext,
    req: &HttpRequest,
    fields: &HashMap<String, String>,
    filename: &str,
    field: actix_multipart::Field,
) -> Result<(AssetPath, arca_core::model::Asset), HttpResponse> {
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
    let expect = match fields.get("sha256_digest").map(|d| Digest::parse(d.trim())) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return Err(bad("sha256_digest must be 64 lowercase hex digits")),
    };
    let path = AssetPath::parse(&package_path(&norm, &dist.version, filename))
        .map_err(|e| bad(e.to_string()))?;
    // Refused before any byte is read: DENY, or ALLOW_ONCE with the file already there.
    if let Err(e) = cx.arca.storage.check_write_policy(&cx.repo, &path).await {
        return Err(fail(&e));
    }
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
        component: Some(component(&norm, &dist.version)),
    };
    let opts = PutOptions {
        expect,
        max_size: cx.arca.settings.max_upload_bytes,
        all_checksums: true,
    };
    let body = local_stream(field.map_err(|e| e.to_string()).into_stream().boxed_local());
    match cx
        .arca
        .storage
        .ingest(&cx.repo, &path, body, opts, meta)
        .await
    {
        Ok(asset) => Ok((path, asset)),
        Err(StorageError::Blob(e @ BlobError::DigestMismatch { .. })) => {
            Err(bad(format!("sha256_digest does not match the file: {e}")))
        }
        Err(e) => Err(storage_fail(e)),
    }
}

/// PEP 658: serve the wheel's METADATA as `<file>.metadata`. A wheel without one is refused.
async fn extract_metadata(
    cx: &RepoContext,
    path: &AssetPath,
    asset: &arca_core::model::Asset,
) -> Result<(), HttpResponse> {
    let store = cx
        .arca
        .storage
        .store(&asset.blob_store)
        .map_err(storage_fail)?;
    let digest = Digest::parse(&asset.blob_digest).map_err(|e| bad(e.to_string()))?;
    let Some(local) = store.local_path(&digest) else {
        return Ok(()); // stores without local files get their metadata lazily (later)
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
        std::io::Read::read_to_end(&mut std::io::Read::take(entry, METADATA_LIMIT), &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await
    .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| bad(format!("{}: {e}", path.file_name())))?;
    let meta_path =
        AssetPath::parse(&format!("{path}.metadata")).map_err(|e| bad(e.to_string()))?;
    let meta = AssetMeta {
        content_type: "text/plain; charset=utf-8".into(),
        ..Default::default()
    };
    cx.arca
        .storage
        .put_bytes(&cx.repo, &meta_path, read.into(), meta)
        .await
        .map_err(storage_fail)?;
    Ok(())
}
