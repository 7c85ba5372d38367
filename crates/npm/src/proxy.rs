//! Proxy repositories: the remote's packument cached as metadata (`metadataMaxAge`), tarballs
//! fetched on first download and checked against the packument's integrity, `npm audit`
//! passed through. Core's proxy engine does the caching, single flight and stale-on-error.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use arca_core::{
    RepoContext,
    model::{AssetPath, RepoKind, Repository},
    proxy::{ContentCheck, FetchSpec, Fetched, Freshness, Proxy, ProxySettings},
    storage::AssetMeta,
};
use futures_util::StreamExt;
use serde_json::Value;

use crate::{
    error::{NpmError, Result, bad},
    hosted::{check_dist, component},
    names::PkgName,
    packument::Doc,
};

/// A remote packument larger than this is not read (the biggest public ones are tens of MB).
const PACKUMENT_LIMIT: u64 = 256 * 1024 * 1024;
/// Remote packuments read and parsed at once on this node: a large one takes several times its
/// size in memory while it is parsed.
static PARSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// An `npm audit` request body (the lockfile's package list) at most.
const AUDIT_LIMIT: usize = 64 * 1024 * 1024;

/// Parsed remote packuments by content digest, and rendered packuments by revision, base URL
/// and form, so a hot package is neither parsed nor serialised on every request. Per node and
/// keyed by content, so never stale; each map bounded by the bytes it was built from (when
/// full, it starts over).
#[derive(Default)]
pub struct DocCache {
    parsed: Bounded<String, Arc<Doc>>,
    rendered: Bounded<(String, String, bool), bytes::Bytes>,
}

/// A map and the bytes its entries were built from.
type Bounded<K, V> = Mutex<(HashMap<K, V>, u64)>;

const CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn bounded_put<K: std::hash::Hash + Eq, V>(m: &Bounded<K, V>, k: K, size: u64, v: V) {
    if size > CACHE_BYTES / 4 {
        return;
    }
    if let Ok(mut g) = m.lock() {
        if g.1 + size > CACHE_BYTES {
            g.0.clear();
            g.1 = 0;
        }
        g.1 += size;
        g.0.insert(k, v);
    }
}

impl DocCache {
    pub fn get(&self, key: &str) -> Option<Arc<Doc>> {
        self.parsed.lock().ok()?.0.get(key).cloned()
    }

    pub fn put(&self, key: String, size: u64, doc: Arc<Doc>) {
        bounded_put(&self.parsed, key, size, doc);
    }

    pub fn rendered(&self, rev: &str, prefix: &str, abbreviated: bool) -> Option<bytes::Bytes> {
        let g = self.rendered.lock().ok()?;
        g.0.get(&(rev.to_owned(), prefix.to_owned(), abbreviated))
            .cloned()
    }

    pub fn put_rendered(&self, rev: &str, prefix: &str, abbreviated: bool, body: bytes::Bytes) {
        let size = body.len() as u64;
        bounded_put(
            &self.rendered,
            (rev.to_owned(), prefix.to_owned(), abbreviated),
            size,
            body,
        );
    }
}

/// Where a proxy keeps a package's remote packument.
fn packument_path(name: &PkgName) -> Result<AssetPath> {
    AssetPath::parse(&format!("{}package.json", name.dir())).map_err(|e| bad(e.to_string()))
}

/// The remote's packument for `name`, cached; `None` when the remote has no such package.
pub async fn proxy_doc(
    cx: &RepoContext,
    cache: &DocCache,
    repo: &Repository,
    name: &PkgName,
) -> Result<Option<Arc<Doc>>> {
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(bad)?;
    let spec = FetchSpec {
        freshness: Freshness::Metadata,
        url: Some(format!("{}{}", settings.remote, name.escaped())),
        accept: Some("application/json"),
        expect: None,
        authorization: None,
        check: None,
    };
    let meta = AssetMeta {
        content_type: "application/json".into(),
        ..Default::default()
    };
    let arca = &cx.arca;
    let Some(asset) = arca
        .proxy
        .fetch(
            &arca.storage,
            &arca.db,
            repo,
            &packument_path(name)?,
            spec,
            meta,
        )
        .await?
    else {
        return Ok(None);
    };
    let key = asset.checksums.sha256.clone();
    if let Some(d) = cache.get(&key) {
        return Ok(Some(d));
    }
    let _parsing = PARSING
        .acquire()
        .await
        .map_err(|e| NpmError::Upstream(e.to_string()))?;
    // Another request may have parsed it while this one waited.
    if let Some(d) = cache.get(&key) {
        return Ok(Some(d));
    }
    let Some(bytes) = arca.storage.read_small(&asset, PACKUMENT_LIMIT).await? else {
        return Err(NpmError::Upstream(format!(
            "packument of {} is larger than {PACKUMENT_LIMIT} bytes",
            name.full
        )));
    };
    let size = bytes.len() as u64;
    // Parsing a large packument takes a while: off the request thread.
    let parsed = tokio::task::spawn_blocking(move || {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| Doc::from_remote(v, crate::packument::rev_of(&key)))
            .map(|d| (key, d))
    })
    .await
    .map_err(|e| NpmError::Upstream(e.to_string()))?;
    let Some((key, doc)) = parsed else {
        return Err(NpmError::Upstream(format!(
            "the remote's packument of {} is not JSON",
            name.full
        )));
    };
    let doc = Arc::new(doc);
    cache.put(key, size, doc.clone());
    Ok(Some(doc))
}

