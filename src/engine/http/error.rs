//! Errors in Google's JSON shape: `{"error": {"code", "message", "status"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::runner::EngineError;

/// Google's JSON error shape: `{"error": {"code", "message", "status"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `{code, message, status}` as Google's APIs answer.
    pub error: ErrorStatus,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorStatus {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The canonical status name, e.g. `INVALID_ARGUMENT`.
    pub status: String,
}

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    code: StatusCode,
    status: &'static str,
    message: String,
}

impl ApiError {
    /// An error with any code and canonical status.
    pub fn new(code: StatusCode, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
        }
    }

    /// 400 INVALID_ARGUMENT.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 500 INTERNAL.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorStatus {
                code: self.code.as_u16(),
                message: self.message,
                status: self.status.to_owned(),
            },
        };
        (self.code, Json(body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let message = e.to_string();
        match e {
            EngineError::InvalidArgument(_) => ApiError::invalid(message),
            EngineError::NotFound(_) => ApiError::not_found(message),
            EngineError::AlreadyExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "ALREADY_EXISTS", message)
            }
            EngineError::FailedPrecondition(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", message)
            }
            EngineError::Store(_) | EngineError::Io { .. } => ApiError::internal(message),
        }
    }
}
