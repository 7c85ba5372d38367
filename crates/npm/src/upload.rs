//! Nexus's component upload (`npm.asset`, one package tarball) and reading a tarball's
//! `package.json`, bounded (a tarball is gzip: a small one can inflate to a lot).

use std::io::Read;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, web};
use arca_core::{
    RepoContext,
    blob::{BlobRef, PutOptions},
    http::{MAX_FORM_PARTS, local_stream, remote_ip},
    model::{AssetPath, Digest, Repository},
    storage::AssetMeta,
};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::{
    error::{NpmError, Result, bad},
    hosted::component,
    names::{PkgName, version_ok},
};

/// `package.json` beyond this is refused.
const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;
/// Inflated bytes read looking for `package.json` at most.
const INFLATE_LIMIT: u64 = 1024 * 1024 * 1024;
/// A tarball read into memory (no local file to read from) at most.
const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// The first `*/package.json` one level deep in a gzip tarball (npm packs `package/`).
pub fn package_json(r: impl Read) -> std::result::Result<Value, String> {
    let gz = flate2::read::GzDecoder::new(r);
    let mut tar = gz.take(INFLATE_LIMIT);
    let mut header = [0u8; 512];
    loop {
        if tar.read_exact(&mut header).is_err() {
            return Err("no package.json in the tarball".into());
        }
        if header.iter().all(|b| *b == 0) {
            return Err("no package.json in the tarball".into());
        }
        let field = |a: usize, b: usize| {
            let f = &header[a..b];
            let end = f.iter().position(|c| *c == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size = u64::from_str_radix(field(124, 136).trim(), 8)
            .map_err(|_| "not a tar archive".to_string())?;
        let prefix = if &header[257..262] == b"ustar" {
            field(345, 500)
        } else {
            String::new()
        };
        let name = match prefix.is_empty() {
            true => field(0, 100),
            false => format!("{prefix}/{}", field(0, 100)),
        };
        let kind = header[156];
        let padded = size.div_ceil(512) * 512;
        let is_manifest = (kind == b'0' || kind == 0)
            && name
                .split_once('/')
                .is_some_and(|(_, rest)| rest == "package.json");
        if is_manifest {
            if size > MANIFEST_LIMIT {
                return Err("package.json is too large".into());
            }
            let mut buf = vec![0u8; size as usize];
            tar.read_exact(&mut buf)
                .map_err(|e| format!("reading package.json: {e}"))?;
            return serde_json::from_slice(&buf).map_err(|e| format!("package.json: {e}"));
        }
        std::io::copy(&mut (&mut tar).take(padded), &mut std::io::sink())
            .map_err(|e| format!("reading the tarball: {e}"))?;
    }
}

/// A stored tarball's `package.json`.
pub async fn stored_package_json(
    cx: &RepoContext,
    repo: &Repository,
    digest: &Digest,
) -> Result<Value> {
    let store = cx.arca.storage.store_or_open(&repo.blob_store).await?;
    let read = match store.local_path(digest) {
        Some(path) => {
            tokio::task::spawn_blocking(move || {
                let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
                package_json(std::io::BufReader::new(f))
            })
            .await
        }
        None => {
            let mut body = store
                .get(digest, None)
                .await
                .map_err(arca_core::storage::StorageError::from)?;
            let mut buf = Vec::new();
            while let Some(c) = body.stream.next().await {
                let c = c.map_err(|e| bad(e.to_string()))?;
                if buf.len() + c.len() > MEMORY_LIMIT {
                    return Err(NpmError::TooLarge(MEMORY_LIMIT as u64));
                }
                buf.extend_from_slice(&c);
            }
            tokio::task::spawn_blocking(move || package_json(buf.as_slice())).await
        }
    };
    read.map_err(|e| NpmError::Upstream(e.to_string()))?
        .map_err(|e| bad(format!("not an npm package tarball: {e}")))
}

/// `POST /service/rest/v1/components?repository=` with `npm.asset`.
pub async fn upload(cx: &RepoContext, req: &HttpRequest, body: web::Payload) -> Result<()> {
    let mut form = Multipart::new(req.headers(), body);
    let mut staged: Option<BlobRef> = None;
    let mut parts = 0;
    let refuse = async |staged: Option<BlobRef>, e: NpmError| {
        if let Some(b) = staged {
            cx.arca.storage.discard(&cx.repo.blob_store, &b).await;
        }
        Err(e)
    };
    while let Some(field) = form.next().await {
        let field = match field {
            Ok(f) => f,
            Err(e) => return refuse(staged, bad(format!("malformed multipart body: {e}"))).await,
        };
        parts += 1;
        if parts > MAX_FORM_PARTS {
            return refuse(staged, bad("too many form parts")).await;
        }
        if field.name() != Some("npm.asset") {
            // Nothing else is asked for; its bytes are read and dropped.
            let mut f = field;
            while let Some(c) = f.next().await {
                if let Err(e) = c {
                    return refuse(staged, bad(format!("reading the form: {e}"))).await;
                }
            }
            continue;
        }
        if staged.is_some() {
            return refuse(staged, bad("one npm.asset per upload")).await;
        }
        let opts = PutOptions {
            max_size: cx.arca.settings.max_upload_bytes,
            all_checksums: true,
            ..Default::default()
        };
        let stream = local_stream(field.map_err(|e| e.to_string()).into_stream().boxed_local());
        match cx.arca.storage.stage(&cx.repo, stream, opts).await {
            Ok(b) => staged = Some(b),
            Err(e) => return Err(e.into()),
        }
    }
    let Some(blob) = staged else {
        return Err(bad("no npm.asset in the form"));
    };
    match record_upload(cx, req, &blob).await {
        Ok(()) => Ok(()),
        Err(e) => refuse(Some(blob), e).await,
    }
}

async fn record_upload(cx: &RepoContext, req: &HttpRequest, blob: &BlobRef) -> Result<()> {
    let pj = stored_package_json(cx, &cx.repo, &blob.digest).await?;
    let name = pj
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("package.json has no name"))?;
    let name = PkgName::parse(name)?;
    let version = pj
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| version_ok(v))
        .ok_or_else(|| bad("package.json has no valid version"))?
        .to_owned();
    let path = AssetPath::parse(&name.tarball_path(&version)).map_err(|e| bad(e.to_string()))?;
    // Like a publish: the "not published yet" and "first version" checks and the record hold
    // the package's lock (on every node), or concurrent uploads would all pass them.
    let _lock = crate::hosted::lock_package(cx, &cx.repo, &name).await?;
    if cx
        .arca
        .db
        .find_asset(cx.repo.id, path.as_str())
        .await?
        .is_some()
    {
        return Err(NpmError::Forbidden(format!(
            "You cannot publish over the previously published versions: {version}."
        )));
    }
    cx.arca.storage.check_write_policy(&cx.repo, &path).await?;
    let mut manifest = pj.clone();
    let b64 = |h: &str| {
        hex::decode(h)
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            .unwrap_or_default()
    };
    manifest["dist"] = json!({
        "shasum": blob.checksums.sha1,
        "integrity": format!("sha512-{}", b64(&blob.checksums.sha512)),
        "tarball": name.tarball_file(&version),
    });
    if let Some(u) = cx.uploader() {
        manifest["_npmUser"] = json!({ "name": u });
    }
    // The first version uploaded becomes `latest`; later ones leave the tag where it is.
    let first = cx
        .arca
        .db
        .list_assets(cx.repo.id, &name.dir(), "", 1)
        .await?
        .is_empty();
    let tags: Vec<&str> = if first { vec!["latest"] } else { vec![] };
    let meta = AssetMeta {
        content_type: "application/octet-stream".into(),
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: json!({ "npm": { "manifest": manifest, "tags": tags } }),
        component: Some(component(&name, &version)),
    };
    cx.arca
        .storage
        .record_all(&cx.repo, vec![(path, blob.clone(), meta)])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, data) in entries {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            let size = format!("{:011o}\0", data.len());
            h[124..136].copy_from_slice(size.as_bytes());
            h[156] = b'0';
            tar.extend_from_slice(&h);
            tar.extend_from_slice(data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.extend_from_slice(&[0u8; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn reads_package_json() {
        let t = tgz(&[
            ("package/index.js", b"x".repeat(700).as_slice()),
            ("package/package.json", br#"{"name":"a","version":"1.0.0"}"#),
        ]);
        let v = package_json(t.as_slice()).unwrap();
        assert_eq!(v["name"], "a");
        assert!(package_json(tgz(&[("package/x", b"y")]).as_slice()).is_err());
        assert!(package_json(&b"not gzip"[..]).is_err());
    }
}
