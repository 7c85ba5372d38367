//! Scheduled tasks and the lease that lets exactly one node run each.

use super::{Db, Result, on_db};
use crate::model::now_ms;

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub type_id: String,
    pub name: String,
    pub schedule: String,
    pub enabled: bool,
    pub last_run_ms: Option<i64>,
    pub last_result: Option<String>,
    pub next_run_ms: Option<i64>,
}

impl Db {
    /// Records a built-in task unless it exists.
    pub async fn ensure_task(
        &self,
        id: &str,
        type_id: &str,
        name: &str,
        schedule: &str,
    ) -> Result<()> {
        const Q: &str = "INSERT INTO tasks (id, type_id, name, schedule, enabled, attributes, lease_until_ms) \
             VALUES ($1, $2, $3, $4, TRUE, '{}', 0) ON CONFLICT (id) DO NOTHING";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(type_id)
            .bind(name)
            .bind(schedule)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn list_tasks(&self) -> Result<Vec<TaskRow>> {
        const Q: &str = "SELECT id, type_id, name, schedule, enabled, last_run_ms, last_result, next_run_ms \
             FROM tasks ORDER BY id";
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    /// Takes the task's lease for `lease_ms` if nobody holds it (or renews it for `owner`): one
    /// conditional UPDATE, so it is atomic on both backends (SQLite has no `SKIP LOCKED`). True
    /// when `owner` got it.
    pub async fn claim_task(&self, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
        self.claim(
            "UPDATE tasks SET lease_owner = $2, lease_until_ms = $3 \
             WHERE id = $1 AND enabled AND (lease_until_ms < $4 OR lease_owner = $2)",
            id,
            owner,
            lease_ms,
        )
        .await
    }

    /// [`Db::claim_task`] for a scheduled run: only when its time has come, so that of several
    /// nodes ticking each minute one runs it and the others find it not due.
    pub async fn claim_due_task(&self, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
        self.claim(
            "UPDATE tasks SET lease_owner = $2, lease_until_ms = $3 \
             WHERE id = $1 AND enabled AND lease_until_ms < $4 \
             AND (next_run_ms IS NULL OR next_run_ms <= $4)",
            id,
            owner,
            lease_ms,
        )
        .await
    }

    async fn claim(&self, q: &'static str, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
        let now = now_ms();
        let n = on_db!(self, |p| sqlx::query(q)
            .bind(id)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Records a run's outcome and releases the lease.
    pub async fn finish_task(
        &self,
        id: &str,
        owner: &str,
        result: &str,
        next_run_ms: Option<i64>,
    ) -> Result<()> {
        const Q: &str = "UPDATE tasks SET last_run_ms = $3, last_result = $4, next_run_ms = $5, \
             lease_owner = NULL, lease_until_ms = 0 WHERE id = $1 AND lease_owner = $2";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(owner)
            .bind(now_ms())
            .bind(result)
            .bind(next_run_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_node_holds_the_lease() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db.ensure_task("gc", "blob.gc", "Free unreferenced blobs", "every 60s")
            .await
            .unwrap();
        assert!(db.claim_task("gc", "node-a", 60_000).await.unwrap());
        assert!(
            !db.claim_task("gc", "node-b", 60_000).await.unwrap(),
            "held by node-a"
        );
        assert!(
            db.claim_task("gc", "node-a", 60_000).await.unwrap(),
            "the holder renews"
        );
        db.finish_task("gc", "node-a", "freed 0 blobs", None)
            .await
            .unwrap();
        let t = &db.list_tasks().await.unwrap()[0];
        assert_eq!(t.last_result.as_deref(), Some("freed 0 blobs"));
        // A node that died holding a lease: once it expires, another takes over.
        assert!(db.claim_task("gc", "node-b", -1).await.unwrap(), "released");
        assert!(db.claim_task("gc", "node-c", 60_000).await.unwrap());
        assert!(!db.claim_task("gc", "node-b", 60_000).await.unwrap());
    }
}
