//! Nexus's `yum` format: RPM uploads whose headers are parsed (never the payload), rpm-md
//! repodata generated per root at the configured `yum.repodataDepth` and published atomically,
//! proxies that only serve a `repomd.xml` once every file it names is cached, and groups with
//! merged repodata.

mod capture;
mod group;
pub mod package;
mod proxy;
pub mod repodata;
pub mod signing;
mod usage;
pub mod xml;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::Method, http::StatusCode, web};
use arca_core::{
    Format, RepoContext,
    blob::{BlobRef, PutOptions},
    format::RebuildError,
    http::{
        blob_response, not_modified, payload_stream, remote_ip, requested_range,
        storage_error as error, text,
    },
    meta::NewComponent,
    model::{AssetPath, RepoKind, Repository, RepositorySpec},
    proxy::ProxySettings,
    storage::AssetMeta,
};
use async_trait::async_trait;

use crate::repodata::{Publisher, root_of};

/// How long a reader of `repomd.xml` waits for pending changes to be published.
const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Default)]
pub struct YumFormat {
    publisher: Arc<Publisher>,
}

/// `yum.repodataDepth`: 0 = one repodata at the root, n = one per directory n levels down.
pub fn depth(repo_attrs: &serde_json::Value) -> usize {
    repo_attrs
        .pointer("/yum/repodataDepth")
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
}

#[async_trait(?Send)]
impl Format for YumFormat {
    fn usage(
        &self,
        base_url: &str,
        repo: &arca_core::model::Repository,
        asset: &arca_core::model::Asset,
        component: Option<&arca_core::model::Component>,
    ) -> Vec<arca_core::format::Usage> {
        usage::usage(base_url, repo, asset, component)
    }
    fn api_defaults(&self, kind: RepoKind) -> serde_json::Value {
        match kind {
            RepoKind::Hosted => {
                serde_json::json!({ "yum": { "repodataDepth": 0, "deployPolicy": "STRICT" } })
            }
            _ => serde_json::Value::Null,
        }
    }

