//! The S3 blob store (any S3-compatible server), on `object_store`. Keys under the prefix:
//! - `blobs/sha256/ab/<hex>`: blobs, written only once their digest checked out;
//! - `tmp/<uuid>`: a put whose digest is not known beforehand, copied to its address once hashed;
//! - `uploads/<id>/begun`, `uploads/<id>/part-<offset>`: a resumable upload, one object per
//!   appended chunk, streamed into its blob at commit.
//!
//! Multipart uploads that a crash leaves behind are invisible and not listable here: give the
//! bucket a lifecycle rule that aborts incomplete multipart uploads after a day.
//!
//! Every node may open the same bucket and prefix: an upload's state is its objects (its size
//! is the sum of its parts, listed on each call), so any node continues or commits an upload
//! another began, and the commit always hashes the parts it streams. Nothing is removed when a
//! store is opened; temp objects and idle uploads go by age only.

use std::{
    collections::HashMap,
    fmt,
    hash::{Hash, Hasher},
    io,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    PutPayloadMut, RetryConfig, WriteMultipart, aws::AmazonS3Builder, path::Path,
};
use serde::{Deserialize, Serialize};

use super::{
    BlobBody, BlobError, BlobRef, BlobStore, ByteRange, ByteStream, MultiHasher, PlaceHook,
    PutOptions,
};
use crate::model::Digest;

/// Tests that need an S3 server read a bucket configuration (the JSON of [`S3Config`]) from this
/// variable and skip when it is unset; `scripts/test.sh` starts a server and sets it.
pub const S3_TEST_ENV: &str = "ARCA_TEST_S3";

/// Part size of multipart uploads: S3 wants at least 5 MiB for every part but the last and allows
/// 10,000 parts, so objects of up to 80 GiB.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading at once per write; with the part being filled, a write holds at most about
/// 24 MiB however large the object.
const PARTS_IN_FLIGHT: usize = 2;
/// S3's limit for a server-side copy; larger temp objects are streamed to their place.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// Appends and commits of one upload are serialised on this node by one of these.
const LOCK_STRIPES: usize = 64;

/// An S3 blob store's settings, shaped as Nexus's `bucketConfiguration` (the part of
/// `POST /v1/blobstores/s3` that describes the bucket); stored as the blob store's `attributes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Config {
    pub bucket: S3Bucket,
    /// Static credentials; without them the instance's (EC2/ECS metadata) are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_security: Option<S3BucketSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_bucket_connection: Option<S3Connection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Bucket {
    pub name: String,
    /// An AWS region, or `DEFAULT` (us-east-1). Other servers may want their own (Garage: `garage`).
    pub region: String,
    /// Key prefix of everything the store writes (`a/b`, `a/b/`); empty for the bucket's root.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3BucketSecurity {
    pub access_key_id: String,
    /// Never echoed by the REST API, so an update may leave it out to keep the stored one.
    #[serde(default)]
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// An IAM role to assume: not supported, so it must be absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Keeps secrets out of logs.
impl fmt::Debug for S3BucketSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BucketSecurity")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("role", &self.role)
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Connection {
    /// For S3-compatible servers: `https://host[:port]`, or `http://` (e.g. on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`. IP-address and single-label hosts
    /// (`localhost`) cannot carry the bucket, so they always get path style.
    #[serde(default)]
    pub force_path_style: bool,
    /// Accepted for Nexus's sake; requests are always signed with SigV4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_pool_size: Option<u32>,
}

impl S3Config {
    /// Parses a blob store row's `attributes`: the bucket configuration itself, or a Nexus
    /// blob store body that holds it as `bucketConfiguration`.
    pub fn from_attributes(json: &str) -> Result<Self, BlobError> {
        let mut v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| BlobError::Config(format!("S3 attributes are not JSON: {e}")))?;
        if let Some(inner) = v.get_mut("bucketConfiguration") {
            v = inner.take();
        }
        serde_json::from_value(v).map_err(|e| BlobError::Config(format!("S3 attributes: {e}")))
    }
}

pub struct S3BlobStore {
    name: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
    /// `""` or `a/b/`.
    prefix: String,
    locks: Vec<tokio::sync::Mutex<()>>,
    /// Writes that went multipart (bodies of at least one part), for tests and debugging.
    multipart_writes: AtomicU64,
}

fn config_error(msg: impl Into<String>) -> BlobError {
    BlobError::Config(msg.into())
}

