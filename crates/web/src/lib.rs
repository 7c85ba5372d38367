//! Arca's REST admin API (Nexus 3 shapes under `/service/rest/v1`) and web UI.

pub mod api;
mod error;
mod ui;

pub use api::openapi::ApiDoc;
pub use error::ApiError;

/// Registers the REST API, its OpenAPI document and the UI routes.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    api::configure(cfg);
    api::openapi::configure(cfg);
    ui::configure(cfg);
}
