//! Hosted repositories: publish (streamed), metadata updates (deprecate, unpublish a version,
//! dist-tags) and removal. Each version's manifest and dist-tags live in its tarball asset's
//! attributes (`npm.manifest`, `npm.tags`), so a packument is read from the database and an
//! asset deleted through the REST API takes its version with it.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    RepoContext,
    blob::{BlobRef, PutOptions},
    http::remote_ip,
    locks::{Guard, Hold, LockKey},
    meta::NewComponent,
    model::{Asset, AssetPath, RepoKind, Repository, WritePolicy},
    security::{Action, Permission},
    storage::{AssetMeta, StorageError},
};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{
    error::{NpmError, Result, bad},
    names::{PkgName, tag_ok, version_ok},
    packument::{Doc, iso8601, rev_of},
    splitter::Splitter,
};

/// The packument part of a publish (everything but the tarball) is held in memory: at most this.
const DOC_LIMIT: u64 = 32 * 1024 * 1024;
/// Versions read for one packument.
const VERSIONS_MAX: i64 = 100_000;

/// The repository a write to `cx.repo` goes to: itself when hosted; for a group, its
/// `group.writableMember`, else its first hosted member — on which the caller must hold
/// `action` too (a privilege on the group alone writes nothing into a member).
pub async fn target(cx: &RepoContext, action: Action) -> Result<Repository> {
    let member = match cx.repo.kind {
        // Core's gate authorised the route's action here.
        RepoKind::Hosted => return Ok(cx.repo.clone()),
        RepoKind::Proxy => {
            return Err(NpmError::MethodNotAllowed(format!(
                "repository {} is a proxy: publish to a hosted repository",
                cx.repo.name
            )));
        }
        RepoKind::Group => {
            if let Some(w) = cx
                .repo
                .attrs
                .pointer("/group/writableMember")
                .and_then(Value::as_str)
                .filter(|w| !w.is_empty())
            {
                let r = cx.arca.repository(w).await?;
                if r.kind == RepoKind::Hosted && r.format == "npm" && r.online {
                    r
                } else {
                    return Err(NpmError::MethodNotAllowed(format!(
                        "group {}'s writable member {w} is not an online npm hosted repository",
                        cx.repo.name
                    )));
                }
            } else {
                arca_core::group::leaf_members(&cx.arca, &cx.repo)
                    .await?
                    .into_iter()
                    .find(|r| r.kind == RepoKind::Hosted)
                    .ok_or_else(|| {
                        NpmError::MethodNotAllowed(format!(
                            "group {} has no hosted member to publish to",
                            cx.repo.name
                        ))
                    })?
            }
        }
    };
    authorize_on(cx, &member, action)?;
    Ok(member)
}

/// Serialises changes to one package of one repository, on every node. A long lock: its
/// holder records assets, which takes short (blob) locks, and a short lock held while waiting
/// for another short one lets writers of one package take the whole short pool and wait
/// forever (locks.rs: long may take short, never the reverse).
pub(crate) async fn lock_package(
    cx: &RepoContext,
    repo: &Repository,
    name: &PkgName,
) -> Result<Guard> {
    let key = LockKey::new("npm-package", &format!("{}\0{}", repo.id, name.full));
    Ok(cx
        .arca
        .storage
        .locks()
        .lock(&[key], Hold::Long)
        .await
        .map_err(StorageError::from)?)
}

/// Asks, beyond what core checked for the route, for `action` on the repository addressed and
/// on the one written (an update that removes versions needs `delete`).
fn require(cx: &RepoContext, written: &Repository, action: Action) -> Result<()> {
    authorize_on(cx, &cx.repo, action)?;
    if written.id != cx.repo.id {
        authorize_on(cx, written, action)?;
    }
    Ok(())
}

fn authorize_on(cx: &RepoContext, repo: &Repository, action: Action) -> Result<()> {
    cx.arca
        .security
        .authorize(
            &cx.subject,
            &Permission::RepoView {
                format: "npm",
                repo: repo.name.as_str(),
                action,
            },
        )
        .map_err(NpmError::Auth)
}