fn remote(op: &'static str) -> impl FnOnce(object_store::Error) -> BlobError {
    move |e| BlobError::Remote {
        op,
        source: Box::new(e),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `a/b/` from `/a/b`, `a/b/` or `a/b`; `""` from `""`. Only plain characters, so keys need no
/// escaping and mean the same to every S3 tool.
fn normalize_prefix(p: &str) -> Result<String, BlobError> {
    let p = p.trim().trim_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if !plain || p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(config_error(format!(
            "prefix {p:?}: use letters, digits, '-', '_', '.' and '/' between non-empty segments"
        )));
    }
    Ok(format!("{p}/"))
}

impl S3BlobStore {
    /// Builds the client for `cfg`. No request is made: an unreachable server or bad credentials
    /// show in [`Self::verify`] and [`BlobStore::healthy`]; a configuration that cannot work
    /// (no bucket, bad endpoint URL, a role to assume) is an error here.
    pub fn connect(name: &str, cfg: &S3Config) -> Result<Self, BlobError> {
        // object_store's reqwest has rustls without a bundled crypto provider: use ring, as the
        // rest of Arca does. An error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let bucket = cfg.bucket.name.trim();
        if bucket.is_empty() {
            return Err(config_error("the bucket name is empty"));
        }
        let region = match cfg.bucket.region.trim() {
            "" | "DEFAULT" | "default" => "us-east-1",
            r => r,
        };
        let prefix = normalize_prefix(&cfg.bucket.prefix)?;
        let conn = cfg.advanced_bucket_connection.clone().unwrap_or_default();

        // A large blob may take long to download: no whole-request timeout, but a read that
        // stalls for a minute fails.
        let mut client = ClientOptions::new()
            .with_timeout_disabled()
            .with_read_timeout(Duration::from_secs(60))
            .with_connect_timeout(Duration::from_secs(5));
        if let Some(n) = conn.max_connection_pool_size.filter(|n| *n > 0) {
            client = client.with_pool_max_idle_per_host(n as usize);
        }
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(region)
            // A few quick retries: a bad endpoint must fail a create request or a health check
            // within seconds, not after object_store's default three minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                backoff: Default::default(),
            });
        if let Some(sec) = &cfg.bucket_security {
            if non_empty(&sec.role).is_some() {
                return Err(config_error(
                    "assuming an IAM role is not supported; give an access key instead",
                ));
            }
            if !sec.access_key_id.trim().is_empty() {
                if sec.secret_access_key.is_empty() {
                    return Err(config_error(
                        "bucketSecurity.secretAccessKey is required with an accessKeyId",
                    ));
                }
                b = b
                    .with_access_key_id(sec.access_key_id.trim())
                    .with_secret_access_key(&sec.secret_access_key);
                if let Some(t) = non_empty(&sec.session_token) {
                    b = b.with_token(t);
                }
            }
        }
        match non_empty(&conn.endpoint) {
            None => b = b.with_virtual_hosted_style_request(!conn.force_path_style),
            Some(ep) => {
                let mut url = url::Url::parse(ep)
                    .map_err(|e| config_error(format!("endpoint {ep:?}: {e}")))?;
                match url.scheme() {
                    "https" => {}
                    "http" => client = client.with_allow_http(true),
                    s => {
                        return Err(config_error(format!(
                            "endpoint {ep:?}: {s} is neither http nor https"
                        )));
                    }
                }
                let domain = match url.host() {
                    Some(url::Host::Domain(d)) if d.contains('.') => Some(d.to_owned()),
                    _ => None,
                };
                let virtual_hosted = !conn.force_path_style && domain.is_some();
                if let (true, Some(d)) = (virtual_hosted, domain) {
                    // object_store wants the bucket in a virtual-hosted endpoint already.
                    url.set_host(Some(&format!("{bucket}.{d}")))
                        .map_err(|e| config_error(format!("endpoint {ep:?}: {e}")))?;
                }
                b = b
                    .with_endpoint(url.as_str().trim_end_matches('/'))
                    .with_virtual_hosted_style_request(virtual_hosted);
            }
        }
        let store = b
            .with_client_options(client)
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            bucket: bucket.to_owned(),
            store: Arc::new(store),
            prefix,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            multipart_writes: AtomicU64::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that the bucket answers these credentials and takes writes: one listing, and a
    /// small object written and removed. For creating a store through the API, and at start.
    pub async fn verify(&self) -> Result<(), BlobError> {
        self.store
            .list_with_delimiter(Some(&self.key("tmp")))
            .await
            .map_err(remote("listing the bucket"))?;
        let probe = self.key(&format!("tmp/probe-{}", uuid::Uuid::new_v4()));
        self.store
            .put(&probe, PutPayload::from_static(b"arca"))
            .await
            .map_err(remote("writing a probe object"))?;
        self.store
            .delete(&probe)
            .await
            .map_err(remote("deleting a probe object"))?;
        Ok(())
    }

    fn key(&self, rest: &str) -> Path {
        Path::from(format!("{}{rest}", self.prefix))
    }

    fn blob_key(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.key(&format!("blobs/sha256/{}/{hex}", &hex[0..2]))
    }

    /// The folder of an upload; ids are ours (UUIDs), so anything else is unknown, never a key.
    fn upload_dir(&self, id: &str) -> Result<Path, BlobError> {
        if id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            Ok(self.key(&format!("uploads/{id}")))
        } else {
            Err(BlobError::UploadUnknown(id.to_owned()))
        }
    }

    fn lock_for(&self, id: &str) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        &self.locks[(h.finish() as usize) % LOCK_STRIPES]
    }

    fn writer(&self, path: Path) -> ObjectWriter {
        ObjectWriter {
            store: self.store.clone(),
            path,
            buf: PutPayloadMut::new(),
            multipart: None,
            written: 0,
        }
    }

    async fn finish(&self, w: ObjectWriter) -> Result<(), BlobError> {
        if w.finish().await.map_err(remote("completing an upload"))? {
            self.multipart_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn head_size(&self, key: &Path) -> Result<Option<u64>, BlobError> {
        match self.store.head(key).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote("reading object metadata")(e)),
        }
    }

    async fn list(&self, dir: &Path) -> Result<Vec<ObjectMeta>, BlobError> {
        self.store
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(remote("listing objects"))
    }

    /// Deletes `keys`, logging failures (what is left is garbage that the next expiry removes).
    async fn delete_all(&self, keys: impl IntoIterator<Item = Path>) {
        for k in keys {
            match self.store.delete(&k).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(store = %self.name, key = %k, error = %e, "cannot delete"),
            }
        }
    }

    /// A put whose digest is known: the blob's own key is written, since an object becomes
    /// visible only when its upload completes, which happens only once the digest checked out.
    async fn put_expected(
        &self,
        body: ByteStream,
        opts: PutOptions,
        expect: Digest,
    ) -> Result<BlobRef, BlobError> {
        let dest = self.blob_key(&expect);
        let exists = self.head_size(&dest).await?.is_some();
        // Stored already: the body is only read, to verify it and compute its checksums;
        // unless a hook must see the content placed (the copy there may go meanwhile), when it
        // is written again, equal bytes over equal bytes.
        let write = !exists || opts.before_place.is_some();
        let mut out = write.then(|| self.writer(dest));
        let mut hasher = MultiHasher::new(opts.all_checksums);
        let size = match drain(body, out.as_mut(), opts.max_size, &mut hasher).await {
            Ok(n) => n,
            Err(e) => {
                abort(out).await;
                return Err(e);
            }
        };
        let (digest, checksums) = hasher.finish();
        if digest != expect {
            abort(out).await;
            return Err(BlobError::DigestMismatch {
                expected: expect,
                actual: digest,
            });
        }
        let _entered = match PlaceHook::enter(&opts.before_place, &digest).await {
            Ok(e) => e,
            Err(e) => {
                abort(out).await;
                return Err(e);
            }
        };
        if let Some(w) = out {
            self.finish(w).await?;
        }
        Ok(BlobRef {
            digest,
            size,
            checksums,
            created: !exists,
        })
    }

    /// A put whose digest shows only at the end: into `tmp/`, then copied to its address.
    async fn put_unknown(&self, body: ByteStream, opts: PutOptions) -> Result<BlobRef, BlobError> {
        let tmp = self.key(&format!("tmp/{}", uuid::Uuid::new_v4()));
        let mut out = Some(self.writer(tmp.clone()));
        let mut hasher = MultiHasher::new(opts.all_checksums);
        let size = match drain(body, out.as_mut(), opts.max_size, &mut hasher).await {
            Ok(n) => n,
            Err(e) => {
                abort(out).await;
                return Err(e);
            }
        };
        let (digest, checksums) = hasher.finish();
        if let Some(w) = out {
            self.finish(w).await?;
        }
        let guard = TempObject {
            store: self.store.clone(),
            path: Some(tmp.clone()),
        };
        let _entered = PlaceHook::enter(&opts.before_place, &digest).await?;
        let dest = self.blob_key(&digest);
        let created = if self.head_size(&dest).await?.is_some() {
            false // identical content stored already; the temp copy goes
        } else {
            self.place(&tmp, &dest, size).await?;
            true
        };
        guard.remove().await;
        Ok(BlobRef {
            digest,
            size,
            checksums,
            created,
        })
    }

    /// Copies a verified temp object to its address (a concurrent identical put just writes
    /// the same bytes again).
    async fn place(&self, tmp: &Path, dest: &Path, size: u64) -> Result<(), BlobError> {
        if size <= MAX_COPY {
            return self
                .store
                .copy(tmp, dest)
                .await
                .map_err(remote("copying a temp object"));
        }
        let mut body = self
            .store
            .get(tmp)
            .await
            .map_err(remote("reading a temp object"))?
            .into_stream();
        let mut w = self.writer(dest.clone());
        while let Some(chunk) = body.next().await {
            let step = match chunk {
                Ok(c) => w.write(c).await.map_err(remote("writing a blob")),
                Err(e) => Err(remote("reading a temp object")(e)),
            };
            if let Err(e) = step {
                abort(Some(w)).await;
                return Err(e);
            }
        }
        self.finish(w).await
    }

    /// The upload's parts in order and its size; `UploadUnknown` unless it was begun.
    async fn upload_parts(&self, id: &str) -> Result<(Vec<Path>, u64), BlobError> {
        let dir = self.upload_dir(id)?;
        let mut objects = self.list(&dir).await?;
        if !objects
            .iter()
            .any(|m| m.location.filename() == Some("begun"))
        {
            return Err(BlobError::UploadUnknown(id.to_owned()));
        }
        // Offsets are zero-padded, so the names sort in upload order.
        objects.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        let mut size = 0;
        let mut parts = vec![];
        for m in objects {
            let Some(offset) = m
                .location
                .filename()
                .and_then(|f| f.strip_prefix("part-"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if offset != size {
                return Err(BlobError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("upload {id}: a part at {offset} does not follow on from {size}"),
                )));
            }
            size += m.size;
            parts.push(m.location);
        }
        Ok((parts, size))
    }

    /// Removes all objects of an upload; returns whether there were any.
    async fn remove_upload(&self, dir: &Path) -> Result<bool, BlobError> {
        let keys: Vec<Path> = self
            .list(dir)
            .await?
            .into_iter()
            .map(|m| m.location)
            .collect();
        let any = !keys.is_empty();
        self.delete_all(keys).await;
        Ok(any)
    }

    #[cfg(test)]
    fn multipart_writes(&self) -> u64 {
        self.multipart_writes.load(Ordering::Relaxed)
    }
}

