//! Proxy repositories: talking to a remote registry, with its bearer-token handshake, and
//! pulling blobs through to the client while they are cached.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use arca_core::{
    Arca,
    model::{Asset, AssetPath, Digest, Repository},
    proxy::{FetchSpec, Fetched, Freshness, Proxy, ProxyError, ProxySettings},
    storage::AssetMeta,
};
use bytes::Bytes;
use serde_json::json;

use crate::{
    error::{RegistryError, Result},
    manifest::ACCEPT_ALL,
};

/// (repository id, scope) → the `Authorization` value to send (`None`: no bearer needed), and
/// until when it holds.
type TokenMap = HashMap<(i64, String), (Option<String>, Instant)>;

/// Bearer tokens from remote registries, per (repository, scope).
#[derive(Default)]
pub struct Tokens(Mutex<TokenMap>);

impl Tokens {
    fn get(&self, key: &(i64, String)) -> Option<Option<String>> {
        let map = self.0.lock().ok()?;
        map.get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(t, _)| t.clone())
    }
    fn put(&self, key: (i64, String), token: Option<String>, ttl: Duration) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, (token, Instant::now() + ttl));
        }
    }
    fn forget(&self, key: &(i64, String)) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(key);
        }
    }
}

fn settings(repo: &Repository) -> Result<ProxySettings> {
    ProxySettings::from_attrs(&repo.attrs).map_err(RegistryError::internal)
}

fn unreachable(url: &str, why: impl std::fmt::Display) -> RegistryError {
    RegistryError::unavailable(format!("remote {url}: {why}"))
}

/// `key="value"` pairs of a `WWW-Authenticate: Bearer ...` header.
pub(crate) fn challenge_params(h: &str) -> Option<HashMap<String, String>> {
    let rest = h
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| h.trim().strip_prefix("bearer "))?;
    let mut out = HashMap::new();
    let mut s = rest;
    while let Some((k, v)) = s.split_once('=') {
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (val, tail) = if let Some(q) = v.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = v.find(',').unwrap_or(v.len());
            (&v[..end], &v[end..])
        };
        out.insert(k, val.to_owned());
        s = tail;
    }
    Some(out)
}

/// The `Authorization` value for pulling `image` from the proxy's remote: a bearer token when
/// the remote asks for one, else `None` (core then sends the configured Basic credentials).
async fn authorization(
    arca: &Arca,
    tokens: &Tokens,
    repo: &Repository,
    s: &ProxySettings,
    image: &str,
) -> Result<Option<String>> {
    let key = (repo.id, format!("repository:{image}:pull"));
    if let Some(t) = tokens.get(&key) {
        return Ok(t);
    }
    let ping = format!("{}v2/", s.remote);
    let resp = tokio::time::timeout(s.timeout, arca.proxy.client().get(&ping).send())
        .await
        .map_err(|_| unreachable(&ping, "timed out"))?
        .map_err(|e| unreachable(&ping, e))?;
    let bearer = resp
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(challenge_params);
    let Some(params) = bearer.filter(|_| resp.status() == reqwest::StatusCode::UNAUTHORIZED) else {
        tokens.put(key, None, Duration::from_secs(300));
        return Ok(None);
    };
    let realm = params
        .get("realm")
        .ok_or_else(|| unreachable(&ping, "bearer challenge without realm"))?;
    let mut req = arca
        .proxy
        .client()
        .get(realm)
        .query(&[("scope", key.1.as_str())]);
    if let Some(service) = params.get("service") {
        req = req.query(&[("service", service)]);
    }
    if let Some(u) = &s.username {
        req = req.basic_auth(u, s.password.as_deref());
    }
    let resp = tokio::time::timeout(s.timeout, req.send())
        .await
        .map_err(|_| unreachable(realm, "timed out"))?
        .map_err(|e| unreachable(realm, e))?;
    if !resp.status().is_success() {
        return Err(unreachable(
            realm,
            format!("token endpoint answered HTTP {}", resp.status().as_u16()),
        ));
    }
    let body: serde_json::Value = resp.json().await.map_err(|e| unreachable(realm, e))?;
    let token = body
        .get("token")
        .or_else(|| body.get("access_token"))
        .and_then(|t| t.as_str())
        .ok_or_else(|| unreachable(realm, "no token in the token response"))?;
    let ttl = body
        .get("expires_in")
        .and_then(|v| v.as_u64())
        .unwrap_or(60)
        .saturating_sub(10)
        .max(10);
    let value = format!("Bearer {token}");
    tokens.put(key, Some(value.clone()), Duration::from_secs(ttl));
    Ok(Some(value))
}

