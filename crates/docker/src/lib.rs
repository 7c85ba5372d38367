//! Nexus's `docker` format: an OCI Distribution Spec v1.1 registry on `/v2/` of the main port
//! (the first path segment of an image names the repository), on a repository's own connector
//! port (`docker.httpPort`, unprefixed names), and for a default repository's unprefixed names.
//!
//! Hosted repositories take pushes; proxies pull through from a remote registry (bearer-token
//! handshake included) and cache; groups read through their members and write to their
//! `group.writableMember`. Blobs are stored once per blob store and shared.

mod access;
mod blobs;
mod error;
#[cfg(test)]
mod fuzz;
mod gc;
mod listing;
mod manifest;
mod manifests;
mod names;
mod paths;
mod tasks;
mod token;
mod upstream;
mod usage;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::Method, middleware, web};
use arca_core::{
    Arca, Format, RepoContext,
    model::{RepoKind, RepositorySpec},
    proxy::ProxySettings,
    security::Action,
    task_types::{Builtin, FieldKind, Properties, TaskField, TaskType},
};
use async_trait::async_trait;

use crate::{
    access::Target,
    error::{RegistryError, Result},
    names::Endpoint,
};

/// State the registry routes share: bearer tokens of remote registries.
#[derive(Default)]
pub struct DockerState {
    tokens: upstream::Tokens,
}

#[derive(Default)]
pub struct DockerFormat {
    state: Arc<DockerState>,
}

