//! The web UI: server-rendered pages (askama templates from the top-level `templates/`) with a
//! little plain JavaScript (`static/ui.js`) for copy buttons, uploads with progress and the
//! admin forms. Forms send JSON to the REST API with the session's CSRF token, so the UI and
//! every other client share one code path, one authorisation function and one set of errors.
//! Pages, styles and scripts are embedded in the binary.

mod admin;
mod browse;
mod format;
mod search;
mod session;
mod upload;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    Arca,
    auth::subject_of,
    security::{AuthError, Permission, Subject},
};
use askama::Template;

const STYLE: &str = include_str!("../../../../static/arca.css");
const UI_JS: &str = include_str!("../../../../static/ui.js");
const API_JS: &str = include_str!("../../../../static/api.js");
const API: &str = include_str!("../../../../templates/api.html");

/// What every page's frame shows: who is signed in, what they may administer, the CSRF token
/// scripts send back, and which section is current.
pub(crate) struct Chrome {
    pub user: Option<String>,
    pub admin: bool,
    pub csrf: String,
    pub section: &'static str,
    pub frozen: bool,
}

impl Chrome {
    fn bare() -> Self {
        Self {
            user: None,
            admin: false,
            csrf: String::new(),
            section: "",
            frozen: false,
        }
    }
    pub fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

/// Administration pages are offered to whoever holds one of these.
const ADMIN_ANY: &[Permission<'static>] = &[
    Permission::RepoAdmin {
        format: "*",
        repo: "*",
        action: arca_core::security::Action::Read,
    },
    Permission::App {
        domain: "users",
        action: "read",
    },
    Permission::App {
        domain: "settings",
        action: "read",
    },
    Permission::App {
        domain: "blobstores",
        action: "read",
    },
    Permission::App {
        domain: "tasks",
        action: "read",
    },
];

/// A request's caller and page frame. Wrong credentials in an `Authorization` header (scripts
/// timing pages use Basic auth) are refused as the API refuses them.
pub(crate) struct Page {
    pub subject: Subject,
    pub chrome: Chrome,
}

impl Page {
    pub async fn of(
        arca: &Arca,
        req: &HttpRequest,
        section: &'static str,
    ) -> Result<Self, UiError> {
        let subject = subject_of(req).await.map_err(|d| match d.0 {
            AuthError::Unauthenticated
            | AuthError::BadCredentials
            | AuthError::Throttled(_)
            | AuthError::Busy => UiError::SignIn(next_of(req)),
            AuthError::Forbidden { .. } | AuthError::Csrf | AuthError::NeedsPassword(_) => {
                UiError::Forbidden
            }
            AuthError::Meta(e) => UiError::Internal(e.to_string()),
        })?;
        let csrf = arca_core::session::of_request(arca, req)
            .map(|c| c.csrf)
            .unwrap_or_default();
        let admin = ADMIN_ANY.iter().any(|p| subject.can(p));
        let chrome = Chrome {
            user: (!subject.anonymous).then(|| subject.user_id.clone()),
            admin,
            csrf,
            section,
            frozen: arca.storage.freeze.state().await.is_some(),
        };
        Ok(Self { subject, chrome })
    }

    /// Refuses the page unless the caller holds `perm`: anonymous callers are sent to sign in.
    pub fn require(&self, req: &HttpRequest, perm: &Permission<'_>) -> Result<(), UiError> {
        if self.subject.can(perm) {
            Ok(())
        } else if self.subject.anonymous {
            Err(UiError::SignIn(next_of(req)))
        } else {
            Err(UiError::Forbidden)
        }
    }
}

pub(crate) fn next_of(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => "/".into(),
    }
}

/// A page that could not be shown.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Sign in first, then come back to this path.
    SignIn(String),
    Forbidden,
    NotFound(String),
    Internal(String),
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn(_) => f.write_str("sign in first"),
            Self::Forbidden => f.write_str("you lack the privilege to see this page"),
            Self::NotFound(m) | Self::Internal(m) => f.write_str(m),
        }
    }
}

impl From<crate::ApiError> for UiError {
    fn from(e: crate::ApiError) -> Self {
        use arca_core::error::HttpError;
        match e.status() {
            StatusCode::UNAUTHORIZED => Self::SignIn("/".into()),
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound(e.to_string()),
            s if s.is_client_error() => Self::NotFound(e.to_string()),
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<arca_core::meta::MetaError> for UiError {
    fn from(e: arca_core::meta::MetaError) -> Self {
        match e {
            arca_core::meta::MetaError::NotFound => Self::NotFound("not found".into()),
            e => Self::Internal(e.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    message: String,
}

impl actix_web::ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn(_) => StatusCode::SEE_OTHER,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn error_response(&self) -> HttpResponse {
        if let Self::SignIn(next) = self {
            let to = format!("/ui/login?next={}", urlencode(next));
            return HttpResponse::SeeOther()
                .insert_header(("location", to))
                .finish();
        }
        if let Self::Internal(m) = self {
            tracing::error!(error = %m, "UI page failed");
        }
        let (title, message) = match self {
            Self::Forbidden => (
                "Not allowed".to_owned(),
                "Your roles do not include the privilege this page needs. Ask an administrator."
                    .to_owned(),
            ),
            Self::NotFound(m) => ("Not found".to_owned(), m.clone()),
            _ => (
                "Something went wrong".to_owned(),
                "The server could not show this page; its log says why.".to_owned(),
            ),
        };
        render_status(
            self.status_code(),
            &ErrorPage {
                chrome: Chrome::bare(),
                title,
                message,
            },
        )
    }
}

/// `application/x-www-form-urlencoded`-style escaping for a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) fn render(t: &impl Template) -> HttpResponse {
    render_status(StatusCode::OK, t)
}

pub(crate) fn render_status(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            // Pages show per-user data: never from a shared cache.
            .insert_header(("cache-control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            HttpResponse::InternalServerError().body("rendering failed")
        }
    }
}

/// Bytes for people: `1.5 MB`.
pub(crate) fn human_bytes(n: i64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `2026-11-29 07:30 UTC`.
pub(crate) fn when(ms: i64) -> String {
    let iso = crate::api::components::iso(ms);
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "public, max-age=300"))
        .body(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(browse::repositories))
        .route("/ui/login", web::get().to(session::login_form))
        .route("/ui/login", web::post().to(session::login))
        .route("/ui/logout", web::post().to(session::logout))
        .route("/ui/browse/{repo}", web::get().to(browse::tree))
        .route("/ui/browse/{repo}/{path:.*}", web::get().to(browse::tree))
        .route("/ui/assets/{id}", web::get().to(browse::asset))
        .route("/ui/search", web::get().to(search::search))
        .route("/ui/upload", web::get().to(upload::choose))
        .route("/ui/upload/{repo}", web::get().to(upload::form))
        .route("/ui/tokens", web::get().to(session::tokens))
        .configure(admin::configure)
        .route(
            "/service/rest/api",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(API)
            }),
        )
        .route(
            "/static/arca.css",
            web::get().to(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/ui.js",
            web::get().to(|| async { asset(UI_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/static/api.js",
            web::get().to(|| async { asset(API_JS, "text/javascript; charset=utf-8") }),
        );
}
