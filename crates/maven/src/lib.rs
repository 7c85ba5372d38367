//! Maven 2 repositories (Nexus format `maven2`): hosted (deploy with version, layout and write
//! policies; server-generated `maven-metadata.xml` and checksums), proxy (through core's proxy
//! engine, with upstream checksum verification) and group (first member wins; artifact-level
//! metadata merged).

#[cfg(test)]
mod fuzz;
mod metadata;
mod path;
mod upload;
mod usage;
mod version;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpRequest, HttpResponse, http::Method, http::StatusCode, web};
use arca_core::{
    Format, RepoContext,
    blob::{MultiHasher, PutOptions},
    format::RebuildError,
    http::{
        blob_response, error_text as fail, not_modified, payload_stream, remote_ip,
        remote_response, requested_range, storage_error as storage_fail, text,
    },
    meta::NewComponent,
    model::{
        Asset, AssetPath, Checksums, RepoKind, Repository, RepositorySpec, WritePolicy, now_ms,
    },
    proxy::{
        ContentCheck, FetchSpec, Fetched, Freshness, Proxy, ProxyError, ProxySettings, RemoteBody,
    },
    storage::{AssetMeta, StorageError},
};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::json;

pub use metadata::Metadata;
use path::{Algo, Coords, METADATA, MavenPath};

pub struct MavenFormat;

/// Metadata files are read whole; anything bigger is not metadata.
const METADATA_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum VersionPolicy {
    Release,
    Snapshot,
    Mixed,
}

struct Policy {
    version: VersionPolicy,
    strict: bool,
}

fn policy(repo: &Repository) -> Policy {
    let m = |f: &str| {
        repo.attrs
            .pointer(&format!("/maven/{f}"))
            .and_then(|v| v.as_str())
            .map(str::to_ascii_uppercase)
    };
    Policy {
        version: match m("versionPolicy").as_deref() {
            Some("RELEASE") => VersionPolicy::Release,
            Some("SNAPSHOT") => VersionPolicy::Snapshot,
            _ => VersionPolicy::Mixed,
        },
        strict: m("layoutPolicy").as_deref() != Some("PERMISSIVE"),
    }
}

fn checksum_of(c: &Checksums, algo: Algo) -> &str {
    match algo {
        Algo::Md5 => &c.md5,
        Algo::Sha1 => &c.sha1,
        Algo::Sha256 => &c.sha256,
        Algo::Sha512 => &c.sha512,
    }
}

fn content_type(path: &str) -> String {
    if path.ends_with(".pom") || path.ends_with(".xml") {
        return "application/xml".into();
    }
    if path.ends_with(".jar") || path.ends_with(".war") || path.ends_with(".ear") {
        return "application/java-archive".into();
    }
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .into()
}

/// Serialises metadata rebuilds per (repository, group, artifact) across every node: each
/// rebuild reads the versions after the previous one wrote, so none is left out.
async fn lock_for(
    cx: &RepoContext,
    repo: &Repository,
    g: &str,
    a: &str,
) -> Result<arca_core::locks::Guard, StorageError> {
    let key = arca_core::locks::LockKey::new("maven-metadata", &format!("{}\0{g}\0{a}", repo.id));
    Ok(cx
        .arca
        .locks
        .lock(&[key], arca_core::locks::Hold::Long)
        .await?)
}

fn group_path(g: &str) -> String {
    g.replace('.', "/")
}

