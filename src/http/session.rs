//! Login, logout and "who am I".

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::{CurrentUser, clear_session_cookie, session_cookie, session_token};
use super::extract::Json;
use crate::app::AppState;
use crate::domain::login::{self as rules, ADDRESS, NAME_AT_ADDRESS};
use crate::error::{AppError, AppResult};
use crate::store::{login_failures, sessions, users};

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

/// The client's address: the configured proxy header's first address, else the
/// connection's. Only used to count failed logins, so a forged header can at worst slow the
/// forger down (the header is only read when the operator says a proxy sets it).
fn client_address(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> String {
    if let Some(name) = state.config.client_ip_header.as_deref()
        && let Some(first) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 64)
    {
        return first.to_string();
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

/// 429 with `Retry-After`: the client should wait `secs` seconds.
fn retry_after(code: &'static str, message: String, secs: i64) -> Response {
    let mut resp = AppError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        .with("retry_after_s", serde_json::json!(secs))
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Json(req): Json<LoginRequest>,
) -> AppResult<Response> {
    let username = req.username.trim();
    if username.is_empty() || username.len() > 64 || req.password.len() > 1024 {
        return Err(invalid_credentials());
    }
    let address = client_address(&state, &headers, &extensions);
    let (name_key, address_key) = rules::keys(username, &address);
    let now = state.config.clock.now_ms();
    if let Some(until) =
        login_failures::locked_until(&state.db, &[&name_key, &address_key], now).await?
    {
        let secs = (until - now + 999) / 1000;
        return Ok(retry_after(
            "too_many_attempts",
            format!("too many failed logins from here; try again in {secs} s"),
            secs,
        ));
    }
    let found = users::find_for_login(&state.db, username).await?;
    let hash = found.as_ref().and_then(|(_, h)| h.clone());
    let Some(ok) = state.logins.verify(req.password, hash).await? else {
        return Ok(retry_after(
            "busy",
            "the server is checking many logins at once; try again in a moment".into(),
            1,
        ));
    };
    let user = match (ok, found) {
        (true, Some((user, _))) => user,
        _ => {
            let now = state.config.clock.now_ms();
            login_failures::failed(&state.db, &name_key, NAME_AT_ADDRESS, now).await?;
            login_failures::failed(&state.db, &address_key, ADDRESS, now).await?;
            return Err(invalid_credentials());
        }
    };
    login_failures::succeeded(&state.db, &name_key).await?;
    let ttl = state.config.session_ttl;
    let token = sessions::create(&state.db, user.id, ttl.as_millis() as i64).await?;
    let cookie = session_cookie(&token, ttl.as_secs(), state.config.secure_cookie);
    let body = serde_json::json!({ "user": user, "time_zone": state.config.time_zone.name() });
    let mut resp = axum::Json(body).into_response();
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
    if let Some(token) = session_token(&headers, state.config.secure_cookie) {
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

/// The signed-in person, and the center's time zone: the web app shows every time in it,
/// whatever zone the browser is in, so a deadline reads the same on every page and notice.
#[derive(serde::Serialize)]
struct Me {
    #[serde(flatten)]
    user: users::User,
    time_zone: &'static str,
}

async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> axum::Json<Me> {
    axum::Json(Me {
        user,
        time_zone: state.config.time_zone.name(),
    })
}
