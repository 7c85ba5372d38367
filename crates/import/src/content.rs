//! Content of hosted repositories: every asset the source lists, streamed from the source's
//! repository URL into the target's own upload path with its checksum checked on the way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use reqwest::{Body, Method, Response};
use serde_json::Value;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::http::{Endpoint, encode_path};
use crate::settings::{Ctx, Repo};
use crate::state::{Copied, Progress};
use crate::{ImportError, Result, docker};

/// A lock whose holder panicked still guards plain data: keep using it.
pub(crate) fn relock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The checksums the source reports for an asset; at least one is checked while streaming.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl Expect {
    pub fn from_asset(a: &Value) -> Expect {
        let get = |k: &str| {
            a.pointer(&format!("/checksum/{k}"))
                .and_then(|s| s.as_str())
                .map(|s| s.to_ascii_lowercase())
        };
        Expect {
            sha1: get("sha1"),
            sha256: get("sha256"),
        }
    }

    /// What the import progress records: the strongest checksum known.
    pub fn key(&self) -> Option<String> {
        self.sha256
            .as_ref()
            .map(|s| format!("sha256:{s}"))
            .or_else(|| self.sha1.as_ref().map(|s| format!("sha1:{s}")))
    }
}

impl Expect {
    /// Whether these checksums include the one `key` (`sha256:…` or `sha1:…`) names.
    pub fn holds(&self, key: &str) -> bool {
        match key.split_once(':') {
            Some(("sha256", h)) => self.sha256.as_deref() == Some(h),
            Some(("sha1", h)) => self.sha1.as_deref() == Some(h),
            _ => false,
        }
    }
}

/// Copies recorded in the target's import progress per request, or after this long.
const RECORD_EVERY: usize = 200;
const RECORD_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

struct Hashing {
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
    expect: Expect,
    seen: u64,
    len: Option<u64>,
}

impl Hashing {
    fn verdict(&mut self) -> std::result::Result<(), String> {
        let mut bad = Vec::new();
        if let (Some(h), Some(want)) = (self.sha1.take(), &self.expect.sha1) {
            let got = hex::encode(h.finalize());
            if &got != want {
                bad.push(format!("sha1 {got}, the source lists {want}"));
            }
        }
        if let (Some(h), Some(want)) = (self.sha256.take(), &self.expect.sha256) {
            let got = hex::encode(h.finalize());
            if &got != want {
                bad.push(format!("sha256 {got}, the source lists {want}"));
            }
        }
        if let Some(len) = self.len
            && len != self.seen
        {
            bad.push(format!("{} bytes, {len} announced", self.seen));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }
}

/// Where a checksum failure is left for the caller, who sees only the upload's error otherwise.
pub type Verdict = Arc<Mutex<Option<String>>>;

/// The body of `resp`, hashed as it passes. With a known length the check is made before the
/// last chunk is handed on, so that on a mismatch the target never receives a complete body
/// (it sees a broken upload and stores nothing); without one, at the end of the stream.
pub fn verified(
    resp: Response,
    expect: Expect,
    len: Option<u64>,
) -> (
    impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    Verdict,
) {
    let verdict: Verdict = Arc::new(Mutex::new(None));
    let h = Hashing {
        sha1: expect.sha1.as_ref().map(|_| Sha1::new()),
        sha256: expect.sha256.as_ref().map(|_| Sha256::new()),
        expect,
        seen: 0,
        len,
    };
    let v = verdict.clone();
    let fail = move |msg: String| {
        *v.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
        std::io::Error::other(msg)
    };
    let s = stream::unfold(Some((resp.bytes_stream(), h, fail)), |st| async move {
        let (mut inner, mut h, fail) = st?;
        match inner.next().await {
            Some(Ok(b)) => {
                if let Some(x) = h.sha1.as_mut() {
                    x.update(&b);
                }
                if let Some(x) = h.sha256.as_mut() {
                    x.update(&b);
                }
                h.seen += b.len() as u64;
                if h.len.is_some_and(|l| h.seen >= l)
                    && let Err(m) = h.verdict()
                {
                    return Some((Err(fail(m)), None));
                }
                Some((Ok(b), Some((inner, h, fail))))
            }
            Some(Err(e)) => Some((Err(std::io::Error::other(e)), None)),
            // When the announced length was reached the hashes were checked (and taken)
            // already; what is left to check then is only that nothing more came.
            None => match h.verdict() {
                Ok(()) => None,
                Err(m) => Some((Err(fail(m)), None)),
            },
        }
    });
    (s, verdict)
}

/// Files a target makes itself from the primary ones, so copying them would conflict or be
/// stale: Maven metadata and checksums, yum repodata, PyPI's simple index.
pub fn derived(format: &str, path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    match format {
        "maven2" => {
            file.starts_with("maven-metadata.xml")
                || [".md5", ".sha1", ".sha256", ".sha512"]
                    .iter()
                    .any(|e| file.ends_with(e))
        }
        "yum" => path.starts_with("repodata/") || path.contains("/repodata/"),
        "pypi" => path == "simple" || path.starts_with("simple/") || file.ends_with(".metadata"),
        _ => false,
    }
}

/// Primary files of a format that Arca's upload path cannot take, with the reason.
pub fn not_uploadable(format: &str, path: &str) -> Option<&'static str> {
    match format {
        "pypi" if path.ends_with(".asc") => {
            Some("Arca's PyPI repositories keep no detached signatures")
        }
        _ => None,
    }
}

