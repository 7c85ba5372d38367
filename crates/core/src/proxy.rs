//! Proxy repositories: fetch on miss from the remote, cache, serve from cache after.
//!
//! Shared by every format; a format says only whether a path is metadata (refreshed after
//! `metadataMaxAge`) or content (kept for `contentMaxAge`, forever by default), and what an
//! asset's component is. Here: max ages, the negative cache for upstream 404s, single flight (N
//! concurrent misses of one path, on any nodes, cause one upstream request: `Locks::flight`), conditional revalidation, stale
//! content served when the remote is down, and upstream basic auth.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;
use thiserror::Error;

use crate::{
    blob::{BlobError, PutOptions},
    meta::Db,
    model::{Asset, AssetPath, RepoKind, Repository, now_ms},
    storage::{AssetMeta, Storage, StorageError},
};

/// A proxy repository's settings, read from its Nexus-shaped attributes.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// The remote base URL, ending in `/`.
    pub remote: String,
    /// `None` = never refetch.
    pub content_max_age: Option<Duration>,
    pub metadata_max_age: Option<Duration>,
    /// `None` = no negative cache.
    pub negative_ttl: Option<Duration>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Time allowed for the remote to start answering.
    pub timeout: Duration,
    /// `httpClient.blocked`: never contact the remote.
    pub blocked: bool,
}

/// Longest age taken as given (a thousand years); more is the same. Found by fuzzing: a huge
/// count of minutes overflowed into seconds, and as milliseconds against the clock.
const MAX_MINUTES: i64 = 1000 * 366 * 24 * 60;

/// Minutes as Nexus counts them: negative means forever.
fn minutes(v: Option<&Value>, default: i64) -> Option<Duration> {
    let m = v.and_then(Value::as_i64).unwrap_or(default);
    (m >= 0).then(|| Duration::from_secs(m.min(MAX_MINUTES) as u64 * 60))
}

