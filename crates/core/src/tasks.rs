//! Built-in tasks, run on schedule by the server and on demand through the REST API, each under
//! a database lease so that one node runs it at a time.

use std::time::Duration;

use actix_web::web;

use crate::{
    blob::BlobStore,
    meta::MetaError,
    model::{Digest, now_ms},
    state::Arca,
};

/// Frees blobs left unreferenced and expires abandoned uploads.
pub const BLOB_GC: &str = "blob-gc";
/// Applies every repository's cleanup policies.
pub const CLEANUP: &str = "repository-cleanup";
/// Checks that every recorded blob is in its store with the content its digest names.
pub const INTEGRITY: &str = "blob-integrity";
/// How many bad blobs the integrity check's message names (all are logged).
const INTEGRITY_NAMED: usize = 20;
/// Blob rows read per query by the integrity check.
const INTEGRITY_PAGE: i64 = 500;
/// How often the scheduler looks for due tasks (and runs the blob GC).
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How often the scheduled blob GC also sweeps the stores for orphans (it lists every blob);
/// a run asked for through the API always does.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How long a run's lease lasts; a node that died mid-run is taken over after it. A live run
/// renews it every fifth of that, however long it takes.
const LEASE_MS: i64 = 300_000;

/// Renews a running task's lease until dropped.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn renew_lease(arca: &Arca, id: &str, owner: &str) -> Renewal {
    let (db, id, owner) = (arca.db.clone(), id.to_owned(), owner.to_owned());
    Renewal(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(LEASE_MS as u64 / 5));
        every.tick().await;
        loop {
            every.tick().await;
            match db.claim_task(&id, &owner, LEASE_MS).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(task = %id, "the task's lease passed to another node"),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "renewing the task's lease failed")
                }
            }
        }
    }))
}
/// Cleanup runs once a day, as Nexus's does.
const CLEANUP_EVERY_MS: i64 = 86_400_000;

pub async fn register(arca: &Arca) -> Result<(), MetaError> {
    arca.db
        .ensure_task(
            BLOB_GC,
            "blobstore.gc",
            "Free unreferenced blobs",
            "every 60 seconds",
        )
        .await?;
    arca.db
        .ensure_task(
            CLEANUP,
            "repository.cleanup",
            "Apply cleanup policies",
            "daily",
        )
        .await?;
    arca.db
        .ensure_task(
            INTEGRITY,
            "blobstore.integrity",
            "Check blob integrity",
            "daily",
        )
        .await?;
    for (t, _) in arca.formats.tasks() {
        arca.db
            .ensure_task(t.id, t.type_id, t.name, t.schedule)
            .await?;
    }
    Ok(())
}

/// Runs the tasks whose time has come (the blob GC every [`INTERVAL`]).
pub async fn run_due(arca: &web::Data<Arca>, owner: &str) -> Result<(), MetaError> {
    let sweep = arca.storage.sweep_due(SWEEP_EVERY);
    run_task(arca, BLOB_GC, owner, sweep, true).await?;
    for id in [CLEANUP, INTEGRITY] {
        run_task(arca, id, owner, false, true).await?;
    }
    for (t, _) in arca.formats.tasks() {
        run_task(arca, t.id, owner, false, true).await?;
    }
    Ok(())
}

/// A format's task on every repository of the format; "OK: …" or "FAILED: …".
async fn run_format_task(arca: &web::Data<Arca>, format: &dyn crate::Format) -> String {
    let repos = match arca.db.list_repositories().await {
        Ok(r) => r,
        Err(e) => return format!("FAILED: {e}"),
    };
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for repo in repos.iter().filter(|r| r.format == format.id()) {
        match format.run_task(arca, repo).await {
            Ok(s) if s.is_empty() => {}
            Ok(s) => done.push(format!("{}: {s}", repo.name)),
            Err(e) => failures.push(format!("{}: {e}", repo.name)),
        }
    }
    if failures.is_empty() {
        format!(
            "OK: {}",
            if done.is_empty() {
                "nothing to do".into()
            } else {
                done.join("; ")
            }
        )
    } else {
        format!("FAILED: {}", failures.join("; "))
    }
}

