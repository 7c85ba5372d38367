//! The filesystem blob store: `<root>/sha256/ab/cd/<hex>`, temp files in `<root>/tmp`.

use std::{
    io::{self, SeekFrom},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{
    BlobBody, BlobError, BlobRef, BlobStore, ByteRange, ByteStream, MultiHasher, PutOptions,
};
use crate::model::Digest;

pub struct FileBlobStore {
    root: PathBuf,
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
        Ok(Self { root })
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
        assert!(store.healthy().await);
        // Nothing is left in tmp after all the failure cases.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs/tmp"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "temp files left behind: {left:?}");
    }
}