#[async_trait(?Send)]
impl Format for MavenFormat {
    fn search_aliases(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("maven.groupId", "group"),
            ("maven.artifactId", "name"),
            ("maven.baseVersion", "version"),
        ]
    }
    fn usage(
        &self,
        base_url: &str,
        repo: &arca_core::model::Repository,
        asset: &arca_core::model::Asset,
        component: Option<&arca_core::model::Component>,
    ) -> Vec<arca_core::format::Usage> {
        usage::usage(base_url, repo, asset, component)
    }
    fn is_prerelease(&self, version: &str) -> bool {
        usage::is_prerelease(version)
    }
    fn id(&self) -> &'static str {
        "maven2"
    }

    fn api_name(&self) -> &'static str {
        "maven"
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }
    fn settings_form(&self) -> Vec<arca_core::settings_form::FormBlock> {
        use arca_core::settings_form::{FormBlock, FormField};
        vec![FormBlock {
            legend: "Maven",
            kinds: &[RepoKind::Hosted, RepoKind::Proxy],
            fields: vec![
                FormField::choice(
                    "maven.versionPolicy",
                    "Version policy",
                    &[
                        ("RELEASE", "RELEASE"),
                        ("SNAPSHOT", "SNAPSHOT"),
                        ("MIXED", "MIXED"),
                    ],
                ),
                FormField::choice(
                    "maven.layoutPolicy",
                    "Layout policy",
                    &[("STRICT", "STRICT"), ("PERMISSIVE", "PERMISSIVE")],
                ),
            ],
        }]
    }

    fn validate(&self, spec: &RepositorySpec) -> Result<(), String> {
        let m = spec.attrs.get("maven");
        if m.is_none() && spec.kind != RepoKind::Group {
            return Err("maven.versionPolicy and maven.layoutPolicy are required".into());
        }
        let field = |f: &str| m.and_then(|m| m.get(f)).and_then(|v| v.as_str());
        let check = |f: &str, allowed: &[&str], required: bool| match field(f) {
            Some(v) if allowed.contains(&v.to_ascii_uppercase().as_str()) => Ok(()),
            None if !required => Ok(()),
            Some(v) => Err(format!(
                "maven.{f} must be one of {}, not {v:?}",
                allowed.join(", ")
            )),
            None => Err(format!("maven.{f} is required")),
        };
        let required = spec.kind != RepoKind::Group;
        check("versionPolicy", &["RELEASE", "SNAPSHOT", "MIXED"], required)?;
        check("layoutPolicy", &["STRICT", "PERMISSIVE"], required)?;
        check("contentDisposition", &["INLINE", "ATTACHMENT"], false)?;
        if spec.kind == RepoKind::Proxy {
            ProxySettings::from_attrs(&spec.attrs)?;
        }
        Ok(())
    }

    /// Assets deleted through the REST API: metadata is rebuilt once per artifact.
    async fn deleted(&self, cx: &RepoContext, paths: &[String]) {
        if cx.repo.kind != RepoKind::Hosted {
            return;
        }
        let mut done: Vec<(String, String, String)> = Vec::new();
        for p in paths {
            if let Some(MavenPath::Artifact(c)) = path::parse(p) {
                let key = (
                    c.group_id.clone(),
                    c.artifact_id.clone(),
                    c.base_version.clone(),
                );
                if done.contains(&key) {
                    continue;
                }
                done.push(key);
                if let Err(e) = rebuild_for(cx, &c).await {
                    tracing::warn!(repo = %cx.repo.name, path = %p, error = %e, "metadata rebuild after delete failed");
                }
            }
        }
    }

    fn upload_spec(&self) -> Option<serde_json::Value> {
        let f = |name: &str, optional: bool, group: &str| json!({ "name": name, "type": "STRING", "optional": optional, "group": group });
        Some(json!({
            "format": "maven2",
            "multipleUpload": true,
            "componentFields": [
                f("groupId", false, "Component coordinates"),
                f("artifactId", false, "Component coordinates"),
                f("version", false, "Component coordinates"),
                { "name": "generate-pom", "type": "BOOLEAN", "optional": true, "group": "Component coordinates" },
                f("packaging", true, "Component coordinates"),
            ],
            "assetFields": [f("classifier", true, "Component attributes"), f("extension", false, "Component attributes")],
        }))
    }

    /// Hosted: every artifact's `maven-metadata.xml`, and each SNAPSHOT version's, written anew
    /// from the components held. Proxy metadata comes from the remote: nothing to rebuild.
    async fn rebuild_index(&self, cx: &RepoContext) -> Result<String, RebuildError> {
        if cx.repo.kind != RepoKind::Hosted {
            return Ok("nothing to rebuild: metadata comes from the remote".into());
        }
        let (mut artifacts, mut snapshots) = (BTreeSet::new(), BTreeSet::new());
        let mut after = 0;
        loop {
            let page = cx
                .arca
                .db
                .list_components(cx.repo.id, after, 500)
                .await
                .map_err(StorageError::from)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for c in &page {
                artifacts.insert((c.namespace.clone(), c.name.clone()));
                if c.version.ends_with("-SNAPSHOT") {
                    snapshots.insert((c.namespace.clone(), c.name.clone(), c.version.clone()));
                }
            }
            if page.len() < 500 {
                break;
            }
        }
        for (g, a) in &artifacts {
            rebuild_artifact_metadata(cx, &cx.repo, g, a).await?;
        }
        for (g, a, v) in &snapshots {
            rebuild_version_metadata(cx, &cx.repo, g, a, v).await?;
        }
        Ok(format!(
            "metadata of {} artifacts and {} snapshot versions rebuilt",
            artifacts.len(),
            snapshots.len()
        ))
    }

    /// Nexus's form (`maven2.*`), with an optional generated pom.
    async fn upload_component(
        &self,
        cx: RepoContext,
        req: HttpRequest,
        body: web::Payload,
    ) -> HttpResponse {
        upload::component_upload(&cx, &req, body).await
    }

    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse {
        let method = req.method().clone();
        if cx.path.is_empty() || cx.path.ends_with('/') {
            if !matches!(method, Method::GET | Method::HEAD) {
                return text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed on a directory",
                );
            }
            return match cx.sources().await {
                Ok(repos) => arca_core::browse::listing(&cx, &repos).await,
                Err(e) => storage_fail(e),
            };
        }
        let p = match AssetPath::parse(&cx.path) {
            Ok(p) => p,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let mp = path::parse(p.as_str());
        match method {
            Method::GET | Method::HEAD => read(&cx, &req, &p, mp).await,
            Method::PUT if cx.repo.kind == RepoKind::Hosted => {
                deploy(&cx, &req, &p, mp, body).await
            }
            Method::DELETE if cx.repo.kind == RepoKind::Hosted => remove(&cx, &p, mp).await,
            Method::PUT | Method::DELETE => text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "repository {} is a {} repository: deploy to a hosted one",
                    cx.repo.name,
                    cx.repo.kind.as_str()
                ),
            ),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        }
    }
}

