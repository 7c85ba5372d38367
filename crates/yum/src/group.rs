//! Group repositories: one `repomd.xml` over the members' repodata (packages merged by `pkgid`,
//! first member wins), regenerated when a member's `repomd.xml` changes; files come from
//! whichever member holds them.

use std::collections::HashSet;
use std::io::Read;

use actix_web::{HttpRequest, HttpResponse};
use arca_core::{
    RepoContext,
    http::{error_text, storage_error as error},
    model::{Asset, AssetPath, RepoKind, Repository},
    proxy::{Freshness, ProxyError},
    storage::StorageError,
};
use serde_json::json;

use crate::{
    FLUSH_LIMIT, not_found, proxy,
    repodata::{Publisher, store_repodata},
    serve,
    xml::{self, pkgid, repomd_refs, split_packages},
};

pub async fn read(
    publisher: &std::sync::Arc<Publisher>,
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
) -> HttpResponse {
    let members = match arca_core::group::leaf_members(&cx.arca, &cx.repo).await {
        Ok(m) => m,
        Err(e) => return error(e.into()),
    };
    if let Some(root) = path.as_str().strip_suffix("repodata/repomd.xml") {
        return match merged(publisher, cx, &members, root).await {
            Ok(a) => serve(cx, req, &a).await,
            Err(e) => error_text(&e),
        };
    }
    // The merged data files are the group's own.
    if path.as_str().contains("repodata/") {
        match cx.arca.db.find_asset(cx.repo.id, path.as_str()).await {
            Ok(Some(a)) => return serve(cx, req, &a).await,
            Ok(None) => {}
            Err(e) => return error(e.into()),
        }
    }
    for m in &members {
        let found = match m.kind {
            RepoKind::Proxy => proxy::fetch(cx, m, path, Freshness::Content, None).await,
            _ => cx
                .arca
                .db
                .find_asset(m.id, path.as_str())
                .await
                .map_err(|e| ProxyError::Storage(e.into())),
        };
        if let Ok(Some(a)) = found {
            return serve(cx, req, &a).await;
        }
    }
    not_found(&cx.repo, path)
}

/// A member's current `repomd.xml` for `root`.
async fn member_repomd(
    publisher: &std::sync::Arc<Publisher>,
    cx: &RepoContext,
    m: &Repository,
    root: &str,
) -> Result<Option<Asset>, ProxyError> {
    match m.kind {
        RepoKind::Proxy => proxy::repomd(cx, m, root).await,
        _ => {
            publisher.verify_once(&cx.arca, m, root).await;
            publisher.flush(m.id, root, FLUSH_LIMIT).await;
            Ok(cx
                .arca
                .db
                .find_asset(m.id, &format!("{root}repodata/repomd.xml"))
                .await
                .map_err(StorageError::from)?)
        }
    }
}

async fn read_text(cx: &RepoContext, a: &Asset) -> Result<String, StorageError> {
    let bytes = cx
        .arca
        .storage
        .read_small(a, 2 * 1024 * 1024 * 1024)
        .await?
        .unwrap_or_default();
    if a.path.ends_with(".gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(arca_core::blob::BlobError::Io)?;
        Ok(s)
    } else {
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The group's `repomd.xml` for `root`, rebuilt when any member's changed.
async fn merged(
    publisher: &std::sync::Arc<Publisher>,
    cx: &RepoContext,
    members: &[Repository],
    root: &str,
) -> Result<Asset, ProxyError> {
    let mut sources = Vec::new();
    for m in members {
        if let Some(a) = member_repomd(publisher, cx, m, root).await? {
            sources.push((m.clone(), a));
        }
    }
    let fingerprint: Vec<String> = sources
        .iter()
        .map(|(m, a)| format!("{}:{}", m.name, a.checksums.sha256))
        .collect();
    let own_path = format!("{root}repodata/repomd.xml");
    if let Some(own) = cx
        .arca
        .db
        .find_asset(cx.repo.id, &own_path)
        .await
        .map_err(StorageError::from)?
        && own.attrs.get("sources") == Some(&json!(fingerprint))
    {
        return Ok(own);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut parts: [Vec<String>; 3] = Default::default();
    for (m, repomd) in &sources {
        let text = read_text(cx, repomd).await?;
        let refs = repomd_refs(&text).map_err(ProxyError::Config)?;
        let mut docs: [Option<String>; 3] = Default::default();
        for r in refs {
            let slot = match r.kind.as_str() {
                "primary" => 0,
                "filelists" => 1,
                "other" => 2,
                _ => continue,
            };
            if let Some(a) = cx
                .arca
                .db
                .find_asset(m.id, &format!("{root}{}", r.href))
                .await
                .map_err(StorageError::from)?
            {
                docs[slot] = Some(read_text(cx, &a).await?);
            }
        }
        let Some(primary) = &docs[0] else { continue };
        let mut taken: HashSet<String> = HashSet::new();
        for p in split_packages(primary) {
            if let Some(id) = pkgid(p)
                && seen.insert(id.to_owned())
            {
                taken.insert(id.to_owned());
                parts[0].push(p.to_owned());
            }
        }
        for slot in 1..3 {
            if let Some(doc) = &docs[slot] {
                for p in split_packages(doc) {
                    if pkgid(p).is_some_and(|id| taken.contains(id)) {
                        parts[slot].push(p.to_owned());
                    }
                }
            }
        }
    }
    let n = parts[0].len();
    let join = |open: String, list: &[String], close: &str| {
        let mut s = open;
        for p in list {
            s.push_str(p);
            s.push('\n');
        }
        s.push_str(close);
        s
    };
    let docs = [
        join(xml::primary_open(n), &parts[0], xml::PRIMARY_CLOSE),
        join(
            xml::filelists_open(parts[1].len()),
            &parts[1],
            xml::FILELISTS_CLOSE,
        ),
        join(xml::other_open(parts[2].len()), &parts[2], xml::OTHER_CLOSE),
    ];
    store_repodata(
        &cx.arca,
        &cx.repo,
        root,
        docs,
        json!({ "sources": fingerprint }),
    )
    .await?;
    cx.arca
        .db
        .find_asset(cx.repo.id, &own_path)
        .await
        .map_err(StorageError::from)?
        .ok_or_else(|| ProxyError::Config("group repodata vanished".into()))
}
