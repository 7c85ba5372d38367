//! Generating and publishing repodata for one root of a repository.
//!
//! Uploads and deletes mark their root dirty; a worker per root waits for the burst to settle
//! (debounce), then rebuilds from the package metadata kept in the database (no RPM is opened)
//! and publishes: the three data files first, under content-derived names, then `repomd.xml` in
//! one step, so a client never sees a `repomd.xml` whose files are missing. The previous
//! generation's files stay one round, for clients still reading them.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use arca_core::{
    Arca,
    model::{Asset, AssetPath, Repository, now_ms},
    storage::{AssetMeta, StorageError},
};
use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::{
    package::Package,
    xml::{self, DataFile, Entry},
};

/// Quiet time after the last change before a rebuild starts.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// A steady stream of changes still gets repodata this often.
const MAX_DELAY: Duration = Duration::from_secs(5);

type Key = (i64, String);

struct RootState {
    changes: u64,
    last_change: Instant,
    worker: bool,
    published: watch::Sender<u64>,
}

/// Dirty roots and their workers, one per process.
#[derive(Default)]
pub struct Publisher {
    roots: Mutex<HashMap<Key, RootState>>,
    /// Roots whose repodata this process checked against the database.
    verified: Mutex<std::collections::HashSet<Key>>,
}

/// The root (`""`, `el9/`, `el9/x86_64/`) that holds an RPM at `path` for a repodata `depth`;
/// `None` when the path is not deep enough.
pub fn root_of(path: &str, depth: usize) -> Option<String> {
    let segs: Vec<&str> = path.split('/').collect();
    if segs.len() <= depth {
        return None;
    }
    Some(segs[..depth].iter().map(|s| format!("{s}/")).collect())
}

impl Publisher {
    /// Records a change under `root` and makes sure a worker will publish it.
    pub fn changed(
        self: &Arc<Self>,
        arca: &actix_web::web::Data<Arca>,
        repo: &Repository,
        root: &str,
    ) {
        let key = (repo.id, root.to_owned());
        let spawn = {
            let mut roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
            let st = roots.entry(key.clone()).or_insert_with(|| RootState {
                changes: 0,
                last_change: Instant::now(),
                worker: false,
                published: watch::channel(0).0,
            });
            st.changes += 1;
            st.last_change = Instant::now();
            !std::mem::replace(&mut st.worker, true)
        };
        if spawn {
            let (me, arca, repo) = (self.clone(), arca.clone(), repo.clone());
            tokio::spawn(async move { me.work(arca, repo, key).await });
        }
    }

    async fn work(self: Arc<Self>, arca: actix_web::web::Data<Arca>, repo: Repository, key: Key) {
        let started = Instant::now();
        loop {
            tokio::time::sleep(DEBOUNCE).await;
            let (target, settled) = {
                let roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
                let Some(st) = roots.get(&key) else { return };
                (
                    st.changes,
                    st.last_change.elapsed() >= DEBOUNCE || started.elapsed() >= MAX_DELAY,
                )
            };
            if !settled {
                continue;
            }
            let t0 = Instant::now();
            match publish(&arca, &repo, &key.1).await {
                Ok(n) => {
                    tracing::info!(repo = %repo.name, root = %key.1, packages = n, ms = t0.elapsed().as_millis() as u64, "repodata published")
                }
                Err(e) => {
                    tracing::error!(repo = %repo.name, root = %key.1, error = %e, "repodata generation failed")
                }
            }
            let mut roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
            let Some(st) = roots.get_mut(&key) else {
                return;
            };
            st.published.send_replace(target);
            if st.changes == target {
                st.worker = false;
                return;
            }
        }
    }

