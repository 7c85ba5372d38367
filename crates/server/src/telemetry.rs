//! Logging set-up and the per-request span (method, path, repo, status, bytes, duration).

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use arca_core::Arca;
use tracing_futures::Instrument;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Human => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}

/// One span per request; the request log line and the metrics are written when it ends.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.path(),
        repo = tracing::field::Empty,
    );
    let arca = req.app_data::<web::Data<Arca>>().cloned();
    let res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let bytes = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n,
        _ => 0,
    };
    let secs = started.elapsed().as_secs_f64();
    if let Some(a) = arca {
        a.metrics.record(&method, status, secs, bytes);
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            bytes,
            duration_ms = (secs * 1000.0 * 1000.0).round() / 1000.0,
            "request"
        );
    });
    Ok(res)
}
