//! Built-in tasks, run on schedule by the server and on demand through the REST API, each under
//! a database lease so that one node runs it at a time.

use std::time::Duration;

use actix_web::web;

use crate::{
    blob::BlobStore,
    meta::{GcRun, MetaError, TaskRow},
    model::{Digest, now_ms},
    schedule::Frequency,
    state::Arca,
    task_types::{self, Properties, TaskSettings},
};

/// The built-in blob GC task's id.
pub const BLOB_GC: &str = "blob-gc";
/// The built-in cleanup task's id.
pub const CLEANUP: &str = "repository-cleanup";
/// The built-in integrity check's id.
pub const INTEGRITY: &str = "blob-integrity";
/// How long a resumable upload may sit idle before the blob GC discards it.
const UPLOAD_MAX_IDLE: Duration = Duration::from_secs(86_400);
/// How many bad blobs the integrity check's message names (all are logged).
const INTEGRITY_NAMED: usize = 20;
/// Blob rows read per query by the integrity check.
const INTEGRITY_PAGE: i64 = 500;
/// How often the scheduler looks for due tasks: no schedule runs more often.
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
/// Creates the built-in task of each type that has one, and gives those recorded by a release
/// without schedules a Nexus frequency.
pub async fn register(arca: &Arca) -> Result<(), MetaError> {
    let now = now_ms();
    for t in task_types::all(arca) {
        let Some(b) = t.builtin else { continue };
        let settings = TaskSettings {
            frequency: Frequency::cron(b.cron),
            properties: t
                .fields
                .iter()
                .map(|f| (f.id.to_owned(), f.default.to_owned()))
                .collect(),
        };
        let row = TaskRow {
            id: b.id.into(),
            type_id: t.type_id.into(),
            name: b.name.into(),
            schedule: settings.frequency.schedule.clone(),
            enabled: true,
            last_run_ms: None,
            last_result: None,
            next_run_ms: Some(settings.frequency.next_after(now)),
            attributes: serde_json::to_string(&settings).unwrap_or_else(|_| "{}".into()),
            lease_until_ms: 0,
        };
        if !arca.db.create_task(&row).await? {
            arca.db.upgrade_task(&row).await?;
        }
    }
    // The blob GC runs at start too (unless made manual): its orphan sweep clears what a
    // crash left.
    let gc = arca.db.get_task(BLOB_GC).await?;
    if gc.enabled && gc.schedule != "manual" {
        arca.db.make_due(BLOB_GC, now).await?;
    }
    Ok(())
}

/// Runs the tasks whose time has come.
pub async fn run_due(arca: &web::Data<Arca>, owner: &str) -> Result<(), MetaError> {
    let sweep = arca.storage.sweep_due(SWEEP_EVERY);
    let now = now_ms();
    for t in arca.db.list_tasks().await? {
        let due = t.enabled && t.next_run_ms.is_none_or(|n| n <= now) && t.lease_until_ms < now;
        if !due {
            continue;
        }
        match run_task(arca, &t.id, owner, sweep, true).await {
            Ok(_) | Err(MetaError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A format's task; "OK: …" or "FAILED: …".
async fn run_format_task(
    arca: &web::Data<Arca>,
    format: &dyn crate::Format,
    type_id: &str,
    properties: &Properties,
) -> String {
    match format.run_task(arca, type_id, properties).await {
        Ok(s) if s.is_empty() => "OK: nothing to do".into(),
        Ok(s) => format!("OK: {s}"),
        Err(e) => format!("FAILED: {e}"),
    }
}

/// The blob GC: frees unreferenced blobs (of one store, or all), expires abandoned uploads,
/// and sweeps for orphans when `sweep`; records each store's collection. "OK: …" or
/// "FAILED: …".
async fn compact(arca: &web::Data<Arca>, properties: &Properties, sweep: bool) -> String {
    let started = now_ms();
    let only = properties
        .get("blobstoreName")
        .filter(|s| *s != "*")
        .unwrap_or("");
    let collected = match arca
        .storage
        .collect_garbage(arca.settings.gc_grace, only)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "blob garbage collection failed");
            return format!("FAILED: {e}");
        }
    };
    let expired = arca.storage.expire_uploads(UPLOAD_MAX_IDLE).await;
    let (n, bytes) = (collected.blobs(), collected.bytes());
    if n > 0 || expired > 0 {
        tracing::info!(freed = n, bytes, expired, "blob garbage collected");
    }
    let finished = now_ms();
    if let Ok(stores) = arca.db.list_blob_stores().await {
        for s in stores
            .iter()
            .filter(|s| properties.takes("blobstoreName", &s.name))
        {
            let (items, freed) = collected.by_store.get(&s.name).copied().unwrap_or_default();
            let run = GcRun {
                scope: format!("store:{}", s.name),
                blob_store: s.name.clone(),
                finished_ms: finished,
                duration_ms: finished - started,
                items: items as i64,
                bytes: freed,
                pending_bytes: 0,
            };
            if let Err(e) = arca.db.record_gc_run(&run).await {
                tracing::warn!(error = %e, "recording the blob GC's result failed");
            }
        }
    }
    let mut msg = format!("OK: freed {n} blobs ({bytes} bytes), expired {expired} uploads");
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

/// A run this node made: its result (recorded as the task's last run) and when it started and
/// ended, both while this node held the lease.
pub struct Ran {
    pub result: String,
    pub started_ms: i64,
    pub ended_ms: i64,
}

/// Runs a task if this node gets its lease: `Ok(None)` when another node holds it.
pub async fn run(arca: &web::Data<Arca>, id: &str, owner: &str) -> Result<Option<Ran>, MetaError> {
    run_task(arca, id, owner, true, false).await
}

/// [`run`]; the blob GC sweeps for orphans too when `sweep`. A `scheduled` run happens only
/// when the task is due, so across a cluster each schedule runs once (the lease in the
/// database decides which node runs it; a node that dies mid-run leaves a lease that lapses
/// after [`LEASE_MS`], and the next due check on any node runs it). A task of a type this
/// release does not know (written by a newer node) is left to the nodes that do.
async fn run_task(
    arca: &web::Data<Arca>,
    id: &str,
    owner: &str,
    sweep: bool,
    scheduled: bool,
) -> Result<Option<Ran>, MetaError> {
    let row = arca.db.get_task(id).await?;
    let format = arca.formats.of_task_type(&row.type_id).cloned();
    let core = [
        task_types::COMPACT,
        task_types::CLEANUP,
        task_types::INTEGRITY,
    ]
    .contains(&row.type_id.as_str());
    if !core && format.is_none() {
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
    let _renewal = renew_lease(arca, id, owner);
    let started_ms = now_ms();
    let settings = TaskSettings::parse(&row.attributes);
    let properties = Properties(settings.properties.clone());
    let result = match (row.type_id.as_str(), format) {
        (_, Some(f)) => run_format_task(arca, f.as_ref(), &row.type_id, &properties).await,
        (task_types::COMPACT, None) => compact(arca, &properties, sweep).await,
        (task_types::CLEANUP, None) => cleanup_all(arca).await,
        _ => check_integrity(arca).await,
    };
    // A task whose settings predate schedules (an older node wrote it) runs hourly.
    let next = if row.attributes == "{}" {
        now_ms() + 3_600_000
    } else {
        settings.frequency.next_after(now_ms())
    };
    // Taken before the lease is given back: runs on two nodes never seem to overlap.
    let ended_ms = now_ms();
    arca.db.finish_task(id, owner, &result, Some(next)).await?;
    Ok(Some(Ran {
        result,
        started_ms,
        ended_ms,
    }))
}
