//! Nexus's system settings that Arca answers from what it has: this node's id, email (Arca
//! sends none: not configured, and it stays so), the outbound HTTP settings (from the
//! environment Arca's proxy client reads), and the Community Edition EULA (Arca has none to
//! accept).

use actix_web::{HttpResponse, guard, web};
use arca_core::auth::Guard;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{SettingsRead, SettingsUpdate};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |p: &str| web::resource(format!("/service/rest/v1{p}"));
    cfg.service(r("/system/node").guard(guard::Get()).to(node))
        .service(r("/system/node").guard(guard::Delete()).to(reset_node))
        .service(r("/email").guard(guard::Get()).to(get_email))
        .service(r("/email").guard(guard::Put()).to(put_email))
        .service(r("/email").guard(guard::Delete()).to(delete_email))
        .service(r("/email/verify").guard(guard::Post()).to(verify_email))
        .service(r("/http").guard(guard::Get()).to(get_http))
        .service(r("/http").guard(guard::Put()).to(put_http))
        .service(r("/http").guard(guard::Delete()).to(delete_http))
        .service(r("/system/eula").guard(guard::Get()).to(get_eula))
        .service(r("/system/eula").guard(guard::Post()).to(post_eula));
}

// ------------------------------------------------------------------ node

/// Nexus's `NodeInformation`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeInformation {
    /// This node's id: the name it announces itself by to the cluster, new at every start.
    node_id: String,
}

