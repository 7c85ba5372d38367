//! The format plug-in and the `/repository/{name}/{path}` route that core owns.
//!
//! Core looks the repository up, asks the format which [`Action`] the request needs, authorizes
//! the caller, checks the repository is online, and only then calls [`Format::handle`]: no format
//! can forget a permission check.

use std::{future::Future, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use async_trait::async_trait;
use futures_util::future::LocalBoxFuture;

use crate::{
    auth::{Denied, subject_of},
    meta::MetaError,
    model::{Asset, Component, RepoKind, RepoName, Repository, RepositorySpec},
    security::{Action, Permission, Subject},
    state::Arca,
};

/// What a format handler gets besides the request.
pub struct RepoContext {
    pub arca: web::Data<Arca>,
    pub repo: Repository,
    pub subject: Subject,
    /// The path after `/repository/{name}/`, percent-decoded, possibly empty.
    pub path: String,
    /// The public base URL for links in this response (no trailing slash).
    pub base_url: String,
}

impl RepoContext {
    /// `<base>/repository/<name>/`
    pub fn repo_url(&self) -> String {
        format!("{}/repository/{}/", self.base_url, self.repo.name)
    }
    /// Where a read looks, in order: see [`crate::group::read_sources`].
    pub async fn sources(&self) -> Result<Vec<Repository>, crate::storage::StorageError> {
        Ok(crate::group::read_sources(&self.arca, &self.repo).await?)
    }
    pub fn uploader(&self) -> Option<String> {
        (!self.subject.anonymous).then(|| self.subject.user_id.clone())
    }
}

/// Handlers run on actix's single-threaded workers and take its `!Send` request types.
#[async_trait(?Send)]
pub trait Format: Send + Sync + 'static {
    /// Nexus's format id: `maven2`, `pypi`, `docker`, `yum`, `raw`.
    fn id(&self) -> &'static str;
    /// The segment in `/service/rest/v1/repositories/{segment}/{type}` (`maven` for `maven2`).
    fn api_name(&self) -> &'static str {
        self.id()
    }
    /// The repository kinds this build can serve.
    fn kinds(&self) -> &'static [RepoKind];
    /// Checks the format-specific settings in `spec.attrs`; the message names the field.
    fn validate(&self, _spec: &RepositorySpec) -> Result<(), String> {
        Ok(())
    }
    /// The blocks Nexus always reports for this format and type, holding the values Arca acts
    /// on when a request left them out; the REST API fills them in under what was stored.
    fn api_defaults(&self, _kind: RepoKind) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// The privilege action a request needs.
    fn action(&self, method: &Method, path: &str) -> Action {
        default_action(method, path)
    }
    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse;
    /// Nexus's multipart component upload (`POST /service/rest/v1/components?repository=`),
    /// called once core authorized `add` on the repository. 204 on success, as Nexus answers.
    async fn upload_component(
        &self,
        _cx: RepoContext,
        _req: HttpRequest,
        _body: web::Payload,
    ) -> HttpResponse {
        text(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!(
                "the {} format has no component upload; use its own client",
                self.id()
            ),
        )
    }
    /// Nexus's `UploadDefinitionXO` for formats with a component upload.
    fn upload_spec(&self) -> Option<serde_json::Value> {
        None
    }
    /// After assets were deleted through the REST API: keep format metadata (Maven metadata,
    /// yum repodata) in step.
    async fn deleted(&self, _cx: &RepoContext, _paths: &[String]) {}
    /// The port of a repository's own connector (docker's `httpPort`), if it asks for one, and
    /// the field that set it (for validation messages).
    fn connector_port(&self, _attrs: &serde_json::Value) -> Option<(u16, &'static str)> {
        None
    }
    /// The format's settings in the UI's repository form.
    fn settings_form(&self) -> Vec<crate::settings_form::FormBlock> {
        Vec::new()
    }
    /// Whether `version` is a pre-release, for cleanup's release-type criterion. The default
    /// reads the words versions commonly mark one with (`2.0-rc1`, `1.0-beta`, `3.0.0-alpha.2`,
    /// `1.1.dev3`; see [`crate::cleanup::common_prerelease`]); formats with rules of their own
    /// (Maven snapshots, PEP 440, SemVer) say so instead.
    fn is_prerelease(&self, version: &str) -> bool {
        crate::cleanup::common_prerelease(version)
    }
    /// The format's names for the search's generic criteria, as Nexus's search takes them:
    /// (parameter, criterion), the criterion one of `group`, `name`, `version`
    /// (`("maven.groupId", "group")`).
    fn search_aliases(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Whether a component's `version` names its content (docker's `sha256:…` manifests) rather
    /// than a release: cleanup's "keep the newest N" keeps such a version only with a kept one
    /// holding the same content.
    fn is_content_version(&self, _version: &str) -> bool {
        false
    }
    /// How to use an asset with the format's own clients (the asset page's snippets; core adds
    /// a plain download).
    fn usage(
        &self,
        _base_url: &str,
        _repo: &Repository,
        _asset: &Asset,
        _component: Option<&Component>,
    ) -> Vec<Usage> {
        Vec::new()
    }
    /// Routes about one repository outside `/repository/` (PyPI's yank API): mounted by core
    /// behind the same gate as `/repository/`, see [`RepoRoute`].
    fn repo_routes(&self) -> Vec<RepoRoute> {
        Vec::new()
    }
    /// Routes with a resolution of their own (docker's `/v2/`, where the repository is part of
    /// the image name or the port). Their handlers must pass [`admit`] before acting.
    fn configure(&self, _cfg: &mut web::ServiceConfig) {}
    /// Rebuilds what the format derives from a repository's assets (Maven metadata, yum
    /// repodata, …) for `POST /v1/repositories/{name}/rebuild-index`: a summary, or why not.
    async fn rebuild_index(&self, _cx: &RepoContext) -> Result<String, RebuildError> {
        Err(RebuildError::NotSupported(self.id()))
    }
    /// The task types the format adds to `/service/rest/v1/tasks` (Nexus's types of the same
    /// ids), run by [`Format::run_task`].
    fn task_types(&self) -> Vec<crate::task_types::TaskType> {
        Vec::new()
    }
    /// Runs a task of one of [`Format::task_types`]: a summary ("deleted …", empty when
    /// nothing was done), or why it failed.
    async fn run_task(
        &self,
        _arca: &web::Data<Arca>,
        _type_id: &str,
        _properties: &crate::task_types::Properties,
    ) -> Result<String, String> {
        Ok(String::new())
    }
}

