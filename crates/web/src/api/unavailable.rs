//! The operations of Nexus 3.94's REST API for features Arca does not have, answered as a Nexus
//! without them answers, from one table.
//!
//! The rule, per feature:
//! - Sonatype Nexus Repository Pro features (Azure, Google Cloud and group blob stores, Crowd,
//!   SAML, the IP allow list, staging, tags, malicious-risk counts, the data store and the
//!   high-availability node endpoints): 402 Payment Required, with a plain-text message, as an
//!   unlicensed Nexus answers a Pro operation.
//! - Features of Nexus's free edition that Arca lacks (LDAP, capabilities, routing rules, the
//!   SSL trust store, Sonatype Repository Firewall, reconciliation plans, support zips, …): as a
//!   Nexus where none is configured and none can be: lists are empty (200 `[]`), a named item is
//!   404 (`LDAP server not found`), and anything that would create, change or run one is 400
//!   with Nexus's `[{"id": "*", "message"}]`.
//!
//! Every row needs `nx-settings-read` (reads) or `nx-settings-update` (the rest), checked before
//! the answer: an anonymous caller gets 401, another without the privilege 403. Routes are full
//! paths with a method guard on the resource, registered before the `/service/rest/v1` scope, so
//! a method a row does not have falls through to Arca's other routes.

use actix_web::{HttpRequest, HttpResponse, guard, http::Method, web};
use arca_core::{
    Arca,
    auth::{Denied, subject_of},
    security::Permission,
};

use crate::error::ValidationErrorXO;

