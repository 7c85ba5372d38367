//! npm hosted repositories: every tarball the source lists, streamed into the target's component
//! upload (`npm.asset`), which reads name and version from the tarball's `package.json` as for
//! any upload; then, per package, what a tarball does not hold: dist-tags and deprecation
//! messages. Packuments are not copied: the target derives them from its tarballs.
//!
//! What a run copied (the import progress kept on the target) holds tarball paths → checksum
//! key, as for other formats, and the dist-tags set (`dist-tag:<name>:<tag>` → version, which no
//! path can be: a package name has no `:`), so a tag removed at the source is reported and, with
//! `--prune`, removed from the target while it still names the version imported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::{Body, Method};
use serde_json::Value;

use crate::content::{Expect, relock, verified};
use crate::http::{encode, encode_path};
use crate::settings::{Ctx, Repo};
use crate::{ImportError, Result};

/// The progress key of a dist-tag.
const TAG_KEY: &str = "dist-tag:";

/// What an asset path of an npm hosted repository is.
#[derive(Debug, PartialEq, Eq)]
enum NpmPath {
    /// `name/-/name-1.0.0.tgz`, `@scope/name/-/name-1.0.0.tgz`.
    Tarball { package: String, version: String },
    /// `name`, `@scope/name`: the packument, which the target derives from its tarballs.
    Packument(String),
    /// Anything else (a tarball under a file name the target would not store it as).
    Other,
}

fn classify(path: &str) -> NpmPath {
    let segs: Vec<&str> = path.split('/').collect();
    let n = if path.starts_with('@') { 2 } else { 1 };
    if segs.len() < n {
        return NpmPath::Other;
    }
    let name = &segs[..n];
    let bad_part = |s: &&str| s.is_empty() || matches!(*s, "@" | "-" | "." | "..");
    if name.iter().any(bad_part) || (n == 2 && name[1].starts_with('@')) {
        return NpmPath::Other;
    }
    let package = name.join("/");
    let bare = name[n - 1];
    match &segs[n..] {
        [] => NpmPath::Packument(package),
        ["-", file] => {
            // The target files a tarball under `<bare>-<version>.tgz` whatever it was called.
            let version = file
                .strip_prefix(bare)
                .and_then(|f| f.strip_prefix('-'))
                .and_then(|f| f.strip_suffix(".tgz"))
                .filter(|v| !v.is_empty() && !v.contains('/'));
            match version {
                Some(v) => NpmPath::Tarball {
                    package,
                    version: v.to_owned(),
                },
                None => NpmPath::Other,
            }
        }
        _ => NpmPath::Other,
    }
}

/// A package name as one URL path segment, as npm sends it (`@scope%2fname`).
fn escaped(package: &str) -> String {
    match package.strip_prefix('@').and_then(|p| p.split_once('/')) {
        Some((scope, bare)) => format!("@{}%2f{}", encode(scope), encode(bare)),
        None => encode(package),
    }
}

fn packument_path(repo: &str, package: &str) -> String {
    format!("/repository/{}/{}", encode(repo), escaped(package))
}

fn dist_tag_path(repo: &str, package: &str, tag: &str) -> String {
    format!(
        "/repository/{}/-/package/{}/dist-tags/{}",
        encode(repo),
        escaped(package),
        encode(tag)
    )
}

fn tag_key(package: &str, tag: &str) -> String {
    format!("{TAG_KEY}{package}:{tag}")
}

/// `(package, tag)` of a state key made by [`tag_key`].
fn parse_tag_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(TAG_KEY)?.split_once(':')
}

