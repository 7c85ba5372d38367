//! `/service/rest/v1/...` with Nexus 3's paths, field names and status codes.

mod admin;
mod blobstores;
mod browse;
mod cleanup;
pub(crate) mod components;
#[cfg(test)]
mod fuzz;
mod import_progress;
mod metrics;
mod misc;
pub(crate) mod openapi;
mod paging;
mod privileges;
pub(crate) mod repositories;
mod repository_schemas;
pub(crate) mod search;
mod security;
mod status;
mod system;
mod system_settings;
mod tasks;
mod unavailable;
mod users;

use actix_web::{HttpRequest, web};
use arca_core::{Arca, http::remote_ip, security::Subject};

arca_core::policy! {
    ReposRead = repo_admin(Read);
    ReposAdd = repo_admin(Add);
    ReposEdit = repo_admin(Edit);
    ReposDelete = repo_admin(Delete);
    BlobstoresRead = app("blobstores", "read");
    BlobstoresCreate = app("blobstores", "create");
    BlobstoresUpdate = app("blobstores", "update");
    BlobstoresDelete = app("blobstores", "delete");
    SettingsRead = app("settings", "read");
    SettingsUpdate = app("settings", "update");
    HealthRead = app("healthcheck", "read");
    MetricsRead = app("metrics", "read");
    TasksRead = app("tasks", "read");
    TasksStart = app("tasks", "start");
    TasksCreate = app("tasks", "create");
    TasksUpdate = app("tasks", "update");
    TasksDelete = app("tasks", "delete");
    UsersRead = app("users", "read");
    UsersCreate = app("users", "create");
    UsersUpdate = app("users", "update");
    UsersDelete = app("users", "delete");
    RolesRead = app("roles", "read");
    RolesCreate = app("roles", "create");
    RolesUpdate = app("roles", "update");
    RolesDelete = app("roles", "delete");
    AuditRead = app("audit", "read");
    PrivilegesRead = app("privileges", "read");
    PrivilegesCreate = app("privileges", "create");
    PrivilegesUpdate = app("privileges", "update");
    PrivilegesDelete = app("privileges", "delete");
    SelectorsRead = app("selectors", "read");
    SelectorsCreate = app("selectors", "create");
    SelectorsUpdate = app("selectors", "update");
    SelectorsDelete = app("selectors", "delete");
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Full paths, before the scopes (which would answer 404 or 405 for them): Nexus's
    // operations for a repository's folders, system settings, and features Arca lacks.
    cfg.configure(browse::configure)
        .configure(system_settings::configure)
        .configure(unavailable::configure);
    cfg.route("/metrics", web::get().to(metrics::metrics))
        .service(
            web::scope("/service/rest/v1")
                .configure(status::configure)
                // Before `repositories`: its `/repositories/{format}/{kind}` would take
                // `/repositories/{name}/rebuild-index` and the like.
                .configure(admin::configure)
                .configure(repositories::configure)
                .configure(blobstores::configure)
                .configure(security::configure)
                .configure(tasks::configure)
                .configure(users::configure)
                .configure(privileges::configure)
                .configure(components::configure)
                .configure(search::configure)
                .configure(misc::configure)
                .configure(system::configure)
                .configure(cleanup::configure)
                .route(
                    "/components",
                    web::post().to(arca_core::format::component_upload_route),
                ),
        )
        .service(
            web::scope("/service/rest/internal")
                .configure(cleanup::configure_internal)
                .configure(import_progress::configure),
        );
}

/// Records a change in the audit log; a failure to record is logged, not fatal.
async fn audit(
    arca: &Arca,
    req: &HttpRequest,
    who: &Subject,
    domain: &str,
    kind: &str,
    context: &str,
    attrs: serde_json::Value,
) {
    let ip = remote_ip(req, &arca.settings.public);
    if let Err(e) = arca
        .db
        .audit(&who.user_id, ip.as_deref(), domain, kind, context, &attrs)
        .await
    {
        tracing::warn!(error = %e, "audit event not recorded");
    }
}
