//! Sign in and out, and the signed-in user's API tokens.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{
    Arca,
    security::{AuthError, Via, random_secret},
    session,
};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Page, UiError, render, render_status, when};

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    chrome: Chrome,
    next: String,
    user: String,
    error: Option<String>,
    /// Echoed by the form; must match the [`LOGIN_COOKIE`] the page set.
    csrf: String,
}

/// The sign-in form's CSRF cookie (double submit): SameSite=Strict, so a form posted from
/// another site arrives without it and cannot sign the browser in to an attacker's account.
const LOGIN_COOKIE: &str = "arca_login";

fn login_cookie(value: String, secure: bool) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(LOGIN_COOKIE, value)
        .path("/ui/login")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::hours(1))
        .finish()
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Only a path on this server: `/x`, never `//host` or `https://...`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".into(),
    }
}

pub(crate) async fn login_form(
    req: HttpRequest,
    arca: web::Data<Arca>,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "login").await?;
    let csrf = random_secret(32);
    let mut r = render(&Login {
        chrome: page.chrome,
        next: safe_next(q.next.as_deref()),
        user: String::new(),
        error: None,
        csrf: csrf.clone(),
    });
    let _ = r.add_cookie(&login_cookie(csrf, secure(&arca, &req)));
    Ok(r)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
    csrf: Option<String>,
}

fn secure(arca: &Arca, req: &HttpRequest) -> bool {
    arca.settings
        .public
        .for_request(req)
        .starts_with("https://")
}

/// Checks the password as every login does (with its backoff), then sets the session cookie.
pub(crate) async fn login(
    req: HttpRequest,
    arca: web::Data<Arca>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let next = safe_next(form.next.as_deref());
    let is_secure = secure(&arca, &req);
    let failed = |status: StatusCode, msg: &str| {
        // A fresh form token with every answer, so the next attempt can be sent.
        let csrf = random_secret(32);
        let mut r = render_status(
            status,
            &Login {
                chrome: Chrome::bare(),
                next: next.clone(),
                user: form.username.clone(),
                error: Some(msg.to_owned()),
                csrf: csrf.clone(),
            },
        );
        let _ = r.add_cookie(&login_cookie(csrf, is_secure));
        r
    };
    let cookie = req.cookie(LOGIN_COOKIE);
    let csrf_ok = match (cookie.as_ref(), form.csrf.as_deref()) {
        (Some(c), Some(f)) => {
            !f.is_empty() && session::constant_time_eq(c.value().as_bytes(), f.as_bytes())
        }
        _ => false,
    };
    if !csrf_ok {
        return failed(
            StatusCode::FORBIDDEN,
            "The sign-in form expired or came from another site; sign in again.",
        );
    }
    let from = arca_core::auth::client_ip(&arca, &req);
    let subject = match arca
        .security
        .login(form.username.trim(), &form.password, from)
        .await
    {
        Ok(s) if s.via == Via::Password => s,
        Ok(_) => {
            return failed(
                StatusCode::UNAUTHORIZED,
                "Sign in with your password; API tokens are for clients.",
            );
        }
        Err(AuthError::Meta(e)) => {
            tracing::error!(error = %e, "login failed");
            return failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not check the password; try again.",
            );
        }
        Err(e @ AuthError::Throttled(_)) => {
            return failed(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Sign-in refused: {e}."),
            );
        }
        Err(AuthError::Busy) => {
            return failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy checking other sign-ins; try again in a moment.",
            );
        }
        Err(_) => {
            return failed(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
        }
    };
    let Some(jwt) = arca.security.jwt() else {
        return failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sessions are not available.",
        );
    };
    let token = match session::issue(jwt, &subject.user_id) {
        Ok((t, _)) => t,
        Err(e) => {
            tracing::error!(error = %e, "signing a session failed");
            return failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sessions are not available.",
            );
        }
    };
    tracing::info!(user = %subject.user_id, "signed in to the web UI");
    let mut spent = login_cookie(String::new(), is_secure);
    spent.make_removal();
    HttpResponse::SeeOther()
        .cookie(session::cookie(token, is_secure))
        .cookie(spent)
        .insert_header(("location", next))
        .finish()
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf: Option<String>,
}

/// Ends the session: the browser forgets the cookie, and the user's sessions signed until now
/// stop working on every node (a copied cookie too). The form carries the CSRF token so
/// another site cannot sign you out.
pub(crate) async fn logout(
    req: HttpRequest,
    arca: web::Data<Arca>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    if let Some(claims) = session::of_request(&arca, &req) {
        if !form
            .csrf
            .as_deref()
            .is_some_and(|f| session::constant_time_eq(f.as_bytes(), claims.csrf.as_bytes()))
        {
            return HttpResponse::Forbidden().body("missing or wrong CSRF token; reload the page");
        }
        if let Err(e) = arca.security.end_sessions(&claims.sub).await {
            tracing::error!(error = %e, user = %claims.sub, "could not end the sessions");
            return HttpResponse::InternalServerError().body("sign-out failed; try again");
        }
        tracing::info!(user = %claims.sub, "signed out of the web UI");
    }
    HttpResponse::SeeOther()
        .cookie(session::removal(secure(&arca, &req)))
        .insert_header(("location", "/"))
        .finish()
}

pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct Tokens {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
}

/// The signed-in user's API tokens; created and revoked through `security/tokens`.
pub(crate) async fn tokens(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "tokens").await?;
    if page.subject.anonymous {
        return Err(UiError::SignIn("/ui/tokens".into()));
    }
    let tokens = arca
        .db
        .list_tokens(&page.subject.user_id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: when(t.created_ms),
            expires: t.expires_ms.map(when).unwrap_or_else(|| "never".into()),
            last_used: t.last_used_ms.map(when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(render(&Tokens {
        chrome: page.chrome,
        tokens,
    }))
}