/// A tarball through a proxy: cached, or fetched from the URL the packument gives, streamed on
/// to the client while it is stored, and checked against its `dist.integrity`/`dist.shasum`
/// before it is recorded (core's streaming proxy: a tarball failing the check is kept nowhere
/// and its download breaks off before the end).
pub async fn proxy_tarball(
    cx: &RepoContext,
    cache: &DocCache,
    repo: &Repository,
    name: &PkgName,
    path: &AssetPath,
) -> Result<Option<Fetched>> {
    let Some(version) = name.version_of(path.file_name()) else {
        return Ok(None);
    };
    let Some(doc) = proxy_doc(cx, cache, repo, name).await? else {
        return Ok(None);
    };
    let Some(manifest) = doc.versions.get(version) else {
        return Ok(None);
    };
    let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
    let Some(url) = dist.get("tarball").and_then(Value::as_str) else {
        return Ok(None);
    };
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(bad)?;
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{}{}", settings.remote, url.trim_start_matches('/'))
    };
    let expected = dist.clone();
    let spec = FetchSpec {
        url: Some(url),
        check: Some(ContentCheck(Arc::new(move |sums| {
            let checked =
                check_dist(&expected, &sums.sha1, &sums.sha512).map_err(|e| e.to_string());
            Box::pin(std::future::ready(checked))
        }))),
        ..FetchSpec::new(Freshness::Content)
    };
    let meta = AssetMeta {
        content_type: "application/octet-stream".into(),
        component: Some(component(name, version)),
        ..Default::default()
    };
    Ok(Proxy::fetch_stream(&cx.arca, repo, path, spec, meta).await?)
}

/// The proxy whose remote answers `npm audit`: the repository itself, or a group's first proxy.
async fn audit_remote(cx: &RepoContext) -> Result<Option<Repository>> {
    Ok(match cx.repo.kind {
        RepoKind::Proxy => Some(cx.repo.clone()),
        RepoKind::Hosted => None,
        RepoKind::Group => arca_core::group::leaf_members(&cx.arca, &cx.repo)
            .await?
            .into_iter()
            .find(|r| r.kind == RepoKind::Proxy),
    })
}

/// `POST /-/npm/v1/security/{advisories/bulk,audits/quick}`: sent to the remote as it came
/// (gzip and all), its answer streamed back.
pub async fn audit(
    cx: &RepoContext,
    req: &HttpRequest,
    tail: &str,
    mut body: web::Payload,
) -> Result<HttpResponse> {
    let Some(repo) = audit_remote(cx).await? else {
        return Err(NpmError::NotFound(format!(
            "repository {} has no remote to audit against",
            cx.repo.name
        )));
    };
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(bad)?;
    if settings.blocked {
        return Err(NpmError::Upstream(format!("{} is blocked", repo.name)));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the request body: {e}")))?;
        if buf.len() + chunk.len() > AUDIT_LIMIT {
            return Err(NpmError::TooLarge(AUDIT_LIMIT as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    let url = format!("{}-/npm/v1/security/{tail}", settings.remote);
    let mut out = cx.arca.proxy.client().post(&url).body(buf.freeze());
    for h in [
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::ACCEPT,
    ] {
        if let Some(v) = req.headers().get(&h).and_then(|v| v.to_str().ok()) {
            out = out.header(h.as_str(), v);
        }
    }
    if let Some(u) = &settings.username {
        out = out.basic_auth(u, settings.password.as_deref());
    }
    let resp = tokio::time::timeout(settings.timeout, out.send())
        .await
        .map_err(|_| NpmError::Upstream(format!("{url}: no answer within {:?}", settings.timeout)))?
        .map_err(|e| NpmError::Upstream(format!("{url}: {e}")))?;
    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut b = HttpResponse::build(status);
    for h in ["content-type", "content-encoding"] {
        if let Some(v) = resp.headers().get(h).and_then(|v| v.to_str().ok()) {
            b.insert_header((h, v.to_owned()));
        }
    }
    Ok(b.streaming(resp.bytes_stream()))
}

/// A search answer from a remote at most.
const SEARCH_LIMIT: usize = 8 * 1024 * 1024;

/// `/-/v1/search` asked of a proxy's remote (not cached: results change): its objects and
/// total.
pub async fn remote_search(
    cx: &RepoContext,
    repo: &Repository,
    query: &[(&str, String)],
) -> Result<(Vec<Value>, u64)> {
    let settings = ProxySettings::from_attrs(&repo.attrs).map_err(bad)?;
    if settings.blocked {
        return Ok((Vec::new(), 0));
    }
    let url = format!("{}-/v1/search", settings.remote);
    let mut out = cx.arca.proxy.client().get(&url).query(query);
    if let Some(u) = &settings.username {
        out = out.basic_auth(u, settings.password.as_deref());
    }
    let resp = tokio::time::timeout(settings.timeout, out.send())
        .await
        .map_err(|_| NpmError::Upstream(format!("{url}: no answer within {:?}", settings.timeout)))?
        .map_err(|e| NpmError::Upstream(format!("{url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(NpmError::Upstream(format!(
            "{url} answered {}",
            resp.status()
        )));
    }
    let mut body = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(c) = body.next().await {
        let c = c.map_err(|e| NpmError::Upstream(format!("{url}: {e}")))?;
        if buf.len() + c.len() > SEARCH_LIMIT {
            return Err(NpmError::Upstream(format!("{url}: answer too large")));
        }
        buf.extend_from_slice(&c);
    }
    let v: Value = serde_json::from_slice(&buf)
        .map_err(|e| NpmError::Upstream(format!("{url}: not JSON: {e}")))?;
    let objects = v
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = v
        .get("total")
        .and_then(Value::as_u64)
        .unwrap_or(objects.len() as u64);
    Ok((objects, total))
}