/// One way to use an asset: a label (the client) and the text to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub label: String,
    pub text: String,
}

impl Usage {
    pub fn new(label: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            text: text.into(),
        }
    }
}

/// `<base>/repository/<name>/`, as the snippets of [`Format::usage`] name a repository.
pub fn repository_url(base_url: &str, repo: &Repository) -> String {
    format!("{base_url}/repository/{}/", repo.name)
}

/// Why [`Format::rebuild_index`] did not rebuild.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("the {0} format keeps no index to rebuild")]
    NotSupported(&'static str),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// GET/HEAD of a directory browses, of a file reads; PUT/POST add; DELETE deletes.
pub fn default_action(method: &Method, path: &str) -> Action {
    match *method {
        Method::GET | Method::HEAD if path.is_empty() || path.ends_with('/') => Action::Browse,
        Method::GET | Method::HEAD | Method::OPTIONS => Action::Read,
        Method::PUT | Method::POST | Method::PATCH => Action::Add,
        Method::DELETE => Action::Delete,
        _ => Action::Read,
    }
}

#[derive(Clone, Default)]
pub struct FormatRegistry(Vec<Arc<dyn Format>>);

impl FormatRegistry {
    pub fn new(formats: Vec<Arc<dyn Format>>) -> Self {
        Self(formats)
    }
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Format>> {
        self.0.iter().find(|f| f.id() == id)
    }
    pub fn by_api_name(&self, name: &str) -> Option<&Arc<dyn Format>> {
        self.0.iter().find(|f| f.api_name() == name)
    }
    /// The format whose task type `type_id` is.
    pub fn of_task_type(&self, type_id: &str) -> Option<&Arc<dyn Format>> {
        self.0
            .iter()
            .find(|f| f.task_types().iter().any(|t| t.type_id == type_id))
    }

    pub fn all(&self) -> &[Arc<dyn Format>] {
        &self.0
    }
}

fn text(status: actix_web::http::StatusCode, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(msg.into())
}

#[derive(serde::Deserialize)]
pub struct ComponentQuery {
    repository: String,
}

/// `POST /service/rest/v1/components?repository=<name>`: the format's multipart upload.
pub async fn component_upload_route(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<ComponentQuery>,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, Denied> {
    let name = query.into_inner().repository;
    let (format, cx) =
        match context(&req, &arca, &name, |_| Action::Add, String::new(), true).await? {
            Ok(found) => found,
            Err(resp) => return Ok(resp),
        };
    if cx.repo.kind != crate::model::RepoKind::Hosted {
        return Ok(text(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("repository {name} is not a hosted repository"),
        ));
    }
    Ok(format.upload_component(cx, req, body).await)
}

/// Looks a repository up, authorizes `action` for the caller and checks it is online: the
/// format and the context for its handler, or the response to send instead.
async fn context(
    req: &HttpRequest,
    arca: &web::Data<Arca>,
    name: &str,
    action: impl FnOnce(&dyn Format) -> Action,
    path: String,
    path_scoped: bool,
) -> Result<Result<(Arc<dyn Format>, RepoContext), HttpResponse>, Denied> {
    use actix_web::http::StatusCode;
    let not_found = || {
        text(
            StatusCode::NOT_FOUND,
            format!("Repository {name} not found"),
        )
    };
    if RepoName::parse(name).is_err() {
        return Ok(Err(not_found()));
    }
    let repo = match arca.repository(name).await {
        Ok(r) => r,
        Err(MetaError::NotFound) => return Ok(Err(not_found())),
        Err(e) => {
            tracing::error!(error = %e, "repository lookup failed");
            return Ok(Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metadata store unavailable",
            )));
        }
    };
    tracing::Span::current().record("repo", repo.name.as_str());
    let Some(format) = arca.formats.get(&repo.format).cloned() else {
        return Ok(Err(text(
            StatusCode::NOT_FOUND,
            format!(
                "Repository {name} has format {} that this build does not serve",
                repo.format
            ),
        )));
    };
    let action = action(format.as_ref());
    let subject = subject_of(req).await?;
    let perm = Permission::RepoView {
        format: format.id(),
        repo: repo.name.as_str(),
        action,
    };
    // A route with no path of its own (PyPI's yank names a project, not a file) needs the
    // privilege on the repository: a content selector, judging paths, grants it nothing.
    if path_scoped {
        arca.security.authorize_at(&subject, &perm, &path)
    } else {
        arca.security.authorize(&subject, &perm)
    }
    .map_err(Denied)?;
    if let Err(refused) = admit(arca, &repo, action).await {
        return Ok(Err(text(refused.status(), refused.to_string())));
    }
    let base_url = arca.settings.public.for_request(req);
    let cx = RepoContext {
        arca: arca.clone(),
        repo,
        subject,
        path,
        base_url,
    };
    Ok(Ok((format, cx)))
}