fn tags_of(a: &Asset) -> BTreeSet<String> {
    a.attrs
        .pointer("/npm/tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The tarball assets of a package, by version.
async fn tarballs(
    cx: &RepoContext,
    repo: &Repository,
    name: &PkgName,
) -> Result<BTreeMap<String, Asset>> {
    let assets = cx
        .arca
        .db
        .list_assets(repo.id, &name.dir(), "", VERSIONS_MAX)
        .await?;
    Ok(assets
        .into_iter()
        .filter_map(|a| {
            let file = a.path.rsplit('/').next()?;
            let v = name.version_of(file)?.to_owned();
            a.attrs.pointer("/npm/manifest")?;
            Some((v, a))
        })
        .collect())
}

fn doc_of(assets: BTreeMap<String, Asset>, name: &PkgName) -> Option<Doc> {
    if assets.is_empty() {
        return None;
    }
    let mut d = Doc::default();
    let mut seed = String::new();
    let (mut created, mut modified) = (i64::MAX, 0);
    for (v, mut a) in assets {
        // What changes a version in place: its content (a new asset row or time), its tags
        // and its deprecation (the attribute writes this crate makes).
        seed.push_str(&format!(
            "{}:{}:{}:{}\n",
            a.id,
            a.last_modified_ms,
            a.attrs.pointer("/npm/tags").unwrap_or(&Value::Null),
            a.attrs
                .pointer("/npm/manifest/deprecated")
                .unwrap_or(&Value::Null)
        ));
        for t in tags_of(&a) {
            d.dist_tags.insert(t, v.clone());
        }
        let Some(mut m) = a.attrs.pointer_mut("/npm/manifest").map(Value::take) else {
            continue;
        };
        if let Some(dist) = m.get_mut("dist").and_then(Value::as_object_mut) {
            dist.insert("tarball".into(), json!(name.tarball_file(&v)));
        }
        d.time.insert(v.clone(), iso8601(a.created_ms));
        d.versions.insert(v, m);
        created = created.min(a.created_ms);
        modified = modified.max(a.last_modified_ms);
    }
    d.time.insert("created".into(), iso8601(created));
    d.time.insert("modified".into(), iso8601(modified));
    d.rev = rev_of(&seed);
    d.settle_tags();
    Some(d)
}

/// What a hosted repository holds of a package.
pub async fn hosted_doc(
    cx: &RepoContext,
    repo: &Repository,
    name: &PkgName,
) -> Result<Option<Doc>> {
    Ok(doc_of(tarballs(cx, repo, name).await?, name))
}

/// Sets an asset's tags, keeping its other attributes.
async fn set_tags(cx: &RepoContext, a: &Asset, tags: &BTreeSet<String>) -> Result<()> {
    let mut attrs = a.attrs.clone();
    attrs["npm"]["tags"] = json!(tags);
    cx.arca.db.set_asset_attrs(a.id, &attrs).await?;
    Ok(())
}

/// Points `tag` at `version` (moving it off any other version) or, with `None`, removes it.
async fn move_tag(
    cx: &RepoContext,
    assets: &BTreeMap<String, Asset>,
    tag: &str,
    version: Option<&str>,
) -> Result<()> {
    for (v, a) in assets {
        let mut tags = tags_of(a);
        let changed = if Some(v.as_str()) == version {
            tags.insert(tag.to_owned())
        } else {
            tags.remove(tag)
        };
        if changed {
            set_tags(cx, a, &tags).await?;
        }
    }
    Ok(())
}

/// `PUT /{name}`: a publish (a packument with one version and its tarball attached) or an
/// update of the existing packument (deprecations, versions removed, dist-tags).
pub async fn put_package(
    cx: &RepoContext,
    req: &HttpRequest,
    name: &PkgName,
    mut body: web::Payload,
) -> Result<HttpResponse> {
    let repo = target(cx, Action::Add).await?;
    // Refused before a byte of the body is read.
    if repo.write_policy == Some(WritePolicy::Deny) {
        return Err(StorageError::WriteDenied(repo.name.to_string()).into());
    }
    let limit = cx.arca.settings.max_upload_bytes;
    let mut splitter = Splitter::new(limit.unwrap_or(DOC_LIMIT).min(DOC_LIMIT) as usize);
    let mut staging: Option<Staging> = None;
    let mut head: Vec<u8> = Vec::with_capacity(2);
    let mut total = 0u64;
    let fed: Result<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| bad(format!("reading the request body: {e}")))?;
            total += chunk.len() as u64;
            if let Some(l) = limit
                && total > l
            {
                return Err(NpmError::TooLarge(l));
            }
            let mut out = Vec::new();
            splitter.feed(&chunk, &mut out)?;
            if out.is_empty() {
                continue;
            }
            if head.len() < 2 {
                head.extend(out.iter().take(2 - head.len()));
            }
            let s = staging.get_or_insert_with(|| Staging::start(cx, &repo, limit));
            if s.tx.send(Ok(out.into())).await.is_err() {
                // The store stopped reading: its error is the answer.
                break;
            }
        }
        Ok(())
    }
    .await;
    let staged = match staging {
        Some(s) => Some(s.finish(fed.as_ref().err()).await),
        None => None,
    };
    fed?;
    let blob = staged.transpose()?;
    let attached = splitter.attachments > 0;
    let doc = match splitter.finish() {
        Ok(d) => d,
        Err(e) => {
            if let Some(b) = &blob {
                cx.arca.storage.discard(&repo.blob_store, b).await;
            }
            return Err(e);
        }
    };
    match blob {
        Some(b) => {
            let r = publish(cx, req, &repo, name, &doc, &b, &head).await;
            if r.is_err() {
                cx.arca.storage.discard(&repo.blob_store, &b).await;
            }
            r
        }
        // An empty attachment decodes to nothing: still a publish, of nothing.
        None if attached => Err(bad("the attachment is empty")),
        None => update(cx, &repo, name, &doc).await,
    }
}

