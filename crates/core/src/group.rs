//! Group repositories: ordered member resolution shared by every format.

use std::collections::HashSet;

use crate::{
    Arca,
    meta::{Db, MetaError},
    model::{RepoKind, Repository},
};

/// The leaf (hosted and proxy) members of a group in resolution order: depth first, each
/// repository once, nested groups expanded in place. Offline members are skipped.
/// Members are read through the node's repository cache, as requests read their repository.
pub async fn leaf_members(arca: &Arca, group: &Repository) -> Result<Vec<Repository>, MetaError> {
    resolve(group, async |name: &str| arca.repository(name).await).await
}

/// Where a read of `repo` looks, in order: a group's leaf members, or the repository itself.
pub async fn read_sources(arca: &Arca, repo: &Repository) -> Result<Vec<Repository>, MetaError> {
    match repo.kind {
        RepoKind::Group => leaf_members(arca, repo).await,
        _ => Ok(vec![repo.clone()]),
    }
}

/// [`leaf_members`] read from the database itself.
pub async fn leaf_members_in(db: &Db, group: &Repository) -> Result<Vec<Repository>, MetaError> {
    resolve(group, async |name: &str| db.get_repository(name).await).await
}

async fn resolve(
    group: &Repository,
    get: impl AsyncFn(&str) -> Result<Repository, MetaError>,
) -> Result<Vec<Repository>, MetaError> {
    let mut out = Vec::new();
    let mut seen = HashSet::from([group.name.to_string()]);
    let mut stack: Vec<String> = group.members.iter().rev().cloned().collect();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let repo = match get(&name).await {
            Ok(r) => r,
            Err(MetaError::NotFound) => continue,
            Err(e) => return Err(e),
        };
        if !repo.online || repo.format != group.format {
            continue;
        }
        match repo.kind {
            RepoKind::Group => stack.extend(repo.members.iter().rev().cloned()),
            _ => out.push(repo),
        }
    }
    Ok(out)
}

/// Whether making `group` hold `members` would make a group contain itself.
pub async fn would_cycle(db: &Db, group: &str, members: &[String]) -> Result<bool, MetaError> {
    let mut seen = HashSet::new();
    let mut stack: Vec<String> = members.to_vec();
    while let Some(name) = stack.pop() {
        if name == group {
            return Ok(true);
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        match db.get_repository(&name).await {
            Ok(r) if r.kind == RepoKind::Group => stack.extend(r.members),
            Ok(_) | Err(MetaError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
