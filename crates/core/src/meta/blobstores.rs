//! Blob store definitions (the `default` one comes from configuration; more through the API).

use super::{Db, MetaError, Result, in_tx, on_db};
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

    /// The digests recorded in `store` that begin with the byte `shard`: what the orphan sweep
    /// compares one shard of a store's listing with.
    pub async fn blob_digests_in_shard(
        &self,
        store: &str,
        shard: u8,
    ) -> Result<std::collections::HashSet<String>> {
        // A range on the primary key (store, digest). Digests are lowercase hex, which sorts
        // alike in every collation; "g" follows every digest beginning with "ff".
        const Q: &str =
            "SELECT digest FROM blobs WHERE store = $1 AND digest >= $2 AND digest < $3";
        let from = format!("{shard:02x}");
        let to = match shard.checked_add(1) {
            Some(next) => format!("{next:02x}"),
            None => "g".to_owned(),
        };
        let rows: Vec<(String,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(store)
            .bind(&from)
            .bind(&to)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Up to `limit` recorded blobs `(store, digest, size)` after `(store, digest)` in key
    /// order: the integrity check walks the table in pages so it never holds it all.
    pub async fn blobs_after(
        &self,
        store: &str,
        digest: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>> {
        const Q: &str = "SELECT store, digest, size FROM blobs \
             WHERE store > $1 OR (store = $1 AND digest > $2) ORDER BY store, digest LIMIT $3";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(store)
            .bind(digest)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// How many repositories use a blob store.
    pub async fn blob_store_repository_count(&self, name: &str) -> Result<i64> {
        const Q: &str = "SELECT COUNT(*) FROM repositories WHERE blob_store = $1";
        let (n,): (i64,) = on_db!(self, |p| sqlx::query_as(Q).bind(name).fetch_one(p).await?);
        Ok(n)
    }

    pub async fn get_blob_store(&self, name: &str) -> Result<BlobStoreRow> {
        const Q: &str = "SELECT name, type, path, soft_quota, attributes, created_ms FROM blob_stores WHERE name = $1";
        on_db!(self, |p| sqlx::query_as(Q)
            .bind(name)
            .fetch_optional(p)
            .await?)
        .ok_or(MetaError::NotFound)
    }

    /// Records a new blob store; `Conflict` when the name is taken.
    pub async fn create_blob_store(&self, row: &BlobStoreRow) -> Result<()> {
        const Q: &str = "INSERT INTO blob_stores (name, type, path, soft_quota, attributes, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&row.name)
            .bind(&row.kind)
            .bind(&row.path)
            .bind(&row.soft_quota)
            .bind(&row.attributes)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(|e| match MetaError::from(e) {
                MetaError::Conflict(_) => {
                    MetaError::Conflict(format!("a blob store named {} already exists", row.name))
                }
                other => other,
            })?
            .rows_affected());
        Ok(())
    }

    /// Changes a blob store's path, soft quota and attributes (its name and type stay).
    pub async fn update_blob_store(&self, row: &BlobStoreRow) -> Result<()> {
        const Q: &str =
            "UPDATE blob_stores SET path = $2, soft_quota = $3, attributes = $4 WHERE name = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&row.name)
            .bind(&row.path)
            .bind(&row.soft_quota)
            .bind(&row.attributes)
            .execute(p)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(MetaError::NotFound);
        }
        Ok(())
    }

    /// Forgets a blob store no repository uses, with its (then unreferenced) blob rows, in one
    /// transaction; `Conflict` names the repositories still using it.
    pub async fn delete_blob_store(&self, name: &str) -> Result<()> {
        const USERS: &str = "SELECT name FROM repositories WHERE blob_store = $1 ORDER BY name";
        const REFS: &str = "SELECT COUNT(*) FROM assets WHERE blob_store = $1";
        const BLOBS: &str = "DELETE FROM blobs WHERE store = $1";
        const DEL: &str = "DELETE FROM blob_stores WHERE name = $1";
        in_tx!(self, |tx| {
            let users: Vec<(String,)> =
                sqlx::query_as(USERS).bind(name).fetch_all(&mut *tx).await?;
            if !users.is_empty() {
                let names: Vec<String> = users.into_iter().map(|(n,)| n).collect();
                return Err(MetaError::Conflict(format!(
                    "blob store {name} is used by repositories {}",
                    names.join(", ")
                )));
            }
            // Assets are the references; a store no repository uses has none, but a copy
            // racing the delete would show here.
            let (refs,): (i64,) = sqlx::query_as(REFS).bind(name).fetch_one(&mut *tx).await?;
            if refs > 0 {
                return Err(MetaError::Conflict(format!(
                    "blob store {name} still holds {refs} assets"
                )));
            }
            sqlx::query(BLOBS).bind(name).execute(&mut *tx).await?;
            let n = sqlx::query(DEL)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(MetaError::NotFound);
            }
        });
        Ok(())
    }
}