/// Reads `body` to its end through the hashers into `out` (when given), within `max` bytes.
async fn drain(
    mut body: ByteStream,
    mut out: Option<&mut ObjectWriter>,
    max: Option<u64>,
    hasher: &mut MultiHasher,
) -> Result<u64, BlobError> {
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        size += chunk.len() as u64;
        if let Some(max) = max
            && size > max
        {
            return Err(BlobError::TooLarge { max });
        }
        hasher.update(&chunk);
        if let Some(w) = out.as_deref_mut() {
            w.write(chunk).await.map_err(remote("uploading"))?;
        }
    }
    Ok(size)
}

async fn abort(w: Option<ObjectWriter>) {
    if let Some(w) = w {
        w.abort().await;
    }
}

/// Streams bytes into one object: a single PUT when they fit in a part, a multipart upload
/// otherwise. Nothing is visible until `finish`; `abort` (or dropping it) leaves nothing.
/// Like object_store's `BufWriter`, but it never panics on a use after an error.
struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    path: Path,
    buf: PutPayloadMut,
    multipart: Option<WriteMultipart>,
    written: u64,
}

impl ObjectWriter {
    async fn write(&mut self, chunk: Bytes) -> object_store::Result<()> {
        self.written += chunk.len() as u64;
        if let Some(w) = &mut self.multipart {
            // Back-pressure: the body is not read faster than parts are uploaded.
            w.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            w.put(chunk);
            return Ok(());
        }
        self.buf.push(chunk);
        if self.buf.content_length() >= PART_SIZE {
            let upload = self.store.put_multipart(&self.path).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            for c in std::mem::take(&mut self.buf).freeze() {
                w.put(c);
            }
            self.multipart = Some(w);
        }
        Ok(())
    }

