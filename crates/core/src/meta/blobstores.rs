//! Blob store definitions (the `default` one comes from configuration; more through the API).

use super::{Db, Result, on_db};
use crate::model::now_ms;

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct BlobStoreRow {
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub path: String,
    pub soft_quota: Option<String>,
    pub attributes: String,
    pub created_ms: i64,
}

impl Db {
    pub async fn list_blob_stores(&self) -> Result<Vec<BlobStoreRow>> {
        const Q: &str = "SELECT name, type, path, soft_quota, attributes, created_ms FROM blob_stores ORDER BY name";
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    /// Records a blob store unless one of that name exists; returns the stored row.
    pub async fn ensure_blob_store(
        &self,
        name: &str,
        kind: &str,
        path: &str,
    ) -> Result<BlobStoreRow> {
        const INS: &str = "INSERT INTO blob_stores (name, type, path, attributes, created_ms) VALUES ($1, $2, $3, '{}', $4) \
             ON CONFLICT (name) DO NOTHING";
        const Q: &str = "SELECT name, type, path, soft_quota, attributes, created_ms FROM blob_stores WHERE name = $1";
        Ok(on_db!(self, |p| {
            sqlx::query(INS)
                .bind(name)
                .bind(kind)
                .bind(path)
                .bind(now_ms())
                .execute(p)
                .await?;
            sqlx::query_as(Q).bind(name).fetch_one(p).await?
        }))
    }

    /// Records a new blob store (`attributes`: its type's settings as JSON, e.g. an S3
    /// bucket configuration); `Conflict` when the name is taken.
    pub async fn create_blob_store(
        &self,
        name: &str,
        kind: &str,
        path: &str,
        attributes: &str,
    ) -> Result<BlobStoreRow> {
        const INS: &str = "INSERT INTO blob_stores (name, type, path, attributes, created_ms) VALUES ($1, $2, $3, $4, $5) \
             RETURNING name, type, path, soft_quota, attributes, created_ms";
        Ok(on_db!(self, |p| sqlx::query_as(INS)
            .bind(name)
            .bind(kind)
            .bind(path)
            .bind(attributes)
            .bind(now_ms())
            .fetch_one(p)
            .await?))
    }

    /// Points an existing blob store at a new path (the default store follows `data_dir`).
    pub async fn set_blob_store_path(&self, name: &str, path: &str) -> Result<()> {
        const Q: &str = "UPDATE blob_stores SET path = $2 WHERE name = $1";
        on_db!(self, |p| sqlx::query(Q)
            .bind(name)
            .bind(path)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// How many repositories use a blob store.
    pub async fn blob_store_repository_count(&self, name: &str) -> Result<i64> {
        const Q: &str = "SELECT COUNT(*) FROM repositories WHERE blob_store = $1";
        let (n,): (i64,) = on_db!(self, |p| sqlx::query_as(Q).bind(name).fetch_one(p).await?);
        Ok(n)
    }
}