/// The connector port a docker repository asks for (`docker.httpPort`), if any.
pub fn connector_port(attrs: &serde_json::Value) -> Option<u16> {
    attrs
        .pointer("/docker/httpPort")
        .and_then(|v| v.as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
}

#[async_trait(?Send)]
impl Format for DockerFormat {
    fn search_aliases(&self) -> &'static [(&'static str, &'static str)] {
        &[("docker.imageName", "name"), ("docker.imageTag", "version")]
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
    /// Arca takes Basic credentials and bearer tokens alike and serves only the V2 API.
    fn api_defaults(&self, kind: RepoKind) -> serde_json::Value {
        let mut v = serde_json::json!({ "docker": { "forceBasicAuth": true, "v1Enabled": false } });
        if kind == RepoKind::Proxy {
            v["dockerProxy"] =
                serde_json::json!({ "indexType": "REGISTRY", "cacheForeignLayers": false });
        }
        v
    }

    fn id(&self) -> &'static str {
        "docker"
    }

    fn connector_port(&self, attrs: &serde_json::Value) -> Option<(u16, &'static str)> {
        connector_port(attrs).map(|p| (p, "docker.httpPort"))
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }
    fn is_content_version(&self, version: &str) -> bool {
        names::is_digest(version)
    }
    fn settings_form(&self) -> Vec<arca_core::settings_form::FormBlock> {
        use arca_core::settings_form::{FormBlock, FormField};
        vec![FormBlock {
            legend: "Docker",
            kinds: &[],
            fields: vec![FormField::number(
                "docker.httpPort",
                "Own HTTP port (optional)",
                1,
                65535,
                None,
            )],
        }]
    }

    fn validate(&self, spec: &RepositorySpec) -> std::result::Result<(), String> {
        if let Some(p) = spec.attrs.pointer("/docker/httpPort")
            && !p.is_null()
            && p.as_u64().is_none_or(|p| p == 0 || p > 65535)
        {
            return Err(format!(
                "docker.httpPort must be a port number from 1 to 65535, not {p}"
            ));
        }
        if let Some(p) = spec.attrs.pointer("/docker/httpsPort")
            && !p.is_null()
        {
            return Err("docker.httpsPort is not supported: put TLS on the main listener or a reverse proxy".into());
        }
        if let Some(h) = spec.attrs.pointer("/docker/untaggedMaxAgeHours")
            && !h.is_null()
            && h.as_u64().is_none()
        {
            return Err(format!(
                "docker.untaggedMaxAgeHours must be a whole number of hours (0 or more), not {h}"
            ));
        }
        if spec.attrs.pointer("/docker/v1Enabled") == Some(&serde_json::Value::Bool(true)) {
            return Err("docker.v1Enabled: Arca serves only the V2 registry API".into());
        }
        spec.check_choice("dockerProxy", "indexType", &["HUB", "REGISTRY", "CUSTOM"])?;
        match spec.kind {
            RepoKind::Proxy => {
                ProxySettings::from_attrs(&spec.attrs)?;
            }
            RepoKind::Group => {
                if let Some(w) = spec
                    .attrs
                    .pointer("/group/writableMember")
                    .and_then(|v| v.as_str())
                    .filter(|w| !w.is_empty())
                    && !spec.members.iter().any(|m| m == w)
                {
                    return Err(format!(
                        "group.writableMember {w} must be one of group.memberNames"
                    ));
                }
            }
            RepoKind::Hosted => {}
        }
        Ok(())
    }

    /// As in Nexus, `/repository/<name>/` browses and downloads a docker repository's assets
    /// (`v2/-/blobs/…`, `v2/<image>/manifests/…`); clients push and pull on `/v2/`.
    async fn handle(&self, cx: RepoContext, req: HttpRequest, _body: web::Payload) -> HttpResponse {
        use actix_web::http::StatusCode;
        use arca_core::http::{blob_response, not_modified, requested_range, storage_error, text};
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "push with a docker client to {}/v2/{}/<image>",
                    cx.base_url, cx.repo.name
                ),
            );
        }
        let sources = match access::read_sources(&cx.arca, &cx.repo).await {
            Ok(s) => s,
            Err(e) => return e.response(),
        };
        if cx.path.is_empty() || cx.path.ends_with('/') {
            return arca_core::browse::listing(&cx, &sources).await;
        }
        if let Err(e) = arca_core::model::AssetPath::parse(&cx.path) {
            return text(StatusCode::BAD_REQUEST, e.to_string());
        }
        for repo in &sources {
            match cx.arca.db.find_asset(repo.id, &cx.path).await {
                Ok(Some(a)) => {
                    if let Some(r) = not_modified(&req, &a) {
                        return r;
                    }
                    return match cx.arca.storage.open(&a, requested_range(&req)).await {
                        Ok(body) => blob_response(&req, &a, body),
                        Err(e) => storage_error(e),
                    };
                }
                Ok(None) => {}
                Err(e) => return storage_error(e.into()),
            }
        }
        text(
            StatusCode::NOT_FOUND,
            format!("{} not found in {}", cx.path, cx.repo.name),
        )
    }

    /// Nexus's "Docker - Delete unused manifests and images" (see [`gc`]) and "Docker - Delete
    /// incomplete uploads".
    fn task_types(&self) -> Vec<TaskType> {
        vec![
            TaskType {
                type_id: tasks::GC,
                name: "Docker - Delete unused manifests and images",
                fields: &[
                    TaskField {
                        id: "repositoryName",
                        label: "Repository",
                        help: "The docker repository to collect (* for every one)",
                        kind: FieldKind::Repository("docker"),
                        default: "*",
                    },
                    TaskField {
                        id: "deployOffset",
                        label: "Deploy offset in hours",
                        help: "Manifests and images used within this many hours stay (never less than ARCA_GC_GRACE)",
                        kind: FieldKind::Number,
                        default: "0",
                    },
                    TaskField {
                        id: "dryRun",
                        label: "Dry run",
                        help: "List what would be deleted, delete nothing",
                        kind: FieldKind::Boolean,
                        default: "false",
                    },
                ],
                builtin: Some(Builtin {
                    id: "docker-gc",
                    name: "Docker - Delete unused manifests and images",
                    cron: "0 0 * * * ?",
                }),
            },
            TaskType {
                type_id: tasks::UPLOAD_PURGE,
                name: "Docker - Delete incomplete uploads",
                fields: &[TaskField {
                    id: "age",
                    label: "Age in hours",
                    help: "Uploads idle for longer than this are deleted",
                    kind: FieldKind::Number,
                    default: "24",
                }],
                builtin: Some(Builtin {
                    id: "docker-upload-purge",
                    name: "Docker - Delete incomplete uploads",
                    cron: "0 0 3 * * ?",
                }),
            },
        ]
    }

    async fn run_task(
        &self,
        arca: &web::Data<Arca>,
        type_id: &str,
        properties: &Properties,
    ) -> std::result::Result<String, String> {
        match type_id {
            tasks::GC => tasks::collect(arca, properties).await,
            tasks::UPLOAD_PURGE => tasks::purge_uploads(arca, properties).await,
            _ => Err(format!("no task type {type_id}")),
        }
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self.state.clone())).service(
            web::scope("/v2")
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add(("Docker-Distribution-API-Version", "registry/2.0")),
                )
                .route("", web::get().to(redirect_v2))
                .route("/", web::get().to(token::version_check))
                .route("/token", web::get().to(token::token))
                .route("/token", web::post().to(token::oauth_token))
                .route("/_catalog", web::get().to(listing::catalog))
                .route("/{tail:.*}", web::route().to(dispatch)),
        );
    }
}

