//! Browser sessions: a signed JWT (audience [`AUDIENCE`]) in an HttpOnly, SameSite=Strict cookie,
//! carrying a per-session CSRF token. Every state-changing request authenticated by the cookie
//! must echo that token in [`CSRF_HEADER`] (the UI's scripts do; another site cannot read it),
//! so the REST API serves the UI with the same handlers, checks and errors as any other client.

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::Method,
};
use serde::{Deserialize, Serialize};

use crate::{
    jwt::{ISSUER, Jwt, JwtError},
    model::now_ms,
    security::random_secret,
    state::Arca,
};

pub const COOKIE: &str = "arca_session";
pub const AUDIENCE: &str = "arca-ui";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session lasts a working day; signing in again starts a new one.
pub const TTL_SECS: i64 = 8 * 3600;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The CSRF token pages embed and scripts send back.
    pub csrf: String,
    /// When it was signed, in ms: a sign-out or password change after that ends it.
    #[serde(default)]
    pub iat_ms: i64,
}

/// Signs a new session for `user`.
pub fn issue(jwt: &Jwt, user: &str) -> Result<(String, SessionClaims), JwtError> {
    let ms = now_ms();
    let now = ms / 1000;
    let claims = SessionClaims {
        iss: ISSUER.into(),
        sub: user.to_owned(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + TTL_SECS,
        csrf: random_secret(32),
        iat_ms: ms,
    };
    Ok((jwt.sign(&claims)?, claims))
}

/// The session the request's cookie carries, if it is valid (signature, algorithm, expiry,
/// audience); an invalid or expired one counts as none.
pub fn of_request(arca: &Arca, req: &HttpRequest) -> Option<SessionClaims> {
    let cookie = req.cookie(COOKIE)?;
    let jwt = arca.security.jwt()?;
    jwt.verify::<SessionClaims>(cookie.value(), AUDIENCE)
        .map_err(|e| tracing::debug!(error = %e, "session cookie refused"))
        .ok()
}

/// Methods that change nothing, so need no CSRF token.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request carries the session's CSRF token.
pub fn csrf_ok(req: &HttpRequest, claims: &SessionClaims) -> bool {
    is_safe(req.method())
        || req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| constant_time_eq(v.as_bytes(), claims.csrf.as_bytes()))
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session cookie; `Secure` when the browser reached Arca over HTTPS.
pub fn cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::seconds(TTL_SECS))
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie(String::new(), secure);
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_and_refusals() {
        let jwt = Jwt::from_secret(b"k");
        let (token, claims) = issue(&jwt, "alice").expect("sign");
        let back: SessionClaims = jwt.verify(&token, AUDIENCE).expect("verify");
        assert_eq!(back.sub, "alice");
        assert_eq!(back.csrf, claims.csrf);
        assert_eq!(claims.csrf.len(), 32);
        // A registry token (another audience) is no session, nor is a session a registry token.
        assert!(jwt.verify::<SessionClaims>(&token, "arca").is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let c = cookie(token, true);
        assert!(c.http_only().unwrap_or(false));
        assert_eq!(c.same_site(), Some(SameSite::Strict));
        assert!(c.secure().unwrap_or(false));
    }
}