    fn id(&self) -> &'static str {
        "yum"
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }
    fn settings_form(&self) -> Vec<arca_core::settings_form::FormBlock> {
        use arca_core::settings_form::{FormBlock, FormField};
        vec![FormBlock {
            legend: "Yum",
            kinds: &[RepoKind::Hosted],
            fields: vec![
                FormField::number("yum.repodataDepth", "Repodata depth", 0, 5, Some(0)),
                FormField::choice(
                    "yum.deployPolicy",
                    "Deploy policy",
                    &[("STRICT", "STRICT"), ("PERMISSIVE", "PERMISSIVE")],
                ),
            ],
        }]
    }

    fn validate(&self, spec: &RepositorySpec) -> Result<(), String> {
        if let Some(d) = spec.attrs.pointer("/yum/repodataDepth")
            && !d.is_null()
            && d.as_u64().is_none_or(|d| d > 5)
        {
            return Err(format!("yum.repodataDepth must be 0 to 5, not {d}"));
        }
        spec.check_choice("yum", "deployPolicy", &["STRICT", "PERMISSIVE"])?;
        if spec.kind == RepoKind::Proxy {
            ProxySettings::from_attrs(&spec.attrs)?;
        }
        signing::signer(&spec.attrs)?;
        Ok(())
    }

    fn upload_spec(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "format": "yum",
            "multipleUpload": false,
            "componentFields": [{
                "name": "directory", "type": "STRING", "optional": true, "group": "Component attributes",
                "description": "Directory for the RPM, below the repository root (at least yum.repodataDepth levels deep)"
            }],
            "assetFields": [{
                "name": "filename", "type": "STRING", "optional": true, "group": "Asset attributes",
                "description": "File name; the uploaded file's name by default"
            }],
        }))
    }

    /// Nexus's form: `yum.asset` (the file), `yum.asset.filename`, `yum.directory`.
    async fn upload_component(
        &self,
        cx: RepoContext,
        req: HttpRequest,
        body: web::Payload,
    ) -> HttpResponse {
        use futures_util::StreamExt;
        let mut form = actix_multipart::Multipart::new(req.headers(), body);
        let mut fields: std::collections::HashMap<String, String> = Default::default();
        let mut stored: Option<(BlobRef, package::Package, String)> = None;
        // Refused: the RPM stored so far goes.
        let refuse = |stored: Option<(BlobRef, package::Package, String)>, resp: HttpResponse| {
            let cx = &cx;
            async move {
                if let Some((b, ..)) = stored {
                    cx.arca.storage.discard(&cx.repo.blob_store, &b).await;
                }
                resp
            }
        };
        let bad = |msg: String| text(StatusCode::BAD_REQUEST, msg);
        let mut parts = 0;
        while let Some(field) = form.next().await {
            let mut field = match field {
                Ok(f) => f,
                Err(e) => return refuse(stored, bad(format!("bad form: {e}"))).await,
            };
            parts += 1;
            if parts > arca_core::http::MAX_FORM_PARTS {
                return refuse(stored, bad("too many form parts".into())).await;
            }
            let name = field.name().unwrap_or("").to_owned();
            if name == "yum.asset" {
                if stored.is_some() {
                    return refuse(stored, bad("one yum.asset per upload".into())).await;
                }
                let filename = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or("")
                    .to_owned();
                match store_rpm(&cx, arca_core::http::local_stream(field)).await {
                    Ok((blob, pkg)) => stored = Some((blob, pkg, filename)),
                    Err(why) => return why.response("yum.asset"),
                }
                continue;
            }
            let mut v = Vec::new();
            while let Some(chunk) = field.next().await {
                match chunk {
                    Ok(c) if v.len() + c.len() <= 4096 => v.extend_from_slice(&c),
                    Ok(_) => {
                        return refuse(stored, bad(format!("form field {name} is too long"))).await;
                    }
                    Err(e) => return refuse(stored, bad(format!("bad form: {e}"))).await,
                }
            }
            // Lossy decoding could make two names one: refuse instead.
            match String::from_utf8(v) {
                Ok(v) => fields.insert(name, v),
                Err(_) => {
                    return refuse(stored, bad(format!("form field {name} is not UTF-8"))).await;
                }
            };
        }
        let Some((blob, pkg, filename)) = stored else {
            return text(StatusCode::BAD_REQUEST, "the form needs a yum.asset file");
        };
        let file = fields
            .get("yum.asset.filename")
            .filter(|f| !f.is_empty())
            .cloned()
            .unwrap_or(filename);
        let dir = fields
            .get("yum.directory")
            .map(|d| d.trim_matches('/'))
            .unwrap_or("");
        let joined = if dir.is_empty() {
            file
        } else {
            format!("{dir}/{file}")
        };
        let path = match AssetPath::parse(&joined) {
            Ok(p) if !joined.contains('\\') => p,
            Ok(_) | Err(_) => {
                cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("invalid target path {joined:?}"),
                );
            }
        };
        if let Err(resp) = check_target(&cx, &path).await {
            cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
            return resp;
        }
        let resp = self.finish(&cx, &req, &path, blob, pkg).await;
        if resp.status() == StatusCode::CREATED {
            HttpResponse::NoContent().finish()
        } else {
            resp
        }
    }

    /// Hosted: the repodata of every root that holds RPMs or had repodata, published anew
    /// now (not debounced). Proxy repodata comes from the remote: nothing to rebuild.
    async fn rebuild_index(&self, cx: &RepoContext) -> Result<String, RebuildError> {
        if cx.repo.kind != RepoKind::Hosted {
            return Ok("nothing to rebuild: repodata comes from the remote".into());
        }
        let depth = depth(&cx.repo.attrs);
        let mut roots = std::collections::BTreeSet::new();
        if depth == 0 {
            roots.insert(String::new());
        }
        let mut after = String::new();
        loop {
            let page = cx
                .arca
                .db
                .list_assets(cx.repo.id, "", &after, 1000)
                .await
                .map_err(arca_core::storage::StorageError::from)?;
            let Some(last) = page.last() else { break };
            after = last.path.clone();
            for a in &page {
                if a.path.ends_with(".rpm")
                    && let Some(root) = root_of(&a.path, depth)
                {
                    roots.insert(root);
                } else if let Some(root) = a.path.strip_suffix("repodata/repomd.xml") {
                    roots.insert(root.to_owned());
                }
            }
            if page.len() < 1000 {
                break;
            }
        }
        let mut packages = 0;
        for root in &roots {
            packages += crate::repodata::publish(&cx.arca, &cx.repo, root).await?;
        }
        Ok(format!(
            "repodata of {} roots ({packages} packages) published",
            roots.len()
        ))
    }

    /// RPMs deleted through the REST API: their roots' repodata is rebuilt.
    async fn deleted(&self, cx: &RepoContext, paths: &[String]) {
        if cx.repo.kind != RepoKind::Hosted {
            return;
        }
        let depth = depth(&cx.repo.attrs);
        for p in paths.iter().filter(|p| p.ends_with(".rpm")) {
            if let Some(root) = root_of(p, depth) {
                self.publisher.changed(&cx.arca, &cx.repo, &root);
            }
        }
    }

    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse {
        let is_dir = cx.path.is_empty() || cx.path.ends_with('/');
        let path = if is_dir {
            None
        } else {
            match AssetPath::parse(&cx.path) {
                Ok(p) => Some(p),
                Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
            }
        };
        let hosted = cx.repo.kind == RepoKind::Hosted;
        match (req.method().clone(), path) {
            (Method::GET | Method::HEAD, None) => {
                let repos = match cx.repo.kind {
                    RepoKind::Group => {
                        match arca_core::group::leaf_members(&cx.arca, &cx.repo).await {
                            Ok(m) => m,
                            Err(e) => return error(e.into()),
                        }
                    }
                    _ => vec![cx.repo.clone()],
                };
                arca_core::browse::listing(&cx, &repos).await
            }
            (Method::GET | Method::HEAD, Some(p)) => match cx.repo.kind {
                RepoKind::Hosted => self.read_hosted(&cx, &req, &p).await,
                RepoKind::Proxy => proxy::read(&cx, &req, &cx.repo, &p).await,
                RepoKind::Group => group::read(&self.publisher, &cx, &req, &p).await,
            },
            (Method::PUT, Some(p)) if hosted => self.upload(&cx, &req, &p, body).await,
            (Method::DELETE, Some(p)) if hosted => self.delete(&cx, &p).await,
            (Method::PUT | Method::DELETE, _) if !hosted => text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "repository {} is a {} repository: upload to a hosted one",
                    cx.repo.name,
                    cx.repo.kind.as_str()
                ),
            ),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here"),
        }
    }
}

