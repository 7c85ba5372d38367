//! Small key/value settings changed at run time (anonymous access and the like).

use super::{Db, Result, on_db};

impl Db {
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        const Q: &str = "SELECT value FROM settings WHERE key = $1";
        let r: Option<(String,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(key)
            .fetch_optional(p)
            .await?);
        Ok(r.map(|r| r.0))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        const Q: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        on_db!(self, |p| sqlx::query(Q)
            .bind(key)
            .bind(value)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Sets `key` only when absent; true when this call set it.
    pub async fn init_setting(&self, key: &str, value: &str) -> Result<bool> {
        const Q: &str =
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(key)
            .bind(value)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// A cheap real write for `/status/writable`: a ping succeeds on a read-only database, a
    /// full disk or a lost write lock, this does not. Always the same value, so the row never
    /// grows.
    pub async fn probe_write(&self) -> Result<()> {
        self.set_setting("status.write-probe", "ok").await
    }
}
