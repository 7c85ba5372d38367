//! Docker repositories through the registry API: every image's tags, the manifests they name
//! (indexes with their children, and their referrers) copied by digest, blobs first, so the
//! digests on the target are the source's. Manifests are small and are held; blobs stream.

use std::collections::BTreeMap;

use futures_util::{StreamExt, future::BoxFuture, stream};
use reqwest::{Body, Method};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::content::{Expect, verified};
use crate::http::{Endpoint, encode};
use crate::settings::{Ctx, Repo};
use crate::{DockerPaths, ImportError, Result};

/// The largest manifest copied (what registries accept).
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.artifact.manifest.v1+json";

/// The source's registry path of `repo` (its `/v2/` root, no trailing slash).
fn source_root(cx: &Ctx<'_>, repo: &str) -> (String, String) {
    match cx.args.docker_paths {
        DockerPaths::Repository => (format!("/repository/{}/v2", encode(repo)), String::new()),
        DockerPaths::Prefix => ("/v2".to_owned(), format!("{repo}/")),
    }
}

/// Image names of a repository at the source, without the repository prefix.
async fn catalog(cx: &Ctx<'_>, repo: &str) -> Result<Vec<String>> {
    let (root, prefix) = source_root(cx, repo);
    let mut out = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let mut path = format!("{root}/_catalog?n=1000");
        if let Some(l) = &last {
            path.push_str(&format!("&last={}", encode(l)));
        }
        let v: Value = cx.source.get_json(&path).await?;
        let names: Vec<String> = v
            .get("repositories")
            .and_then(|r| r.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let full = names.len() >= 1000;
        last = names.last().cloned();
        out.extend(
            names
                .into_iter()
                .filter_map(|n| n.strip_prefix(&prefix).map(str::to_owned)),
        );
        if !full {
            return Ok(out);
        }
    }
}

struct Image<'a> {
    cx: &'a Ctx<'a>,
    /// `…/v2/<prefix><image>` at the source and `/v2/<repo>/<image>` at the target.
    src: String,
    dst: String,
}

/// What one image's copy did, and its `image:tag` → digest lines for the import progress.
type ImageResult = (Counts, Vec<(String, String)>);

#[derive(Default)]
struct Counts {
    manifests: u64,
    blobs: u64,
    bytes: u64,
    tags: u64,
    unchanged: u64,
}

