//! What one node tells the others: "drop what you cached about X".
//!
//! Every node caches a few things it reads on every request (verified credentials, the
//! privilege table, the anonymous setting, the read-only state, the blob store registry, proxy
//! negative caches). A change on one node is announced with PostgreSQL's `NOTIFY` on
//! [`CHANNEL`] after its transaction commits; every node (the sender too) `LISTEN`s and drops
//! the matching cache at once. When the listening connection breaks, notices may have been
//! missed, so the node drops every cache; the caches' own short lifetimes stay as the bound if
//! the database cannot deliver at all. On SQLite (one node) announcing is a no-op: the node
//! already dropped its cache where the change was made.

use std::{net::IpAddr, time::Duration};

use actix_web::web;

use crate::{Arca, meta::Db};

/// The PostgreSQL channel every node listens on.
pub const CHANNEL: &str = "arca_cluster";

/// A change other nodes must hear of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Users, roles, privileges, content selectors, tokens, anonymous access, realms.
    Security,
    /// The read-only freeze was set or released.
    Freeze,
    /// A blob store was created, changed or deleted.
    BlobStores,
    /// A repository was created, deleted, or its settings changed (proxy remote, negative
    /// cache, online, members…), by id.
    Repository(i64),
    /// A credential was checked on `node` (for every node's login throttle).
    Login {
        node: String,
        addr: Option<IpAddr>,
        user: String,
        ok: bool,
    },
}

/// This process's name in announcements (so that it skips its own).
pub fn node_id() -> &'static str {
    static ID: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| crate::security::random_secret(8));
    &ID
}

impl Event {
    fn payload(&self) -> String {
        match self {
            Self::Security => "security".into(),
            Self::Freeze => "freeze".into(),
            Self::BlobStores => "blobstores".into(),
            Self::Repository(id) => format!("repository:{id}"),
            Self::Login {
                node,
                addr,
                user,
                ok,
            } => format!(
                "login\t{node}\t{}\t{}\t{user}",
                u8::from(*ok),
                addr.map(|a| a.to_string()).unwrap_or_default()
            ),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix("login\t") {
            let mut f = rest.splitn(4, '\t');
            let node = f.next()?.to_owned();
            let ok = f.next()? == "1";
            let addr = match f.next()? {
                "" => None,
                a => Some(a.parse().ok()?),
            };
            let user = f.next()?.to_owned();
            return Some(Self::Login {
                node,
                addr,
                user,
                ok,
            });
        }
        Some(match s {
            "security" => Self::Security,
            "freeze" => Self::Freeze,
            "blobstores" => Self::BlobStores,
            _ => Self::Repository(s.strip_prefix("repository:")?.parse().ok()?),
        })
    }
}

/// Tells every node of `event`; a failure is logged (the other nodes' caches expire anyway).
pub async fn announce(db: &Db, event: Event) {
    if let Db::Pg(p) = db {
        let r = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(event.payload())
            .execute(p)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, ?event, "announcing a change to the other nodes failed");
        }
    }
}

/// [`announce`] from synchronous code: sent in the background, in order with nothing.
pub fn announce_later(db: &Db, event: Event) {
    if matches!(db, Db::Pg(_)) {
        let db = db.clone();
        tokio::spawn(async move { announce(&db, event).await });
    }
}

/// Drops what this node cached about `event`.
pub async fn apply(arca: &Arca, event: &Event) {
    match event {
        Event::Security => arca.security.invalidate_local(),
        Event::Freeze => arca.storage.freeze.forget(),
        Event::BlobStores => {
            if let Err(e) = arca.storage.reload_stores().await {
                tracing::warn!(error = %e, "reloading blob stores failed");
            }
        }
        Event::Repository(id) => {
            arca.repos.forget();
            arca.proxy.forget_repository(*id);
        }
        Event::Login {
            node,
            addr,
            user,
            ok,
        } => {
            if node != node_id() {
                arca.security.login_checked_elsewhere(*addr, user, *ok);
            }
        }
    }
}

/// Everything this node caches, dropped: after missing notices.
async fn apply_all(arca: &Arca) {
    arca.security.invalidate_local();
    arca.storage.freeze.forget();
    arca.proxy.forget_all();
    arca.repos.forget();
    if let Err(e) = arca.storage.reload_stores().await {
        tracing::warn!(error = %e, "reloading blob stores failed");
    }
}

/// Listens for other nodes' announcements until the process ends (PostgreSQL only).
pub fn spawn_listener(arca: web::Data<Arca>) {
    let Db::Pg(pool) = &arca.db else {
        return;
    };
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut l) => {
                    if let Err(e) = l.listen(CHANNEL).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        backoff = Duration::from_millis(100);
                        // Whatever happened before LISTEN took effect was not heard.
                        apply_all(&arca).await;
                        loop {
                            match l.try_recv().await {
                                Ok(Some(n)) => match Event::parse(n.payload()) {
                                    Some(e) => apply(&arca, &e).await,
                                    None => {
                                        tracing::debug!(payload = n.payload(), "unknown notice")
                                    }
                                },
                                // The connection dropped; notices may be lost.
                                Ok(None) => {
                                    if pool.is_closed() {
                                        return;
                                    }
                                    tracing::warn!(
                                        "cluster notice connection lost; dropping every cache"
                                    );
                                    apply_all(&arca).await;
                                    break;
                                }
                                Err(e) => {
                                    if !pool.is_closed() {
                                        tracing::warn!(error = %e, "cluster notices");
                                    }
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) if !pool.is_closed() => {
                    tracing::warn!(error = %e, "cannot listen for cluster notices")
                }
                Err(_) => return,
            }
            // Shutting down: nothing left to listen for.
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for e in [
            Event::Security,
            Event::Freeze,
            Event::BlobStores,
            Event::Repository(42),
            Event::Login {
                node: "n1".into(),
                addr: Some("10.0.0.1".parse().unwrap()),
                user: "a\tb:c".into(),
                ok: true,
            },
            Event::Login {
                node: "n2".into(),
                addr: None,
                user: String::new(),
                ok: false,
            },
        ] {
            assert_eq!(Event::parse(&e.payload()), Some(e));
        }
        assert_eq!(Event::parse("repository:x"), None);
        assert_eq!(Event::parse("other"), None);
    }
}