/// Every repository that names cleanup policies, cleaned; "OK: …" or "FAILED: …".
async fn cleanup_all(arca: &web::Data<Arca>) -> String {
    let policies = match arca.db.list_cleanup_policies().await {
        Ok(p) => p,
        Err(e) => return format!("FAILED: {e}"),
    };
    let repos = match arca.db.list_repositories().await {
        Ok(r) => r,
        Err(e) => return format!("FAILED: {e}"),
    };
    let system = crate::security::Subject::system();
    let base = arca.settings.public.base_url.clone().unwrap_or_default();
    let (mut deleted, mut failures) = (0, Vec::new());
    for repo in repos {
        let names = crate::cleanup::policy_names(&repo);
        let mine: Vec<_> = policies
            .iter()
            .filter(|p| names.contains(&p.name))
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        match crate::cleanup::apply(arca, &repo, &mine, false, &system, &base).await {
            Ok(o) => {
                if o.deleted > 0 {
                    tracing::info!(repo = %repo.name, deleted = o.deleted, "cleanup policies applied");
                }
                deleted += o.deleted;
            }
            Err(e) => failures.push(format!("{}: {e}", repo.name)),
        }
    }
    if failures.is_empty() {
        format!("OK: deleted {deleted} components")
    } else {
        format!("FAILED: {}", failures.join("; "))
    }
}

