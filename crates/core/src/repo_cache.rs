//! Repositories by name, cached per node: every request on `/repository/…` reads its
//! repository (and a group read its members), while repositories change only when an
//! administrator changes them.
//!
//! A change drops this node's cache where it is made and is announced to the other nodes
//! ([`crate::cluster::Event::Repository`]), which drop theirs; the entries' short lifetime bounds
//! staleness if a notice is lost. Only repositories that exist are cached, so the map is as
//! large as the repository list, however many unknown names are asked for.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    meta::{Db, MetaError},
    model::Repository,
};

/// How long an entry is trusted without a notice. Notices make changes count at once; this is
/// the bound when one is lost.
const TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct RepoCache {
    entries: Mutex<HashMap<String, (Repository, Instant)>>,
    /// Bumped by every change, so that a read which raced one is not cached.
    generation: AtomicU64,
}

impl RepoCache {
    /// The repository named `name`, from the cache or the database.
    pub async fn get(&self, db: &Db, name: &str) -> Result<Repository, MetaError> {
        if let Ok(map) = self.entries.lock()
            && let Some((repo, at)) = map.get(name)
            && at.elapsed() < TTL
        {
            return Ok(repo.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let repo = db.get_repository(name).await?;
        if let Ok(mut map) = self.entries.lock()
            && self.generation.load(Ordering::Acquire) == generation
        {
            map.insert(name.to_owned(), (repo.clone(), Instant::now()));
        }
        Ok(repo)
    }

    /// Drops every entry: a repository was created, changed or deleted (here or elsewhere).
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RepoKind, RepoName, RepositorySpec, WritePolicy};

    fn spec(name: &str, online: bool) -> RepositorySpec {
        RepositorySpec {
            name: RepoName::parse(name).unwrap(),
            format: "raw".into(),
            kind: RepoKind::Hosted,
            online,
            blob_store: "default".into(),
            write_policy: Some(WritePolicy::Allow),
            strict_content_type_validation: true,
            members: vec![],
            attrs: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn cached_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        if let Db::Sqlite(p) = &db {
            sqlx::query(
                "INSERT INTO blob_stores (name, type, path, created_ms) VALUES ('default', 'File', 'b', 0)",
            )
            .execute(p)
            .await
            .unwrap();
        }
        db.create_repository(&spec("r", true)).await.unwrap();
        let cache = RepoCache::default();
        assert!(cache.get(&db, "r").await.unwrap().online);
        assert!(matches!(
            cache.get(&db, "missing").await,
            Err(MetaError::NotFound)
        ));
        // Changed behind the cache's back: still the cached value …
        db.update_repository(&spec("r", false)).await.unwrap();
        assert!(cache.get(&db, "r").await.unwrap().online);
        // … until the change is announced.
        cache.forget();
        assert!(!cache.get(&db, "r").await.unwrap().online);
        db.delete_repository("r").await.unwrap();
        cache.forget();
        assert!(matches!(
            cache.get(&db, "r").await,
            Err(MetaError::NotFound)
        ));
    }
}