/// A request to the remote with auth, retried once with a new token after a 401.
async fn send(
    arca: &Arca,
    tokens: &Tokens,
    repo: &Repository,
    method: Method,
    url: &str,
    image: &str,
    accept: Option<&str>,
) -> Result<reqwest::Response> {
    let s = settings(repo)?;
    if s.blocked {
        return Err(RegistryError::unavailable(format!(
            "remote access is blocked for repository {}",
            repo.name
        )));
    }
    let m =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(RegistryError::internal)?;
    for attempt in 0..2 {
        let auth = authorization(arca, tokens, repo, &s, image).await?;
        let mut req = arca.proxy.client().request(m.clone(), url);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        req = match (auth, &s.username) {
            (Some(a), _) => req.header(reqwest::header::AUTHORIZATION, a),
            (None, Some(u)) => req.basic_auth(u, s.password.as_deref()),
            _ => req,
        };
        arca.proxy
            .upstream_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = tokio::time::timeout(s.timeout, req.send())
            .await
            .map_err(|_| unreachable(url, "timed out"))?
            .map_err(|e| unreachable(url, e))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
            tokens.forget(&(repo.id, format!("repository:{image}:pull")));
            continue;
        }
        return Ok(resp);
    }
    Err(unreachable(url, "unauthorized"))
}

/// A manifest of a proxy repository: by digest from the cache forever, by tag refreshed after
/// `metadataMaxAge`. `None` when the remote has none.
pub async fn manifest(
    arca: &Arca,
    tokens: &Tokens,
    repo: &Repository,
    image: &str,
    reference: &str,
) -> Result<Option<Asset>> {
    let path = AssetPath::parse(&crate::paths::manifest(image, reference))
        .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
    let by_digest = crate::names::is_digest(reference);
    if by_digest && let Some(a) = arca.db.find_asset(repo.id, path.as_str()).await? {
        return Ok(Some(a));
    }
    let s = settings(repo)?;
    for attempt in 0..2 {
        // A remote that cannot be reached still lets the cached copy be served (core decides).
        let auth = match authorization(arca, tokens, repo, &s, image).await {
            Ok(a) => a,
            Err(_) if !s.blocked => None,
            Err(e) => return Err(e),
        };
        let mut spec = FetchSpec::new(if by_digest {
            Freshness::Content
        } else {
            Freshness::Metadata
        });
        spec.accept = Some(ACCEPT_ALL);
        spec.authorization = auth;
        if by_digest {
            spec.expect = crate::names::parse_digest(reference).ok();
        }
        let meta = AssetMeta {
            attrs: json!({ "kind": "manifest" }),
            component: Some(crate::paths::component(image, reference)),
            ..Default::default()
        };
        match arca
            .proxy
            .fetch(&arca.storage, &arca.db, repo, &path, spec, meta)
            .await
        {
            Err(ProxyError::Status { status: 401, .. }) if attempt == 0 => {
                tokens.forget(&(repo.id, format!("repository:{image}:pull")));
            }
            Ok(Some(a)) if !by_digest => {
                // Clients pull by tag, then by digest: keep the digest too, so an image stays
                // pullable when the remote goes away.
                let dpath = AssetPath::parse(&crate::paths::manifest(
                    image,
                    &format!("sha256:{}", a.checksums.sha256),
                ))
                .map_err(|e| RegistryError::internal(e.to_string()))?;
                if arca.db.find_asset(repo.id, dpath.as_str()).await?.is_none() {
                    let meta = AssetMeta {
                        content_type: a.content_type.clone(),
                        attrs: a.attrs.clone(),
                        component: Some(crate::paths::component(image, dpath.file_name())),
                        ..Default::default()
                    };
                    arca.storage.copy_asset(&a, repo, &dpath, meta).await?;
                }
                return Ok(Some(a));
            }
            Ok(a) => return Ok(a),
            Err(ProxyError::Storage(e)) => return Err(e.into()),
            Err(e) => return Err(RegistryError::unavailable(e)),
        }
    }
    Ok(None)
}

