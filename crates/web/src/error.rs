//! REST API errors, rendered once: validation failures as Nexus's `[{"id", "message"}]` list,
//! everything else as a plain message with its status.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use arca_core::{
    error::{HttpError, log_if_server_error},
    meta::MetaError,
    security::AuthError,
    storage::StorageError,
};

/// Nexus's `ValidationErrorXO`: 400 and 409 answers are a list of these.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ValidationErrorXO {
    /// The field at fault (`PARAMETER name`), or `*` for the request as a whole.
    pub id: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is wrong; `id` names it as Nexus does (`PARAMETER name`, `*`).
    #[error("{message}")]
    Invalid { id: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            id: field.to_owned(),
            message: message.into(),
        }
    }
}

impl HttpError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Meta(e) => e.status(),
            Self::Auth(e) => e.status(),
            Self::Storage(e) => e.status(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }
    fn error_response(&self) -> HttpResponse {
        log_if_server_error(self);
        let status = self.status();
        let retry_after = match self {
            Self::Auth(a) => a.retry_after(),
            _ => None,
        };
        let message = if status.is_server_error() && retry_after.is_none() {
            "internal error; see the server log".to_owned()
        } else {
            self.to_string()
        };
        let id = match self {
            Self::Invalid { id, .. } => id.as_str(),
            _ => "*",
        };
        match status {
            StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {
                HttpResponse::build(status).json([ValidationErrorXO {
                    id: id.to_owned(),
                    message,
                }])
            }
            StatusCode::UNAUTHORIZED => HttpResponse::build(status)
                .insert_header((
                    "WWW-Authenticate",
                    format!("Basic realm=\"{}\"", arca_core::auth::REALM),
                ))
                .content_type("text/plain; charset=utf-8")
                .body(message),
            _ => {
                let mut b = HttpResponse::build(status);
                if let Some(secs) = retry_after {
                    b.insert_header(("Retry-After", secs.to_string()));
                }
                b.content_type("text/plain; charset=utf-8").body(message)
            }
        }
    }
}

/// `MetaError::NotFound` as the API's 404 with `message`; other errors as they map.
pub(crate) trait OrNotFound<T> {
    fn or_not_found(self, message: impl FnOnce() -> String) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, MetaError> {
    fn or_not_found(self, message: impl FnOnce() -> String) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            MetaError::NotFound => ApiError::NotFound(message()),
            e => e.into(),
        })
    }
}
