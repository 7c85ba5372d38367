//! The filesystem blob store: `<root>/sha256/ab/cd/<hex>`, temp files in `<root>/tmp`,
//! resumable uploads in `<root>/uploads` (`<id>` the bytes, `<id>.state` their acknowledged
//! size and who wrote last), and Arca's marker [`MARKER`].
//!
//! Several nodes may open one directory (a shared mount): nothing a node keeps in memory is
//! needed by another. Temp files go by age only ([`BlobStore::remove_stale_temp`]), never at
//! open, so a restarting node leaves another's upload in flight alone; a resumable upload's
//! state lives in its `.state` file and each append or commit holds a lock on the upload's file
//! (`flock`), so any node continues an upload another began.
//!
//! Arca deletes files only in a directory that carries its marker, and there only what it
//! wrote (names it gives: blob digests, temp and upload UUIDs): a directory someone pointed a
//! store at by mistake (`/`, a home) never loses anything.

use std::{
    collections::HashMap,
    io::{self, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{
    BlobBody, BlobError, BlobRef, BlobStore, ByteRange, ByteStream, MultiHasher, PlaceHook,
    PutOptions,
};
use crate::model::Digest;

/// Arca's mark on a directory it owns as a file blob store; it holds the store's name.
pub const MARKER: &str = ".arca-blobstore";

pub struct FileBlobStore {
    root: PathBuf,
    /// Whether the directory carries [`MARKER`]: only then are stale temp files and orphan
    /// blobs removed (a directory holding foreign files is used, never cleaned).
    owned: bool,
    /// This instance's id, written into the `.state` of each upload it appends to: its hash
    /// state is good only while it wrote the last append.
    writer: String,
    /// Hash state of uploads appended by this instance, so a commit need not re-read the file.
    /// Per node, a cache only: after a restart, or when another node appended since, the
    /// commit re-hashes the file.
    uploads: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<UploadState>>>>,
}

#[derive(Clone, Default)]
struct UploadState {
    /// The size the hash state covers.
    size: u64,
    hasher: Option<Sha256>,
}

/// An upload taken for an append or a commit: this node's lock, the store-wide lock on its
/// file (held until dropped), and its acknowledged size.
struct TakenUpload {
    path: PathBuf,
    state: tokio::sync::OwnedMutexGuard<UploadState>,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

/// How long an append or commit waits for another request (maybe on another node) writing
/// the same upload; OCI clients send one chunk at a time, so this is a client's mistake.
const UPLOAD_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The state file of upload `id`.
fn state_name(id: &str) -> String {
    format!("{id}.state")
}

fn is_state_name(name: &str) -> bool {
    name.strip_suffix(".state").is_some_and(is_uuid)
}

/// What `uploads/` holds: upload files and their state files.
fn is_upload_name(name: &str) -> bool {
    is_uuid(name) || is_state_name(name)
}

/// Removes a half-written temp file unless disarmed, so no failure path leaves one behind.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What a directory is to a file blob store.
enum DirState {
    Missing,
    /// Carries the marker, which names this store.
    Marked(String),
    /// Empty, or holding only what a store writes (a store made before markers existed).
    ArcaShaped,
    /// Holds something Arca did not write; the first such entry, for the message.
    Foreign(String),
}

/// Temp and upload files are named by UUIDs.
fn is_uuid(name: &str) -> bool {
    name.len() == 36 && name.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn is_lower_hex(name: &str, len: usize) -> bool {
    name.len() == len && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The first entry of `dir` that `ok(name, is_dir)` refuses, as `dir/name`.
fn first_foreign(dir: &Path, ok: impl Fn(&str, bool) -> bool) -> io::Result<Option<String>> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let is_dir = e.file_type()?.is_dir();
        if !name.to_str().is_some_and(|n| ok(n, is_dir)) {
            let parent = dir.file_name().map(|p| p.to_string_lossy().into_owned());
            return Ok(Some(format!(
                "{}/{}",
                parent.unwrap_or_default(),
                name.to_string_lossy()
            )));
        }
    }
    Ok(None)
}

fn inspect(root: &Path) -> io::Result<DirState> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is not a directory",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DirState::Missing),
        Err(e) => return Err(e),
    }
    match std::fs::read_to_string(root.join(MARKER)) {
        Ok(text) => return Ok(DirState::Marked(marker_name(&text))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let name = e.file_name();
        let is_dir = e.file_type()?.is_dir();
        let foreign = match name.to_str() {
            Some("sha256") if is_dir => first_foreign(&e.path(), |n, d| d && is_lower_hex(n, 2))?,
            Some("tmp") if is_dir => first_foreign(&e.path(), |n, d| !d && is_uuid(n))?,
            Some("uploads") if is_dir => first_foreign(&e.path(), |n, d| !d && is_upload_name(n))?,
            _ => Some(name.to_string_lossy().into_owned()),
        };
        if let Some(f) = foreign {
            return Ok(DirState::Foreign(f));
        }
    }
    Ok(DirState::ArcaShaped)
}

fn marker_name(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("name="))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn write_marker(root: &Path, name: &str) -> io::Result<()> {
    let text = format!(
        "Arca file blob store. Arca removes files here (its own only) while this marker is \
         present.\nname={name}\n"
    );
    std::fs::write(root.join(MARKER), text)
}

/// Creates `dir` (its parents as usual) readable by Arca's user only: blobs may be private.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Removes the files of `dir` named as Arca names them (`keep(name)`) and written before
/// `older_than`; returns how many went.
fn remove_own_files(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
    older_than: SystemTime,
) -> io::Result<usize> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for e in rd {
        let e = e?;
        let m = e.metadata()?;
        if !m.is_file() || !e.file_name().to_str().is_some_and(&keep) {
            continue;
        }
        if m.modified()? <= older_than {
            match std::fs::remove_file(e.path()) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// Marks an existing file as just written, so that the orphan sweep (which frees only blobs
/// older than its grace) leaves it to the upload about to reference it. False when absent.
async fn touch(path: PathBuf) -> io::Result<bool> {
    tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
        Ok(f) => {
            // Not ours to change (another user's file): the grace period still stands.
            let _ = f.set_modified(SystemTime::now());
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    })
    .await
    .map_err(io::Error::other)?
}

impl FileBlobStore {
    /// Opens the store `name` at `root` as configured (at start). A missing directory is
    /// created with Arca's marker; an unmarked one that is empty or holds only a store's files
    /// (made before markers) is adopted; one with anything else is used but never cleaned.
    /// Nothing is removed here: other nodes may be writing temp files in a shared directory;
    /// those a crash left go by age, with the orphan sweep ([`BlobStore::remove_stale_temp`]).
    pub fn open(root: impl Into<PathBuf>, name: &str) -> io::Result<Self> {
        let root = root.into();
        let owned = match inspect(&root)? {
            DirState::Missing => {
                create_private_dir(&root)?;
                write_marker(&root, name)?;
                true
            }
            DirState::Marked(n) => {
                if n != name {
                    tracing::warn!(blob_store = name, path = %root.display(), marked = %n, "the directory's marker names another blob store");
                }
                true
            }
            DirState::ArcaShaped => {
                write_marker(&root, name)?;
                tracing::info!(blob_store = name, path = %root.display(), "blob store directory adopted (marker written)");
                true
            }
            DirState::Foreign(what) => {
                tracing::warn!(blob_store = name, path = %root.display(), foreign = %what,
                    "the blob store's directory holds files Arca did not write: Arca will not remove \
                     temp files or orphans there; move them out and restart to have it adopted");
                false
            }
        };
        for d in ["sha256", "tmp", "uploads"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        Ok(Self {
            root,
            owned,
            writer: uuid::Uuid::new_v4().to_string(),
            uploads: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Makes a new store `name` at `root` (through the API): the directory must be new, empty,
    /// a store's own (marked with this name, or unmarked with only a store's files). Anything
    /// else is refused, so Arca never takes over (and later cleans) a directory it did not make.
    pub fn create(root: impl Into<PathBuf>, name: &str) -> io::Result<Self> {
        let root = root.into();
        match inspect(&root)? {
            DirState::Marked(n) if n != name => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("it belongs to blob store {n:?} (see its {MARKER})"),
                ));
            }
            DirState::Foreign(what) => {
                return Err(io::Error::new(
                    io::ErrorKind::DirectoryNotEmpty,
                    format!(
                        "it is not empty ({what}) and was not made by Arca: choose a new or \
                         empty directory"
                    ),
                ));
            }
            _ => {}
        }
        Self::open(root, name)
    }

    /// Deletes what a deleted store wrote in `root` (blobs, temp files, uploads, the marker)
    /// and the directory once empty; anything else stays, and nothing at all goes from a
    /// directory without the marker. Returns whether the directory is gone.
    pub async fn remove_dir(root: PathBuf) -> io::Result<bool> {
        tokio::task::spawn_blocking(move || {
            match std::fs::metadata(root.join(MARKER)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(!root.exists()),
                Err(e) => return Err(e),
            }
            let far = SystemTime::now() + Duration::from_secs(86_400);
            let blobs = root.join("sha256");
            for a in read_dir_names(&blobs)? {
                if !is_lower_hex(&a, 2) {
                    continue;
                }
                for b in read_dir_names(&blobs.join(&a))? {
                    if !is_lower_hex(&b, 2) {
                        continue;
                    }
                    let dir = blobs.join(&a).join(&b);
                    let prefix = format!("{a}{b}");
                    remove_own_files(&dir, |n| is_lower_hex(n, 64) && n.starts_with(&prefix), far)?;
                    let _ = std::fs::remove_dir(dir);
                }
                let _ = std::fs::remove_dir(blobs.join(&a));
            }
            let _ = std::fs::remove_dir(&blobs);
            remove_own_files(&root.join("tmp"), is_uuid, far)?;
            let _ = std::fs::remove_dir(root.join("tmp"));
            remove_own_files(&root.join("uploads"), is_upload_name, far)?;
            let _ = std::fs::remove_dir(root.join("uploads"));
            std::fs::remove_file(root.join(MARKER))?;
            Ok(std::fs::remove_dir(&root).is_ok())
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The file of an upload; ids are ours (UUIDs), so anything else is unknown, never a path.
    fn upload_path(&self, id: &str) -> Result<PathBuf, BlobError> {
        if is_uuid(id) {
            Ok(self.root.join("uploads").join(id))
        } else {
            Err(BlobError::UploadUnknown(id.to_owned()))
        }
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(state_name(id))
    }

    /// The upload's acknowledged size as the store records it: its `.state` (size and last
    /// writer), or for an upload begun before state files, its file's length. `None` when the
    /// upload does not exist.
    async fn recorded_state(&self, id: &str) -> Result<Option<(u64, String)>, BlobError> {
        let path = self.upload_path(id)?;
        let len = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match tokio::fs::read_to_string(self.state_path(id)).await {
            Ok(text) => {
                let field = |k: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                        .map(str::trim)
                };
                let size = field("size").and_then(|v| v.parse::<u64>().ok());
                match size {
                    // Never beyond the bytes there are (a state outliving a truncation).
                    Some(size) => Ok(Some((
                        size.min(len),
                        field("writer").unwrap_or_default().to_owned(),
                    ))),
                    None => Ok(Some((len, String::new()))),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some((len, String::new()))),
            Err(e) => Err(e.into()),
        }
    }

    /// Records `size` bytes of upload `id` as acknowledged by this instance: written to a temp
    /// file, synced and renamed over the state, so a reader sees the old or the new one whole.
    async fn record_state(&self, id: &str, size: u64) -> Result<(), BlobError> {
        let tmp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let dest = self.state_path(id);
        let text = format!("size={size}\nwriter={}\n", self.writer);
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            use std::io::Write;
            let mut guard = TempGuard(Some(tmp.clone()));
            let mut f = std::fs::File::create_new(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &dest)?;
            guard.0 = None;
            Ok(())
        })
        .await
        .map_err(io::Error::other)??;
        Ok(())
    }

    /// Takes upload `id` for an append or a commit: this node's lock on it, then the lock on
    /// its file that every node takes (waiting up to [`UPLOAD_LOCK_WAIT`]), then its size as
    /// recorded. The hash state is kept only if this instance wrote the last append.
    async fn take_upload(&self, id: &str) -> Result<TakenUpload, BlobError> {
        let path = self.upload_path(id)?;
        let entry = self
            .uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_owned())
            .or_default()
            .clone();
        let mut state = entry.lock_owned().await;
        let lock = match lock_file(path.clone()).await {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                drop(state);
                self.forget_upload(id);
                return Err(BlobError::UploadUnknown(id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let Some((size, writer)) = self.recorded_state(id).await? else {
            drop(state);
            self.forget_upload(id);
            return Err(BlobError::UploadUnknown(id.to_owned()));
        };
        if state.size != size || writer != self.writer {
            // Appended elsewhere (another node, or before a restart): hash again at commit.
            *state = UploadState { size, hasher: None };
        }
        Ok(TakenUpload {
            path,
            state,
            _lock: lock,
        })
    }

    fn forget_upload(&self, id: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Removes an upload's file and state; whether its file was there.
    async fn remove_upload(&self, id: &str) -> Result<bool, BlobError> {
        let path = self.upload_path(id)?;
        self.forget_upload(id);
        let _ = tokio::fs::remove_file(self.state_path(id)).await;
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves a verified temp file into its content-addressed place (or drops it as a duplicate).
    async fn place(&self, from: &Path, digest: &Digest) -> Result<bool, BlobError> {
        let dest = self.path_of(digest);
        if touch(dest.clone()).await? {
            tokio::fs::remove_file(from).await?;
            return Ok(false);
        }
        // Its time is its last append, maybe long ago: a fresh blob must look fresh to the
        // orphan sweep until the caller records it.
        touch(from.to_path_buf()).await?;
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(from, &dest).await?;
        sync_dir(dir).await?;
        Ok(true)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("sha256")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(hex)
    }
}

/// The names in `dir`; none when it is missing.
fn read_dir_names(dir: &Path) -> io::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// An exclusive `flock` on `path` (an upload's file), which every node honours on a local or
/// NFS directory; waits up to [`UPLOAD_LOCK_WAIT`] for another holder.
async fn lock_file(path: PathBuf) -> io::Result<nix::fcntl::Flock<std::fs::File>> {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)?;
        loop {
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(l),
                Err((f, nix::errno::Errno::EWOULDBLOCK))
                    if started.elapsed() < UPLOAD_LOCK_WAIT =>
                {
                    file = f;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "another request is writing this upload",
                    ));
                }
                Err((_, e)) => return Err(io::Error::from(e)),
            }
        }
    })
    .await
    .map_err(io::Error::other)?
}

async fn sync_dir(dir: PathBuf) -> io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

impl FileBlobStore {
    /// Completes an upload: its content placed under its SHA-256, when it is `expect` (if given).
    async fn commit_checked(
        &self,
        id: &str,
        expect: Option<&Digest>,
    ) -> Result<BlobRef, BlobError> {
        let up = self.take_upload(id).await?;
        let size = up.state.size;
        {
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&up.path)
                .await?;
            f.set_len(size).await?;
            f.sync_all().await?;
        }
        let digest = match &up.state.hasher {
            Some(h) => Digest::from_bytes(h.clone().finalize().into()),
            None => {
                // Appended before a restart or on another node: hash the file.
                let mut f = tokio::fs::File::open(&up.path).await?;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 512 * 1024];
                loop {
                    let n = tokio::io::AsyncReadExt::read(&mut f, &mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Digest::from_bytes(h.finalize().into())
            }
        };
        if let Some(expect) = expect
            && digest != *expect
        {
            self.remove_upload(id).await?;
            return Err(BlobError::DigestMismatch {
                expected: expect.clone(),
                actual: digest,
            });
        }
        let created = self.place(&up.path, &digest).await?;
        self.forget_upload(id);
        let _ = tokio::fs::remove_file(self.state_path(id)).await;
        drop(up);
        let checksums = crate::model::Checksums {
            sha256: digest.hex(),
            ..Default::default()
        };
        Ok(BlobRef {
            digest,
            size,
            checksums,
            created,
        })
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn put(&self, mut body: ByteStream, opts: PutOptions) -> Result<BlobRef, BlobError> {
        let tmp_path = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::File::create(&tmp_path).await?;
        let mut guard = TempGuard(Some(tmp_path.clone()));
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut hasher = MultiHasher::new(opts.all_checksums);
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            size += chunk.len() as u64;
            if let Some(max) = opts.max_size
                && size > max
            {
                return Err(BlobError::TooLarge { max });
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        let file = out.into_inner();
        file.sync_all().await?;
        drop(file);
        let (digest, checksums) = hasher.finish();
        if let Some(expected) = opts.expect
            && expected != digest
        {
            return Err(BlobError::DigestMismatch {
                expected,
                actual: digest,
            });
        }
        let _entered = PlaceHook::enter(&opts.before_place, &digest).await?;
        let dest = self.path_of(&digest);
        // Touched, so the orphan sweep leaves it to this upload's record.
        let created = if touch(dest.clone()).await? {
            false // identical content already stored; the guard drops the temp copy
        } else {
            let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
            tokio::fs::create_dir_all(&dir).await?;
            // rename is atomic: a concurrent identical put just replaces equal bytes.
            tokio::fs::rename(&tmp_path, &dest).await?;
            guard.0 = None;
            sync_dir(dir).await?;
            true
        };
        Ok(BlobRef {
            digest,
            size,
            checksums,
            created,
        })
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobBody, BlobError> {
        // Opening, sizing and (for a small blob) reading happen in one trip to the blocking
        // pool: on a cached download of a few KiB the trips cost more than the bytes.
        let path = self.path_of(digest);
        let opened = tokio::task::spawn_blocking(move || open_for_read(&path, range))
            .await
            .map_err(io::Error::other)?;
        let (size, range, body) = match opened {
            Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(digest.clone()));
            }
            Err(OpenError::Io(e)) => return Err(e.into()),
            Err(OpenError::Range(size)) => return Err(BlobError::RangeNotSatisfiable { size }),
            Ok(o) => o,
        };
        let stream = match body {
            Opened::Whole(bytes) => futures_util::stream::once(async move { Ok(bytes) }).boxed(),
            Opened::File(file, len) => read_chunks(file, len),
        };
        Ok(BlobBody {
            size,
            range,
            stream,
        })
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path_of(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, digest: &Digest) -> Result<bool, BlobError> {
        match tokio::fs::remove_file(self.path_of(digest)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn local_path(&self, digest: &Digest) -> Option<PathBuf> {
        Some(self.path_of(digest))
    }

    async fn begin_upload(&self) -> Result<String, BlobError> {
        let id = uuid::Uuid::new_v4().to_string();
        tokio::fs::File::create(self.upload_path(&id)?).await?;
        self.record_state(&id, 0).await?;
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Arc::new(tokio::sync::Mutex::new(UploadState {
                    size: 0,
                    hasher: Some(Sha256::new()),
                })),
            );
        Ok(id)
    }

    /// Writes at the recorded size (past it lie only the bytes of an append that failed or
    /// was killed), then records the new size: what another node continues from.
    async fn append_upload(
        &self,
        id: &str,
        offset: Option<u64>,
        mut body: ByteStream,
        max_size: Option<u64>,
    ) -> Result<u64, BlobError> {
        let mut up = self.take_upload(id).await?;
        let st = &mut *up.state;
        if let Some(got) = offset
            && got != st.size
        {
            return Err(BlobError::OffsetMismatch { have: st.size, got });
        }
        let before = st.clone();
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&up.path)
            .await?;
        file.set_len(st.size).await?;
        file.seek(SeekFrom::Start(st.size)).await?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let result: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::Body)?;
                st.size += chunk.len() as u64;
                if let Some(max) = max_size
                    && st.size > max
                {
                    return Err(BlobError::TooLarge { max });
                }
                if let Some(h) = &mut st.hasher {
                    h.update(&chunk);
                }
                out.write_all(&chunk).await?;
            }
            out.flush().await?;
            out.get_ref().sync_data().await?;
            self.record_state(id, st.size).await
        }
        .await;
        if let Err(e) = result {
            // Roll the upload back to where this chunk began.
            drop(out);
            *st = before;
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&up.path)
                .await?;
            f.set_len(st.size).await?;
            return Err(e);
        }
        Ok(st.size)
    }

    async fn upload_size(&self, id: &str) -> Result<u64, BlobError> {
        match self.recorded_state(id).await? {
            Some((size, _)) => Ok(size),
            None => Err(BlobError::UploadUnknown(id.to_owned())),
        }
    }

    async fn commit_upload(&self, id: &str, expect: &Digest) -> Result<BlobRef, BlobError> {
        self.commit_checked(id, Some(expect)).await
    }

    async fn commit_upload_unverified(&self, id: &str) -> Result<BlobRef, BlobError> {
        self.commit_checked(id, None).await
    }

    async fn cancel_upload(&self, id: &str) -> Result<bool, BlobError> {
        self.remove_upload(id).await
    }

    /// Uploads whose file nobody wrote to for `age` go with their state; so do state files
    /// whose upload is gone (a node killed between placing a blob and removing its state).
    async fn expire_uploads(&self, age: std::time::Duration) -> Result<usize, BlobError> {
        let mut dir = tokio::fs::read_dir(self.root.join("uploads")).await?;
        let mut n = 0;
        while let Some(e) = dir.next_entry().await? {
            let idle = match e.metadata().await {
                Ok(m) => m.modified()?.elapsed().unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if idle < age {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if is_uuid(&name) {
                if self.cancel_upload(&name).await.unwrap_or(false) {
                    n += 1;
                }
            } else if let Some(id) = name.strip_suffix(".state").filter(|id| is_uuid(id))
                && !tokio::fs::try_exists(self.root.join("uploads").join(id))
                    .await
                    .unwrap_or(true)
            {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
        Ok(n)
    }

    async fn list_shard(&self, shard: u8) -> Result<Vec<(Digest, SystemTime)>, BlobError> {
        if !self.owned {
            return Ok(vec![]);
        }
        let a = format!("{shard:02x}");
        let dir = self.root.join("sha256").join(&a);
        let listed = tokio::task::spawn_blocking(move || -> io::Result<_> {
            let mut out = vec![];
            for b in read_dir_names(&dir)? {
                if !is_lower_hex(&b, 2) {
                    continue;
                }
                let prefix = format!("{a}{b}");
                let rd = match std::fs::read_dir(dir.join(&b)) {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for e in rd {
                    let e = e?;
                    let name = e.file_name();
                    let Some(d) = name
                        .to_str()
                        .filter(|n| n.starts_with(&prefix))
                        .and_then(|n| Digest::parse(n).ok())
                    else {
                        continue;
                    };
                    match e.metadata() {
                        Ok(m) if m.is_file() => out.push((d, m.modified()?)),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(listed)
    }

    async fn modified(&self, digest: &Digest) -> Result<Option<SystemTime>, BlobError> {
        match tokio::fs::metadata(self.path_of(digest)).await {
            Ok(m) => Ok(Some(m.modified()?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_stale_temp(&self, age: Duration) -> Result<usize, BlobError> {
        if !self.owned {
            return Ok(0);
        }
        let dir = self.root.join("tmp");
        let before = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let n = tokio::task::spawn_blocking(move || remove_own_files(&dir, is_uuid, before))
            .await
            .map_err(io::Error::other)??;
        Ok(n)
    }

    async fn available_space(&self) -> Option<u64> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let s = nix::sys::statvfs::statvfs(&root).ok()?;
            Some(s.blocks_available() * s.fragment_size())
        })
        .await
        .ok()
        .flatten()
    }

    async fn healthy(&self) -> bool {
        tokio::fs::metadata(self.root.join("tmp"))
            .await
            .is_ok_and(|m| m.is_dir())
    }

    async fn writable(&self) -> bool {
        // A real write: a read-only mount, a full disk or a directory we may not write is only
        // seen by creating, writing and syncing a file. A UUID name, so that the stale temp
        // sweep frees it if we die before removing it.
        let path = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let probe = || -> io::Result<()> {
                let mut f = std::fs::File::create_new(&path)?;
                f.write_all(b"arca write probe\n")?;
                f.sync_all()
            };
            let r = probe();
            let _ = std::fs::remove_file(&path);
            if let Err(e) = &r {
                tracing::warn!(path = %path.display(), error = %e, "blob store write probe failed");
            }
            r.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

/// Large reads mean fewer trips to the blocking pool, but each open download holds one
/// buffer: 128 KiB keeps 200 concurrent 1 MiB GETs near 25 MiB of buffers (512 KiB took RSS
/// to 120 MiB).
const READ_CHUNK: u64 = 128 * 1024;

/// `len` bytes of `file` from where it stands, a chunk per trip to the blocking pool, each
/// read straight into the buffer that is sent (tokio's `File` would copy through one more).
fn read_chunks(file: std::fs::File, len: u64) -> ByteStream {
    futures_util::stream::try_unfold((file, len), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = left.min(READ_CHUNK) as usize;
        let (file, buf) = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; want];
            file.read_exact(&mut buf).map(|()| (file, buf))
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some((bytes::Bytes::from(buf), (file, left - want as u64))))
    })
    .boxed()
}

/// Blobs up to this size are read whole when opened (one trip to the blocking pool).
const READ_WHOLE: u64 = 64 * 1024;

enum Opened {
    Whole(bytes::Bytes),
    /// The file positioned at the range's start, and the bytes to read from it.
    File(std::fs::File, u64),
}

enum OpenError {
    Io(io::Error),
    /// The range asked for lies outside a blob of this size.
    Range(u64),
}

/// The blob's size, the range resolved against it, and its bytes (small) or the open file.
#[allow(clippy::type_complexity)]
fn open_for_read(
    path: &Path,
    range: Option<ByteRange>,
) -> Result<(u64, Option<(u64, u64)>, Opened), OpenError> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(path).map_err(OpenError::Io)?;
    let size = file.metadata().map_err(OpenError::Io)?.len();
    let range = match range {
        None => None,
        Some(r) => Some(r.resolve(size).ok_or(OpenError::Range(size))?),
    };
    let (start, len) = match range {
        Some((a, b)) => (a, b - a + 1),
        None => (0, size),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start)).map_err(OpenError::Io)?;
    }
    if len <= READ_WHOLE {
        let mut buf = Vec::with_capacity(len as usize);
        file.take(len)
            .read_to_end(&mut buf)
            .map_err(OpenError::Io)?;
        return Ok((size, range, Opened::Whole(buf.into())));
    }
    Ok((size, range, Opened::File(file, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path().join("blobs"), "default").unwrap();
        crate::blob::conformance::run(&store).await;
        assert!(store.available_space().await.is_some_and(|n| n > 0));
        crate::blob::conformance::resumable(&store).await;
        // An upload survives a restart: a new store on the same root resumes and commits it.
        let id = store.begin_upload().await.unwrap();
        let part = |b: &'static [u8]| {
            futures_util::StreamExt::boxed(futures_util::stream::iter(vec![Ok(
                bytes::Bytes::from_static(b),
            )]))
        };
        store
            .append_upload(&id, Some(0), part(b"before "), None)
            .await
            .unwrap();
        drop(store);
        let again = FileBlobStore::open(dir.path().join("blobs"), "default").unwrap();
        assert_eq!(again.upload_size(&id).await.unwrap(), 7);
        again
            .append_upload(&id, Some(7), part(b"restart"), None)
            .await
            .unwrap();
        let r = again
            .commit_upload(&id, &Digest::of(b"before restart"))
            .await
            .unwrap();
        assert_eq!(r.size, 14);
        assert!(again.healthy().await);
        // Abandoned uploads expire; fresh ones stay.
        let old = again.begin_upload().await.unwrap();
        assert_eq!(
            again
                .expire_uploads(std::time::Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            again
                .expire_uploads(std::time::Duration::ZERO)
                .await
                .unwrap(),
            1
        );
        assert!(matches!(
            again.upload_size(&old).await,
            Err(BlobError::UploadUnknown(_))
        ));
        // Nothing is left in tmp after all the failure cases.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs/tmp"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "temp files left behind: {left:?}");
    }

    fn write(p: &Path, body: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn age(p: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    const UUID: &str = "0b7c2a9e-41d3-4f4e-9a51-2b7f9d0c1e11";

    #[tokio::test]
    async fn a_directory_arca_did_not_make_is_never_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("foreign");
        write(&root.join("tmp/keep.txt"), "mine");
        write(&root.join(format!("tmp/{UUID}")), "looks like ours");
        write(&root.join("notes.txt"), "mine too");
        // Creating a store there is refused, naming what is in the way; nothing changes.
        let e = FileBlobStore::create(&root, "new").err().unwrap();
        assert!(e.to_string().contains("not empty"), "{e}");
        assert!(root.join("tmp/keep.txt").exists());
        assert!(root.join(format!("tmp/{UUID}")).exists());
        assert!(!root.join(MARKER).exists());
        // A store configured there already (before markers) is used, but nothing is removed:
        // not at start, not by the sweep, not when it is deleted.
        let store = FileBlobStore::open(&root, "old").unwrap();
        assert!(!root.join(MARKER).exists());
        assert!(root.join(format!("tmp/{UUID}")).exists());
        let r = store
            .put(
                futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))]).boxed(),
                PutOptions::default(),
            )
            .await
            .unwrap();
        let shard = u8::from_str_radix(&r.digest.hex()[..2], 16).unwrap();
        assert!(store.list_shard(shard).await.unwrap().is_empty());
        age(&root.join(format!("tmp/{UUID}")), 7200);
        assert_eq!(
            store
                .remove_stale_temp(Duration::from_secs(60))
                .await
                .unwrap(),
            0
        );
        drop(store);
        assert!(!FileBlobStore::remove_dir(root.clone()).await.unwrap());
        assert!(root.join("tmp/keep.txt").exists());
        assert!(root.join(format!("tmp/{UUID}")).exists());
        assert!(root.join("notes.txt").exists());
        assert!(store_path(&root, &r.digest).exists());
        // A file that is not a directory is refused too.
        assert!(FileBlobStore::create(root.join("notes.txt"), "n").is_err());
    }

    fn store_path(root: &Path, d: &Digest) -> PathBuf {
        let h = d.hex();
        root.join("sha256").join(&h[0..2]).join(&h[2..4]).join(&h)
    }

    #[tokio::test]
    async fn old_stores_are_adopted_and_deleting_removes_only_arcas_files() {
        let dir = tempfile::tempdir().unwrap();
        // A store from before markers: only a store's files. Adopted at start; its crash
        // leftovers go by age, as another node's temp files in flight must stay.
        let root = dir.path().join("legacy");
        let d = Digest::of(b"legacy");
        write(&store_path(&root, &d), "legacy");
        write(&root.join(format!("tmp/{UUID}")), "half");
        std::fs::create_dir_all(root.join("uploads")).unwrap();
        let store = FileBlobStore::open(&root, "legacy").unwrap();
        assert!(
            std::fs::read_to_string(root.join(MARKER))
                .unwrap()
                .contains("name=legacy")
        );
        assert!(root.join(format!("tmp/{UUID}")).exists());
        age(&root.join(format!("tmp/{UUID}")), 7200);
        assert_eq!(
            store
                .remove_stale_temp(Duration::from_secs(3600))
                .await
                .unwrap(),
            1
        );
        assert!(!root.join(format!("tmp/{UUID}")).exists());
        assert_eq!(store.stat(&d).await.unwrap(), Some(6));
        drop(store);
        // Another store may not take it over; the same name may.
        assert!(FileBlobStore::create(&root, "other").is_err());
        assert!(FileBlobStore::create(&root, "legacy").is_ok());
        // Deleting it removes its blobs, temp files and marker; a file someone added stays,
        // and so does the directory holding it.
        write(&root.join(format!("tmp/{UUID}")), "half");
        write(&root.join("sha256/ab/README"), "someone's");
        assert!(!FileBlobStore::remove_dir(root.clone()).await.unwrap());
        assert!(!store_path(&root, &d).exists());
        assert!(!root.join(format!("tmp/{UUID}")).exists());
        assert!(!root.join(MARKER).exists());
        assert_eq!(
            std::fs::read_to_string(root.join("sha256/ab/README")).unwrap(),
            "someone's"
        );
        // A fresh store is made with its marker, private, and goes entirely.
        let fresh = dir.path().join("a/fresh");
        let store = FileBlobStore::create(&fresh, "fresh").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert!(fresh.join(MARKER).exists());
        store
            .put(
                futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"y"))]).boxed(),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert!(store.begin_upload().await.is_ok());
        drop(store);
        assert!(FileBlobStore::remove_dir(fresh.clone()).await.unwrap());
        assert!(!fresh.exists());
        assert!(dir.path().join("a").exists());
        // An empty directory is taken.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(FileBlobStore::create(&empty, "empty").is_ok());
    }

    #[tokio::test]
    async fn stale_temp_files_and_touched_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = FileBlobStore::open(&root, "s").unwrap();
        let old = root.join(format!("tmp/{UUID}"));
        let fresh = root.join("tmp/1b7c2a9e-41d3-4f4e-9a51-2b7f9d0c1e11");
        write(&old, "stale");
        write(&fresh, "in flight");
        write(&root.join("tmp/keep.txt"), "not ours");
        age(&old, 7200);
        age(&root.join("tmp/keep.txt"), 7200);
        assert_eq!(
            store
                .remove_stale_temp(Duration::from_secs(3600))
                .await
                .unwrap(),
            1
        );
        assert!(!old.exists() && fresh.exists() && root.join("tmp/keep.txt").exists());
        // Storing content that is there already makes it look fresh to the sweep.
        let body = || futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"z"))]).boxed();
        let r = store.put(body(), PutOptions::default()).await.unwrap();
        age(&store_path(&root, &r.digest), 7200);
        let t = store.modified(&r.digest).await.unwrap().unwrap();
        assert!(t < SystemTime::now() - Duration::from_secs(3600));
        assert!(
            !store
                .put(body(), PutOptions::default())
                .await
                .unwrap()
                .created
        );
        let t = store.modified(&r.digest).await.unwrap().unwrap();
        assert!(t > SystemTime::now() - Duration::from_secs(60));
    }

    fn chunk(b: &'static [u8]) -> ByteStream {
        futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b))]).boxed()
    }

    /// Two nodes on one shared directory: chunks of one upload alternate between them, and
    /// either commits it; a node's stale hash state is never used.
    #[tokio::test]
    async fn an_upload_continues_on_another_node_sharing_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shared");
        let a = FileBlobStore::open(&root, "default").unwrap();
        let b = FileBlobStore::open(&root, "default").unwrap();
        let id = a.begin_upload().await.unwrap();
        assert_eq!(
            a.append_upload(&id, Some(0), chunk(b"ab"), None)
                .await
                .unwrap(),
            2
        );
        assert_eq!(b.upload_size(&id).await.unwrap(), 2);
        assert_eq!(
            b.append_upload(&id, Some(2), chunk(b"cd"), None)
                .await
                .unwrap(),
            4
        );
        // A sees B's chunk: its size follows the store, not its memory.
        assert_eq!(a.upload_size(&id).await.unwrap(), 4);
        assert_eq!(
            a.append_upload(&id, Some(4), chunk(b"ef"), None)
                .await
                .unwrap(),
            6
        );
        assert!(matches!(
            b.append_upload(&id, Some(4), chunk(b"xx"), None).await,
            Err(BlobError::OffsetMismatch { have: 6, got: 4 })
        ));
        let r = b.commit_upload(&id, &Digest::of(b"abcdef")).await.unwrap();
        assert_eq!((r.size, r.created), (6, true));
        assert!(matches!(
            a.upload_size(&id).await,
            Err(BlobError::UploadUnknown(_))
        ));
        assert!(matches!(
            a.commit_upload(&id, &Digest::of(b"abcdef")).await,
            Err(BlobError::UploadUnknown(_))
        ));

        // Committed by the node that began it after the other appended: its hash state from
        // the first chunk is stale and the file is hashed again.
        let id = a.begin_upload().await.unwrap();
        a.append_upload(&id, None, chunk(b"12"), None)
            .await
            .unwrap();
        b.append_upload(&id, None, chunk(b"34"), None)
            .await
            .unwrap();
        let r = a.commit_upload(&id, &Digest::of(b"1234")).await.unwrap();
        assert_eq!(r.size, 4);
        assert_eq!(
            read(b.get(&r.digest, None).await.unwrap()).await,
            b"1234".to_vec()
        );

        // Bytes past the recorded size (an append killed before recording it) are not part
        // of the upload: the next chunk replaces them.
        let id = a.begin_upload().await.unwrap();
        a.append_upload(&id, None, chunk(b"ok"), None)
            .await
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("uploads").join(&id))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"junk"))
            .unwrap();
        assert_eq!(b.upload_size(&id).await.unwrap(), 2);
        b.append_upload(&id, Some(2), chunk(b"!"), None)
            .await
            .unwrap();
        let r = a.commit_upload(&id, &Digest::of(b"ok!")).await.unwrap();
        assert_eq!(r.size, 3);
        // Nothing of the uploads is left: no files, no state.
        let left: Vec<_> = std::fs::read_dir(root.join("uploads")).unwrap().collect();
        assert!(left.is_empty(), "upload files left: {left:?}");

        // Expiry takes the upload with its state, from either node.
        let id = a.begin_upload().await.unwrap();
        assert_eq!(b.expire_uploads(Duration::ZERO).await.unwrap(), 1);
        assert!(!root.join("uploads").join(state_name(&id)).exists());
    }

    async fn read(b: BlobBody) -> Vec<u8> {
        let mut out = vec![];
        let mut s = b.stream;
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    /// A node starting on a shared directory leaves another node's put in flight alone.
    #[tokio::test]
    async fn opening_a_shared_directory_keeps_temp_files_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shared");
        let a = Arc::new(FileBlobStore::open(&root, "default").unwrap());
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(1);
        let body =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
            )
            .boxed();
        let put = tokio::spawn({
            let a = a.clone();
            async move { a.put(body, PutOptions::default()).await }
        });
        tx.send(Ok(bytes::Bytes::from_static(b"first half, ")))
            .await
            .unwrap();
        // Wait until the put has its temp file (made before the body is read).
        let temp = loop {
            let found: Vec<PathBuf> = std::fs::read_dir(root.join("tmp"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if let Some(p) = found.first() {
                break p.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // Another node (or this one restarting) opens the directory meanwhile.
        let b = FileBlobStore::open(&root, "default").unwrap();
        assert!(temp.exists(), "opening removed another node's temp file");
        tx.send(Ok(bytes::Bytes::from_static(b"second half")))
            .await
            .unwrap();
        drop(tx);
        let r = put.await.unwrap().unwrap();
        assert_eq!(
            read(b.get(&r.digest, None).await.unwrap()).await,
            b"first half, second half".to_vec()
        );
    }
}
