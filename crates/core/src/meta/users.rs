//! Users, roles and API tokens.

use super::{Db, MetaError, Result, on_db};
use crate::model::now_ms;

#[derive(Clone, Debug, serde::Serialize)]
pub struct User {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    /// `active`, `locked`, `disabled` or `changepassword`, as Nexus.
    pub status: String,
    pub source: String,
    pub roles: Vec<String>,
    /// Browser sessions and registry tokens signed before this (ms) are void: the later of the
    /// last password change and the last sign-out.
    #[serde(skip)]
    pub not_before_ms: i64,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: String,
    first_name: String,
    last_name: String,
    email: String,
    password_hash: String,
    status: String,
    source: String,
    roles: String,
    not_before_ms: i64,
}

impl UserRow {
    fn into_user(self) -> Result<User> {
        Ok(User {
            roles: serde_json::from_str(&self.roles)?,
            user_id: self.user_id,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            password_hash: self.password_hash,
            status: self.status,
            source: self.source,
            not_before_ms: self.not_before_ms,
        })
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub source: String,
    pub read_only: bool,
    pub privileges: Vec<String>,
    pub roles: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: String,
    name: String,
    description: String,
    source: String,
    read_only: bool,
    privileges: String,
    roles: String,
}

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

impl Db {
    pub async fn get_user(&self, user_id: &str) -> Result<User> {
        const Q: &str = "SELECT user_id, first_name, last_name, email, password_hash, status, source, roles, \
             CASE WHEN sessions_after_ms > password_changed_ms THEN sessions_after_ms \
             ELSE password_changed_ms END AS not_before_ms FROM users WHERE user_id = $1";
        let row: UserRow = on_db!(self, |p| sqlx::query_as(Q)
            .bind(user_id)
            .fetch_one(p)
            .await?);
        row.into_user()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        const Q: &str = "SELECT user_id, first_name, last_name, email, password_hash, status, source, roles, \
             CASE WHEN sessions_after_ms > password_changed_ms THEN sessions_after_ms \
             ELSE password_changed_ms END AS not_before_ms FROM users ORDER BY user_id";
        let rows: Vec<UserRow> = on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?);
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// Creates a user; `Conflict` when the id is taken.
    pub async fn create_user(&self, u: &User) -> Result<()> {
        const Q: &str = "INSERT INTO users (user_id, first_name, last_name, email, password_hash, status, source, \
             roles, created_ms, password_changed_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&u.user_id)
            .bind(&u.first_name)
            .bind(&u.last_name)
            .bind(&u.email)
            .bind(&u.password_hash)
            .bind(&u.status)
            .bind(&u.source)
            .bind(serde_json::to_string(&u.roles)?)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(|e| match MetaError::from(e) {
                MetaError::Conflict(_) =>
                    MetaError::Conflict(format!("user {} already exists", u.user_id)),
                other => other,
            })?
            .rows_affected());
        Ok(())
    }

    /// Replaces a user's names, email, status and roles (not the password or source).
    pub async fn update_user(&self, u: &User) -> Result<()> {
        const Q: &str = "UPDATE users SET first_name = $2, last_name = $3, email = $4, status = $5, \
             roles = $6 WHERE user_id = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&u.user_id)
            .bind(&u.first_name)
            .bind(&u.last_name)
            .bind(&u.email)
            .bind(&u.status)
            .bind(serde_json::to_string(&u.roles)?)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    /// Deletes a user and (by cascade) its API tokens.
    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        const TOKENS: &str = "DELETE FROM api_tokens WHERE user_id = $1";
        const Q: &str = "DELETE FROM users WHERE user_id = $1";
        on_db!(self, |p| sqlx::query(TOKENS)
            .bind(user_id)
            .execute(p)
            .await?
            .rows_affected());
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(user_id)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn list_roles(&self) -> Result<Vec<Role>> {
        const Q: &str = "SELECT id FROM roles ORDER BY id";
        let ids: Vec<(String,)> = on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?);
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            out.push(self.get_role(&id).await?);
        }
        Ok(out)
    }

    pub async fn delete_role(&self, id: &str) -> Result<()> {
        const Q: &str = "DELETE FROM roles WHERE id = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        const Q: &str =
            "UPDATE users SET password_hash = $2, password_changed_ms = $3 WHERE user_id = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(user_id)
            .bind(hash)
            .bind(now_ms())
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    /// Voids the user's sessions and registry tokens signed until now (sign-out).
    pub async fn end_sessions(&self, user_id: &str) -> Result<()> {
        const Q: &str = "UPDATE users SET sessions_after_ms = $2 WHERE user_id = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(user_id)
            .bind(now_ms())
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn get_role(&self, id: &str) -> Result<Role> {
        const Q: &str = "SELECT id, name, description, source, read_only, privileges, roles FROM roles WHERE id = $1";
        let r: RoleRow = on_db!(self, |p| sqlx::query_as(Q).bind(id).fetch_one(p).await?);
        Ok(Role {
            privileges: serde_json::from_str(&r.privileges)?,
            roles: serde_json::from_str(&r.roles)?,
            id: r.id,
            name: r.name,
            description: r.description,
            source: r.source,
            read_only: r.read_only,
        })
    }

    /// Creates or replaces a role.
    pub async fn put_role(&self, r: &Role) -> Result<()> {
        const Q: &str = "INSERT INTO roles (id, name, description, source, read_only, privileges, roles) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             description = excluded.description, privileges = excluded.privileges, roles = excluded.roles";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&r.id)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.source)
            .bind(r.read_only)
            .bind(serde_json::to_string(&r.privileges)?)
            .bind(serde_json::to_string(&r.roles)?)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn create_token(
        &self,
        user_id: &str,
        name: &str,
        token_hash: &str,
        expires_ms: Option<i64>,
    ) -> Result<ApiToken> {
        const Q: &str = "INSERT INTO api_tokens (user_id, name, token_hash, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, user_id, name, created_ms, expires_ms, last_used_ms";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .bind(expires_ms)
            .fetch_one(p)
            .await?))
    }

    /// The token with this hash, if it exists and has not expired; marks it used.
    pub async fn use_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        const Q: &str = "UPDATE api_tokens SET last_used_ms = $2 WHERE token_hash = $1 \
             AND (expires_ms IS NULL OR expires_ms > $2) \
             RETURNING id, user_id, name, created_ms, expires_ms, last_used_ms";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await?))
    }

    pub async fn list_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>> {
        const Q: &str = "SELECT id, user_id, name, created_ms, expires_ms, last_used_ms FROM api_tokens \
             WHERE user_id = $1 ORDER BY id";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(user_id)
            .fetch_all(p)
            .await?))
    }

    /// Deletes every user's API tokens; how many there were.
    pub async fn delete_all_tokens(&self) -> Result<u64> {
        const Q: &str = "DELETE FROM api_tokens";
        Ok(on_db!(self, |p| sqlx::query(Q)
            .execute(p)
            .await?
            .rows_affected()))
    }

    pub async fn delete_token(&self, user_id: &str, id: i64) -> Result<()> {
        const Q: &str = "DELETE FROM api_tokens WHERE user_id = $1 AND id = $2";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(user_id)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }
}

/// `NotFound` when a statement touched no row.
pub(super) fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(MetaError::NotFound)
    } else {
        Ok(())
    }
}