// ---------------------------------------------------------------- reading

/// Finds `path` in one leaf repository: stored for hosted, fetched through the proxy engine.
/// An artifact from a remote is checked against the remote's SHA-1 before it is recorded; with
/// `stream`, one not cached yet streams on to the client while it is stored.
async fn locate(
    cx: &RepoContext,
    repo: &Repository,
    path: &AssetPath,
    mp: &Option<MavenPath>,
    stream: bool,
) -> Result<Option<Fetched>, ProxyError> {
    if repo.kind != RepoKind::Proxy {
        return Ok(cx
            .arca
            .db
            .find_asset(repo.id, path.as_str())
            .await
            .map_err(StorageError::from)?
            .map(Fetched::Cached));
    }
    let freshness = match mp {
        Some(m) if m.is_metadata() => Freshness::Metadata,
        _ => Freshness::Content,
    };
    let meta = AssetMeta {
        content_type: content_type(path.as_str()),
        component: match mp {
            Some(MavenPath::Artifact(c)) => Some(component(c)),
            _ => None,
        },
        attrs: match mp {
            Some(MavenPath::Artifact(c)) => coords_json(c),
            _ => json!({}),
        },
        ..Default::default()
    };
    let mut spec = FetchSpec::new(freshness);
    if let Some(MavenPath::Artifact(_)) = mp {
        spec.check = Some(sha1_check(cx, repo, path));
        if stream {
            return Proxy::fetch_stream(&cx.arca, repo, path, spec, meta).await;
        }
    }
    let arca = &cx.arca;
    Ok(arca
        .proxy
        .fetch(&arca.storage, &arca.db, repo, path, spec, meta)
        .await?
        .map(Fetched::Cached))
}

