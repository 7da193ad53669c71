//! Login, logout and "who am I".

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::{CurrentUser, clear_session_cookie, session_cookie, session_token};
use super::extract::Json;
use crate::app::AppState;
use crate::auth::verify_password_async;
use crate::error::{AppError, AppResult};
use crate::store::{sessions, users};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> AppResult<Response> {
    let username = req.username.trim();
    if username.is_empty() || username.len() > 64 || req.password.len() > 1024 {
        return Err(invalid_credentials());
    }
    if let Err(wait) = state.throttle.check(username) {
        let secs = wait.as_secs() + 1;
        let mut resp = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed logins for this user; try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(resp);
    }
    let found = users::find_for_login(&state.db, username).await?;
    let hash = found.as_ref().and_then(|(_, h)| h.clone());
    let ok = verify_password_async(req.password, hash).await?;
    let user = match (ok, found) {
        (true, Some((user, _))) => user,
        _ => {
            state.throttle.failed(username);
            return Err(invalid_credentials());
        }
    };
    state.throttle.succeeded(username);
    let ttl = state.config.session_ttl;
    let token = sessions::create(&state.db, user.id, ttl.as_millis() as i64).await?;
    let cookie = session_cookie(&token, ttl.as_secs(), state.config.secure_cookie);
    let mut resp = axum::Json(serde_json::json!({ "user": user })).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?,
    );
    Ok(resp)
}

fn invalid_credentials() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong username or password",
    )
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = session_token(&headers) {
        sessions::delete(&state.db, &token).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_session_cookie(state.config.secure_cookie))
            .map_err(anyhow::Error::from)?,
    );
    Ok(resp)
}

async fn me(CurrentUser(user): CurrentUser) -> axum::Json<users::User> {
    axum::Json(user)
}
