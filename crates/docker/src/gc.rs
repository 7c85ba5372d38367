//! Garbage collection of a docker repository: blobs (layers, configs) and manifests that no
//! tag reaches are deleted, so their bytes go once nothing else in the blob store names them.
//!
//! What is kept: every tagged manifest; every manifest an index reachable from a tag names;
//! every referrer (a manifest whose `subject` is a kept manifest); untagged manifests unless the
//! repository sets `docker.untaggedMaxAgeHours` (then those older than that go: "deploy by
//! digest" keeps working for that long); every blob a kept manifest names; and every blob or
//! manifest written, mounted or read within the grace (`ARCA_GC_GRACE`), so a layer uploaded
//! for a manifest not yet pushed stays. In a proxy, cached manifests not used within the
//! repository's `proxy.contentMaxAge` (minutes; -1 keeps them) go first: the next pull
//! fetches them again.
//!
//! Online and across nodes: a manifest PUT holds the locks of the blobs it names while it
//! checks they exist and records itself; the collector takes the same locks before it deletes
//! a blob, and looks again at every manifest written since it started. So either the manifest
//! is recorded first and its blobs stay, or the blob goes first and the PUT answers
//! `MANIFEST_BLOB_UNKNOWN` (the client uploads it again): never a manifest whose layer is gone.

use std::collections::{HashMap, HashSet};

use arca_core::{
    Arca,
    locks::{Guard, Hold, LockKey},
    model::{Asset, Repository, now_ms},
};

use crate::manifest;

/// Manifests read into memory at most this large (an index of thousands of platforms fits).
const MANIFEST_LIMIT: u64 = 4 << 20;
/// Clocks of nodes differ: manifests written this long before the run began are looked at
/// again too.
const CLOCK_MARGIN_MS: i64 = 60_000;
/// Blob deletions locked at once.
const BATCH: usize = 200;

/// The lock a manifest PUT and the collector take for a blob of a repository.
pub fn blob_lock(repo_id: i64, digest: &str) -> LockKey {
    LockKey::new("docker-blob", &format!("{repo_id}\0{digest}"))
}

/// Takes the locks of the blobs a manifest names (see the module's documentation).
pub async fn lock_blobs(
    arca: &Arca,
    repo_id: i64,
    digests: &[String],
) -> Result<Guard, arca_core::meta::MetaError> {
    let keys: Vec<LockKey> = digests.iter().map(|d| blob_lock(repo_id, d)).collect();
    arca.locks.lock(&keys, Hold::Long).await
}

/// What a run did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub manifests: usize,
    pub blobs: usize,
    /// Bytes of the blobs deleted (dry: that would be).
    pub bytes: i64,
    /// Bytes that left the blob store (content no other asset named).
    pub freed_bytes: i64,
    /// Bytes a later run frees: unreachable content kept for the grace (and, dry, what this
    /// run would have deleted), counting only blobs no other asset names.
    pub pending_bytes: i64,
    /// What a dry run would delete: paths, at most [`LISTED`].
    pub listed: Vec<String>,
}

/// Paths a dry run names.
const LISTED: usize = 50;

impl Report {
    fn list(&mut self, path: &str) {
        if self.listed.len() < LISTED {
            self.listed.push(path.to_owned());
        }
    }
}

/// Deletes an asset; true when its bytes left the store.
async fn delete(arca: &Arca, repo: &Repository, path: &str) -> Result<bool, String> {
    arca.storage
        .delete_asset_freeing(repo, path)
        .await
        .map_err(|e| e.to_string())
}

/// The bytes deleting `a` would free: its size when no other asset names its blob.
async fn freeable(arca: &Arca, a: &Slim) -> i64 {
    match arca.db.blob_refcount(&a.blob_store, &a.blob_digest).await {
        Ok(Some(n)) if n <= 1 => a.size,
        _ => 0,
    }
}

/// What the collector keeps of an asset while it runs (not its attributes).
struct Slim {
    path: String,
    size: i64,
    blob_store: String,
    blob_digest: String,
    last_use: i64,
    last_modified: i64,
}

impl Slim {
    fn of(a: &Asset) -> Self {
        Self {
            path: a.path.clone(),
            size: a.size,
            blob_store: a.blob_store.clone(),
            blob_digest: a.blob_digest.clone(),
            last_use: last_use(a),
            last_modified: a.last_modified_ms,
        }
    }
}

/// Assets read per query: a run holds what manifests name, never every asset at once.
const PAGE: i64 = 1000;

/// The newest use of an asset: written, mounted (both rewrite it) or read.
fn last_use(a: &Asset) -> i64 {
    a.last_modified_ms.max(a.last_downloaded_ms.unwrap_or(0))
}

/// `v2/<image>/manifests/<reference>` → (image, reference).
fn manifest_parts(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("v2/")?;
    let (image, reference) = rest.rsplit_once("/manifests/")?;
    (image != "-").then_some((image, reference))
}

/// What a manifest names.
struct Names {
    blobs: Vec<String>,
    children: Vec<String>,
}

