//! The one error type of the HTTP boundary.
//!
//! Policy: inside the crate, fallible code returns `anyhow::Result` with `.context()`; at the
//! boundary a handler returns [`AppError`]. Client errors carry a stable machine-readable code
//! and a human message that may be shown as is. Internal errors are logged with their whole
//! chain and answered with an opaque 500: their text never reaches the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum AppError {
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
        /// More fields for the body beside `error` (e.g. the closing time of a window).
        details: Option<serde_json::Map<String, serde_json::Value>>,
    },
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds a field to the body, beside `error`, for clients that act on it.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        if let AppError::Client { details, .. } = &mut self {
            details
                .get_or_insert_with(Default::default)
                .insert(key.to_string(), value);
        }
        self
    }
    /// The same message in Chinese, beside `error` as `message_zh`.
    pub fn zh(self, text: impl Into<String>) -> Self {
        self.with("message_zh", json!(text.into()))
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in first (session missing or expired)",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// Also what a caller gets for something that exists but is not theirs to see: the
    /// answer must not reveal that it exists.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 422 with every problem of a form or change: joined in the message, and listed in
    /// `problems` ({field, message}) for clients that point at the field.
    pub fn problems(code: &'static str, problems: &[crate::domain::grading::Problem]) -> Self {
        let text = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        let error = Self::unprocessable(code, text).with("problems", json!(problems));
        // Said in Chinese too when every problem is.
        let zh: Option<Vec<&str>> = problems.iter().map(|p| p.message_zh.as_deref()).collect();
        match zh {
            Some(zh) if !zh.is_empty() => error.zh(zh.join("；")),
            _ => error,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Client { code, .. } => code,
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Client { code, message, .. } => write!(f, "{code}: {message}"),
            AppError::Internal(err) => write!(f, "internal error: {err:#}"),
        }
    }
}

/// The JSON body every error response has: `{"error":{"code":"...","message":"..."}}`.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Client {
                status,
                code,
                message,
                details,
            } => {
                let mut body = json!({ "error": { "code": code, "message": message } });
                if let (Some(details), Some(obj)) = (details, body.as_object_mut()) {
                    obj.extend(details);
                }
                (status, Json(body)).into_response()
            }
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error (logged on the server)",
                )
            }
        }
    }
}