async fn redirect_v2() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header(("Location", "/v2/"))
        .finish()
}

/// The privilege action a registry request needs.
fn action(method: &Method, ep: &Endpoint<'_>) -> Action {
    match (method, ep) {
        (&Method::DELETE, Endpoint::Upload { .. }) => Action::Add,
        (&Method::DELETE, _) => Action::Delete,
        (&Method::GET | &Method::HEAD, Endpoint::Upload { .. }) => Action::Add,
        (&Method::GET | &Method::HEAD, _) => Action::Read,
        _ => Action::Add,
    }
}

async fn dispatch(
    req: HttpRequest,
    tail: web::Path<String>,
    body: web::Payload,
    arca: web::Data<Arca>,
    state: web::Data<DockerState>,
) -> HttpResponse {
    if !arca_core::http::path_is_utf8(&req) {
        return RegistryError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "the request path is not UTF-8 once percent-decoded",
        )
        .response();
    }
    let tail = tail.into_inner();
    let Some(ep) = names::endpoint(&tail) else {
        return RegistryError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("no registry endpoint at /v2/{tail}"),
        )
        .response();
    };
    match route(&req, &ep, body, &arca, &state).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

async fn route(
    req: &HttpRequest,
    ep: &Endpoint<'_>,
    body: web::Payload,
    arca: &web::Data<Arca>,
    state: &DockerState,
) -> Result<HttpResponse> {
    let name = match ep {
        Endpoint::Manifest { name, .. }
        | Endpoint::Blob { name, .. }
        | Endpoint::Upload { name, .. }
        | Endpoint::Tags { name }
        | Endpoint::Referrers { name, .. } => *name,
    };
    let t: Target = access::resolve(arca, req, name).await?;
    tracing::Span::current().record("repo", t.repo.name.as_str());
    let mount_from = match (ep, req.method()) {
        (Endpoint::Upload { id: None, .. }, &Method::POST) => access::mount_from(req),
        _ => None,
    };
    let action = action(req.method(), ep);
    let (subject, creds) =
        access::authorize_for(arca, req, &t, action, mount_from.as_deref()).await?;
    arca_core::format::admit(arca, &t.repo, action).await?;
    let m = req.method().clone();
    match (ep, m) {
        (Endpoint::Manifest { reference, .. }, Method::GET | Method::HEAD) => {
            manifests::get(arca, state, req, &t, reference).await
        }
        (Endpoint::Manifest { reference, .. }, Method::PUT) => {
            manifests::put(arca, req, &t, &subject, reference, body).await
        }
        (Endpoint::Manifest { reference, .. }, Method::DELETE) => {
            manifests::delete(arca, &t, reference).await
        }
        (Endpoint::Blob { digest, .. }, Method::GET | Method::HEAD) => {
            blobs::get(arca, state, req, &t, digest).await
        }
        (Endpoint::Blob { digest, .. }, Method::DELETE) => blobs::delete(arca, &t, digest).await,
        (Endpoint::Upload { id: None, .. }, Method::POST) => {
            blobs::start(arca, req, &t, &subject, &creds, body).await
        }
        (Endpoint::Upload { id: Some(id), .. }, _) => {
            blobs::session(arca, req, &t, &subject, id, body).await
        }
        (Endpoint::Tags { .. }, Method::GET) => listing::tags(arca, state, req, &t).await,
        (Endpoint::Referrers { digest, .. }, Method::GET) => {
            listing::referrers(arca, req, &t, digest).await
        }
        _ => Err(RegistryError::unsupported(format!(
            "{} is not supported here",
            req.method()
        ))),
    }
}
