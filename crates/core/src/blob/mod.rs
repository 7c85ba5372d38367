//! Content-addressed blob storage. Stores know bytes only; reference counts live in `meta`.

mod file;
mod hashing;
mod range;
#[cfg(feature = "s3")]
mod s3;

use std::{io, path::PathBuf, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use thiserror::Error;

pub use file::{FileBlobStore, MARKER as FILE_STORE_MARKER};
pub use hashing::MultiHasher;
pub use range::ByteRange;
#[cfg(feature = "s3")]
pub use s3::{S3_TEST_ENV, S3BlobStore, S3Bucket, S3BucketSecurity, S3Config, S3Connection};

use crate::model::{Checksums, Digest};

/// Below this many free bytes a store counts as full for `/status/writable`: uploads would
/// soon fail midway, so load balancers should send writes elsewhere first.
pub const MIN_FREE_SPACE: u64 = 64 << 20;

/// A request or upstream body. `Send`, so spawned tasks can consume it.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

#[derive(Debug, Error)]
pub enum BlobError {
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("body larger than the limit of {max} bytes")]
    TooLarge { max: u64 },
    #[error("blob {0} not found")]
    NotFound(Digest),
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// The body could not be read to its end (client went away, truncated upload).
    #[error("reading the body failed: {0}")]
    Body(io::Error),
    #[error("blob storage I/O: {0}")]
    Io(#[from] io::Error),
    /// No such resumable upload (never begun, committed, cancelled, or a bad id).
    #[error("upload {0} not found")]
    UploadUnknown(String),
    /// A chunk must start where the upload ends (OCI `Content-Range`).
    #[error("the upload holds {have} bytes; a chunk starting at {got} does not follow on")]
    OffsetMismatch { have: u64, got: u64 },
    #[error("this blob store does not support resumable uploads")]
    Unsupported,
    /// A remote store (S3) failed or refused: unreachable, bad credentials, no such bucket.
    #[error("object store: {op} failed: {source}")]
    Remote {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A blob store's settings cannot work (no bucket, a bad endpoint URL...).
    #[error("blob store configuration: {0}")]
    Config(String),
}

/// What a `put` must check and compute besides SHA-256.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    /// Reject the write (and keep nothing) unless the content has this digest.
    pub expect: Option<Digest>,
    /// Reject bodies longer than this.
    pub max_size: Option<u64>,
    /// Also compute SHA-1, MD5 and SHA-512 (Maven, PyPI and yum clients ask for them).
    pub all_checksums: bool,
    /// Run once the digest is known, right before the put decides whether the content is new
    /// and places it (see [`BeforePlace`]).
    pub before_place: Option<PlaceHook>,
}

/// What a put runs right before it looks whether the content is stored already and places
/// it; what `enter` returns is held until the put has placed or deduplicated the bytes. The
/// storage layer takes the blob's cluster-wide lock and holds the blob here, so that no node
/// frees bytes a put has just found stored.
pub trait BeforePlace: Send + Sync {
    fn enter<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn Send>, BlobError>>;
}

/// A [`BeforePlace`] to pass in [`PutOptions`].
#[derive(Clone)]
pub struct PlaceHook(pub std::sync::Arc<dyn BeforePlace>);

impl std::fmt::Debug for PlaceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaceHook")
    }
}

impl PlaceHook {
    /// Runs the hook if there is one.
    pub async fn enter(
        hook: &Option<PlaceHook>,
        digest: &Digest,
    ) -> Result<Option<Box<dyn Send>>, BlobError> {
        match hook {
            Some(h) => Ok(Some(h.0.enter(digest).await?)),
            None => Ok(None),
        }
    }
}

#[derive(Clone, Debug)]
pub struct BlobRef {
    pub digest: Digest,
    pub size: u64,
    /// `sha256` always; the others when `all_checksums` was asked for.
    pub checksums: Checksums,
    /// False when identical content was already stored (the write was deduplicated).
    pub created: bool,
}

/// A blob being read: the total size, the served range and its bytes.
pub struct BlobBody {
    pub size: u64,
    /// `(first, last)` inclusive when a range was asked for.
    pub range: Option<(u64, u64)>,
    pub stream: ByteStream,
}

