//! Components, assets and the blob reference counts they hold.

use super::{Db, MetaError, Result, in_tx, json_text, on_db, parse_json};
use crate::model::{Asset, Checksums, Component, now_ms};

/// A component an asset belongs to, created on first use.
#[derive(Clone, Debug)]
pub struct NewComponent {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub attrs: serde_json::Value,
}

/// An asset to record after its blob was stored.
#[derive(Clone, Debug)]
pub struct NewAsset {
    pub repository_id: i64,
    pub path: String,
    pub blob_store: String,
    pub blob_digest: String,
    pub size: i64,
    pub content_type: String,
    pub checksums: Checksums,
    pub uploader: Option<String>,
    pub uploader_ip: Option<String>,
    pub attrs: serde_json::Value,
    pub component: Option<NewComponent>,
    /// The upload held its blob (see [`Db::hold_blob`]); recording lets go of the hold.
    pub held: bool,
}

/// A blob whose last reference went away: the garbage collector may free it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReleasedBlob {
    pub store: String,
    pub digest: String,
    /// Its size, when the query that found it read it (the GC's does).
    #[sqlx(default)]
    pub size: i64,
}

#[derive(sqlx::FromRow)]
struct AssetRow {
    id: i64,
    repository: String,
    component_id: Option<i64>,
    path: String,
    blob_store: String,
    blob_digest: String,
    size: i64,
    content_type: String,
    sha256: String,
    sha1: String,
    md5: String,
    sha512: String,
    created_ms: i64,
    last_modified_ms: i64,
    last_verified_ms: i64,
    last_downloaded_ms: Option<i64>,
    uploader: Option<String>,
    uploader_ip: Option<String>,
    attributes: String,
}