/// An artifact fetched from a remote is checked against the remote's own SHA-1 (its `.sha1`
/// file, asked once the content is in, within the file's single flight) before it is kept.
fn sha1_check(cx: &RepoContext, repo: &Repository, path: &AssetPath) -> ContentCheck {
    let (arca, repo, sha1_path) = (cx.arca.clone(), repo.clone(), format!("{path}.sha1"));
    ContentCheck(std::sync::Arc::new(move |sums| {
        let (arca, repo, sha1_path) = (arca.clone(), repo.clone(), sha1_path.clone());
        Box::pin(async move {
            let remote = arca
                .proxy
                .remote_text(&repo, &sha1_path, 1024)
                .await
                .map_err(|e| e.to_string())?;
            let want = remote
                .and_then(|t| t.split_whitespace().next().map(str::to_ascii_lowercase))
                .filter(|w| w.len() == 40 && w.bytes().all(|b| b.is_ascii_hexdigit()));
            match want {
                Some(want) if want != sums.sha1 => Err(format!(
                    "the remote's SHA-1 {want} does not match the content's {}",
                    sums.sha1
                )),
                _ => Ok(()),
            }
        })
    }))
}

/// The first member holding `path`; failures of one member do not hide the others.
async fn first_hit(
    cx: &RepoContext,
    path: &AssetPath,
    mp: &Option<MavenPath>,
    stream: bool,
) -> Result<Option<Fetched>, HttpResponse> {
    let repos = cx.sources().await.map_err(storage_fail)?;
    let mut failure = None;
    for repo in &repos {
        match locate(cx, repo, path, mp, stream).await {
            Ok(Some(a)) => return Ok(Some(a)),
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => Err(fail(&e)),
        None => Ok(None),
    }
}

/// What a read resolves to: a stored asset, bytes made on the fly (a group's merged metadata),
/// or an artifact on its way from a proxy's remote.
enum Found {
    Asset(Box<Asset>),
    Bytes(Vec<u8>),
    Remote(RemoteBody),
}

/// With `stream`, an artifact not cached yet may come as [`Found::Remote`].
async fn resolve(
    cx: &RepoContext,
    path: &AssetPath,
    mp: &Option<MavenPath>,
    stream: bool,
) -> Result<Option<Found>, HttpResponse> {
    if cx.repo.kind == RepoKind::Group && matches!(mp, Some(MavenPath::ArtifactMetadata { .. })) {
        return merged_metadata(cx, path, mp)
            .await
            .map(|b| b.map(Found::Bytes));
    }
    Ok(first_hit(cx, path, mp, stream).await?.map(|f| match f {
        Fetched::Cached(a) => Found::Asset(Box::new(a)),
        Fetched::Remote(r) => Found::Remote(r),
    }))
}

async fn merged_metadata(
    cx: &RepoContext,
    path: &AssetPath,
    mp: &Option<MavenPath>,
) -> Result<Option<Vec<u8>>, HttpResponse> {
    let repos = cx.sources().await.map_err(storage_fail)?;
    let mut all = Vec::new();
    let mut raw_first = None;
    for repo in &repos {
        let asset = match locate(cx, repo, path, mp, false).await {
            Ok(Some(Fetched::Cached(a))) => a,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(repo = %repo.name, error = %e, "member metadata unavailable");
                continue;
            }
        };
        let Some(bytes) = cx
            .arca
            .storage
            .read_small(&asset, METADATA_LIMIT)
            .await
            .map_err(storage_fail)?
        else {
            continue;
        };
        match metadata::parse(&bytes) {
            Ok(m) if m.plugins => return Ok(Some(bytes)),
            Ok(m) => all.push(m),
            Err(e) => tracing::warn!(repo = %repo.name, error = %e.0, "member metadata unreadable"),
        }
        raw_first.get_or_insert(bytes);
    }
    Ok(match all.len() {
        0 => raw_first,
        // One member: its bytes as they are, so checksums match what that member serves.
        1 => raw_first,
        _ => Metadata::merge(&all).map(|m| m.to_xml().into_bytes()),
    })
}

