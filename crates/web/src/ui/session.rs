//! Sign in and out, and the signed-in user's API tokens.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use arca_core::{Arca, security::AuthError, session};
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
    Ok(render(&Login {
        chrome: page.chrome,
        next: safe_next(q.next.as_deref()),
        user: String::new(),
        error: None,
    }))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
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
    let failed = |status: StatusCode, msg: &str| {
        render_status(
            status,
            &Login {
                chrome: Chrome::bare(),
                next: next.clone(),
                user: form.username.clone(),
                error: Some(msg.to_owned()),
            },
        )
    };
    let subject = match arca
        .security
        .login(form.username.trim(), &form.password)
        .await
    {
        Ok(s) => s,
        Err(AuthError::Meta(e)) => {
            tracing::error!(error = %e, "login failed");
            return failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not check the password; try again.",
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
    HttpResponse::SeeOther()
        .cookie(session::cookie(token, secure(&arca, &req)))
        .insert_header(("location", next))
        .finish()
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf: Option<String>,
}

/// Forgets the session. The form carries the CSRF token so another site cannot sign you out.
pub(crate) async fn logout(
    req: HttpRequest,
    arca: web::Data<Arca>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    if let Some(claims) = session::of_request(&arca, &req)
        && form.csrf.as_deref() != Some(claims.csrf.as_str())
    {
        return HttpResponse::Forbidden().body("missing or wrong CSRF token; reload the page");
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
