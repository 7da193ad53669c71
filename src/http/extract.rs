//! Extractors whose rejections use the API's JSON error format instead of axum's plain text.
//!
//! The statuses follow one rule the API document states too: 400 when a request breaks the
//! document (malformed JSON, a wrong type, a missing field, a parameter without a value),
//! 415 when a body is not JSON, and 422 only for requests that fit the document but break a
//! rule it cannot express (a maximum below its minimum, a user who does not exist).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body (`Content-Type: application/json`, 415 otherwise).
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let is_json = says_json(&req);
        let body = body_bytes(req, state).await?;
        if !is_json {
            return Err(not_json());
        }
        parse_json(&body).map(Json)
    }
}

/// A JSON body that may also be left out (`T::default()` then). Sent, it must say it is JSON
/// (`Content-Type: application/json`, 415 otherwise), like every other body of the API: a
/// form another site posts can only be `text/plain`, urlencoded or multipart.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let is_json = says_json(&req);
        let body = body_bytes(req, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(not_json());
        }
        parse_json(&body).map(OptionalJson)
    }
}

fn says_json(req: &axum::extract::Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn body_bytes<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<axum::body::Bytes, AppError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| AppError::new(e.status(), "invalid_body", e.body_text()))
}

fn not_json() -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as JSON with Content-Type: application/json",
    )
}

/// Parses a JSON body into `T`, naming the field at fault (serde_json's `float_roundtrip`
/// reads every number exactly, so `4310366751573566.0` stays whole). A number written with a zero
/// fraction (`38.0`) is the integer it equals: JSON has one number type, and clients (and
/// JSON Schema) treat `38.0` and `38` alike, so integer fields take it too.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request("invalid_json", format!("invalid JSON: {e}")))?;
    integral_floats_to_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("invalid body: {inner}")
        } else {
            format!("invalid body: {path}: {inner}")
        };
        AppError::bad_request("invalid_json", message)
    })
}

fn integral_floats_to_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.007_199_254_740_992e15
            {
                // Exact: |f| < 2^53, so the conversion loses nothing.
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_floats_to_integers)
        }
        _ => {}
    }
}

/// Query parameters. A parameter that is given must have a value: `?month=` is refused rather
/// than read as "no month", which would silently widen what the answer covers.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let raw = parts.uri.query().unwrap_or("");
        if let Some((name, _)) =
            form_urlencoded::parse(raw.as_bytes()).find(|(_, value)| value.is_empty())
        {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("parameter {name:?} has no value; leave it out or give one"),
            ));
        }
        let axum::extract::Query(value) = axum::extract::Query::from_request_parts(parts, state)
            .await
            .map_err(AppError::from)?;
        Ok(Query(value))
    }
}

/// A list's `limit` parameter: `default` when left out, refused outside `1..=max` (the
/// document states the same bounds) rather than quietly clamped.
pub fn limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, AppError> {
    match given {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(AppError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {max}"),
        )),
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request("invalid_query", r.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        // `/api/recordings/abc`: no such resource rather than a parse lecture.
        AppError::new(StatusCode::NOT_FOUND, "not_found", r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Body {
        id: u32,
        #[allow(dead_code)]
        share: f64,
    }

    #[test]
    fn integral_floats_read_as_integers_and_errors_name_the_field() {
        let b: Body = parse_json(br#"{"id": 38.0, "share": 2}"#).expect("38.0 is 38");
        assert_eq!(b.id, 38);
        let Err(AppError::Client {
            status, message, ..
        }) = parse_json::<Body>(br#"{"id": 38.5, "share": 2}"#)
        else {
            panic!("a fraction is no u32");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("id"), "{message}");
        let Err(AppError::Client { status, .. }) = parse_json::<Body>(br#"{"id": 1"#) else {
            panic!("unfinished JSON");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