struct Asset {
    path: String,
    expect: Expect,
    size: Option<u64>,
}

/// Copies the content of every hosted repository: docker through the registry API, the rest
/// asset by asset. A repository's failures are reported, and the next one goes on.
pub async fn import_content(cx: &Ctx<'_>, repos: &[Repo], progress: &Progress<'_>) -> Result<()> {
    for r in repos {
        let started = std::time::Instant::now();
        cx.report.start_repo(&r.name, &r.format);
        // A proxy's cache is refilled, not recorded: nothing of it is ever pruned.
        let recorded = if r.kind == "proxy" {
            Ok(Copied::new())
        } else {
            progress.load(&r.name).await
        };
        let prev = match recorded {
            Ok(p) => p,
            Err(e) => {
                cx.report.repo(&r.name, &r.format, |c| {
                    c.failed
                        .push(format!("reading what earlier runs copied: {e}"))
                });
                cx.report.end_repo(&r.name, started.elapsed());
                continue;
            }
        };
        // Formats with their own copy return what they hold now, recorded here at the end;
        // plain files are recorded as each one lands.
        let copied = if r.kind == "proxy" {
            crate::caches::warm(cx, r).await.map(|()| None)
        } else if r.format == "docker" {
            docker::import_repo(cx, r, &prev).await.map(Some)
        } else if r.format == "npm" {
            crate::npm::import_repo(cx, r, &prev).await.map(Some)
        } else {
            files(cx, r, &prev, progress).await.map(|()| None)
        };
        let saved = match copied {
            Ok(Some(now)) if !cx.args.dry_run => progress.save(&r.name, &prev, &now).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            cx.report
                .repo(&r.name, &r.format, |c| c.failed.push(e.to_string()));
        }
        if !cx.args.dry_run {
            // What the target made of it: components as its format code grouped them.
            let list = format!(
                "/service/rest/v1/components?repository={}",
                crate::http::encode(&r.name)
            );
            match cx.target.paged(&list).await {
                Ok(c) => cx
                    .report
                    .repo(&r.name, &r.format, |x| x.components = c.len() as u64),
                Err(e) => tracing::warn!(repo = %r.name, error = %e, "counting components"),
            }
        }
        cx.report.end_repo(&r.name, started.elapsed());
    }
    Ok(())
}

