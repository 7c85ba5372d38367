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
    /// Its frequency and properties ([`crate::task_types::TaskSettings`]), JSON.
    pub attributes: String,
    /// Until when a node's run holds it (in the past when none does).
    pub lease_until_ms: i64,
}

macro_rules! columns {
    () => {
        "id, type_id, name, schedule, enabled, last_run_ms, last_result, next_run_ms, attributes, \
         lease_until_ms"
    };
}

impl Db {
    /// Records a task unless one of its id exists; true when it was created.
    pub async fn create_task(&self, t: &TaskRow) -> Result<bool> {
        const Q: &str = "INSERT INTO tasks (id, type_id, name, schedule, enabled, attributes, next_run_ms, lease_until_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0) ON CONFLICT (id) DO NOTHING";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&t.id)
            .bind(&t.type_id)
            .bind(&t.name)
            .bind(&t.schedule)
            .bind(t.enabled)
            .bind(&t.attributes)
            .bind(t.next_run_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Gives a task recorded by a release without schedules its type, schedule and settings
    /// (`attributes` still empty): done once, at start.
    pub async fn upgrade_task(&self, t: &TaskRow) -> Result<()> {
        const Q: &str = "UPDATE tasks SET type_id = $2, schedule = $3, attributes = $4, next_run_ms = $5 \
             WHERE id = $1 AND attributes = '{}'";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&t.id)
            .bind(&t.type_id)
            .bind(&t.schedule)
            .bind(&t.attributes)
            .bind(t.next_run_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Changes a task's name, enabled flag, schedule and settings; false when there is none.
    pub async fn update_task(&self, t: &TaskRow) -> Result<bool> {
        const Q: &str = "UPDATE tasks SET name = $2, enabled = $3, schedule = $4, attributes = $5, \
             next_run_ms = $6 WHERE id = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&t.id)
            .bind(&t.name)
            .bind(t.enabled)
            .bind(&t.schedule)
            .bind(&t.attributes)
            .bind(t.next_run_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Makes a task due at `at` (unless due earlier).
    pub async fn make_due(&self, id: &str, at: i64) -> Result<()> {
        const Q: &str = "UPDATE tasks SET next_run_ms = $2 WHERE id = $1 \
             AND (next_run_ms IS NULL OR next_run_ms > $2)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(at)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes a task; false when there is none.
    pub async fn delete_task(&self, id: &str) -> Result<bool> {
        let n = on_db!(self, |p| sqlx::query("DELETE FROM tasks WHERE id = $1")
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn list_tasks(&self) -> Result<Vec<TaskRow>> {
        const Q: &str = concat!("SELECT ", columns!(), " FROM tasks ORDER BY id");
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    pub async fn get_task(&self, id: &str) -> Result<TaskRow> {
        const Q: &str = concat!("SELECT ", columns!(), " FROM tasks WHERE id = $1");
        on_db!(self, |p| sqlx::query_as(Q)
            .bind(id)
            .fetch_optional(p)
            .await?)
        .ok_or(super::MetaError::NotFound)
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
        let row = TaskRow {
            id: "gc".into(),
            type_id: "blobstore.compact".into(),
            name: "Free unreferenced blobs".into(),
            schedule: "manual".into(),
            enabled: true,
            last_run_ms: None,
            last_result: None,
            next_run_ms: None,
            attributes: "{}".into(),
            lease_until_ms: 0,
        };
        assert!(db.create_task(&row).await.unwrap());
        assert!(!db.create_task(&row).await.unwrap(), "exists");
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