/// Get this node's id.
#[utoipa::path(
    get,
    path = "/service/rest/v1/system/node",
    tag = "System: Nodes",
    responses(
        (status = 200, description = "This node", body = NodeInformation),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn node(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok().json(NodeInformation {
        node_id: arca_core::cluster::node_id().to_owned(),
    })
}

/// Reset this node's id at its next start: Arca's node ids are new at every start already.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/system/node",
    tag = "System: Nodes",
    responses(
        (status = 204, description = "The node takes a new id when it restarts"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn reset_node(_g: Guard<SettingsUpdate>) -> HttpResponse {
    HttpResponse::NoContent().finish()
}

// ------------------------------------------------------------------ email

/// Nexus's `ApiEmailConfiguration`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiEmailConfiguration {
    #[serde(default)]
    enabled: bool,
    host: String,
    port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    from_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_prefix: Option<String>,
    #[serde(default)]
    start_tls_enabled: bool,
    #[serde(default)]
    start_tls_required: bool,
    #[serde(default)]
    ssl_on_connect_enabled: bool,
    #[serde(default)]
    ssl_server_identity_check_enabled: bool,
    #[serde(default)]
    nexus_trust_store_enabled: bool,
}

/// Nexus's `ApiEmailValidation`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiEmailValidation {
    success: bool,
    reason: String,
}

const NO_EMAIL: &str = "Arca sends no email";

/// Get the email configuration: disabled, with Nexus's defaults.
#[utoipa::path(
    get,
    path = "/service/rest/v1/email",
    tag = "Email",
    responses(
        (status = 200, description = "Email is disabled", body = ApiEmailConfiguration),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn get_email(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok().json(ApiEmailConfiguration {
        enabled: false,
        host: "localhost".into(),
        port: 25,
        username: None,
        password: None,
        from_address: "nexus@example.org".into(),
        subject_prefix: None,
        start_tls_enabled: false,
        start_tls_required: false,
        ssl_on_connect_enabled: false,
        ssl_server_identity_check_enabled: false,
        nexus_trust_store_enabled: false,
    })
}

/// Set the email configuration: a disabled one is accepted (nothing changes), enabling is 400.
#[utoipa::path(
    put,
    path = "/service/rest/v1/email",
    tag = "Email",
    request_body = ApiEmailConfiguration,
    responses(
        (status = 204, description = "Email stays disabled"),
        (status = 400, description = "Enabling email: Arca sends none", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn put_email(
    _g: Guard<SettingsUpdate>,
    body: web::Json<ApiEmailConfiguration>,
) -> Result<HttpResponse, ApiError> {
    if body.enabled {
        return Err(ApiError::invalid("enabled", NO_EMAIL));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Disable and clear the email configuration: it is.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/email",
    tag = "Email",
    responses(
        (status = 204, description = "Email is disabled"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn delete_email(_g: Guard<SettingsUpdate>) -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// Send a test email: none is sent, 400.
#[utoipa::path(
    post,
    path = "/service/rest/v1/email/verify",
    tag = "Email",
    request_body(content = String, description = "An email address", content_type = "text/plain"),
    responses(
        (status = 200, description = "Not answered: Arca sends no email (Nexus's answer for a sent one)", body = ApiEmailValidation),
        (status = 400, description = "Arca sends no email", body = ApiEmailValidation),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn verify_email(_g: Guard<SettingsUpdate>) -> HttpResponse {
    HttpResponse::BadRequest().json(ApiEmailValidation {
        success: false,
        reason: NO_EMAIL.into(),
    })
}

// ------------------------------------------------------------------ http

/// Nexus's `AuthSettingsXo`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthSettingsXo {
    enabled: bool,
    username: String,
    /// Never sent back.
    password: String,
    ntlm_host: String,
    ntlm_domain: String,
}

/// Nexus's `ProxySettingsXo`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProxySettingsXo {
    enabled: bool,
    host: String,
    port: String,
    auth_info: AuthSettingsXo,
}

/// Nexus's `HttpSettingsXo`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpSettingsXo {
    /// `enabled: false` when none is set.
    http_proxy: ProxySettingsXo,
    https_proxy: ProxySettingsXo,
    #[serde(default)]
    #[schema(nullable = true)]
    non_proxy_hosts: Option<Vec<String>>,
    /// Connection/socket retry attempts: Arca makes none.
    #[schema(minimum = 0, maximum = 10)]
    retries: i32,
    /// Connection/socket timeout, seconds: a proxy repository's default.
    #[schema(minimum = 1, maximum = 3600)]
    timeout: i32,
    /// User-Agent customization: none (`""`).
    user_agent: String,
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .filter(|v| !v.trim().is_empty())
}

/// A proxy URL (`http://user:pass@host:port/`, or `host:port`) as Nexus's settings
/// (credentials named, the password never).
fn proxy_of(url: Option<String>) -> Option<ProxySettingsXo> {
    let url = url?;
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let authority = rest.split('/').next().unwrap_or_default();
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => (userinfo.split(':').next().unwrap_or_default(), hp),
        None => ("", authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, p.to_owned()),
        _ => (
            hostport,
            if scheme.eq_ignore_ascii_case("https") {
                "443"
            } else {
                "80"
            }
            .to_owned(),
        ),
    };
    if host.is_empty() {
        return None;
    }
    Some(ProxySettingsXo {
        enabled: true,
        host: host.trim_matches(['[', ']']).to_owned(),
        port,
        auth_info: AuthSettingsXo {
            enabled: !user.is_empty(),
            username: user.to_owned(),
            password: String::new(),
            ntlm_host: String::new(),
            ntlm_domain: String::new(),
        },
    })
}

/// No proxy.
fn unset_proxy() -> ProxySettingsXo {
    ProxySettingsXo {
        enabled: false,
        host: String::new(),
        port: String::new(),
        auth_info: AuthSettingsXo {
            enabled: false,
            username: String::new(),
            password: String::new(),
            ntlm_host: String::new(),
            ntlm_domain: String::new(),
        },
    }
}

/// What Arca's outbound client uses: the proxies of `HTTP_PROXY`, `HTTPS_PROXY` (or
/// `ALL_PROXY`) and `NO_PROXY`, as reqwest reads them.
fn current_http() -> HttpSettingsXo {
    let all = env(&["ALL_PROXY", "all_proxy"]);
    let no_proxy = env(&["NO_PROXY", "no_proxy"]).map(|v| {
        v.split(',')
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>()
    });
    HttpSettingsXo {
        http_proxy: proxy_of(env(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone()))
            .unwrap_or_else(unset_proxy),
        https_proxy: proxy_of(env(&["HTTPS_PROXY", "https_proxy"]).or(all))
            .unwrap_or_else(unset_proxy),
        non_proxy_hosts: no_proxy,
        retries: 0,
        timeout: 60,
        user_agent: String::new(),
    }
}

const FROM_ENV: &str = "Arca's outbound HTTP settings come from its environment (HTTP_PROXY, \
    HTTPS_PROXY, NO_PROXY); a proxy repository sets its own timeout and credentials";

/// Get the HTTP settings: the outbound proxies Arca uses, from its environment.
#[utoipa::path(
    get,
    path = "/service/rest/v1/http",
    tag = "Manage Sonatype HTTP System Settings",
    responses(
        (status = 200, description = "The outbound HTTP settings", body = HttpSettingsXo),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn get_http(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok().json(current_http())
}

/// The parts of HTTP settings Arca has, comparable: proxies (enabled, host, port) and the
/// hosts that bypass them.
fn essence(v: &Value) -> Value {
    let proxy = |p: &Value| match p.get("enabled").and_then(Value::as_bool) {
        Some(true) => serde_json::json!([
            p.get("host"),
            p.get("port").map(|x| match x {
                Value::Number(n) => Value::String(n.to_string()),
                x => x.clone(),
            })
        ]),
        _ => Value::Null,
    };
    let mut hosts: Vec<String> = v
        .get("nonProxyHosts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    hosts.sort();
    hosts.dedup();
    serde_json::json!([
        proxy(v.get("httpProxy").unwrap_or(&Value::Null)),
        proxy(v.get("httpsProxy").unwrap_or(&Value::Null)),
        hosts,
    ])
}

/// Update the HTTP settings: 204 when they are what Arca uses already, else 400 (they are set
/// in Arca's environment).
#[utoipa::path(
    put,
    path = "/service/rest/v1/http",
    tag = "Manage Sonatype HTTP System Settings",
    request_body = HttpSettingsXo,
    responses(
        (status = 204, description = "The settings are Arca's already"),
        (status = 400, description = "Other settings: set them in Arca's environment", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn put_http(
    _g: Guard<SettingsUpdate>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let current = serde_json::to_value(current_http()).unwrap_or_default();
    if essence(&body) == essence(&current) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::invalid("*", FROM_ENV))
    }
}

/// Reset the HTTP settings: 204 when no proxy is set, else 400 (set in the environment).
#[utoipa::path(
    delete,
    path = "/service/rest/v1/http",
    tag = "Manage Sonatype HTTP System Settings",
    responses(
        (status = 204, description = "No proxy is set"),
        (status = 400, description = "Proxies are set in Arca's environment", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn delete_http(_g: Guard<SettingsUpdate>) -> Result<HttpResponse, ApiError> {
    let c = current_http();
    if !c.http_proxy.enabled && !c.https_proxy.enabled && c.non_proxy_hosts.is_none() {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::invalid("*", FROM_ENV))
    }
}

// ------------------------------------------------------------------ EULA

/// Nexus's `EulaStatus`.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct EulaStatus {
    #[serde(default)]
    accepted: bool,
    #[serde(default)]
    disclaimer: String,
}

const DISCLAIMER: &str = "Arca is Apache-2.0 licensed; there is no EULA to accept.";

/// Get the EULA status: accepted (there is none).
#[utoipa::path(
    get,
    path = "/service/rest/v1/system/eula",
    tag = "Community Edition Eula",
    responses(
        (status = 200, description = "Nothing to accept", body = EulaStatus),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn get_eula(_g: Guard<SettingsRead>) -> HttpResponse {
    HttpResponse::Ok().json(EulaStatus {
        accepted: true,
        disclaimer: DISCLAIMER.into(),
    })
}

/// Set the EULA status: accepting is 204; declining is 400 (there is nothing to decline).
#[utoipa::path(
    post,
    path = "/service/rest/v1/system/eula",
    tag = "Community Edition Eula",
    request_body = EulaStatus,
    responses(
        (status = 204, description = "Accepted"),
        (status = 400, description = "`accepted` is false", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn post_eula(
    _g: Guard<SettingsUpdate>,
    body: web::Json<EulaStatus>,
) -> Result<HttpResponse, ApiError> {
    if body.accepted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::invalid("accepted", DISCLAIMER))
    }
}
