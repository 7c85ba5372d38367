//! The OpenAPI document of the REST API, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `/service/rest/swagger.json` (where Nexus serves its own).

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::{
    blobstores, cleanup, components, misc, privileges, repositories, repository_schemas, search,
    security, status, system, tasks, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Arca REST API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Arca's REST admin API: Nexus Repository 3's paths, shapes and status codes \
            under `/service/rest/v1`, so tools written for Nexus work by changing the base URL. \
            Send HTTP basic credentials or an API token as a bearer token.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        status::status,
        status::writable,
        status::check,
        repositories::list,
        repositories::settings,
        repositories::get_one,
        repositories::delete,
        repositories::create,
        repositories::get_typed,
        repositories::update,
        blobstores::list,
        blobstores::quota,
        blobstores::delete,
        blobstores::create_file,
        blobstores::get_file,
        blobstores::update_file,
        blobstores::create_s3,
        blobstores::get_s3,
        blobstores::update_s3,
        components::list_components,
        components::upload_component,
        components::get_component,
        components::delete_component,
        components::list_assets,
        components::get_asset,
        components::delete_asset,
        search::search,
        search::search_assets,
        search::download,
        misc::upload_specs,
        misc::upload_spec,
        users::list_users,
        users::create_user,
        users::update_user,
        users::delete_user,
        security::change_password,
        users::list_roles,
        users::create_role,
        users::get_role,
        users::update_role,
        users::delete_role,
        users::user_sources,
        privileges::list_privileges,
        privileges::get_privilege,
        privileges::delete_privilege,
        privileges::create_application,
        privileges::update_application,
        privileges::create_repository_view,
        privileges::update_repository_view,
        privileges::create_repository_admin,
        privileges::update_repository_admin,
        privileges::create_repository_content_selector,
        privileges::update_repository_content_selector,
        privileges::create_wildcard,
        privileges::update_wildcard,
        privileges::list_selectors,
        privileges::get_selector,
        privileges::create_selector,
        privileges::update_selector,
        privileges::delete_selector,
        security::get_anonymous,
        security::put_anonymous,
        security::list_tokens,
        security::create_token,
        security::delete_token,
        tasks::list,
        tasks::get,
        tasks::run,
        tasks::stop,
        tasks::templates,
        tasks::template,
        tasks::create,
        tasks::update,
        tasks::delete,
        misc::audit_log,
        cleanup::list,
        cleanup::create,
        cleanup::get,
        cleanup::update,
        cleanup::delete,
        cleanup::run,
        system::read_only,
        system::freeze,
        system::release,
        system::force_release,
        system::phase,
        system::set_phase,
        system::bounce,
        pypi_yank,
        pypi_unyank,
        cleanup::v1_list,
        cleanup::v1_create,
        cleanup::v1_get,
        cleanup::v1_update,
        cleanup::v1_delete,
        super::admin::realms_available,
        super::admin::realms_active,
        super::admin::set_realms_active,
        super::admin::get_user_tokens,
        super::admin::put_user_tokens,
        super::admin::reset_user_tokens,
        super::admin::enable_health_check,
        super::admin::disable_health_check,
        super::admin::invalidate_cache,
        super::admin::rebuild_index,
        super::admin::suggest,
        super::admin::list_scripts,
        super::admin::add_script,
        super::admin::get_script,
        super::admin::replace_script,
        super::admin::delete_script,
        super::admin::run_script,
        privileges::create_script,
        privileges::update_script,
        super::browse::browse,
        super::browse::delete_folder,
        super::system_settings::node,
        super::system_settings::reset_node,
        super::system_settings::get_email,
        super::system_settings::put_email,
        super::system_settings::delete_email,
        super::system_settings::verify_email,
        super::system_settings::get_http,
        super::system_settings::put_http,
        super::system_settings::delete_http,
        super::system_settings::get_eula,
        super::system_settings::post_eula,
    ),
    components(schemas(
        crate::error::ValidationErrorXO,
        repository_schemas::RepositoryFormat,
        repository_schemas::RepositoryType,
        repository_schemas::MavenHostedRepositoryApiRequest,
        repository_schemas::MavenProxyRepositoryApiRequest,
        repository_schemas::MavenGroupRepositoryApiRequest,
        repository_schemas::PypiHostedRepositoryApiRequest,
        repository_schemas::PypiProxyRepositoryApiRequest,
        repository_schemas::PypiGroupRepositoryApiRequest,
        repository_schemas::DockerHostedRepositoryApiRequest,
        repository_schemas::DockerProxyRepositoryApiRequest,
        repository_schemas::DockerGroupRepositoryApiRequest,
        repository_schemas::YumHostedRepositoryApiRequest,
        repository_schemas::YumProxyRepositoryApiRequest,
        repository_schemas::YumGroupRepositoryApiRequest,
        repository_schemas::RawHostedRepositoryApiRequest,
        repository_schemas::RawProxyRepositoryApiRequest,
        repository_schemas::RawGroupRepositoryApiRequest,
    )),
    modifiers(&SecuritySchemes),
    security(("BasicAuth" = []), ("BearerAuth" = [])),
    tags(
        (name = "Status", description = "Health checks"),
        (name = "Repository Management"),
        (name = "Blob store"),
        (name = "Components"),
        (name = "Assets"),
        (name = "Search"),
        (name = "Formats"),
        (name = "Security management: users"),
        (name = "Security management: roles"),
        (name = "Security management"),
        (name = "Security management: anonymous access"),
        (name = "Security management: privileges"),
        (name = "Content selectors"),
        (name = "Security management: API tokens", description = "Arca's own: tokens for `Authorization: Bearer`"),
        (name = "Cleanup policies", description = "Delete components by age, downloads, release type or path"),
        (name = "Read-only", description = "Freeze writes for a consistent backup"),
        (name = "Lifecycle", description = "Start-up phases (Arca is always fully started)"),
        (name = "Tasks"),
        (name = "Audit", description = "Arca's own: the audit log of changes"),
        (name = "PyPI", description = "Arca's own: PEP 592 yanking in hosted PyPI repositories"),
        (name = "Security management: realms"),
        (name = "Security management: user tokens", description = "Nexus's user-token settings, over Arca's API tokens"),
        (name = "Script", description = "Answered as Nexus with script creation disabled: Arca runs no scripts"),
        (name = "Repository Browse", description = "A repository's folders"),
        (name = "System: Nodes"),
        (name = "Email", description = "Arca sends no email: disabled, and it stays so"),
        (name = "Manage Sonatype HTTP System Settings", description = "The outbound proxies, from Arca's environment"),
        (name = "Community Edition Eula", description = "Arca has no EULA"),
    ),
)]
pub struct ApiDoc;

