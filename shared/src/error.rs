//! The one error type every handler returns, and how each variant reads over HTTP.

use http::StatusCode;

use crate::domain::FieldError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body is not JSON at all.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but a field is missing, mistyped or out of range.
    #[error("request body failed validation")]
    Validation(Vec<FieldError>),
    /// A query string or path parameter is not what the route takes.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Vec<FieldError> },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("no route for this path")]
    RouteNotFound,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// A dependency (database, another service) did not answer; the client may retry.
    #[error("{0} is unavailable, try again shortly")]
    Unavailable(&'static str),
    /// The database schema is older than this release (its migration has not finished).
    #[error("the database is being upgraded to this release, try again shortly")]
    SchemaNotReady,
    /// Another service answered, but with an error or nonsense: nothing was done.
    #[error("{0}")]
    BadGateway(String),
    /// A bug or corrupt data: logged in full, never echoed.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn invalid_query(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "INVALID_QUERY",
            message: "query parameters are invalid".into(),
            details: vec![FieldError::new(field, message)],
        }
    }

    pub fn invalid_path(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "INVALID_PATH_PARAMETER",
            message: "path parameter is invalid".into(),
            details: vec![FieldError::new(field, message)],
        }
    }

    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} {id}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) | Self::SchemaNotReady => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "MALFORMED_JSON",
            Self::Validation(_) => "VALIDATION_FAILED",
            Self::BadRequest { code, .. } => code,
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::RouteNotFound => "ROUTE_NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "CONFLICT",
            Self::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Self::SchemaNotReady => "SCHEMA_NOT_READY",
            Self::BadGateway(_) => "BAD_GATEWAY",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The fields at fault, for validation and bad-request errors.
    pub fn details(&self) -> Option<&[FieldError]> {
        match self {
            Self::Validation(details) | Self::BadRequest { details, .. } => Some(details),
            _ => None,
        }
    }
}

/// A store's own words (driver messages, keys, SQL) are logged, never shown to a client.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                Self::Unavailable("storage")
            }
            StoreError::Conflict(detail) => {
                tracing::info!(error = %detail, "storage conflict");
                Self::Conflict("the request conflicts with data stored meanwhile; reload and try again".into())
            }
            StoreError::SchemaBehind(detail) => {
                tracing::error!(error = %detail, "database schema behind this release");
                Self::SchemaNotReady
            }
            StoreError::Internal(detail) => Self::Internal(detail),
        }
    }
}

#[cfg(feature = "http")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::Json;
        use serde_json::json;

        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            Self::Unavailable(what) => tracing::warn!(dependency = what, "dependency unavailable"),
            _ => {
                tracing::info!(status = status.as_u16(), code = self.code(), error = %self, "request rejected")
            }
        }
        let mut body = json!({
            "success": false,
            "code": self.code(),
            "message": self.to_string(),
            "data": null,
        });
        if let Some(details) = self.details() {
            body["details"] = json!(details);
        }
        (status, Json(body)).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
