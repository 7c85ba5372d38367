//! Joins blob stores (bytes) and the metadata store (references): ingest, delete, open, GC.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use thiserror::Error;

use crate::{
    blob::{BlobBody, BlobError, BlobStore, ByteRange, ByteStream, PutOptions},
    freeze::Freeze,
    locks::{Guard, Hold, LockKey, Locks},
    meta::{BlobStoreRow, Db, MetaError, NewAsset, NewComponent, ReleasedBlob},
    model::{Asset, AssetPath, Digest, Repository, WritePolicy, now_ms},
};

#[derive(Debug, Error)]
pub enum StorageError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("blob store {0:?} is not configured")]
    UnknownStore(String),
    #[error("repository {0} does not allow writes")]
    WriteDenied(String),
    #[error("{0} already exists and repository {1} does not allow redeploying")]
    AlreadyExists(String, String),
    #[error("the blob was removed while being stored; retry the upload")]
    Raced,
    #[error(
        "Arca is in read-only mode (frozen by {0}): no writes until an administrator releases it"
    )]
    ReadOnly(String),
}

/// What a format knows about an asset besides its bytes.
#[derive(Clone, Debug, Default)]
pub struct AssetMeta {
    pub content_type: String,
    pub uploader: Option<String>,
    pub uploader_ip: Option<String>,
    pub attrs: serde_json::Value,
    pub component: Option<NewComponent>,
}

pub const USAGE_TTL: Duration = Duration::from_secs(30);

/// Repository id → (components, assets, bytes).
pub type RepoStats = HashMap<i64, (i64, i64, i64)>;
pub const STATS_TTL: Duration = Duration::from_secs(60);

/// Per store: when summed, (bytes, blobs).
type UsageCache = HashMap<String, (std::time::Instant, (i64, i64))>;

/// How long a blob store that failed to open is left alone before a request tries again.
pub const STORE_RETRY: Duration = Duration::from_secs(30);

/// What [`Storage::reload_stores`] did, by store name.
#[derive(Debug, Default)]
pub struct StoreChanges {
    pub opened: Vec<String>,
    pub reopened: Vec<String>,
    pub dropped: Vec<String>,
    pub failed: Vec<StoreOpenFailure>,
}

#[derive(Debug)]
pub struct StoreOpenFailure {
    pub name: String,
    /// `file` or `s3`.
    pub kind: String,
    pub error: String,
}

/// Per node: which row settings each open store came from, and which stores failed to open
/// (when, and why). Another node never needs it: the rows are the truth, this only says when
/// this node's copy is stale.
#[derive(Default)]
struct StoreRegistry {
    /// Store → the settings it was opened from ([`row_settings`]).
    opened_from: std::sync::Mutex<HashMap<String, String>>,
    /// Store → (when, the settings tried, the error).
    failures: std::sync::Mutex<HashMap<String, (std::time::Instant, String)>>,
    /// Opening is serialised on this node (it is rare): concurrent misses open a store once.
    opening: tokio::sync::Mutex<()>,
}

/// What opening a store depends on; the soft quota is read from the row when needed.
fn row_settings(row: &BlobStoreRow) -> String {
    format!("{}\n{}\n{}", row.kind, row.path, row.attributes)
}

fn unavailable(name: &str, msg: String) -> StorageError {
    StorageError::Blob(BlobError::Remote {
        op: "opening the blob store",
        source: format!("blob store {name:?} is unavailable: {msg}").into(),
    })
}

impl StoreRegistry {
    fn opened(&self, row: &BlobStoreRow) {
        if let Ok(mut m) = self.opened_from.lock() {
            m.insert(row.name.clone(), row_settings(row));
        }
        if let Ok(mut f) = self.failures.lock() {
            f.remove(&row.name);
        }
    }

    fn forget(&self, name: &str) {
        if let Ok(mut m) = self.opened_from.lock() {
            m.remove(name);
        }
    }

    fn is_current(&self, row: &BlobStoreRow) -> bool {
        self.opened_from
            .lock()
            .map(|m| m.get(&row.name) == Some(&row_settings(row)))
            .unwrap_or(false)
    }

    fn failed(&self, row: &BlobStoreRow, error: String) {
        self.forget(&row.name);
        if let Ok(mut f) = self.failures.lock() {
            f.insert(row.name.clone(), (std::time::Instant::now(), error));
        }
    }

