//! Read-only mode ("freeze"), as Nexus's `read-only` endpoints switch it: while frozen no
//! asset is written or deleted and no blob freed, so the blob stores and the database can be
//! backed up consistently. The state lives in the settings table so every node of a cluster
//! sees it; each node re-reads it at most every [`REFRESH`].

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::{
    meta::{Db, MetaError},
    model::now_ms,
};

const SETTING: &str = "read_only";
const REFRESH: Duration = Duration::from_secs(2);

/// Who froze the server and when; absent when writable.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Frozen {
    pub by: String,
    pub at_ms: i64,
}

pub struct Freeze {
    db: Db,
    cached: Mutex<Option<(Instant, Option<Frozen>)>>,
}

impl Freeze {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cached: Mutex::new(None),
        }
    }

    /// The current state; a database that cannot be read counts as writable, since the write
    /// that follows will fail on its own.
    pub async fn state(&self) -> Option<Frozen> {
        if let Ok(c) = self.cached.lock()
            && let Some((at, state)) = c.as_ref()
            && at.elapsed() < REFRESH
        {
            return state.clone();
        }
        self.current().await
    }

    async fn load(&self) -> Result<Option<Frozen>, MetaError> {
        Ok(self
            .db
            .get_setting(SETTING)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    fn remember(&self, state: Option<Frozen>) {
        if let Ok(mut c) = self.cached.lock() {
            *c = Some((Instant::now(), state));
        }
    }

    /// Drops the cached state: another node froze or released.
    pub fn forget(&self) {
        if let Ok(mut c) = self.cached.lock() {
            *c = None;
        }
    }

    /// The state as stored now, not cached: writes check this, so a freeze on another node
    /// stops them at once.
    pub async fn current(&self) -> Option<Frozen> {
        match self.load().await {
            Ok(state) => {
                self.remember(state.clone());
                state
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the read-only state failed");
                None
            }
        }
    }

    /// Freezes; false when already frozen (nothing changed).
    pub async fn freeze(&self, by: &str) -> Result<bool, MetaError> {
        if self.load().await?.is_some() {
            return Ok(false);
        }
        let state = Frozen {
            by: by.to_owned(),
            at_ms: now_ms(),
        };
        let json = serde_json::to_string(&state).map_err(|e| MetaError::Invalid(e.to_string()))?;
        self.db.set_setting(SETTING, &json).await?;
        self.remember(Some(state));
        crate::cluster::announce(&self.db, crate::cluster::Event::Freeze).await;
        Ok(true)
    }

    /// Releases; false when not frozen (nothing changed).
    pub async fn release(&self) -> Result<bool, MetaError> {
        if self.load().await?.is_none() {
            return Ok(false);
        }
        self.db.set_setting(SETTING, "null").await?;
        self.remember(None);
        crate::cluster::announce(&self.db, crate::cluster::Event::Freeze).await;
        Ok(true)
    }
}