impl ProxySettings {
    /// Reads `proxy`, `negativeCache` and `httpClient` from a repository's attributes. The
    /// message names the field at fault.
    pub fn from_attrs(attrs: &Value) -> Result<Self, String> {
        let remote = attrs
            .pointer("/proxy/remoteUrl")
            .and_then(Value::as_str)
            .ok_or("proxy.remoteUrl is required")?;
        if !(remote.starts_with("http://") || remote.starts_with("https://")) {
            return Err(format!(
                "proxy.remoteUrl must be an http:// or https:// URL, not {remote:?}"
            ));
        }
        let remote = if remote.ends_with('/') {
            remote.to_owned()
        } else {
            format!("{remote}/")
        };
        let negative_enabled = attrs
            .pointer("/negativeCache/enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let auth = attrs.pointer("/httpClient/authentication");
        let auth_field = |f: &str| {
            auth.and_then(|a| a.get(f))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if let Some(t) = auth_field("type")
            && t != "username"
        {
            return Err(format!(
                "httpClient.authentication.type {t:?} is not supported: use \"username\""
            ));
        }
        let timeout = attrs
            .pointer("/httpClient/connection/timeout")
            .and_then(Value::as_u64)
            .unwrap_or(60);
        if !(1..=3600).contains(&timeout) {
            return Err("httpClient.connection.timeout must be 1 to 3600 seconds".into());
        }
        Ok(Self {
            remote,
            content_max_age: minutes(attrs.pointer("/proxy/contentMaxAge"), -1),
            metadata_max_age: minutes(attrs.pointer("/proxy/metadataMaxAge"), 1440),
            negative_ttl: if negative_enabled {
                minutes(attrs.pointer("/negativeCache/timeToLive"), 1440)
            } else {
                None
            },
            username: auth_field("username"),
            password: auth_field("password"),
            timeout: Duration::from_secs(timeout),
            blocked: attrs
                .pointer("/httpClient/blocked")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// How long a cached path stays fresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Index and metadata files: `metadataMaxAge`.
    Metadata,
    /// Artifacts: `contentMaxAge`.
    Content,
}

/// What to fetch and how: by default `remote + path`, unverified.
#[derive(Clone, Debug)]
pub struct FetchSpec {
    pub freshness: Freshness,
    /// Fetch from this absolute URL instead of `remote + path` (an index that links elsewhere).
    /// Upstream credentials are only sent when it lies under the remote URL.
    pub url: Option<String>,
    /// The `Accept` header to send.
    pub accept: Option<&'static str>,
    /// Refuse (and keep nothing) unless the content has this SHA-256.
    pub expect: Option<crate::model::Digest>,
    /// An `Authorization` value for the remote (a registry's bearer token), sent instead of the
    /// configured Basic credentials, and like them only under the remote URL.
    pub authorization: Option<String>,
    /// The format's own check of the content's digests (npm's SHA-512 integrity, Maven's remote
    /// `.sha1`), run once the bytes are stored and before they are recorded, inside the file's
    /// single flight (so a check that asks the remote asks once per fetch): a refusal keeps
    /// nothing.
    pub check: Option<ContentCheck>,
}

impl FetchSpec {
    pub fn new(freshness: Freshness) -> Self {
        Self {
            freshness,
            url: None,
            accept: None,
            expect: None,
            authorization: None,
            check: None,
        }
    }
}

/// The function of a [`ContentCheck`].
pub type CheckFn = dyn Fn(crate::model::Checksums) -> futures_util::future::BoxFuture<'static, Result<(), String>>
    + Send
    + Sync;

/// See [`FetchSpec::check`]: `Err` says why the content is not the one expected.
#[derive(Clone)]
pub struct ContentCheck(pub std::sync::Arc<CheckFn>);

impl std::fmt::Debug for ContentCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentCheck")
    }
}

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("remote {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("remote {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("remote access is blocked for repository {0}")]
    Blocked(String),
    #[error("repository settings: {0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type FlightKey = (i64, String);

/// What a remote's 404 is remembered under: the path, and the URL asked when the format named
/// one (a docker blob is one path for every image, but each image's remote URL is its own).
fn negative_key(repo: &Repository, path: &AssetPath, spec: &FetchSpec) -> FlightKey {
    match &spec.url {
        Some(url) => (repo.id, format!("{path}\0{url}")),
        None => (repo.id, path.to_string()),
    }
}

/// The most remote 404s a node remembers (per node by design: a miss on another node only
/// costs that node one upstream request).
const NEGATIVE_MAX: usize = 100_000;

/// Files of a known size up to this are stored before they are sent (see `fetch_stream`).
const STREAM_FROM: u64 = 64 * 1024;

/// The proxy engine, one per process.
pub struct Proxy {
    client: reqwest::Client,
    /// (repository id, path) → when the remote's 404 stops counting.
    negative: Mutex<HashMap<FlightKey, Instant>>,
    /// Requests sent to remotes, for tests and metrics.
    pub upstream_requests: AtomicU64,
}

impl Proxy {
    /// The HTTP client trusts the system's certificate store (an intercepting proxy's CA included)
    /// and honours `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Arca/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        Self {
            client,
            negative: Mutex::new(HashMap::new()),
            upstream_requests: AtomicU64::new(0),
        }
    }

    /// Drops what this node remembers of a repository's remote (its negative cache): its
    /// settings changed, here or on another node.
    pub fn forget_repository(&self, id: i64) {
        if let Ok(mut n) = self.negative.lock() {
            n.retain(|(r, _), _| *r != id);
        }
    }

    /// Nexus's "invalidate cache" of a proxy repository, or of every proxy a group holds: cached
    /// files become stale (in the database, so on every node) and the negative cache is
    /// dropped here and, announced, on the other nodes. Hosted repositories are left alone.
    pub async fn invalidate(
        &self,
        db: &Db,
        repo: &Repository,
    ) -> Result<(), crate::meta::MetaError> {
        let proxies = match repo.kind {
            RepoKind::Proxy => vec![repo.clone()],
            RepoKind::Group => crate::group::leaf_members_in(db, repo)
                .await?
                .into_iter()
                .filter(|r| r.kind == RepoKind::Proxy)
                .collect(),
            RepoKind::Hosted => vec![],
        };
        for p in proxies {
            db.expire_cached_assets(p.id).await?;
            self.forget_repository(p.id);
            crate::cluster::announce(db, crate::cluster::Event::Repository(p.id)).await;
        }
        Ok(())
    }

    /// Drops every negative cache entry.
    pub fn forget_all(&self) {
        if let Ok(mut n) = self.negative.lock() {
            n.clear();
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A GET to the remote; credentials only go to URLs under the remote's own.
    fn get(
        &self,
        settings: &ProxySettings,
        url: &str,
        authorization: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        if !url.starts_with(&settings.remote) {
            return req;
        }
        match (authorization, &settings.username) {
            (Some(a), _) => req.header(reqwest::header::AUTHORIZATION, a),
            (None, Some(u)) => req.basic_auth(u, settings.password.as_deref()),
            (None, None) => req,
        }
    }

    /// Remembers a remote's 404 for `ttl`, within [`NEGATIVE_MAX`] entries: remote 404s are as
    /// many as the paths clients make up; when full, expired entries go, and a new one is not
    /// kept while the live ones fill it.
    fn remember_missing(&self, key: FlightKey, ttl: Duration) {
        let Ok(mut n) = self.negative.lock() else {
            return;
        };
        let now = Instant::now();
        if n.len() >= NEGATIVE_MAX {
            n.retain(|_, until| *until > now);
        }
        if n.len() < NEGATIVE_MAX {
            n.insert(key, now + ttl);
        }
    }

    fn negative_hit(&self, key: &FlightKey) -> bool {
        let Ok(mut n) = self.negative.lock() else {
            return false;
        };
        match n.get(key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                n.remove(key);
                false
            }
            None => false,
        }
    }

    /// The cached asset for `path`, fetching or revalidating it from the remote when it is
    /// missing or stale. `Ok(None)` when the remote has no such file. The whole file is
    /// stored before this returns: for what the format reads itself (indexes, metadata).
    pub async fn fetch(
        &self,
        storage: &Storage,
        db: &Db,
        repo: &Repository,
        path: &AssetPath,
        spec: FetchSpec,
        meta: AssetMeta,
    ) -> Result<Option<Asset>, ProxyError> {
        match self.begin(storage, db, repo, path, &spec, meta).await? {
            Begun::Settled(found) => Ok(found),
            Begun::Body(mut b, _flight) => {
                let body = b.response_stream();
                Ok(b.store(storage, repo, path, &spec, body).await?.asset())
            }
        }
    }

    /// The cache's answer, the remote's (not modified, gone, unreachable), or the remote's
    /// body to store, with the file's single flight held.
    async fn begin(
        &self,
        storage: &Storage,
        db: &Db,
        repo: &Repository,
        path: &AssetPath,
        spec: &FetchSpec,
        meta: AssetMeta,
    ) -> Result<Begun, ProxyError> {
        let (settings, cached, flight) = match self.lookup(storage, db, repo, path, spec).await? {
            Lookup::Settled(found) => return Ok(Begun::Settled(found)),
            Lookup::Fetch {
                settings,
                cached,
                flight,
            } => (settings, cached, flight),
        };
        Ok(
            match self
                .request(db, repo, path, &settings, spec, cached, meta)
                .await?
            {
                Remote::Settled(found) => Begun::Settled(found),
                Remote::Body(b) => Begun::Body(b, flight),
            },
        )
    }

    /// Like [`Proxy::fetch`], for content sent on to a client: a file not cached yet streams
    /// to the client as it is written to the cache, so the first byte does not wait for the
    /// last. The last chunk is held back until the copy is stored and verified: a client never
    /// receives a whole file that failed its check (its download breaks off instead). The
    /// caching goes on if the client leaves; the file's single flight is held until it ends.
    pub async fn fetch_stream(
        arca: &actix_web::web::Data<crate::Arca>,
        repo: &Repository,
        path: &AssetPath,
        spec: FetchSpec,
        meta: AssetMeta,
    ) -> Result<Option<Fetched>, ProxyError> {
        let (mut b, flight) = match arca
            .proxy
            .begin(&arca.storage, &arca.db, repo, path, &spec, meta)
            .await?
        {
            Begun::Settled(found) => return Ok(found.map(Fetched::Cached)),
            // A small file gains nothing from streaming: stored first, it is answered after the
            // copy is kept, and a failed check gets a clean error rather than a cut download.
            Begun::Body(mut b, _flight) if b.size.is_some_and(|n| n <= STREAM_FROM) => {
                let body = b.response_stream();
                return Ok(b
                    .store(&arca.storage, repo, path, &spec, body)
                    .await?
                    .asset()
                    .map(Fetched::Cached));
            }
            Begun::Body(b, flight) => (b, flight),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
        let client = Client::new(tx);
        let held = std::sync::Arc::new(Mutex::new(None::<bytes::Bytes>));
        let (tee_client, tee_held) = (client.clone(), held.clone());
        // Each chunk goes on to the client one chunk late (while it listens) and into the cache.
        let body = b
            .response_stream()
            .then(move |chunk| {
                let (client, held) = (tee_client.clone(), tee_held.clone());
                async move {
                    if let Ok(c) = &chunk {
                        let previous = held.lock().ok().and_then(|mut h| h.replace(c.clone()));
                        if let Some(p) = previous {
                            client.send(Ok(p)).await;
                        }
                    }
                    chunk
                }
            })
            .boxed();
        let remote = RemoteBody {
            content_type: b.meta.content_type.clone(),
            size: b.size,
            body: futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed(),
        };
        let (arca, repo, path) = (arca.clone(), repo.clone(), path.clone());
        // On the runtime, not a worker's local set: see `Guard`'s drop.
        tokio::spawn(async move {
            let _flight = flight;
            let stored = b.store(&arca.storage, &repo, &path, &spec, body).await;
            let last = held.lock().ok().and_then(|mut h| h.take());
            match (stored, last) {
                // Only a copy of these very bytes lets the last of them go.
                (Ok(Stored::Fresh(_)), Some(last)) => client.send(Ok(last)).await,
                (Ok(Stored::Fresh(_)), None) => {}
                // Not stored (broken off, failed its check; a stale copy kept instead): the
                // client's download ends short, whatever it received.
                (Ok(Stored::Fallback(_)), _) | (Err(_), _) => {
                    client
                        .send(Err(std::io::Error::other(
                            "the remote's content was not stored; the download is cut short",
                        )))
                        .await
                }
            }
        });
        Ok(Some(Fetched::Remote(remote)))
    }

    /// The cache's answer, or the go-ahead (holding the file's single flight) to ask the remote.
    async fn lookup(
        &self,
        storage: &Storage,
        db: &Db,
        repo: &Repository,
        path: &AssetPath,
        spec: &FetchSpec,
    ) -> Result<Lookup, ProxyError> {
        let settings = ProxySettings::from_attrs(&repo.attrs).map_err(ProxyError::Config)?;
        let max_age = match spec.freshness {
            Freshness::Metadata => settings.metadata_max_age,
            Freshness::Content => settings.content_max_age,
        };
        let fresh = |a: &Asset| {
            max_age.is_none_or(|age| now_ms() - a.last_verified_ms < age.as_millis() as i64)
        };
        let key = negative_key(repo, path, spec);
        let cached = db
            .find_asset(repo.id, path.as_str())
            .await
            .map_err(StorageError::from)?;
        if let Some(a) = &cached
            && fresh(a)
        {
            return Ok(Lookup::Settled(cached));
        }
        if cached.is_none() && self.negative_hit(&key) {
            return Ok(Lookup::Settled(None));
        }
        // One fetch of a file at a time, on this node and across nodes.
        let flight_key = crate::locks::LockKey::new("proxy-fetch", &format!("{}\0{path}", repo.id));
        let flight = storage
            .locks()
            .flight(flight_key)
            .await
            .map_err(StorageError::from)?;
        // Someone else may have fetched it while we waited.
        let cached = db
            .find_asset(repo.id, path.as_str())
            .await
            .map_err(StorageError::from)?;
        Ok(match cached {
            Some(a) if fresh(&a) => Lookup::Settled(Some(a)),
            None if self.negative_hit(&key) => Lookup::Settled(None),
            cached => Lookup::Fetch {
                settings,
                cached,
                flight,
            },
        })
    }

    /// Asks the remote: settled (not modified, gone, unreachable with or without a cached copy
    /// to fall back on) or a body to store.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        db: &Db,
        repo: &Repository,
        path: &AssetPath,
        settings: &ProxySettings,
        spec: &FetchSpec,
        cached: Option<Asset>,
        mut meta: AssetMeta,
    ) -> Result<Remote, ProxyError> {
        let key = negative_key(repo, path, spec);
        if settings.blocked {
            return match cached {
                Some(a) => Ok(Remote::Settled(Some(a))),
                None => Err(ProxyError::Blocked(repo.name.to_string())),
            };
        }
        let url = spec
            .url
            .clone()
            .unwrap_or_else(|| format!("{}{}", settings.remote, path));
        let mut req = self.get(settings, &url, spec.authorization.as_deref());
        if let Some(a) = spec.accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        if let Some(a) = &cached {
            if let Some(etag) = a.attrs.pointer("/remote/etag").and_then(Value::as_str) {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = a
                .attrs
                .pointer("/remote/lastModified")
                .and_then(Value::as_str)
            {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        self.upstream_requests.fetch_add(1, Ordering::Relaxed);
        let unreachable = |reason: String| ProxyError::Unreachable {
            url: url.clone(),
            reason,
        };
        let sent = tokio::time::timeout(settings.timeout, req.send()).await;
        let resp = match sent {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return stale_or(cached, unreachable(e.to_string()), repo).map(Remote::Settled);
            }
            Err(_) => {
                return stale_or(
                    cached,
                    unreachable(format!("no answer within {:?}", settings.timeout)),
                    repo,
                )
                .map(Remote::Settled);
            }
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            if let Some(a) = &cached {
                db.mark_asset_verified(a.id)
                    .await
                    .map_err(StorageError::from)?;
            }
            return Ok(Remote::Settled(cached));
        }
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            if let Some(ttl) = settings.negative_ttl {
                self.remember_missing(key, ttl);
            }
            // The remote dropped it: the cached copy stays servable until someone deletes it.
            return Ok(Remote::Settled(cached));
        }
        if !status.is_success() {
            return stale_or(
                cached,
                ProxyError::Status {
                    url,
                    status: status.as_u16(),
                },
                repo,
            )
            .map(Remote::Settled);
        }
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if meta.content_type.is_empty() {
            meta.content_type = header(reqwest::header::CONTENT_TYPE)
                .unwrap_or_else(|| "application/octet-stream".into());
        }
        let mut attrs = match meta.attrs.take() {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        attrs.insert(
            "remote".into(),
            serde_json::json!({
                "url": url,
                "etag": header(reqwest::header::ETAG),
                "lastModified": header(reqwest::header::LAST_MODIFIED),
            }),
        );
        meta.attrs = Value::Object(attrs);
        Ok(Remote::Body(RemoteFile {
            size: resp.content_length(),
            resp: Some(resp),
            url,
            meta,
            cached,
        }))
    }
}

/// What the cache said before the remote was asked.
// Made and taken apart once per request: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Lookup {
    Settled(Option<Asset>),
    Fetch {
        settings: ProxySettings,
        cached: Option<Asset>,
        flight: crate::locks::Guard,
    },
}

/// What [`Proxy::begin`] found.
// Made and taken apart once per request: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Begun {
    Settled(Option<Asset>),
    Body(RemoteFile, crate::locks::Guard),
}

/// What the remote said.
// Made and taken apart once per request: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Remote {
    Settled(Option<Asset>),
    Body(RemoteFile),
}

/// A remote's 200, its body not read yet.
struct RemoteFile {
    /// Taken once, by [`RemoteFile::response_stream`].
    resp: Option<reqwest::Response>,
    size: Option<u64>,
    url: String,
    meta: AssetMeta,
    cached: Option<Asset>,
}

impl RemoteFile {
    fn response_stream(&mut self) -> crate::blob::ByteStream {
        match self.resp.take() {
            Some(r) => r.bytes_stream().map_err(std::io::Error::other).boxed(),
            None => futures_util::stream::empty().boxed(),
        }
    }

    /// Stores `body` (this file's bytes, perhaps passing a tee) as the cached copy.
    async fn store(
        &self,
        storage: &Storage,
        repo: &Repository,
        path: &AssetPath,
        spec: &FetchSpec,
        body: crate::blob::ByteStream,
    ) -> Result<Stored, ProxyError> {
        let unreachable = |reason: String| ProxyError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        let opts = PutOptions {
            all_checksums: true,
            expect: spec.expect.clone(),
            ..Default::default()
        };
        let cached = self.cached.clone();
        let stored = match storage.stage(repo, body, opts).await {
            Ok(blob) => match match &spec.check {
                Some(c) => (c.0)(blob.checksums.clone()).await,
                None => Ok(()),
            } {
                Err(why) => {
                    storage.discard(&repo.blob_store, &blob).await;
                    return stale_or(
                        cached,
                        unreachable(format!("content check failed: {why}")),
                        repo,
                    )
                    .map(Stored::Fallback);
                }
                Ok(()) => match storage
                    .record(repo, path, blob.clone(), self.meta.clone())
                    .await
                {
                    Ok(a) => Ok(a),
                    Err(e) => {
                        storage.discard(&repo.blob_store, &blob).await;
                        Err(e)
                    }
                },
            },
            Err(e) => Err(e),
        };
        match stored {
            Ok(asset) => {
                tracing::info!(repo = %repo.name, path = %path, size = asset.size, "cached from remote");
                Ok(Stored::Fresh(asset))
            }
            // The remote broke off mid-body: nothing was stored.
            Err(StorageError::Blob(BlobError::Body(e))) => {
                stale_or(cached, unreachable(e.to_string()), repo).map(Stored::Fallback)
            }
            // The remote sent other bytes than its index promised: nothing was stored.
            Err(StorageError::Blob(e @ BlobError::DigestMismatch { .. })) => stale_or(
                cached,
                unreachable(format!("content check failed: {e}")),
                repo,
            )
            .map(Stored::Fallback),
            Err(e) => Err(e.into()),
        }
    }
}

/// What became of a remote body.
enum Stored {
    /// These bytes, stored and verified.
    Fresh(Asset),
    /// Not stored; the stale cached copy (if any) stays what is served.
    Fallback(Option<Asset>),
}

impl Stored {
    fn asset(self) -> Option<Asset> {
        match self {
            Stored::Fresh(a) => Some(a),
            Stored::Fallback(a) => a,
        }
    }
}

/// How long a client may leave a chunk unread before its download is cut: the caching must
/// not wait on a client that stopped reading (it holds the file's single flight).
const CLIENT_STALL: Duration = Duration::from_secs(30);

/// The client's end of a streamed fetch. Once it has left or stalled it gets nothing more (its
/// download ends short) and the caching goes on alone.
#[derive(Clone)]
struct Client {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Client {
    fn new(tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) -> Self {
        Self {
            tx,
            gone: Default::default(),
        }
    }

    async fn send(&self, item: std::io::Result<bytes::Bytes>) {
        if self.gone.load(Ordering::Relaxed) {
            return;
        }
        match tokio::time::timeout(CLIENT_STALL, self.tx.send(item)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => self.gone.store(true, Ordering::Relaxed),
        }
    }
}

/// What [`Proxy::fetch_stream`] found.
// Made and taken apart once per request: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Fetched {
    /// The cached copy (fresh, revalidated, or stale while the remote cannot be reached).
    Cached(Asset),
    /// Coming from the remote now, cached as it streams.
    Remote(RemoteBody),
}

/// A remote file on its way to the client.
pub struct RemoteBody {
    pub content_type: String,
    /// The remote's `Content-Length`, when it sent one.
    pub size: Option<u64>,
    pub body: crate::blob::ByteStream,
}

impl Proxy {
    /// A small text file from a proxy's remote (a checksum side file), not cached; `None` when the
    /// remote has none.
    pub async fn remote_text(
        &self,
        repo: &Repository,
        path: &str,
        limit: usize,
    ) -> Result<Option<String>, ProxyError> {
        let settings = ProxySettings::from_attrs(&repo.attrs).map_err(ProxyError::Config)?;
        let url = format!("{}{}", settings.remote, path);
        let req = self.get(&settings, &url, None);
        self.upstream_requests.fetch_add(1, Ordering::Relaxed);
        let unreachable = |reason: String| ProxyError::Unreachable {
            url: url.clone(),
            reason,
        };
        let resp = match tokio::time::timeout(settings.timeout, req.send()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => return Err(unreachable("timed out".into())),
        };
        if !resp.status().is_success() {
            return Ok(None);
        }
        let mut body = resp.bytes_stream();
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk.map_err(|e| unreachable(e.to_string()))?);
            if out.len() > limit {
                return Ok(None);
            }
        }
        Ok(Some(String::from_utf8_lossy(&out).into_owned()))
    }
}

