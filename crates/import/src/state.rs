//! What earlier runs copied, per repository: path (docker: `image:tag`) → checksum, kept in the
//! target's database (`/service/rest/internal/import-progress`) under the source's URL. A run
//! reads it to report (and with `--prune` delete) what the source no longer has, and records
//! each copy as it lands, so an interrupted run resumes from any machine and a cluster shares
//! it. Only entries recorded here are ever pruned: what Arca's own users added is never touched.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::http::{Endpoint, encode};
use crate::{ImportError, Result};

const PATH: &str = "/service/rest/internal/import-progress";
/// Entries per request, as the target takes them.
const BATCH: usize = 1000;

pub type Copied = BTreeMap<String, String>;

/// The progress of imports from one source into one target.
pub struct Progress<'a> {
    target: &'a Endpoint,
    source: String,
}

#[derive(Deserialize)]
struct Entry {
    path: String,
    checksum: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<Entry>,
    continuation_token: Option<String>,
}

/// The source as progress is keyed: its URL without credentials, query or trailing slash, so
/// `https://nexus/` and `https://nexus` are one source and two Nexus instances are two.
pub fn source_key(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.as_str().trim_end_matches('/').to_owned()
}

impl<'a> Progress<'a> {
    pub fn new(target: &'a Endpoint, source: &url::Url) -> Self {
        Progress {
            target,
            source: source_key(source),
        }
    }

    /// Fails when the target keeps no import progress (not an Arca, or one too old), before
    /// anything is written.
    pub async fn check(&self) -> Result<()> {
        self.load_page("", "")
            .await
            .map(|_| ())
            .map_err(|e| match e.status() {
                Some(404) | Some(405) => ImportError::Invalid(format!(
                    "the target {} keeps no import progress ({PATH} answered {e}); it must be an \
                 Arca of this version or later",
                    self.target.base()
                )),
                _ => e,
            })
    }

    async fn load_page(&self, repo: &str, after: &str) -> Result<Page> {
        let mut p = format!(
            "{PATH}?source={}&repository={}",
            encode(&self.source),
            encode(repo)
        );
        if !after.is_empty() {
            p.push_str(&format!("&continuationToken={}", encode(after)));
        }
        self.target.get_json(&p).await
    }

    /// What earlier runs copied into `repo`.
    pub async fn load(&self, repo: &str) -> Result<Copied> {
        let mut out = Copied::new();
        let mut after = String::new();
        loop {
            let page = self.load_page(repo, &after).await?;
            out.extend(page.items.into_iter().map(|e| (e.path, e.checksum)));
            match page.continuation_token {
                // Keyset paging on the path (in the database's collation, not byte order):
                // a token equal to the last one would loop.
                Some(t) if t != after => after = t,
                _ => return Ok(out),
            }
        }
    }

    /// Records `set` and forgets `forget`, in batches the target takes in one transaction each.
    pub async fn update(
        &self,
        repo: &str,
        set: &[(String, String)],
        forget: &[String],
    ) -> Result<()> {
        let mut set = set.chunks(BATCH);
        let mut forget = forget.chunks(BATCH);
        loop {
            let (s, f) = (
                set.next().unwrap_or_default(),
                forget.next().unwrap_or_default(),
            );
            if s.is_empty() && f.is_empty() {
                return Ok(());
            }
            let body = json!({
                "source": self.source,
                "repository": repo,
                "set": s.iter().map(|(p, c)| json!({"path": p, "checksum": c})).collect::<Vec<_>>(),
                "forget": f,
            });
            self.target.send_json(Method::POST, PATH, &body).await?;
        }
    }

    /// Brings the record of `repo` from `prev` to `now`: what is new or changed is set, what is
    /// gone is forgotten.
    pub async fn save(&self, repo: &str, prev: &Copied, now: &Copied) -> Result<()> {
        let set: Vec<(String, String)> = now
            .iter()
            .filter(|(p, c)| prev.get(*p) != Some(*c))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect();
        let forget: Vec<String> = prev
            .keys()
            .filter(|p| !now.contains_key(*p))
            .cloned()
            .collect();
        self.update(repo, &set, &forget).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_key_drops_what_does_not_name_the_server() {
        let k = |s: &str| source_key(&url::Url::parse(s).expect("url"));
        assert_eq!(k("https://nexus.example/"), "https://nexus.example");
        assert_eq!(k("https://nexus.example"), "https://nexus.example");
        assert_eq!(
            k("https://u:p@nexus.example/nexus/?x=1#f"),
            "https://nexus.example/nexus"
        );
        assert_ne!(k("https://a.example"), k("https://b.example"));
    }
}