/// A tarball being streamed into the blob store while the body is still read.
struct Staging {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    task: actix_web::rt::task::JoinHandle<std::result::Result<BlobRef, StorageError>>,
}

impl Staging {
    fn start(cx: &RepoContext, repo: &Repository, limit: Option<u64>) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed();
        let arca = cx.arca.clone();
        let repo = repo.clone();
        let opts = PutOptions {
            max_size: limit,
            all_checksums: true,
            ..Default::default()
        };
        // On the runtime, not the worker's local set: a task holding database connections must
        // be dropped where sqlx can give them back, should the server stop mid-publish.
        let task = tokio::spawn(async move { arca.storage.stage(&repo, stream, opts).await });
        Self { tx, task }
    }

    /// Ends the tarball's stream (with an error when the body failed, so nothing is kept).
    async fn finish(self, failed: Option<&NpmError>) -> Result<BlobRef> {
        if let Some(e) = failed {
            let _ = self
                .tx
                .send(Err(std::io::Error::other(e.to_string())))
                .await;
        }
        drop(self.tx);
        match self.task.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(NpmError::Upstream(format!(
                "storing the tarball failed: {e}"
            ))),
        }
    }
}

fn hex_to_b64(h: &str) -> Option<String> {
    hex::decode(h)
        .ok()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
}

