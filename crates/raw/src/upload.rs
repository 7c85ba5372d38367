//! Nexus's multipart component upload for raw repositories: every `raw.assetN` file streams
//! into the blob store as it arrives; paths are known once the form ends (`raw.directory`,
//! `raw.assetN.filename` may come after the file), and nothing is recorded unless all are valid.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    RepoContext,
    blob::{BlobRef, PutOptions},
    http::{MAX_FORM_PARTS, local_stream, storage_error as error, text},
    model::AssetPath,
};
use futures_util::StreamExt;

use crate::asset_meta;

pub async fn component(cx: &RepoContext, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let store = match cx.arca.storage.store_or_open(&cx.repo.blob_store).await {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let mut form = actix_multipart::Multipart::new(req.headers(), body);
    let mut fields: HashMap<String, String> = HashMap::new();
    // (field name, the client's file name, the stored blob)
    let mut files: Vec<(String, String, BlobRef)> = Vec::new();
    // Refused: the blobs stored so far go.
    let refuse = |files: Vec<(String, String, BlobRef)>, resp: HttpResponse| async move {
        for (_, _, b) in &files {
            cx.arca.storage.discard(&cx.repo.blob_store, b).await;
        }
        resp
    };
    let bad = |msg: String| text(StatusCode::BAD_REQUEST, msg);
    let mut parts = 0;
    while let Some(field) = form.next().await {
        let mut field = match field {
            Ok(f) => f,
            Err(e) => return refuse(files, bad(format!("bad form: {e}"))).await,
        };
        parts += 1;
        if parts > MAX_FORM_PARTS {
            return refuse(files, bad("too many form parts".into())).await;
        }
        let name = field.name().unwrap_or("").to_owned();
        if name.starts_with("raw.asset") && !name.ends_with(".filename") {
            let client_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .unwrap_or("")
                .to_owned();
            let opts = PutOptions {
                max_size: cx.arca.settings.max_upload_bytes,
                all_checksums: true,
                ..Default::default()
            };
            match store.put(local_stream(field), opts).await {
                Ok(b) => files.push((name, client_name, b)),
                Err(e) => return refuse(files, error(e.into())).await,
            }
            continue;
        }
        let mut v = Vec::new();
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(c) if v.len() + c.len() <= 4096 => v.extend_from_slice(&c),
                Ok(_) => {
                    return refuse(files, bad(format!("form field {name} is too long"))).await;
                }
                Err(e) => return refuse(files, bad(format!("bad form: {e}"))).await,
            }
        }
        // Lossy decoding could make two names one: refuse instead.
        match String::from_utf8(v) {
            Ok(v) => fields.insert(name, v),
            Err(_) => return refuse(files, bad(format!("form field {name} is not UTF-8"))).await,
        };
    }
    let Some(dir) = fields
        .get("raw.directory")
        .map(|d| d.trim_matches('/').to_owned())
    else {
        return refuse(files, bad("raw.directory is required".into())).await;
    };
    if files.is_empty() {
        return refuse(files, bad("the form needs a raw.asset1 file".into())).await;
    }
    let mut targets = Vec::new();
    for (field, client_name, _) in &files {
        let file = fields
            .get(&format!("{field}.filename"))
            .filter(|f| !f.is_empty())
            .cloned()
            .unwrap_or_else(|| client_name.clone());
        let joined = if dir.is_empty() {
            file
        } else {
            format!("{dir}/{file}")
        };
        match AssetPath::parse(&joined) {
            Ok(p) if !p.is_dir() => targets.push(p),
            _ => {
                let msg = format!("{field}: invalid target path {joined:?}");
                return refuse(files, bad(msg)).await;
            }
        }
    }
    for p in &targets {
        if let Err(e) = cx.arca.storage.check_write_policy(&cx.repo, p).await {
            return refuse(files, error(e)).await;
        }
    }
    if targets
        .iter()
        .enumerate()
        .any(|(i, p)| targets[..i].contains(p))
    {
        return refuse(files, bad("two files with the same target path".into())).await;
    }
    let items = files
        .iter()
        .zip(targets)
        .map(|((_, _, blob), path)| {
            let content_type = mime_guess::from_path(path.file_name())
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let meta = asset_meta(cx, req, &path, content_type);
            (path, blob.clone(), meta)
        })
        .collect();
    // All files or none.
    match cx.arca.storage.record_all(&cx.repo, items).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(e) => refuse(files, error(e)).await,
    }
}
