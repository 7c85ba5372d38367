//! Nexus's `raw` format: any file at any path. Hosted and group repositories; it is also the
//! smallest example of a [`Format`].

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        Method, StatusCode,
        header::{
            self, ContentDisposition, DispositionParam, DispositionType, HeaderValue,
            TryIntoHeaderValue,
        },
    },
    web,
};
use arca_core::{
    Format, RepoContext,
    blob::PutOptions,
    http::{
        blob_response, error_text, not_modified, payload_stream, remote_ip, remote_response,
        requested_range, storage_error as error, text,
    },
    meta::NewComponent,
    model::{AssetPath, Digest, RepoKind, Repository, RepositorySpec},
    proxy::{FetchSpec, Fetched, Freshness, Proxy, ProxyError, ProxySettings},
    storage::AssetMeta,
};
use async_trait::async_trait;

mod upload;

pub struct RawFormat;

#[async_trait(?Send)]
impl Format for RawFormat {
    fn id(&self) -> &'static str {
        "raw"
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }
    fn settings_form(&self) -> Vec<arca_core::settings_form::FormBlock> {
        use arca_core::settings_form::{FormBlock, FormField};
        vec![FormBlock {
            legend: "Raw",
            kinds: &[],
            fields: vec![FormField::choice(
                "raw.contentDisposition",
                "Content disposition",
                &[("ATTACHMENT", "ATTACHMENT"), ("INLINE", "INLINE")],
            )],
        }]
    }

    /// Files are served as attachments unless the repository says INLINE: an uploaded HTML
    /// page must not run in the browser as if the server had written it.
    fn api_defaults(&self, _kind: RepoKind) -> serde_json::Value {
        serde_json::json!({ "raw": { "contentDisposition": "ATTACHMENT" } })
    }

    fn validate(&self, spec: &RepositorySpec) -> Result<(), String> {
        spec.check_choice("raw", "contentDisposition", &["INLINE", "ATTACHMENT"])?;
        if spec.kind == RepoKind::Proxy {
            ProxySettings::from_attrs(&spec.attrs)?;
        }
        Ok(())
    }

    fn upload_spec(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "format": "raw",
            "multipleUpload": true,
            "componentFields": [{
                "name": "directory", "type": "STRING", "optional": false, "group": "Component attributes",
                "description": "Destination for uploaded files (e.g. /path/to/files/)"
            }],
            "assetFields": [{
                "name": "filename", "type": "STRING", "optional": false, "group": "Asset attributes",
                "description": "Filename"
            }],
        }))
    }

    /// Nexus's form: `raw.directory`, and `raw.assetN` files with `raw.assetN.filename`.
    async fn upload_component(
        &self,
        cx: RepoContext,
        req: HttpRequest,
        body: web::Payload,
    ) -> HttpResponse {
        upload::component(&cx, &req, body).await
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
        match (req.method().clone(), path) {
            (Method::GET | Method::HEAD, None) => match cx.sources().await {
                Ok(repos) => arca_core::browse::listing(&cx, &repos).await,
                Err(e) => error(e),
            },
            (Method::GET | Method::HEAD, Some(p)) => read(&cx, &req, &p).await,
            (Method::PUT, Some(p)) if cx.repo.kind == RepoKind::Hosted => {
                write(&cx, &req, &p, body).await
            }
            (Method::DELETE, Some(p)) if cx.repo.kind == RepoKind::Hosted => {
                match cx.arca.db.find_asset(cx.repo.id, p.as_str()).await {
                    Ok(Some(_)) => match cx.arca.storage.delete_asset(&cx.repo, p.as_str()).await {
                        Ok(()) => HttpResponse::NoContent().finish(),
                        Err(e) => error(e),
                    },
                    Ok(None) => text(StatusCode::NOT_FOUND, format!("{p} not found")),
                    Err(e) => error(e.into()),
                }
            }
            (Method::PUT | Method::DELETE, _) if cx.repo.kind != RepoKind::Hosted => text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "repository {} is a {} repository: deploy to a hosted one",
                    cx.repo.name,
                    cx.repo.kind.as_str()
                ),
            ),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here"),
        }
    }
}