impl BlobBody {
    /// Bytes in `stream`.
    pub fn len(&self) -> u64 {
        match self.range {
            Some((a, b)) => b - a + 1,
            None => self.size,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// `file` or `s3`, as Nexus names blob store types.
    fn kind(&self) -> &'static str;
    /// Streams `body` through the hashers into a temporary object and commits it atomically under
    /// its SHA-256. A mismatch with `opts.expect`, an oversized or truncated body leaves nothing.
    async fn put(&self, body: ByteStream, opts: PutOptions) -> Result<BlobRef, BlobError>;
    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobBody, BlobError>;
    /// The stored size, or `None` when absent.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError>;
    /// Returns whether something was deleted.
    async fn delete(&self, digest: &Digest) -> Result<bool, BlobError>;
    /// Where the blob lies on local disk, for zero-copy serving.
    fn local_path(&self, digest: &Digest) -> Option<PathBuf>;
    /// Bytes free for new blobs, when the store can tell.
    async fn available_space(&self) -> Option<u64> {
        None
    }
    /// Whether the store can take writes now (for `/status/check`).
    async fn healthy(&self) -> bool {
        true
    }
    /// Whether a write would succeed now (for `/status/writable`). Stores that can probe
    /// cheaply (the file store writes and syncs a temp file) override it; the others answer
    /// as [`Self::healthy`] does.
    async fn writable(&self) -> bool {
        self.healthy().await
    }

    /// Resumable uploads (OCI chunked uploads): begun, appended to in order, then committed
    /// under their digest or cancelled. They survive a restart.
    async fn begin_upload(&self) -> Result<String, BlobError> {
        Err(BlobError::Unsupported)
    }
    /// Appends `body` at `offset` (when given it must equal the current size); returns the new
    /// size. A body that fails midway is rolled back to the previous size.
    async fn append_upload(
        &self,
        _id: &str,
        _offset: Option<u64>,
        _body: ByteStream,
        _max_size: Option<u64>,
    ) -> Result<u64, BlobError> {
        Err(BlobError::Unsupported)
    }
    async fn upload_size(&self, _id: &str) -> Result<u64, BlobError> {
        Err(BlobError::Unsupported)
    }
    /// Commits the upload as a blob if its content has digest `expect`; on a mismatch the
    /// upload is discarded and nothing is stored.
    async fn commit_upload(&self, _id: &str, _expect: &Digest) -> Result<BlobRef, BlobError> {
        Err(BlobError::Unsupported)
    }
    /// Commits the upload as a blob under whatever content it holds, for a caller that checks
    /// a digest of another algorithm (OCI `sha512:`) itself and discards the blob on a mismatch.
    async fn commit_upload_unverified(&self, _id: &str) -> Result<BlobRef, BlobError> {
        Err(BlobError::Unsupported)
    }
    async fn cancel_upload(&self, _id: &str) -> Result<bool, BlobError> {
        Err(BlobError::Unsupported)
    }
    /// Discards uploads nobody appended to for `age`; returns how many went.
    async fn expire_uploads(&self, _age: std::time::Duration) -> Result<usize, BlobError> {
        Ok(0)
    }

    /// For the orphan sweep: the blobs whose digest begins with the byte `shard`, each with
    /// when it was last written. A store that must not be swept (a file store in a directory
    /// without Arca's marker) lists none.
    async fn list_shard(&self, _shard: u8) -> Result<Vec<(Digest, SystemTime)>, BlobError> {
        Ok(vec![])
    }
    /// When a blob was last written (or deduplicated against), `None` when absent.
    async fn modified(&self, _digest: &Digest) -> Result<Option<SystemTime>, BlobError> {
        Ok(None)
    }
    /// Removes temp files or objects not written to for `age` (left by a crash or a kill);
    /// returns how many went.
    async fn remove_stale_temp(&self, _age: std::time::Duration) -> Result<usize, BlobError> {
        Ok(0)
    }
}

/// How long opening an S3 store waits for its bucket to answer (at start, on a miss, on a
/// reload).
pub const S3_OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the store a `blob_stores` row describes, as every node does: at start, when a
/// request names a store this node has not opened yet (created on another node), and when a
/// reload finds the row changed. A file store's directory is opened as configured (see
/// [`FileBlobStore::open`]; creating one through the API checks more), but only the `default`
/// store's is created when missing: a store made through the API has its directory already,
/// so a missing one means this node does not see it (a shared mount missing or elsewhere),
/// and an empty store made in its place would answer 404 for all its blobs. An S3 store must
/// answer within [`S3_OPEN_TIMEOUT`] (one listing and a probe write).
pub async fn open_row(
    row: &crate::meta::BlobStoreRow,
) -> Result<std::sync::Arc<dyn BlobStore>, BlobError> {
    match row.kind.as_str() {
        "file" => {
            let (path, name) = (PathBuf::from(&row.path), row.name.clone());
            if row.name != "default" && !tokio::fs::try_exists(&path).await.unwrap_or(true) {
                return Err(BlobError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "directory {} does not exist on this node: every node must see the \
                         store's directory at that path (a shared mount)",
                        row.path
                    ),
                )));
            }
            let store = tokio::task::spawn_blocking(move || FileBlobStore::open(&path, &name))
                .await
                .map_err(io::Error::other)?
                .map_err(|e| {
                    BlobError::Io(io::Error::new(
                        e.kind(),
                        format!("cannot open {}: {e}", row.path),
                    ))
                })?;
            Ok(std::sync::Arc::new(store))
        }
        #[cfg(feature = "s3")]
        "s3" => {
            let cfg = S3Config::from_attributes(&row.attributes)?;
            let store = S3BlobStore::connect(&row.name, &cfg)?;
            match tokio::time::timeout(S3_OPEN_TIMEOUT, store.verify()).await {
                Ok(Ok(())) => Ok(std::sync::Arc::new(store)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(BlobError::Remote {
                    op: "opening the blob store",
                    source: format!(
                        "the bucket did not answer within {} s",
                        S3_OPEN_TIMEOUT.as_secs()
                    )
                    .into(),
                }),
            }
        }
        other => Err(BlobError::Config(format!(
            "blob store {}: unknown type {other:?}",
            row.name
        ))),
    }
}

#[cfg(test)]
pub(crate) mod conformance;