/// What the manifest of an asset names: from its attributes (recorded at push), or read and
/// parsed for manifests pushed before they were; `None` when unreadable (then it is kept and
/// what it names is unknown).
async fn parse(arca: &Arca, a: &Asset) -> Option<Names> {
    let list = |k: &str| {
        a.attrs.get(k)?.as_array().map(|v| {
            v.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
    };
    if let (Some(blobs), Some(children)) = (list("blobs"), list("children")) {
        return Some(Names { blobs, children });
    }
    let bytes = arca.storage.read_small(a, MANIFEST_LIMIT).await.ok()??;
    let m = manifest::parse(&bytes, Some(&a.content_type)).ok()?;
    Some(Names {
        blobs: m.blobs,
        children: m.children,
    })
}

/// The blobs the manifests of `assets` name (reading each distinct manifest once).
async fn named_blobs(arca: &Arca, assets: &[&Asset]) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut seen = HashSet::new();
    for a in assets {
        if !seen.insert(a.checksums.sha256.clone()) {
            continue;
        }
        if let Some(m) = parse(arca, a).await {
            out.extend(m.blobs);
        }
    }
    out
}

/// The child manifests an index names (none when unreadable).
pub async fn children(arca: &Arca, index: &Asset) -> Vec<String> {
    parse(arca, index)
        .await
        .map(|m| m.children)
        .unwrap_or_default()
}

/// The manifest digests of an image that a tag names or that an index of the image lists.
pub async fn named_by_image(
    arca: &Arca,
    repo_id: i64,
    image: &str,
) -> crate::error::Result<HashSet<String>> {
    let mut out = HashSet::new();
    for a in crate::manifests::manifest_assets(arca, repo_id, image).await? {
        if !crate::names::is_digest(crate::manifests::reference_of(&a)) {
            out.insert(crate::manifests::asset_digest(&a));
        } else if a.attrs.get("index") == Some(&serde_json::json!(true)) {
            out.extend(children(arca, &a).await);
        }
    }
    Ok(out)
}

/// A manifest named by digest, as the collector keeps it.
struct Manifest {
    asset: Slim,
    /// `None` when unreadable: if it is reached, nothing of the repository goes.
    names: Option<Names>,
    subject: Option<String>,
}

/// Collects one repository (see the module's documentation); a `dry` run deletes nothing and
/// lists what would go. Manifests are read a page at a time, keeping what they name; blobs
/// are then read a page at a time and each page's unreached ones collected.
pub async fn collect(
    arca: &Arca,
    repo: &Repository,
    grace_ms: i64,
    dry: bool,
) -> Result<Report, String> {
    let started = now_ms();
    let young = |last_use: i64| started - last_use < grace_ms;
    // A proxy's cached manifests not used within its content max age go (the next pull
    // fetches them again), and with them what only they reached.
    let cache_age_ms = (repo.kind == arca_core::model::RepoKind::Proxy)
        .then(|| {
            repo.attrs
                .pointer("/proxy/contentMaxAge")
                .and_then(|v| v.as_i64())
        })
        .flatten()
        .filter(|m| *m >= 0)
        .map(|m| m * 60_000);
    let max_age_ms = repo
        .attrs
        .pointer("/docker/untaggedMaxAgeHours")
        .and_then(|v| v.as_i64())
        .map(|h| h.max(0) * 3_600_000);
    let mut expired: Vec<Slim> = Vec::new();
    let mut by_digest: HashMap<(String, String), Manifest> = HashMap::new();
    let mut queue: Vec<(String, String)> = Vec::new();
    let mut reached_blobs: HashSet<String> = HashSet::new();
    // (Blob rows are paged past too: where they sort depends on the database's collation.)
    let mut after = String::new();
    loop {
        let page = arca
            .db
            .list_assets(repo.id, "v2/", &after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.path.clone();
        let full = page.len() as i64 == PAGE;
        for a in &page {
            let Some((image, reference)) = manifest_parts(&a.path) else {
                continue;
            };
            let slim = Slim::of(a);
            if cache_age_ms.is_some_and(|age| started - slim.last_use >= age)
                && !young(slim.last_use)
            {
                expired.push(slim);
                continue;
            }
            let names = parse(arca, a).await;
            if crate::names::is_digest(reference) {
                let subject = a
                    .attrs
                    .get("subject")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                by_digest.insert(
                    (image.to_owned(), reference.to_owned()),
                    Manifest {
                        asset: slim,
                        names,
                        subject,
                    },
                );
                continue;
            }
            // A tag: what its manifest names stays, by whichever digest it was pushed.
            let Some(names) = names else {
                return Ok(Report::default());
            };
            queue.push((image.to_owned(), crate::manifests::asset_digest(a)));
            reached_blobs.extend(names.blobs);
            queue.extend(names.children.into_iter().map(|c| (image.to_owned(), c)));
        }
        if !full {
            break;
        }
    }
    for (key, m) in &by_digest {
        let expired = max_age_ms.is_some_and(|age| started - m.asset.last_use >= age);
        if !expired || young(m.asset.last_use) {
            queue.push(key.clone());
        }
    }
    // Reachable manifests and blobs; referrers of kept manifests join until nothing changes.
    let mut subjects: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for ((image, digest), m) in &by_digest {
        if let Some(s) = &m.subject {
            subjects
                .entry((image.clone(), s.clone()))
                .or_default()
                .push((image.clone(), digest.clone()));
        }
    }
    let mut kept: HashSet<(String, String)> = HashSet::new();
    while let Some(key) = queue.pop() {
        if !kept.insert(key.clone()) {
            continue;
        }
        if let Some(refs) = subjects.get(&key) {
            queue.extend(refs.iter().cloned());
        }
        let Some(m) = by_digest.get(&key) else {
            continue;
        };
        match &m.names {
            Some(n) => {
                reached_blobs.extend(n.blobs.iter().cloned());
                queue.extend(n.children.iter().map(|c| (key.0.clone(), c.clone())));
            }
            // Unreadable: what it names is unknown, so nothing of the repository goes.
            None => return Ok(Report::default()),
        }
    }
    let mut report = Report::default();
    for a in &expired {
        report.manifests += 1;
        if dry {
            report.list(&a.path);
            report.pending_bytes += freeable(arca, a).await;
            continue;
        }
        if delete(arca, repo, &a.path).await? {
            report.freed_bytes += a.size;
        }
    }
    // Untagged manifests no one reaches.
    for (key, m) in &by_digest {
        if kept.contains(key) {
            continue;
        }
        if young(m.asset.last_use) {
            report.pending_bytes += freeable(arca, &m.asset).await;
            continue;
        }
        if dry {
            report.manifests += 1;
            report.list(&m.asset.path);
            report.pending_bytes += freeable(arca, &m.asset).await;
            continue;
        }
        // Pushed again (a tag given to it) since the listing: it stays.
        match arca.db.find_asset(repo.id, &m.asset.path).await {
            Ok(Some(now)) if now.last_modified_ms == m.asset.last_modified => {}
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        }
        report.manifests += 1;
        if delete(arca, repo, &m.asset.path).await? {
            report.freed_bytes += m.asset.size;
        }
    }
    drop(by_digest);
    // Blobs no kept manifest names; those used within the grace wait for a later run.
    let mut after = String::new();
    loop {
        let page = arca
            .db
            .list_assets(repo.id, "v2/-/blobs/", &after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.path.clone();
        let full = page.len() as i64 == PAGE;
        let mut candidates = Vec::new();
        for a in &page {
            if reached_blobs.contains(a.path.trim_start_matches("v2/-/blobs/")) {
                continue;
            }
            let slim = Slim::of(a);
            if young(slim.last_use) {
                report.pending_bytes += freeable(arca, &slim).await;
            } else {
                candidates.push(slim);
            }
        }
        if dry {
            for a in &candidates {
                report.blobs += 1;
                report.bytes += a.size;
                report.list(&a.path);
                report.pending_bytes += freeable(arca, a).await;
            }
        } else {
            for batch in candidates.chunks(BATCH) {
                collect_blobs(arca, repo, started, batch, &mut report).await?;
            }
        }
        if !full {
            break;
        }
    }
    Ok(report)
}

/// Deletes a batch of unreached blobs under their locks, but those a manifest recorded since
/// the run began names (its PUT held these locks, so it is recorded by now) and those used
/// again since they were listed.
async fn collect_blobs(
    arca: &Arca,
    repo: &Repository,
    started: i64,
    batch: &[Slim],
    report: &mut Report,
) -> Result<(), String> {
    let digests: Vec<String> = batch
        .iter()
        .map(|a| a.path.trim_start_matches("v2/-/blobs/").to_owned())
        .collect();
    let _locked = lock_blobs(arca, repo.id, &digests)
        .await
        .map_err(|e| e.to_string())?;
    let fresh = arca
        .db
        .assets_modified_since(repo.id, "v2/%/manifests/%", started - CLOCK_MARGIN_MS)
        .await
        .map_err(|e| e.to_string())?;
    let refs: Vec<&Asset> = fresh.iter().collect();
    let named = named_blobs(arca, &refs).await;
    for (a, d) in batch.iter().zip(&digests) {
        if named.contains(d) {
            continue;
        }
        match arca.db.find_asset(repo.id, &a.path).await {
            Ok(Some(now)) if now.last_modified_ms == a.last_modified => {}
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        }
        if delete(arca, repo, &a.path).await? {
            report.freed_bytes += a.size;
        }
        report.blobs += 1;
        report.bytes += a.size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths() {
        assert_eq!(
            manifest_parts("v2/team/app/manifests/1.0"),
            Some(("team/app", "1.0"))
        );
        assert_eq!(manifest_parts("v2/-/blobs/sha256:ab"), None);
        assert_eq!(manifest_parts("v2/a/blobs/x"), None);
    }
}
