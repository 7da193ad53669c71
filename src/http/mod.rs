//! The HTTP API and the web app. One module per resource, each with its own `router()`.

pub mod agents;
pub mod appeals;
pub mod assignments;
pub mod audio;
pub mod auth;
pub mod calibrations;
pub mod evaluations;
pub mod extract;
pub mod flags;
pub mod guard;
pub mod months;
pub mod notifications;
pub mod openapi;
pub mod plans;
pub mod player;
pub mod recordings;
pub mod reports;
pub mod results;
pub mod rubrics;
pub mod scores;
pub mod session;
pub mod settings;
pub mod tokens;
pub mod web;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::app::AppState;
use crate::error::{AppError, error_body};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .merge(session::router())
        .merge(recordings::router(&state))
        .merge(audio::router())
        .merge(player::router())
        .merge(agents::router())
        .merge(plans::router())
        .merge(assignments::router())
        .merge(months::router())
        .merge(rubrics::router())
        .merge(evaluations::router())
        .merge(flags::router())
        .merge(calibrations::router())
        .merge(appeals::router())
        .merge(results::router())
        .merge(settings::router())
        .merge(notifications::router())
        .merge(scores::router())
        .merge(reports::router())
        .merge(tokens::router())
        .merge(openapi::router())
        .fallback(|| async { AppError::not_found("API route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin,
        ));
    Router::new()
        .nest("/api", api)
        .merge(web::router())
        .layer(axum::middleware::from_fn(guard::headers))
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Used by layers that answer before a handler runs (e.g. a panic caught in a handler).
pub fn internal_error_response() -> axum::response::Response {
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal server error (logged on the server)",
    )
}

/// An instant as RFC 3339 in the center's time zone (what every API answer shows).
pub fn time(ms: i64, tz: chrono_tz::Tz) -> Option<String> {
    use chrono::TimeZone;
    tz.timestamp_millis_opt(ms).single().map(|t| t.to_rfc3339())
}