    /// Waits until every change made before this call is published (a reader of `repomd.xml`
    /// then sees its own uploads). Gives up after `limit`.
    pub async fn flush(&self, repo_id: i64, root: &str, limit: Duration) {
        let rx = {
            let roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
            match roots.get(&(repo_id, root.to_owned())) {
                Some(st) if *st.published.borrow() < st.changes => {
                    Some((st.published.subscribe(), st.changes))
                }
                _ => None,
            }
        };
        if let Some((mut rx, want)) = rx {
            let _ = tokio::time::timeout(limit, rx.wait_for(|v| *v >= want)).await;
        }
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    e.write_all(data)?;
    e.finish()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The RPM assets under `root` with their package metadata, ordered by path.
pub async fn packages(
    arca: &Arca,
    repo: &Repository,
    root: &str,
) -> Result<Vec<(Asset, Package)>, StorageError> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = arca.db.list_assets(repo.id, root, &after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.path.clone();
        let full = page.len() == 1000;
        for a in page {
            if !a.path.ends_with(".rpm") {
                continue;
            }
            if let Some(p) = a
                .attrs
                .get("yum")
                .and_then(|v| serde_json::from_value::<Package>(v.clone()).ok())
            {
                out.push((a, p));
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

/// The three documents for a list of packages (uncompressed).
pub fn render(root: &str, pkgs: &[(Asset, Package)]) -> [String; 3] {
    let n = pkgs.len();
    let (mut primary, mut filelists, mut other) = (
        xml::primary_open(n),
        xml::filelists_open(n),
        xml::other_open(n),
    );
    for (a, p) in pkgs {
        let e = Entry {
            pkg: p,
            sha256: &a.checksums.sha256,
            href: a.path.strip_prefix(root).unwrap_or(&a.path),
            size: a.size as u64,
            file_time: (a.created_ms / 1000) as u64,
        };
        primary.push_str(&xml::primary_package(&e));
        filelists.push_str(&xml::filelists_package(&e));
        other.push_str(&xml::other_package(&e));
    }
    primary.push_str(xml::PRIMARY_CLOSE);
    filelists.push_str(xml::FILELISTS_CLOSE);
    other.push_str(xml::OTHER_CLOSE);
    [primary, filelists, other]
}

/// Rebuilds and publishes the repodata of `root`; returns the package count. One node at a
/// time per root (a cluster-wide lock): each publish reads the packages after the previous one
/// wrote, and never drops data files another node's fresh `repomd.xml` names.
pub async fn publish(arca: &Arca, repo: &Repository, root: &str) -> Result<usize, StorageError> {
    let key = arca_core::locks::LockKey::new("yum-repodata", &format!("{}\0{root}", repo.id));
    let _one = arca
        .locks
        .lock(&[key], arca_core::locks::Hold::Long)
        .await?;
    let pkgs = packages(arca, repo, root).await?;
    let docs = render(root, &pkgs);
    let fp = fingerprint(pkgs.iter().map(|(a, _)| a));
    store_repodata(arca, repo, root, docs, json!({ "fingerprint": fp })).await?;
    Ok(pkgs.len())
}

/// What `Db::asset_fingerprint` says of the same RPMs.
fn fingerprint<'a>(assets: impl Iterator<Item = &'a Asset>) -> [i64; 3] {
    assets.fold([0, 0, 0], |[n, m, s], a| {
        [n + 1, m.max(a.last_modified_ms), s + a.id]
    })
}

impl Publisher {
    /// Republishes when the RPMs under `root` are not what its `repomd.xml` was made from: once
    /// per root and process on a single node (it stopped between an upload and its publish);
    /// on every read of `repomd.xml` in a cluster, where another node's upload may not be
    /// published yet, so a reader on any node sees every upload made before its request.
    pub async fn verify_once(
        self: &Arc<Self>,
        arca: &actix_web::web::Data<Arca>,
        repo: &Repository,
        root: &str,
    ) {
        // Only real roots: exactly `repodataDepth` directories deep.
        if root.matches('/').count() != crate::depth(&repo.attrs) {
            return;
        }
        let key = (repo.id, root.to_owned());
        if !arca.locks.shared() {
            let mut v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if !v.insert(key) {
                return;
            }
        }
        let repomd = format!("{root}repodata/repomd.xml");
        let recorded = match arca.db.find_asset(repo.id, &repomd).await {
            Ok(a) => a.and_then(|a| a.attrs.get("fingerprint").cloned()),
            Err(_) => return,
        };
        let (n, m, s) = match arca.db.asset_fingerprint(repo.id, root, ".rpm").await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(repo = %repo.name, root, error = %e, "cannot check repodata");
                return;
            }
        };
        let current = json!([n, m, s]);
        let stale = match recorded {
            Some(r) => r != current,
            None => n > 0,
        };
        if stale {
            tracing::info!(repo = %repo.name, root, "repodata out of date; republishing");
            self.changed(arca, repo, root);
        }
    }
}

fn path(p: &str) -> Result<AssetPath, StorageError> {
    AssetPath::parse(p)
        .map_err(|e| StorageError::Meta(arca_core::meta::MetaError::Invalid(e.to_string())))
}

/// Writes the data files, then `repomd.xml` (with `extra` in its attributes), then drops data
/// files neither this nor the previous `repomd.xml` names.
pub async fn store_repodata(
    arca: &Arca,
    repo: &Repository,
    root: &str,
    docs: [String; 3],
    extra: serde_json::Value,
) -> Result<(), StorageError> {
    let dir = format!("{root}repodata/");
    let repomd_path = format!("{dir}repomd.xml");
    let previous = arca.db.find_asset(repo.id, &repomd_path).await?;
    let mut files = Vec::new();
    let mut names = Vec::new();
    for (kind, doc) in ["primary", "filelists", "other"].into_iter().zip(docs) {
        let gz = gzip(doc.as_bytes()).map_err(arca_core::blob::BlobError::Io)?;
        let sha = sha256_hex(&gz);
        let href = format!("repodata/{sha}-{kind}.xml.gz");
        let full = format!("{root}{href}");
        if arca.db.find_asset(repo.id, &full).await?.is_none() {
            let meta = AssetMeta {
                content_type: "application/x-gzip".into(),
                ..Default::default()
            };
            arca.storage
                .put_bytes(repo, &path(&full)?, Bytes::from(gz.clone()), meta)
                .await?;
        }
        files.push(DataFile {
            kind,
            href,
            sha256: sha,
            size: gz.len() as u64,
            open_sha256: sha256_hex(doc.as_bytes()),
            open_size: doc.len() as u64,
        });
        names.push(full);
    }
    let now = (now_ms() / 1000) as u64;
    let repomd = xml::repomd(now, now, &files);
    let mut attrs = json!({ "files": names });
    if let (Some(a), serde_json::Value::Object(m)) = (attrs.as_object_mut(), extra) {
        a.extend(m);
    }
    let meta = AssetMeta {
        content_type: "application/xml".into(),
        attrs,
        ..Default::default()
    };
    let signature = match crate::signing::signer(&repo.attrs) {
        Ok(Some(s)) => Some(crate::signing::sign(&s, repomd.as_bytes())),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    };
    arca.storage
        .put_bytes(repo, &path(&repomd_path)?, Bytes::from(repomd), meta)
        .await?;
    let asc_path = format!("{repomd_path}.asc");
    match signature {
        Some(Ok(asc)) => {
            let meta = AssetMeta {
                content_type: "application/pgp-signature".into(),
                ..Default::default()
            };
            arca.storage
                .put_bytes(repo, &path(&asc_path)?, Bytes::from(asc), meta)
                .await?;
        }
        Some(Err(e)) => {
            tracing::error!(repo = %repo.name, error = %e, "repomd.xml not signed");
            if arca.db.find_asset(repo.id, &asc_path).await?.is_some() {
                arca.storage.delete_asset(repo, &asc_path).await?;
            }
        }
        None => {
            if arca.db.find_asset(repo.id, &asc_path).await?.is_some() {
                arca.storage.delete_asset(repo, &asc_path).await?;
            }
        }
    }
    let mut keep: Vec<String> = names;
    if let Some(prev) = previous
        && let Some(list) = prev.attrs.get("files").and_then(|v| v.as_array())
    {
        keep.extend(list.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    for a in arca.db.list_assets(repo.id, &dir, "", 1000).await? {
        let name = &a.path[dir.len()..];
        if name.contains('/') || name == "repomd.xml" || keep.contains(&a.path) {
            continue;
        }
        if name.ends_with("-primary.xml.gz")
            || name.ends_with("-filelists.xml.gz")
            || name.ends_with("-other.xml.gz")
        {
            arca.storage.delete_asset(repo, &a.path).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn roots() {
        use super::root_of;
        assert_eq!(root_of("a.rpm", 0).as_deref(), Some(""));
        assert_eq!(root_of("el9/x86_64/a.rpm", 0).as_deref(), Some(""));
        assert_eq!(root_of("el9/x86_64/a.rpm", 1).as_deref(), Some("el9/"));
        assert_eq!(
            root_of("el9/x86_64/a.rpm", 2).as_deref(),
            Some("el9/x86_64/")
        );
        assert_eq!(root_of("a.rpm", 1), None);
        assert_eq!(root_of("el9/a.rpm", 2), None);
    }
}
