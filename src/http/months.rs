//! Publishing a month's results. Publication is what reveals the month's sampling seeds
//! (so anyone can check the draw); agents' acknowledgements and appeals build on it.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::Path;
use super::time;
use crate::app::AppState;
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::store::sampling as store;

pub fn router() -> Router<AppState> {
    Router::new().route("/months/{month}/publish", post(publish))
}

async fn publish(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors publish a month"));
    }
    let month: Month = month
        .parse()
        .map_err(|e: String| AppError::bad_request("invalid_month", e))?;
    let at = store::publish_month(
        &state.db,
        &month.to_string(),
        user.id,
        state.config.clock.now_ms(),
    )
    .await?;
    tracing::info!(%month, by = user.username, "month published");
    Ok(axum::Json(json!({
        "month": month.to_string(),
        "published_at": time(at, state.config.time_zone),
    })))
}
