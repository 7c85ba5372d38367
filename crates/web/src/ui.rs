//! The web UI. For now a landing page that says where things are; the full UI grows here.

use actix_web::{HttpResponse, web};

const INDEX: &str = include_str!("../../../templates/index.html");
const STYLE: &str = include_str!("../../../static/arca.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(INDEX)
        }),
    )
    .route(
        "/static/arca.css",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("text/css; charset=utf-8")
                .body(STYLE)
        }),
    );
}