    /// Makes the object visible; returns whether it went multipart.
    async fn finish(mut self) -> object_store::Result<bool> {
        match self.multipart.take() {
            // `WriteMultipart::finish` aborts the upload itself when it fails.
            Some(w) => w.finish().await.map(|_| true),
            None => {
                let body = std::mem::take(&mut self.buf).freeze();
                self.store.put(&self.path, body).await.map(|_| false)
            }
        }
    }

    async fn abort(mut self) {
        if let Some(w) = self.multipart.take()
            && let Err(e) = w.abort().await
        {
            tracing::warn!(key = %self.path, error = %e, "cannot abort a multipart upload");
        }
    }
}

/// A write dropped midway (the request went away) aborts its multipart upload in the background.
impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Some(w) = self.multipart.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = w.abort().await;
            });
        }
    }
}

/// A temp object that goes whatever happens: removed by `remove`, or in the background when
/// dropped (an error or a cancelled request).
struct TempObject {
    store: Arc<dyn ObjectStore>,
    path: Option<Path>,
}

impl TempObject {
    async fn remove(mut self) {
        if let Some(p) = self.path.take()
            && let Err(e) = self.store.delete(&p).await
        {
            tracing::warn!(key = %p, error = %e, "cannot delete a temp object");
        }
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        if let Some(p) = self.path.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let store = self.store.clone();
            rt.spawn(async move {
                let _ = store.delete(&p).await;
            });
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, body: ByteStream, opts: PutOptions) -> Result<BlobRef, BlobError> {
        match opts.expect.clone() {
            Some(expect) => self.put_expected(body, opts, expect).await,
            None => self.put_unknown(body, opts).await,
        }
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobBody, BlobError> {
        let key = self.blob_key(digest);
        let not_found = |e: object_store::Error| match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound(digest.clone()),
            e => remote("reading a blob")(e),
        };
        let (opts, range) = match range {
            None => (GetOptions::default(), None),
            Some(r) => {
                // Resolved against the size first, so an unsatisfiable range gets our error
                // rather than whatever the server makes of it.
                let size = self
                    .head_size(&key)
                    .await?
                    .ok_or_else(|| BlobError::NotFound(digest.clone()))?;
                let (a, b) = r
                    .resolve(size)
                    .ok_or(BlobError::RangeNotSatisfiable { size })?;
                let opts = GetOptions {
                    range: Some(GetRange::Bounded(a..b + 1)),
                    ..Default::default()
                };
                (opts, Some((a, b)))
            }
        };
        let res = self.store.get_opts(&key, opts).await.map_err(not_found)?;
        let size = res.meta.size;
        let stream = res.into_stream().map_err(io::Error::from).boxed();
        Ok(BlobBody {
            size,
            range,
            stream,
        })
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        self.head_size(&self.blob_key(digest)).await
    }

