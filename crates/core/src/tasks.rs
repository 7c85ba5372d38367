//! Built-in tasks, run on schedule by the server and on demand through the REST API, each under
//! a database lease so that one node runs it at a time.

use std::time::Duration;

use crate::{meta::MetaError, model::now_ms, state::Arca};

/// Frees blobs left unreferenced and expires abandoned uploads.
pub const BLOB_GC: &str = "blob-gc";
/// How often the scheduler runs each task.
pub const INTERVAL: Duration = Duration::from_secs(60);

pub async fn register(arca: &Arca) -> Result<(), MetaError> {
    arca.db
        .ensure_task(
            BLOB_GC,
            "blobstore.gc",
            "Free unreferenced blobs",
            "every 60 seconds",
        )
        .await
}

/// Runs a task if this node gets its lease: `Ok(None)` when another node holds it, else the
/// result recorded as the task's last run.
pub async fn run(arca: &Arca, id: &str, owner: &str) -> Result<Option<String>, MetaError> {
    if id != BLOB_GC {
        return Err(MetaError::NotFound);
    }
    if !arca.db.claim_task(id, owner, 300_000).await? {
        return Ok(None);
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
            format!("OK: freed {n} blobs, expired {expired} uploads")
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
