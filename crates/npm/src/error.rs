//! The crate's one error type and its one HTTP rendering: npm clients read `{"error": "..."}`
//! (and print it), so every refusal answers in that shape.

use actix_web::{HttpResponse, http::StatusCode, http::header};
use arca_core::{
    error::{HttpError, log_if_server_error},
    meta::MetaError,
    proxy::ProxyError,
    security::AuthError,
    storage::StorageError,
};

#[derive(Debug, thiserror::Error)]
pub enum NpmError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// npm's answer to publishing over an existing version.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("remote {0}")]
    Upstream(String),
    /// A write based on a packument that has changed since it was read.
    #[error("{0}")]
    Conflict(String),
    /// Offline, or the server is read-only.
    #[error("{0}")]
    Unavailable(String),
}

impl From<MetaError> for NpmError {
    fn from(e: MetaError) -> Self {
        Self::Storage(e.into())
    }
}

impl HttpError for NpmError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // npm reads a refused write as 403 ("cannot publish over ..."), as the registry does.
            Self::Storage(StorageError::WriteDenied(_) | StorageError::AlreadyExists(..)) => {
                StatusCode::FORBIDDEN
            }
            Self::Storage(e) => e.status(),
            Self::Proxy(e) => e.status(),
            Self::Auth(e) => e.status(),
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl NpmError {
    /// The response npm understands; server-side failures are logged once, here.
    pub fn response(&self) -> HttpResponse {
        log_if_server_error(self);
        let status = self.status();
        let mut b = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            b.insert_header((
                header::WWW_AUTHENTICATE,
                format!("Basic realm=\"{}\"", arca_core::auth::REALM),
            ));
        }
        if let Self::Storage(StorageError::Blob(
            arca_core::blob::BlobError::RangeNotSatisfiable { size },
        )) = self
        {
            return arca_core::http::range_not_satisfiable(*size);
        }
        b.json(serde_json::json!({ "error": self.to_string() }))
    }
}

pub type Result<T> = std::result::Result<T, NpmError>;

pub fn bad(msg: impl Into<String>) -> NpmError {
    NpmError::BadRequest(msg.into())
}