pub(crate) async fn target_checksums(
    target: &Endpoint,
    repo: &str,
) -> Result<HashMap<String, Expect>> {
    let items = match target
        .paged(&format!(
            "/service/rest/v1/assets?repository={}",
            crate::http::encode(repo)
        ))
        .await
    {
        Ok(i) => i,
        // Dry run: the repository is not there yet.
        Err(e) if e.status() == Some(404) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(items
        .iter()
        .filter_map(|a| {
            let p = a.get("path")?.as_str()?.trim_start_matches('/').to_owned();
            Some((p, Expect::from_asset(a)))
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(repo = %r.name, format = %r.format))]
async fn files(cx: &Ctx<'_>, r: &Repo, prev: &Copied, progress: &Progress<'_>) -> Result<()> {
    let on_target = target_checksums(cx.target, &r.name).await?;
    // What the target's record holds: `prev` and the copies of this run recorded so far.
    let mut recorded = prev.clone();
    let mut pending: Vec<(String, String)> = Vec::new();
    let mut last_record = std::time::Instant::now();
    let now: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let listed: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let mut would_copy = 0usize;
    let list = format!(
        "/service/rest/v1/assets?repository={}",
        crate::http::encode(&r.name)
    );
    let list = list.as_str();
    let pages = cx.source.pages(list);
    let mut triage = |page: Vec<Value>| -> Vec<(String, Asset)> {
        let mut todo = Vec::new();
        for a in &page {
            let Some(path) = a.get("path").and_then(|p| p.as_str()) else {
                continue;
            };
            let path = path.trim_start_matches('/').to_owned();
            relock(&listed).insert(path.clone());
            if derived(&r.format, &path) {
                cx.report.repo(&r.name, &r.format, |c| c.derived += 1);
                continue;
            }
            if let Some(why) = not_uploadable(&r.format, &path) {
                cx.report.repo(&r.name, &r.format, |c| {
                    c.skipped.push(format!("{path}: {why}"))
                });
                continue;
            }
            let expect = Expect::from_asset(a);
            let Some(key) = expect.key() else {
                cx.report.repo(&r.name, &r.format, |c| {
                    c.failed
                        .push(format!("{path}: the source lists no sha1 or sha256"))
                });
                continue;
            };
            let same_on_target = on_target.get(&path).is_some_and(|t| {
                (t.sha256.is_some() && t.sha256 == expect.sha256)
                    || (t.sha256.is_none() && t.sha1.is_some() && t.sha1 == expect.sha1)
            });
            if same_on_target {
                // Unchanged. Still the import's only if an earlier run recorded it: the same
                // bytes put there by someone else stay theirs (never pruned).
                if prev.contains_key(&path) {
                    relock(&now).insert(path, key);
                }
                cx.report.repo(&r.name, &r.format, |c| c.unchanged += 1);
                continue;
            }
            if cx.args.dry_run {
                tracing::info!(%path, "would copy");
                would_copy += 1;
                continue;
            }
            let size = a.get("fileSize").and_then(|s| s.as_u64());
            todo.push((key, Asset { path, expect, size }));
        }
        todo
    };
    let mut list_error: Option<ImportError> = None;
    {
        let work = pages
            .map_ok(|page| stream::iter(triage(page).into_iter().map(Ok)))
            .try_flatten()
            .map(|item: Result<(String, Asset)>| async move {
                match item {
                    Ok((key, a)) => {
                        let res = copy_file(cx.source, cx.target, r, &a).await;
                        Ok((a.path, key, res))
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(cx.args.jobs.max(1));
        futures_util::pin_mut!(work);
        while let Some(done) = work.next().await {
            match done {
                Ok((path, key, Ok(bytes))) => {
                    cx.report.repo(&r.name, &r.format, |c| {
                        c.copied += 1;
                        c.bytes += bytes;
                    });
                    relock(&now).insert(path.clone(), key.clone());
                    // Recorded in batches as copies land: an interrupted run loses at most
                    // the knowledge of one batch (those are found on the target next time).
                    pending.push((path, key));
                    if pending.len() >= RECORD_EVERY || last_record.elapsed() >= RECORD_AFTER {
                        last_record = std::time::Instant::now();
                        progress.update(&r.name, &pending, &[]).await?;
                        recorded.extend(pending.drain(..));
                    }
                }
                Ok((path, _, Err(e))) => cx.report.repo(&r.name, &r.format, |c| {
                    c.failed.push(format!("{path}: {e}"))
                }),
                Err(e) => list_error = Some(e),
            }
        }
    }
    if !pending.is_empty() {
        progress.update(&r.name, &pending, &[]).await?;
        recorded.extend(pending.drain(..));
    }
    if let Some(e) = list_error {
        // An incomplete listing says nothing about deletions: no pruning on it.
        return Err(e);
    }
    let mut now = now.into_inner().unwrap_or_else(|p| p.into_inner());
    let listed = listed.into_inner().unwrap_or_else(|p| p.into_inner());
    // Deletions: what an earlier run copied that the source no longer lists.
    let gone: Vec<String> = prev
        .keys()
        .filter(|p| !listed.contains(*p))
        .cloned()
        .collect();
    // Listed but not copied this run (a failed copy, a source listing no checksum): what the
    // target still holds from an earlier import stays recorded as the import's.
    for (p, k) in prev {
        if listed.contains(p)
            && !now.contains_key(p)
            && on_target.get(p).is_some_and(|t| t.holds(k))
        {
            now.insert(p.clone(), k.clone());
        }
    }
    if cx.args.dry_run {
        cx.report
            .repo(&r.name, &r.format, |c| c.deleted_at_source.extend(gone));
        cx.report
            .note(format!("{}: {would_copy} assets would be copied", r.name));
        return Ok(());
    }
    for p in gone {
        let key = prev.get(&p).cloned().unwrap_or_default();
        let here = on_target.get(&p);
        let mut ours = here.is_some_and(|t| t.holds(&key));
        if cx.args.prune && ours {
            // The listing may be hours old by now: the target's ETag (Arca's is the sha256)
            // says whether it still holds those bytes just before they are deleted.
            ours = still_holds(cx.target, &r.name, &p, here).await?;
        }
        let mut forget = here.is_none();
        if cx.args.prune && here.is_some() && !ours {
            // Someone replaced it on the target since: theirs now, never deleted by us.
            cx.report.repo(&r.name, &r.format, |c| {
                c.skipped.push(format!(
                    "{p}: deleted at the source, but changed on (or gone from) the target \
                     since it was imported: kept"
                ))
            });
            forget = true;
        } else if cx.args.prune && ours {
            let url = format!("/repository/{}/{}", encode_path(&r.name), encode_path(&p));
            match cx
                .target
                .send(
                    cx.target.request(Method::DELETE, &url),
                    &format!("DELETE {url}"),
                )
                .await
            {
                Ok(_) => {
                    forget = true;
                    cx.report.repo(&r.name, &r.format, |c| c.pruned += 1);
                }
                Err(e) if e.status() == Some(404) => forget = true,
                Err(e) => cx.report.repo(&r.name, &r.format, |c| {
                    c.failed.push(format!("prune {p}: {e}"))
                }),
            }
        }
        if !forget {
            // Still on the target: remembered, so the next run reports it again.
            now.insert(p.clone(), key);
        }
        cx.report
            .repo(&r.name, &r.format, |c| c.deleted_at_source.push(p.clone()));
    }
    progress.save(&r.name, &recorded, &now).await
}

/// Whether the target still holds at `path` the bytes `seen` listed (by its ETag, which Arca
/// sets to the sha256); a missing file or another ETag is not the import's to delete.
async fn still_holds(
    target: &Endpoint,
    repo: &str,
    path: &str,
    seen: Option<&Expect>,
) -> Result<bool> {
    let Some(want) = seen.and_then(|e| e.sha256.as_deref()) else {
        return Ok(false);
    };
    let url = format!("/repository/{}/{}", encode_path(repo), encode_path(path));
    let resp = target
        .request(Method::HEAD, &url)
        .send()
        .await
        .map_err(|source| ImportError::Http {
            what: format!("HEAD {url}"),
            source,
        })?;
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim_start_matches("W/")
                .trim_matches('"')
                .to_ascii_lowercase()
        });
    Ok(resp.status().is_success() && etag.as_deref() == Some(want))
}

/// GET from the source, hashed on the way, into the target's upload path for the format.
#[tracing::instrument(skip_all, fields(path = %a.path))]
async fn copy_file(source: &Endpoint, target: &Endpoint, r: &Repo, a: &Asset) -> Result<u64> {
    let src = format!(
        "/repository/{}/{}",
        encode_path(&r.name),
        encode_path(&a.path)
    );
    let resp = source.get_content(&src).await?;
    let len = resp.content_length().or(a.size);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body, verdict) = verified(resp, a.expect.clone(), len);
    let body = Body::wrap_stream(body);
    let res = if r.format == "pypi" {
        // Through the twine upload API, so the target indexes it as an upload.
        let file = a.path.rsplit('/').next().unwrap_or(&a.path).to_owned();
        let part = match len {
            Some(l) => reqwest::multipart::Part::stream_with_length(body, l),
            None => reqwest::multipart::Part::stream(body),
        }
        .file_name(file);
        let mut form = reqwest::multipart::Form::new().text(":action", "file_upload");
        if let Some(s) = &a.expect.sha256 {
            form = form.text("sha256_digest", s.clone());
        }
        form = form.part("content", part);
        let url = format!("/repository/{}/", encode_path(&r.name));
        target
            .send(
                target.request(Method::POST, &url).multipart(form),
                &format!("POST {url}"),
            )
            .await
    } else {
        let url = format!(
            "/repository/{}/{}",
            encode_path(&r.name),
            encode_path(&a.path)
        );
        let mut req = target.request(Method::PUT, &url).body(body);
        if let Some(l) = len {
            req = req.header("content-length", l);
        }
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        target.send(req, &format!("PUT {url}")).await
    };
    let failed = verdict.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (res, failed) {
        (_, Some(detail)) => Err(ImportError::Checksum {
            path: a.path.clone(),
            detail,
        }),
        (Err(e), None) => Err(e),
        (Ok(_), None) => Ok(len.unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static [u8]) -> Response {
        Response::from(http::Response::new(reqwest::Body::from(body)))
    }

    fn sha256_hex(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    #[tokio::test]
    async fn matching_body_passes_through() {
        let e = Expect {
            sha1: Some(hex::encode(Sha1::digest(b"hello"))),
            sha256: Some(sha256_hex(b"hello")),
        };
        let (s, v) = verified(response(b"hello"), e, Some(5));
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().as_ref(), b"hello");
        assert!(v.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn mismatch_with_known_length_withholds_the_last_chunk() {
        let e = Expect {
            sha1: None,
            sha256: Some(sha256_hex(b"other")),
        };
        let (s, v) = verified(response(b"hello"), e, Some(5));
        let out: Vec<_> = s.collect().await;
        // The target never gets a complete body: the only chunk is replaced by the error.
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
        assert!(v.lock().unwrap().as_deref().unwrap().contains("sha256"));
    }

    #[tokio::test]
    async fn mismatch_without_length_fails_at_the_end() {
        let e = Expect {
            sha1: Some(hex::encode(Sha1::digest(b"other"))),
            sha256: None,
        };
        let (s, v) = verified(response(b"hello"), e, None);
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok() && out[1].is_err());
        assert!(v.lock().unwrap().as_deref().unwrap().contains("sha1"));
    }

    #[tokio::test]
    async fn short_body_is_a_failure() {
        let e = Expect {
            sha1: None,
            sha256: Some(sha256_hex(b"hello")),
        };
        let (s, v) = verified(response(b"hello"), e, Some(9));
        let out: Vec<_> = s.collect().await;
        assert!(out.last().unwrap().is_err());
        assert!(
            v.lock()
                .unwrap()
                .as_deref()
                .unwrap()
                .contains("9 announced")
        );
    }

    #[test]
    fn derived_files_are_left_to_the_target() {
        assert!(derived("maven2", "org/x/a/maven-metadata.xml"));
        assert!(derived("maven2", "org/x/a/maven-metadata.xml.sha1"));
        assert!(derived("maven2", "org/x/a/1.0/a-1.0.jar.sha1"));
        assert!(!derived("maven2", "org/x/a/1.0/a-1.0.jar"));
        assert!(!derived("maven2", "org/x/a/1.0/a-1.0.jar.asc"));
        assert!(derived("yum", "repodata/repomd.xml"));
        assert!(derived("yum", "el9/repodata/primary.xml.gz"));
        assert!(!derived("yum", "el9/x.rpm"));
        assert!(derived("pypi", "simple/foo/"));
        assert!(!derived(
            "pypi",
            "packages/foo/1.0/foo-1.0-py3-none-any.whl"
        ));
        assert!(!derived("raw", "simple/x"));
        assert!(not_uploadable("pypi", "packages/a/1.0/a-1.0.tar.gz.asc").is_some());
        assert!(not_uploadable("pypi", "packages/a/1.0/a-1.0.tar.gz").is_none());
        assert!(not_uploadable("maven2", "a/b/1/b-1.jar.asc").is_none());
    }

    #[test]
    fn state_key_prefers_sha256() {
        let e = Expect::from_asset(&serde_json::json!({"checksum":{"sha1":"AB","sha256":"CD"}}));
        assert_eq!(e.key().as_deref(), Some("sha256:cd"));
        let e = Expect::from_asset(&serde_json::json!({"checksum":{"sha1":"ab"}}));
        assert_eq!(e.key().as_deref(), Some("sha1:ab"));
        assert_eq!(Expect::default().key(), None);
    }
}