/// A packument's dist-tags (tag → version).
fn tags_of(doc: &Value) -> BTreeMap<String, String> {
    doc.get("dist-tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn versions_of(doc: &Value) -> BTreeSet<String> {
    doc.get("versions")
        .and_then(Value::as_object)
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default()
}

/// The source's tags the target must have set (it differs and holds the version), and those
/// naming a version the target does not hold.
type TagPlan = (Vec<(String, String)>, Vec<(String, String)>);

fn tag_plan(
    src: &BTreeMap<String, String>,
    dst: &BTreeMap<String, String>,
    dst_versions: &BTreeSet<String>,
) -> TagPlan {
    let (mut set, mut missing) = (Vec::new(), Vec::new());
    for (t, v) in src {
        if dst.get(t) == Some(v) {
            continue;
        }
        if dst_versions.contains(v) {
            set.push((t.clone(), v.clone()));
        } else {
            missing.push((t.clone(), v.clone()));
        }
    }
    (set, missing)
}

fn deprecated(manifest: &Value) -> Option<&str> {
    manifest
        .get("deprecated")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Makes the deprecation message of every version both packuments hold in `dst` the source's
/// (set, changed or removed); answers how many versions changed. Versions only the target holds
/// keep theirs.
fn carry_deprecations(src: &Value, dst: &mut Value) -> usize {
    let Some(sv) = src.get("versions").and_then(Value::as_object) else {
        return 0;
    };
    let Some(dv) = dst.get_mut("versions").and_then(Value::as_object_mut) else {
        return 0;
    };
    let mut changed = 0;
    for (v, m) in dv.iter_mut() {
        let Some(s) = sv.get(v) else { continue };
        let want = deprecated(s).map(str::to_owned);
        if deprecated(m).map(str::to_owned) == want {
            continue;
        }
        let Some(o) = m.as_object_mut() else { continue };
        match want {
            Some(w) => o.insert("deprecated".into(), Value::String(w)),
            None => o.remove("deprecated"),
        };
        changed += 1;
    }
    changed
}

struct Tarball {
    path: String,
    package: String,
    version: String,
    expect: Expect,
    size: Option<u64>,
}

/// What one package's metadata pass did.
#[derive(Default)]
struct PkgMeta {
    /// The source's tags the target now has (or, dry-running, would have): for the state.
    tags: Vec<(String, String)>,
    set: u64,
    deprecations: u64,
    skipped: Vec<String>,
    /// The target's tags before this run set any.
    target_tags: BTreeMap<String, String>,
    /// The tags the source has (a tag it moved to a version the target lacks is not gone).
    source_tags: BTreeSet<String>,
}

#[tracing::instrument(skip_all, fields(repo = %r.name))]
pub async fn import_repo(
    cx: &Ctx<'_>,
    r: &Repo,
    prev: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let on_target = crate::content::target_checksums(cx.target, &r.name).await?;
    let now: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let listed: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let packages: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut uploaded: HashSet<String> = HashSet::new();
    let mut would_copy = 0usize;
    let list = format!("/service/rest/v1/assets?repository={}", encode(&r.name));
    let list = list.as_str();
    let pages = cx.source.pages(list);
    let mut triage = |page: Vec<Value>| -> Vec<(String, Tarball)> {
        let mut todo = Vec::new();
        for a in &page {
            let Some(path) = a.get("path").and_then(|p| p.as_str()) else {
                continue;
            };
            let path = path.trim_start_matches('/').to_owned();
            relock(&listed).insert(path.clone());
            let (package, version) = match classify(&path) {
                NpmPath::Packument(p) => {
                    relock(&packages).insert(p);
                    cx.report.repo(&r.name, "npm", |c| c.derived += 1);
                    continue;
                }
                NpmPath::Other => {
                    cx.report.repo(&r.name, "npm", |c| {
                        c.skipped.push(format!(
                            "{path}: not a package tarball at <name>/-/<name>-<version>.tgz, \
                             the only files an npm repository holds"
                        ))
                    });
                    continue;
                }
                NpmPath::Tarball { package, version } => (package, version),
            };
            relock(&packages).insert(package.clone());
            let expect = Expect::from_asset(a);
            let Some(key) = expect.key() else {
                cx.report.repo(&r.name, "npm", |c| {
                    c.failed
                        .push(format!("{path}: the source lists no sha1 or sha256"))
                });
                continue;
            };
            if let Some(t) = on_target.get(&path) {
                let same = (t.sha256.is_some() && t.sha256 == expect.sha256)
                    || (t.sha256.is_none() && t.sha1.is_some() && t.sha1 == expect.sha1);
                if same {
                    // The import's only if an earlier run recorded it: the same tarball
                    // published there by someone else stays theirs (never pruned).
                    if prev.contains_key(&path) {
                        relock(&now).insert(path, key);
                    }
                    cx.report.repo(&r.name, "npm", |c| c.unchanged += 1);
                } else {
                    if let Some(k) = prev.get(&path).filter(|k| t.holds(k)) {
                        // What an earlier run copied is still there: still ours to prune.
                        relock(&now).insert(path.clone(), k.clone());
                    }
                    // An npm version is never published over: the target refuses the upload.
                    cx.report.repo(&r.name, "npm", |c| {
                        c.failed.push(format!(
                            "{path}: the target holds another tarball for {package}@{version} \
                             (npm versions are immutable): delete it there to take the source's"
                        ))
                    });
                }
                continue;
            }
            if cx.args.dry_run {
                tracing::info!(%path, "would copy");
                would_copy += 1;
                continue;
            }
            let size = a.get("fileSize").and_then(|s| s.as_u64());
            todo.push((
                key,
                Tarball {
                    path,
                    package,
                    version,
                    expect,
                    size,
                },
            ));
        }
        todo
    };
    let mut list_error: Option<ImportError> = None;
    {
        let work = pages
            .map_ok(|page| stream::iter(triage(page).into_iter().map(Ok)))
            .try_flatten()
            .map(|item: Result<(String, Tarball)>| async move {
                let (key, t) = item?;
                let res = copy_tarball(cx, r, &t).await;
                Ok((t, key, res))
            })
            .buffer_unordered(cx.args.jobs.max(1));
        futures_util::pin_mut!(work);
        while let Some(done) = work.next().await {
            match done {
                Ok((t, key, Ok(bytes))) => {
                    cx.report.repo(&r.name, "npm", |c| {
                        c.copied += 1;
                        c.bytes += bytes;
                    });
                    relock(&now).insert(t.path, key);
                    uploaded.insert(t.package);
                }
                // The version fails; its package's other versions and metadata go on.
                Ok((t, _, Err(e))) => cx.report.repo(&r.name, "npm", |c| {
                    c.failed
                        .push(format!("{} ({}@{}): {e}", t.path, t.package, t.version))
                }),
                Err(e) => list_error = Some(e),
            }
        }
    }
    if let Some(e) = list_error {
        // An incomplete listing says nothing about deletions: no pruning on it.
        return Err(e);
    }
    let mut now = now.into_inner().unwrap_or_else(|p| p.into_inner());
    let listed = listed.into_inner().unwrap_or_else(|p| p.into_inner());
    let packages = packages.into_inner().unwrap_or_else(|p| p.into_inner());

    // Tarballs an earlier run copied that the source no longer lists; before the tags, so that
    // the tags are set on what remains.
    let gone: Vec<String> = prev
        .keys()
        .filter(|p| parse_tag_key(p).is_none() && !listed.contains(*p))
        .cloned()
        .collect();
    for p in gone {
        let key = prev.get(&p).cloned().unwrap_or_default();
        let here = on_target.get(&p).map(|t| t.holds(&key));
        let url = format!("/repository/{}/{}", encode_path(&r.name), encode_path(&p));
        if deleted_at_source(cx, r, &p, &url, here).await {
            now.insert(p, key);
        }
    }

    let uploaded = &uploaded;
    let metas: Vec<(String, Result<PkgMeta>)> = stream::iter(packages)
        .map(|p| async move {
            let res = carry_metadata(cx, r, &p, uploaded.contains(&p)).await;
            (p, res)
        })
        .buffer_unordered(cx.args.jobs.max(1))
        .collect()
        .await;
    let mut unread: HashSet<String> = HashSet::new();
    let mut target_tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut source_tags: HashMap<String, BTreeSet<String>> = HashMap::new();
    let (mut set, mut deprecations) = (0u64, 0u64);
    for (p, res) in metas {
        match res {
            Ok(m) => {
                set += m.set;
                deprecations += m.deprecations;
                for (t, v) in m.tags {
                    now.insert(tag_key(&p, &t), v);
                }
                cx.report.repo(&r.name, "npm", |c| {
                    c.tags += m.set;
                    c.skipped.extend(m.skipped.iter().cloned());
                });
                source_tags.insert(p.clone(), m.source_tags);
                target_tags.insert(p, m.target_tags);
            }
            Err(e) => {
                cx.report.repo(&r.name, "npm", |c| {
                    c.failed
                        .push(format!("{p}: dist-tags and deprecations: {e}"))
                });
                unread.insert(p);
            }
        }
    }
    let verb = if cx.args.dry_run { "would be" } else { "were" };
    if set > 0 || deprecations > 0 {
        cx.report.note(format!(
            "{}: {set} npm dist-tags and {deprecations} deprecation messages {verb} set",
            r.name
        ));
    }
    if cx.args.dry_run {
        cx.report.note(format!(
            "{}: {would_copy} npm tarballs would be copied",
            r.name
        ));
        return Ok(prev.clone());
    }

    // Tags an earlier run set that the source no longer has.
    for (key, version) in prev {
        let Some((package, tag)) = parse_tag_key(key) else {
            continue;
        };
        if now.contains_key(key) {
            continue;
        }
        if unread.contains(package) || source_tags.get(package).is_some_and(|t| t.contains(tag)) {
            // Not seen because the packument could not be read, or the source still has the
            // tag (moved to a version not copied): not gone.
            now.insert(key.clone(), version.clone());
            continue;
        }
        if tag == "latest" {
            // Every package has one: the target settles it on its highest version.
            continue;
        }
        if !target_tags.contains_key(package) {
            // A package the source no longer lists at all.
            let url = format!(
                "/repository/{}/-/package/{}/dist-tags",
                encode(&r.name),
                escaped(package)
            );
            match cx.target.get_json_opt(&url).await {
                Ok(t) => {
                    target_tags.insert(package.to_owned(), t.unwrap_or_default());
                }
                Err(e) => {
                    cx.report.repo(&r.name, "npm", |c| {
                        c.failed
                            .push(format!("{package}: reading its dist-tags: {e}"))
                    });
                    now.insert(key.clone(), version.clone());
                    continue;
                }
            }
        }
        let here = target_tags
            .get(package)
            .and_then(|t| t.get(tag))
            .map(|v| v == version);
        let what = format!("{package} dist-tag {tag}");
        let url = dist_tag_path(&r.name, package, tag);
        if deleted_at_source(cx, r, &what, &url, here).await {
            now.insert(key.clone(), version.clone());
        }
    }
    if !uploaded.is_empty() {
        cx.report.note(format!(
            "{}: npm publish times, publishers and readmes are not copied; the target's \
             packuments are made from the uploaded tarballs",
            r.name
        ));
    }
    Ok(now)
}

/// Something an earlier run copied that the source no longer has, at `url` on the target:
/// reported, and with `--prune` deleted, but only while the target holds what was copied
/// (`here`: whether it does, `None` when it is gone already); what a target user changed since
/// is theirs. Answers whether to remember it, so the next run reports it again.
async fn deleted_at_source(
    cx: &Ctx<'_>,
    r: &Repo,
    what: &str,
    url: &str,
    here: Option<bool>,
) -> bool {
    let mut keep = here.is_some();
    if cx.args.prune && !cx.args.dry_run {
        match here {
            Some(false) => {
                cx.report.repo(&r.name, "npm", |c| {
                    c.skipped.push(format!(
                        "{what}: deleted at the source, but changed on the target since it was \
                         imported: kept"
                    ))
                });
                keep = false;
            }
            Some(true) => match cx
                .target
                .send(
                    cx.target.request(Method::DELETE, url),
                    &format!("DELETE {url}"),
                )
                .await
            {
                Ok(_) => {
                    keep = false;
                    cx.report.repo(&r.name, "npm", |c| c.pruned += 1);
                }
                Err(e) if e.status() == Some(404) => keep = false,
                Err(e) => cx.report.repo(&r.name, "npm", |c| {
                    c.failed.push(format!("prune {what}: {e}"))
                }),
            },
            None => {}
        }
    }
    cx.report.repo(&r.name, "npm", |c| {
        c.deleted_at_source.push(what.to_owned())
    });
    keep
}

/// GET from the source, hashed on the way, into the target's component upload as `npm.asset`;
/// then checks the target filed it where the source has it (the tarball's `package.json` names
/// the package and version, not the path).
#[tracing::instrument(skip_all, fields(path = %t.path))]
async fn copy_tarball(cx: &Ctx<'_>, r: &Repo, t: &Tarball) -> Result<u64> {
    let src = format!(
        "/repository/{}/{}",
        encode_path(&r.name),
        encode_path(&t.path)
    );
    let resp = cx.source.get_content(&src).await?;
    let len = resp.content_length().or(t.size);
    let (body, verdict) = verified(resp, t.expect.clone(), len);
    let body = Body::wrap_stream(body);
    let file = t.path.rsplit('/').next().unwrap_or(&t.path).to_owned();
    let part = match len {
        Some(l) => reqwest::multipart::Part::stream_with_length(body, l),
        None => reqwest::multipart::Part::stream(body),
    }
    .file_name(file);
    let form = reqwest::multipart::Form::new().part("npm.asset", part);
    let url = format!("/service/rest/v1/components?repository={}", encode(&r.name));
    let res = cx
        .target
        .send(
            cx.target.request(Method::POST, &url).multipart(form),
            &format!("POST {url}"),
        )
        .await;
    if let Some(detail) = verdict.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(ImportError::Checksum {
            path: t.path.clone(),
            detail,
        });
    }
    res?;
    let dst = format!(
        "/repository/{}/{}",
        encode_path(&r.name),
        encode_path(&t.path)
    );
    match cx
        .target
        .send(
            cx.target.request(Method::HEAD, &dst),
            &format!("HEAD {dst}"),
        )
        .await
    {
        Ok(_) => Ok(len.unwrap_or(0)),
        Err(e) if e.status() == Some(404) => Err(ImportError::Invalid(format!(
            "uploaded, but the target did not file it as {}@{}: its package.json names another \
             package or version",
            t.package, t.version
        ))),
        Err(e) => Err(e),
    }
}

/// The source's dist-tags and deprecation messages of one package, onto the target's;
/// `uploaded`: this run uploaded some of its tarballs.
#[tracing::instrument(skip_all, fields(package = %package))]
async fn carry_metadata(cx: &Ctx<'_>, r: &Repo, package: &str, uploaded: bool) -> Result<PkgMeta> {
    let path = packument_path(&r.name, package);
    // Read whole, within the JSON bound: a packument is the package's metadata, not content.
    let src: Value = cx.source.get_json(&path).await?;
    let dst: Option<Value> = cx.target.get_json_opt(&path).await?;
    let mut m = PkgMeta {
        source_tags: tags_of(&src).into_keys().collect(),
        ..PkgMeta::default()
    };
    let Some(mut dst) = dst else {
        if cx.args.dry_run {
            // The target does not hold the package yet: all of it would be set.
            let tags = tags_of(&src);
            m.set = tags.len() as u64;
            m.deprecations = versions_of_deprecated(&src);
            m.tags = tags.into_iter().collect();
            return Ok(m);
        }
        // None of its tarballs reached the target (each is reported failed).
        return Ok(m);
    };
    let src_tags = tags_of(&src);
    let dst_tags = tags_of(&dst);
    m.target_tags = dst_tags.clone();
    let mut have = versions_of(&dst);
    if cx.args.dry_run {
        // The tarballs the run would copy.
        have.extend(versions_of(&src));
    }
    let n = carry_deprecations(&src, &mut dst);
    if n > 0 && !cx.args.dry_run {
        // As `npm deprecate` does: the target's packument sent back with the messages changed
        // and its `_rev`. Without its dist-tags: those are set one by one below.
        if let Some(o) = dst.as_object_mut() {
            o.remove("dist-tags");
        }
        cx.target
            .send_json(Method::PUT, &path, &dst)
            .await
            .map_err(|e| ImportError::Invalid(format!("deprecation messages: {e}")))?;
    }
    m.deprecations = n as u64;
    let (set, missing) = tag_plan(&src_tags, &dst_tags, &have);
    for (t, v) in &missing {
        m.skipped.push(format!(
            "{package}: dist-tag {t} names version {v}, which the target does not hold"
        ));
    }
    for (t, v) in src_tags {
        if dst_tags.get(&t) == Some(&v) {
            if t == "latest" && uploaded && !cx.args.dry_run {
                // Concurrent uploads of one package may each take `latest` as its first
                // version; the packument shows one, the others keep it. Set again, it is
                // moved off them, so it stays right when versions are deleted later.
                let url = dist_tag_path(&r.name, package, &t);
                cx.target
                    .send_json(Method::PUT, &url, &Value::String(v.clone()))
                    .await?;
            }
            m.tags.push((t, v));
        }
    }
    for (t, v) in set {
        if !cx.args.dry_run {
            let url = dist_tag_path(&r.name, package, &t);
            cx.target
                .send_json(Method::PUT, &url, &Value::String(v.clone()))
                .await?;
        }
        m.set += 1;
        m.tags.push((t, v));
    }
    Ok(m)
}

/// How many versions of a packument carry a deprecation message.
fn versions_of_deprecated(doc: &Value) -> u64 {
    doc.get("versions")
        .and_then(Value::as_object)
        .map(|v| v.values().filter(|m| deprecated(m).is_some()).count() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tarball(p: &str, v: &str) -> NpmPath {
        NpmPath::Tarball {
            package: p.into(),
            version: v.into(),
        }
    }

    #[test]
    fn paths_name_their_package() {
        assert_eq!(
            classify("lodash/-/lodash-4.17.21.tgz"),
            tarball("lodash", "4.17.21")
        );
        assert_eq!(
            classify("@acme/widget/-/widget-1.0.0-beta.1.tgz"),
            tarball("@acme/widget", "1.0.0-beta.1")
        );
        // A name that is a prefix of another's file name is not taken for it.
        assert_eq!(classify("a/-/ab-1.0.0.tgz"), NpmPath::Other);
        assert_eq!(classify("a-b/-/a-b-2.0.0.tgz"), tarball("a-b", "2.0.0"));
        // A scoped tarball is filed under the bare name, not the scope.
        assert_eq!(classify("@acme/widget/-/acme-1.0.0.tgz"), NpmPath::Other);
        assert_eq!(classify("x/-/x-.tgz"), NpmPath::Other);
        assert_eq!(classify("x/-/x-1.0.0.tar.gz"), NpmPath::Other);
        assert_eq!(classify("x/-/sub/x-1.0.0.tgz"), NpmPath::Other);
    }

    #[test]
    fn packuments_are_derived() {
        assert_eq!(classify("lodash"), NpmPath::Packument("lodash".into()));
        assert_eq!(
            classify("@acme/widget"),
            NpmPath::Packument("@acme/widget".into())
        );
        assert_eq!(classify("@acme"), NpmPath::Other);
        assert_eq!(classify("@/x"), NpmPath::Other);
        assert_eq!(classify(""), NpmPath::Other);
        assert_eq!(classify("../x"), NpmPath::Other);
        assert_eq!(classify("x/1.0.0"), NpmPath::Other);
    }

    #[test]
    fn scoped_names_are_one_segment_in_urls() {
        assert_eq!(escaped("@acme/widget"), "@acme%2fwidget");
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(packument_path("npm-h", "@a/b"), "/repository/npm-h/@a%2fb");
        assert_eq!(
            dist_tag_path("npm-h", "@a/b", "beta"),
            "/repository/npm-h/-/package/@a%2fb/dist-tags/beta"
        );
    }

    #[test]
    fn tag_state_keys_round_trip_and_are_no_path() {
        let k = tag_key("@a/b", "beta");
        assert_eq!(parse_tag_key(&k), Some(("@a/b", "beta")));
        assert_eq!(parse_tag_key("a/-/a-1.0.0.tgz"), None);
        assert_eq!(classify(&k), NpmPath::Other);
    }

    #[test]
    fn tags_set_where_they_differ() {
        let m = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let have: BTreeSet<String> = ["1.0.0", "1.1.0"].iter().map(|s| s.to_string()).collect();
        let (set, missing) = tag_plan(
            &m(&[("latest", "1.1.0"), ("beta", "1.0.0"), ("next", "2.0.0")]),
            &m(&[("latest", "1.1.0"), ("beta", "1.1.0")]),
            &have,
        );
        assert_eq!(set, [("beta".to_string(), "1.0.0".to_string())]);
        assert_eq!(missing, [("next".to_string(), "2.0.0".to_string())]);
        assert_eq!(
            tags_of(&json!({"dist-tags": {"latest": "1.0.0", "odd": 3}})),
            m(&[("latest", "1.0.0")])
        );
    }

    #[test]
    fn deprecations_follow_the_source() {
        let src = json!({"versions": {
            "1.0.0": {"deprecated": "use 1.1"},
            "1.1.0": {},
            "1.2.0": {"deprecated": ""},
            "3.0.0": {"deprecated": "not on the target"}}});
        let mut dst = json!({"_rev": "r", "versions": {
            "1.0.0": {"name": "x"},
            "1.1.0": {"deprecated": "stale"},
            "1.2.0": {},
            "2.0.0": {"deprecated": "target only"}}});
        assert_eq!(carry_deprecations(&src, &mut dst), 2);
        assert_eq!(dst["versions"]["1.0.0"]["deprecated"], "use 1.1");
        assert_eq!(dst["versions"]["1.0.0"]["name"], "x");
        assert!(dst["versions"]["1.1.0"].get("deprecated").is_none());
        assert_eq!(dst["versions"]["2.0.0"]["deprecated"], "target only");
        assert_eq!(dst["_rev"], "r");
        // Applied once, nothing is left to change.
        assert_eq!(carry_deprecations(&src, &mut dst), 0);
        assert_eq!(versions_of_deprecated(&src), 2);
    }
}