    /// The error of a failed open less than [`STORE_RETRY`] ago.
    fn recent_failure(&self, name: &str) -> Option<String> {
        let f = self.failures.lock().ok()?;
        f.get(name)
            .filter(|(at, _)| at.elapsed() < STORE_RETRY)
            .map(|(_, e)| e.clone())
    }

    fn clear_failures(&self) {
        if let Ok(mut f) = self.failures.lock() {
            f.clear();
        }
    }
}

pub struct Storage {
    db: Db,
    /// Summing a store's blobs reads every blob row (seconds at a million): listings show
    /// sums at most [`USAGE_TTL`] old.
    usage: std::sync::Mutex<UsageCache>,
    /// Per repository (components, assets, bytes): counting scans every asset, so lists show
    /// counts at most [`STATS_TTL`] old.
    repo_stats: std::sync::Mutex<Option<(std::time::Instant, RepoStats)>>,
    /// Read-only mode: checked before every write and every free.
    pub freeze: Freeze,
    /// The stores this node has opened, by name. A cache of the `blob_stores` rows: a name
    /// missing here is opened from its row on use ([`Storage::store_or_open`]), and
    /// [`Storage::reload_stores`] brings it in line with the rows when another node changed them.
    stores: RwLock<HashMap<String, Arc<dyn BlobStore>>>,
    /// What each open store was opened from, failed opens, and the opening lock.
    registry: StoreRegistry,
    /// Serialises, per digest, recording a reference and freeing a blob, so the GC never frees
    /// bytes that an upload has just deduplicated against.
    locks: Arc<Locks>,
    /// How long a deduplicated upload holds its blob against freeing (the orphan grace).
    pub hold_for: Duration,
    /// When this node last swept the stores for orphans (per node: it only spaces out the
    /// work; another node sweeping too is harmless).
    last_sweep: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The [`crate::blob::BeforePlace`] of [`Storage::stage`]: the blob's cluster-wide lock, and
/// a hold on its row (if it has one) until the upload records or discards it.
struct HoldOnPlace {
    locks: Arc<Locks>,
    db: Db,
    store: String,
    hold_for: Duration,
}

impl crate::blob::BeforePlace for HoldOnPlace {
    fn enter<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn Send>, BlobError>> {
        Box::pin(async move {
            let failed = |e: MetaError| BlobError::Remote {
                op: "holding the blob",
                source: Box::new(e),
            };
            let hex = digest.hex();
            let guard = self
                .locks
                .lock(&[LockKey::blob(&self.store, &hex)], Hold::Short)
                .await
                .map_err(failed)?;
            let until = now_ms() + self.hold_for.as_millis() as i64;
            self.db
                .hold_blob(&self.store, &hex, until)
                .await
                .map_err(failed)?;
            Ok(Box::new(guard) as Box<dyn Send>)
        })
    }
}

impl Storage {
    pub fn new(db: Db, locks: Arc<Locks>) -> Self {
        Self {
            usage: std::sync::Mutex::new(HashMap::new()),
            repo_stats: std::sync::Mutex::new(None),
            freeze: Freeze::new(db.clone()),
            db,
            stores: RwLock::new(HashMap::new()),
            registry: StoreRegistry::default(),
            locks,
            hold_for: Duration::from_secs(3600),
            last_sweep: std::sync::Mutex::new(None),
        }
    }

    /// Registers a store opened by the caller, with nothing known of the row it came from: the
    /// next [`Storage::reload_stores`] reopens it from its row. Prefer [`Storage::install`].
    pub fn add_store(&self, name: &str, store: Arc<dyn BlobStore>) {
        if let Ok(mut s) = self.stores.write() {
            s.insert(name.to_owned(), store);
        }
        self.registry.forget(name);
    }

    /// Unregisters a store (deleted, or reopened elsewhere by the caller).
    pub fn remove_store(&self, name: &str) -> Option<Arc<dyn BlobStore>> {
        self.registry.forget(name);
        self.stores.write().ok().and_then(|mut s| s.remove(name))
    }

