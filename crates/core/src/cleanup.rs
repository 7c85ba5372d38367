//! Cleanup policies, as Nexus applies them: a repository names its policies in
//! `cleanup.policyNames`; a component is deleted when every criterion a policy gives holds
//! (any policy suffices). Deletion goes through [`delete_paths`], the same path as the REST
//! API's deletes, so blobs are freed at once and Maven metadata and yum repodata stay in step.

use std::collections::HashMap;

use actix_web::web;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{
    RepoContext,
    meta::{CleanupPolicyRow, MetaError},
    model::{Asset, Component, Repository, now_ms},
    security::Subject,
    state::Arca,
    storage::StorageError,
};

/// What a policy matches; absent criteria do not restrict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Criteria {
    /// Days since the component's newest asset was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_blob_updated: Option<i64>,
    /// Days since any asset of the component was downloaded (never counts from its creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_downloaded: Option<i64>,
    /// `RELEASES` or `PRERELEASES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_type: Option<String>,
    /// A regular expression one of the component's asset paths must match in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_regex: Option<String>,
    /// The newest this many versions of each component name (namespace and name, by their
    /// newest asset) never match: a docker image keeps its newest tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

impl Criteria {
    /// Refuses criteria that cannot work; the message names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("criteriaLastBlobUpdated", self.last_blob_updated),
            ("criteriaLastDownloaded", self.last_downloaded),
        ] {
            if v.is_some_and(|d| d < 0) {
                return Err((field, format!("{field} must be 0 or more days")));
            }
        }
        if let Some(t) = &self.release_type
            && t != "RELEASES"
            && t != "PRERELEASES"
        {
            return Err((
                "criteriaReleaseType",
                format!("criteriaReleaseType must be RELEASES or PRERELEASES, not {t:?}"),
            ));
        }
        if let Some(r) = &self.asset_regex {
            anchored(r).map_err(|e| ("criteriaAssetRegex", format!("criteriaAssetRegex: {e}")))?;
        }
        if self.retain.is_some_and(|n| !(1..=100_000).contains(&n)) {
            return Err(("retain", "retain must be from 1 to 100000 versions".into()));
        }
        if *self == Self::default() {
            return Err(("*", "a cleanup policy needs at least one criterion".into()));
        }
        Ok(())
    }
}

fn anchored(r: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{r})$"))
}

/// The words versions commonly mark a pre-release with, as separate parts of the version
/// (`2.0-rc1`, `1.0-beta`, `3.0.0-alpha.2`, `1.0.pre`, `1.1.dev3`); `1.0-slim` or `latest` are
/// releases.
pub fn common_prerelease(version: &str) -> bool {
    let v = version.to_ascii_lowercase();
    v.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| {
        let letters = part.trim_matches(|c: char| c.is_ascii_digit());
        matches!(
            letters,
            "alpha" | "beta" | "rc" | "pre" | "preview" | "dev" | "snapshot" | "nightly"
        )
    })
}

/// Whether a component (with its assets) matches every criterion, at `now`; `prerelease` is
/// the format's word on the component's version.
pub fn matches(
    c: &Criteria,
    regex: Option<&Regex>,
    assets: &[&Asset],
    now: i64,
    prerelease: bool,
) -> bool {
    if assets.is_empty() {
        return false;
    }
    if let Some(days) = c.last_blob_updated {
        let newest = assets
            .iter()
            .map(|a| a.last_modified_ms)
            .max()
            .unwrap_or(now);
        if newest > now - days * DAY_MS {
            return false;
        }
    }
    if let Some(days) = c.last_downloaded {
        let cutoff = now - days * DAY_MS;
        if assets
            .iter()
            .any(|a| a.last_downloaded_ms.unwrap_or(a.created_ms) > cutoff)
        {
            return false;
        }
    }
    if let Some(t) = &c.release_type
        && (t == "PRERELEASES") != prerelease
    {
        return false;
    }
    if let Some(re) = regex
        && !assets.iter().any(|a| re.is_match(&a.path))
    {
        return false;
    }
    true
}

