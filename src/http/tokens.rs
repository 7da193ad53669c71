//! Recorder tokens for supervisors: list, create (shown once), revoke.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Path};
use super::time;
use crate::app::AppState;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::store::tokens::{self as store, TokenError, TokenRow};
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{name}/revoke", post(revoke))
}

fn supervisor(user: &User) -> AppResult<()> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden(
            "only supervisors manage recorder tokens",
        ));
    }
    Ok(())
}

fn token_view(state: &AppState, t: &TokenRow, now_ms: i64) -> Value {
    let tz = state.config.time_zone;
    let status = if t.revoked_at_ms.is_some() {
        "revoked"
    } else if t.expires_at_ms.is_some_and(|e| e <= now_ms) {
        "expired"
    } else {
        "active"
    };
    json!({
        "name": t.name,
        "status": status,
        "created_at": time(t.created_at_ms, tz),
        "created_by": t.created_by,
        "expires_at": t.expires_at_ms.and_then(|ms| time(ms, tz)),
        "revoked_at": t.revoked_at_ms.and_then(|ms| time(ms, tz)),
    })
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    supervisor(&user)?;
    let now = crate::store::now_ms();
    let items: Vec<Value> = store::list(&state.db)
        .await?
        .iter()
        .map(|t| token_view(&state, t, now))
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    /// Days until it stops working; none: until revoked.
    expires_days: Option<u32>,
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<NewToken>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    supervisor(&user)?;
    let name = body.name.trim();
    let valid = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(AppError::unprocessable(
            "invalid_token",
            "a token name is 1 to 64 letters, digits, '-', '_' or '.' (e.g. asterisk-1)",
        ));
    }
    if body.expires_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(AppError::unprocessable(
            "invalid_token",
            "expires_days must be between 1 and 3650",
        ));
    }
    let now = crate::store::now_ms();
    let expires = body.expires_days.map(|d| now + i64::from(d) * 86_400_000);
    let token = store::create_expiring(&state.db, name, expires, Some(user.id))
        .await
        .map_err(|e| match e {
            TokenError::NameTaken(n) => AppError::new(
                StatusCode::CONFLICT,
                "token_exists",
                format!("a token named {n:?} exists already (revoked ones keep their names)"),
            ),
            TokenError::Db(e) => e.into(),
        })?;
    tracing::info!(token = name, by = user.username, "recorder token created");
    let row = store::list(&state.db)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| anyhow::anyhow!("new token {name:?} vanished"))?;
    let mut view = token_view(&state, &row, now);
    // Shown this once: only its hash is kept.
    view["token"] = json!(token);
    Ok((StatusCode::CREATED, axum::Json(view)))
}

async fn revoke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
) -> AppResult<axum::Json<Value>> {
    supervisor(&user)?;
    let now = crate::store::now_ms();
    if !store::revoke(&state.db, &name, now).await? {
        return Err(AppError::not_found("token"));
    }
    tracing::info!(token = name, by = user.username, "recorder token revoked");
    let row = store::list(&state.db)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| anyhow::anyhow!("token {name:?} vanished"))?;
    Ok(axum::Json(token_view(&state, &row, now)))
}
