//! The web UI. For now a landing page that says where things are and the REST API page; the
//! full UI grows here. Pages, styles and scripts are embedded in the binary.

use actix_web::{HttpResponse, web};

const INDEX: &str = include_str!("../../../templates/index.html");
const API: &str = include_str!("../../../templates/api.html");
const STYLE: &str = include_str!("../../../static/arca.css");
const API_JS: &str = include_str!("../../../static/api.js");

fn page(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { page(INDEX) }))
        .route("/service/rest/api", web::get().to(|| async { page(API) }))
        .route(
            "/static/arca.css",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/css; charset=utf-8")
                    .body(STYLE)
            }),
        )
        .route(
            "/static/api.js",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/javascript; charset=utf-8")
                    .body(API_JS)
            }),
        );
}
