//! Built-in tasks, run on schedule by the server and on demand through the REST API, each under
//! a database lease so that one node runs it at a time.

use std::time::Duration;

use actix_web::web;

use crate::{meta::MetaError, model::now_ms, state::Arca};

/// Frees blobs left unreferenced and expires abandoned uploads.
pub const BLOB_GC: &str = "blob-gc";
/// Applies every repository's cleanup policies.
pub const CLEANUP: &str = "repository-cleanup";
/// How often the scheduler looks for due tasks (and runs the blob GC).
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How often the scheduled blob GC also sweeps the stores for orphans (it lists every blob);
/// a run asked for through the API always does.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
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
        .await
}

/// Runs the tasks whose time has come (the blob GC every [`INTERVAL`]).
pub async fn run_due(arca: &web::Data<Arca>, owner: &str) -> Result<(), MetaError> {
    let sweep = arca.storage.sweep_due(SWEEP_EVERY);
    run_task(arca, BLOB_GC, owner, sweep).await?;
    let due = arca
        .db
        .list_tasks()
        .await?
        .into_iter()
        .any(|t| t.id == CLEANUP && t.enabled && t.next_run_ms.is_none_or(|n| n <= now_ms()));
    if due {
        run(arca, CLEANUP, owner).await?;
    }
    Ok(())
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

/// Runs a task if this node gets its lease: `Ok(None)` when another node holds it, else the
/// result recorded as the task's last run.
pub async fn run(
    arca: &web::Data<Arca>,
    id: &str,
    owner: &str,
) -> Result<Option<String>, MetaError> {
    run_task(arca, id, owner, true).await
}

/// [`run`]; the blob GC sweeps for orphans too when `sweep`.
async fn run_task(
    arca: &web::Data<Arca>,
    id: &str,
    owner: &str,
    sweep: bool,
) -> Result<Option<String>, MetaError> {
    if id != BLOB_GC && id != CLEANUP {
        return Err(MetaError::NotFound);
    }
    if !arca.db.claim_task(id, owner, 300_000).await? {
        return Ok(None);
    }
    if id == CLEANUP {
        let result = cleanup_all(arca).await;
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
    let next = now_ms() + INTERVAL.as_millis() as i64;
    arca.db.finish_task(id, owner, &result, Some(next)).await?;
    Ok(Some(result))
}