/// The repositories to look in for a read: the repository itself, or a group's members in order.
/// `Content-Disposition` as the repository's `raw.contentDisposition` asks (the repository
/// addressed, so a group decides for its members); ATTACHMENT when unset.
fn content_disposition(repo: &Repository, path: &AssetPath) -> Option<HeaderValue> {
    let inline = repo
        .attrs
        .pointer("/raw/contentDisposition")
        .and_then(|v| v.as_str())
        == Some("INLINE");
    let name = path
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let cd = ContentDisposition {
        disposition: if inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: vec![DispositionParam::Filename(name)],
    };
    cd.try_into_value().ok()
}

async fn read(cx: &RepoContext, req: &HttpRequest, path: &AssetPath) -> HttpResponse {
    let repos = match cx.sources().await {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    let mut failure = None;
    for repo in repos {
        let found = match repo.kind {
            RepoKind::Proxy => {
                let meta = asset_meta(cx, req, path, String::new());
                Proxy::fetch_stream(
                    &cx.arca,
                    &repo,
                    path,
                    FetchSpec::new(Freshness::Content),
                    meta,
                )
                .await
            }
            _ => cx
                .arca
                .db
                .find_asset(repo.id, path.as_str())
                .await
                .map(|a| a.map(Fetched::Cached))
                .map_err(|e| ProxyError::Storage(e.into())),
        };
        let asset = match found {
            Ok(Some(Fetched::Cached(a))) => a,
            Ok(Some(Fetched::Remote(remote))) => {
                let mut resp = remote_response(req, remote);
                if let Some(cd) = content_disposition(&cx.repo, path) {
                    resp.headers_mut().insert(header::CONTENT_DISPOSITION, cd);
                }
                return resp;
            }
            Ok(None) => continue,
            // A failing member does not hide the others.
            Err(e) => {
                failure = Some(e);
                continue;
            }
        };
        if let Some(r) = not_modified(req, &asset) {
            return r;
        }
        return match cx.arca.storage.open(&asset, requested_range(req)).await {
            Ok(body) => {
                let mut resp = blob_response(req, &asset, body);
                if let Some(cd) = content_disposition(&cx.repo, path) {
                    resp.headers_mut().insert(header::CONTENT_DISPOSITION, cd);
                }
                resp
            }
            Err(e) => error(e),
        };
    }
    match failure {
        Some(e) => error_text(&e),
        None => text(
            StatusCode::NOT_FOUND,
            format!("{path} not found in {}", cx.repo.name),
        ),
    }
}

/// What a raw asset records besides its bytes: one component per file, as Nexus does.
pub(crate) fn asset_meta(
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
    content_type: String,
) -> AssetMeta {
    let dir = path.as_str().rsplit_once('/').map_or("/", |(d, _)| d);
    AssetMeta {
        content_type,
        uploader: cx.uploader(),
        uploader_ip: remote_ip(req, &cx.arca.settings.public),
        attrs: serde_json::json!({}),
        component: Some(NewComponent {
            namespace: format!("/{}", dir.trim_start_matches('/')),
            name: path.to_string(),
            version: String::new(),
            attrs: serde_json::json!({}),
        }),
    }
}

async fn write(
    cx: &RepoContext,
    req: &HttpRequest,
    path: &AssetPath,
    body: web::Payload,
) -> HttpResponse {
    if let Err(e) = cx.arca.storage.check_write_policy(&cx.repo, path).await {
        return error(e);
    }
    let content_type = mime_guess::from_path(path.file_name())
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let meta = asset_meta(cx, req, path, content_type);
    // Artifactory's checksum deploy header: the upload is refused unless the content matches.
    let expect = match req
        .headers()
        .get("x-checksum-sha256")
        .map(|v| v.to_str().map(Digest::parse))
    {
        None => None,
        Some(Ok(Ok(d))) => Some(d),
        Some(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "X-Checksum-Sha256 must be 64 lowercase hex digits",
            );
        }
    };
    let opts = PutOptions {
        before_place: None,
        expect,
        max_size: cx.arca.settings.max_upload_bytes,
        all_checksums: true,
    };
    match cx
        .arca
        .storage
        .ingest(&cx.repo, path, payload_stream(body), opts, meta)
        .await
    {
        Ok(asset) => {
            tracing::info!(repo = %cx.repo.name, path = %path, size = asset.size, "stored");
            HttpResponse::Created().finish()
        }
        Err(e) => error(e),
    }
}