/// What an operation of a feature Arca lacks answers.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// 402: a Pro feature, named.
    Pro(&'static str),
    /// 400 `[{"id":"*","message"}]`: the feature cannot be configured or run in Arca.
    Unsupported(&'static str),
    /// 404 with this message: a named item that cannot exist.
    NotFound(&'static str),
    /// 200 with this JSON: nothing configured.
    Empty(&'static str),
    /// 204: nothing to do.
    NoContent,
}

use Answer::{Empty, NoContent, NotFound, Pro, Unsupported};

/// (method, full path, answer). Paths use actix's `{param}` syntax.
pub const TABLE: &[(&str, &str, Answer)] = &[
    // Pro: high availability and the data store.
    (
        "GET",
        "/service/rest/beta/data-store",
        Pro("Data store management"),
    ),
    (
        "PUT",
        "/service/rest/beta/data-store",
        Pro("Data store management"),
    ),
    (
        "GET",
        "/service/rest/beta/status/check/cluster",
        Pro("High availability"),
    ),
    (
        "GET",
        "/service/rest/beta/status/check/{nodeId}",
        Pro("High availability"),
    ),
    (
        "GET",
        "/service/rest/beta/system/information",
        Pro("High availability"),
    ),
    // Nexus UI internals.
    (
        "GET",
        "/service/rest/internal/ui/api/permissions",
        Unsupported(
            "Arca has no permission map of its API; /service/rest/swagger.json describes it",
        ),
    ),
    (
        "POST",
        "/service/rest/internal/ui/security/access-check",
        Unsupported("Arca has no API access check"),
    ),
    // Secrets encryption.
    (
        "PUT",
        "/service/rest/v1/apikeys/encryption/re-encrypt",
        Unsupported("Arca has no API key encryption key to change"),
    ),
    (
        "PUT",
        "/service/rest/v1/secrets/encryption/re-encrypt",
        Unsupported("Arca has no secrets encryption key to change"),
    ),
    // Pro blob stores.
    (
        "POST",
        "/service/rest/v1/azureblobstore/test-connection",
        Pro("Azure blob stores"),
    ),
    (
        "POST",
        "/service/rest/v1/blobstores/azure",
        Pro("Azure blob stores"),
    ),
    (
        "GET",
        "/service/rest/v1/blobstores/azure/{name}",
        Pro("Azure blob stores"),
    ),
    (
        "PUT",
        "/service/rest/v1/blobstores/azure/{name}",
        Pro("Azure blob stores"),
    ),
    (
        "POST",
        "/service/rest/v1/blobstores/google",
        Pro("Google Cloud blob stores"),
    ),
    (
        "GET",
        "/service/rest/v1/blobstores/google/regions/{projectId}",
        Pro("Google Cloud blob stores"),
    ),
    (
        "GET",
        "/service/rest/v1/blobstores/google/{name}",
        Pro("Google Cloud blob stores"),
    ),
    (
        "PUT",
        "/service/rest/v1/blobstores/google/{name}",
        Pro("Google Cloud blob stores"),
    ),
    (
        "POST",
        "/service/rest/v1/blobstores/group",
        Pro("Group blob stores"),
    ),
    (
        "POST",
        "/service/rest/v1/blobstores/group/convert/{name}/{newNameForOriginal}",
        Pro("Group blob stores"),
    ),
    (
        "GET",
        "/service/rest/v1/blobstores/group/{name}",
        Pro("Group blob stores"),
    ),
    (
        "PUT",
        "/service/rest/v1/blobstores/group/{name}",
        Pro("Group blob stores"),
    ),
    // Capabilities.
    ("GET", "/service/rest/v1/capabilities", Empty("[]")),
    (
        "POST",
        "/service/rest/v1/capabilities",
        Unsupported("Arca has no capabilities"),
    ),
    ("GET", "/service/rest/v1/capabilities/types", Empty("[]")),
    (
        "DELETE",
        "/service/rest/v1/capabilities/{capabilityId}",
        NotFound("Capability not found"),
    ),
    (
        "PUT",
        "/service/rest/v1/capabilities/{capabilityId}",
        NotFound("Capability not found"),
    ),
    // Instance configuration (the migrator's).
    (
        "GET",
        "/service/rest/v1/configuration",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "PUT",
        "/service/rest/v1/configuration",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "GET",
        "/service/rest/v1/configuration/assets",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "POST",
        "/service/rest/v1/configuration/assets/{repositoryName}/import",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "DELETE",
        "/service/rest/v1/configuration/cipher",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "POST",
        "/service/rest/v1/configuration/cipher",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    (
        "POST",
        "/service/rest/v1/configuration/transfer-complete",
        Unsupported("Arca does not export or import a Nexus instance configuration"),
    ),
    // Sonatype Repository Firewall: not configured.
    (
        "GET",
        "/service/rest/v1/iq",
        Empty(r#"{"enabled":false,"showLink":false,"authenticationType":"USER"}"#),
    ),
    (
        "PUT",
        "/service/rest/v1/iq",
        Unsupported("Arca does not connect to Sonatype Repository Firewall"),
    ),
    ("GET", "/service/rest/v1/iq/audit", Empty("[]")),
    (
        "PUT",
        "/service/rest/v1/iq/audit",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "GET",
        "/service/rest/v1/iq/audit/{repositoryName}",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "GET",
        "/service/rest/v1/iq/capabilities",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "POST",
        "/service/rest/v1/iq/capabilities/test",
        Unsupported("Arca does not connect to Sonatype Repository Firewall"),
    ),
    (
        "POST",
        "/service/rest/v1/iq/disable",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "POST",
        "/service/rest/v1/iq/enable",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "POST",
        "/service/rest/v1/iq/test-new-connection",
        Unsupported("Arca does not connect to Sonatype Repository Firewall"),
    ),
    (
        "POST",
        "/service/rest/v1/iq/verify-connection",
        Unsupported("Sonatype Repository Firewall connection not configured"),
    ),
    (
        "GET",
        "/service/rest/v1/malicious-risk/enabledRegistries",
        Pro("Malicious risk"),
    ),
    (
        "GET",
        "/service/rest/v1/malicious-risk/risk-on-disk",
        Pro("Malicious risk"),
    ),
    // Usage figures: Arca's are Prometheus metrics at /metrics.
    ("GET", "/service/rest/v1/monthly-metrics", Empty("[]")),
    (
        "GET",
        "/service/rest/v1/usage-history",
        Unsupported("Arca keeps no usage history; /metrics serves its figures"),
    ),
    // Reconciliation plans and recovery mode: none.
    ("GET", "/service/rest/v1/plan", Empty("[]")),
    ("DELETE", "/service/rest/v1/plan", NoContent),
    (
        "POST",
        "/service/rest/v1/plan",
        Unsupported("Arca has no reconciliation plans"),
    ),
    ("PUT", "/service/rest/v1/plan", NoContent),
    (
        "GET",
        "/service/rest/v1/plan/details",
        Unsupported("Arca has no reconciliation plans"),
    ),
    (
        "DELETE",
        "/service/rest/v1/plan/{planId}",
        NotFound("Plan not found"),
    ),
    (
        "GET",
        "/service/rest/v1/plan/{planId}",
        NotFound("Plan not found"),
    ),
    (
        "PUT",
        "/service/rest/v1/plan/{planId}",
        NotFound("Plan not found"),
    ),
    (
        "POST",
        "/service/rest/v1/recovery-mode",
        Unsupported("Arca has no recovery mode"),
    ),
    (
        "DELETE",
        "/service/rest/v1/recovery-mode",
        Unsupported("Arca has no recovery mode"),
    ),
    // Routing rules.
    ("GET", "/service/rest/v1/routing-rules", Empty("[]")),
    (
        "POST",
        "/service/rest/v1/routing-rules",
        Unsupported("Arca has no routing rules"),
    ),
    (
        "DELETE",
        "/service/rest/v1/routing-rules/{name}",
        NotFound("Routing rule not found"),
    ),
    (
        "GET",
        "/service/rest/v1/routing-rules/{name}",
        NotFound("Routing rule not found"),
    ),
    (
        "PUT",
        "/service/rest/v1/routing-rules/{name}",
        NotFound("Routing rule not found"),
    ),
    // Pro: Crowd, the IP allow list, SAML.
    (
        "GET",
        "/service/rest/v1/security/atlassian-crowd",
        Pro("Atlassian Crowd"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/atlassian-crowd",
        Pro("Atlassian Crowd"),
    ),
    (
        "POST",
        "/service/rest/v1/security/atlassian-crowd/clear-cache",
        Pro("Atlassian Crowd"),
    ),
    (
        "POST",
        "/service/rest/v1/security/atlassian-crowd/verify-connection",
        Pro("Atlassian Crowd"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ip-allowlist",
        Pro("The IP allow list"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ip-allowlist/current-ip",
        Pro("The IP allow list"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/ip-allowlist/entries",
        Pro("The IP allow list"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ip-allowlist/entries",
        Pro("The IP allow list"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ip-allowlist/entries",
        Pro("The IP allow list"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/ip-allowlist/entries/bulk",
        Pro("The IP allow list"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ip-allowlist/entries/bulk",
        Pro("The IP allow list"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/ip-allowlist/entries/{id}",
        Pro("The IP allow list"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/ip-allowlist/mode",
        Pro("The IP allow list"),
    ),
    // LDAP: no servers.
    ("GET", "/service/rest/v1/security/ldap", Empty("[]")),
    (
        "POST",
        "/service/rest/v1/security/ldap",
        Unsupported("Arca has no LDAP realm"),
    ),
    ("DELETE", "/service/rest/v1/security/ldap/cache", NoContent),
    (
        "POST",
        "/service/rest/v1/security/ldap/change-order",
        Unsupported("Arca has no LDAP servers"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ldap/templates",
        Empty("[]"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ldap/verify-connection",
        Unsupported("Arca has no LDAP realm"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ldap/verify-login",
        Unsupported("Arca has no LDAP realm"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ldap/verify-user-mapping",
        Unsupported("Arca has no LDAP realm"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/ldap/{name}",
        NotFound("LDAP server not found"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ldap/{name}",
        NotFound("LDAP server not found"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/ldap/{name}",
        NotFound("LDAP server not found"),
    ),
    ("DELETE", "/service/rest/v1/security/saml", Pro("SAML")),
    ("GET", "/service/rest/v1/security/saml", Pro("SAML")),
    ("PUT", "/service/rest/v1/security/saml", Pro("SAML")),
    (
        "GET",
        "/service/rest/v1/security/saml/metadata",
        Pro("SAML"),
    ),
    ("GET", "/service/rest/v1/security/saml/pem", Pro("SAML")),
    ("GET", "/service/rest/v1/security/saml/users", Pro("SAML")),
    ("POST", "/service/rest/v1/security/saml/users", Pro("SAML")),
    (
        "DELETE",
        "/service/rest/v1/security/saml/users/{userId}",
        Pro("SAML"),
    ),
    (
        "GET",
        "/service/rest/v1/security/saml/users/{userId}",
        Pro("SAML"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/saml/users/{userId}",
        Pro("SAML"),
    ),
    // The SSL trust store: Arca trusts the system's certificate store.
    (
        "GET",
        "/service/rest/v1/security/ssl",
        Unsupported(
            "Arca does not fetch remote certificates; it trusts the system's certificate store",
        ),
    ),
    (
        "GET",
        "/service/rest/v1/security/ssl/truststore",
        Empty("[]"),
    ),
    (
        "POST",
        "/service/rest/v1/security/ssl/truststore",
        Unsupported("Arca trusts the system's certificate store; it has no trust store of its own"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/ssl/truststore/{id}",
        NotFound("Certificate not found"),
    ),
    (
        "GET",
        "/service/rest/v1/security/ssrf-protection",
        Unsupported("Arca has no SSRF protection settings"),
    ),
    (
        "PUT",
        "/service/rest/v1/security/ssrf-protection",
        Unsupported("Arca has no SSRF protection settings"),
    ),
    // Nexus's per-user user tokens (name code and pass code): Arca's API tokens are not those.
    (
        "GET",
        "/service/rest/v1/security/user-tokens/tokens",
        Unsupported("User tokens are not enabled: Arca's API tokens are at /v1/security/tokens"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/users/{userId}/{realm}/user-token",
        Unsupported("User tokens are not enabled: Arca's API tokens are at /v1/security/tokens"),
    ),
    (
        "GET",
        "/service/rest/v1/security/users/{userId}/{realm}/user-token",
        Unsupported("User tokens are not enabled: Arca's API tokens are at /v1/security/tokens"),
    ),
    (
        "POST",
        "/service/rest/v1/security/users/{userId}/{realm}/user-token",
        Unsupported("User tokens are not enabled: Arca's API tokens are at /v1/security/tokens"),
    ),
    (
        "DELETE",
        "/service/rest/v1/security/users/{userId}/{realm}/user-token-reset",
        Unsupported("User tokens are not enabled: Arca's API tokens are at /v1/security/tokens"),
    ),
    // Pro: staging and tags.
    ("POST", "/service/rest/v1/staging/delete", Pro("Staging")),
    (
        "POST",
        "/service/rest/v1/staging/move/{destination}",
        Pro("Staging"),
    ),
    (
        "POST",
        "/service/rest/v1/support/supportzip",
        Unsupported("Arca makes no support zip; its log and /metrics tell its state"),
    ),
    (
        "POST",
        "/service/rest/v1/support/supportzippath",
        Unsupported("Arca makes no support zip; its log and /metrics tell its state"),
    ),
    // Licences: Arca needs none.
    (
        "GET",
        "/service/rest/v1/system/license",
        NotFound("No license installed"),
    ),
    ("DELETE", "/service/rest/v1/system/license", NoContent),
    (
        "POST",
        "/service/rest/v1/system/license",
        Unsupported("Arca takes no license"),
    ),
    ("GET", "/service/rest/v1/tags", Pro("Tags")),
    ("POST", "/service/rest/v1/tags", Pro("Tags")),
    (
        "DELETE",
        "/service/rest/v1/tags/associate/{tagName}",
        Pro("Tags"),
    ),
    (
        "POST",
        "/service/rest/v1/tags/associate/{tagName}",
        Pro("Tags"),
    ),
    ("DELETE", "/service/rest/v1/tags/{name}", Pro("Tags")),
    ("GET", "/service/rest/v1/tags/{name}", Pro("Tags")),
    ("PUT", "/service/rest/v1/tags/{name}", Pro("Tags")),
];

/// The answer, once the caller holds `nx-settings-read` (GET) or `nx-settings-update`.
async fn answer(req: HttpRequest, arca: web::Data<Arca>, a: Answer) -> HttpResponse {
    let action = if req.method() == Method::GET {
        "read"
    } else {
        "update"
    };
    let allowed = match subject_of(&req).await {
        Ok(subject) => arca
            .security
            .authorize(
                &subject,
                &Permission::App {
                    domain: "settings",
                    action,
                },
            )
            .map_err(Denied),
        Err(denied) => Err(denied),
    };
    if let Err(denied) = allowed {
        return actix_web::ResponseError::error_response(&denied);
    }
    match a {
        Pro(feature) => HttpResponse::PaymentRequired()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "{feature} is a Sonatype Nexus Repository Pro feature; Arca does not have it"
            )),
        Unsupported(message) => HttpResponse::BadRequest().json([ValidationErrorXO {
            id: "*".into(),
            message: message.into(),
        }]),
        NotFound(message) => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(message),
        Empty(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        NoContent => HttpResponse::NoContent().finish(),
    }
}

/// One resource per row, guarded by its method (so other methods fall through).
pub fn configure(cfg: &mut web::ServiceConfig) {
    for &(method, path, a) in TABLE {
        let m = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        cfg.service(
            web::resource(path)
                .guard(guard::Method(m))
                .to(move |req: HttpRequest, arca: web::Data<Arca>| answer(req, arca, a)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::TABLE;

    const NEXUS_DOC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/nexus-openapi-3.94.yaml"
    ));

    /// Whether Nexus's document has `method path` (`path` under `/service/rest`): its `paths:`
    /// section lists each path at two spaces' indent and its operations at four.
    fn documented(method: &str, path: &str) -> bool {
        let mut in_paths = false;
        let mut here = false;
        for line in NEXUS_DOC.lines() {
            if !line.starts_with(' ') && !line.is_empty() {
                in_paths = line == "paths:";
                continue;
            }
            if !in_paths {
                continue;
            }
            if let Some(p) = line.strip_prefix("  /") {
                here = format!("/{}", p.trim_end_matches(':')) == path;
            } else if here && line == format!("    {}:", method.to_ascii_lowercase()) {
                return true;
            }
        }
        false
    }

    /// Every row is an operation of Nexus's document (parameter names as Nexus writes them),
    /// once, and none is one Arca serves for real (its OpenAPI document).
    #[test]
    fn rows_are_nexus_operations_arca_does_not_serve() {
        let arca = super::super::openapi::json().expect("Arca's document");
        let arca: serde_json::Value = serde_json::from_str(arca).expect("JSON");
        let mut seen = std::collections::HashSet::new();
        for (method, path, _) in TABLE {
            assert!(seen.insert((method, path)), "{method} {path} twice");
            let rel = path
                .strip_prefix("/service/rest")
                .expect("under /service/rest");
            assert!(documented(method, rel), "{method} {rel} is not Nexus's");
            let served = arca["paths"][*path][method.to_ascii_lowercase()].is_object();
            assert!(!served, "{method} {path} is served by a handler too");
        }
        assert!(TABLE.len() > 100);
    }
}