/// Checks `dist.shasum` and `dist.integrity` against the stored tarball's digests.
pub fn check_dist(dist: &Value, sha1: &str, sha512: &str) -> Result<()> {
    if let Some(s) = dist.get("shasum").and_then(Value::as_str)
        && !s.eq_ignore_ascii_case(sha1)
    {
        return Err(bad(format!(
            "shasum mismatch: dist.shasum is {s}, the tarball's sha1 is {sha1}"
        )));
    }
    if let Some(i) = dist.get("integrity").and_then(Value::as_str) {
        let want512 = hex_to_b64(sha512).unwrap_or_default();
        let want1 = hex_to_b64(sha1).unwrap_or_default();
        for part in i.split_whitespace() {
            let part = part.split('?').next().unwrap_or(part);
            let ok = match part.split_once('-') {
                Some(("sha512", h)) => h == want512,
                Some(("sha1", h)) => h == want1,
                _ => true,
            };
            if !ok {
                return Err(bad(format!(
                    "integrity mismatch: dist.integrity is {part}, the tarball's is sha512-{want512}"
                )));
            }
        }
    }
    Ok(())
}

async fn publish(
    cx: &RepoContext,
    req: &HttpRequest,
    repo: &Repository,
    name: &PkgName,
    doc: &Value,
    blob: &BlobRef,
    head: &[u8],
) -> Result<HttpResponse> {
    if let Some(n) = doc.get("name").and_then(Value::as_str)
        && n != name.full
    {
        return Err(bad(format!(
            "the packument names {n}, the URL {}",
            name.full
        )));
    }
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the packument has no versions"))?;
    let [(version, manifest)] = versions.iter().collect::<Vec<_>>()[..] else {
        return Err(bad("a publish carries exactly one version"));
    };
    if !version_ok(version) {
        return Err(bad(format!("invalid version {version:?}")));
    }
    if manifest.get("version").and_then(Value::as_str) != Some(version.as_str())
        || manifest.get("name").and_then(Value::as_str) != Some(name.full.as_str())
    {
        return Err(bad(format!(
            "versions.{version} must name {} version {version}",
            name.full
        )));
    }
    if let Some(len) = doc
        .get("_attachments")
        .and_then(Value::as_object)
        .and_then(|a| a.values().next())
        .and_then(|a| a.get("length"))
        .and_then(Value::as_u64)
        && len != blob.size
    {
        return Err(bad(format!(
            "the attachment is {} bytes, its length says {len}",
            blob.size
        )));
    }
    if head != [0x1f, 0x8b] {
        return Err(bad("the attachment is not a gzip tarball"));
    }
    // The tarball must be the package it is published as (its own package.json says).
    let pj = crate::upload::stored_package_json(cx, repo, &blob.digest).await?;
    let (pj_name, pj_version) = (
        pj.get("name").and_then(Value::as_str).unwrap_or_default(),
        pj.get("version")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    if pj_name != name.full || pj_version != version.as_str() {
        return Err(bad(format!(
            "the tarball's package.json is {pj_name}@{pj_version}, not {}@{version}",
            name.full
        )));
    }
    let mut manifest = manifest.clone();
    let dist = manifest
        .as_object_mut()
        .ok_or_else(|| bad(format!("versions.{version} is not an object")))?
        .entry("dist")
        .or_insert_with(|| json!({}));
    check_dist(dist, &blob.checksums.sha1, &blob.checksums.sha512)?;
    let Some(dist) = dist.as_object_mut() else {
        return Err(bad("dist is not an object"));
    };
    dist.insert("shasum".into(), json!(blob.checksums.sha1));
    if !dist.contains_key("integrity") {
        dist.insert(
            "integrity".into(),
            json!(format!(
                "sha512-{}",
                hex_to_b64(&blob.checksums.sha512).unwrap_or_default()
            )),
        );
    }
    dist.insert("tarball".into(), json!(name.tarball_file(version)));
    if let Some(u) = cx.uploader() {
        manifest["_npmUser"] = json!({ "name": u });
    }
    // npm sends the readme at the top; it belongs to the version that carried it.
    if manifest.get("readme").is_none()
        && let Some(r) = doc.get("readme")
    {
        manifest["readme"] = r.clone();
    }
    let mut tags: BTreeSet<String> = doc
        .get("dist-tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.iter()
                .filter(|(k, v)| v.as_str() == Some(version.as_str()) && tag_ok(k))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if tags.is_empty() {
        tags.insert("latest".into());
    }
    let path = AssetPath::parse(&name.tarball_path(version)).map_err(|e| bad(e.to_string()))?;

    let _lock = lock_package(cx, repo, name).await?;
    let existing = tarballs(cx, repo, name).await?;
    if existing.contains_key(version.as_str())
        && repo.write_policy.unwrap_or(WritePolicy::AllowOnce) != WritePolicy::Allow
    {
        return Err(NpmError::Forbidden(format!(
            "You cannot publish over the previously published versions: {version}."
        )));
    }
    cx.arca.storage.check_write_policy(repo, &path).await?;
    let meta = AssetMeta {
        content_type: "application/octet-stream".into(),
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: json!({ "npm": { "manifest": manifest, "tags": tags } }),
        component: Some(component(name, version)),
    };
    cx.arca
        .storage
        .record_all(repo, vec![(path.clone(), blob.clone(), meta)])
        .await?;
    for t in &tags {
        let others: BTreeMap<String, Asset> = existing
            .iter()
            .filter(|(v, _)| *v != version)
            .map(|(v, a)| (v.clone(), a.clone()))
            .collect();
        move_tag(cx, &others, t, None).await?;
    }
    tracing::info!(repo = %repo.name, package = %name.full, %version, "published");
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "id": name.full, "success": true })))
}