    /// The store `name` if this node has opened it; never touches the database. Paths serving
    /// requests use [`Storage::store_or_open`], which also opens a store another node created.
    pub fn store(&self, name: &str) -> Result<Arc<dyn BlobStore>, StorageError> {
        self.stores
            .read()
            .ok()
            .and_then(|s| s.get(name).cloned())
            .ok_or_else(|| StorageError::UnknownStore(name.to_owned()))
    }

    pub fn store_names(&self) -> Vec<String> {
        self.stores
            .read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Registers `store`, opened from `row`, replacing any store of that name: what a node does
    /// after creating or changing a store itself. A later [`Storage::reload_stores`] keeps it
    /// while the row's settings stay as they are.
    pub fn install(&self, row: &BlobStoreRow, store: Arc<dyn BlobStore>) {
        if let Ok(mut s) = self.stores.write() {
            s.insert(row.name.clone(), store);
        }
        self.registry.opened(row);
    }

    /// The store `name`, opened from its row when this node has not opened it yet (another
    /// node created it, or it failed to open before). A hit is a map lookup, as
    /// [`Storage::store`]; a miss reads the row and opens it once, however many requests ask
    /// at the same time. A store that failed to open is tried again only after
    /// [`STORE_RETRY`] (or at the next reload): meanwhile requests fail fast with the error.
    pub async fn store_or_open(&self, name: &str) -> Result<Arc<dyn BlobStore>, StorageError> {
        if let Ok(s) = self.store(name) {
            return Ok(s);
        }
        let _opening = self.registry.opening.lock().await;
        if let Ok(s) = self.store(name) {
            return Ok(s);
        }
        if let Some(msg) = self.registry.recent_failure(name) {
            return Err(unavailable(name, msg));
        }
        let row = match self.db.get_blob_store(name).await {
            Ok(row) => row,
            Err(MetaError::NotFound) => return Err(StorageError::UnknownStore(name.to_owned())),
            Err(e) => return Err(e.into()),
        };
        match crate::blob::open_row(&row).await {
            Ok(store) => {
                tracing::info!(blob_store = %name, kind = %row.kind, "blob store opened on first use");
                self.install(&row, store.clone());
                Ok(store)
            }
            Err(e) => {
                tracing::error!(blob_store = %name, error = %e, "cannot open the blob store; it stays unavailable");
                self.registry.failed(&row, e.to_string());
                Err(unavailable(name, e.to_string()))
            }
        }
    }

    /// Brings this node's stores in line with the `blob_stores` rows: opens stores it lacks,
    /// reopens those whose settings (type, path, S3 attributes) differ from what they were
    /// opened from, and drops those whose row is gone. Called at start and whenever another
    /// node announces a blob store change. A store whose row fails to open is left unregistered
    /// (listed unavailable, its requests failing fast) and reported in
    /// [`StoreChanges::failed`]; the others are unaffected.
    pub async fn reload_stores(&self) -> Result<StoreChanges, StorageError> {
        let _opening = self.registry.opening.lock().await;
        let rows = self.db.list_blob_stores().await?;
        self.registry.clear_failures();
        let mut out = StoreChanges::default();
        for row in &rows {
            let registered = self.store(&row.name).is_ok();
            if registered && self.registry.is_current(row) {
                continue;
            }
            match crate::blob::open_row(row).await {
                Ok(store) => {
                    self.install(row, store);
                    if registered {
                        tracing::info!(blob_store = %row.name, "blob store reopened: its settings changed");
                        out.reopened.push(row.name.clone());
                    } else {
                        out.opened.push(row.name.clone());
                    }
                }
                Err(e) => {
                    tracing::error!(blob_store = %row.name, kind = %row.kind, error = %e,
                        "cannot open the blob store; it stays unavailable");
                    // Its settings changed and the new ones fail: the old store is no longer
                    // what the row says, so it goes too.
                    if let Ok(mut s) = self.stores.write() {
                        s.remove(&row.name);
                    }
                    self.registry.failed(row, e.to_string());
                    out.failed.push(StoreOpenFailure {
                        name: row.name.clone(),
                        kind: row.kind.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
        let gone: Vec<String> = self
            .store_names()
            .into_iter()
            .filter(|n| !rows.iter().any(|r| &r.name == n))
            .collect();
        for name in gone {
            tracing::info!(blob_store = %name, "blob store dropped: its row is gone");
            self.remove_store(&name);
            out.dropped.push(name);
        }
        Ok(out)
    }

    /// The cluster's locks.
    pub fn locks(&self) -> &Locks {
        &self.locks
    }

    /// Takes the cluster-wide locks of blobs in a store: recording a reference to a blob and
    /// freeing it exclude each other on every node, so no upload records bytes being deleted.
    async fn lock_blobs<'a>(
        &self,
        store: &str,
        digests: impl IntoIterator<Item = &'a str>,
    ) -> Result<Guard, StorageError> {
        let keys: Vec<LockKey> = digests
            .into_iter()
            .map(|d| LockKey::blob(store, d))
            .collect();
        Ok(self.locks.lock(&keys, Hold::Short).await?)
    }

    /// A store's (bytes, blobs), summed at most [`USAGE_TTL`] ago.
    pub async fn usage(&self, store: &str) -> Result<(i64, i64), StorageError> {
        if let Ok(c) = self.usage.lock()
            && let Some((at, u)) = c.get(store)
            && at.elapsed() < USAGE_TTL
        {
            return Ok(*u);
        }
        let u = self.db.blob_store_usage(store).await?;
        if let Ok(mut c) = self.usage.lock() {
            c.insert(store.to_owned(), (std::time::Instant::now(), u));
        }
        Ok(u)
    }

    /// Every repository's (components, assets, bytes), counted at most [`STATS_TTL`] ago.
    pub async fn repository_stats(&self) -> Result<RepoStats, StorageError> {
        if let Ok(c) = self.repo_stats.lock()
            && let Some((at, s)) = c.as_ref()
            && at.elapsed() < STATS_TTL
        {
            return Ok(s.clone());
        }
        let fresh: RepoStats = self
            .db
            .repository_stats()
            .await?
            .into_iter()
            .map(|(r, c, n, b)| (r, (c, n, b)))
            .collect();
        if let Ok(mut c) = self.repo_stats.lock() {
            *c = Some((std::time::Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }

    /// Drops a store's cached usage after this node changed it (other nodes' caches expire).
    fn forget_usage(&self, store: &str) {
        if let Ok(mut c) = self.usage.lock() {
            c.remove(store);
        }
    }

    /// Refuses any write while the server is frozen.
    pub async fn check_writable(&self) -> Result<(), StorageError> {
        match self.freeze.current().await {
            Some(f) => Err(StorageError::ReadOnly(f.by)),
            None => Ok(()),
        }
    }

    /// Refuses a write that the repository's write policy forbids.
    pub async fn check_write_policy(
        &self,
        repo: &Repository,
        path: &AssetPath,
    ) -> Result<(), StorageError> {
        match repo.write_policy.unwrap_or(WritePolicy::Allow) {
            WritePolicy::Allow => Ok(()),
            WritePolicy::Deny => Err(StorageError::WriteDenied(repo.name.to_string())),
            WritePolicy::AllowOnce => match self.db.find_asset(repo.id, path.as_str()).await? {
                Some(_) => Err(StorageError::AlreadyExists(
                    path.to_string(),
                    repo.name.to_string(),
                )),
                None => Ok(()),
            },
        }
    }

    /// Streams `body` into the repository's blob store and records the asset in one transaction.
    /// Nothing is recorded unless the bytes were stored and verified.
    pub async fn ingest(
        &self,
        repo: &Repository,
        path: &AssetPath,
        body: ByteStream,
        opts: PutOptions,
        meta: AssetMeta,
    ) -> Result<Asset, StorageError> {
        let blob = self.stage(repo, body, opts).await?;
        match self.record(repo, path, blob.clone(), meta).await {
            Ok(a) => Ok(a),
            Err(e) => {
                self.discard(&repo.blob_store, &blob).await;
                Err(e)
            }
        }
    }

    /// Records an asset for a blob already in the repository's store (a committed resumable
    /// upload, a mount), taking a reference on it.
    pub async fn record(
        &self,
        repo: &Repository,
        path: &AssetPath,
        blob: crate::blob::BlobRef,
        meta: AssetMeta,
    ) -> Result<Asset, StorageError> {
        let mut out = self
            .record_all(repo, vec![(path.clone(), blob, meta)])
            .await?;
        out.pop()
            .ok_or_else(|| StorageError::Meta(MetaError::Invalid("no asset recorded".into())))
    }

    /// Stores bytes in the repository's blob store without recording anything: the caller
    /// checks them, then [`Storage::record_all`]s or [`Storage::discard`]s the blob, so a refused
    /// upload never touches the asset it would have replaced.
    pub async fn stage(
        &self,
        repo: &Repository,
        body: ByteStream,
        opts: PutOptions,
    ) -> Result<crate::blob::BlobRef, StorageError> {
        self.check_writable().await?;
        let store = self.store_or_open(&repo.blob_store).await?;
        // The put finds content stored already and holds it under the blob's lock, in one
        // step: no node frees it between the two.
        let opts = PutOptions {
            before_place: Some(crate::blob::PlaceHook(Arc::new(HoldOnPlace {
                locks: self.locks.clone(),
                db: self.db.clone(),
                store: repo.blob_store.clone(),
                hold_for: self.hold_for,
            }))),
            ..opts
        };
        Ok(store.put(body, opts).await?)
    }

    /// Keeps a blob that an upload deduplicated onto from being freed (by any node) until the
    /// upload records it: a release racing the upload leaves the bytes for the record, and the
    /// GC frees them once the hold lapses (after [`Storage::hold_for`], the orphan grace) if
    /// nothing recorded them. Raced when the bytes went before the hold took.
    async fn hold(
        &self,
        store_name: &str,
        store: &dyn BlobStore,
        blob: &crate::blob::BlobRef,
    ) -> Result<(), StorageError> {
        let hex = blob.digest.hex();
        let _g = self.lock_blobs(store_name, [hex.as_str()]).await?;
        let until = now_ms() + self.hold_for.as_millis() as i64;
        self.db.hold_blob(store_name, &hex, until).await?;
        if store.stat(&blob.digest).await?.is_none() {
            return Err(StorageError::Raced);
        }
        Ok(())
    }

    /// Completes a resumable upload in the repository's store, holding a deduplicated blob as
    /// [`Storage::stage`] does; the caller records it (or [`Storage::discard`]s it).
    pub async fn commit_upload(
        &self,
        repo: &Repository,
        id: &str,
        expect: &Digest,
    ) -> Result<crate::blob::BlobRef, StorageError> {
        self.check_writable().await?;
        let store = self.store_or_open(&repo.blob_store).await?;
        let blob = store.commit_upload(id, expect).await?;
        if !blob.created {
            self.hold(&repo.blob_store, store.as_ref(), &blob).await?;
        }
        Ok(blob)
    }

    /// [`Storage::commit_upload`] for a caller that checks the content against a digest of
    /// another algorithm itself (OCI `sha512:`), then records or discards the blob.
    pub async fn commit_upload_unverified(
        &self,
        repo: &Repository,
        id: &str,
    ) -> Result<crate::blob::BlobRef, StorageError> {
        self.check_writable().await?;
        let store = self.store_or_open(&repo.blob_store).await?;
        let blob = store.commit_upload_unverified(id).await?;
        if !blob.created {
            self.hold(&repo.blob_store, store.as_ref(), &blob).await?;
        }
        Ok(blob)
    }

    /// [`Storage::stage`] for bytes made by the server.
    pub async fn stage_bytes(
        &self,
        repo: &Repository,
        bytes: bytes::Bytes,
    ) -> Result<crate::blob::BlobRef, StorageError> {
        let body =
            futures_util::StreamExt::boxed(futures_util::stream::once(async move { Ok(bytes) }));
        let opts = PutOptions {
            all_checksums: true,
            ..Default::default()
        };
        self.stage(repo, body, opts).await
    }

    /// Records assets for blobs already in the repository's store in one transaction: all of
    /// them, or (on any error) none.
    pub async fn record_all(
        &self,
        repo: &Repository,
        items: Vec<(AssetPath, crate::blob::BlobRef, AssetMeta)>,
    ) -> Result<Vec<Asset>, StorageError> {
        self.check_writable().await?;
        let store = self.store_or_open(&repo.blob_store).await?;
        let mut news = Vec::with_capacity(items.len());
        let mut digests = Vec::with_capacity(items.len());
        for (path, blob, meta) in items {
            news.push(NewAsset {
                repository_id: repo.id,
                path: path.to_string(),
                blob_store: repo.blob_store.clone(),
                blob_digest: blob.digest.hex(),
                size: blob.size as i64,
                content_type: meta.content_type,
                checksums: blob.checksums,
                uploader: meta.uploader,
                uploader_ip: meta.uploader_ip,
                attrs: meta.attrs,
                component: meta.component,
                // Every deduplicated blob reaching here was held ([`Storage::stage`],
                // [`Storage::commit_upload`], [`Storage::copy_asset`]).
                held: !blob.created,
            });
            digests.push(blob.digest);
        }
        let (assets, released) = {
            let hexes: Vec<String> = digests.iter().map(Digest::hex).collect();
            let _held = self
                .lock_blobs(&repo.blob_store, hexes.iter().map(String::as_str))
                .await?;
            for d in &digests {
                if store.stat(d).await?.is_none() {
                    return Err(StorageError::Raced);
                }
            }
            self.db.put_assets(&news).await?
        };
        self.forget_usage(&repo.blob_store);
        for r in &released {
            self.free(r).await;
        }
        Ok(assets)
    }

    /// Frees a blob that `put` stored but no asset came to reference (its content was refused
    /// after storing); content that was there before stays.
    pub async fn discard(&self, store_name: &str, blob: &crate::blob::BlobRef) {
        if !blob.created {
            if let Err(e) = self.db.release_hold(store_name, &blob.digest.hex()).await {
                tracing::warn!(digest = %blob.digest, error = %e, "letting go of a blob hold failed; it lapses");
            }
            return;
        }
        let hex = blob.digest.hex();
        let _g = match self.lock_blobs(store_name, [hex.as_str()]).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(digest = %hex, error = %e, "discarding a refused blob: no lock");
                return;
            }
        };
        if let (Ok(None), Ok(store)) = (
            self.db.blob_refcount(store_name, &hex).await,
            self.store_or_open(store_name).await,
        ) && let Err(e) = store.delete(&blob.digest).await
        {
            tracing::warn!(digest = %hex, error = %e, "discarding a refused blob failed");
        }
    }

    /// Gives `repo` an asset at `path` with the content of `source` (any repository's): shared
    /// when both use the same blob store, copied otherwise.
    pub async fn copy_asset(
        &self,
        source: &Asset,
        repo: &Repository,
        path: &AssetPath,
        meta: AssetMeta,
    ) -> Result<Asset, StorageError> {
        let digest =
            Digest::parse(&source.blob_digest).map_err(|e| MetaError::Invalid(e.to_string()))?;
        if source.blob_store == repo.blob_store {
            let blob = crate::blob::BlobRef {
                digest,
                size: source.size as u64,
                checksums: source.checksums.clone(),
                created: false,
            };
            let store = self.store_or_open(&repo.blob_store).await?;
            self.hold(&repo.blob_store, store.as_ref(), &blob).await?;
            return match self.record(repo, path, blob.clone(), meta).await {
                Ok(a) => Ok(a),
                Err(e) => {
                    self.discard(&repo.blob_store, &blob).await;
                    Err(e)
                }
            };
        }
        let body = self
            .store_or_open(&source.blob_store)
            .await?
            .get(&digest, None)
            .await?;
        let opts = PutOptions {
            expect: Some(digest),
            all_checksums: !source.checksums.sha1.is_empty(),
            ..Default::default()
        };
        self.ingest(repo, path, body.stream, opts, meta).await
    }

    /// Deletes an asset; its blob is freed at once when nothing else references it.
    pub async fn delete_asset(&self, repo: &Repository, path: &str) -> Result<(), StorageError> {
        self.delete_asset_freeing(repo, path).await.map(|_| ())
    }

    /// [`Storage::delete_asset`]; true when its blob's bytes went with it (no other asset
    /// named them).
    pub async fn delete_asset_freeing(
        &self,
        repo: &Repository,
        path: &str,
    ) -> Result<bool, StorageError> {
        self.check_writable().await?;
        match self.db.delete_asset(repo.id, path).await? {
            Some(r) => Ok(self.free(&r).await),
            None => Ok(false),
        }
    }

    /// Opens an asset's bytes and records the download.
    pub async fn open(
        &self,
        asset: &Asset,
        range: Option<ByteRange>,
    ) -> Result<BlobBody, StorageError> {
        let store = self.store_or_open(&asset.blob_store).await?;
        let digest =
            Digest::parse(&asset.blob_digest).map_err(|e| MetaError::Invalid(e.to_string()))?;
        let body = match store.get(&digest, range).await {
            // The row says the bytes exist: they went behind Arca's back. Still a 404 to the
            // client (the content is gone), but an operator must hear of it.
            Err(BlobError::NotFound(d)) => {
                tracing::error!(repo = %asset.repository, path = %asset.path,
                    blob_store = %asset.blob_store, digest = %asset.blob_digest,
                    "blob missing from store");
                return Err(BlobError::NotFound(d).into());
            }
            r => r?,
        };
        // A size that differs from the record is corruption seen for free (truncated or
        // replaced file); the integrity task re-hashes the content.
        if body.size != asset.size as u64 {
            tracing::error!(repo = %asset.repository, path = %asset.path,
                blob_store = %asset.blob_store, digest = %asset.blob_digest,
                stored = body.size, recorded = asset.size, "blob size differs from its record");
        }
        // Last-downloaded is advisory: write it at most once a minute per asset.
        if asset
            .last_downloaded_ms
            .is_none_or(|t| now_ms() - t > 60_000)
        {
            let _ = self.db.touch_asset_downloaded(asset.id).await;
        }
        Ok(body)
    }

    /// Reads a small asset (metadata, an index page) into memory; `None` past `limit` bytes.
    pub async fn read_small(
        &self,
        asset: &Asset,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        if asset.size as u64 > limit {
            return Ok(None);
        }
        let mut body = self.open(asset, None).await?;
        let mut out = Vec::with_capacity(asset.size as usize);
        while let Some(chunk) = futures_util::StreamExt::next(&mut body.stream).await {
            out.extend_from_slice(&chunk.map_err(BlobError::Io)?);
        }
        Ok(Some(out))
    }

    /// Stores bytes made by the server (generated metadata) as an asset.
    pub async fn put_bytes(
        &self,
        repo: &Repository,
        path: &AssetPath,
        bytes: bytes::Bytes,
        meta: AssetMeta,
    ) -> Result<Asset, StorageError> {
        let body =
            futures_util::StreamExt::boxed(futures_util::stream::once(async move { Ok(bytes) }));
        let opts = PutOptions {
            all_checksums: true,
            ..Default::default()
        };
        self.ingest(repo, path, body, opts, meta).await
    }

    /// Frees a blob's bytes if it is still unreferenced.
    /// Frees a blob if it is still unreferenced; true when its bytes went.
    async fn free(&self, b: &ReleasedBlob) -> bool {
        self.forget_usage(&b.store);
        let _g = match self.lock_blobs(&b.store, [b.digest.as_str()]).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(digest = %b.digest, error = %e, "freeing blob: no lock; the GC retries");
                return false;
            }
        };
        match self.db.forget_blob(b).await {
            Ok(true) => {
                let deleted = match (self.store_or_open(&b.store).await, Digest::parse(&b.digest)) {
                    (Ok(s), Ok(d)) => s.delete(&d).await.map_err(|e| e.to_string()),
                    (Err(e), _) => Err(e.to_string()),
                    (_, Err(e)) => Err(e.to_string()),
                };
                match deleted {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(digest = %b.digest, store = %b.store, error = %e, "freeing blob failed");
                        false
                    }
                }
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(digest = %b.digest, error = %e, "forgetting blob failed");
                false
            }
        }
    }

    /// Discards resumable uploads idle for `age` in every store.
    pub async fn expire_uploads(&self, age: Duration) -> usize {
        let stores: Vec<_> = self
            .stores
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let mut n = 0;
        for s in stores {
            match s.expire_uploads(age).await {
                Ok(k) => n += k,
                Err(e) => tracing::warn!(error = %e, "expiring uploads failed"),
            }
        }
        n
    }

    /// Whether this node has not swept for orphans within `every`.
    pub fn sweep_due(&self, every: Duration) -> bool {
        self.last_sweep
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= every))
            .unwrap_or(true)
    }

    /// Frees what a crash (a kill during an upload) leaves in the stores with no database row
    /// naming it: blobs not written for `grace` that no blob row names, and temp files not
    /// written for `grace`. Returns (orphan blobs, temp files) removed.
    ///
    /// An upload stores its bytes before recording them, so a blob written within `grace` may
    /// be about to get its row: it stays (a deduplicating upload refreshes the blob's time).
    /// Each orphan is looked at again under its digest's lock, as `record` holds it, just
    /// before it goes.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<(usize, usize), StorageError> {
        if self.freeze.state().await.is_some() {
            return Ok((0, 0));
        }
        if let Ok(mut t) = self.last_sweep.lock() {
            *t = Some(std::time::Instant::now());
        }
        let cutoff = std::time::SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        let stores: Vec<(String, Arc<dyn BlobStore>)> = self
            .stores
            .read()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let (mut orphans, mut temps) = (0, 0);
        for (name, store) in stores {
            match store.remove_stale_temp(grace).await {
                Ok(n) => temps += n,
                Err(e) => {
                    tracing::warn!(store = %name, error = %e, "removing stale temp files failed")
                }
            }
            let mut freed = 0;
            for shard in 0..=u8::MAX {
                let old: Vec<Digest> = match store.list_shard(shard).await {
                    Ok(l) => l
                        .into_iter()
                        .filter(|(_, t)| *t <= cutoff)
                        .map(|(d, _)| d)
                        .collect(),
                    Err(e) => {
                        tracing::warn!(store = %name, error = %e, "listing blobs for the orphan sweep failed");
                        break;
                    }
                };
                if old.is_empty() {
                    continue;
                }
                let known = self.db.blob_digests_in_shard(&name, shard).await?;
                for d in old.iter().filter(|d| !known.contains(&d.hex())) {
                    match self.free_orphan(&name, store.as_ref(), d, cutoff).await {
                        Ok(true) => freed += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(store = %name, digest = %d, error = %e, "freeing an orphan blob failed")
                        }
                    }
                }
            }
            if freed > 0 {
                tracing::info!(store = %name, freed, "orphan blobs freed");
            }
            orphans += freed;
        }
        Ok((orphans, temps))
    }

