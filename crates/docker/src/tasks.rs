//! The docker tasks: garbage collection of repositories ([`crate::gc`]) and the purge of
//! incomplete uploads.

use std::time::Duration;

use actix_web::web;
use arca_core::{
    Arca,
    meta::GcRun,
    model::{RepoKind, now_ms},
    task_types::Properties,
};

use crate::gc;

/// Nexus's type id of "Docker - Delete unused manifests and images".
pub const GC: &str = "repository.docker.gc";
/// Nexus's type id of "Docker - Delete incomplete uploads".
pub const UPLOAD_PURGE: &str = "repository.docker.upload-purge";

/// Collects every docker repository the task names (hosted and proxy; a group holds nothing of
/// its own), recording each one's result for the blob store listing.
pub async fn collect(arca: &web::Data<Arca>, properties: &Properties) -> Result<String, String> {
    let repos = arca
        .db
        .list_repositories()
        .await
        .map_err(|e| e.to_string())?;
    let offset_ms = properties.number("deployOffset").unwrap_or(0) * 3_600_000;
    let grace_ms = (arca.settings.gc_grace.as_millis() as i64).max(offset_ms);
    let dry = properties.flag("dryRun");
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for repo in repos.iter().filter(|r| {
        r.format == "docker"
            && r.kind != RepoKind::Group
            && properties.takes("repositoryName", r.name.as_str())
    }) {
        let started = now_ms();
        let r = match gc::collect(arca, repo, grace_ms, dry).await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", repo.name));
                continue;
            }
        };
        let finished = now_ms();
        let run = GcRun {
            scope: format!("repository:{}", repo.name),
            blob_store: repo.blob_store.clone(),
            finished_ms: finished,
            duration_ms: finished - started,
            items: if dry {
                0
            } else {
                (r.manifests + r.blobs) as i64
            },
            bytes: if dry { 0 } else { r.freed_bytes },
            pending_bytes: r.pending_bytes,
        };
        if let Err(e) = arca.db.record_gc_run(&run).await {
            tracing::warn!(repo = %repo.name, error = %e, "recording the docker collection failed");
        }
        if r.manifests + r.blobs == 0 {
            continue;
        }
        if dry {
            done.push(format!(
                "{}: would delete {} manifests and {} blobs ({} bytes): {}",
                repo.name,
                r.manifests,
                r.blobs,
                r.bytes,
                r.listed.join(", ")
            ));
        } else {
            tracing::info!(repo = %repo.name, manifests = r.manifests, blobs = r.blobs, bytes = r.bytes, freed_bytes = r.freed_bytes, "docker garbage collected");
            done.push(format!(
                "{}: deleted {} manifests and {} blobs ({} bytes), freeing {} bytes on disk",
                repo.name, r.manifests, r.blobs, r.bytes, r.freed_bytes
            ));
        }
    }
    if failures.is_empty() {
        Ok(done.join("; "))
    } else {
        Err(failures.join("; "))
    }
}

/// Discards docker uploads (resumable, chunked) idle for longer than the task's `age` hours.
pub async fn purge_uploads(
    arca: &web::Data<Arca>,
    properties: &Properties,
) -> Result<String, String> {
    let hours = properties.number("age").unwrap_or(24).max(0) as u64;
    let n = arca
        .storage
        .expire_uploads(Duration::from_secs(hours * 3600))
        .await;
    Ok(if n == 0 {
        String::new()
    } else {
        format!("deleted {n} incomplete uploads")
    })
}