pub fn component(name: &PkgName, version: &str) -> NewComponent {
    NewComponent {
        namespace: name.scope.clone().unwrap_or_default(),
        name: name.bare.clone(),
        version: version.to_owned(),
        attrs: json!({}),
    }
}

/// A packument sent back without attachments: `npm deprecate` (`deprecated` on versions) and
/// `npm unpublish name@version` (the version left out, dist-tags adjusted).
async fn update(
    cx: &RepoContext,
    repo: &Repository,
    name: &PkgName,
    doc: &Value,
) -> Result<HttpResponse> {
    require(cx, repo, Action::Edit)?;
    let _lock = lock_package(cx, repo, name).await?;
    let mut assets = tarballs(cx, repo, name).await?;
    if assets.is_empty() {
        return Err(NpmError::NotFound(name.full.clone()));
    }
    if let Some(versions) = doc.get("versions").and_then(Value::as_object) {
        let gone: Vec<String> = assets
            .keys()
            .filter(|v| !versions.contains_key(*v))
            .cloned()
            .collect();
        if !gone.is_empty() {
            require(cx, repo, Action::Delete)?;
            if gone.len() == assets.len() {
                return Err(bad(
                    "an update cannot remove every version: unpublish the package",
                ));
            }
            // Versions missing from a packument read before they were published are not
            // being unpublished: the update must come from the current revision.
            let current = doc_of(assets.clone(), name).map(|d| d.rev);
            let sent = doc.get("_rev").and_then(Value::as_str);
            if sent.is_none() || sent != current.as_deref() {
                return Err(NpmError::Conflict(format!(
                    "{} changed since it was read (revision {}); read it again and retry",
                    name.full,
                    current.unwrap_or_default()
                )));
            }
        }
        for v in &gone {
            if let Some(a) = assets.remove(v) {
                cx.arca.storage.delete_asset(repo, &a.path).await?;
            }
        }
        for (v, a) in &assets {
            let want = versions
                .get(v)
                .and_then(|m| m.get("deprecated"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let has = a
                .attrs
                .pointer("/npm/manifest/deprecated")
                .and_then(Value::as_str);
            if want == has {
                continue;
            }
            let mut attrs = a.attrs.clone();
            if let Some(m) = attrs
                .pointer_mut("/npm/manifest")
                .and_then(Value::as_object_mut)
            {
                match want {
                    Some(msg) => m.insert("deprecated".into(), json!(msg)),
                    None => m.remove("deprecated"),
                };
            }
            cx.arca.db.set_asset_attrs(a.id, &attrs).await?;
        }
    }
    if let Some(tags) = doc.get("dist-tags").and_then(Value::as_object) {
        let assets = tarballs(cx, repo, name).await?;
        let mut current: BTreeMap<String, String> = BTreeMap::new();
        for (v, a) in &assets {
            for t in tags_of(a) {
                current.insert(t, v.clone());
            }
        }
        for (t, v) in tags {
            let Some(v) = v.as_str().filter(|v| assets.contains_key(*v)) else {
                continue;
            };
            if tag_ok(t) && current.get(t).map(String::as_str) != Some(v) {
                move_tag(cx, &assets, t, Some(v)).await?;
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "id": name.full })))
}

/// `DELETE /{name}/-rev/{rev}`: the whole package.
pub async fn unpublish(cx: &RepoContext, name: &PkgName) -> Result<HttpResponse> {
    let repo = target(cx, Action::Delete).await?;
    let _lock = lock_package(cx, &repo, name).await?;
    let assets = cx
        .arca
        .db
        .list_assets(repo.id, &name.dir(), "", VERSIONS_MAX)
        .await?;
    if assets.is_empty() {
        return Err(NpmError::NotFound(name.full.clone()));
    }
    for a in &assets {
        cx.arca.storage.delete_asset(&repo, &a.path).await?;
    }
    tracing::info!(repo = %repo.name, package = %name.full, "unpublished");
    Ok(HttpResponse::Ok().json(json!({ "ok": true })))
}

/// `DELETE /{name}/-/{file}/-rev/{rev}`: one tarball (npm's last step of unpublishing a
/// version, usually gone already).
pub async fn delete_tarball(cx: &RepoContext, name: &PkgName, file: &str) -> Result<HttpResponse> {
    let repo = target(cx, Action::Delete).await?;
    let path = format!("{}{file}", name.dir());
    let _lock = lock_package(cx, &repo, name).await?;
    match cx.arca.db.find_asset(repo.id, &path).await? {
        Some(_) => {
            cx.arca.storage.delete_asset(&repo, &path).await?;
            Ok(HttpResponse::Ok().json(json!({ "ok": true })))
        }
        None => Err(NpmError::NotFound(path)),
    }
}

/// `GET /-/package/{name}/dist-tags`
pub fn dist_tags(doc: Option<&Doc>, name: &PkgName) -> Result<HttpResponse> {
    let d = doc.ok_or_else(|| NpmError::NotFound(name.full.clone()))?;
    Ok(HttpResponse::Ok().json(&d.dist_tags))
}

/// `PUT /-/package/{name}/dist-tags/{tag}` (body: the version as a JSON string) and `DELETE`.
pub async fn set_dist_tag(
    cx: &RepoContext,
    name: &PkgName,
    tag: &str,
    version: Option<String>,
) -> Result<HttpResponse> {
    if !tag_ok(tag) {
        return Err(bad(format!("invalid dist-tag {tag:?}")));
    }
    if version.is_none() && tag == "latest" {
        return Err(bad("the latest tag cannot be removed"));
    }
    let repo = target(cx, Action::Edit).await?;
    let _lock = lock_package(cx, &repo, name).await?;
    let assets = tarballs(cx, &repo, name).await?;
    if assets.is_empty() {
        return Err(NpmError::NotFound(name.full.clone()));
    }
    if let Some(v) = &version
        && !assets.contains_key(v)
    {
        return Err(NpmError::NotFound(format!("{}@{v}", name.full)));
    }
    if version.is_none() && !assets.values().any(|a| tags_of(a).contains(tag)) {
        return Err(NpmError::NotFound(format!("dist-tag {tag}")));
    }
    move_tag(cx, &assets, tag, version.as_deref()).await?;
    let d = doc_of(tarballs(cx, &repo, name).await?, name).unwrap_or_default();
    Ok(HttpResponse::Created().json(d.dist_tags))
}
