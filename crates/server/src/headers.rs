//! Security headers on every response.
//!
//! Repository content (`/repository/…`, `/v2/…`) is whatever users uploaded: a javadoc page, an
//! SVG, a POM with XHTML script. Served on Arca's origin it could read the UI's CSRF token and
//! drive the admin API as whoever opened it, so it is sandboxed (a unique origin, no scripts,
//! nothing loaded) and never sniffed into an active type. Arca's own pages get a strict policy:
//! scripts and styles from `/static` only, no framing, no referrer beyond the origin.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderName, HeaderValue},
    middleware::Next,
};

/// Content users uploaded: a sandbox of its own, nothing loaded, not even by an HTML listing.
pub const CONTENT_CSP: &str = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'";
/// Arca's UI and API pages.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn is_content(path: &str) -> bool {
    path.starts_with("/repository/") || path == "/v2" || path.starts_with("/v2/")
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let content = is_content(req.path());
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::CONTENT_SECURITY_POLICY,
        if content { CONTENT_CSP } else { UI_CSP },
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_paths() {
        assert!(super::is_content("/repository/x/a.html"));
        assert!(super::is_content("/v2/"));
        assert!(!super::is_content("/ui/browse"));
        assert!(!super::is_content("/repositoryx"));
    }
}