fn hash_bytes(b: &[u8]) -> Checksums {
    let mut h = MultiHasher::new(true);
    h.update(b);
    h.finish().1
}

async fn read(
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
    mp: Option<MavenPath>,
) -> HttpResponse {
    if let Some(MavenPath::Checksum { of, algo }) = &mp {
        // Checksums are answered from the content, whether or not a client uploaded them.
        let Ok(of_path) = AssetPath::parse(of) else {
            return text(StatusCode::BAD_REQUEST, "bad path");
        };
        let of_mp = path::parse(of);
        return match resolve(cx, &of_path, &of_mp, false).await {
            Ok(Some(Found::Asset(a))) => {
                text(StatusCode::OK, checksum_of(&a.checksums, *algo).to_owned())
            }
            Ok(Some(Found::Remote(_))) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{of} is being fetched; ask again"),
            ),
            Ok(Some(Found::Bytes(b))) => text(
                StatusCode::OK,
                checksum_of(&hash_bytes(&b), *algo).to_owned(),
            ),
            Ok(None) => text(
                StatusCode::NOT_FOUND,
                format!("{path} not found in {}", cx.repo.name),
            ),
            Err(r) => r,
        };
    }
    match resolve(cx, path, &mp, true).await {
        Ok(Some(Found::Remote(r))) => remote_response(req, r),
        Ok(Some(Found::Asset(asset))) => {
            if let Some(r) = not_modified(req, &asset) {
                return r;
            }
            match cx.arca.storage.open(&asset, requested_range(req)).await {
                Ok(body) => blob_response(req, &asset, body),
                Err(e) => storage_fail(e),
            }
        }
        Ok(Some(Found::Bytes(b))) => HttpResponse::Ok().content_type("application/xml").body(b),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("{path} not found in {}", cx.repo.name),
        ),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------- deploying

async fn read_body(body: web::Payload, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| text(StatusCode::BAD_REQUEST, format!("reading the body: {e}")))?;
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("larger than {limit} bytes"),
            ));
        }
    }
    Ok(out)
}

fn component(c: &Coords) -> NewComponent {
    NewComponent {
        namespace: c.group_id.clone(),
        name: c.artifact_id.clone(),
        version: c.base_version.clone(),
        attrs: json!({ "groupId": c.group_id, "artifactId": c.artifact_id, "baseVersion": c.base_version }),
    }
}

fn coords_json(c: &Coords) -> serde_json::Value {
    json!({ "maven2": {
        "groupId": c.group_id, "artifactId": c.artifact_id, "version": c.version,
        "baseVersion": c.base_version, "classifier": c.classifier, "extension": c.extension,
    }})
}

