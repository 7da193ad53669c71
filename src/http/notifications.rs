//! The signed-in user's in-app notifications (published results, appeals filed, decided or
//! overdue, missing acknowledgements, corrections) and marking them read.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Query};
use super::time;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::store::notifications as store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/notifications", get(list))
        .route("/me/notifications/read", post(mark_read))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    unread: Option<bool>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    let tz = state.config.time_zone;
    let limit = super::extract::limit(q.limit, 50, 500)?;
    let (unread, rows) = store::list(&state.db, user.id, q.unread.unwrap_or(false), limit).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|n| {
            let payload: Value = serde_json::from_str(&n.payload).unwrap_or(Value::Null);
            json!({
                "id": n.id,
                "kind": n.kind,
                "text_en": payload["text_en"],
                "text_zh": payload["text_zh"],
                "link": payload["link"],
                "details": payload["details"],
                "at": time(n.created_at_ms, tz),
                "read": n.read_at_ms.is_some(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "unread": unread, "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    ids: Option<Vec<i64>>,
    #[serde(default)]
    all: bool,
}

async fn mark_read(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<ReadBody>,
) -> AppResult<axum::Json<Value>> {
    let ids = match (body.all, body.ids.as_deref()) {
        (true, None) => None,
        (false, Some(ids)) if ids.len() <= 1000 => Some(ids),
        _ => {
            return Err(AppError::unprocessable(
                "invalid_body",
                "send either {\"all\": true} or {\"ids\": [...]} (at most 1000)",
            ));
        }
    };
    let now = state.config.clock.now_ms();
    store::mark_read(&state.db, user.id, ids, now).await?;
    let (unread, _) = store::list(&state.db, user.id, true, 1).await?;
    Ok(axum::Json(json!({ "unread": unread })))
}
