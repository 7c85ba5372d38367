//! The last garbage collection of each blob store and docker repository (`gc_runs`), and the
//! bytes waiting for the next one.

use super::{Db, Result, on_db};

/// One scope's last collection.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct GcRun {
    /// `store:<name>` for the blob GC, `repository:<name>` for a format's collection (docker).
    pub scope: String,
    pub blob_store: String,
    pub finished_ms: i64,
    pub duration_ms: i64,
    /// Blobs freed (a store) or manifests and blobs deleted (a repository).
    pub items: i64,
    pub bytes: i64,
    /// Bytes of unreachable content kept for the grace (a docker repository): reclaimable at a
    /// later run.
    pub pending_bytes: i64,
}

impl Db {
    /// Records a scope's last collection, replacing the one before.
    pub async fn record_gc_run(&self, r: &GcRun) -> Result<()> {
        const Q: &str = "INSERT INTO gc_runs (scope, blob_store, finished_ms, duration_ms, items, bytes, pending_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope) DO UPDATE SET \
             blob_store = excluded.blob_store, finished_ms = excluded.finished_ms, \
             duration_ms = excluded.duration_ms, items = excluded.items, bytes = excluded.bytes, \
             pending_bytes = excluded.pending_bytes";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&r.scope)
            .bind(&r.blob_store)
            .bind(r.finished_ms)
            .bind(r.duration_ms)
            .bind(r.items)
            .bind(r.bytes)
            .bind(r.pending_bytes)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Every recorded collection whose content is in `store`.
    pub async fn gc_runs_of_store(&self, store: &str) -> Result<Vec<GcRun>> {
        const Q: &str = "SELECT scope, blob_store, finished_ms, duration_ms, items, bytes, pending_bytes \
             FROM gc_runs WHERE blob_store = $1 ORDER BY scope";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(store)
            .fetch_all(p)
            .await?))
    }

    /// Forgets a scope's runs (its repository or store was deleted).
    pub async fn forget_gc_run(&self, scope: &str) -> Result<()> {
        on_db!(self, |p| sqlx::query(
            "DELETE FROM gc_runs WHERE scope = $1"
        )
        .bind(scope)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Bytes of a store's blobs no asset names any more: the blob GC frees them once their
    /// grace has passed.
    pub async fn unreferenced_bytes(&self, store: &str) -> Result<i64> {
        let q = match self {
            Db::Sqlite(_) => {
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE store = $1 AND refcount <= 0"
            }
            // SUM of BIGINT is NUMERIC on PostgreSQL.
            Db::Pg(_) => {
                "SELECT COALESCE(SUM(size), 0)::BIGINT FROM blobs WHERE store = $1 AND refcount <= 0"
            }
        };
        let (n,): (i64,) = on_db!(self, |p| sqlx::query_as(q).bind(store).fetch_one(p).await?);
        Ok(n)
    }

    /// A store's reclaimable bytes (unreferenced blobs, and what docker collections kept for
    /// the grace) and its last collection: the newest run on its content that freed
    /// something (the blob GC's, or a repository's collection, which frees as it deletes),
    /// else the newest run.
    pub async fn store_collection(&self, store: &str) -> Result<(i64, Option<GcRun>)> {
        let mut reclaimable = self.unreferenced_bytes(store).await?;
        let runs = self.gc_runs_of_store(store).await?;
        for r in runs.iter().filter(|r| !r.scope.starts_with("store:")) {
            reclaimable += r.pending_bytes;
        }
        let newest = |freed: bool| {
            runs.iter()
                .filter(|r| !freed || r.items > 0)
                .max_by_key(|r| r.finished_ms)
                .cloned()
        };
        Ok((reclaimable, newest(true).or_else(|| newest(false))))
    }
}