async fn deploy(
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
    mp: Option<MavenPath>,
    body: web::Payload,
) -> HttpResponse {
    let pol = policy(&cx.repo);
    if cx.repo.write_policy == Some(WritePolicy::Deny) {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "repository {} is read-only (write policy DENY)",
                cx.repo.name
            ),
        );
    }
    let coords = match mp {
        None if pol.strict => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "{path} is not a Maven 2 path (groupId/artifactId/version/artifactId-version[-classifier].ext) and the layout policy is STRICT"
                ),
            );
        }
        None => None,
        Some(MavenPath::Checksum { of, algo }) => {
            return checksum_upload(cx, &of, algo, body).await;
        }
        Some(MavenPath::ArtifactMetadata {
            group_id,
            artifact_id,
        }) => {
            let bytes = match read_body(body, METADATA_LIMIT as usize).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            if declares_dtd(&bytes) {
                return text(
                    StatusCode::BAD_REQUEST,
                    "maven-metadata.xml must not declare a DOCTYPE or entities",
                );
            }
            return match metadata::parse(&bytes) {
                Err(e) => text(
                    StatusCode::BAD_REQUEST,
                    format!("maven-metadata.xml: {}", e.0),
                ),
                // Plugin-group metadata is stored as written; artifact metadata is ours to make.
                Ok(m) if m.plugins => store_plain(cx, req, path, bytes).await,
                Ok(_) => {
                    match rebuild_artifact_metadata(cx, &cx.repo, &group_id, &artifact_id).await {
                        Ok(()) => HttpResponse::Created().finish(),
                        Err(e) => storage_fail(e),
                    }
                }
            };
        }
        Some(MavenPath::VersionMetadata {
            group_id,
            artifact_id,
            version,
        }) => {
            if pol.version == VersionPolicy::Release {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "repository {} takes releases only, not {version}",
                        cx.repo.name
                    ),
                );
            }
            let bytes = match read_body(body, METADATA_LIMIT as usize).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            if declares_dtd(&bytes) {
                return text(
                    StatusCode::BAD_REQUEST,
                    "maven-metadata.xml must not declare a DOCTYPE or entities",
                );
            }
            if let Err(e) = metadata::parse(&bytes) {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("maven-metadata.xml: {}", e.0),
                );
            }
            return match rebuild_version_metadata(cx, &cx.repo, &group_id, &artifact_id, &version)
                .await
            {
                Ok(()) => HttpResponse::Created().finish(),
                Err(e) => storage_fail(e),
            };
        }
        Some(MavenPath::Artifact(c)) => Some(c),
    };
    if let Some(c) = &coords
        && let Err(r) = check_artifact(cx, path, c).await
    {
        return r;
    }
    let meta = AssetMeta {
        content_type: content_type(path.as_str()),
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: coords
            .as_ref()
            .map(coords_json)
            .unwrap_or_else(|| json!({})),
        component: coords.as_ref().map(component),
    };
    let opts = PutOptions {
        before_place: None,
        expect: None,
        max_size: cx.arca.settings.max_upload_bytes,
        all_checksums: true,
    };
    let blob = match cx
        .arca
        .storage
        .stage(&cx.repo, payload_stream(body), opts)
        .await
    {
        Ok(b) => b,
        Err(e) => return storage_fail(e),
    };
    // Checked before the asset row changes: a refused POM leaves the one it would replace.
    if path.as_str().ends_with(".pom")
        && let Err(r) = check_pom(cx, &blob).await
    {
        cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
        return r;
    }
    if let Err(e) = cx
        .arca
        .storage
        .record(&cx.repo, path, blob.clone(), meta)
        .await
    {
        cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
        return storage_fail(e);
    }
    if let Some(c) = &coords
        && let Err(e) = rebuild_for(cx, c).await
    {
        return storage_fail(e);
    }
    HttpResponse::Created().finish()
}

/// How much of a POM is searched for a document type declaration: it can only come before
/// the root element.
const PROLOG_LIMIT: u64 = 64 * 1024;

/// Whether XML declares a document type (and so possibly entities: billion laughs, external
/// files). Neither POMs nor metadata need one, and Maven's own parser rejects their entities.
fn declares_dtd(head: &[u8]) -> bool {
    head.windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
        || head.windows(8).any(|w| w.eq_ignore_ascii_case(b"<!ENTITY"))
}

/// Refuses a POM whose prolog declares a document type.
async fn check_pom(cx: &RepoContext, blob: &arca_core::blob::BlobRef) -> Result<(), HttpResponse> {
    let store = cx
        .arca
        .storage
        .store(&cx.repo.blob_store)
        .map_err(storage_fail)?;
    if blob.size == 0 {
        return Ok(());
    }
    let range = arca_core::blob::ByteRange::From {
        first: 0,
        last: Some(blob.size.min(PROLOG_LIMIT) - 1),
    };
    let mut body = store
        .get(&blob.digest, Some(range))
        .await
        .map_err(|e| storage_fail(e.into()))?;
    let mut head = Vec::new();
    while let Some(chunk) = body.stream.next().await {
        let chunk = chunk.map_err(|e| storage_fail(arca_core::blob::BlobError::Io(e).into()))?;
        head.extend_from_slice(&chunk);
    }
    if declares_dtd(&head) {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "a POM must not declare a DOCTYPE or entities",
        ));
    }
    Ok(())
}