/// SHA-256 of a file, read in blocks on the blocking pool (blobs may be gigabytes).
async fn hash_file(path: std::path::PathBuf) -> std::io::Result<Digest> {
    tokio::task::spawn_blocking(move || {
        use sha2::Digest as _;
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(Digest::from_bytes(h.finalize().into()))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// What the integrity check found wrong with one blob.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    Missing,
    Corrupt,
    Unreadable,
}

/// Checks one blob: present with its recorded size, and (file stores) its content hashes to
/// its digest. S3 objects are only stat'ed: re-reading a bucket daily costs money and time.
async fn check_blob(store: &dyn BlobStore, digest: &Digest, size: u64) -> Option<Fault> {
    match store.stat(digest).await {
        Ok(None) => return Some(Fault::Missing),
        Ok(Some(n)) if n != size => return Some(Fault::Corrupt),
        Ok(Some(_)) => {}
        Err(e) => {
            tracing::warn!(digest = %digest, error = %e, "blob integrity: cannot stat blob");
            return Some(Fault::Unreadable);
        }
    }
    let path = store.local_path(digest)?;
    match hash_file(path).await {
        Ok(d) if d == *digest => None,
        Ok(_) => Some(Fault::Corrupt),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Fault::Missing),
        Err(e) => {
            tracing::warn!(digest = %digest, error = %e, "blob integrity: cannot read blob");
            Some(Fault::Unreadable)
        }
    }
}

/// Walks every recorded blob and checks it; "OK: …" or "FAILED: …" naming the bad ones.
async fn check_integrity(arca: &web::Data<Arca>) -> String {
    let (mut checked, mut missing, mut corrupt, mut unreadable) = (0u64, 0u64, 0u64, 0u64);
    let mut named = Vec::new();
    let (mut after_store, mut after_digest) = (String::new(), String::new());
    loop {
        let page = match arca
            .db
            .blobs_after(&after_store, &after_digest, INTEGRITY_PAGE)
            .await
        {
            Ok(p) => p,
            Err(e) => return format!("FAILED: {e}"),
        };
        let Some(last) = page.last() else { break };
        (after_store, after_digest) = (last.0.clone(), last.1.clone());
        for (store_name, hex, size) in page {
            // A store being deleted or a row that is not a digest: nothing to check.
            let (Ok(store), Ok(digest)) = (arca.storage.store(&store_name), Digest::parse(&hex))
            else {
                continue;
            };
            checked += 1;
            let Some(fault) = check_blob(store.as_ref(), &digest, size.max(0) as u64).await else {
                continue;
            };
            // The GC may have freed it since the page was read: only a blob still recorded
            // is missing.
            if fault == Fault::Missing
                && matches!(arca.db.blob_refcount(&store_name, &hex).await, Ok(None))
            {
                continue;
            }
            let what = match fault {
                Fault::Missing => {
                    missing += 1;
                    "missing"
                }
                Fault::Corrupt => {
                    corrupt += 1;
                    "corrupt"
                }
                Fault::Unreadable => {
                    unreadable += 1;
                    "unreadable"
                }
            };
            tracing::error!(blob_store = %store_name, digest = %hex, fault = what, "blob integrity check failed");
            if named.len() < INTEGRITY_NAMED {
                named.push(format!("{what} {store_name}/{hex}"));
            }
        }
    }
    let counts = format!(
        "checked {checked} blobs, {missing} missing, {corrupt} corrupt, {unreadable} unreadable"
    );
    if named.is_empty() {
        format!("OK: {counts}")
    } else {
        format!("FAILED: {counts}: {}", named.join(", "))
    }
}

/// Runs a task if this node gets its lease: `Ok(None)` when another node holds it, else the
/// result recorded as the task's last run.
pub async fn run(
    arca: &web::Data<Arca>,
    id: &str,
    owner: &str,
) -> Result<Option<String>, MetaError> {
    run_task(arca, id, owner, true, false).await
}

/// [`run`]; the blob GC sweeps for orphans too when `sweep`. A `scheduled` run happens only
/// when the task is due, so across a cluster each schedule runs once (the lease in the
/// database decides which node runs it; a node that dies mid-run leaves a lease that lapses
/// after [`LEASE_MS`], and the next due check on any node runs it).
async fn run_task(
    arca: &web::Data<Arca>,
    id: &str,
    owner: &str,
    sweep: bool,
    scheduled: bool,
) -> Result<Option<String>, MetaError> {
    let format_task = arca.formats.tasks().into_iter().find(|(t, _)| t.id == id);
    if id != BLOB_GC && id != CLEANUP && id != INTEGRITY && format_task.is_none() {
        return Err(MetaError::NotFound);
    }
    let claimed = if scheduled {
        arca.db.claim_due_task(id, owner, LEASE_MS).await?
    } else {
        arca.db.claim_task(id, owner, LEASE_MS).await?
    };
    if !claimed {
        return Ok(None);
    }
    let started = now_ms();
    let _renewal = renew_lease(arca, id, owner);
    if let Some((t, format)) = format_task {
        let result = run_format_task(arca, format.as_ref()).await;
        let next = started + t.every.as_millis() as i64;
        arca.db.finish_task(id, owner, &result, Some(next)).await?;
        return Ok(Some(result));
    }
    if id == CLEANUP || id == INTEGRITY {
        let result = if id == CLEANUP {
            cleanup_all(arca).await
        } else {
            check_integrity(arca).await
        };
        let next = now_ms() + CLEANUP_EVERY_MS;
        arca.db.finish_task(id, owner, &result, Some(next)).await?;
        return Ok(Some(result));
    }
    let result = match arca.storage.collect_garbage(arca.settings.gc_grace).await {
        Ok(n) => {
            let expired = arca
                .storage
                .expire_uploads(Duration::from_secs(86_400))
                .await;
            if n > 0 || expired > 0 {
                tracing::info!(freed = n, expired, "blob garbage collected");
            }
            let mut msg = format!("OK: freed {n} blobs, expired {expired} uploads");
            if sweep {
                match arca.storage.sweep_orphans(arca.settings.orphan_grace).await {
                    Ok((orphans, temps)) => msg.push_str(&format!(
                        ", swept {orphans} orphan blobs and {temps} temp files"
                    )),
                    Err(e) => {
                        tracing::warn!(error = %e, "orphan sweep failed");
                        msg = format!("FAILED: orphan sweep: {e}");
                    }
                }
            }
            msg
        }
        Err(e) => {
            tracing::warn!(error = %e, "blob garbage collection failed");
            format!("FAILED: {e}")
        }
    };
    // From the start, a little early: the next minute's tick on any node finds it due.
    let next = started + INTERVAL.as_millis() as i64 - 1_000;
    arca.db.finish_task(id, owner, &result, Some(next)).await?;
    Ok(Some(result))
}