    async fn delete(&self, digest: &Digest) -> Result<bool, BlobError> {
        // S3 deletes absent keys without complaint; the answer needs a look first.
        let key = self.blob_key(digest);
        if self.head_size(&key).await?.is_none() {
            return Ok(false);
        }
        match self.store.delete(&key).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(remote("deleting a blob")(e)),
        }
    }

    fn local_path(&self, _digest: &Digest) -> Option<PathBuf> {
        None
    }

    async fn healthy(&self) -> bool {
        match self.store.list_with_delimiter(Some(&self.key("tmp"))).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(store = %self.name, bucket = %self.bucket, error = %e, "S3 blob store unreachable");
                false
            }
        }
    }

    async fn begin_upload(&self) -> Result<String, BlobError> {
        let id = uuid::Uuid::new_v4().to_string();
        let marker = self.key(&format!("uploads/{id}/begun"));
        self.store
            .put(&marker, PutPayload::default())
            .await
            .map_err(remote("beginning an upload"))?;
        Ok(id)
    }

    /// Each chunk becomes one object `part-<offset>`; a chunk that fails midway never completes
    /// its object, which is the rollback.
    async fn append_upload(
        &self,
        id: &str,
        offset: Option<u64>,
        mut body: ByteStream,
        max_size: Option<u64>,
    ) -> Result<u64, BlobError> {
        let _lock = self.lock_for(id).lock().await;
        let (_, have) = self.upload_parts(id).await?;
        if let Some(got) = offset
            && got != have
        {
            return Err(BlobError::OffsetMismatch { have, got });
        }
        let dir = self.upload_dir(id)?;
        let mut w = self.writer(Path::from(format!("{dir}/part-{have:020}")));
        let mut size = have;
        while let Some(chunk) = body.next().await {
            let step = match chunk {
                Err(e) => Err(BlobError::Body(e)),
                Ok(c) => {
                    size += c.len() as u64;
                    match max_size {
                        Some(max) if size > max => Err(BlobError::TooLarge { max }),
                        _ => w.write(c).await.map_err(remote("uploading a chunk")),
                    }
                }
            };
            if let Err(e) = step {
                w.abort().await;
                return Err(e);
            }
        }
        // An empty chunk leaves no part behind.
        if w.written > 0 {
            self.finish(w).await?;
        }
        Ok(size)
    }

    async fn upload_size(&self, id: &str) -> Result<u64, BlobError> {
        Ok(self.upload_parts(id).await?.1)
    }

    /// Streams the parts, one after another, through the same verified write as a put with an
    /// expected digest: the blob appears only if the digest matches, and memory stays at a few
    /// parts however large the upload. (S3 cannot concatenate objects of under 5 MiB itself.)
    async fn commit_upload(&self, id: &str, expect: &Digest) -> Result<BlobRef, BlobError> {
        let _lock = self.lock_for(id).lock().await;
        let (parts, _) = self.upload_parts(id).await?;
        let store = self.store.clone();
        let body = stream::iter(parts)
            .then(move |key| {
                let store = store.clone();
                async move { store.get(&key).await.map(|r| r.into_stream()) }
            })
            .try_flatten()
            .map_err(io::Error::from)
            .boxed();
        let opts = PutOptions {
            expect: Some(expect.clone()),
            ..Default::default()
        };
        let dir = self.upload_dir(id)?;
        match self.put_expected(body, opts, expect.clone()).await {
            Ok(r) => {
                self.remove_upload(&dir).await?;
                Ok(r)
            }
            Err(e @ BlobError::DigestMismatch { .. }) => {
                self.remove_upload(&dir).await?;
                Err(e)
            }
            // The "body" here is our own parts: a failure to read them is the store's.
            Err(BlobError::Body(e)) => Err(BlobError::Remote {
                op: "reading an upload's parts",
                source: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    }

    async fn commit_upload_unverified(&self, id: &str) -> Result<BlobRef, BlobError> {
        let _lock = self.lock_for(id).lock().await;
        let (parts, _) = self.upload_parts(id).await?;
        let store = self.store.clone();
        let body = stream::iter(parts)
            .then(move |key| {
                let store = store.clone();
                async move { store.get(&key).await.map(|r| r.into_stream()) }
            })
            .try_flatten()
            .map_err(io::Error::from)
            .boxed();
        let dir = self.upload_dir(id)?;
        match self.put_unknown(body, PutOptions::default()).await {
            Ok(r) => {
                self.remove_upload(&dir).await?;
                Ok(r)
            }
            Err(BlobError::Body(e)) => Err(BlobError::Remote {
                op: "reading an upload's parts",
                source: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    }

    async fn cancel_upload(&self, id: &str) -> Result<bool, BlobError> {
        let dir = self.upload_dir(id)?;
        let _lock = self.lock_for(id).lock().await;
        self.remove_upload(&dir).await
    }

    /// Uploads whose newest object is older than `age` go, and temp objects older than `age`
    /// (left by a node that died between writing and placing them).
    async fn expire_uploads(&self, age: Duration) -> Result<usize, BlobError> {
        let now = SystemTime::now();
        let idle = |m: &ObjectMeta| {
            now.duration_since(SystemTime::from(m.last_modified))
                .unwrap_or_default()
        };
        let root = self.key("uploads");
        let mut uploads: HashMap<String, (Duration, Vec<Path>)> = HashMap::new();
        for m in self.list(&root).await? {
            let Some(id) = m
                .location
                .prefix_match(&root)
                .and_then(|mut parts| parts.next())
                .map(|p| p.as_ref().to_owned())
            else {
                continue;
            };
            let e = uploads.entry(id).or_insert((Duration::MAX, vec![]));
            e.0 = e.0.min(idle(&m));
            e.1.push(m.location);
        }
        let mut n = 0;
        for (id, (newest, keys)) in uploads {
            if newest >= age {
                let _lock = self.lock_for(&id).lock().await;
                self.delete_all(keys).await;
                n += 1;
            }
        }
        self.remove_stale_temp(age).await?;
        Ok(n)
    }

    async fn list_shard(&self, shard: u8) -> Result<Vec<(Digest, SystemTime)>, BlobError> {
        let a = format!("{shard:02x}");
        let listed = self.list(&self.key(&format!("blobs/sha256/{a}"))).await?;
        Ok(listed
            .into_iter()
            .filter_map(|m| {
                let d = m
                    .location
                    .filename()
                    .filter(|n| n.starts_with(&a))
                    .and_then(|n| Digest::parse(n).ok())?;
                Some((d, SystemTime::from(m.last_modified)))
            })
            .collect())
    }

    async fn modified(&self, digest: &Digest) -> Result<Option<SystemTime>, BlobError> {
        match self.store.head(&self.blob_key(digest)).await {
            Ok(m) => Ok(Some(SystemTime::from(m.last_modified))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote("reading object metadata")(e)),
        }
    }

    /// Temp objects older than `age`: left by a node that died between writing and placing
    /// them (a live put places its temp object right after completing it).
    async fn remove_stale_temp(&self, age: Duration) -> Result<usize, BlobError> {
        let now = SystemTime::now();
        let stale: Vec<Path> = self
            .list(&self.key("tmp"))
            .await?
            .into_iter()
            .filter(|m| {
                now.duration_since(SystemTime::from(m.last_modified))
                    .unwrap_or_default()
                    >= age
            })
            .map(|m| m.location)
            .collect();
        let n = stale.len();
        if n > 0 {
            tracing::info!(store = %self.name, count = n, "removing stale temp objects");
            self.delete_all(stale).await;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket from `ARCA_TEST_S3` under a prefix of this test's own, or `None` (skip).
    fn test_config() -> Option<S3Config> {
        let Ok(raw) = std::env::var(S3_TEST_ENV) else {
            eprintln!(
                "{S3_TEST_ENV} is not set: skipping (scripts/test.sh starts an S3 server and sets it)"
            );
            return None;
        };
        let mut cfg = S3Config::from_attributes(&raw).expect("ARCA_TEST_S3 holds an S3Config");
        let base = cfg.bucket.prefix.trim_matches('/').to_owned();
        let own = format!("t-{}", uuid::Uuid::new_v4());
        cfg.bucket.prefix = if base.is_empty() {
            own
        } else {
            format!("{base}/{own}")
        };
        Some(cfg)
    }

    async fn keys(store: &S3BlobStore) -> Vec<String> {
        let mut k: Vec<String> = store
            .list(&Path::from(store.prefix.trim_end_matches('/')))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect();
        k.sort();
        k
    }

    fn body(chunks: Vec<Bytes>) -> ByteStream {
        stream::iter(chunks.into_iter().map(Ok)).boxed()
    }

    /// Position-dependent bytes, so a part out of place or a wrong range shows.
    fn byte_at(i: u64) -> u8 {
        (i % 251) as u8 ^ (i >> 16) as u8
    }

    /// `len` generated bytes in 64 KiB chunks, made as they are read (the test holds none).
    fn generated(len: u64) -> ByteStream {
        const CHUNK: u64 = 64 * 1024;
        stream::unfold(0u64, move |at| async move {
            (at < len).then(|| {
                let end = (at + CHUNK).min(len);
                let c: Vec<u8> = (at..end).map(byte_at).collect();
                (Ok(Bytes::from(c)), end)
            })
        })
        .boxed()
    }

    async fn digest_of(mut s: ByteStream) -> (Digest, u64) {
        let mut h = MultiHasher::new(false);
        let mut n = 0;
        while let Some(c) = s.next().await {
            let c = c.unwrap();
            n += c.len() as u64;
            h.update(&c);
        }
        (h.finish().0, n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_store_conformance() {
        let Some(cfg) = test_config() else { return };
        let store = S3BlobStore::connect("conformance", &cfg).unwrap();
        store.verify().await.unwrap();
        assert!(store.healthy().await);
        assert_eq!(store.kind(), "s3");
        crate::blob::conformance::run(&store).await;
        assert!(store.local_path(&Digest::of(b"x")).is_none());
        assert!(store.available_space().await.is_none());
        crate::blob::conformance::resumable(&store).await;

        // Another node (a second client on the same bucket and prefix) resumes an upload and
        // commits it.
        let id = store.begin_upload().await.unwrap();
        let part = |b: &'static [u8]| body(vec![Bytes::from_static(b)]);
        store
            .append_upload(&id, Some(0), part(b"before "), None)
            .await
            .unwrap();
        let other = S3BlobStore::connect("other node", &cfg).unwrap();
        assert_eq!(other.upload_size(&id).await.unwrap(), 7);
        other
            .append_upload(&id, Some(7), part(b"restart"), None)
            .await
            .unwrap();
        let r = other
            .commit_upload(&id, &Digest::of(b"before restart"))
            .await
            .unwrap();
        assert_eq!((r.size, r.created), (14, true));
        assert_eq!(store.stat(&r.digest).await.unwrap(), Some(14));

        // Chunks alternating between the nodes, committed by the one that began: every
        // offset comes from the bucket, none from a node's memory.
        let id = store.begin_upload().await.unwrap();
        store
            .append_upload(&id, Some(0), part(b"a1"), None)
            .await
            .unwrap();
        other
            .append_upload(&id, Some(2), part(b"b2"), None)
            .await
            .unwrap();
        assert_eq!(store.upload_size(&id).await.unwrap(), 4);
        store
            .append_upload(&id, Some(4), part(b"a3"), None)
            .await
            .unwrap();
        assert!(matches!(
            other.append_upload(&id, Some(4), part(b"xx"), None).await,
            Err(BlobError::OffsetMismatch { have: 6, got: 4 })
        ));
        let r = store
            .commit_upload(&id, &Digest::of(b"a1b2a3"))
            .await
            .unwrap();
        assert_eq!(r.size, 6);
        assert!(matches!(
            other.upload_size(&id).await,
            Err(BlobError::UploadUnknown(_))
        ));

        // Abandoned uploads expire; fresh ones stay.
        let old = store.begin_upload().await.unwrap();
        store
            .append_upload(&old, None, part(b"abandoned"), None)
            .await
            .unwrap();
        assert_eq!(
            store
                .expire_uploads(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.expire_uploads(Duration::ZERO).await.unwrap(), 1);
        assert!(matches!(
            store.upload_size(&old).await,
            Err(BlobError::UploadUnknown(_))
        ));

        // After all the failure cases only blobs are left: no temp objects, no upload parts.
        let left: Vec<String> = keys(&store)
            .await
            .into_iter()
            .filter(|k| !k.contains("/blobs/sha256/"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_failed_puts_leave_nothing() {
        let Some(cfg) = test_config() else { return };
        let store = S3BlobStore::connect("failures", &cfg).unwrap();
        let len = PART_SIZE as u64 + 1024 * 1024;
        let (right, _) = digest_of(generated(len)).await;
        let wrong = Digest::of(b"something else");
        // Small and multipart-sized bodies with the wrong digest, with and without a limit.
        for (n, expect, max) in [
            (1000, Some(wrong.clone()), None),
            (len, Some(wrong.clone()), None),
            (len, Some(right.clone()), Some(len - 1)),
            (len, None, Some(len - 1)),
        ] {
            let e = store
                .put(
                    generated(n),
                    PutOptions {
                        expect,
                        max_size: max,
                        ..Default::default()
                    },
                )
                .await;
            assert!(
                matches!(
                    e,
                    Err(BlobError::DigestMismatch { .. } | BlobError::TooLarge { .. })
                ),
                "{n} bytes: {:?}",
                e.map(|r| r.digest)
            );
        }
        // A multipart body that breaks off after two parts.
        let broken = generated(2 * PART_SIZE as u64 + 10)
            .chain(stream::iter(vec![Err(io::Error::other(
                "client went away",
            ))]))
            .boxed();
        assert!(matches!(
            store.put(broken, PutOptions::default()).await,
            Err(BlobError::Body(_))
        ));
        assert!(store.multipart_writes() == 0);
        assert_eq!(keys(&store).await, Vec::<String>::new());
        assert_eq!(store.stat(&right).await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_large_blobs_stream_in_parts() {
        let Some(cfg) = test_config() else { return };
        let store = S3BlobStore::connect("large", &cfg).unwrap();
        let len = 21 * 1024 * 1024 + 123;
        let (want, _) = digest_of(generated(len)).await;

        // Without an expected digest (temp object, then copied), then again with one (dedup).
        let r = store
            .put(generated(len), PutOptions::default())
            .await
            .unwrap();
        assert_eq!(
            (r.digest.clone(), r.size, r.created),
            (want.clone(), len, true)
        );
        assert_eq!(store.multipart_writes(), 1, "a 21 MiB put goes multipart");
        let again = PutOptions {
            expect: Some(want.clone()),
            all_checksums: true,
            ..Default::default()
        };
        let r = store.put(generated(len), again).await.unwrap();
        assert!(!r.created);
        assert_eq!(r.checksums.sha512.len(), 128);
        assert_eq!(
            digest_of(store.get(&want, None).await.unwrap().stream).await,
            (want.clone(), len)
        );

        // A range across the first part boundary.
        let (a, b) = (PART_SIZE as u64 - 5, PART_SIZE as u64 + 5);
        let part = store
            .get(&want, ByteRange::parse_header(&format!("bytes={a}-{b}")))
            .await
            .unwrap();
        assert_eq!((part.range, part.size), (Some((a, b)), len));
        let got: Vec<u8> = part
            .stream
            .try_fold(Vec::new(), |mut v, c| async move {
                v.extend_from_slice(&c);
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(got, (a..=b).map(byte_at).collect::<Vec<u8>>());

        // With an expected digest the blob's own key is written in parts; resumable uploads
        // of large chunks too, and their commit streams the parts.
        assert!(store.delete(&want).await.unwrap());
        let expect = PutOptions {
            expect: Some(want.clone()),
            ..Default::default()
        };
        assert!(store.put(generated(len), expect).await.unwrap().created);
        assert_eq!(store.multipart_writes(), 2);
        assert!(store.delete(&want).await.unwrap());
        let id = store.begin_upload().await.unwrap();
        let n = store
            .append_upload(&id, Some(0), generated(len), None)
            .await
            .unwrap();
        assert_eq!(n, len);
        let r = store.commit_upload(&id, &want).await.unwrap();
        assert_eq!((r.size, r.created), (len, true));
        assert_eq!(
            store.multipart_writes(),
            4,
            "the chunk and the committed blob"
        );
        assert_eq!(
            digest_of(store.get(&want, None).await.unwrap().stream).await,
            (want.clone(), len)
        );
        assert!(store.delete(&want).await.unwrap());
        assert_eq!(keys(&store).await, Vec::<String>::new());
    }

    /// The orphan sweep's view: temp objects a crash left go once older than the grace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_stale_temp_objects() {
        let Some(cfg) = test_config() else { return };
        let store = S3BlobStore::connect("sweep", &cfg).unwrap();
        let tmp = store.key(&format!("tmp/{}", uuid::Uuid::new_v4()));
        store
            .store
            .put(&tmp, PutPayload::from_static(b"left by a crash"))
            .await
            .unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(store.remove_stale_temp(hour).await.unwrap(), 0);
        assert_eq!(keys(&store).await.len(), 1);
        assert_eq!(store.remove_stale_temp(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(keys(&store).await, Vec::<String>::new());
    }

    #[tokio::test]
    async fn s3_unreachable_or_refused_is_an_error() {
        let cfg = |endpoint: &str, key: &str| S3Config {
            bucket: S3Bucket {
                name: "arca".into(),
                region: "DEFAULT".into(),
                prefix: String::new(),
            },
            bucket_security: Some(S3BucketSecurity {
                access_key_id: key.into(),
                secret_access_key: "wrong".into(),
                session_token: None,
                role: None,
            }),
            advanced_bucket_connection: Some(S3Connection {
                endpoint: Some(endpoint.into()),
                force_path_style: true,
                ..Default::default()
            }),
        };
        // Nothing listens on port 1 of loopback.
        let store = S3BlobStore::connect("nowhere", &cfg("http://127.0.0.1:1", "k")).unwrap();
        let t0 = std::time::Instant::now();
        assert!(matches!(
            store.verify().await,
            Err(BlobError::Remote { .. })
        ));
        assert!(!store.healthy().await);
        assert!(t0.elapsed() < Duration::from_secs(30));
        // Configurations that cannot work are refused before any request.
        for bad in ["ftp://127.0.0.1:1", "not a url"] {
            assert!(matches!(
                S3BlobStore::connect("bad", &cfg(bad, "k")),
                Err(BlobError::Config(_))
            ));
        }
        let mut c = cfg("http://127.0.0.1:1", "k");
        c.bucket.prefix = "a/../b".into();
        assert!(matches!(
            S3BlobStore::connect("bad", &c),
            Err(BlobError::Config(_))
        ));
        c.bucket.prefix = "/a/b/".into();
        assert_eq!(S3BlobStore::connect("ok", &c).unwrap().prefix, "a/b/");
        c.bucket.name = " ".into();
        assert!(matches!(
            S3BlobStore::connect("bad", &c),
            Err(BlobError::Config(_))
        ));

        // The real server refuses wrong credentials.
        let Some(real) = test_config() else { return };
        let mut wrong = real.clone();
        if let Some(s) = &mut wrong.bucket_security {
            s.secret_access_key = "not the secret".into();
        }
        let store = S3BlobStore::connect("refused", &wrong).unwrap();
        assert!(matches!(
            store.verify().await,
            Err(BlobError::Remote { .. })
        ));
        assert!(!store.healthy().await);
        let mut missing = real;
        missing.bucket.name = "no-such-bucket-arca".into();
        let store = S3BlobStore::connect("missing", &missing).unwrap();
        assert!(store.verify().await.is_err());
    }

    #[test]
    fn s3_config_is_nexus_bucket_configuration() {
        let nexus = r#"{"name":"s3","softQuota":null,"bucketConfiguration":{
            "bucket":{"region":"DEFAULT","name":"arca-blobs","prefix":"nexus/","expiration":3},
            "bucketSecurity":{"accessKeyId":"AKIA1","secretAccessKey":"s3cr3t","role":"","sessionToken":""},
            "advancedBucketConnection":{"endpoint":"https://minio.internal:9000","signerType":"","forcePathStyle":true,"maxConnectionPoolSize":0}}}"#;
        let c = S3Config::from_attributes(nexus).unwrap();
        assert_eq!(c.bucket.name, "arca-blobs");
        assert_eq!(c.bucket.prefix, "nexus/");
        let conn = c.advanced_bucket_connection.clone().unwrap();
        assert!(conn.force_path_style);
        // The stored attributes read back the same.
        let stored = serde_json::to_string(&c).unwrap();
        assert!(stored.contains("\"accessKeyId\":\"AKIA1\""), "{stored}");
        assert_eq!(S3Config::from_attributes(&stored).unwrap(), c);
        // Empty role and token are as good as absent; secrets stay out of Debug.
        let s = S3BlobStore::connect("nexus", &c).unwrap();
        assert_eq!(s.prefix, "nexus/");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(S3Config::from_attributes("{}").is_err());
        assert!(S3Config::from_attributes("not json").is_err());
    }
}
