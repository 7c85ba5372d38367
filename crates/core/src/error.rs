//! How errors become HTTP statuses. Each crate's error type implements [`HttpError`]; the
//! rendering (Nexus JSON, OCI JSON, plain text) belongs to whoever answers the request.

use actix_web::http::StatusCode;

use crate::{
    blob::BlobError, meta::MetaError, proxy::ProxyError, security::AuthError, storage::StorageError,
};

pub trait HttpError: std::error::Error {
    fn status(&self) -> StatusCode;
}

impl HttpError for BlobError {
    fn status(&self) -> StatusCode {
        match self {
            Self::DigestMismatch { .. } => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UploadUnknown(_) => StatusCode::NOT_FOUND,
            Self::OffsetMismatch { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Unsupported => StatusCode::NOT_IMPLEMENTED,
            Self::Remote { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl HttpError for MetaError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Db(_) | Self::Migrate(_) | Self::Json(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl HttpError for AuthError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::BadCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::Csrf | Self::NeedsPassword(_) => StatusCode::FORBIDDEN,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Meta(m) => m.status(),
        }
    }
}

impl HttpError for StorageError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Blob(b) => b.status(),
            Self::Meta(m) => m.status(),
            Self::UnknownStore(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::WriteDenied(_) | Self::AlreadyExists(..) => StatusCode::BAD_REQUEST,
            Self::Raced | Self::ReadOnly(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl HttpError for ProxyError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unreachable { .. } | Self::Status { .. } | Self::Blocked(_) => {
                StatusCode::BAD_GATEWAY
            }
            Self::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Storage(e) => e.status(),
        }
    }
}

/// Logs server-side failures once, where they are turned into responses.
pub fn log_if_server_error(e: &dyn HttpError) {
    if e.status().is_server_error() {
        tracing::error!(error = %e, "request failed");
    }
}