/// The policies a repository names.
pub fn policy_names(repo: &Repository) -> Vec<String> {
    policy_names_of(&repo.attrs)
}

/// The policies a repository's attributes name (`cleanup.policyNames`).
pub fn policy_names_of(attrs: &serde_json::Value) -> Vec<String> {
    attrs
        .pointer("/cleanup/policyNames")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes assets of a repository and lets its format bring its metadata in step.
pub async fn delete_paths(
    arca: &web::Data<Arca>,
    repo: &Repository,
    subject: &Subject,
    base_url: String,
    paths: &[String],
) -> Result<(), StorageError> {
    for p in paths {
        arca.storage.delete_asset(repo, p).await?;
    }
    if let Some(f) = arca.formats.get(&repo.format).cloned() {
        let cx = RepoContext {
            arca: arca.clone(),
            base_url,
            subject: subject.clone(),
            path: String::new(),
            repo: repo.clone(),
        };
        f.deleted(&cx, paths).await;
    }
    Ok(())
}

/// What one cleanup of one repository found and did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub matched: i64,
    pub deleted: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cleanup policy {0}: {1}")]
    Policy(String, String),
}

/// A repository's components a page at a time, with their assets.
#[derive(Default)]
struct ComponentPages {
    after: i64,
    done: bool,
}

impl ComponentPages {
    const SIZE: i64 = 500;

    async fn next(
        &mut self,
        arca: &Arca,
        repo: &Repository,
    ) -> Result<Option<(Vec<Component>, Vec<Asset>)>, CleanupError> {
        if self.done {
            return Ok(None);
        }
        let comps = arca
            .db
            .list_components(repo.id, self.after, Self::SIZE)
            .await?;
        let Some(last) = comps.last() else {
            return Ok(None);
        };
        self.after = last.id;
        self.done = (comps.len() as i64) < Self::SIZE;
        let ids: Vec<i64> = comps.iter().map(|c| c.id).collect();
        let assets = arca.db.assets_of(&ids).await?;
        Ok(Some((comps, assets)))
    }
}

/// The newest `n` versions of each name in `repo` (namespace and name, by their newest
/// asset, then id): component id → its rank from 0. A version that is a content digest
/// (docker's `sha256:…` components, beside the tags) does not count: it is kept (rank 0) when
/// its content is a kept version's. Read a page at a time; holds `n` per name.
async fn newest_versions(
    arca: &Arca,
    repo: &Repository,
    n: usize,
) -> Result<HashMap<i64, usize>, CleanupError> {
    type Name = (String, String);
    // Per name: the newest (time, id, content) of the versions.
    let mut by_name: HashMap<Name, Vec<(i64, i64, String)>> = HashMap::new();
    let mut by_digest: Vec<(Name, i64, String)> = Vec::new();
    let format = arca.formats.get(&repo.format).cloned();
    let mut pages = ComponentPages::default();
    while let Some((comps, assets)) = pages.next(arca, repo).await? {
        for comp in &comps {
            let Some(newest) = assets
                .iter()
                .filter(|a| a.component_id == Some(comp.id))
                .max_by_key(|a| a.last_modified_ms)
            else {
                continue;
            };
            let name = (comp.namespace.clone(), comp.name.clone());
            let content = newest.checksums.sha256.clone();
            // A version naming content (docker's by-digest manifests) is no release of its
            // own: it is kept when it holds what a kept version holds.
            if format
                .as_ref()
                .is_some_and(|f| f.is_content_version(&comp.version))
            {
                by_digest.push((name, comp.id, content));
                continue;
            }
            let top = by_name.entry(name).or_default();
            top.push((newest.last_modified_ms, comp.id, content));
            top.sort_unstable_by_key(|t| std::cmp::Reverse((t.0, t.1)));
            top.truncate(n);
        }
    }
    let mut out = HashMap::new();
    for (name, id, content) in by_digest {
        if by_name
            .get(&name)
            .is_some_and(|top| top.iter().any(|(_, _, c)| *c == content))
        {
            out.insert(id, 0);
        }
    }
    for top in by_name.into_values() {
        out.extend(top.into_iter().enumerate().map(|(i, (_, id, _))| (id, i)));
    }
    Ok(out)
}

