//! Extractors whose rejections use the API's JSON error format instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use crate::error::AppError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        AppError::new(r.status(), "invalid_json", r.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request("invalid_query", r.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        // `/api/recordings/abc`: no such resource rather than a parse lecture.
        AppError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            r.body_text(),
        )
    }
}

/// A JSON body that may also be left out (`T::default()` then). Sent, it must say it is JSON
/// (`Content-Type: application/json`, 415 otherwise), like every other body of the API: a
/// form another site posts can only be `text/plain`, urlencoded or multipart.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::bad_request("invalid_body", e.body_text()))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(AppError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        serde_json::from_slice(&body)
            .map(OptionalJson)
            .map_err(|e| AppError::bad_request("invalid_json", format!("invalid body: {e}")))
    }
}