/// The version and write policies for an artifact about to be stored at `path`.
pub(crate) async fn check_artifact(
    cx: &RepoContext,
    path: &AssetPath,
    c: &Coords,
) -> Result<(), HttpResponse> {
    let pol = policy(&cx.repo);
    if cx.repo.write_policy == Some(WritePolicy::Deny) {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!(
                "repository {} is read-only (write policy DENY)",
                cx.repo.name
            ),
        ));
    }
    {
        match (pol.version, c.is_snapshot()) {
            (VersionPolicy::Release, true) => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "repository {} takes releases only, not {}",
                        cx.repo.name, c.base_version
                    ),
                ));
            }
            (VersionPolicy::Snapshot, false) => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "repository {} takes SNAPSHOTs only, not {}",
                        cx.repo.name, c.base_version
                    ),
                ));
            }
            _ => {}
        }
        // ALLOW_ONCE guards releases; SNAPSHOT builds are new files each time.
        if cx.repo.write_policy == Some(WritePolicy::AllowOnce) && !c.is_snapshot() {
            match cx.arca.db.find_asset(cx.repo.id, path.as_str()).await {
                Ok(Some(_)) => {
                    return Err(text(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "{path} already exists and repository {} does not allow redeploying releases",
                            cx.repo.name
                        ),
                    ));
                }
                Ok(None) => {}
                Err(e) => return Err(fail(&e)),
            }
        }
    }
    Ok(())
}

async fn store_plain(
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
    bytes: Vec<u8>,
) -> HttpResponse {
    let meta = AssetMeta {
        content_type: content_type(path.as_str()),
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        ..Default::default()
    };
    match cx
        .arca
        .storage
        .put_bytes(&cx.repo, path, bytes.into(), meta)
        .await
    {
        Ok(_) => HttpResponse::Created().finish(),
        Err(e) => storage_fail(e),
    }
}

/// A client's checksum file: checked against the stored content, never stored itself.
async fn checksum_upload(
    cx: &RepoContext,
    of: &str,
    algo: Algo,
    body: web::Payload,
) -> HttpResponse {
    let bytes = match read_body(body, 4096).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sent = String::from_utf8_lossy(&bytes)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    // Metadata is regenerated by the server, so the client's checksum of its own copy is moot.
    if of.ends_with(METADATA) {
        return HttpResponse::Created().finish();
    }
    match cx.arca.db.find_asset(cx.repo.id, of).await {
        Ok(Some(a)) => {
            let have = checksum_of(&a.checksums, algo);
            if sent == have {
                HttpResponse::Created().finish()
            } else {
                text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "checksum mismatch for {of}: uploaded {sent:?}, the stored content has {have}"
                    ),
                )
            }
        }
        Ok(None) => text(
            StatusCode::BAD_REQUEST,
            format!("upload {of} before its checksum"),
        ),
        Err(e) => fail(&e),
    }
}

async fn remove(cx: &RepoContext, path: &AssetPath, mp: Option<MavenPath>) -> HttpResponse {
    match cx.arca.db.find_asset(cx.repo.id, path.as_str()).await {
        Ok(Some(_)) => {}
        Ok(None) => return text(StatusCode::NOT_FOUND, format!("{path} not found")),
        Err(e) => return fail(&e),
    }
    if let Err(e) = cx.arca.storage.delete_asset(&cx.repo, path.as_str()).await {
        return storage_fail(e);
    }
    if let Some(MavenPath::Artifact(c)) = mp
        && let Err(e) = rebuild_for(cx, &c).await
    {
        return storage_fail(e);
    }
    HttpResponse::NoContent().finish()
}

// ---------------------------------------------------------------- metadata upkeep