/// Whether component `id` is among the newest `n` of its name.
fn retained(newest: &HashMap<i64, usize>, id: i64, n: usize) -> bool {
    newest.get(&id).is_some_and(|rank| *rank < n)
}

/// Applies `policies` to `repo` (components matching any of them); with `dry_run` only counts.
pub async fn apply(
    arca: &web::Data<Arca>,
    repo: &Repository,
    policies: &[CleanupPolicyRow],
    dry_run: bool,
    subject: &Subject,
    base_url: &str,
) -> Result<Outcome, CleanupError> {
    let mut compiled = Vec::new();
    for p in policies {
        if p.format != "*" && p.format != repo.format {
            continue;
        }
        let c: Criteria = serde_json::from_str(&p.criteria)
            .map_err(|e| CleanupError::Policy(p.name.clone(), e.to_string()))?;
        let re = match &c.asset_regex {
            Some(r) => {
                Some(anchored(r).map_err(|e| CleanupError::Policy(p.name.clone(), e.to_string()))?)
            }
            None => None,
        };
        compiled.push((c, re));
    }
    let mut out = Outcome::default();
    if compiled.is_empty() {
        return Ok(out);
    }
    let now = now_ms();
    let format = arca.formats.get(&repo.format).cloned();
    let newest = match compiled.iter().filter_map(|(c, _)| c.retain).max() {
        Some(n) => newest_versions(arca, repo, n as usize).await?,
        None => HashMap::new(),
    };
    let mut pages = ComponentPages::default();
    while let Some((comps, assets)) = pages.next(arca, repo).await? {
        // The page's matches go in one delete, so the format rebuilds its metadata (Maven
        // metadata, yum repodata) once per page rather than once per component.
        let (mut paths, mut page_matched) = (Vec::new(), 0);
        for comp in &comps {
            let mine: Vec<&Asset> = assets
                .iter()
                .filter(|a| a.component_id == Some(comp.id))
                .collect();
            let pre = format
                .as_ref()
                .is_some_and(|f| f.is_prerelease(&comp.version));
            if !compiled.iter().any(|(c, re)| {
                matches(c, re.as_ref(), &mine, now, pre)
                    && c.retain
                        .is_none_or(|n| !retained(&newest, comp.id, n as usize))
            }) {
                continue;
            }
            page_matched += 1;
            paths.extend(mine.iter().map(|a| a.path.clone()));
        }
        out.matched += page_matched;
        if !dry_run && !paths.is_empty() {
            delete_paths(arca, repo, subject, base_url.to_owned(), &paths).await?;
            out.deleted += page_matched;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prereleases() {
        for v in [
            "2.0-rc1",
            "1.0-beta",
            "3.0.0-alpha.2",
            "1.0.pre",
            "1.1.dev3",
            "7-nightly",
        ] {
            assert!(common_prerelease(v), "{v}");
        }
        for v in ["1.0", "1.0-slim", "latest", "2.31.0", "bookworm", "v1.2.3"] {
            assert!(!common_prerelease(v), "{v}");
        }
    }

    #[test]
    fn criteria_validation() {
        assert!(Criteria::default().validate().is_err());
        let bad = Criteria {
            last_downloaded: Some(-1),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "criteriaLastDownloaded");
        let bad = Criteria {
            asset_regex: Some("(".into()),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "criteriaAssetRegex");
        let ok = Criteria {
            release_type: Some("PRERELEASES".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
    }
}
