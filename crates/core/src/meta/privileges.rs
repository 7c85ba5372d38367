//! Stored privileges and content selectors. Built-in privileges are not stored: their names
//! are patterns [`crate::security`] reads directly.

use super::{Db, Result, on_db, users::found};

/// A privilege an administrator created. `properties` holds the kind's own fields
/// (`domain`/`actions`, `format`/`repository`/`actions`, `contentSelector`, `pattern`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PrivilegeRow {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub properties: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ContentSelectorRow {
    pub name: String,
    pub description: String,
    pub expression: String,
}

impl Db {
    pub async fn list_privileges(&self) -> Result<Vec<PrivilegeRow>> {
        const Q: &str = "SELECT name, type AS kind, description, attributes AS properties FROM privileges ORDER BY name";
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    pub async fn get_privilege(&self, name: &str) -> Result<PrivilegeRow> {
        const Q: &str = "SELECT name, type AS kind, description, attributes AS properties FROM privileges WHERE name = $1";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(name)
            .fetch_one(p)
            .await?))
    }

    pub async fn create_privilege(&self, r: &PrivilegeRow) -> Result<()> {
        const Q: &str = "INSERT INTO privileges (name, type, description, read_only, attributes) \
             VALUES ($1, $2, $3, FALSE, $4)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&r.name)
            .bind(&r.kind)
            .bind(&r.description)
            .bind(&r.properties)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Replaces a privilege's description and properties; its kind stays.
    pub async fn update_privilege(&self, r: &PrivilegeRow) -> Result<()> {
        const Q: &str = "UPDATE privileges SET description = $3, attributes = $4 \
             WHERE name = $1 AND type = $2";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&r.name)
            .bind(&r.kind)
            .bind(&r.description)
            .bind(&r.properties)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn delete_privilege(&self, name: &str) -> Result<()> {
        const Q: &str = "DELETE FROM privileges WHERE name = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(name)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn list_content_selectors(&self) -> Result<Vec<ContentSelectorRow>> {
        const Q: &str = "SELECT name, description, expression FROM content_selectors ORDER BY name";
        Ok(on_db!(self, |p| sqlx::query_as(Q).fetch_all(p).await?))
    }

    pub async fn get_content_selector(&self, name: &str) -> Result<ContentSelectorRow> {
        const Q: &str =
            "SELECT name, description, expression FROM content_selectors WHERE name = $1";
        Ok(on_db!(self, |p| sqlx::query_as(Q)
            .bind(name)
            .fetch_one(p)
            .await?))
    }

    pub async fn create_content_selector(&self, r: &ContentSelectorRow) -> Result<()> {
        const Q: &str =
            "INSERT INTO content_selectors (name, description, expression) VALUES ($1, $2, $3)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.expression)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn update_content_selector(&self, r: &ContentSelectorRow) -> Result<()> {
        const Q: &str =
            "UPDATE content_selectors SET description = $2, expression = $3 WHERE name = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.expression)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }

    pub async fn delete_content_selector(&self, name: &str) -> Result<()> {
        const Q: &str = "DELETE FROM content_selectors WHERE name = $1";
        let n = on_db!(self, |p| sqlx::query(Q)
            .bind(name)
            .execute(p)
            .await?
            .rows_affected());
        found(n)
    }
}
