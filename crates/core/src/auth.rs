//! actix extractors that authenticate (and for [`Guard`], authorize) before a handler runs, so
//! no REST handler can forget the check.

use std::{future::Future, marker::PhantomData, pin::Pin};

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, http::StatusCode,
    http::header, web,
};

use crate::{
    error::HttpError,
    security::{AuthError, Permission, Subject},
    state::Arca,
};

/// The realm clients see in Basic challenges.
pub const REALM: &str = "Arca";

/// An [`AuthError`] as a response: 401 with a Basic challenge, or 403.
#[derive(Debug)]
pub struct Denied(pub AuthError);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Denied {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }
    fn error_response(&self) -> HttpResponse {
        crate::error::log_if_server_error(&self.0);
        let mut b = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            b.insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")));
        }
        if let Some(secs) = self.0.retry_after() {
            b.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        b.content_type("text/plain; charset=utf-8")
            .body(self.0.to_string())
    }
}

fn arca(req: &HttpRequest) -> Result<web::Data<Arca>, Denied> {
    req.app_data::<web::Data<Arca>>().cloned().ok_or_else(|| {
        Denied(AuthError::Meta(crate::meta::MetaError::Invalid(
            "no application state".into(),
        )))
    })
}

/// Authenticates a request (anonymous when it carries no credentials).
pub async fn subject_of(req: &HttpRequest) -> Result<Subject, Denied> {
    let arca = arca(req)?;
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // A browser session counts only when the request carries no credentials of its own.
    if authz.is_none()
        && let Some(claims) = crate::session::of_request(&arca, req)
    {
        if !crate::session::csrf_ok(req, &claims) {
            return Err(Denied(AuthError::Csrf));
        }
        return arca
            .security
            .session_subject(&claims.sub, claims.iat_ms)
            .await
            .map_err(Denied);
    }
    arca.security
        .authenticate(authz, client_ip(&arca, req))
        .await
        .map_err(Denied)
}

/// The caller's address as throttling keys it: the peer, or the first forwarded hop when the
/// peer is a trusted proxy.
pub fn client_ip(arca: &Arca, req: &HttpRequest) -> Option<std::net::IpAddr> {
    crate::http::remote_ip(req, &arca.settings.public).and_then(|s| s.parse().ok())
}

/// The authenticated caller; anonymous when the request has no credentials.
pub struct Caller(pub Subject);

impl FromRequest for Caller {
    type Error = Denied;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Denied>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { subject_of(&req).await.map(Caller) })
    }
}

/// The permission a route needs.
pub trait Policy {
    fn permission() -> Permission<'static>;
}

/// The caller, known to hold `P`'s privilege.
pub struct Guard<P: Policy> {
    pub subject: Subject,
    _p: PhantomData<P>,
}

impl<P: Policy + 'static> FromRequest for Guard<P> {
    type Error = Denied;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Denied>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let subject = subject_of(&req).await?;
            let arca = arca(&req)?;
            arca.security
                .authorize(&subject, &P::permission())
                .map_err(Denied)?;
            Ok(Self {
                subject,
                _p: PhantomData,
            })
        })
    }
}

/// Declares policy types:
/// `policy!(BlobstoresRead = app("blobstores", "read"); ReposAdd = repo_admin(Add););`
#[macro_export]
macro_rules! policy {
    ($($name:ident = $kind:ident ($($arg:tt)*);)*) => {$(
        pub struct $name;
        impl $crate::auth::Policy for $name {
            fn permission() -> $crate::security::Permission<'static> {
                $crate::policy!(@perm $kind ($($arg)*))
            }
        }
    )*};
    (@perm app ($domain:literal, $action:literal)) => {
        $crate::security::Permission::App { domain: $domain, action: $action }
    };
    // Repository administration across all formats and repositories.
    (@perm repo_admin ($action:ident)) => {
        $crate::security::Permission::RepoAdmin {
            format: "*",
            repo: "*",
            action: $crate::security::Action::$action,
        }
    };
}

/// The caller, known to hold `nx-repository-admin-<format>-<repo>-<action>` (the action from
/// `P`) for the repository the route names: `{format}` (the REST segment, e.g. `maven`) and
/// `{name}` when the path has them, `*` otherwise. Without `{format}`, the named repository's
/// own format counts, so `nx-repository-admin-maven2-*-delete` may delete Maven repositories.
pub struct RepoAdminGuard<P: Policy> {
    pub subject: Subject,
    _p: PhantomData<P>,
}

impl<P: Policy + 'static> FromRequest for RepoAdminGuard<P> {
    type Error = Denied;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Denied>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let subject = subject_of(&req).await?;
            let arca = arca(&req)?;
            let action = match P::permission() {
                Permission::RepoAdmin { action, .. } | Permission::RepoView { action, .. } => {
                    action
                }
                Permission::App { .. } => crate::security::Action::Read,
            };
            let name = req.match_info().get("name").map(str::to_owned);
            let format = match req.match_info().get("format") {
                Some(seg) => arca
                    .formats
                    .by_api_name(seg)
                    .map_or_else(|| seg.to_owned(), |f| f.id().to_owned()),
                None => match &name {
                    Some(n) => arca
                        .db
                        .get_repository(n)
                        .await
                        .map_or_else(|_| "*".to_owned(), |r| r.format),
                    None => "*".to_owned(),
                },
            };
            let repo = name.as_deref().unwrap_or("*");
            arca.security
                .authorize(
                    &subject,
                    &Permission::RepoAdmin {
                        format: &format,
                        repo,
                        action,
                    },
                )
                .map_err(Denied)?;
            Ok(Self {
                subject,
                _p: PhantomData,
            })
        })
    }
}
