//! Mutual exclusion by name across every node of a cluster.
//!
//! On PostgreSQL a lock is a transaction-scoped advisory lock (`pg_advisory_xact_lock`) held on
//! a connection of a pool of its own: a node that dies lets go with its connection, and holding
//! a lock never takes a connection the locked work itself needs from the main pool (which could
//! otherwise starve: every holder waiting for a connection that only holders have). Short locks
//! (a blob digest while recording or freeing it) and long ones (a metadata rebuild, a proxy
//! fetch of a large file) have separate pools, so long holders never delay uploads.
//!
//! On SQLite (one node by construction) a lock is a per-process mutex per key.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sha2::{Digest as _, Sha256};
use sqlx::{Postgres, Transaction, postgres::PgPoolOptions};

use crate::meta::{Db, MetaError};

/// Connections per node for short locks. With the main pool (16) and the listener, a node
/// opens at most 31 connections: three nodes fit PostgreSQL's default of 100.
const SHORT_POOL: u32 = 4;
/// Connections per node for long locks (metadata rebuilds, docker manifest pushes and garbage
/// collection); when all are taken, long lockers wait. A long holder may take short locks,
/// never the reverse, so the pools cannot starve each other.
const LONG_POOL: u32 = 6;
/// Connections per node for proxy single flights; past them a fetch goes ahead uncoordinated
/// rather than wait (see [`Locks::flight`]).
const FLIGHT_POOL: u32 = 4;

/// A lock's name, hashed to the 64-bit key PostgreSQL's advisory locks take. The hash is
/// SHA-256 (stable across builds and nodes), so every node maps a name to the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockKey(i64);

impl LockKey {
    /// `kind` keeps name spaces apart (`blob`, `asset`, `maven-metadata`, …).
    pub fn new(kind: &str, name: &str) -> Self {
        let mut h = Sha256::new();
        h.update((kind.len() as u64).to_be_bytes());
        h.update(kind.as_bytes());
        h.update(name.as_bytes());
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        Self(i64::from_be_bytes(b))
    }

    /// A blob in a store: held while recording a reference to it or freeing it.
    pub fn blob(store: &str, digest: &str) -> Self {
        Self::new("blob", &format!("{store}\0{digest}"))
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

/// How long a lock is expected to be held: decides which pool holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    Short,
    Long,
}

/// Proxy single flights under way on this node, bounded by [`FLIGHT_POOL`].
type Flights = Arc<tokio::sync::Semaphore>;

type LocalMap = Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>;

enum Backend {
    Local(Arc<LocalMap>),
    Pg {
        short: sqlx::PgPool,
        long: sqlx::PgPool,
        flight: sqlx::PgPool,
        flights: Flights,
    },
}

/// The cluster's locks (see the module's documentation). One per process.
pub struct Locks {
    backend: Backend,
    /// Per-process keyed locks, the first stage of [`Locks::flight`].
    here: Arc<LocalMap>,
}

/// Held until dropped (or [`Guard::release`]d).
#[must_use = "the lock is released when the guard is dropped"]
pub struct Guard {
    inner: GuardInner,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// A flight's per-process stage, let go after the cluster-wide one.
    _here: Option<Box<Guard>>,
}

enum GuardInner {
    Local {
        map: Arc<LocalMap>,
        held: Vec<(i64, tokio::sync::OwnedMutexGuard<()>)>,
    },
    Pg(Option<Transaction<'static, Postgres>>),
    None,
}

impl Locks {
    pub fn new(db: &Db) -> Self {
        let backend = match db {
            Db::Sqlite(_) => Backend::Local(Arc::default()),
            Db::Pg(p) => {
                let opts = p.connect_options().as_ref().clone();
                let pool = |n| {
                    PgPoolOptions::new()
                        .max_connections(n)
                        .min_connections(0)
                        .acquire_timeout(std::time::Duration::from_secs(600))
                        .connect_lazy_with(opts.clone())
                };
                Backend::Pg {
                    short: pool(SHORT_POOL),
                    long: pool(LONG_POOL),
                    flight: pool(FLIGHT_POOL),
                    flights: Arc::new(tokio::sync::Semaphore::new(FLIGHT_POOL as usize)),
                }
            }
        };
        Self {
            backend,
            here: Arc::default(),
        }
    }

    /// Whether locks reach other nodes (PostgreSQL), rather than only this process.
    pub fn shared(&self) -> bool {
        matches!(self.backend, Backend::Pg { .. })
    }

    /// Takes every lock in `keys`, in key order (so two callers with overlapping sets cannot
    /// deadlock), waiting as long as it takes.
    pub async fn lock(&self, keys: &[LockKey], hold: Hold) -> Result<Guard, MetaError> {
        let mut keys: Vec<i64> = keys.iter().map(|k| k.0).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Guard {
                inner: GuardInner::None,
                _permit: None,
                _here: None,
            });
        }
        match &self.backend {
            Backend::Local(map) => {
                let mut held = Vec::with_capacity(keys.len());
                for k in keys {
                    let m = {
                        let mut g = map.lock().unwrap_or_else(|e| e.into_inner());
                        g.entry(k).or_default().clone()
                    };
                    held.push((k, m.lock_owned().await));
                }
                Ok(Guard {
                    inner: GuardInner::Local {
                        map: map.clone(),
                        held,
                    },
                    _permit: None,
                    _here: None,
                })
            }
            Backend::Pg { short, long, .. } => {
                let pool = if hold == Hold::Short { short } else { long };
                Ok(Guard {
                    inner: GuardInner::Pg(Some(pg_lock(pool, &keys).await?)),
                    _permit: None,
                    _here: None,
                })
            }
        }
    }