/// Why an upload was refused.
enum Refused {
    Bad(String),
    Storage(arca_core::storage::StorageError),
}

impl Refused {
    fn response(self, what: &str) -> HttpResponse {
        match self {
            Self::Bad(why) => text(StatusCode::BAD_REQUEST, format!("{what}: {why}")),
            Self::Storage(e) => error(e),
        }
    }
}

/// Where an RPM may go: a `.rpm` name, deep enough for the repodata depth, outside `repodata/`,
/// and allowed by the write policy.
async fn check_target(cx: &RepoContext, path: &AssetPath) -> Result<(), HttpResponse> {
    let depth = depth(&cx.repo.attrs);
    if !path.as_str().ends_with(".rpm") {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!("{path}: a yum repository takes .rpm files; repodata is generated"),
        ));
    }
    if root_of(path.as_str(), depth).is_none() {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!(
                "{path}: RPMs go at least {depth} directories deep in {} (yum.repodataDepth)",
                cx.repo.name
            ),
        ));
    }
    if path.as_str().split('/').any(|seg| seg == "repodata") {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!("{path}: repodata/ is generated"),
        ));
    }
    cx.arca
        .storage
        .check_write_policy(&cx.repo, path)
        .await
        .map_err(error)
}

/// Streams an upload into the blob store while reading its RPM header; a body that is no RPM
/// leaves nothing behind.
async fn store_rpm(
    cx: &RepoContext,
    body: arca_core::blob::ByteStream,
) -> Result<(BlobRef, package::Package), Refused> {
    let store = cx
        .arca
        .storage
        .store(&cx.repo.blob_store)
        .map_err(Refused::Storage)?;
    let cap = capture::Capture::new();
    let opts = PutOptions {
        all_checksums: true,
        max_size: cx.arca.settings.max_upload_bytes,
        ..Default::default()
    };
    let blob = match store.put(capture::stream(body, cap.clone()), opts).await {
        Ok(b) => b,
        Err(e) => {
            return Err(match cap.error() {
                Some(why) => Refused::Bad(why),
                None => Refused::Storage(e.into()),
            });
        }
    };
    match cap.header().and_then(|h| package::parse(&h)) {
        Ok(p) => Ok((blob, p)),
        Err(why) => {
            cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
            Err(Refused::Bad(why))
        }
    }
}

