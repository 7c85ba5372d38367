//! Repositories and group membership.

use std::collections::HashMap;

use super::{Db, MetaError, Result, in_tx, json_text, on_db, parse_json};
use crate::model::{RepoKind, RepoName, Repository, RepositorySpec, WritePolicy, now_ms};

#[derive(sqlx::FromRow)]
struct RepoRow {
    id: i64,
    name: String,
    format: String,
    kind: String,
    online: bool,
    blob_store: String,
    write_policy: Option<String>,
    strict_content_type_validation: bool,
    attributes: String,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    group_id: i64,
    member_name: String,
}

impl RepoRow {
    fn into_repo(self, members: Vec<String>) -> Result<Repository> {
        let bad =
            |what: &str| MetaError::Invalid(format!("stored repository {} has {what}", self.name));
        Ok(Repository {
            id: self.id,
            name: RepoName::parse(&self.name).map_err(|_| bad("an invalid name"))?,
            kind: RepoKind::parse(&self.kind).ok_or_else(|| bad("an unknown kind"))?,
            write_policy: self.write_policy.as_deref().and_then(WritePolicy::parse),
            attrs: parse_json(&self.attributes)?,
            format: self.format,
            online: self.online,
            blob_store: self.blob_store,
            strict_content_type_validation: self.strict_content_type_validation,
            members,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        })
    }
}

impl Db {
    pub async fn list_repositories(&self) -> Result<Vec<Repository>> {
        const Q: &str = "SELECT id, name, format, kind, online, blob_store, write_policy, \
             strict_content_type_validation, attributes, created_ms, updated_ms FROM repositories ORDER BY name";
        const M: &str =
            "SELECT group_id, member_name FROM group_members ORDER BY group_id, position";
        let (rows, members): (Vec<RepoRow>, Vec<MemberRow>) = on_db!(self, |p| (
            sqlx::query_as(Q).fetch_all(p).await?,
            sqlx::query_as(M).fetch_all(p).await?
        ));
        let mut by_group: HashMap<i64, Vec<String>> = HashMap::new();
        for m in members {
            by_group.entry(m.group_id).or_default().push(m.member_name);
        }
        rows.into_iter()
            .map(|r| {
                let m = by_group.remove(&r.id).unwrap_or_default();
                r.into_repo(m)
            })
            .collect()
    }

    pub async fn get_repository(&self, name: &str) -> Result<Repository> {
        const Q: &str = "SELECT id, name, format, kind, online, blob_store, write_policy, \
             strict_content_type_validation, attributes, created_ms, updated_ms FROM repositories WHERE name = $1";
        const M: &str = "SELECT g.group_id, g.member_name FROM group_members g \
             JOIN repositories r ON r.id = g.group_id WHERE r.name = $1 ORDER BY g.position";
        let (row, members): (Option<RepoRow>, Vec<MemberRow>) = on_db!(self, |p| (
            sqlx::query_as(Q).bind(name).fetch_optional(p).await?,
            sqlx::query_as(M).bind(name).fetch_all(p).await?
        ));
        row.ok_or(MetaError::NotFound)?
            .into_repo(members.into_iter().map(|m| m.member_name).collect())
    }

    /// Names of the groups that list `member` directly.
    pub async fn groups_containing(&self, member: &str) -> Result<Vec<String>> {
        const Q: &str = "SELECT DISTINCT r.name FROM group_members g JOIN repositories r ON r.id = g.group_id \
             WHERE g.member_name = $1 ORDER BY 1";
        let rows: Vec<(String,)> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(member)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Inserts a repository and its members in one transaction. A duplicate name is `Conflict`.
    pub async fn create_repository(&self, spec: &RepositorySpec) -> Result<Repository> {
        const INS: &str = "INSERT INTO repositories (name, format, kind, online, blob_store, write_policy, \
             strict_content_type_validation, attributes, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id";
        const MEM: &str =
            "INSERT INTO group_members (group_id, position, member_name) VALUES ($1, $2, $3)";
        let now = now_ms();
        let attrs = json_text(&spec.attrs);
        let wp = spec.write_policy.map(WritePolicy::as_str);
        in_tx!(self, |tx| {
            let (id,): (i64,) = sqlx::query_as(INS)
                .bind(spec.name.as_str())
                .bind(&spec.format)
                .bind(spec.kind.as_str())
                .bind(spec.online)
                .bind(&spec.blob_store)
                .bind(wp)
                .bind(spec.strict_content_type_validation)
                .bind(&attrs)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match MetaError::from(e) {
                    MetaError::Conflict(_) => MetaError::Conflict(format!(
                        "a repository named {} already exists",
                        spec.name
                    )),
                    other => other,
                })?;
            for (i, m) in spec.members.iter().enumerate() {
                sqlx::query(MEM)
                    .bind(id)
                    .bind(i as i64)
                    .bind(m)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        self.get_repository(spec.name.as_str()).await
    }

    /// Replaces a repository's settings and members. Name, format and kind never change.
    pub async fn update_repository(&self, spec: &RepositorySpec) -> Result<Repository> {
        const UPD: &str = "UPDATE repositories SET online = $2, blob_store = $3, write_policy = $4, \
             strict_content_type_validation = $5, attributes = $6, updated_ms = $7 WHERE name = $1 RETURNING id";
        const DEL: &str = "DELETE FROM group_members WHERE group_id = $1";
        const MEM: &str =
            "INSERT INTO group_members (group_id, position, member_name) VALUES ($1, $2, $3)";
        let attrs = json_text(&spec.attrs);
        let wp = spec.write_policy.map(WritePolicy::as_str);
        in_tx!(self, |tx| {
            let (id,): (i64,) = sqlx::query_as(UPD)
                .bind(spec.name.as_str())
                .bind(spec.online)
                .bind(&spec.blob_store)
                .bind(wp)
                .bind(spec.strict_content_type_validation)
                .bind(&attrs)
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(DEL).bind(id).execute(&mut *tx).await?;
            for (i, m) in spec.members.iter().enumerate() {
                sqlx::query(MEM)
                    .bind(id)
                    .bind(i as i64)
                    .bind(m)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        self.get_repository(spec.name.as_str()).await
    }

    /// Deletes a repository with its components and assets, releasing their blob references.
    pub async fn delete_repository(&self, name: &str) -> Result<()> {
        const ID: &str = "SELECT id FROM repositories WHERE name = $1";
        // Each asset holds one reference; release them all before the cascade drops the rows.
        const RELEASE: &str = "UPDATE blobs SET refcount = refcount - (SELECT COUNT(*) FROM assets a \
             WHERE a.repository_id = $1 AND a.blob_store = blobs.store AND a.blob_digest = blobs.digest), \
             zero_since_ms = $2 \
             WHERE EXISTS (SELECT 1 FROM assets a WHERE a.repository_id = $1 \
             AND a.blob_store = blobs.store AND a.blob_digest = blobs.digest)";
        const FIX: &str =
            "UPDATE blobs SET zero_since_ms = NULL WHERE refcount > 0 AND zero_since_ms = $1";
        const DEL: &str = "DELETE FROM repositories WHERE id = $1";
        let now = now_ms();
        in_tx!(self, |tx| {
            let (id,): (i64,) = sqlx::query_as(ID).bind(name).fetch_one(&mut *tx).await?;
            sqlx::query(RELEASE)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(FIX).bind(now).execute(&mut *tx).await?;
            sqlx::query(DEL).bind(id).execute(&mut *tx).await?;
        });
        Ok(())
    }
}
