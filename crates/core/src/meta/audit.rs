//! The audit log: who changed what, when, from where.

use super::{Db, Result, json_text, on_db, parse_json};
use crate::model::now_ms;

#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub remote_ip: Option<String>,
    pub domain: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub context: String,
    pub attributes: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    ts_ms: i64,
    actor: String,
    remote_ip: Option<String>,
    domain: String,
    #[sqlx(rename = "type")]
    kind: String,
    context: String,
    attributes: String,
}

impl Db {
    pub async fn audit(
        &self,
        actor: &str,
        remote_ip: Option<&str>,
        domain: &str,
        kind: &str,
        context: &str,
        attributes: &serde_json::Value,
    ) -> Result<()> {
        const Q: &str = "INSERT INTO audit_events (ts_ms, actor, remote_ip, domain, type, context, attributes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_db!(self, |p| sqlx::query(Q)
            .bind(now_ms())
            .bind(actor)
            .bind(remote_ip)
            .bind(domain)
            .bind(kind)
            .bind(context)
            .bind(json_text(attributes))
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Newest first, `limit` events older than `before_id` (0 = from the newest).
    pub async fn list_audit(&self, before_id: i64, limit: i64) -> Result<Vec<AuditEvent>> {
        const Q: &str = "SELECT id, ts_ms, actor, remote_ip, domain, type, context, attributes FROM audit_events \
             WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2";
        let rows: Vec<Row> = on_db!(self, |p| sqlx::query_as(Q)
            .bind(before_id)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.id,
                    ts_ms: r.ts_ms,
                    actor: r.actor,
                    remote_ip: r.remote_ip,
                    domain: r.domain,
                    kind: r.kind,
                    context: r.context,
                    attributes: parse_json(&r.attributes)?,
                })
            })
            .collect()
    }
}