    /// Deletes a blob that no row names if, under its lock, that still holds and it was not
    /// written since `cutoff`.
    async fn free_orphan(
        &self,
        store_name: &str,
        store: &dyn BlobStore,
        d: &Digest,
        cutoff: std::time::SystemTime,
    ) -> Result<bool, StorageError> {
        let hex = d.hex();
        let _g = self.lock_blobs(store_name, [hex.as_str()]).await?;
        if self.db.blob_refcount(store_name, &hex).await?.is_some() {
            return Ok(false);
        }
        if store.modified(d).await?.is_none_or(|t| t > cutoff) {
            return Ok(false);
        }
        Ok(store.delete(d).await?)
    }

    /// Frees blobs unreferenced for longer than `grace` (left by asset and repository deletion
    /// or a crash between commit and free) in `store` (every store when empty): what went,
    /// per store.
    pub async fn collect_garbage(
        &self,
        grace: Duration,
        store: &str,
    ) -> Result<Collected, StorageError> {
        let mut out = Collected::default();
        // Frozen: a backup is reading the stores; the blobs wait for the next run.
        if self.freeze.state().await.is_some() {
            return Ok(out);
        }
        let cutoff = now_ms() - grace.as_millis() as i64;
        loop {
            let batch = self.db.unreferenced_blobs(cutoff, store, 500).await?;
            let mut progress = false;
            for b in &batch {
                if self.free(b).await {
                    progress = true;
                    let e = out.by_store.entry(b.store.clone()).or_default();
                    e.0 += 1;
                    e.1 += b.size.max(0);
                }
            }
            // A full batch none of which could go (locks unavailable) would come back the same.
            if batch.len() < 500 || !progress {
                return Ok(out);
            }
        }
    }
}

/// What a blob GC run freed: (blobs, bytes) per store.
#[derive(Debug, Default)]
pub struct Collected {
    pub by_store: std::collections::BTreeMap<String, (u64, i64)>,
}

impl Collected {
    pub fn blobs(&self) -> u64 {
        self.by_store.values().map(|v| v.0).sum()
    }
    pub fn bytes(&self) -> i64 {
        self.by_store.values().map(|v| v.1).sum()
    }
}
