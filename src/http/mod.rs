//! The HTTP API and the web app. One module per resource, each with its own `router()`.

pub mod agents;
pub mod audio;
pub mod auth;
pub mod extract;
pub mod openapi;
pub mod player;
pub mod recordings;
pub mod session;
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
        .merge(openapi::router())
        .fallback(|| async { AppError::not_found("API route") });
    Router::new()
        .nest("/api", api)
        .merge(web::router())
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
