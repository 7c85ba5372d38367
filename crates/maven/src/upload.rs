//! Nexus's multipart component upload for Maven: `maven2.groupId`, `maven2.artifactId`,
//! `maven2.version`, `maven2.generate-pom`, `maven2.packaging`, and files `maven2.assetN` with
//! `maven2.assetN.extension` and `maven2.assetN.classifier`. Files stream into the blob store as
//! they arrive; nothing is recorded unless every one is valid.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    RepoContext,
    blob::{BlobRef, PutOptions},
    http::{MAX_FORM_PARTS, local_stream, remote_ip, storage_error, text},
    model::AssetPath,
    storage::AssetMeta,
};
use futures_util::StreamExt;

use crate::{
    check_artifact, component, content_type, coords_json,
    path::{self, MavenPath},
    rebuild_for,
};

fn bad(msg: String) -> HttpResponse {
    text(StatusCode::BAD_REQUEST, msg)
}

fn pom(g: &str, a: &str, v: &str, packaging: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd\">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n  <packaging>{}</packaging>\n</project>\n",
        esc(g),
        esc(a),
        esc(v),
        esc(packaging)
    )
}

pub async fn component_upload(
    cx: &RepoContext,
    req: &HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let store = match cx.arca.storage.store_or_open(&cx.repo.blob_store).await {
        Ok(s) => s,
        Err(e) => return storage_error(e),
    };
    let mut form = actix_multipart::Multipart::new(req.headers(), body);
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut files: Vec<(String, BlobRef)> = Vec::new();
    let refuse = |files: Vec<(String, BlobRef)>, resp: HttpResponse| async move {
        for (_, b) in &files {
            cx.arca.storage.discard(&cx.repo.blob_store, b).await;
        }
        resp
    };
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
        let is_file = name.starts_with("maven2.asset") && !name[12..].contains('.');
        if is_file {
            let opts = PutOptions {
                max_size: cx.arca.settings.max_upload_bytes,
                all_checksums: true,
                ..Default::default()
            };
            match store.put(local_stream(field), opts).await {
                Ok(b) => files.push((name, b)),
                Err(e) => return refuse(files, storage_error(e.into())).await,
            }
            continue;
        }
        let mut v = Vec::new();
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(c) if v.len() + c.len() <= 4096 => v.extend_from_slice(&c),
                Ok(_) => return refuse(files, bad(format!("form field {name} is too long"))).await,
                Err(e) => return refuse(files, bad(format!("bad form: {e}"))).await,
            }
        }
        // Lossy decoding could make two coordinates one: refuse instead.
        match String::from_utf8(v) {
            Ok(v) => fields.insert(name, v.trim().to_owned()),
            Err(_) => return refuse(files, bad(format!("form field {name} is not UTF-8"))).await,
        };
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    let (Some(g), Some(a), Some(v)) = (
        get("maven2.groupId"),
        get("maven2.artifactId"),
        get("maven2.version"),
    ) else {
        return refuse(
            files,
            bad("maven2.groupId, maven2.artifactId and maven2.version are required".into()),
        )
        .await;
    };
    if files.is_empty() {
        return refuse(files, bad("the form needs a maven2.asset1 file".into())).await;
    }
    // Where each file goes, checked before anything is recorded.
    let mut targets = Vec::new();
    for (field, _) in &files {
        let Some(ext) = get(&format!("{field}.extension")) else {
            let msg = format!("{field}.extension is required");
            return refuse(files, bad(msg)).await;
        };
        let cls = get(&format!("{field}.classifier"))
            .map(|c| format!("-{c}"))
            .unwrap_or_default();
        let p = format!("{}/{a}/{v}/{a}-{v}{cls}.{ext}", g.replace('.', "/"));
        match (AssetPath::parse(&p), path::parse(&p)) {
            (Ok(ap), Some(MavenPath::Artifact(c))) => targets.push((ap, c)),
            _ => {
                let msg = format!("{field}: not a valid Maven artifact ({p})");
                return refuse(files, bad(msg)).await;
            }
        }
    }
    if targets
        .iter()
        .enumerate()
        .any(|(i, (p, _))| targets[..i].iter().any(|(q, _)| q == p))
    {
        return refuse(
            files,
            bad("two assets with the same extension and classifier".into()),
        )
        .await;
    }
    for (p, c) in &targets {
        if let Err(r) = check_artifact(cx, p, c).await {
            return refuse(files, r).await;
        }
    }
    // Nexus reads booleans without regard to case (`True` from some clients).
    let generate =
        get("maven2.generate-pom").is_some_and(|x| x.trim().eq_ignore_ascii_case("true"));
    let has_pom = targets
        .iter()
        .any(|(_, c)| c.extension == "pom" && c.classifier.is_none());
    let first = targets[0].1.clone();
    let meta = |p: &AssetPath, c: &path::Coords| AssetMeta {
        content_type: content_type(p.as_str()),
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: coords_json(c),
        component: Some(component(c)),
    };
    let mut items: Vec<_> = files
        .iter()
        .zip(&targets)
        .map(|((_, blob), (p, c))| (p.clone(), blob.clone(), meta(p, c)))
        .collect();
    let mut pom_blob = None;
    if generate && !has_pom {
        let packaging = get("maven2.packaging").unwrap_or_else(|| "jar".into());
        let pp = format!("{}/{a}/{v}/{a}-{v}.pom", g.replace('.', "/"));
        if let (Ok(ap), Some(MavenPath::Artifact(c))) = (AssetPath::parse(&pp), path::parse(&pp)) {
            let bytes = pom(&g, &a, &v, &packaging).into_bytes();
            match cx.arca.storage.stage_bytes(&cx.repo, bytes.into()).await {
                Ok(b) => {
                    items.push((ap.clone(), b.clone(), meta(&ap, &c)));
                    pom_blob = Some(b);
                }
                Err(e) => return refuse(files, storage_error(e)).await,
            }
        }
    }
    // Every file, and the generated POM, or none.
    if let Err(e) = cx.arca.storage.record_all(&cx.repo, items).await {
        if let Some(b) = &pom_blob {
            cx.arca.storage.discard(&cx.repo.blob_store, b).await;
        }
        return refuse(files, storage_error(e)).await;
    }
    if let Err(e) = rebuild_for(cx, &first).await {
        return storage_error(e);
    }
    HttpResponse::NoContent().finish()
}