/// `/repository/{name}/{path:.*}`
pub async fn repository_route(
    req: HttpRequest,
    body: web::Payload,
    params: web::Path<(String, String)>,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, Denied> {
    if !crate::http::path_is_utf8(&req) {
        return Ok(text(
            actix_web::http::StatusCode::BAD_REQUEST,
            "the request path is not UTF-8 once percent-decoded",
        ));
    }
    let (name, path) = params.into_inner();
    let method = req.method().clone();
    let action = |f: &dyn Format| f.action(&method, &path);
    let p = path.clone();
    match context(&req, &arca, &name, action, p, true).await? {
        Ok((format, cx)) => Ok(format.handle(cx, req, body).await),
        Err(resp) => Ok(resp),
    }
}

/// Why a repository does not take a request it was authorised for.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("Repository {0} is offline")]
    Offline(String),
    #[error("the repository manager is read-only (frozen by {0}); try again once it is released")]
    ReadOnly(String),
}

impl Refusal {
    pub fn status(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    }
}

/// The checks every request about a repository passes after its authorisation, whatever route
/// it came by: the repository is online and, for a write, the server is not frozen. Checked
/// before the handler runs, so a refused write changes nothing. The freeze is read from this
/// node's copy (refreshed every 2 s and on another node's notice): no database read per write;
/// the storage layer checks the stored state again at the write itself.
pub async fn admit(arca: &Arca, repo: &Repository, action: Action) -> Result<(), Refusal> {
    if !repo.online {
        return Err(Refusal::Offline(repo.name.to_string()));
    }
    if action.writes()
        && let Some(f) = arca.storage.freeze.state().await
    {
        return Err(Refusal::ReadOnly(f.by));
    }
    Ok(())
}