/// A blob of a proxy repository not yet cached, through core's streaming proxy: sent to the
/// client while it is written to the cache and verified against its digest (a bad copy is not
/// kept, and its download breaks off before the end), one fetch per blob across nodes, the
/// remote's 404 remembered. `None` when the remote has no such blob. A HEAD asks the remote
/// and caches nothing.
pub async fn blob(
    arca: &web::Data<Arca>,
    tokens: &Tokens,
    req: &HttpRequest,
    repo: &Repository,
    image: &str,
    digest: &Digest,
) -> Result<Option<Blob>> {
    let s = settings(repo)?;
    let url = format!("{}v2/{image}/blobs/{digest}", s.remote);
    if req.method() == Method::HEAD {
        return head_blob(arca, tokens, repo, image, digest, &url).await;
    }
    let path = AssetPath::parse(&crate::paths::blob(digest))
        .map_err(|e| RegistryError::internal(e.to_string()))?;
    for attempt in 0..2 {
        // A remote that cannot be reached still lets a cached copy be served (core decides).
        let auth = match authorization(arca, tokens, repo, &s, image).await {
            Ok(a) => a,
            Err(_) if !s.blocked => None,
            Err(e) => return Err(e),
        };
        let spec = FetchSpec {
            url: Some(url.clone()),
            expect: Some(digest.clone()),
            authorization: auth,
            ..FetchSpec::new(Freshness::Content)
        };
        let meta = AssetMeta {
            content_type: "application/octet-stream".into(),
            ..Default::default()
        };
        match Proxy::fetch_stream(arca, repo, &path, spec, meta).await {
            Err(ProxyError::Status { status: 401, .. }) if attempt == 0 => {
                tokens.forget(&(repo.id, format!("repository:{image}:pull")));
            }
            Ok(Some(Fetched::Cached(a))) => return Ok(Some(Blob::Cached(Box::new(a)))),
            Ok(Some(Fetched::Remote(r))) => return Ok(Some(Blob::Response(remote(digest, r)))),
            Ok(None) => return Ok(None),
            Err(ProxyError::Storage(e)) => return Err(e.into()),
            Err(e) => return Err(RegistryError::unavailable(e)),
        }
    }
    Err(unreachable(&url, "unauthorized"))
}

/// What [`blob`] found: a cached copy to serve, or the answer streaming from the remote.
pub enum Blob {
    Cached(Box<Asset>),
    Response(HttpResponse),
}

/// The remote's blob on its way: the registry's headers on core's streaming body.
fn remote(digest: &Digest, r: arca_core::proxy::RemoteBody) -> HttpResponse {
    let mut out = HttpResponse::Ok();
    out.content_type("application/octet-stream")
        .insert_header(("Docker-Content-Digest", digest.to_string()))
        .insert_header(("ETag", format!("\"{digest}\"")));
    match r.size {
        Some(n) => {
            out.no_chunking(n);
            out.body(actix_web::body::SizedStream::new(n, r.body))
        }
        None => out.streaming(r.body),
    }
}

async fn head_blob(
    arca: &Arca,
    tokens: &Tokens,
    repo: &Repository,
    image: &str,
    digest: &Digest,
    url: &str,
) -> Result<Option<Blob>> {
    let resp = send(arca, tokens, repo, Method::HEAD, url, image, None).await?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(unreachable(url, format!("HTTP {}", resp.status().as_u16())));
    }
    let mut out = HttpResponse::Ok();
    out.content_type("application/octet-stream")
        .insert_header(("Docker-Content-Digest", digest.to_string()))
        .insert_header(("ETag", format!("\"{digest}\"")));
    Ok(Some(Blob::Response(match resp.content_length() {
        Some(n) => {
            out.no_chunking(n);
            out.body(actix_web::body::SizedStream::new(
                n,
                futures_util::stream::empty::<std::result::Result<Bytes, std::io::Error>>(),
            ))
        }
        None => out.finish(),
    })))
}

/// The remote's tags of `image`; `None` when the remote cannot tell.
pub async fn tags(
    arca: &Arca,
    tokens: &Tokens,
    repo: &Repository,
    image: &str,
) -> Option<Vec<String>> {
    let s = settings(repo).ok()?;
    let url = format!("{}v2/{image}/tags/list", s.remote);
    let resp = send(arca, tokens, repo, Method::GET, &url, image, None)
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body: serde_json::Value = resp.json().await.ok()?;
    Some(
        body.get("tags")?
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn challenge() {
        let p = super::challenge_params(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        )
        .expect("params");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
        assert!(super::challenge_params("Basic realm=\"x\"").is_none());
    }
}
