//! Proxy repositories: `repomd.xml` is refreshed after `metadataMaxAge`, but a new one is only
//! served once every file it names is cached and verified; RPMs are cached on first download,
//! streaming on to the client as they arrive.

use actix_web::{HttpRequest, HttpResponse};
use arca_core::{
    RepoContext,
    http::{error_text, remote_response},
    model::{Asset, AssetPath, Digest, Repository},
    proxy::{FetchSpec, Fetched, Freshness, Proxy, ProxyError, ProxySettings},
    storage::AssetMeta,
};

use crate::{not_found, serve, xml::repomd_refs};

/// What a proxy asked for: fetched from the remote when missing.
pub async fn fetch(
    cx: &RepoContext,
    repo: &Repository,
    path: &AssetPath,
    freshness: Freshness,
    expect: Option<Digest>,
) -> Result<Option<Asset>, ProxyError> {
    let mut spec = FetchSpec::new(freshness);
    spec.expect = expect;
    let arca = &cx.arca;
    arca.proxy
        .fetch(
            &arca.storage,
            &arca.db,
            repo,
            path,
            spec,
            AssetMeta::default(),
        )
        .await
}

pub async fn read(
    cx: &RepoContext,
    req: &HttpRequest,
    repo: &Repository,
    path: &AssetPath,
) -> HttpResponse {
    if let Some(root) = path.as_str().strip_suffix("repodata/repomd.xml") {
        return match repomd(cx, repo, root).await {
            Ok(Some(a)) => serve(cx, req, &a).await,
            Ok(None) => not_found(repo, path),
            Err(e) => error_text(&e),
        };
    }
    // Packages stream on to the client while they are cached (core's streaming proxy).
    let spec = FetchSpec::new(Freshness::Content);
    match Proxy::fetch_stream(&cx.arca, repo, path, spec, AssetMeta::default()).await {
        Ok(Some(Fetched::Cached(a))) => serve(cx, req, &a).await,
        Ok(Some(Fetched::Remote(r))) => remote_response(req, r),
        Ok(None) => not_found(repo, path),
        Err(e) => error_text(&e),
    }
}

fn asset_path(p: &str) -> Result<AssetPath, ProxyError> {
    AssetPath::parse(p).map_err(|e| ProxyError::Config(e.to_string()))
}

/// The `repomd.xml` to serve for `root`: the remote's newest whose files are all cached, else
/// the one served before.
pub async fn repomd(
    cx: &RepoContext,
    repo: &Repository,
    root: &str,
) -> Result<Option<Asset>, ProxyError> {
    let arca = &cx.arca;
    let public = asset_path(&format!("{root}repodata/repomd.xml"))?;
    // The remote's copy is cached beside the public one and promoted when complete.
    let staging = asset_path(&format!("{root}repodata/repomd.xml.remote"))?;
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(ProxyError::Config)?;
    let mut spec = FetchSpec::new(Freshness::Metadata);
    spec.url = Some(format!("{}{}", settings.remote, public));
    let published = arca
        .db
        .find_asset(repo.id, public.as_str())
        .await
        .map_err(arca_core::storage::StorageError::from)?;
    let remote = match arca
        .proxy
        .fetch(
            &arca.storage,
            &arca.db,
            repo,
            &staging,
            spec,
            AssetMeta {
                content_type: "application/xml".into(),
                ..Default::default()
            },
        )
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(published),
        Err(e) if published.is_some() => {
            tracing::warn!(repo = %repo.name, error = %e, "remote repomd.xml unavailable; serving the cached one");
            return Ok(published);
        }
        Err(e) => return Err(e),
    };
    if published
        .as_ref()
        .is_some_and(|p| p.checksums.sha256 == remote.checksums.sha256)
    {
        return Ok(published);
    }
    let bytes = arca
        .storage
        .read_small(&remote, 16 * 1024 * 1024)
        .await?
        .ok_or_else(|| ProxyError::Config("remote repomd.xml is too large".into()))?;
    let refs =
        repomd_refs(&String::from_utf8_lossy(&bytes)).map_err(|e| ProxyError::Unreachable {
            url: format!("{}{}", settings.remote, public),
            reason: e,
        })?;
    for r in &refs {
        let p = asset_path(&format!("{root}{}", r.href))?;
        let expect = r.sha256.as_deref().and_then(|h| Digest::parse(h).ok());
        if let Some(a) = arca
            .db
            .find_asset(repo.id, p.as_str())
            .await
            .map_err(arca_core::storage::StorageError::from)?
        {
            if expect
                .as_ref()
                .is_none_or(|d| d.hex() == a.checksums.sha256)
            {
                continue;
            }
            // Same name, new content: fetch it again.
            arca.storage.delete_asset(repo, p.as_str()).await?;
        }
        let got = fetch(cx, repo, &p, Freshness::Content, expect).await;
        match got {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) if published.is_some() => {
                tracing::warn!(repo = %repo.name, file = %p, "a file of the new repomd.xml is unavailable; serving the previous one");
                return Ok(published);
            }
            Ok(None) => {
                return Err(ProxyError::Status {
                    url: format!("{}{}", settings.remote, p),
                    status: 404,
                });
            }
            Err(e) => return Err(e),
        }
    }
    let meta = AssetMeta {
        content_type: "application/xml".into(),
        ..Default::default()
    };
    let a = arca
        .storage
        .copy_asset(&remote, repo, &public, meta)
        .await?;
    Ok(Some(a))
}