impl AssetRow {
    fn into_asset(self) -> Result<Asset> {
        Ok(Asset {
            id: self.id,
            repository: self.repository,
            component_id: self.component_id,
            path: self.path,
            blob_store: self.blob_store,
            blob_digest: self.blob_digest,
            size: self.size,
            content_type: self.content_type,
            checksums: Checksums {
                sha256: self.sha256,
                sha1: self.sha1,
                md5: self.md5,
                sha512: self.sha512,
            },
            created_ms: self.created_ms,
            last_modified_ms: self.last_modified_ms,
            last_verified_ms: self.last_verified_ms,
            last_downloaded_ms: self.last_downloaded_ms,
            uploader: self.uploader,
            uploader_ip: self.uploader_ip,
            attrs: parse_json(&self.attributes)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: i64,
    repository: String,
    namespace: String,
    name: String,
    version: String,
    attributes: String,
    created_ms: i64,
}

const ASSET_SELECT: &str = "SELECT a.id, r.name AS repository, a.component_id, a.path, a.blob_store, \
     a.blob_digest, a.size, a.content_type, a.sha256, a.sha1, a.md5, a.sha512, a.created_ms, \
     a.last_modified_ms, a.last_verified_ms, a.last_downloaded_ms, a.uploader, a.uploader_ip, a.attributes \
     FROM assets a JOIN repositories r ON r.id = a.repository_id";

impl Db {
    /// Records an asset (replacing any at the same path) and takes a reference on its blob, in
    /// one transaction. Returns the asset and the blob the replaced asset released, if any.
    pub async fn put_asset(&self, a: &NewAsset) -> Result<(Asset, Option<ReleasedBlob>)> {
        let (mut assets, mut released) = self.put_assets(std::slice::from_ref(a)).await?;
        let asset = assets
            .pop()
            .ok_or_else(|| MetaError::Invalid("no asset recorded".into()))?;
        Ok((asset, released.pop()))
    }

    /// Records several assets (each replacing any at its path) in one transaction: all or none.
    /// Returns them in order, and the blobs the replaced assets released.
    ///
    /// Two nodes writing at once must neither deadlock nor trip over each other's insert, so on
    /// PostgreSQL the transaction first takes an advisory lock per asset path (in key order), then
    /// touches rows in one order every writer follows: blobs (sorted), components (sorted),
    /// assets (whose paths it holds). SQLite runs one writer at a time anyway.
    pub async fn put_assets(&self, list: &[NewAsset]) -> Result<(Vec<Asset>, Vec<ReleasedBlob>)> {
        const INC: &str = "INSERT INTO blobs (digest, store, size, refcount, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (store, digest) DO UPDATE SET refcount = blobs.refcount + $4, zero_since_ms = NULL, \
             held = CASE WHEN blobs.held > $6 THEN blobs.held - $6 ELSE 0 END";
        const DEC: &str = "UPDATE blobs SET refcount = refcount - $3, \
             zero_since_ms = CASE WHEN refcount - $3 <= 0 THEN $4 ELSE NULL END \
             WHERE store = $1 AND digest = $2 RETURNING refcount";
        const UNHOLD: &str = "UPDATE blobs SET held = CASE WHEN held > $3 THEN held - $3 ELSE 0 END \
             WHERE store = $1 AND digest = $2";
        const COMP: &str = "INSERT INTO components (repository_id, namespace, name, version, attributes, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (repository_id, namespace, name, version) \
             DO UPDATE SET attributes = excluded.attributes RETURNING id";
        const OLD: &str =
            "SELECT blob_store, blob_digest FROM assets WHERE repository_id = $1 AND path = $2";
        // A replaced asset keeps its id and creation time.
        const PUT: &str = "INSERT INTO assets (repository_id, component_id, path, blob_store, blob_digest, size, \
             content_type, sha256, sha1, md5, sha512, created_ms, last_modified_ms, last_verified_ms, uploader, uploader_ip, \
             attributes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $13, $14, $15) \
             ON CONFLICT (repository_id, path) DO UPDATE SET component_id = excluded.component_id, \
             blob_store = excluded.blob_store, blob_digest = excluded.blob_digest, size = excluded.size, \
             content_type = excluded.content_type, sha256 = excluded.sha256, sha1 = excluded.sha1, md5 = excluded.md5, \
             sha512 = excluded.sha512, last_modified_ms = excluded.last_modified_ms, \
             last_verified_ms = excluded.last_verified_ms, uploader = excluded.uploader, \
             uploader_ip = excluded.uploader_ip, attributes = excluded.attributes RETURNING id";
        let now = now_ms();
        let path_keys: Vec<_> = list
            .iter()
            .map(|a| asset_key(a.repository_id, &a.path))
            .collect();
        let (ids, released) = in_tx!(self, |tx| {
            tx.lock_keys(&path_keys).await?;
            // The blob of the asset now at each path (as the batch goes: a path may repeat),
            // and each blob's net change.
            let mut current: std::collections::HashMap<(i64, &str), Option<BlobKey>> =
                std::collections::HashMap::new();
            let mut delta: std::collections::BTreeMap<BlobKey, BlobDelta> =
                std::collections::BTreeMap::new();
            for a in list {
                let key = (a.repository_id, a.path.as_str());
                let before = match current.get(&key) {
                    Some(b) => b.clone(),
                    None => {
                        sqlx::query_as(OLD)
                            .bind(a.repository_id)
                            .bind(&a.path)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                if let Some(b) = before {
                    delta.entry(b).or_default().refs -= 1;
                }
                let now_there = (a.blob_store.clone(), a.blob_digest.clone());
                let e = delta.entry(now_there.clone()).or_default();
                e.refs += 1;
                e.size = a.size;
                e.holds += i64::from(a.held);
                current.insert(key, Some(now_there));
            }
            let mut released = Vec::new();
            for ((store, digest), d) in &delta {
                let (n, size, held) = (&d.refs, &d.size, &d.holds);
                if *n > 0 {
                    sqlx::query(INC)
                        .bind(digest)
                        .bind(store)
                        .bind(size)
                        .bind(n)
                        .bind(now)
                        .bind(held)
                        .execute(&mut *tx)
                        .await?;
                } else if *n < 0 {
                    let (left,): (i64,) = sqlx::query_as(DEC)
                        .bind(store)
                        .bind(digest)
                        .bind(-n)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    if left <= 0 {
                        released.push(ReleasedBlob {
                            size: 0,
                            store: store.clone(),
                            digest: digest.clone(),
                        });
                    }
                }
                if *n <= 0 && *held > 0 {
                    sqlx::query(UNHOLD)
                        .bind(store)
                        .bind(digest)
                        .bind(held)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let mut comps: Vec<&NewComponent> =
                list.iter().filter_map(|a| a.component.as_ref()).collect();
            comps.sort_by(|a, b| {
                (&a.namespace, &a.name, &a.version).cmp(&(&b.namespace, &b.name, &b.version))
            });
            let mut comp_ids: std::collections::HashMap<(i64, &str, &str, &str), i64> =
                std::collections::HashMap::new();
            for a in list {
                if let Some(nc) = &a.component {
                    let k = (
                        a.repository_id,
                        nc.namespace.as_str(),
                        nc.name.as_str(),
                        nc.version.as_str(),
                    );
                    if comp_ids.contains_key(&k) {
                        continue;
                    }
                    // Placeholder, filled in sorted order below.
                    comp_ids.insert(k, 0);
                }
            }
            let mut keys: Vec<_> = comp_ids.keys().copied().collect();
            keys.sort_by(|a, b| (a.1, a.2, a.3, a.0).cmp(&(b.1, b.2, b.3, b.0)));
            for k in keys {
                let attrs = list
                    .iter()
                    .rev()
                    .filter(|a| a.repository_id == k.0)
                    .filter_map(|a| a.component.as_ref())
                    .find(|c| {
                        (c.namespace.as_str(), c.name.as_str(), c.version.as_str())
                            == (k.1, k.2, k.3)
                    })
                    .map(|c| json_text(&c.attrs))
                    .unwrap_or_default();
                let (cid,): (i64,) = sqlx::query_as(COMP)
                    .bind(k.0)
                    .bind(k.1)
                    .bind(k.2)
                    .bind(k.3)
                    .bind(attrs)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                comp_ids.insert(k, cid);
            }
            let mut ids = Vec::with_capacity(list.len());
            for a in list {
                let attrs = json_text(&a.attrs);
                let c = &a.checksums;
                let component_id = a.component.as_ref().and_then(|nc| {
                    comp_ids
                        .get(&(
                            a.repository_id,
                            nc.namespace.as_str(),
                            nc.name.as_str(),
                            nc.version.as_str(),
                        ))
                        .copied()
                });
                let (id,): (i64,) = sqlx::query_as(PUT)
                    .bind(a.repository_id)
                    .bind(component_id)
                    .bind(&a.path)
                    .bind(&a.blob_store)
                    .bind(&a.blob_digest)
                    .bind(a.size)
                    .bind(&a.content_type)
                    .bind(&c.sha256)
                    .bind(&c.sha1)
                    .bind(&c.md5)
                    .bind(&c.sha512)
                    .bind(now)
                    .bind(&a.uploader)
                    .bind(&a.uploader_ip)
                    .bind(&attrs)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            (ids, released)
        });
        let mut assets = Vec::with_capacity(ids.len());
        for id in ids {
            assets.push(self.get_asset_by_id(id).await?);
        }
        Ok((assets, released))
    }

    pub async fn get_asset_by_id(&self, id: i64) -> Result<Asset> {
        const Q: &str = "WHERE a.id = $1";
        let sql = asset_query(Q);
        let row: AssetRow = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(p)
            .await?);
        row.into_asset()
    }

    pub async fn find_asset(&self, repository_id: i64, path: &str) -> Result<Option<Asset>> {
        let sql = asset_query("WHERE a.repository_id = $1 AND a.path = $2");
        let row: Option<AssetRow> = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(path)
            .fetch_optional(p)
            .await?);
        row.map(AssetRow::into_asset).transpose()
    }

    /// Assets of a repository whose path starts with `prefix`, ordered by path, `limit` after
    /// `after` (keyset pagination).
    pub async fn list_assets(
        &self,
        repository_id: i64,
        prefix: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Asset>> {
        let sql = asset_query(
            "WHERE a.repository_id = $1 AND substr(a.path, 1, length($2)) = $2 AND a.path > $3 ORDER BY a.path LIMIT $4",
        );
        let rows: Vec<AssetRow> = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(prefix)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    /// Assets of a repository whose path is `like` (SQL LIKE) written at or after `since_ms`
    /// (a collector's look at what was recorded while it ran: few rows, found by the database).
    pub async fn assets_modified_since(
        &self,
        repository_id: i64,
        like: &str,
        since_ms: i64,
    ) -> Result<Vec<Asset>> {
        let sql = asset_query(
            "WHERE a.repository_id = $1 AND a.path LIKE $2 AND a.last_modified_ms >= $3 ORDER BY a.path",
        );
        let rows: Vec<AssetRow> = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(like)
            .bind(since_ms)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    /// The entries directly under `prefix` (`a/b/`, or `""` for the root), in byte order,
    /// starting after `after` (an entry name, for paging): `dir/` names for directories, file
    /// names with their asset. One index seek per entry, so listing a directory of a repository
    /// with a million assets costs what it costs in a small one.
    pub async fn list_children(
        &self,
        repository_id: i64,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, Option<Asset>)>> {
        // Byte order on both databases: PostgreSQL's collation might otherwise put `a/x` far
        // from `a/`, and `a0` would no longer be just past every `a/...`.
        let sqlite =
            asset_query("WHERE a.repository_id = $1 AND a.path >= $2 ORDER BY a.path LIMIT 1");
        let pg = asset_query(
            "WHERE a.repository_id = $1 AND a.path COLLATE \"C\" >= $2 ORDER BY a.path COLLATE \"C\" LIMIT 1",
        );
        // The first candidate: just past `after` (past the whole directory if it was one).
        let mut from = match after.strip_suffix('/') {
            Some(dir) => format!("{prefix}{dir}0"),
            None if after.is_empty() => prefix.to_owned(),
            None => format!("{prefix}{after}\u{1}"),
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let row: Option<AssetRow> = match self {
                Db::Sqlite(p) => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sqlite.clone()))
                        .bind(repository_id)
                        .bind(&from)
                        .fetch_optional(p)
                        .await?
                }
                Db::Pg(p) => {
                    sqlx::query_as(sqlx::AssertSqlSafe(pg.clone()))
                        .bind(repository_id)
                        .bind(&from)
                        .fetch_optional(p)
                        .await?
                }
            };
            let Some(row) = row else { break };
            let a = row.into_asset()?;
            let Some(rest) = a.path.strip_prefix(prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    // `0` is the byte after `/`: the next candidate follows the whole directory.
                    from = format!("{prefix}{dir}0");
                    out.push((format!("{dir}/"), None));
                }
                None => {
                    // The smallest string after this path (NUL is not allowed in PostgreSQL text).
                    from = format!("{}\u{1}", a.path);
                    out.push((rest.to_owned(), Some(a)));
                }
            }
        }
        Ok(out)
    }

    /// Per repository: (components, assets, bytes), for the repository list.
    pub async fn repository_stats(&self) -> Result<Vec<(i64, i64, i64, i64)>> {
        const ASSETS: &str = "SELECT repository_id, COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
             FROM assets GROUP BY repository_id";
        const COMPONENTS: &str =
            "SELECT repository_id, COUNT(*) FROM components GROUP BY repository_id";
        let assets: Vec<(i64, i64, i64)> =
            on_db!(self, |p| sqlx::query_as(ASSETS).fetch_all(p).await?);
        let comps: Vec<(i64, i64)> =
            on_db!(self, |p| sqlx::query_as(COMPONENTS).fetch_all(p).await?);
        let mut out: Vec<(i64, i64, i64, i64)> = assets
            .into_iter()
            .map(|(r, n, bytes)| {
                let c = comps.iter().find(|(id, _)| *id == r).map_or(0, |(_, c)| *c);
                (r, c, n, bytes)
            })
            .collect();
        for (r, c) in comps {
            if !out.iter().any(|(id, ..)| *id == r) {
                out.push((r, c, 0, 0));
            }
        }
        Ok(out)
    }

    /// Records that a proxy's remote confirmed the cached copy (HTTP 304).
    pub async fn mark_asset_verified(&self, id: i64) -> Result<()> {
        const Q: &str = "UPDATE assets SET last_verified_ms = $2 WHERE id = $1";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(now_ms())
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Makes every cached copy of a proxy repository stale: the next request revalidates it
    /// with the remote (conditionally, so unchanged files are not fetched again).
    pub async fn expire_cached_assets(&self, repository_id: i64) -> Result<u64> {
        const Q: &str = "UPDATE assets SET last_verified_ms = 0 WHERE repository_id = $1 AND last_verified_ms > 0";
        Ok(on_db!(self, |p| sqlx::query(Q)
            .bind(repository_id)
            .execute(p)
            .await?
            .rows_affected()))
    }

    pub async fn touch_asset_downloaded(&self, id: i64) -> Result<()> {
        const Q: &str = "UPDATE assets SET last_downloaded_ms = $2 WHERE id = $1";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(now_ms())
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes an asset, its component when it was the last asset, and releases its blob.
    pub async fn delete_asset(
        &self,
        repository_id: i64,
        path: &str,
    ) -> Result<Option<ReleasedBlob>> {
        const OLD: &str = "SELECT blob_store, blob_digest, component_id FROM assets \
             WHERE repository_id = $1 AND path = $2";
        const DEL: &str = "DELETE FROM assets WHERE repository_id = $1 AND path = $2";
        const DEC: &str = "UPDATE blobs SET refcount = refcount - 1, \
             zero_since_ms = CASE WHEN refcount = 1 THEN $3 ELSE NULL END \
             WHERE store = $1 AND digest = $2 RETURNING refcount";
        const ORPHAN: &str = "DELETE FROM components WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM assets WHERE component_id = $1)";
        let now = now_ms();
        let key = [asset_key(repository_id, path)];
        // The path's lock, then rows in the order put_assets takes them: blob, component.
        Ok(in_tx!(self, |tx| {
            tx.lock_keys(&key).await?;
            let (store, digest, component): (String, String, Option<i64>) = sqlx::query_as(OLD)
                .bind(repository_id)
                .bind(path)
                .fetch_one(&mut *tx)
                .await?;
            let (left,): (i64,) = sqlx::query_as(DEC)
                .bind(&store)
                .bind(&digest)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(DEL)
                .bind(repository_id)
                .bind(path)
                .execute(&mut *tx)
                .await?;
            if let Some(cid) = component {
                sqlx::query(ORPHAN).bind(cid).execute(&mut *tx).await?;
            }
            (left <= 0).then_some(ReleasedBlob {
                store,
                digest,
                size: 0,
            })
        }))
    }

    /// Blobs with no reference since before `older_than_ms`, of one store (or of all when
    /// `store` is empty).
    pub async fn unreferenced_blobs(
        &self,
        older_than_ms: i64,
        store: &str,
        limit: i64,
    ) -> Result<Vec<ReleasedBlob>> {
        const Q: &str = "SELECT store, digest, size FROM blobs WHERE refcount <= 0 AND zero_since_ms <= $1 \
             AND (held <= 0 OR held_until_ms < $3) AND ($4 = '' OR store = $4) \
             ORDER BY zero_since_ms LIMIT $2";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(older_than_ms)
            .bind(limit)
            .bind(now_ms())
            .bind(store)
            .fetch_all(p)
            .await?))
    }

    /// Forgets a blob if it is still unreferenced and no upload holds it; true when the caller
    /// should free its bytes.
    pub async fn forget_blob(&self, b: &ReleasedBlob) -> Result<bool> {
        const Q: &str = "DELETE FROM blobs WHERE store = $1 AND digest = $2 AND refcount <= 0 \
             AND (held <= 0 OR held_until_ms < $3)";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&b.store)
            .bind(&b.digest)
            .bind(now_ms())
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Holds a blob's row (if there is one) against freeing: until the upload records its
    /// asset or [`Db::release_hold`]s, or at the latest until `until_ms` (it died meanwhile).
    pub async fn hold_blob(&self, store: &str, digest: &str, until_ms: i64) -> Result<()> {
        const Q: &str = "UPDATE blobs SET held = held + 1, held_until_ms = \
             CASE WHEN held_until_ms IS NULL OR held_until_ms < $3 THEN $3 ELSE held_until_ms END \
             WHERE store = $1 AND digest = $2";
        on_db!(self, |p| sqlx::query(Q)
            .bind(store)
            .bind(digest)
            .bind(until_ms)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Lets go of one [`Db::hold_blob`] (the upload was refused).
    pub async fn release_hold(&self, store: &str, digest: &str) -> Result<()> {
        const Q: &str =
            "UPDATE blobs SET held = held - 1 WHERE store = $1 AND digest = $2 AND held > 0";
        on_db!(self, |p| sqlx::query(Q)
            .bind(store)
            .bind(digest)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// The stored reference count of a blob, `None` when unknown.
    pub async fn blob_refcount(&self, store: &str, digest: &str) -> Result<Option<i64>> {
        const Q: &str = "SELECT refcount FROM blobs WHERE store = $1 AND digest = $2";
        let r: Option<(i64,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(store)
            .bind(digest)
            .fetch_optional(p)
            .await?);
        Ok(r.map(|r| r.0))
    }

    /// Bytes and blob count held in a store.
    pub async fn blob_store_usage(&self, store: &str) -> Result<(i64, i64)> {
        const Q: &str = "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs WHERE store = $1";
        let (bytes, count): (i64, i64) =
            match self {
                Db::Sqlite(p) => sqlx::query_as(Q).bind(store).fetch_one(p).await?,
                // SUM of BIGINT is NUMERIC on PostgreSQL.
                Db::Pg(p) => sqlx::query_as(
                    "SELECT COALESCE(SUM(size), 0)::BIGINT, COUNT(*) FROM blobs WHERE store = $1",
                )
                .bind(store)
                .fetch_one(p)
                .await?,
            };
        Ok((bytes, count))
    }

    pub async fn get_component(&self, id: i64) -> Result<Component> {
        const Q: &str = "SELECT c.id, r.name AS repository, c.namespace, c.name, c.version, c.attributes, c.created_ms \
             FROM components c JOIN repositories r ON r.id = c.repository_id WHERE c.id = $1";
        let row: ComponentRow = on_db!(self, |p| sqlx::query_as(Q).bind(id).fetch_one(p).await?);
        Ok(Component {
            id: row.id,
            repository: row.repository,
            namespace: row.namespace,
            name: row.name,
            version: row.version,
            attrs: parse_json(&row.attributes)?,
            created_ms: row.created_ms,
        })
    }

    /// Versions of the components `namespace:name` that still have assets in a repository.
    pub async fn component_versions(
        &self,
        repository_id: i64,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<String>> {
        const Q: &str = "SELECT c.version FROM components c WHERE c.repository_id = $1 AND c.namespace = $2 \
             AND c.name = $3 AND EXISTS (SELECT 1 FROM assets a WHERE a.component_id = c.id)";
        let rows: Vec<(String,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(repository_id)
            .bind(namespace)
            .bind(name)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Distinct component names in a repository, sorted.
    pub async fn component_names(&self, repository_id: i64) -> Result<Vec<String>> {
        const Q: &str =
            "SELECT DISTINCT name FROM components WHERE repository_id = $1 ORDER BY name";
        let rows: Vec<(String,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(repository_id)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Replaces an asset's format attributes (e.g. a PyPI file's yanked state).
    pub async fn set_asset_attrs(&self, id: i64, attrs: &serde_json::Value) -> Result<()> {
        const Q: &str = "UPDATE assets SET attributes = $2 WHERE id = $1";
        on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .bind(json_text(attrs))
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Components of a repository after id `after`, by id (keyset pagination).
    pub async fn list_components(
        &self,
        repository_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Component>> {
        const Q: &str = "SELECT c.id, r.name AS repository, c.namespace, c.name, c.version, c.attributes, c.created_ms \
             FROM components c JOIN repositories r ON r.id = c.repository_id \
             WHERE c.repository_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3";
        let rows: Vec<ComponentRow> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(repository_id)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|row| {
                Ok(Component {
                    id: row.id,
                    repository: row.repository,
                    namespace: row.namespace,
                    name: row.name,
                    version: row.version,
                    attrs: parse_json(&row.attributes)?,
                    created_ms: row.created_ms,
                })
            })
            .collect()
    }

    /// Assets of the components with ids in `first..=last` of a repository.
    pub async fn assets_of_components(
        &self,
        repository_id: i64,
        first: i64,
        last: i64,
    ) -> Result<Vec<Asset>> {
        let sql = asset_query(
            "WHERE a.repository_id = $1 AND a.component_id BETWEEN $2 AND $3 ORDER BY a.path",
        );
        let rows: Vec<AssetRow> = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(first)
            .bind(last)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    /// The assets of components (in any repositories), in one query.
    pub async fn assets_of(&self, component_ids: &[i64]) -> Result<Vec<Asset>> {
        if component_ids.is_empty() {
            return Ok(vec![]);
        }
        // Integers we hold, never request text: safe to inline.
        let ids: Vec<String> = component_ids.iter().map(i64::to_string).collect();
        let sql = asset_query(&format!(
            "WHERE a.component_id IN ({}) ORDER BY a.path",
            ids.join(",")
        ));
        let rows: Vec<AssetRow> =
            on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(p)
                .await?);
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    /// Assets of a repository after id `after`, by id (keyset pagination).
    pub async fn list_assets_by_id(
        &self,
        repository_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Asset>> {
        let sql = asset_query("WHERE a.repository_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3");
        let rows: Vec<AssetRow> = on_db!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    /// (count, greatest last-modified, sum of ids) of the assets under `prefix` whose path ends
    /// with `suffix`: changes whenever one is added, replaced or removed.
    pub async fn asset_fingerprint(
        &self,
        repository_id: i64,
        prefix: &str,
        suffix: &str,
    ) -> Result<(i64, i64, i64)> {
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
        const Q: &str = "SELECT COUNT(*), COALESCE(MAX(last_modified_ms), 0), CAST(COALESCE(SUM(id), 0) AS BIGINT) \
             FROM assets WHERE repository_id = $1 AND substr(path, 1, length($2)) = $2 \
             AND substr(path, length(path) - length($3) + 1) = $3";
        let (n, m, s): (i64, i64, i64) = on_db!(self, |p| sqlx::query_as(Q)
            .bind(repository_id)
            .bind(prefix)
            .bind(suffix)
            .fetch_one(p)
            .await?);
        Ok((n, m, s))
    }

    pub async fn count_components(&self, repository_id: i64) -> Result<i64> {
        const Q: &str = "SELECT COUNT(*) FROM components WHERE repository_id = $1";
        let (n,): (i64,) = on_db!(self, |p| sqlx::query_as(Q)
            .bind(repository_id)
            .fetch_one(p)
            .await?);
        Ok(n)
    }
}

fn asset_query(filter: &str) -> String {
    format!("{ASSET_SELECT} {filter}")
}

#[allow(dead_code)]
fn _unused(_: MetaError) {}

/// A blob: (store, digest).
type BlobKey = (String, String);

/// What a batch of asset writes does to one blob.
#[derive(Default)]
struct BlobDelta {
    /// Net change of its reference count.
    refs: i64,
    size: i64,
    /// Uploads' holds the batch lets go of.
    holds: i64,
}

/// The advisory lock of an asset path (see [`Db::put_assets`]).
fn asset_key(repository_id: i64, path: &str) -> i64 {
    crate::locks::LockKey::new("asset", &format!("{repository_id}\0{path}")).value()
}

/// Takes PostgreSQL advisory locks for the transaction, in key order; nothing on SQLite,
/// whose write transactions already run one at a time.
pub(crate) trait TxLocks {
    async fn lock_keys(&mut self, keys: &[i64]) -> Result<()>;
}

impl TxLocks for sqlx::Transaction<'_, sqlx::Sqlite> {
    async fn lock_keys(&mut self, _: &[i64]) -> Result<()> {
        Ok(())
    }
}

impl TxLocks for sqlx::Transaction<'_, sqlx::Postgres> {
    async fn lock_keys(&mut self, keys: &[i64]) -> Result<()> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(k)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }
}