#[tracing::instrument(skip_all, fields(repo = %r.name))]
pub async fn import_repo(
    cx: &Ctx<'_>,
    r: &Repo,
    prev: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let images = catalog(cx, &r.name).await?;
    let (root, prefix) = source_root(cx, &r.name);
    let jobs = cx.args.jobs.max(1);
    let results: Vec<(String, Result<ImageResult>)> = stream::iter(images)
        .map(|image| {
            let img = Image {
                cx,
                src: format!("{root}/{prefix}{image}"),
                dst: format!("/v2/{}/{image}", r.name),
            };
            async move {
                let res = img.copy_tags(&image).await;
                (image, res)
            }
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    let mut now = BTreeMap::new();
    let mut failed_images = std::collections::HashSet::new();
    for (image, res) in results {
        match res {
            Ok((c, tags)) => {
                cx.report.repo(&r.name, "docker", |x| {
                    x.copied += c.manifests + c.blobs;
                    x.bytes += c.bytes;
                    x.tags += c.tags;
                    x.unchanged += c.unchanged;
                });
                now.extend(tags);
            }
            Err(e) => {
                cx.report.repo(&r.name, "docker", |x| {
                    x.failed.push(format!("{image}: {e}"))
                });
                failed_images.insert(image);
            }
        }
    }
    for (key, digest) in prev {
        if now.contains_key(key) {
            continue;
        }
        let Some((image, tag)) = key.rsplit_once(':') else {
            continue;
        };
        if failed_images.contains(image) {
            // Not listed because its copy failed, not because it is gone.
            now.insert(key.clone(), digest.clone());
            continue;
        }
        let img = Image {
            cx,
            src: String::new(),
            dst: format!("/v2/{}/{image}", r.name),
        };
        // Read just before deleting: a tag a target user has pushed since is theirs, kept.
        let prune = cx.args.prune && !cx.args.dry_run;
        let here = if prune {
            img.target_manifest_digest(tag).await?
        } else {
            None
        };
        let (mut forget, mut deleted) = (false, false);
        if prune && here.is_none() {
            // Gone from the target already.
            forget = true;
        } else if prune && here.as_deref() != Some(digest.as_str()) {
            cx.report.repo(&r.name, "docker", |x| {
                x.skipped.push(format!(
                    "{key}: deleted at the source, but the target's tag names another manifest \
                     since it was imported: kept"
                ))
            });
            forget = true;
        } else if prune {
            // By tag: the tag goes, the manifest stays while other tags or digests name it.
            let path = format!("/v2/{}/{image}/manifests/{tag}", r.name);
            match cx
                .target
                .send(
                    cx.target.request(Method::DELETE, &path),
                    &format!("DELETE {path}"),
                )
                .await
            {
                Ok(_) => (forget, deleted) = (true, true),
                Err(e) if e.status() == Some(404) => forget = true,
                Err(e) => cx.report.repo(&r.name, "docker", |x| {
                    x.failed.push(format!("prune {key}: {e}"))
                }),
            }
        }
        if !forget {
            now.insert(key.clone(), digest.clone());
        }
        cx.report.repo(&r.name, "docker", |x| {
            x.deleted_at_source.push(key.clone());
            if deleted {
                x.pruned += 1;
            }
        });
    }
    Ok(now)
}

impl Image<'_> {
    fn source(&self) -> &Endpoint {
        self.cx.source
    }
    fn target(&self) -> &Endpoint {
        self.cx.target
    }

    async fn copy_tags(&self, image: &str) -> Result<ImageResult> {
        let mut c = Counts::default();
        let mut state = Vec::new();
        let v: Value = self
            .source()
            .get_json(&format!("{}/tags/list?n=100000", self.src))
            .await?;
        let tags: Vec<String> = v
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for tag in tags {
            let (bytes, ctype, digest) = self.get_manifest(&tag).await?;
            state.push((format!("{image}:{tag}"), digest.clone()));
            if self.target_manifest_digest(&tag).await?.as_deref() == Some(digest.as_str()) {
                c.unchanged += 1;
                continue;
            }
            if self.cx.args.dry_run {
                // Counted as a tag that would be set.
                c.tags += 1;
                continue;
            }
            self.copy_manifest(&digest, bytes.clone(), ctype.clone(), &mut c)
                .await?;
            // The tag last, once everything it names is there.
            self.put_manifest(&tag, bytes, &ctype).await?;
            c.tags += 1;
        }
        Ok((c, state))
    }

    async fn get_manifest(&self, reference: &str) -> Result<(bytes::Bytes, String, String)> {
        let path = format!("{}/manifests/{reference}", self.src);
        let resp = self
            .source()
            .send(
                self.source()
                    .request(Method::GET, &path)
                    .header("accept", ACCEPT),
                &format!("GET {path}"),
            )
            .await?;
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_owned();
        // Registries refuse manifests over 4 MiB; so does this copy.
        let bytes = crate::http::bounded(resp, MANIFEST_LIMIT, &format!("GET {path}")).await?;
        // The digest of the bytes as served, which is what the target will compute.
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(ImportError::Checksum {
                path: path.clone(),
                detail: format!("manifest content has digest {digest}"),
            });
        }
        Ok((bytes, ctype, digest))
    }

    async fn target_manifest_digest(&self, reference: &str) -> Result<Option<String>> {
        let path = format!("{}/manifests/{reference}", self.dst);
        let resp = self
            .target()
            .request(Method::HEAD, &path)
            .header("accept", ACCEPT)
            .send()
            .await
            .map_err(|source| ImportError::Http {
                what: format!("HEAD {path}"),
                source,
            })?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned))
    }

    /// A manifest by digest with everything it names: blobs, child manifests, then itself, then
    /// its referrers (which name it as their subject).
    fn copy_manifest<'s>(
        &'s self,
        digest: &'s str,
        bytes: bytes::Bytes,
        ctype: String,
        c: &'s mut Counts,
    ) -> BoxFuture<'s, Result<()>> {
        Box::pin(async move {
            if self.target_manifest_digest(digest).await?.is_none() {
                let m: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    ImportError::Invalid(format!("{}: manifest {digest}: {e}", self.src))
                })?;
                if let Some(children) = m.get("manifests").and_then(|x| x.as_array()) {
                    for ch in children {
                        let Some(d) = ch.get("digest").and_then(|d| d.as_str()) else {
                            continue;
                        };
                        let (b, t, dd) = self.get_manifest(d).await?;
                        self.copy_manifest(&dd, b, t, c).await?;
                    }
                }
                let blobs = m
                    .get("config")
                    .into_iter()
                    .chain(
                        m.get("layers")
                            .and_then(|l| l.as_array())
                            .into_iter()
                            .flatten(),
                    )
                    .chain(
                        m.get("blobs")
                            .and_then(|l| l.as_array())
                            .into_iter()
                            .flatten(),
                    );
                for b in blobs {
                    if let Some(d) = b.get("digest").and_then(|d| d.as_str()) {
                        // Foreign layers (with `urls`) live elsewhere and are never pushed.
                        if b.get("urls").is_some() {
                            continue;
                        }
                        let size = b.get("size").and_then(|s| s.as_u64());
                        self.copy_blob(d, size, c).await?;
                    }
                }
                self.put_manifest(digest, bytes, &ctype).await?;
                c.manifests += 1;
            }
            self.copy_referrers(digest, c).await
        })
    }

    async fn copy_referrers(&self, digest: &str, c: &mut Counts) -> Result<()> {
        let path = format!("{}/referrers/{digest}", self.src);
        let idx: Option<Value> = self.source().get_json_opt(&path).await.unwrap_or(None);
        let Some(idx) = idx else { return Ok(()) };
        for m in idx
            .get("manifests")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(d) = m.get("digest").and_then(|d| d.as_str()) {
                let (b, t, dd) = self.get_manifest(d).await?;
                self.copy_manifest(&dd, b, t, c).await?;
            }
        }
        Ok(())
    }

    async fn put_manifest(&self, reference: &str, bytes: bytes::Bytes, ctype: &str) -> Result<()> {
        let path = format!("{}/manifests/{reference}", self.dst);
        self.target()
            .send(
                self.target()
                    .request(Method::PUT, &path)
                    .header("content-type", ctype)
                    .body(bytes),
                &format!("PUT {path}"),
            )
            .await?;
        Ok(())
    }

    async fn copy_blob(&self, digest: &str, size: Option<u64>, c: &mut Counts) -> Result<()> {
        let head = format!("{}/blobs/{digest}", self.dst);
        let have = self
            .target()
            .request(Method::HEAD, &head)
            .send()
            .await
            .map_err(|source| ImportError::Http {
                what: format!("HEAD {head}"),
                source,
            })?;
        if have.status().is_success() {
            return Ok(());
        }
        let Some(hexd) = digest.strip_prefix("sha256:") else {
            return Err(ImportError::Invalid(format!(
                "{digest}: only sha256 blobs are copied"
            )));
        };
        let src = format!("{}/blobs/{digest}", self.src);
        let resp = self.source().get_content(&src).await?;
        let len = resp.content_length().or(size);
        let (body, verdict) = verified(
            resp,
            Expect {
                sha1: None,
                sha256: Some(hexd.to_ascii_lowercase()),
            },
            len,
        );
        // A monolithic upload: POST for a session, then PUT of the whole body with the digest.
        let start = format!("{}/blobs/uploads/", self.dst);
        let r = self
            .target()
            .send(
                self.target()
                    .request(Method::POST, &start)
                    .header("content-length", 0),
                &format!("POST {start}"),
            )
            .await?;
        let loc = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| ImportError::Invalid(format!("POST {start}: no Location")))?;
        let mut put = r
            .url()
            .join(loc)
            .map_err(|e| ImportError::Invalid(format!("POST {start}: Location {loc}: {e}")))?;
        put.query_pairs_mut().append_pair("digest", digest);
        // The target's credentials go to the target only, wherever its Location points.
        if put.origin() != r.url().origin() {
            return Err(ImportError::Invalid(format!(
                "POST {start}: Location {loc} points to another origin"
            )));
        }
        let mut req = self
            .target()
            .http
            .put(put.clone())
            .basic_auth_from(self.target())
            .header("content-type", "application/octet-stream")
            .body(Body::wrap_stream(body));
        if let Some(l) = len {
            req = req.header("content-length", l);
        }
        let res = self.target().send(req, &format!("PUT {put}")).await;
        if let Some(detail) = verdict.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(ImportError::Checksum { path: src, detail });
        }
        res?;
        c.blobs += 1;
        c.bytes += len.unwrap_or(0);
        Ok(())
    }
}

/// The target's credentials on a request built from an absolute URL (an upload's Location).
trait AuthFrom {
    fn basic_auth_from(self, e: &Endpoint) -> Self;
}

impl AuthFrom for reqwest::RequestBuilder {
    fn basic_auth_from(self, e: &Endpoint) -> Self {
        e.authorize(self)
    }
}