/// Serves a stored asset (with conditional and range requests).
pub(crate) async fn serve(
    cx: &RepoContext,
    req: &HttpRequest,
    a: &arca_core::model::Asset,
) -> HttpResponse {
    if let Some(r) = not_modified(req, a) {
        return r;
    }
    match cx.arca.storage.open(a, requested_range(req)).await {
        Ok(body) => blob_response(req, a, body),
        Err(e) => error(e),
    }
}

pub(crate) fn not_found(repo: &Repository, path: &AssetPath) -> HttpResponse {
    text(
        StatusCode::NOT_FOUND,
        format!("{path} not found in {}", repo.name),
    )
}

impl YumFormat {
    async fn read_hosted(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        path: &AssetPath,
    ) -> HttpResponse {
        if let Some(root) = path.as_str().strip_suffix("repodata/repomd.xml") {
            self.publisher.verify_once(&cx.arca, &cx.repo, root).await;
            self.publisher.flush(cx.repo.id, root, FLUSH_LIMIT).await;
        }
        match cx.arca.db.find_asset(cx.repo.id, path.as_str()).await {
            Ok(Some(a)) => serve(cx, req, &a).await,
            Ok(None) => not_found(&cx.repo, path),
            Err(e) => error(e.into()),
        }
    }

    async fn upload(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        path: &AssetPath,
        body: web::Payload,
    ) -> HttpResponse {
        if let Err(resp) = check_target(cx, path).await {
            return resp;
        }
        match store_rpm(cx, payload_stream(body)).await {
            Ok((blob, pkg)) => self.finish(cx, req, path, blob, pkg).await,
            Err(why) => why.response(path.as_str()),
        }
    }

    /// Records a stored RPM at `path` and schedules its root's repodata.
    async fn finish(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        path: &AssetPath,
        blob: BlobRef,
        pkg: package::Package,
    ) -> HttpResponse {
        let Some(root) = root_of(path.as_str(), depth(&cx.repo.attrs)) else {
            cx.arca.storage.discard(&cx.repo.blob_store, &blob).await;
            return text(StatusCode::BAD_REQUEST, format!("{path}: too shallow"));
        };
        let meta = AssetMeta {
            content_type: "application/x-rpm".into(),
            uploader: cx.uploader(),
            uploader_ip: remote_ip(req, &cx.arca.settings.public),
            component: Some(NewComponent {
                namespace: String::new(),
                name: pkg.name.clone(),
                version: pkg.evr(),
                attrs: serde_json::json!({ "arch": pkg.arch }),
            }),
            attrs: serde_json::json!({ "yum": pkg }),
        };
        match cx.arca.storage.record(&cx.repo, path, blob, meta).await {
            Ok(_) => {
                tracing::info!(repo = %cx.repo.name, path = %path, nevra = %pkg.nevra(), "rpm uploaded");
                self.publisher.changed(&cx.arca, &cx.repo, &root);
                HttpResponse::Created().finish()
            }
            Err(e) => error(e),
        }
    }

    async fn delete(&self, cx: &RepoContext, path: &AssetPath) -> HttpResponse {
        match cx.arca.db.find_asset(cx.repo.id, path.as_str()).await {
            Ok(Some(_)) => {}
            Ok(None) => return not_found(&cx.repo, path),
            Err(e) => return error(e.into()),
        }
        if let Err(e) = cx.arca.storage.delete_asset(&cx.repo, path.as_str()).await {
            return error(e);
        }
        if let Some(root) = root_of(path.as_str(), depth(&cx.repo.attrs))
            && path.as_str().ends_with(".rpm")
        {
            self.publisher.changed(&cx.arca, &cx.repo, &root);
        }
        HttpResponse::NoContent().finish()
    }
}
