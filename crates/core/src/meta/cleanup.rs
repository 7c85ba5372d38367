//! Cleanup policies (definitions; `crate::cleanup` applies them).

use super::{Db, MetaError, Result, on_db};
use crate::model::now_ms;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CleanupPolicyRow {
    pub name: String,
    pub format: String,
    pub notes: String,
    /// JSON: see `crate::cleanup::Criteria`.
    pub criteria: String,
}

impl Db {
    pub async fn list_cleanup_policies(&self) -> Result<Vec<CleanupPolicyRow>> {
        const Q: &str = "SELECT name, format, notes, criteria FROM cleanup_policies ORDER BY name";
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    pub async fn get_cleanup_policy(&self, name: &str) -> Result<CleanupPolicyRow> {
        const Q: &str =
            "SELECT name, format, notes, criteria FROM cleanup_policies WHERE name = $1";
        on_db!(self, |p| sqlx::query_as(Q)
            .bind(name)
            .fetch_optional(p)
            .await?)
        .ok_or(MetaError::NotFound)
    }

    /// Creates (`Conflict` when the name is taken) or, with `replace`, updates a policy.
    pub async fn put_cleanup_policy(&self, row: &CleanupPolicyRow, replace: bool) -> Result<()> {
        const INS: &str = "INSERT INTO cleanup_policies (name, format, notes, criteria, created_ms) \
             VALUES ($1, $2, $3, $4, $5)";
        const UPD: &str =
            "UPDATE cleanup_policies SET format = $2, notes = $3, criteria = $4 WHERE name = $1";
        let q = if replace { UPD } else { INS };
        let n = on_db!(self, |p| sqlx::query(q)
            .bind(&row.name)
            .bind(&row.format)
            .bind(&row.notes)
            .bind(&row.criteria)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(|e| match MetaError::from(e) {
                MetaError::Conflict(_) => MetaError::Conflict(format!(
                    "a cleanup policy named {} already exists",
                    row.name
                )),
                other => other,
            })?
            .rows_affected());
        if n == 0 {
            return Err(MetaError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_cleanup_policy(&self, name: &str) -> Result<()> {
        const Q: &str = "DELETE FROM cleanup_policies WHERE name = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(name)
            .execute(p)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(MetaError::NotFound);
        }
        Ok(())
    }
}
