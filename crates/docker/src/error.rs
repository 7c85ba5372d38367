//! The OCI distribution spec's error shape: `{"errors":[{"code","message","detail"}]}`.

use actix_web::{HttpResponse, http::StatusCode};
use arca_core::{blob::BlobError, meta::MetaError, security::AuthError, storage::StorageError};
use serde_json::{Value, json};

/// One registry error, ready to become a response (boxed: results stay small).
#[derive(Debug)]
pub struct RegistryError(Box<ErrorBody>);

#[derive(Debug)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub detail: Value,
    /// A `WWW-Authenticate` challenge (401 only).
    pub challenge: Option<String>,
    /// Extra headers (`Range` on a 416).
    pub headers: Vec<(&'static str, String)>,
}

impl std::ops::Deref for RegistryError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for RegistryError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl RegistryError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorBody {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            challenge: None,
            headers: vec![],
        }))
    }
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn blob_unknown(digest: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        )
        .detail(json!({ "digest": digest }))
    }
    pub fn upload_unknown(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
        )
        .detail(json!({ "uuid": id }))
    }
    pub fn manifest_unknown(reference: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown to registry",
        )
        .detail(json!({ "reference": reference }))
    }
    pub fn manifest_invalid(why: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", why)
    }
    pub fn digest_invalid(why: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", why)
    }
    pub fn name_unknown(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        )
        .detail(json!({ "name": name }))
    }
    pub fn name_invalid(name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            format!("invalid repository name: {why}"),
        )
        .detail(json!({ "name": name }))
    }
    pub fn denied(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "DENIED", why)
    }
    pub fn unsupported(why: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", why)
    }
    pub fn unauthorized(challenge: String) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
        e.challenge = Some(challenge);
        e
    }
    pub fn internal(why: impl std::fmt::Display) -> Self {
        tracing::error!(error = %why, "registry request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            why.to_string(),
        )
    }
    pub fn unavailable(why: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %why, "upstream registry unavailable");
        Self::new(StatusCode::BAD_GATEWAY, "UNAVAILABLE", why.to_string())
    }

    pub fn response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if let Some(c) = &self.challenge {
            b.insert_header(("WWW-Authenticate", c.as_str()));
        }
        for (k, v) in &self.headers {
            b.insert_header((*k, v.as_str()));
        }
        let mut err = json!({ "code": self.code, "message": self.message });
        if !self.detail.is_null() {
            err["detail"] = self.detail.clone();
        }
        b.json(json!({ "errors": [err] }))
    }
}

impl From<MetaError> for RegistryError {
    fn from(e: MetaError) -> Self {
        Self::internal(e)
    }
}

impl From<AuthError> for RegistryError {
    fn from(e: AuthError) -> Self {
        let retry = e.retry_after();
        let mut r = match e {
            AuthError::Throttled(_) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                e.to_string(),
            ),
            AuthError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                e.to_string(),
            ),
            AuthError::Meta(m) => return m.into(),
            other => Self::denied(other.to_string()),
        };
        if let Some(secs) = retry {
            r.headers.push(("Retry-After", secs.to_string()));
        }
        r
    }
}

impl From<StorageError> for RegistryError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Blob(b) => b.into(),
            StorageError::WriteDenied(_) | StorageError::AlreadyExists(..) => {
                Self::denied(e.to_string())
            }
            StorageError::Raced => Self::new(
                StatusCode::CONFLICT,
                "BLOB_UPLOAD_INVALID",
                "the blob was removed while being stored; retry",
            ),
            StorageError::ReadOnly(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                e.to_string(),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<arca_core::format::Refusal> for RegistryError {
    fn from(e: arca_core::format::Refusal) -> Self {
        Self::new(e.status(), "UNAVAILABLE", e.to_string())
    }
}

impl From<BlobError> for RegistryError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::DigestMismatch { expected, actual } => Self::digest_invalid(format!(
                "provided digest did not match uploaded content: expected {expected}, got {actual}"
            ))
            .detail(json!({ "expected": expected.to_string(), "actual": actual.to_string() })),
            BlobError::TooLarge { max } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("body larger than the limit of {max} bytes"),
            ),
            BlobError::NotFound(d) => Self::blob_unknown(&d.to_string()),
            BlobError::UploadUnknown(id) => Self::upload_unknown(&id),
            BlobError::OffsetMismatch { have, .. } => Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                e.to_string(),
            )
            .header("Range", format!("0-{}", have.saturating_sub(1))),
            BlobError::RangeNotSatisfiable { size } => Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_INVALID",
                e.to_string(),
            )
            .header("Content-Range", format!("bytes */{size}")),
            BlobError::Body(err) => Self::new(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                format!("the upload body could not be read to its end: {err}"),
            ),
            other => Self::internal(other),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
