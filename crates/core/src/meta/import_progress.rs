//! What `arca import nexus` copied here (`import_progress`): per source and repository, each
//! asset's path and the checksum it had at the source. The importer reads it to skip what is
//! unchanged, to tell deletions at the source from assets added here, and to resume.

use super::{Db, Result, in_tx, on_db};
use crate::model::now_ms;

/// One copied asset (docker: `image:tag` and its manifest digest).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ImportedAsset {
    pub path: String,
    pub checksum: String,
}

impl Db {
    /// Up to `limit` entries of one source's repository with a path after `after`, in path order.
    pub async fn import_progress_page(
        &self,
        source: &str,
        repository: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ImportedAsset>> {
        const Q: &str = "SELECT path, checksum FROM import_progress \
             WHERE source = $1 AND repository = $2 AND path > $3 ORDER BY path LIMIT $4";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(source)
            .bind(repository)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// Records copies and forgets entries in one transaction: a batch is kept whole or not at all.
    pub async fn update_import_progress(
        &self,
        source: &str,
        repository: &str,
        set: &[ImportedAsset],
        forget: &[String],
    ) -> Result<()> {
        const UPSERT: &str = "INSERT INTO import_progress (source, repository, path, checksum, updated_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, repository, path) DO UPDATE SET \
             checksum = excluded.checksum, updated_ms = excluded.updated_ms";
        const DELETE: &str =
            "DELETE FROM import_progress WHERE source = $1 AND repository = $2 AND path = $3";
        let now = now_ms();
        in_tx!(self, |tx| {
            for a in set {
                sqlx::query(UPSERT)
                    .bind(source)
                    .bind(repository)
                    .bind(&a.path)
                    .bind(&a.checksum)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            for path in forget {
                sqlx::query(DELETE)
                    .bind(source)
                    .bind(repository)
                    .bind(path)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(())
    }

    /// Forgets a repository's imports from every source (the repository was deleted).
    pub async fn forget_import_progress(&self, repository: &str) -> Result<()> {
        on_db!(self, |p| sqlx::query(
            "DELETE FROM import_progress WHERE repository = $1"
        )
        .bind(repository)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }
}