    /// [`Locks::lock`] without waiting: `None` when another holder has one of the keys.
    pub async fn try_lock(&self, key: LockKey, hold: Hold) -> Result<Option<Guard>, MetaError> {
        match &self.backend {
            Backend::Local(map) => {
                let m = {
                    let mut g = map.lock().unwrap_or_else(|e| e.into_inner());
                    g.entry(key.0).or_default().clone()
                };
                Ok(m.try_lock_owned().ok().map(|g| Guard {
                    inner: GuardInner::Local {
                        map: map.clone(),
                        held: vec![(key.0, g)],
                    },
                    _permit: None,
                    _here: None,
                }))
            }
            Backend::Pg { short, long, .. } => {
                let pool = if hold == Hold::Short { short } else { long };
                let mut tx = pool.begin().await?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(key.0)
                    .fetch_one(&mut *tx)
                    .await?;
                Ok(got.then(|| Guard {
                    inner: GuardInner::Pg(Some(tx)),
                    _permit: None,
                    _here: None,
                }))
            }
        }
    }

    /// A proxy fetch's single flight: one fetch of a file at a time on this node, and across
    /// nodes while this node runs fewer than [`FLIGHT_POOL`] flights (past them a fetch goes
    /// ahead without the cross-node stage rather than queue behind other files). A waiter
    /// finds the file cached once it gets the guard.
    pub async fn flight(&self, key: LockKey) -> Result<Guard, MetaError> {
        let here = {
            let m = {
                let mut g = self.here.lock().unwrap_or_else(|e| e.into_inner());
                g.entry(key.0).or_default().clone()
            };
            let held = m.lock_owned().await;
            Guard {
                inner: GuardInner::Local {
                    map: self.here.clone(),
                    held: vec![(key.0, held)],
                },
                _permit: None,
                _here: None,
            }
        };
        let Backend::Pg {
            flight, flights, ..
        } = &self.backend
        else {
            return Ok(here);
        };
        let Ok(permit) = flights.clone().try_acquire_owned() else {
            return Ok(here);
        };
        Ok(Guard {
            inner: GuardInner::Pg(Some(pg_lock(flight, &[key.0]).await?)),
            _permit: Some(permit),
            _here: Some(Box::new(here)),
        })
    }
}

/// A transaction on `pool` holding the advisory locks of `keys` (sorted).
async fn pg_lock(
    pool: &sqlx::PgPool,
    keys: &[i64],
) -> Result<Transaction<'static, Postgres>, MetaError> {
    let mut tx = pool.begin().await?;
    for k in keys {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(*k)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

impl Guard {
    /// Lets go now, waiting for PostgreSQL to confirm (dropping lets go too, a moment later).
    pub async fn release(mut self) {
        if let GuardInner::Pg(tx) = &mut self.inner
            && let Some(tx) = tx.take()
            && let Err(e) = tx.rollback().await
        {
            tracing::warn!(error = %e, "releasing a cluster lock failed; its connection closes");
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Roll back now rather than when the pool next uses the connection: the locks go with
        // the transaction, and another node may be waiting for them.
        if let GuardInner::Pg(tx) = &mut self.inner
            && let Some(tx) = tx.take()
        {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        if let Err(e) = tx.rollback().await {
                            tracing::warn!(error = %e, "releasing a cluster lock failed; its connection closes");
                        }
                    });
                }
                // A runtime being torn down drops its tasks outside any runtime, where sqlx
                // panics on returning a connection (and a second panic while unwinding aborts
                // the process). The connection, and its locks, end with the process instead.
                Err(_) => std::mem::forget(tx),
            }
        }
        if let GuardInner::Local { map, held } = &mut self.inner {
            let keys: Vec<i64> = held.iter().map(|(k, _)| *k).collect();
            held.clear();
            let mut g = map.lock().unwrap_or_else(|e| e.into_inner());
            for k in keys {
                // Only the map's reference left: nobody holds or waits for it.
                if g.get(&k).is_some_and(|m| Arc::strong_count(m) == 1) {
                    g.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(LockKey::blob("s", "ab"), LockKey::blob("s", "ab"));
        assert_ne!(LockKey::blob("s", "ab"), LockKey::blob("t", "ab"));
        assert_ne!(LockKey::new("a", "b\0c"), LockKey::new("a\0b", "c"));
    }

    #[tokio::test]
    async fn local_locks_exclude_and_clean_up() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        let locks = Locks::new(&db);
        let k = LockKey::new("t", "x");
        let g = locks.lock(&[k, k], Hold::Short).await.unwrap();
        assert!(locks.try_lock(k, Hold::Short).await.unwrap().is_none());
        drop(g);
        let g2 = locks.try_lock(k, Hold::Long).await.unwrap();
        assert!(g2.is_some());
        drop(g2);
        let Backend::Local(map) = &locks.backend else {
            panic!("sqlite is local")
        };
        assert!(map.lock().unwrap().is_empty());
    }
}
