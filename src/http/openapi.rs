//! `GET /api/openapi.json`: the API contract, written by hand next to the handlers it
//! describes (a test checks that every route is in it).

use axum::Router;
use axum::http::header;
use axum::routing::get;

use crate::app::AppState;

pub const SPEC: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], SPEC) }),
    )
}