/// A handler of a [`RepoRoute`]: gets the checked context, as [`Format::handle`] does.
pub type RepoHandler = Arc<
    dyn Fn(RepoContext, HttpRequest, web::Payload) -> LocalBoxFuture<'static, HttpResponse>
        + Send
        + Sync,
>;

/// A route about one repository outside `/repository/`, declared with what it needs. Core
/// mounts it (see [`mount`]) behind the one gate: the `{repository}` in its path is looked up,
/// must be of the declaring format and of one of `kinds`, the caller is authorised for
/// `action` on it, and [`admit`] passes; only then does the handler run.
pub struct RepoRoute {
    pub method: Method,
    /// An actix path pattern naming the repository `{repository}`.
    pub pattern: &'static str,
    pub action: Action,
    pub kinds: &'static [RepoKind],
    pub handler: RepoHandler,
}

impl RepoRoute {
    pub fn new<F, Fut>(
        method: Method,
        pattern: &'static str,
        action: Action,
        kinds: &'static [RepoKind],
        handler: F,
    ) -> Self
    where
        F: Fn(RepoContext, HttpRequest, web::Payload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HttpResponse> + 'static,
    {
        Self {
            method,
            pattern,
            action,
            kinds,
            handler: Arc::new(move |cx, req, body| Box::pin(handler(cx, req, body))),
        }
    }
}

/// Mounts every format's routes: its [`RepoRoute`]s behind the gate, then its own
/// [`Format::configure`].
pub fn mount(cfg: &mut web::ServiceConfig, formats: &FormatRegistry) {
    for f in formats.all() {
        for route in f.repo_routes() {
            let route = Arc::new(route);
            let format = f.id();
            cfg.route(
                route.pattern,
                web::method(route.method.clone()).to(
                    move |req: HttpRequest, body: web::Payload, arca: web::Data<Arca>| {
                        gate(route.clone(), format, req, body, arca)
                    },
                ),
            );
        }
        f.configure(cfg);
    }
}

async fn gate(
    route: Arc<RepoRoute>,
    format: &'static str,
    req: HttpRequest,
    body: web::Payload,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, Denied> {
    use actix_web::http::StatusCode;
    if !crate::http::path_is_utf8(&req) {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "the request path is not UTF-8 once percent-decoded",
        ));
    }
    let name = req
        .match_info()
        .get("repository")
        .unwrap_or_default()
        .to_owned();
    let (found, cx) =
        match context(&req, &arca, &name, |_| route.action, String::new(), false).await? {
            Ok(found) => found,
            Err(resp) => return Ok(resp),
        };
    if found.id() != format || !route.kinds.contains(&cx.repo.kind) {
        let kinds: Vec<&str> = route.kinds.iter().map(|k| k.as_str()).collect();
        return Ok(text(
            StatusCode::BAD_REQUEST,
            format!("{name} is not a {} {format} repository", kinds.join(" or ")),
        ));
    }
    Ok((route.handler)(cx, req, body).await)
}
