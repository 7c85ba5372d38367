//! `/v2/` (the version check) and `/v2/token` (the token endpoint clients are sent to).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    Arca,
    jwt::ISSUER,
    model::now_ms,
    security::{Action, AuthError, Subject},
};
use serde_json::json;

use crate::{
    access::{self, Access, Claims, Credentials, SERVICE},
    error::RegistryError,
};

/// Long enough for a large push; clients fetch a new token when one expires.
const TOKEN_TTL_SECS: i64 = 1800;

/// `GET /v2/`: 200 for an authenticated caller, else a challenge naming the token endpoint.
pub async fn version_check(req: HttpRequest, arca: web::Data<Arca>) -> HttpResponse {
    let unauthorized =
        || RegistryError::unauthorized(access::challenge(&arca, &req, None)).response();
    let creds = match access::credentials(&arca, &req) {
        Ok(Credentials::None) | Err(_) => return unauthorized(),
        Ok(c) => c,
    };
    match access::subject(&arca, &req, &creds).await {
        Ok(Ok(s)) if !s.anonymous || arca.security.anonymous_enabled().await.unwrap_or(false) => {
            // On a repository's own port, `/v2/` speaks for that repository: offline, it says so.
            if let Some(name) = access::connector(&arca, &req)
                && let Ok(Some(repo)) = access::docker_repo(&arca, &name).await
                && let Err(refused) =
                    arca_core::format::admit(&arca, &repo, arca_core::security::Action::Read).await
            {
                return RegistryError::from(refused).response();
            }
            HttpResponse::Ok().json(json!({}))
        }
        Ok(_) => unauthorized(),
        Err(e) => e.response(),
    }
}

/// `GET /v2/token?service=arca&scope=repository:NAME:pull,push`: a signed token granting what
/// the caller (Basic credentials, an API token, or anonymous) may do of what it asked.
pub async fn token(req: HttpRequest, arca: web::Data<Arca>) -> HttpResponse {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let creds = match access::credentials(&arca, &req) {
        // A registry token is no credential for getting another.
        Ok(Credentials::Token(_)) | Err(_) => return bad_credentials(),
        Ok(c) => c,
    };
    let subject = match access::subject(&arca, &req, &creds).await {
        Ok(Ok(s)) => s,
        Ok(Err(())) => return bad_credentials(),
        Err(e) => return e.response(),
    };
    // With anonymous access off there is nothing to grant without credentials: say so at once
    // (clients then report "authentication required" instead of retrying a push).
    if subject.anonymous && !arca.security.anonymous_enabled().await.unwrap_or(false) {
        return RegistryError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "anonymous access is disabled: log in first",
        )
        .response();
    }
    let scopes: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        // One parameter may hold several space-separated scopes.
        .flat_map(|(_, v)| v.split(' '))
        .filter(|s| !s.is_empty())
        .collect();
    issue(&arca, &req, &subject, &scopes, false).await
}

/// Signs a token granting what `subject` holds of `scopes`.
async fn issue(
    arca: &Arca,
    req: &HttpRequest,
    subject: &Subject,
    scopes: &[&str],
    oauth: bool,
) -> HttpResponse {
    let mut granted = Vec::new();
    for scope in scopes {
        if let Some(a) = grant(arca, req, subject, scope).await {
            granted.push(a);
        }
    }
    let now = now_ms() / 1000;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: subject.user_id.clone(),
        aud: SERVICE.into(),
        exp: now + TOKEN_TTL_SECS,
        iat: now,
        access: granted,
    };
    let Some(jwt) = arca.security.jwt() else {
        return RegistryError::internal("token signer not initialised").response();
    };
    match jwt.sign(&claims) {
        Ok(t) if oauth => HttpResponse::Ok().json(json!({
            "access_token": t,
            "expires_in": TOKEN_TTL_SECS,
            "scope": scopes.join(" "),
        })),
        Ok(t) => HttpResponse::Ok().json(json!({
            "token": t,
            "access_token": t,
            "expires_in": TOKEN_TTL_SECS,
        })),
        Err(e) => RegistryError::internal(e).response(),
    }
}

/// `POST /v2/token`: the OAuth2 form containerd sends when it has credentials
/// (`grant_type=password`, `username`, `password`, `scope`, `service`).
pub async fn oauth_token(
    req: HttpRequest,
    body: web::Bytes,
    arca: web::Data<Arca>,
) -> HttpResponse {
    let form = web::Query::<Vec<(String, String)>>::from_query(&String::from_utf8_lossy(&body))
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("password") {
        return HttpResponse::BadRequest().json(json!({
            "error": "unsupported_grant_type",
            "error_description": "only grant_type=password is supported",
        }));
    }
    let (Some(user), Some(password)) = (field("username"), field("password")) else {
        return HttpResponse::BadRequest().json(json!({ "error": "invalid_request" }));
    };
    let from = arca_core::auth::client_ip(&arca, &req);
    let subject = match arca.security.login(user, password, from).await {
        Ok(s) => s,
        Err(e @ (AuthError::Throttled(_) | AuthError::Busy)) => {
            return RegistryError::from(e).response();
        }
        Err(AuthError::Meta(e)) => return RegistryError::from(e).response(),
        Err(_) => return bad_credentials(),
    };
    let scopes: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' '))
        .filter(|s| !s.is_empty())
        .collect();
    issue(&arca, &req, &subject, &scopes, true).await
}

fn bad_credentials() -> HttpResponse {
    RegistryError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "incorrect username or password",
    )
    .response()
}

/// The part of one `type:name:actions` scope the subject holds.
async fn grant(arca: &Arca, req: &HttpRequest, subject: &Subject, scope: &str) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if kind == "registry" && name == "catalog" {
        return (!subject.anonymous).then(|| Access {
            kind: kind.into(),
            name: name.into(),
            actions: vec!["*".into()],
        });
    }
    if kind != "repository" {
        return None;
    }
    let target = access::resolve(arca, req, name).await.ok()?;
    // A content-selector privilege may cover only some of the image's paths: the token then
    // carries the action and each request is checked at its own path.
    let image_path = format!("/v2/{}/", target.image);
    let can = |action| access::allowed(subject, &target, action, &image_path);
    let mut out: Vec<String> = Vec::new();
    for a in actions.split(',') {
        let wanted: &[(&str, Action)] = match a {
            "pull" => &[("pull", Action::Read)],
            "push" => &[("push", Action::Add)],
            "delete" => &[("delete", Action::Delete)],
            "*" => &[
                ("pull", Action::Read),
                ("push", Action::Add),
                ("delete", Action::Delete),
            ],
            _ => &[],
        };
        for (n, act) in wanted {
            if can(*act) && !out.iter().any(|x| x == n) {
                out.push((*n).into());
            }
        }
    }
    Some(Access {
        kind: kind.into(),
        name: name.into(),
        actions: out,
    })
}