// Routes a format registers (`Format::configure`), described here.

/// Why a release is yanked.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PypiYankRequest {
    #[schema(nullable = false)]
    reason: Option<String>,
}

/// What a yank or unyank changed.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PypiYankResultXO {
    /// The normalized project name.
    project: String,
    version: String,
    yanked: bool,
    /// How many files of the release were marked.
    #[schema(minimum = 1)]
    files: i64,
}

/// Yank a release (PEP 592).
///
/// Served by the pypi format; installers skip yanked files unless pinned to them.
#[utoipa::path(
    post,
    path = "/service/rest/v1/pypi/{repository}/{project}/{version}/yank",
    tag = "PyPI",
    params(
        ("repository" = String, Path, description = "A hosted PyPI repository"),
        ("project" = String, Path, description = "The project (any spelling that normalizes to it)"),
        ("version" = String, Path, description = "The release"),
    ),
    request_body(content = Option<PypiYankRequest>, description = "Optional"),
    responses(
        (status = 200, description = "Release yanked", body = PypiYankResultXO),
        (status = 400, description = "Not a hosted PyPI repository", body = String, content_type = "text/plain"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository or release not found", body = String, content_type = "text/plain"),
    ),
)]
#[allow(dead_code)]
fn pypi_yank() {}

/// Unyank a release (PEP 592).
#[utoipa::path(
    delete,
    path = "/service/rest/v1/pypi/{repository}/{project}/{version}/yank",
    tag = "PyPI",
    params(
        ("repository" = String, Path, description = "A hosted PyPI repository"),
        ("project" = String, Path, description = "The project (any spelling that normalizes to it)"),
        ("version" = String, Path, description = "The release"),
    ),
    responses(
        (status = 200, description = "Release no longer yanked", body = PypiYankResultXO),
        (status = 400, description = "Not a hosted PyPI repository", body = String, content_type = "text/plain"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Repository or release not found", body = String, content_type = "text/plain"),
    ),
)]
#[allow(dead_code)]
fn pypi_unyank() {}

/// `BasicAuth` (user and password, or user and API token) and `BearerAuth` (an API token).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BasicAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as JSON, built once.
pub fn json() -> Result<&'static str, &'static str> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(String::as_str)
}

async fn swagger_json() -> HttpResponse {
    match json() {
        Ok(doc) => HttpResponse::Ok()
            .content_type("application/json")
            .body(doc),
        Err(e) => {
            tracing::error!(error = e, "OpenAPI document not generated");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error; see the server log")
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/service/rest/swagger.json", web::get().to(swagger_json));
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_builds() {
        let doc = super::json().expect("the document serialises");
        assert!(doc.contains("\"Arca REST API\""));
    }
}
