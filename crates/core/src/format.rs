//! The format plug-in and the `/repository/{name}/{path}` route that core owns.
//!
//! Core looks the repository up, asks the format which [`Action`] the request needs, authorizes
//! the caller, checks the repository is online, and only then calls [`Format::handle`]: no format
//! can forget a permission check.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use async_trait::async_trait;

use crate::{
    auth::{Denied, subject_of},
    meta::MetaError,
    model::{RepoKind, RepoName, Repository, RepositorySpec},
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
    /// The privilege action a request needs.
    fn action(&self, method: &Method, path: &str) -> Action {
        default_action(method, path)
    }
    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse;
    /// Routes outside `/repository/` (docker's `/v2/`).
    fn configure(&self, _cfg: &mut web::ServiceConfig) {}
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
    pub fn all(&self) -> &[Arc<dyn Format>] {
        &self.0
    }
}

fn text(status: actix_web::http::StatusCode, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(msg.into())
}

/// `/repository/{name}/{path:.*}`
pub async fn repository_route(
    req: HttpRequest,
    body: web::Payload,
    params: web::Path<(String, String)>,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, Denied> {
    use actix_web::http::StatusCode;
    let (name, path) = params.into_inner();
    let not_found = || {
        text(
            StatusCode::NOT_FOUND,
            format!("Repository {name} not found"),
        )
    };
    if RepoName::parse(&name).is_err() {
        return Ok(not_found());
    }
    let repo = match arca.db.get_repository(&name).await {
        Ok(r) => r,
        Err(MetaError::NotFound) => return Ok(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "repository lookup failed");
            return Ok(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metadata store unavailable",
            ));
        }
    };
    tracing::Span::current().record("repo", repo.name.as_str());
    let Some(format) = arca.formats.get(&repo.format).cloned() else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            format!(
                "Repository {name} has format {} that this build does not serve",
                repo.format
            ),
        ));
    };
    let action = format.action(req.method(), &path);
    let subject = subject_of(&req).await?;
    arca.security
        .authorize(
            &subject,
            &Permission::RepoView {
                format: format.id(),
                repo: repo.name.as_str(),
                action,
            },
        )
        .map_err(Denied)?;
    if !repo.online {
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Repository {name} is offline"),
        ));
    }
    let base_url = arca.settings.public.for_request(&req);
    let cx = RepoContext {
        arca: arca.clone(),
        repo,
        subject,
        path,
        base_url,
    };
    Ok(format.handle(cx, req, body).await)
}
