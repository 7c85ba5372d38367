//! `--proxy-caches`: fills the target's proxy repositories with what the source's proxies hold
//! cached. Each asset is requested through the target proxy's own URL, so the target fetches it
//! from its remote (the one copied from the source) and caches it exactly as for a client, with
//! the format's checks; the bytes are checked against the checksums the source lists for its
//! cached copy. What the remote no longer serves is reported: Nexus's copy is not taken (the
//! target has no way to hold a proxied file its remote does not have).

use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::content::{Expect, derived, target_checksums, verified};
use crate::http::{encode, encode_path};
use crate::settings::{Ctx, Repo};
use crate::{ImportError, Result};

/// Whether a cached path of a proxy is a file worth warming (not an index or metadata the
/// target derives or refreshes from the remote itself).
pub fn warmable(format: &str, path: &str) -> bool {
    match format {
        // A registry's manifests and blobs refill by pull; the catalog lists no cache.
        "docker" => false,
        // Packuments are metadata the proxy refreshes; tarballs are under `/-/`.
        "npm" => path.contains("/-/"),
        _ => !derived(format, path),
    }
}

#[tracing::instrument(skip_all, fields(repo = %r.name, format = %r.format))]
pub async fn warm(cx: &Ctx<'_>, r: &Repo) -> Result<()> {
    if r.format == "docker" {
        cx.report.repo(&r.name, &r.format, |c| {
            c.skipped.push(
                "docker proxy caches are not warmed: images refill on their first pull".into(),
            )
        });
        return Ok(());
    }
    let on_target = target_checksums(cx.target, &r.name).await?;
    let list = format!("/service/rest/v1/assets?repository={}", encode(&r.name));
    let list = list.as_str();
    let pages = cx.source.pages(list);
    // Dry run: counted, not listed (a proxy may have cached millions of files).
    let would_warm = std::sync::atomic::AtomicU64::new(0);
    let triage = |page: Vec<Value>| -> Vec<Result<(String, Expect)>> {
        let mut todo = Vec::new();
        for a in &page {
            let Some(path) = a.get("path").and_then(Value::as_str) else {
                continue;
            };
            let path = path.trim_start_matches('/').to_owned();
            if !warmable(&r.format, &path) {
                cx.report.repo(&r.name, &r.format, |c| c.derived += 1);
                continue;
            }
            let expect = Expect::from_asset(a);
            if expect
                .key()
                .is_some_and(|k| on_target.get(&path).is_some_and(|t| t.holds(&k)))
            {
                cx.report.repo(&r.name, &r.format, |c| c.unchanged += 1);
                continue;
            }
            if cx.args.dry_run {
                would_warm.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            todo.push(Ok((path, expect)));
        }
        todo
    };
    let work = pages
        .map_ok(|page| stream::iter(triage(page)))
        .try_flatten()
        .map(|item| async move {
            let (path, expect) = item?;
            let res = fetch(cx, r, &path, expect).await;
            Ok::<_, ImportError>((path, res))
        })
        .buffer_unordered(cx.args.jobs.max(1));
    futures_util::pin_mut!(work);
    while let Some(done) = work.next().await {
        match done? {
            (_, Ok(bytes)) => cx.report.repo(&r.name, &r.format, |c| {
                c.copied += 1;
                c.bytes += bytes;
            }),
            (path, Err(e)) => cx.report.repo(&r.name, &r.format, |c| {
                c.failed.push(format!("{path}: {e}"))
            }),
        }
    }
    if cx.args.dry_run {
        cx.report.note(format!(
            "{}: {} cached files would be fetched through the target's proxy",
            r.name,
            would_warm.load(std::sync::atomic::Ordering::Relaxed)
        ));
    }
    Ok(())
}

/// Reads `path` through the target's proxy (which caches it on the way), checking the bytes
/// against what the source's cache lists; the body is dropped as it passes.
async fn fetch(cx: &Ctx<'_>, r: &Repo, path: &str, expect: Expect) -> Result<u64> {
    let url = format!("/repository/{}/{}", encode_path(&r.name), encode_path(path));
    let resp = cx
        .target
        .get_content(&url)
        .await
        .map_err(|e| match e.status() {
            Some(404) => ImportError::Invalid(format!(
                "the target's remote no longer serves it (the source's cached copy is not taken; \
             keep the old proxy as a group member until it is not needed): {e}"
            )),
            _ => e,
        })?;
    let len = resp.content_length();
    let (body, verdict) = verified(resp, expect, len);
    futures_util::pin_mut!(body);
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(b) => n += b.len() as u64,
            Err(e) => {
                let detail = verdict
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_else(|| e.to_string());
                return Err(ImportError::Checksum {
                    path: path.to_owned(),
                    detail: format!("the remote's copy differs from the source's cache: {detail}"),
                });
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::warmable;

    #[test]
    fn only_files_are_warmed() {
        assert!(warmable("raw", "a/b.bin"));
        assert!(warmable("maven2", "org/x/1/x-1.jar"));
        assert!(!warmable("maven2", "org/x/maven-metadata.xml"));
        assert!(!warmable("maven2", "org/x/1/x-1.jar.sha1"));
        assert!(warmable("npm", "@s/p/-/p-1.0.0.tgz"));
        assert!(!warmable("npm", "@s/p"));
        assert!(!warmable("yum", "repodata/repomd.xml"));
        assert!(!warmable("docker", "v2/x/manifests/1"));
        assert!(!warmable("pypi", "simple/x/"));
    }
}