impl Default for Proxy {
    fn default() -> Self {
        Self::new()
    }
}

/// When the remote fails, a cached copy, however old, beats an error.
fn stale_or(
    cached: Option<Asset>,
    err: ProxyError,
    repo: &Repository,
) -> Result<Option<Asset>, ProxyError> {
    match cached {
        Some(a) => {
            tracing::warn!(repo = %repo.name, path = %a.path, error = %err, "remote failed; serving the cached copy");
            Ok(Some(a))
        }
        None => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_client_is_left_behind() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let client = Client::new(tx);
        client.send(Ok(bytes::Bytes::from_static(b"one"))).await;
        // Nobody reads: the next send gives up after CLIENT_STALL (paused time runs ahead).
        let t0 = tokio::time::Instant::now();
        client.send(Ok(bytes::Bytes::from_static(b"two"))).await;
        assert!(t0.elapsed() >= CLIENT_STALL);
        // From then on nothing waits for it, and it gets nothing more.
        let t1 = tokio::time::Instant::now();
        client.send(Ok(bytes::Bytes::from_static(b"three"))).await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
        assert_eq!(rx.recv().await.unwrap().unwrap().as_ref(), b"one");
        drop(client);
        assert!(rx.recv().await.is_none(), "its download ends short");
    }

    #[test]
    fn the_negative_cache_is_bounded() {
        let p = Proxy::new();
        let key = |i: usize| (1, format!("p/{i}"));
        for i in 0..NEGATIVE_MAX {
            p.remember_missing(key(i), Duration::from_secs(60));
        }
        p.remember_missing(key(NEGATIVE_MAX), Duration::from_secs(60));
        assert_eq!(p.negative.lock().unwrap().len(), NEGATIVE_MAX);
        assert!(
            !p.negative_hit(&key(NEGATIVE_MAX)),
            "full of live entries: not kept"
        );
        // Expired entries make room.
        p.negative
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|until| *until = Instant::now());
        p.remember_missing(key(NEGATIVE_MAX), Duration::from_secs(60));
        assert_eq!(p.negative.lock().unwrap().len(), 1);
        assert!(p.negative_hit(&key(NEGATIVE_MAX)));
    }

    #[test]
    fn missing_files_are_remembered_per_remote_url() {
        let repo = Repository {
            id: 1,
            name: crate::model::RepoName::parse("p").unwrap(),
            format: "docker".into(),
            kind: RepoKind::Proxy,
            online: true,
            blob_store: "default".into(),
            write_policy: None,
            strict_content_type_validation: true,
            members: vec![],
            attrs: serde_json::json!({}),
            created_ms: 0,
            updated_ms: 0,
        };
        let path = AssetPath::parse("blobs/sha256/ab").unwrap();
        let spec = |url: &str| FetchSpec {
            url: Some(url.to_owned()),
            ..FetchSpec::new(Freshness::Content)
        };
        // One blob path, two images: one image's 404 says nothing of the other's.
        assert_ne!(
            negative_key(&repo, &path, &spec("http://r/v2/a/blobs/x")),
            negative_key(&repo, &path, &spec("http://r/v2/b/blobs/x"))
        );
        assert_eq!(
            negative_key(&repo, &path, &FetchSpec::new(Freshness::Content)),
            (1, "blobs/sha256/ab".to_owned())
        );
    }

    #[test]
    fn settings_from_nexus_attrs() {
        let s = ProxySettings::from_attrs(&serde_json::json!({
            "proxy": {"remoteUrl": "https://example.org/m2", "contentMaxAge": -1, "metadataMaxAge": 30},
            "negativeCache": {"enabled": true, "timeToLive": 5},
            "httpClient": {"authentication": {"type": "username", "username": "u", "password": "p"}, "connection": {"timeout": 20}},
        }))
        .unwrap();
        assert_eq!(s.remote, "https://example.org/m2/");
        assert_eq!(s.content_max_age, None);
        assert_eq!(s.metadata_max_age, Some(Duration::from_secs(1800)));
        assert_eq!(s.negative_ttl, Some(Duration::from_secs(300)));
        assert_eq!(s.username.as_deref(), Some("u"));
        assert_eq!(s.timeout, Duration::from_secs(20));
        let off = ProxySettings::from_attrs(&serde_json::json!({
            "proxy": {"remoteUrl": "http://h/"}, "negativeCache": {"enabled": false}}))
        .unwrap();
        assert_eq!(off.negative_ttl, None);
        assert!(
            ProxySettings::from_attrs(&serde_json::json!({"proxy": {"remoteUrl": "ftp://h/"}}))
                .is_err()
        );
        assert!(ProxySettings::from_attrs(&serde_json::json!({})).is_err());
        assert!(ProxySettings::from_attrs(&serde_json::json!({
            "proxy": {"remoteUrl": "http://h/"}, "httpClient": {"authentication": {"type": "ntlm"}}})).is_err());
    }

    #[test]
    fn huge_ages_do_not_overflow() {
        let s = ProxySettings::from_attrs(&serde_json::json!({
            "proxy": {"remoteUrl": "https://h/x", "contentMaxAge": 307_445_734_561_825_861_i64,
                      "metadataMaxAge": i64::MAX},
            "negativeCache": {"timeToLive": i64::MAX}}))
        .unwrap();
        let age = s.content_max_age.unwrap();
        assert_eq!(Some(age), s.metadata_max_age);
        assert!(i64::try_from(age.as_millis()).is_ok());
    }
}
