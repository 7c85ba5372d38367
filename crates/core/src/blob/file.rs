//! The filesystem blob store: `<root>/sha256/ab/cd/<hex>`, temp files in `<root>/tmp`.

use std::{
    collections::HashMap,
    io::{self, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
};

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{
    BlobBody, BlobError, BlobRef, BlobStore, ByteRange, ByteStream, MultiHasher, PutOptions,
};
use crate::model::Digest;

pub struct FileBlobStore {
    root: PathBuf,
    /// Hash state of uploads appended on this node since it started, so a commit need not
    /// re-read the file; absent after a restart (or on another node), then the commit re-hashes.
    uploads: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<UploadState>>>>,
}

#[derive(Clone)]
struct UploadState {
    size: u64,
    hasher: Option<Sha256>,
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

impl FileBlobStore {
    /// Opens (creating) a store at `root`. Temp files left by a crash are removed.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("sha256"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        // Resumable uploads survive restarts (clients resume them).
        std::fs::create_dir_all(root.join("uploads"))?;
        Ok(Self {
            root,
            uploads: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The file of an upload; ids are ours (UUIDs), so anything else is unknown, never a path.
    fn upload_path(&self, id: &str) -> Result<PathBuf, BlobError> {
        if id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            Ok(self.root.join("uploads").join(id))
        } else {
            Err(BlobError::UploadUnknown(id.to_owned()))
        }
    }

    /// The upload's state, loaded from disk when this node has none.
    async fn upload_state(
        &self,
        id: &str,
    ) -> Result<(PathBuf, Arc<tokio::sync::Mutex<UploadState>>), BlobError> {
        let path = self.upload_path(id)?;
        let size = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::UploadUnknown(id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let mut map = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        let state = map
            .entry(id.to_owned())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(UploadState { size, hasher: None }))
            })
            .clone();
        Ok((path, state))
    }

    fn forget_upload(&self, id: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Moves a verified temp file into its content-addressed place (or drops it as a duplicate).
    async fn place(&self, from: &Path, digest: &Digest) -> Result<bool, BlobError> {
        let dest = self.path_of(digest);
        if tokio::fs::try_exists(&dest).await? {
            tokio::fs::remove_file(from).await?;
            return Ok(false);
        }
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

async fn sync_dir(dir: PathBuf) -> io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
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
        let dest = self.path_of(&digest);
        let created = if tokio::fs::try_exists(&dest).await? {
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
        let mut file = match tokio::fs::File::open(self.path_of(digest)).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(digest.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        let range = match range {
            None => None,
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(BlobError::RangeNotSatisfiable { size })?,
            ),
        };
        let (start, len) = match range {
            Some((a, b)) => (a, b - a + 1),
            None => (0, size),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        use tokio::io::AsyncReadExt;
        // Large reads mean fewer trips to the blocking pool (1 MiB GETs: 0.35 → 0.54 of nginx);
        // small files get a buffer of their own size.
        let chunk = len.clamp(1, 512 * 1024) as usize;
        let stream = ReaderStream::with_capacity(file.take(len), chunk)
            .map_err(io::Error::other)
            .boxed();
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

    async fn append_upload(
        &self,
        id: &str,
        offset: Option<u64>,
        mut body: ByteStream,
        max_size: Option<u64>,
    ) -> Result<u64, BlobError> {
        let (path, state) = self.upload_state(id).await?;
        let mut st = state.lock().await;
        if let Some(got) = offset
            && got != st.size
        {
            return Err(BlobError::OffsetMismatch { have: st.size, got });
        }
        let before = st.clone();
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await?;
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
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // Roll the upload back to where this chunk began.
            drop(out);
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await?;
            f.set_len(before.size).await?;
            *st = before;
            return Err(e);
        }
        Ok(st.size)
    }

    async fn upload_size(&self, id: &str) -> Result<u64, BlobError> {
        let (_, state) = self.upload_state(id).await?;
        let size = state.lock().await.size;
        Ok(size)
    }

    async fn commit_upload(&self, id: &str, expect: &Digest) -> Result<BlobRef, BlobError> {
        let (path, state) = self.upload_state(id).await?;
        let st = state.lock().await;
        tokio::fs::File::open(&path).await?.sync_all().await?;
        let digest = match &st.hasher {
            Some(h) => Digest::from_bytes(h.clone().finalize().into()),
            None => {
                // Appended before a restart or on another node: hash the file.
                let mut f = tokio::fs::File::open(&path).await?;
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
        let size = st.size;
        drop(st);
        self.forget_upload(id);
        if digest != *expect {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(BlobError::DigestMismatch {
                expected: expect.clone(),
                actual: digest,
            });
        }
        let created = self.place(&path, &digest).await?;
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

    async fn cancel_upload(&self, id: &str) -> Result<bool, BlobError> {
        let path = self.upload_path(id)?;
        self.forget_upload(id);
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn expire_uploads(&self, age: std::time::Duration) -> Result<usize, BlobError> {
        let mut dir = tokio::fs::read_dir(self.root.join("uploads")).await?;
        let mut n = 0;
        while let Some(e) = dir.next_entry().await? {
            let idle = e
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .unwrap_or_default();
            if idle >= age {
                let id = e.file_name().to_string_lossy().into_owned();
                if self.cancel_upload(&id).await.unwrap_or(false) {
                    n += 1;
                }
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path().join("blobs")).unwrap();
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
        let again = FileBlobStore::open(dir.path().join("blobs")).unwrap();
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
}