fn generated() -> AssetMeta {
    AssetMeta {
        content_type: "application/xml".into(),
        attrs: json!({ "generated": true }),
        ..Default::default()
    }
}

async fn write_or_drop(
    cx: &RepoContext,
    repo: &Repository,
    path: &str,
    m: Option<Metadata>,
) -> Result<(), StorageError> {
    let path =
        AssetPath::parse(path).map_err(|e| arca_core::meta::MetaError::Invalid(e.to_string()))?;
    match m {
        Some(m) => cx
            .arca
            .storage
            .put_bytes(repo, &path, m.to_xml().into_bytes().into(), generated())
            .await
            .map(|_| ()),
        None => match cx.arca.db.find_asset(repo.id, path.as_str()).await? {
            Some(_) => cx.arca.storage.delete_asset(repo, path.as_str()).await,
            None => Ok(()),
        },
    }
}

/// Keeps the metadata that an artifact's deploy or delete affects current.
async fn rebuild_for(cx: &RepoContext, c: &Coords) -> Result<(), StorageError> {
    rebuild_artifact_metadata(cx, &cx.repo, &c.group_id, &c.artifact_id).await?;
    if c.is_snapshot() {
        rebuild_version_metadata(cx, &cx.repo, &c.group_id, &c.artifact_id, &c.base_version)
            .await?;
    }
    Ok(())
}

/// `{g}/{a}/maven-metadata.xml` from the versions the repository holds.
async fn rebuild_artifact_metadata(
    cx: &RepoContext,
    repo: &Repository,
    g: &str,
    a: &str,
) -> Result<(), StorageError> {
    let _guard = lock_for(cx, repo, g, a).await?;
    let versions = cx.arca.db.component_versions(repo.id, g, a).await?;
    let m = (!versions.is_empty())
        .then(|| Metadata::for_versions(g, a, versions, metadata::timestamp(now_ms())));
    write_or_drop(cx, repo, &format!("{}/{a}/{METADATA}", group_path(g)), m).await
}

/// (classifier, extension) of a SNAPSHOT file, and (timestamp, buildNumber) of a build.
type FileKind = (Option<String>, String);
type Build = (String, u32);

/// `{g}/{a}/{v}-SNAPSHOT/maven-metadata.xml` from the timestamped files in the version directory.
async fn rebuild_version_metadata(
    cx: &RepoContext,
    repo: &Repository,
    g: &str,
    a: &str,
    v: &str,
) -> Result<(), StorageError> {
    let _guard = lock_for(cx, repo, g, &format!("{a}/{v}")).await?;
    let dir = format!("{}/{a}/{v}/", group_path(g));
    let assets = cx.arca.db.list_assets(repo.id, &dir, "", 100_000).await?;
    let mut newest: Option<(String, u32)> = None;
    let mut by_kind: BTreeMap<FileKind, (Build, String)> = Default::default();
    for asset in &assets {
        let Some(MavenPath::Artifact(c)) = path::parse(&asset.path) else {
            continue;
        };
        let Some(ts) = c.timestamp() else { continue };
        if newest.as_ref().is_none_or(|n| ts > *n) {
            newest = Some(ts.clone());
        }
        let key = (c.classifier.clone(), c.extension.clone());
        if by_kind.get(&key).is_none_or(|(t, _)| ts > *t) {
            by_kind.insert(key, (ts, c.version.clone()));
        }
    }
    let m = newest.map(|snapshot| Metadata {
        group_id: g.into(),
        artifact_id: a.into(),
        version: Some(v.into()),
        last_updated: Some(snapshot.0.replace('.', "")),
        snapshot_versions: by_kind
            .into_iter()
            .map(
                |((classifier, extension), ((ts, _), value))| metadata::SnapshotVersion {
                    classifier,
                    extension,
                    value,
                    updated: ts.replace('.', ""),
                },
            )
            .collect(),
        snapshot: Some(snapshot),
        ..Default::default()
    });
    write_or_drop(cx, repo, &format!("{dir}{METADATA}"), m).await
}
